/**
 * Optimal assignment of batch reconstructions to the ground truth. The order of the samples in a
 * batch is unknowable from its gradient (the loss is a mean over the batch), so before scoring a
 * batch attack each reconstruction is paired with one true image such that the total cost (MSE)
 * is minimal: the linear assignment problem, solved by the Hungarian algorithm (Kuhn 1955, Munkres
 * 1957) in the O(n^3) form with row and column potentials and shortest augmenting paths
 * (Jonker-Volgenant style, as in e-maxx's "Hungarian algorithm" and scipy's linear_sum_assignment).
 * breaching (Geiping et al.) matches its batch reconstructions the same way.
 */
import type { Img } from '../data/image';
import { mse } from './metrics';

export interface Assignment {
  /** cols[r]: the column (truth) assigned to row r (reconstruction). */
  cols: number[];
  /** Sum of cost[r][cols[r]]. */
  total: number;
}

/**
 * Minimum-cost assignment of every row to a distinct column; cost is rows x cols with rows <= cols,
 * finite numbers. O(rows^2 cols).
 */
export function hungarian(cost: number[][]): Assignment {
  const n = cost.length;
  if (n === 0) return { cols: [], total: 0 };
  const m = cost[0].length;
  if (m < n) throw new Error(`hungarian: ${n} rows but only ${m} columns (need rows <= columns)`);
  cost.forEach((row, r) => {
    if (row.length !== m) throw new Error(`hungarian: row ${r} has ${row.length} entries, expected ${m}`);
    row.forEach((v, c) => { if (!Number.isFinite(v)) throw new Error(`hungarian: cost[${r}][${c}] is ${v}, not a finite number`); });
  });
  // 1-based arrays as in the classic formulation: p[j] = row matched to column j (0: none)
  const u = new Float64Array(n + 1);
  const v = new Float64Array(m + 1);
  const p = new Int32Array(m + 1);
  const way = new Int32Array(m + 1);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    const minv = new Float64Array(m + 1).fill(Infinity);
    const used = new Uint8Array(m + 1);
    do {
      used[j0] = 1;
      const i0 = p[j0];
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const cur = cost[i0 - 1][j - 1] - u[i0] - v[j];
        if (cur < minv[j]) { minv[j] = cur; way[j] = j0; }
        if (minv[j] < delta) { delta = minv[j]; j1 = j; }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) { u[p[j]] += delta; v[j] -= delta; } else minv[j] -= delta;
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0 !== 0);
  }
  const cols = new Array<number>(n).fill(-1);
  for (let j = 1; j <= m; j++) if (p[j] !== 0) cols[p[j] - 1] = j - 1;
  return { cols, total: cols.reduce((a, c, r) => a + cost[r][c], 0) };
}

/** MSE of every reconstruction (row) against every truth (column). */
export function mseMatrix(reconstructions: Img[], truths: Img[]): number[][] {
  return reconstructions.map((r) => truths.map((t) => mse(r, t)));
}

/** Pair reconstructions with truths (equal counts) minimising the summed MSE. */
export function matchImages(reconstructions: Img[], truths: Img[]): Assignment & { mse: number[] } {
  if (reconstructions.length !== truths.length) {
    throw new Error(`matchImages: ${reconstructions.length} reconstructions for ${truths.length} true images`);
  }
  const cost = mseMatrix(reconstructions, truths);
  const a = hungarian(cost);
  return { ...a, mse: a.cols.map((c, r) => cost[r][c]) };
}
