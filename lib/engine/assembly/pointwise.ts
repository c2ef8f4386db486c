/**
 * Elementwise passes of the fused DLG objective (lib/engine/fused-wasm.ts) over NHWC maps of P
 * pixels x C channels, float32 in memory, float64 arithmetic as in the JS version (fused-js.ts), two
 * values per f64x2 operation. Activations by code: 0 sigmoid, 1 tanh, 2 relu. Derivatives from the
 * stored output a = s(z):
 *   sigmoid s' = a (1 - a), s'' = s' (1 - 2a);  tanh s' = 1 - a^2, s'' = -2 a s';  relu s' = [a > 0], s'' = 0
 * sigmoid uses exp64x2 below (|relative error| < 1e-14 before the float32 rounding); tanh runs
 * one value at a time through Math.tanh.
 */

export const SIGMOID = 0;
export const TANH = 1;
export const RELU = 2;

// @ts-ignore: decorator
@inline function f(p: usize, i: i32): f64 {
  return <f64>load<f32>(p + (<usize>i << 2));
}

// @ts-ignore: decorator
@inline function put(p: usize, i: i32, v: f64): void {
  store<f32>(p + (<usize>i << 2), <f32>v);
}

/** Two float32 at p + 4i as float64 lanes. */
// @ts-ignore: decorator
@inline function get2(p: usize, i: i32): v128 {
  return f64x2.promote_low_f32x4(v128.load64_zero(p + (<usize>i << 2)));
}

/** Two float64 lanes rounded to float32 at p + 4i. */
// @ts-ignore: decorator
@inline function put2(p: usize, i: i32, v: v128): void {
  v128.store64_lane(p + (<usize>i << 2), f32x4.demote_f64x2_zero(v), 0);
}

// @ts-ignore: decorator
@inline function d1(act: i32, s: f64): f64 {
  return act == SIGMOID ? s * (1 - s) : act == TANH ? 1 - s * s : s > 0 ? 1 : 0;
}

/** s'(z) from a = s(z), two lanes. */
// @ts-ignore: decorator
@inline function d1x2(act: i32, s: v128): v128 {
  const one = f64x2.splat(1);
  if (act == SIGMOID) return f64x2.mul(s, f64x2.sub(one, s));
  if (act == TANH) return f64x2.sub(one, f64x2.mul(s, s));
  return v128.and(f64x2.gt(s, f64x2.splat(0)), one);
}

/**
 * Constants of exp64x2, read from memory: V8 rebuilds a v128.const with several instructions at every
 * use, a splat load is one. -708, 709, log2(e), ln2 (high and low parts), then 1/0!, 1/1!, ..., 1/11!.
 */
const EXP = memory.data<f64>([
  -708, 709, 1.4426950408889634, 6.93147180369123816490e-1, 1.90821492927058770002e-10,
  1, 1, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320, 1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800,
]);

// @ts-ignore: decorator
@inline function coef(i: i32): v128 {
  return v128.load64_splat(EXP + 40 + (<usize>i << 3));
}

// @ts-ignore: decorator
@inline function lin(a: v128, b: v128, x: v128): v128 {
  return f64x2.add(a, f64x2.mul(b, x));
}

/**
 * e^x in both lanes: x = n ln2 + r, |r| <= ln2 / 2, e^r by its Taylor polynomial of degree 11
 * (truncation error < 7e-15 relative), evaluated in Estrin's scheme (4 dependent steps, not 11), times 2^n.
 */
// @ts-ignore: decorator
@inline function exp64x2(x: v128): v128 {
  x = f64x2.pmin(f64x2.pmax(x, v128.load64_splat(EXP)), v128.load64_splat(EXP, 8));
  const n = f64x2.nearest(f64x2.mul(x, v128.load64_splat(EXP, 16)));
  const r = f64x2.sub(f64x2.sub(x, f64x2.mul(n, v128.load64_splat(EXP, 24))), f64x2.mul(n, v128.load64_splat(EXP, 32)));
  const r2 = f64x2.mul(r, r);
  const r4 = f64x2.mul(r2, r2);
  const s0 = lin(lin(coef(0), coef(1), r), lin(coef(2), coef(3), r), r2);
  const s1 = lin(lin(coef(4), coef(5), r), lin(coef(6), coef(7), r), r2);
  const s2 = lin(lin(coef(8), coef(9), r), lin(coef(10), coef(11), r), r2);
  const p = lin(lin(s0, s1, r4), s2, f64x2.mul(r4, r4));
  const e = i64x2.shl(i64x2.add(i64x2.extend_low_i32x4_s(i32x4.trunc_sat_f64x2_s_zero(n)), i64x2.splat(1023)), 52);
  return f64x2.mul(p, e);
}

/** a <- s(a + bias) in place, bias[C] broadcast over pixels. */
export function biasActivate(a: usize, bias: usize, P: i32, C: i32, act: i32): void {
  const C2 = act == TANH ? 0 : C & ~1;
  for (let q = 0, i = 0; q < P; q++, i += C) {
    if (act == SIGMOID) {
      for (let c = 0; c < C2; c += 2) {
        const one = coef(0);
        put2(a, i + c, f64x2.div(one, f64x2.add(one, exp64x2(f64x2.neg(f64x2.add(get2(a, i + c), get2(bias, c)))))));
      }
    } else {
      for (let c = 0; c < C2; c += 2) put2(a, i + c, f64x2.pmax(f64x2.add(get2(a, i + c), get2(bias, c)), f64x2.splat(0)));
    }
    for (let c = C2; c < C; c++) {
      const v = f(a, i + c) + f(bias, c);
      put(a, i + c, act == SIGMOID ? 1 / (1 + Math.exp(-v)) : act == TANH ? Math.tanh(v) : v < 0 ? 0 : v);
    }
  }
}

/** dz = da s'(z), n values. */
export function activationGrad(dz: usize, da: usize, a: usize, n: i32, act: i32): void {
  let i = 0;
  for (; i + 2 <= n; i += 2) put2(dz, i, f64x2.mul(get2(da, i), d1x2(act, get2(a, i))));
  for (; i < n; i++) put(dz, i, f(da, i) * d1(act, f(a, i)));
}

/** adjZ += abar s'(z), n values. */
export function addActivationGrad(adjZ: usize, abar: usize, a: usize, n: i32, act: i32): void {
  let i = 0;
  for (; i + 2 <= n; i += 2) put2(adjZ, i, f64x2.add(get2(adjZ, i), f64x2.mul(get2(abar, i), d1x2(act, get2(a, i)))));
  for (; i < n; i++) put(adjZ, i, f(adjZ, i) + f(abar, i) * d1(act, f(a, i)));
}

/**
 * The adjoint of dz = da s'(z) given dzbar = adjDz + gbarB (bias adjoint, float64 [C], added first
 * and stored): dabar = dzbar s'(z), zbar = dzbar da s''(z).
 */
export function secondOrder(act: i32, a: usize, da: usize, adjDz: usize, gbarB: usize, P: i32, C: i32, adjDa: usize, adjZ: usize): void {
  const C2 = C & ~1;
  const one = f64x2.splat(1), two = f64x2.splat(2), zero = f64x2.splat(0);
  for (let q = 0, i = 0; q < P; q++, i += C) {
    for (let c = 0; c < C2; c += 2) {
      const j = i + c;
      put2(adjDz, j, f64x2.add(get2(adjDz, j), v128.load(gbarB + (<usize>c << 3))));
      const u = get2(adjDz, j), s = get2(a, j);
      if (act == SIGMOID) {
        const d = f64x2.mul(s, f64x2.sub(one, s));
        put2(adjDa, j, f64x2.mul(u, d));
        put2(adjZ, j, f64x2.mul(f64x2.mul(f64x2.mul(u, get2(da, j)), d), f64x2.sub(one, f64x2.mul(two, s))));
      } else if (act == TANH) {
        const d = f64x2.sub(one, f64x2.mul(s, s));
        put2(adjDa, j, f64x2.mul(u, d));
        put2(adjZ, j, f64x2.mul(f64x2.mul(f64x2.mul(f64x2.mul(u, get2(da, j)), f64x2.splat(-2)), s), d));
      } else {
        put2(adjDa, j, v128.and(f64x2.gt(s, zero), u));
        put2(adjZ, j, zero);
      }
    }
    for (let c = C2; c < C; c++) {
      const j = i + c;
      const u = <f64>(<f32>(f(adjDz, j) + load<f64>(gbarB + (<usize>c << 3))));
      store<f32>(adjDz + (<usize>j << 2), <f32>u);
      const s = f(a, j);
      if (act == SIGMOID) {
        const d = s * (1 - s);
        put(adjDa, j, u * d);
        put(adjZ, j, u * f(da, j) * d * (1 - 2 * s));
      } else if (act == TANH) {
        const d = 1 - s * s;
        put(adjDa, j, u * d);
        put(adjZ, j, u * f(da, j) * -2 * s * d);
      } else {
        put(adjDa, j, s > 0 ? u : 0);
        put(adjZ, j, 0);
      }
    }
  }
}

/**
 * sum (g - s)^2 over n float32 values, the differences rounded to float32 and squared and summed in
 * float64; gbar = 2 (g - s) (float32, the same as rounding the exact 2 (g - s)).
 */
export function squaredDistance(g: usize, s: usize, gbar: usize, n: i32): f64 {
  let acc = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const d = f32x4.sub(v128.load(g + o), v128.load(s + o));
    v128.store(gbar + o, f32x4.add(d, d));
    const lo = f64x2.promote_low_f32x4(d), hi = f64x2.promote_low_f32x4(i32x4.shuffle(d, d, 2, 3, 0, 1));
    acc = f64x2.add(acc, f64x2.add(f64x2.mul(lo, lo), f64x2.mul(hi, hi)));
  }
  let D = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  for (; i < n; i++) {
    const d = <f64>(load<f32>(g + (<usize>i << 2)) - load<f32>(s + (<usize>i << 2)));
    D += d * d;
    put(gbar, i, 2 * d);
  }
  return D;
}

/**
 * The bias gradient g_c = sum over pixels of dz (float64), its distance to the shared one
 * s[C] (float32): returns sum_c (g_c - s_c)^2 and writes gbar[c] = 2 (g_c - s_c) (float64).
 */
export function biasDistance(dz: usize, P: i32, C: i32, s: usize, gbar: usize): f64 {
  let D: f64 = 0;
  for (let c = 0; c < C; c++) {
    let g: f64 = 0;
    for (let q = 0; q < P; q++) g += f(dz, q * C + c);
    const d = g - f(s, c);
    D += d * d;
    store<f64>(gbar + (<usize>c << 3), 2 * d);
  }
  return D;
}

/** x32[i] = x64[i], n values. */
export function toFloat32(x64: usize, n: i32, x32: usize): void {
  for (let i = 0; i < n; i++) put(x32, i, load<f64>(x64 + (<usize>i << 3)));
}

/** x64[i] = x32[i], n values. */
export function toFloat64(x32: usize, n: i32, x64: usize): void {
  for (let i = 0; i < n; i++) store<f64>(x64 + (<usize>i << 3), f(x32, i));
}
