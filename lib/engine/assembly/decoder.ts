/**
 * The vocabulary-sized passes of the fused BERT-MLM objective (lib/engine/mlm-decoder.ts's rowDots
 * and colDots), float64, for a group of up to four vectors at a time: each f64x2 lane carries one
 * vector's sum, so every sum is accumulated in the same order as the JS loops (along the shared
 * dimension, one product then one addition per term) and the results are the JS ones bit for bit.
 * The group's vectors come interleaved (vector r at lane r of each 4-wide slot; missing ones zero).
 *
 * Both passes are one kernel: rowDots over Wd^T [V, hidden] takes (rows V, cols hidden), colDots over
 * Wd [hidden, V] takes (rows hidden, cols V). Four rows of the matrix go through one loop, so eight
 * independent sums are in flight: one sum's chain of additions would leave the adder idle for most
 * of each addition's latency.
 */

import { mac64 as mac } from './simd';

/**
 * out4[j * 4 + r] = sum_h vi[h * 4 + r] * mat[j * cols + h] for j < rows
 * (mat [rows, cols] row-major, vi [cols, 4] the group's vectors interleaved, out4 [rows, 4]).
 */
export function dots4(mat: usize, vi: usize, rows: i32, cols: i32, out4: usize): void {
  const stride = <usize>cols << 3;
  let j = 0;
  for (; j + 4 <= rows; j += 4) {
    const r0 = mat + <usize>j * stride;
    const r1 = r0 + stride, r2 = r1 + stride, r3 = r2 + stride;
    let a01 = f64x2.splat(0), a23 = f64x2.splat(0), b01 = f64x2.splat(0), b23 = f64x2.splat(0);
    let c01 = f64x2.splat(0), c23 = f64x2.splat(0), e01 = f64x2.splat(0), e23 = f64x2.splat(0);
    for (let h = 0; h < cols; h++) {
      const oh = <usize>h << 3;
      const v = vi + (<usize>h << 5);
      const v01 = v128.load(v), v23 = v128.load(v, 16);
      const w0 = v128.load64_splat(r0 + oh), w1 = v128.load64_splat(r1 + oh);
      const w2 = v128.load64_splat(r2 + oh), w3 = v128.load64_splat(r3 + oh);
      a01 = mac(a01, v01, w0); a23 = mac(a23, v23, w0);
      b01 = mac(b01, v01, w1); b23 = mac(b23, v23, w1);
      c01 = mac(c01, v01, w2); c23 = mac(c23, v23, w2);
      e01 = mac(e01, v01, w3); e23 = mac(e23, v23, w3);
    }
    const o = out4 + (<usize>j << 5);
    v128.store(o, a01); v128.store(o, a23, 16);
    v128.store(o, b01, 32); v128.store(o, b23, 48);
    v128.store(o, c01, 64); v128.store(o, c23, 80);
    v128.store(o, e01, 96); v128.store(o, e23, 112);
  }
  for (; j < rows; j++) {
    const row = mat + <usize>j * stride;
    let s01 = f64x2.splat(0), s23 = f64x2.splat(0);
    for (let h = 0; h < cols; h++) {
      const w = v128.load64_splat(row + (<usize>h << 3));
      const v = vi + (<usize>h << 5);
      s01 = mac(s01, v128.load(v), w);
      s23 = mac(s23, v128.load(v, 16), w);
    }
    const o = out4 + (<usize>j << 5);
    v128.store(o, s01);
    v128.store(o, s23, 16);
  }
}
