/**
 * Elementwise passes of the fused DLG objective (lib/engine/fused-wasm.ts) over NHWC maps of P
 * pixels x C channels, float32 in memory, float64 arithmetic (as the JS version, fused-js.ts).
 * Activations by code: 0 sigmoid, 1 tanh, 2 relu. Derivatives from the stored output a = s(z):
 *   sigmoid s' = a (1 - a), s'' = s' (1 - 2a);  tanh s' = 1 - a^2, s'' = -2 a s';  relu s' = [a > 0], s'' = 0
 */

export const SIGMOID = 0;
export const TANH = 1;

// @ts-ignore: decorator
@inline function f(p: usize, i: i32): f64 {
  return <f64>load<f32>(p + (<usize>i << 2));
}

// @ts-ignore: decorator
@inline function put(p: usize, i: i32, v: f64): void {
  store<f32>(p + (<usize>i << 2), <f32>v);
}

// @ts-ignore: decorator
@inline function d1(act: i32, s: f64): f64 {
  return act == SIGMOID ? s * (1 - s) : act == TANH ? 1 - s * s : s > 0 ? 1 : 0;
}

/** a <- s(a + bias) in place, bias[C] broadcast over pixels. */
export function biasActivate(a: usize, bias: usize, P: i32, C: i32, act: i32): void {
  for (let q = 0, i = 0; q < P; q++) {
    for (let c = 0; c < C; c++, i++) {
      const v = f(a, i) + f(bias, c);
      put(a, i, act == SIGMOID ? 1 / (1 + Math.exp(-v)) : act == TANH ? Math.tanh(v) : v < 0 ? 0 : v);
    }
  }
}

/** dz = da s'(z), n values. */
export function activationGrad(dz: usize, da: usize, a: usize, n: i32, act: i32): void {
  for (let i = 0; i < n; i++) put(dz, i, f(da, i) * d1(act, f(a, i)));
}

/** adjZ += abar s'(z), n values. */
export function addActivationGrad(adjZ: usize, abar: usize, a: usize, n: i32, act: i32): void {
  for (let i = 0; i < n; i++) put(adjZ, i, f(adjZ, i) + f(abar, i) * d1(act, f(a, i)));
}

/**
 * The adjoint of dz = da s'(z) given dzbar = adjDz + gbarB (bias adjoint, float64 [C], added first
 * and stored): dabar = dzbar s'(z), zbar = dzbar da s''(z).
 */
export function secondOrder(act: i32, a: usize, da: usize, adjDz: usize, gbarB: usize, P: i32, C: i32, adjDa: usize, adjZ: usize): void {
  for (let q = 0, i = 0; q < P; q++) {
    for (let c = 0; c < C; c++, i++) {
      const u = <f64>(<f32>(f(adjDz, i) + load<f64>(gbarB + (<usize>c << 3))));
      store<f32>(adjDz + (<usize>i << 2), <f32>u);
      const s = f(a, i);
      if (act == SIGMOID) {
        const d = s * (1 - s);
        put(adjDa, i, u * d);
        put(adjZ, i, u * f(da, i) * d * (1 - 2 * s));
      } else if (act == TANH) {
        const d = 1 - s * s;
        put(adjDa, i, u * d);
        put(adjZ, i, u * f(da, i) * -2 * s * d);
      } else {
        put(adjDa, i, s > 0 ? u : 0);
        put(adjZ, i, 0);
      }
    }
  }
}

/** sum (g - s)^2 over n float32 values (float64 sum); gbar = 2 (g - s). */
export function squaredDistance(g: usize, s: usize, gbar: usize, n: i32): f64 {
  let D: f64 = 0;
  for (let i = 0; i < n; i++) {
    const d = f(g, i) - f(s, i);
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
