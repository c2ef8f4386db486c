/**
 * C = A B  (or C += A B) in float32 with 128-bit SIMD: the one matrix product behind every
 * convolution of lib/engine/wasm-conv.ts (forward and input backprop: A = im2col rows; filter
 * backprop: A = the im2col matrix read transposed).
 *
 *   C[i, j] (+)= sum_k A(i, k) B[k, j]      i < M, j < N, k < K
 *   A(i, k) at a + 4 (i sai + k sak)   (any strides: A or A^T)
 *   B[k, j] at b + 4 (k ldb + j),   C[i, j] at c + 4 (i ldc + j)   (rows contiguous in j)
 *
 * Register tiles of 2 rows x 4..16 columns: per k, the tile's B row is loaded once as 1-4 vectors
 * and each of the 2 A values is splat across a vector; 2 x 3 vectors was measured fastest for the
 * 12 output channels of LeNet (~15 G multiply-adds per second, vs 5-7 for 3x3, 4x3, 4x2 tiles).
 * Columns past the last multiple of 4 and an odd last row use the same tiles in narrower forms.
 *
 * Accumulation is float32, in blocks of KC = 128 terms added into C (two-level summation: the
 * rounding error grows with sqrt(KC) + sqrt(K / KC) rather than sqrt(K)). No FMA (plain wasm SIMD
 * has none), so every result is the same on every machine: products and sums rounded as written.
 */

const KC: i32 = 128;

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
      const two = i + 1 < M;
      const a1 = two ? a0 + sai4 : a0;
      const c0 = c + <usize>i * ldc4;
      const c1 = two ? c0 + ldc4 : c0;
      let j = 0;
      for (; j + 16 <= N; j += 16) tile4(a0, a1, sak4, bk + (<usize>j << 2), ldb4, c0 + (<usize>j << 2), c1 + (<usize>j << 2), kn, add, two);
      if (j + 12 <= N) {
        tile3(a0, a1, sak4, bk + (<usize>j << 2), ldb4, c0 + (<usize>j << 2), c1 + (<usize>j << 2), kn, add, two);
        j += 12;
      } else if (j + 8 <= N) {
        tile2(a0, a1, sak4, bk + (<usize>j << 2), ldb4, c0 + (<usize>j << 2), c1 + (<usize>j << 2), kn, add, two);
        j += 8;
      } else if (j + 4 <= N) {
        tile1(a0, a1, sak4, bk + (<usize>j << 2), ldb4, c0 + (<usize>j << 2), c1 + (<usize>j << 2), kn, add, two);
        j += 4;
      }
      for (; j < N; j++) {
        scalar(a0, sak4, bk + (<usize>j << 2), ldb4, c0 + (<usize>j << 2), kn, add);
        if (two) scalar(a1, sak4, bk + (<usize>j << 2), ldb4, c1 + (<usize>j << 2), kn, add);
      }
    }
  }
}

// @ts-ignore: decorator
@inline function mac(acc: v128, a: v128, b: v128): v128 {
  return f32x4.add(acc, f32x4.mul(a, b));
}

// @ts-ignore: decorator
@inline function put(p: usize, v: v128, add: bool): void {
  v128.store(p, add ? f32x4.add(v128.load(p), v) : v);
}

/** Rows a0, a1 (a1 = a0 when !two: the row is computed twice, stored once) x 16 columns. */
function tile4(a0: usize, a1: usize, sak4: usize, b: usize, ldb4: usize, c0: usize, c1: usize, K: i32, add: bool, two: bool): void {
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
  if (two) { put(c1, y0, add); put(c1 + 16, y1, add); put(c1 + 32, y2, add); put(c1 + 48, y3, add); }
}

function tile3(a0: usize, a1: usize, sak4: usize, b: usize, ldb4: usize, c0: usize, c1: usize, K: i32, add: bool, two: bool): void {
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
  if (two) { put(c1, y0, add); put(c1 + 16, y1, add); put(c1 + 32, y2, add); }
}

function tile2(a0: usize, a1: usize, sak4: usize, b: usize, ldb4: usize, c0: usize, c1: usize, K: i32, add: bool, two: bool): void {
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
  if (two) { put(c1, y0, add); put(c1 + 16, y1, add); }
}

function tile1(a0: usize, a1: usize, sak4: usize, b: usize, ldb4: usize, c0: usize, c1: usize, K: i32, add: bool, two: bool): void {
  let x0 = f32x4.splat(0), y0 = f32x4.splat(0);
  for (let k = 0; k < K; k++) {
    const b0 = v128.load(b);
    x0 = mac(x0, v128.load32_splat(a0), b0);
    y0 = mac(y0, v128.load32_splat(a1), b0);
    a0 += sak4; a1 += sak4; b += ldb4;
  }
  put(c0, x0, add);
  if (two) put(c1, y0, add);
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
