/**
 * C = A B  (or C += A B) in float32 with 128-bit SIMD: the matrix product behind every convolution
 * of lib/engine/fused-wasm.ts and lib/engine/wasm-conv.ts (forward and input backprop: A = im2col
 * rows; filter backprop: A = the im2col matrix read transposed) and the dense layer of the fused
 * objective; gemmNT (below) multiplies by a transposed B.
 *
 *   C[i, j] (+)= sum_k A(i, k) B[k, j]      i < M, j < N, k < K
 *   A(i, k) at a + 4 (i sai + k sak)   (any strides: A or A^T)
 *   B[k, j] at b + 4 (k ldb + j),   C[i, j] at c + 4 (i ldc + j)   (rows contiguous in j)
 *
 * Register tiles of 2 rows x 4..16 columns: per k, the tile's B row is loaded once as 1-4 vectors
 * and each of the 2 A values is splat across a vector. For the 12 output channels of LeNet, 2 rows x
 * 3 vectors came out fastest among the tiles tried in a prototype (3x3, 4x3, 4x2 + 4x1, 6x2 + 8x1,
 * and 2x3 with k unrolled by 2 or with A read 4 values at a time); V8 gives wasm 15 xmm registers,
 * which larger tiles likely overflow. test/bench/fused-profile.ts shows the rate reached: ~13-15 G
 * multiply-adds per second of CPU time on the LeNet shapes (230k multiply-adds in ~17 us). Columns
 * past the last multiple of 4 and an odd last row use the same tiles in narrower forms.
 *
 * Accumulation is float32, in blocks of KC = 64 terms added into C (two-level summation: the
 * rounding error grows with sqrt(KC) + sqrt(K / KC) rather than sqrt(K)). No FMA (plain wasm SIMD
 * has none), so every result is the same on every machine: products and sums rounded as written.
 */

const KC: i32 = 64;

/** C (+)= A B; see the file comment. `accumulate` false overwrites C. */
export function gemm(a: usize, sai: i32, sak: i32, b: usize, ldb: i32, c: usize, ldc: i32, M: i32, N: i32, K: i32, accumulate: bool): void {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate) for (let i = 0; i < M; i++) memory.fill(c + (<usize>(i * ldc) << 2), 0, <usize>N << 2);
    return;
  }
  const sai4 = <usize>sai << 2, sak4 = <usize>sak << 2, ldb4 = <usize>ldb << 2, ldc4 = <usize>ldc << 2;
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kn = min(KC, K - k0);
    const add = accumulate || k0 > 0;
    const ak = a + <usize>k0 * sak4, bk = b + <usize>k0 * ldb4;
    for (let i = 0; i < M; i += 2) {
      const a0 = ak + <usize>i * sai4;
      const c0 = c + <usize>i * ldc4;
      if (i + 1 < M) rowPair(a0, a0 + sai4, sak4, bk, ldb4, c0, c0 + ldc4, N, kn, add);
      else row(a0, sak4, bk, ldb4, c0, N, kn, add);
    }
  }
}

/** Rows a0, a1 of A times B into rows c0, c1 of C: tiles of 16, 12, 8, 4 columns, then single columns. */
function rowPair(a0: usize, a1: usize, sak4: usize, b: usize, ldb4: usize, c0: usize, c1: usize, N: i32, K: i32, add: bool): void {
  let j = 0;
  for (; j + 16 <= N; j += 16) tile4(a0, a1, sak4, b + (<usize>j << 2), ldb4, c0 + (<usize>j << 2), c1 + (<usize>j << 2), K, add);
  if (j + 12 <= N) {
    tile3(a0, a1, sak4, b + (<usize>j << 2), ldb4, c0 + (<usize>j << 2), c1 + (<usize>j << 2), K, add);
    j += 12;
  } else if (j + 8 <= N) {
    tile2(a0, a1, sak4, b + (<usize>j << 2), ldb4, c0 + (<usize>j << 2), c1 + (<usize>j << 2), K, add);
    j += 8;
  } else if (j + 4 <= N) {
    tile1(a0, a1, sak4, b + (<usize>j << 2), ldb4, c0 + (<usize>j << 2), c1 + (<usize>j << 2), K, add);
    j += 4;
  }
  for (; j < N; j++) {
    scalar(a0, sak4, b + (<usize>j << 2), ldb4, c0 + (<usize>j << 2), K, add);
    scalar(a1, sak4, b + (<usize>j << 2), ldb4, c1 + (<usize>j << 2), K, add);
  }
}

/** One row a0 of A times B into row c0 of C (the last row of an odd M): tiles of 16 and 4 columns. */
function row(a0: usize, sak4: usize, b: usize, ldb4: usize, c0: usize, N: i32, K: i32, add: bool): void {
  let j = 0;
  for (; j + 16 <= N; j += 16) single4(a0, sak4, b + (<usize>j << 2), ldb4, c0 + (<usize>j << 2), K, add);
  for (; j + 4 <= N; j += 4) single1(a0, sak4, b + (<usize>j << 2), ldb4, c0 + (<usize>j << 2), K, add);
  for (; j < N; j++) scalar(a0, sak4, b + (<usize>j << 2), ldb4, c0 + (<usize>j << 2), K, add);
}

// @ts-ignore: decorator
@inline function mac(acc: v128, a: v128, b: v128): v128 {
  return f32x4.add(acc, f32x4.mul(a, b));
}

// @ts-ignore: decorator
@inline function put(p: usize, v: v128, add: bool): void {
  v128.store(p, add ? f32x4.add(v128.load(p), v) : v);
}

/** Rows a0, a1 x 16 columns (two rows of C); tile3, tile2, tile1: 12, 8, 4 columns. */
function tile4(a0: usize, a1: usize, sak4: usize, b: usize, ldb4: usize, c0: usize, c1: usize, K: i32, add: bool): void {
  let x0 = f32x4.splat(0), x1 = f32x4.splat(0), x2 = f32x4.splat(0), x3 = f32x4.splat(0);
  let y0 = f32x4.splat(0), y1 = f32x4.splat(0), y2 = f32x4.splat(0), y3 = f32x4.splat(0);
  for (let k = 0; k < K; k++) {
    const b0 = v128.load(b), b1 = v128.load(b, 16), b2 = v128.load(b, 32), b3 = v128.load(b, 48);
    const p = v128.load32_splat(a0), q = v128.load32_splat(a1);
    x0 = mac(x0, p, b0); x1 = mac(x1, p, b1); x2 = mac(x2, p, b2); x3 = mac(x3, p, b3);
    y0 = mac(y0, q, b0); y1 = mac(y1, q, b1); y2 = mac(y2, q, b2); y3 = mac(y3, q, b3);
    a0 += sak4; a1 += sak4; b += ldb4;
  }
  put(c0, x0, add); put(c0 + 16, x1, add); put(c0 + 32, x2, add); put(c0 + 48, x3, add);
  put(c1, y0, add); put(c1 + 16, y1, add); put(c1 + 32, y2, add); put(c1 + 48, y3, add);
}

function tile3(a0: usize, a1: usize, sak4: usize, b: usize, ldb4: usize, c0: usize, c1: usize, K: i32, add: bool): void {
  let x0 = f32x4.splat(0), x1 = f32x4.splat(0), x2 = f32x4.splat(0);
  let y0 = f32x4.splat(0), y1 = f32x4.splat(0), y2 = f32x4.splat(0);
  for (let k = 0; k < K; k++) {
    const b0 = v128.load(b), b1 = v128.load(b, 16), b2 = v128.load(b, 32);
    const p = v128.load32_splat(a0), q = v128.load32_splat(a1);
    x0 = mac(x0, p, b0); x1 = mac(x1, p, b1); x2 = mac(x2, p, b2);
    y0 = mac(y0, q, b0); y1 = mac(y1, q, b1); y2 = mac(y2, q, b2);
    a0 += sak4; a1 += sak4; b += ldb4;
  }
  put(c0, x0, add); put(c0 + 16, x1, add); put(c0 + 32, x2, add);
  put(c1, y0, add); put(c1 + 16, y1, add); put(c1 + 32, y2, add);
}

function tile2(a0: usize, a1: usize, sak4: usize, b: usize, ldb4: usize, c0: usize, c1: usize, K: i32, add: bool): void {
  let x0 = f32x4.splat(0), x1 = f32x4.splat(0);
  let y0 = f32x4.splat(0), y1 = f32x4.splat(0);
  for (let k = 0; k < K; k++) {
    const b0 = v128.load(b), b1 = v128.load(b, 16);
    const p = v128.load32_splat(a0), q = v128.load32_splat(a1);
    x0 = mac(x0, p, b0); x1 = mac(x1, p, b1);
    y0 = mac(y0, q, b0); y1 = mac(y1, q, b1);
    a0 += sak4; a1 += sak4; b += ldb4;
  }
  put(c0, x0, add); put(c0 + 16, x1, add);
  put(c1, y0, add); put(c1 + 16, y1, add);
}

function tile1(a0: usize, a1: usize, sak4: usize, b: usize, ldb4: usize, c0: usize, c1: usize, K: i32, add: bool): void {
  let x0 = f32x4.splat(0), y0 = f32x4.splat(0);
  for (let k = 0; k < K; k++) {
    const b0 = v128.load(b);
    x0 = mac(x0, v128.load32_splat(a0), b0);
    y0 = mac(y0, v128.load32_splat(a1), b0);
    a0 += sak4; a1 += sak4; b += ldb4;
  }
  put(c0, x0, add);
  put(c1, y0, add);
}

/** Row a0 x 16 columns; single1: 4 columns. */
function single4(a0: usize, sak4: usize, b: usize, ldb4: usize, c0: usize, K: i32, add: bool): void {
  let x0 = f32x4.splat(0), x1 = f32x4.splat(0), x2 = f32x4.splat(0), x3 = f32x4.splat(0);
  for (let k = 0; k < K; k++) {
    const p = v128.load32_splat(a0);
    x0 = mac(x0, p, v128.load(b)); x1 = mac(x1, p, v128.load(b, 16)); x2 = mac(x2, p, v128.load(b, 32)); x3 = mac(x3, p, v128.load(b, 48));
    a0 += sak4; b += ldb4;
  }
  put(c0, x0, add); put(c0 + 16, x1, add); put(c0 + 32, x2, add); put(c0 + 48, x3, add);
}

function single1(a0: usize, sak4: usize, b: usize, ldb4: usize, c0: usize, K: i32, add: bool): void {
  let x0 = f32x4.splat(0);
  for (let k = 0; k < K; k++) {
    x0 = mac(x0, v128.load32_splat(a0), v128.load(b));
    a0 += sak4; b += ldb4;
  }
  put(c0, x0, add);
}

/** One entry: c (+)= sum_k A(row, k) B[k, col]. */
function scalar(a: usize, sak4: usize, b: usize, ldb4: usize, c: usize, K: i32, add: bool): void {
  let s: f32 = 0;
  for (let k = 0; k < K; k++) {
    s += load<f32>(a) * load<f32>(b);
    a += sak4; b += ldb4;
  }
  store<f32>(c, add ? load<f32>(c) + s : s);
}

/**
 * C (+)= A B^T with A [M, K] and B [N, K] both contiguous along k: C[i, j] = sum_k A[i lda + k] B[j ldb + k].
 * Tiles of 2 rows of A x 4 rows of B, each entry a vector of 4 partial sums over k reduced at the end
 * of each block of KC terms ((s0 + s2) + (s1 + s3), then added into C); the K % 4 tail is scalar.
 */
export function gemmNT(a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, M: i32, N: i32, K: i32, accumulate: bool): void {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate) for (let i = 0; i < M; i++) memory.fill(c + (<usize>(i * ldc) << 2), 0, <usize>N << 2);
    return;
  }
  const lda4 = <usize>lda << 2, ldb4 = <usize>ldb << 2, ldc4 = <usize>ldc << 2;
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kn = min(KC, K - k0);
    const add = accumulate || k0 > 0;
    for (let i = 0; i < M; i += 2) {
      const a0 = a + <usize>i * lda4 + (<usize>k0 << 2);
      const two = i + 1 < M;
      const c0 = c + <usize>i * ldc4;
      let j = 0;
      if (two) {
        for (; j + 4 <= N; j += 4) dots4(a0, a0 + lda4, b + <usize>j * ldb4 + (<usize>k0 << 2), ldb4, c0 + (<usize>j << 2), c0 + ldc4 + (<usize>j << 2), kn, add);
      } else {
        for (; j + 4 <= N; j += 4) dots4x1(a0, b + <usize>j * ldb4 + (<usize>k0 << 2), ldb4, c0 + (<usize>j << 2), kn, add);
      }
      for (; j < N; j++) {
        const bj = b + <usize>j * ldb4 + (<usize>k0 << 2);
        dot1(a0, bj, c0 + (<usize>j << 2), kn, add);
        if (two) dot1(a0 + lda4, bj, c0 + ldc4 + (<usize>j << 2), kn, add);
      }
    }
  }
}

// @ts-ignore: decorator
@inline function hadd(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 2)) + (f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 3));
}

// @ts-ignore: decorator
@inline function putScalar(p: usize, v: f32, add: bool): void {
  store<f32>(p, add ? load<f32>(p) + v : v);
}

/** c0[0..4) (+)= dots of row a0 with the 4 rows of b; c1 likewise for a1. */
function dots4(a0: usize, a1: usize, b: usize, ldb4: usize, c0: usize, c1: usize, K: i32, add: bool): void {
  let x0 = f32x4.splat(0), x1 = f32x4.splat(0), x2 = f32x4.splat(0), x3 = f32x4.splat(0);
  let y0 = f32x4.splat(0), y1 = f32x4.splat(0), y2 = f32x4.splat(0), y3 = f32x4.splat(0);
  const b1 = b + ldb4, b2 = b1 + ldb4, b3 = b2 + ldb4;
  let k = 0;
  for (; k + 4 <= K; k += 4) {
    const o = <usize>k << 2;
    const p = v128.load(a0 + o), q = v128.load(a1 + o);
    const u0 = v128.load(b + o), u1 = v128.load(b1 + o), u2 = v128.load(b2 + o), u3 = v128.load(b3 + o);
    x0 = mac(x0, p, u0); x1 = mac(x1, p, u1); x2 = mac(x2, p, u2); x3 = mac(x3, p, u3);
    y0 = mac(y0, q, u0); y1 = mac(y1, q, u1); y2 = mac(y2, q, u2); y3 = mac(y3, q, u3);
  }
  let s0 = hadd(x0), s1 = hadd(x1), s2 = hadd(x2), s3 = hadd(x3);
  let t0 = hadd(y0), t1 = hadd(y1), t2 = hadd(y2), t3 = hadd(y3);
  for (; k < K; k++) {
    const o = <usize>k << 2;
    const p = load<f32>(a0 + o), q = load<f32>(a1 + o);
    const u0 = load<f32>(b + o), u1 = load<f32>(b1 + o), u2 = load<f32>(b2 + o), u3 = load<f32>(b3 + o);
    s0 += p * u0; s1 += p * u1; s2 += p * u2; s3 += p * u3;
    t0 += q * u0; t1 += q * u1; t2 += q * u2; t3 += q * u3;
  }
  putScalar(c0, s0, add); putScalar(c0 + 4, s1, add); putScalar(c0 + 8, s2, add); putScalar(c0 + 12, s3, add);
  putScalar(c1, t0, add); putScalar(c1 + 4, t1, add); putScalar(c1 + 8, t2, add); putScalar(c1 + 12, t3, add);
}

/** c0[0..4) (+)= dots of row a0 with the 4 rows of b. */
function dots4x1(a0: usize, b: usize, ldb4: usize, c0: usize, K: i32, add: bool): void {
  let x0 = f32x4.splat(0), x1 = f32x4.splat(0), x2 = f32x4.splat(0), x3 = f32x4.splat(0);
  const b1 = b + ldb4, b2 = b1 + ldb4, b3 = b2 + ldb4;
  let k = 0;
  for (; k + 4 <= K; k += 4) {
    const o = <usize>k << 2;
    const p = v128.load(a0 + o);
    x0 = mac(x0, p, v128.load(b + o)); x1 = mac(x1, p, v128.load(b1 + o)); x2 = mac(x2, p, v128.load(b2 + o)); x3 = mac(x3, p, v128.load(b3 + o));
  }
  let s0 = hadd(x0), s1 = hadd(x1), s2 = hadd(x2), s3 = hadd(x3);
  for (; k < K; k++) {
    const o = <usize>k << 2;
    const p = load<f32>(a0 + o);
    s0 += p * load<f32>(b + o); s1 += p * load<f32>(b1 + o); s2 += p * load<f32>(b2 + o); s3 += p * load<f32>(b3 + o);
  }
  putScalar(c0, s0, add); putScalar(c0 + 4, s1, add); putScalar(c0 + 8, s2, add); putScalar(c0 + 12, s3, add);
}

/** c (+)= dot of rows a and b, K terms. */
function dot1(a: usize, b: usize, c: usize, K: i32, add: bool): void {
  let x = f32x4.splat(0);
  let k = 0;
  for (; k + 4 <= K; k += 4) x = mac(x, v128.load(a + (<usize>k << 2)), v128.load(b + (<usize>k << 2)));
  let s = hadd(x);
  for (; k < K; k++) s += load<f32>(a + (<usize>k << 2)) * load<f32>(b + (<usize>k << 2));
  putScalar(c, s, add);
}
