/**
 * The dense layer, softmax and cross-entropy of the fused DLG objective and their adjoints, in
 * float64 (lib/engine/fused.ts has the formulas; fused-js.ts the same loops in JS). Dense weights are
 * float32 [F, K] (rows contiguous over the K classes), read two at a time into f64x2 lanes.
 *
 * Every function takes one record `d` of int32 fields (byte offsets into memory and sizes), laid out
 * by lib/engine/fused-wasm.ts in the order of the constants below.
 */

const B_ = 0, F_ = 1, K_ = 2, OHWC_ = 3, JOINT_ = 4;
const FEAT = 5, DFEAT = 6, WD = 7, BD = 8, SWD = 9, SBD = 10, GWD = 11, GBD = 12, PERM = 13;
const O = 14, P = 15, T = 16, CSUM = 17, E = 18, EBAR = 19, OBAR = 20, TBAR = 21;
const LABEL_IN = 22, LABEL_GRAD = 23, A_L = 24, DA_L = 25, ADJ_DA_L = 26, ABAR_L = 27;
/** Number of int32 fields of the record. */
export const DENSE_RECORD_LENGTH = 28;

// @ts-ignore: decorator
@inline function field(d: usize, i: i32): i32 {
  return load<i32>(d + (<usize>i << 2));
}
// @ts-ignore: decorator
@inline function ptr(d: usize, i: i32): usize {
  return <usize>load<i32>(d + (<usize>i << 2));
}
// @ts-ignore: decorator
@inline function f64at(p: usize, i: i32): f64 {
  return load<f64>(p + (<usize>i << 3));
}
// @ts-ignore: decorator
@inline function f64put(p: usize, i: i32, v: f64): void {
  store<f64>(p + (<usize>i << 3), v);
}
// @ts-ignore: decorator
@inline function f32at(p: usize, i: i32): f64 {
  return <f64>load<f32>(p + (<usize>i << 2));
}
/** Two float32 at p + 4i as an f64x2. */
// @ts-ignore: decorator
@inline function w2(p: usize, i: i32): v128 {
  return f64x2.promote_low_f32x4(v128.load64_zero(p + (<usize>i << 2)));
}
// @ts-ignore: decorator
@inline function hsum(v: v128): f64 {
  return f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1);
}

/** dst[b, j] = src[b, perm[j]] for the B samples of OHWC floats: NHWC maps to NCHW features. */
function toFeatures(src: usize, perm: usize, B: i32, F: i32, OHWC: i32, dst: usize): void {
  for (let b = 0; b < B; b++) {
    const s = src + (<usize>(b * OHWC) << 2), o = b * F;
    for (let j = 0; j < F; j++) f64put(dst, o + j, f32at(s, load<i32>(perm + (<usize>j << 2))));
  }
}

/** out[o..o+K) = softmax(v[vo..vo+K)). */
function softmaxRow(v: usize, vo: i32, out: usize, o: i32, K: i32): void {
  let m = -Infinity;
  for (let k = 0; k < K; k++) m = max(m, f64at(v, vo + k));
  let s: f64 = 0;
  for (let k = 0; k < K; k++) {
    const ex = Math.exp(f64at(v, vo + k) - m);
    f64put(out, o + k, ex);
    s += ex;
  }
  for (let k = 0; k < K; k++) f64put(out, o + k, f64at(out, o + k) / s);
}

/** out[o..o+K) += sum_j x[xo + j] M[j, :] (j < F): rows of M streamed four at a time, out kept in f64x2 lanes. */
function addRowTimes(x: usize, xo: i32, F: i32, M: usize, K: i32, out: usize, o: i32): void {
  const K2 = K & ~1;
  const po = out + (<usize>o << 3);
  let j = 0;
  for (; j + 4 <= F; j += 4) {
    const x0 = f64x2.splat(f64at(x, xo + j)), x1 = f64x2.splat(f64at(x, xo + j + 1));
    const x2 = f64x2.splat(f64at(x, xo + j + 2)), x3 = f64x2.splat(f64at(x, xo + j + 3));
    const r0 = j * K, r1 = r0 + K, r2 = r1 + K, r3 = r2 + K;
    for (let k = 0; k < K2; k += 2) {
      const p = po + (<usize>k << 3);
      const s = f64x2.add(f64x2.add(f64x2.mul(x0, w2(M, r0 + k)), f64x2.mul(x1, w2(M, r1 + k))),
        f64x2.add(f64x2.mul(x2, w2(M, r2 + k)), f64x2.mul(x3, w2(M, r3 + k))));
      v128.store(p, f64x2.add(v128.load(p), s));
    }
    for (let k = K2; k < K; k++) {
      f64put(out, o + k, f64at(out, o + k) + f64at(x, xo + j) * f32at(M, r0 + k) + f64at(x, xo + j + 1) * f32at(M, r1 + k)
        + f64at(x, xo + j + 2) * f32at(M, r2 + k) + f64at(x, xo + j + 3) * f32at(M, r3 + k));
    }
  }
  for (; j < F; j++) {
    const xv = f64at(x, xo + j), x0 = f64x2.splat(xv), r0 = j * K;
    for (let k = 0; k < K2; k += 2) {
      const p = po + (<usize>k << 3);
      v128.store(p, f64x2.add(v128.load(p), f64x2.mul(x0, w2(M, r0 + k))));
    }
    for (let k = K2; k < K; k++) f64put(out, o + k, f64at(out, o + k) + xv * f32at(M, r0 + k));
  }
}

/** sum_k u[uo + k] M[j, k] (+ v[uo + k] N[j, k] when N is not 0). */
function dotRow(u: usize, v: usize, uo: i32, M: usize, N: usize, j: i32, K: i32): f64 {
  let acc = f64x2.splat(0);
  const r = j * K, K2 = K & ~1;
  const pu = u + (<usize>uo << 3), pv = v + (<usize>uo << 3);
  if (N) {
    for (let k = 0; k < K2; k += 2) {
      acc = f64x2.add(acc, f64x2.add(f64x2.mul(v128.load(pu + (<usize>k << 3)), w2(M, r + k)), f64x2.mul(v128.load(pv + (<usize>k << 3)), w2(N, r + k))));
    }
  } else {
    for (let k = 0; k < K2; k += 2) acc = f64x2.add(acc, f64x2.mul(v128.load(pu + (<usize>k << 3)), w2(M, r + k)));
  }
  let s = hsum(acc);
  for (let k = K2; k < K; k++) {
    s += f64at(u, uo + k) * f32at(M, r + k);
    if (N) s += f64at(v, uo + k) * f32at(N, r + k);
  }
  return s;
}

/** Forward: features f, logits o, p = softmax(o), target t, c_b = sum_k t, e = (p c - t) / B. */
export function denseForward(d: usize): void {
  const B = field(d, B_), F = field(d, F_), K = field(d, K_);
  const f = ptr(d, FEAT), o = ptr(d, O), p = ptr(d, P), t = ptr(d, T), e = ptr(d, E), lab = ptr(d, LABEL_IN);
  toFeatures(ptr(d, A_L), ptr(d, PERM), B, F, field(d, OHWC_), f);
  for (let b = 0; b < B; b++) {
    const oo = b * K;
    for (let k = 0; k < K; k++) f64put(o, oo + k, f32at(ptr(d, BD), k));
    addRowTimes(f, b * F, F, ptr(d, WD), K, o, oo);
    softmaxRow(o, oo, p, oo, K);
    if (field(d, JOINT_)) softmaxRow(lab, oo, t, oo, K);
    else for (let k = 0; k < K; k++) f64put(t, oo + k, f64at(lab, oo + k));
    let c: f64 = 0;
    for (let k = 0; k < K; k++) c += f64at(t, oo + k);
    f64put(ptr(d, CSUM), b, c);
    for (let k = 0; k < K; k++) f64put(e, oo + k, (f64at(p, oo + k) * c - f64at(t, oo + k)) / B);
  }
}

/**
 * Backward through the dense layer and its part of D: G_d = f^T e, g_d = sum_b e;
 * returns ||G_d - S_d||^2 + ||g_d - s_d||^2, writes Gbar_d = 2 (G_d - S_d) (float32),
 * gbar_d (float64) and da_L = unflatten(e Wd^T).
 */
export function denseBackward(d: usize): f64 {
  const B = field(d, B_), F = field(d, F_), K = field(d, K_), OHWC = field(d, OHWC_);
  const f = ptr(d, FEAT), e = ptr(d, E), Wd = ptr(d, WD), sWd = ptr(d, SWD), gWd = ptr(d, GWD), perm = ptr(d, PERM), daL = ptr(d, DA_L);
  const g = ptr(d, O); // scratch row of K (the logits are not needed any more)
  const K2 = K & ~1;
  let Dv = f64x2.splat(0);
  let D: f64 = 0;
  for (let j = 0; j < F; j++) {
    const r = j * K;
    for (let k = 0; k < K2; k += 2) v128.store(g + (<usize>k << 3), f64x2.neg(w2(sWd, r + k)));
    for (let k = K2; k < K; k++) f64put(g, k, -f32at(sWd, r + k));
    for (let b = 0; b < B; b++) {
      const fb = f64at(f, b * F + j), fv = f64x2.splat(fb), pe = e + (<usize>(b * K) << 3);
      for (let k = 0; k < K2; k += 2) {
        const p = g + (<usize>k << 3);
        v128.store(p, f64x2.add(v128.load(p), f64x2.mul(fv, v128.load(pe + (<usize>k << 3)))));
      }
      for (let k = K2; k < K; k++) f64put(g, k, f64at(g, k) + fb * f64at(e, b * K + k));
    }
    for (let k = 0; k < K2; k += 2) {
      const v = v128.load(g + (<usize>k << 3));
      Dv = f64x2.add(Dv, f64x2.mul(v, v));
      v128.store64_lane(gWd + (<usize>(r + k) << 2), f32x4.demote_f64x2_zero(f64x2.add(v, v)), 0);
    }
    for (let k = K2; k < K; k++) {
      const v = f64at(g, k);
      D += v * v;
      store<f32>(gWd + (<usize>(r + k) << 2), <f32>(2 * v));
    }
    const pj = load<i32>(perm + (<usize>j << 2));
    for (let b = 0; b < B; b++) store<f32>(daL + (<usize>(b * OHWC + pj) << 2), <f32>dotRow(e, 0, b * K, Wd, 0, j, K));
  }
  D += hsum(Dv);
  const sbd = ptr(d, SBD), gbd = ptr(d, GBD);
  for (let k = 0; k < K; k++) {
    let gk: f64 = 0;
    for (let b = 0; b < B; b++) gk += f64at(e, b * K + k);
    const dk = gk - f32at(sbd, k);
    D += dk * dk;
    f64put(gbd, k, 2 * dk);
  }
  return D;
}

/**
 * Adjoint of the dense layer and the loss, from dabar_L (adjoint of the backward pass) and the
 * parameter-gradient adjoints: writes dD/dy' (joint label) and abar_L = unflatten(fbar).
 */
export function denseAdjoint(d: usize): void {
  const B = field(d, B_), F = field(d, F_), K = field(d, K_), OHWC = field(d, OHWC_);
  const f = ptr(d, FEAT), df = ptr(d, DFEAT), Wd = ptr(d, WD), gWd = ptr(d, GWD), perm = ptr(d, PERM);
  const p = ptr(d, P), t = ptr(d, T), e = ptr(d, E), ebar = ptr(d, EBAR), obar = ptr(d, OBAR), tbar = ptr(d, TBAR);
  const abarL = ptr(d, ABAR_L), lg = ptr(d, LABEL_GRAD);
  toFeatures(ptr(d, ADJ_DA_L), perm, B, F, OHWC, df);
  for (let b = 0; b < B; b++) {
    const oo = b * K;
    for (let k = 0; k < K; k++) f64put(ebar, oo + k, f64at(ptr(d, GBD), k));
    addRowTimes(df, b * F, F, Wd, K, ebar, oo);
    addRowTimes(f, b * F, F, gWd, K, ebar, oo);
    let cbar: f64 = 0;
    for (let k = 0; k < K; k++) cbar += f64at(ebar, oo + k) * f64at(p, oo + k);
    cbar /= B;
    const scale = f64at(ptr(d, CSUM), b) / B;
    let dot: f64 = 0;
    for (let k = 0; k < K; k++) dot += f64at(ebar, oo + k) * scale * f64at(p, oo + k);
    for (let k = 0; k < K; k++) {
      f64put(obar, oo + k, f64at(p, oo + k) * (f64at(ebar, oo + k) * scale - dot));
      f64put(tbar, oo + k, -f64at(ebar, oo + k) / B + cbar);
    }
    if (field(d, JOINT_)) {
      let dt: f64 = 0;
      for (let k = 0; k < K; k++) dt += f64at(tbar, oo + k) * f64at(t, oo + k);
      for (let k = 0; k < K; k++) f64put(lg, oo + k, f64at(t, oo + k) * (f64at(tbar, oo + k) - dt));
    }
    const ao = abarL + (<usize>(b * OHWC) << 2);
    for (let j = 0; j < F; j++) {
      const s = dotRow(e, obar, oo, gWd, Wd, j, K);
      store<f32>(ao + (<usize>load<i32>(perm + (<usize>j << 2)) << 2), <f32>s);
    }
  }
}
