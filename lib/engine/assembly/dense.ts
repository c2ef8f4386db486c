/**
 * c[n,p] (+)= a b^T for a[n,k], b[p,k], float64 (lib/engine/dense-ops.ts's matMulTB, the products of
 * the fused BERT objective). Bit for bit the JS loops there: every entry of c is one sum along k,
 * from 0, one product then one addition per term (no fused multiply-add), then stored or added to c.
 * Rows of a go in pairs, one row per f64x2 lane (`pack`: the pairs interleaved, n * k float64 of
 * scratch); blocks of two row pairs by four rows of b keep eight vectors of sums in flight, where the
 * JS loops' chains of additions leave the adder idle for most of each addition's latency.
 */

import { mac64 as mac } from './simd';

/** Store (or add) lane 0 of v at c[i0] and lane 1 at c[i1] (byte offsets). */
// @ts-ignore: decorator
@inline function put2(c: usize, i0: usize, i1: usize, v: v128, accumulate: bool): void {
  const x = f64x2.extract_lane(v, 0), y = f64x2.extract_lane(v, 1);
  if (accumulate) {
    store<f64>(c + i0, load<f64>(c + i0) + x);
    store<f64>(c + i1, load<f64>(c + i1) + y);
  } else {
    store<f64>(c + i0, x);
    store<f64>(c + i1, y);
  }
}

export function matMulTB64(a: usize, b: usize, c: usize, n: i32, k: i32, p: i32, accumulate: bool, pack: usize): void {
  const n2 = n & ~1;
  const rowBytes = <usize>k << 3;
  const pairBytes = <usize>k << 4;
  const cRow = <usize>p << 3;
  // pack: pair q holds (a[2q, l], a[2q + 1, l]) at pack + q * pairBytes + l * 16
  for (let i = 0; i < n2; i += 2) {
    const src0 = a + <usize>i * rowBytes, src1 = src0 + rowBytes;
    const dst = pack + <usize>(i >> 1) * pairBytes;
    for (let l = 0; l < k; l++) {
      const o = <usize>l << 3;
      v128.store(dst + (<usize>l << 4), f64x2.replace_lane(v128.load64_splat(src0 + o), 1, load<f64>(src1 + o)));
    }
  }
  let i = 0;
  // two row pairs (four rows of a) by four rows of b
  for (; i + 4 <= n2; i += 4) {
    const P0 = pack + <usize>(i >> 1) * pairBytes, P1 = P0 + pairBytes;
    const ci = c + <usize>i * cRow;
    let j = 0;
    for (; j + 4 <= p; j += 4) {
      const b0 = b + <usize>j * rowBytes, b1 = b0 + rowBytes, b2 = b1 + rowBytes, b3 = b2 + rowBytes;
      let x0 = f64x2.splat(0), x1 = f64x2.splat(0), x2 = f64x2.splat(0), x3 = f64x2.splat(0);
      let y0 = f64x2.splat(0), y1 = f64x2.splat(0), y2 = f64x2.splat(0), y3 = f64x2.splat(0);
      for (let l = 0; l < k; l++) {
        const o = <usize>l << 3, o2 = <usize>l << 4;
        const u = v128.load(P0 + o2), v = v128.load(P1 + o2);
        const w0 = v128.load64_splat(b0 + o), w1 = v128.load64_splat(b1 + o);
        const w2 = v128.load64_splat(b2 + o), w3 = v128.load64_splat(b3 + o);
        x0 = mac(x0, u, w0); x1 = mac(x1, u, w1); x2 = mac(x2, u, w2); x3 = mac(x3, u, w3);
        y0 = mac(y0, v, w0); y1 = mac(y1, v, w1); y2 = mac(y2, v, w2); y3 = mac(y3, v, w3);
      }
      const cj = ci + (<usize>j << 3);
      put2(cj, 0, cRow, x0, accumulate); put2(cj, 8, cRow + 8, x1, accumulate);
      put2(cj, 16, cRow + 16, x2, accumulate); put2(cj, 24, cRow + 24, x3, accumulate);
      const cj2 = cj + 2 * cRow;
      put2(cj2, 0, cRow, y0, accumulate); put2(cj2, 8, cRow + 8, y1, accumulate);
      put2(cj2, 16, cRow + 16, y2, accumulate); put2(cj2, 24, cRow + 24, y3, accumulate);
    }
    for (; j < p; j++) {
      const bj = b + <usize>j * rowBytes;
      let x = f64x2.splat(0), y = f64x2.splat(0);
      for (let l = 0; l < k; l++) {
        const w = v128.load64_splat(bj + (<usize>l << 3));
        x = mac(x, v128.load(P0 + (<usize>l << 4)), w);
        y = mac(y, v128.load(P1 + (<usize>l << 4)), w);
      }
      const cj = ci + (<usize>j << 3);
      put2(cj, 0, cRow, x, accumulate);
      put2(cj + 2 * cRow, 0, cRow, y, accumulate);
    }
  }
  // one row pair left
  for (; i < n2; i += 2) {
    const P0 = pack + <usize>(i >> 1) * pairBytes;
    const ci = c + <usize>i * cRow;
    for (let j = 0; j < p; j++) {
      const bj = b + <usize>j * rowBytes;
      let x = f64x2.splat(0);
      for (let l = 0; l < k; l++) x = mac(x, v128.load(P0 + (<usize>l << 4)), v128.load64_splat(bj + (<usize>l << 3)));
      put2(ci + (<usize>j << 3), 0, cRow, x, accumulate);
    }
  }
  // the last row of an odd n
  if (n2 < n) {
    const ai = a + <usize>n2 * rowBytes;
    const ci = c + <usize>n2 * cRow;
    for (let j = 0; j < p; j++) {
      const bj = b + <usize>j * rowBytes;
      let s: f64 = 0;
      for (let l = 0; l < k; l++) s += load<f64>(ai + (<usize>l << 3)) * load<f64>(bj + (<usize>l << 3));
      const o = ci + (<usize>j << 3);
      store<f64>(o, accumulate ? load<f64>(o) + s : s);
    }
  }
}
