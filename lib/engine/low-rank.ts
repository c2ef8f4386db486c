/**
 * A low-rank factorisation S = U B of a wide matrix S [rows, cols] (rows << cols), from the
 * eigen-decomposition of its Gram matrix S S^T [rows, rows] (cyclic Jacobi, float64):
 *   S S^T = Q diag(lambda) Q^T,   U = Q[:, kept],   B = U^T S,   kept: lambda_i > relTol * lambda_max.
 * U has orthonormal columns, so U B is the orthogonal projection of S on the kept directions and the
 * energy left out, ||S - U B||^2 = sum of the dropped lambda_i, is returned.
 *
 * Used for the shared gradient of the MLM decoder weight: an honest client's is t^T Delta, rank m
 * (the masked positions), so the passes over the vocabulary shrink from `rows` to m numbers per token.
 */

export interface LowRank {
  rank: number;
  /** U [rows, rank], orthonormal columns */
  u: Float64Array;
  /** B = U^T S [rank, cols] */
  b: Float64Array;
  /** ||S - U B||^2 / ||S||^2 (0 when S = 0) */
  droppedEnergy: number;
}

/** Eigen-decomposition of a symmetric matrix a [n, n] (overwritten) by cyclic Jacobi; returns eigenvalues, q [n, n] (columns: eigenvectors). */
export function symmetricEigen(a: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) q[i * n + i] = 1;
  let scale = 0;
  for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(a[i * n + i]));
  for (let sweep = 0; sweep < 50; sweep++) {
    let rotated = false;
    for (let p = 0; p < n; p++) {
      for (let r = p + 1; r < n; r++) {
        const apr = a[p * n + r];
        // at the rounding level of the Gram matrix (float64 sums of float32 products): no rotation
        if (Math.abs(apr) <= 1e-15 * scale) continue;
        rotated = true;
        const theta = (a[r * n + r] - a[p * n + p]) / (2 * apr);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akr = a[k * n + r];
          a[k * n + p] = c * akp - s * akr;
          a[k * n + r] = s * akp + c * akr;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const ark = a[r * n + k];
          a[p * n + k] = c * apk - s * ark;
          a[r * n + k] = s * apk + c * ark;
        }
        for (let k = 0; k < n; k++) {
          const qkp = q[k * n + p];
          const qkr = q[k * n + r];
          q[k * n + p] = c * qkp - s * qkr;
          q[k * n + r] = s * qkp + c * qkr;
        }
      }
    }
    if (!rotated) break;
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i];
  return { values, vectors: q };
}

/** Factor S [rows, cols] (row-major) as U B, keeping the directions whose energy exceeds relTol of the largest. */
export function lowRankFactor(s: ArrayLike<number>, rows: number, cols: number, relTol = 1e-12): LowRank {
  const gram = new Float64Array(rows * rows);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j <= i; j++) {
      let acc = 0;
      for (let c = 0; c < cols; c++) acc += s[i * cols + c] * s[j * cols + c];
      gram[i * rows + j] = acc;
      gram[j * rows + i] = acc;
    }
  }
  let total = 0;
  for (let i = 0; i < rows; i++) total += gram[i * rows + i];
  const { values, vectors } = symmetricEigen(gram, rows);
  const order = Array.from(values.keys()).sort((x, y) => values[y] - values[x]);
  const top = Math.max(values[order[0]], 0);
  const kept = order.filter((i) => values[i] > relTol * top && values[i] > 0);
  const rank = kept.length;
  const u = new Float64Array(rows * rank);
  kept.forEach((col, k) => {
    for (let i = 0; i < rows; i++) u[i * rank + k] = vectors[i * rows + col];
  });
  const b = new Float64Array(rank * cols);
  for (let k = 0; k < rank; k++) {
    for (let i = 0; i < rows; i++) {
      const w = u[i * rank + k];
      if (w === 0) continue;
      for (let c = 0; c < cols; c++) b[k * cols + c] += w * s[i * cols + c];
    }
  }
  let keptEnergy = 0;
  for (let i = 0; i < b.length; i++) keptEnergy += b[i] * b[i];
  return { rank, u, b, droppedEnergy: total > 0 ? Math.max(0, total - keptEnergy) / total : 0 };
}
