/**
 * Softmax and cross-entropy of the fused DLG objective and their adjoints, in float64, per sample
 * (lib/engine/fused.ts has the formulas). The dense layer's products around them are float32 matrix
 * products (gemm.ts) laid out by lib/engine/fused-wasm.ts; these functions take and give their
 * float32 operands: the logits without bias, e (as float32 too), ebar without bias, obar.
 *
 * Every function takes one record `d` of int32 fields (sizes, a flag, byte offsets into memory),
 * laid out by lib/engine/fused-wasm.ts in the order of the constants below.
 */

const B_ = 0, K_ = 1, JOINT_ = 2, LOGITS = 3, BD = 4, SBD = 5, GBD = 6, LABEL_IN = 7, LABEL_GRAD = 8;
const P = 9, T = 10, CSUM = 11, E = 12, E32 = 13, EBAR32 = 14, OBAR32 = 15;
/** Number of int32 fields of the record. */
export const LOSS_RECORD_LENGTH = 16;

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
// @ts-ignore: decorator
@inline function f32put(p: usize, i: i32, v: f64): void {
  store<f32>(p + (<usize>i << 2), <f32>v);
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

/**
 * From the logits without bias (float32 [B, K]): o = logits + bd, p = softmax(o), the target t
 * (softmax of the label logits, or the fixed target), c_b = sum_k t, e = (p c - t) / B (float64, and
 * float32 in e32). Then the dense bias's part of D: returns ||g_d - s_d||^2 with g_d = sum_b e, and
 * writes gbar_d = 2 (g_d - s_d) (float64). p serves as scratch for o.
 */
export function lossForward(d: usize): f64 {
  const B = field(d, B_), K = field(d, K_);
  const logits = ptr(d, LOGITS), bd = ptr(d, BD), lab = ptr(d, LABEL_IN);
  const p = ptr(d, P), t = ptr(d, T), e = ptr(d, E), e32 = ptr(d, E32);
  for (let b = 0; b < B; b++) {
    const oo = b * K;
    for (let k = 0; k < K; k++) f64put(p, oo + k, f32at(logits, oo + k) + f32at(bd, k));
    softmaxRow(p, oo, p, oo, K);
    if (field(d, JOINT_)) softmaxRow(lab, oo, t, oo, K);
    else for (let k = 0; k < K; k++) f64put(t, oo + k, f64at(lab, oo + k));
    let c: f64 = 0;
    for (let k = 0; k < K; k++) c += f64at(t, oo + k);
    f64put(ptr(d, CSUM), b, c);
    for (let k = 0; k < K; k++) {
      const v = (f64at(p, oo + k) * c - f64at(t, oo + k)) / B;
      f64put(e, oo + k, v);
      f32put(e32, oo + k, v);
    }
  }
  const sbd = ptr(d, SBD), gbd = ptr(d, GBD);
  let D: f64 = 0;
  for (let k = 0; k < K; k++) {
    let g: f64 = 0;
    for (let b = 0; b < B; b++) g += f64at(e, b * K + k);
    const dk = g - f32at(sbd, k);
    D += dk * dk;
    f64put(gbd, k, 2 * dk);
  }
  return D;
}

/**
 * From ebar without its bias part (float32 [B, K]): ebar = that + gbar_d; the softmax and
 * cross-entropy adjoints obar (written as float32 for the product fbar = e Gbar_d^T + obar Wd^T) and,
 * for the joint label, dD/dy' (float64, at LABEL_GRAD).
 */
export function lossAdjoint(d: usize): void {
  const B = field(d, B_), K = field(d, K_);
  const p = ptr(d, P), t = ptr(d, T), ebar32 = ptr(d, EBAR32), obar32 = ptr(d, OBAR32), gbd = ptr(d, GBD), lg = ptr(d, LABEL_GRAD);
  for (let b = 0; b < B; b++) {
    const oo = b * K;
    let cbar: f64 = 0;
    for (let k = 0; k < K; k++) cbar += (f32at(ebar32, oo + k) + f64at(gbd, k)) * f64at(p, oo + k);
    cbar /= B;
    const scale = f64at(ptr(d, CSUM), b) / B;
    let dot: f64 = 0;
    for (let k = 0; k < K; k++) dot += (f32at(ebar32, oo + k) + f64at(gbd, k)) * scale * f64at(p, oo + k);
    let dt: f64 = 0;
    for (let k = 0; k < K; k++) {
      const eb = f32at(ebar32, oo + k) + f64at(gbd, k);
      f32put(obar32, oo + k, f64at(p, oo + k) * (eb * scale - dot));
      dt += (-eb / B + cbar) * f64at(t, oo + k);
    }
    if (field(d, JOINT_)) {
      for (let k = 0; k < K; k++) {
        const eb = f32at(ebar32, oo + k) + f64at(gbd, k);
        f64put(lg, oo + k, f64at(t, oo + k) * (-eb / B + cbar - dt));
      }
    }
  }
}
