/**
 * The L-BFGS two-loop recursion of lib/attacks/optim/lbfgs.ts (torch.optim.LBFGS's direction
 * d = -H g) in this module's memory, two float64 values per f64x2 operation. g, d (q and r) are
 * float64; the history pairs are float64 (`lbfgsDirection`) or float32 (`lbfgsDirection32`: each
 * entry promoted to float64, exactly, as it is loaded, so the arithmetic is float64 either way and
 * the sweep over the history reads half the bytes). Bit for bit the JS loops of two-loop.ts: every
 * lane does the same multiply, then add (no fused multiply-add), and a dot product keeps the JS
 * version's four partial sums (lanes i mod 4: two f64x2 accumulators), adds the tail to the first,
 * and returns (s0 + s1) + (s2 + s3).
 *
 * The history is given as tables of pointers (oldest pair first): dirs[i] -> y_i, stps[i] -> s_i.
 * In the helpers below, T is the history's type: `h` points to history entries, the other vectors
 * are float64.
 */

import { mac64 } from './simd';

// @ts-ignore: decorator
@inline function at(table: usize, i: i32): usize {
  return <usize>load<u32>(table + (<usize>i << 2));
}

/**
 * History entries i + 2k and i + 2k + 1 of `h` as one f64x2 (k = 0..3): 16 bytes of a float64
 * history, or 8 bytes of a float32 one promoted exactly (a 64-bit load each: cheaper than loading 16
 * bytes and shuffling the upper half down).
 */
// @ts-ignore: decorator
@inline function half<T>(h: usize, i: i32, k: i32): v128 {
  if (sizeof<T>() == 8) return v128.load(h + (<usize>i << 3) + (<usize>k << 4));
  return f64x2.promote_low_f32x4(v128.load64_zero(h + (<usize>i << 2) + (<usize>k << 3)));
}
/** History entry i of `h`, as float64. */
// @ts-ignore: decorator
@inline function one<T>(h: usize, i: i32): f64 {
  return <f64>load<T>(h + (<usize>i << alignof<T>()));
}

/** (s0 + s1) + (s2 + s3): s0 is lane 0 of s01 with the tail added, s1 its lane 1, s2 and s3 s23's lanes. */
// @ts-ignore: decorator
@inline function sum4(s0: f64, s01: v128, s23: v128): f64 {
  return (s0 + f64x2.extract_lane(s01, 1)) + (f64x2.extract_lane(s23, 0) + f64x2.extract_lane(s23, 1));
}

/** sum_i h[i] b[i] in the JS dot's order. */
function dotH<T>(h: usize, b: usize, n: i32): f64 {
  let s01 = f64x2.splat(0), s23 = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 3;
    s01 = mac64(s01, half<T>(h, i, 0), v128.load(b + o));
    s23 = mac64(s23, half<T>(h, i, 1), v128.load(b + o, 16));
  }
  let s0 = f64x2.extract_lane(s01, 0);
  for (; i < n; i++) s0 += one<T>(h, i) * load<f64>(b + (<usize>i << 3));
  return sum4(s0, s01, s23);
}

/** y += alpha h. */
function axpyH<T>(alpha: f64, h: usize, y: usize, n: i32): void {
  const a = f64x2.splat(alpha);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 3;
    v128.store(y + o, mac64(v128.load(y + o), a, half<T>(h, i, 0)));
    v128.store(y + o, mac64(v128.load(y + o, 16), a, half<T>(h, i, 1)), 16);
  }
  for (; i < n; i++) {
    const o = <usize>i << 3;
    store<f64>(y + o, load<f64>(y + o) + alpha * one<T>(h, i));
  }
}

/**
 * y += alpha h, then return dot(z, y) (z a history entry too), in one pass. The main loop takes 8
 * entries at a time (independent work for the CPU to overlap: about 1.4x faster than 4 at a time when
 * the history is in cache); each partial sum still adds its lane's products one after another, in
 * entry order, so the result is the 4-at-a-time loop's bit for bit.
 */
function axpyDotH<T>(alpha: f64, h: usize, y: usize, z: usize, n: i32): f64 {
  const a = f64x2.splat(alpha);
  let s01 = f64x2.splat(0), s23 = f64x2.splat(0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const o = <usize>i << 3;
    const v0 = mac64(v128.load(y + o), a, half<T>(h, i, 0));
    const v1 = mac64(v128.load(y + o, 16), a, half<T>(h, i, 1));
    const v2 = mac64(v128.load(y + o, 32), a, half<T>(h, i, 2));
    const v3 = mac64(v128.load(y + o, 48), a, half<T>(h, i, 3));
    v128.store(y + o, v0);
    v128.store(y + o, v1, 16);
    v128.store(y + o, v2, 32);
    v128.store(y + o, v3, 48);
    s01 = mac64(mac64(s01, half<T>(z, i, 0), v0), half<T>(z, i, 2), v2);
    s23 = mac64(mac64(s23, half<T>(z, i, 1), v1), half<T>(z, i, 3), v3);
  }
  if (i + 4 <= n) {
    const o = <usize>i << 3;
    const v0 = mac64(v128.load(y + o), a, half<T>(h, i, 0));
    const v1 = mac64(v128.load(y + o, 16), a, half<T>(h, i, 1));
    v128.store(y + o, v0);
    v128.store(y + o, v1, 16);
    s01 = mac64(s01, half<T>(z, i, 0), v0);
    s23 = mac64(s23, half<T>(z, i, 1), v1);
    i += 4;
  }
  let s0 = f64x2.extract_lane(s01, 0);
  for (; i < n; i++) {
    const o = <usize>i << 3;
    const v = load<f64>(y + o) + alpha * one<T>(h, i);
    store<f64>(y + o, v);
    s0 += one<T>(z, i) * v;
  }
  return sum4(s0, s01, s23);
}

/** d = -H g over a history of T (the two exports below). */
// @ts-ignore: decorator
@inline function direction<T>(g: usize, d: usize, n: i32, dirs: usize, stps: usize, ro: usize, al: usize, numOld: i32, hDiag: f64): void {
  for (let i = 0; i < n; i++) store<f64>(d + (<usize>i << 3), -load<f64>(g + (<usize>i << 3)));
  let sq = numOld > 0 ? dotH<T>(at(stps, numOld - 1), d, n) : 0;
  for (let i = numOld - 1; i >= 0; i--) {
    const a = sq * load<f64>(ro + (<usize>i << 3));
    store<f64>(al + (<usize>i << 3), a);
    if (i > 0) sq = axpyDotH<T>(-a, at(dirs, i), d, at(stps, i - 1), n);
    else axpyH<T>(-a, at(dirs, i), d, n);
  }
  for (let i = 0; i < n; i++) store<f64>(d + (<usize>i << 3), load<f64>(d + (<usize>i << 3)) * hDiag);
  let yr = numOld > 0 ? dotH<T>(at(dirs, 0), d, n) : 0;
  for (let i = 0; i < numOld; i++) {
    const beI = yr * load<f64>(ro + (<usize>i << 3));
    const c = load<f64>(al + (<usize>i << 3)) - beI;
    if (i + 1 < numOld) yr = axpyDotH<T>(c, at(stps, i), d, at(dirs, i + 1), n);
    else axpyH<T>(c, at(stps, i), d, n);
  }
}

/**
 * d = -H g from a float64 history: q = -g; backward loop al[i] = (s_i . q) ro[i], q -= al[i] y_i;
 * r = q hDiag; forward loop r += (al[i] - (y_i . r) ro[i]) s_i. `al` (numOld float64) is written, as
 * torch's state['al'].
 */
export function lbfgsDirection(g: usize, d: usize, n: i32, dirs: usize, stps: usize, ro: usize, al: usize, numOld: i32, hDiag: f64): void {
  direction<f64>(g, d, n, dirs, stps, ro, al, numOld, hDiag);
}

/** The same from a float32 history (y_i, s_i stored as float32; g, d, ro, al float64). */
export function lbfgsDirection32(g: usize, d: usize, n: i32, dirs: usize, stps: usize, ro: usize, al: usize, numOld: i32, hDiag: f64): void {
  direction<f32>(g, d, n, dirs, stps, ro, al, numOld, hDiag);
}

// ---- the optimiser's own vector operations (lib/attacks/optim/two-loop.ts routes float64 vectors of
// one arena here): bit for bit the JS functions of the same names there.

/** sum_i a[i] b[i], in the JS dot's order. */
export function vecDot(a: usize, b: usize, n: i32): f64 {
  return dotH<f64>(a, b, n);
}

/** y += alpha x. */
export function vecAxpy(alpha: f64, x: usize, y: usize, n: i32): void {
  axpyH<f64>(alpha, x, y, n);
}

/** out = x + t d (one multiply, then one add, per entry). */
export function vecAddScaled(out: usize, x: usize, t: f64, d: usize, n: i32): void {
  const tt = f64x2.splat(t);
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const o = <usize>i << 3;
    v128.store(out + o, mac64(v128.load(x + o), tt, v128.load(d + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 3;
    store<f64>(out + o, load<f64>(x + o) + t * load<f64>(d + o));
  }
}

/** max_i |scale a[i]|, NaN if any of them is NaN (the JS maxAbs: 0 for n = 0). */
export function vecMaxAbs(a: usize, scale: f64, n: i32): f64 {
  const s = f64x2.splat(scale);
  // two running maxima and NaN flags, so that no one chain of dependent operations sets the pace;
  // pmax (b > a ? b : a) is one instruction, and exact here: the entries are >= +0 and NaN is flagged
  let m0 = f64x2.splat(0), m1 = f64x2.splat(0), nan = i64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 3;
    const v0 = f64x2.abs(f64x2.mul(v128.load(a + o), s));
    const v1 = f64x2.abs(f64x2.mul(v128.load(a + o, 16), s));
    nan = v128.or(nan, v128.or(f64x2.ne(v0, v0), f64x2.ne(v1, v1)));
    m0 = f64x2.pmax(m0, v0);
    m1 = f64x2.pmax(m1, v1);
  }
  if (v128.any_true(nan)) return NaN;
  const m = f64x2.pmax(m0, m1);
  let r = max<f64>(f64x2.extract_lane(m, 0), f64x2.extract_lane(m, 1));
  for (; i < n; i++) {
    const v = abs<f64>(load<f64>(a + (<usize>i << 3)) * scale);
    if (v != v) return NaN;
    if (v > r) r = v;
  }
  return r;
}

/**
 * A new L-BFGS pair, stored as T: y = g - gPrev, s = t d (each entry rounded to T), and into out2 the
 * dot products of the stored values y . s and y . y, in the JS dot's order.
 */
// @ts-ignore: decorator
@inline function pairOf<T>(y: usize, s: usize, g: usize, gPrev: usize, d: usize, t: f64, n: i32, out2: usize): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 3, h = <usize>i << alignof<T>();
    store<T>(y + h, <T>(load<f64>(g + o) - load<f64>(gPrev + o)));
    store<T>(s + h, <T>(load<f64>(d + o) * t));
  }
  let ys01 = f64x2.splat(0), ys23 = f64x2.splat(0), yy01 = f64x2.splat(0), yy23 = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const y01 = half<T>(y, i, 0), y23 = half<T>(y, i, 1);
    ys01 = mac64(ys01, y01, half<T>(s, i, 0));
    ys23 = mac64(ys23, y23, half<T>(s, i, 1));
    yy01 = mac64(yy01, y01, y01);
    yy23 = mac64(yy23, y23, y23);
  }
  let ys0 = f64x2.extract_lane(ys01, 0), yy0 = f64x2.extract_lane(yy01, 0);
  for (; i < n; i++) {
    const yv = one<T>(y, i);
    ys0 += yv * one<T>(s, i);
    yy0 += yv * yv;
  }
  store<f64>(out2, sum4(ys0, ys01, ys23));
  store<f64>(out2, sum4(yy0, yy01, yy23), 8);
}

/** pairOf for a float64 history. */
export function vecPair(y: usize, s: usize, g: usize, gPrev: usize, d: usize, t: f64, n: i32, out2: usize): void {
  pairOf<f64>(y, s, g, gPrev, d, t, n, out2);
}

/** pairOf for a float32 history. */
export function vecPair32(y: usize, s: usize, g: usize, gPrev: usize, d: usize, t: f64, n: i32, out2: usize): void {
  pairOf<f32>(y, s, g, gPrev, d, t, n, out2);
}
