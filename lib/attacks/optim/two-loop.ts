/**
 * The L-BFGS two-loop recursion (torch.optim.LBFGS's d = -H g, lbfgs.ts) and where its vectors live.
 *
 * With torch's history of 100 pairs it sweeps 400 vectors per iteration: in JS that was about two
 * thirds of an attack's time (a batch of 8 32x32 images, 25,000 unknowns: ~20 ms per recursion
 * against ~7 ms per objective evaluation; test/bench/attack-profile.ts). `twoLoopMemory()` puts the
 * history in a wasm memory of its own and runs the recursion there (lib/engine/assembly/lbfgs.ts,
 * f64x2 SIMD: 2-4.5x faster per recursion in that profile, memory-bound at large sizes), bit for bit
 * the JS loops below; without the wasm kernels (DLG_WASM=0, or kernels.wasm missing) the JS loops run
 * on plain arrays.
 *
 * The history's pairs are float64 or float32 (`HistoryPrecision`, the optimiser's `historyPrecision`
 * option). float32 is what torch keeps for float32 parameters, such as the released code's dummy image:
 * each pair is rounded to float32 once, when it is stored, and every operation on it is float64 as
 * before (an entry is promoted exactly as it is read). The recursion then reads half the bytes, which is
 * what it is bound by at large sizes. Both precisions: wasm kernel and JS loops bit for bit alike.
 *
 * The optimiser's other vectors (x, d, the gradients, the line search's) live in the same memory, and
 * dot, axpy, addScaled and maxAbs run on its kernels when given vectors of one such memory: at 3,172
 * unknowns (one 32x32 image) those JS loops cost about 3 ns per entry, a tenth of an evaluation.
 */
import { wasmArena, arenaKernels } from '../../engine/wasm';
import type { WasmArena } from '../../engine/wasm';

/** How the history's pairs are stored: float64, or float32 (rounded once when stored; arithmetic float64). */
export type HistoryPrecision = 'float64' | 'float32';
/** A vector of the optimiser: float64, or a history pair stored in float32. */
export type Vector = Float64Array | Float32Array;

/**
 * The kernels for float64 vectors `a` and `b` of one arena (twoLoopMemory's vec()), else undefined:
 * then the JS loops below run. The kernels (assembly/lbfgs.ts, vec*) give those loops' numbers bit for bit.
 */
function kernelsOf(a: Vector, b: Vector): ReturnType<typeof arenaKernels> {
  return a.buffer === b.buffer && a instanceof Float64Array && b instanceof Float64Array ? arenaKernels(a.buffer) : undefined;
}

/**
 * Dot product, summed in four interleaved partial sums (lanes i mod 4) added at the end: four
 * independent chains of additions instead of one, so the CPU pipelines them (about 3x faster on the
 * vectors of an attack). Like torch's MKL ddot it sums in another order than a plain loop; the golden
 * tests bound the resulting rounding differences (test/lbfgs.test.ts).
 */
export function dot(a: Vector, b: Vector): number {
  const k = kernelsOf(a, b);
  if (k !== undefined) return k.vecDot(a.byteOffset, b.byteOffset, a.length);
  const n = a.length;
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; i++) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

/** y += alpha * x (torch `y.add_(x, alpha=alpha)`). */
export function axpy(alpha: number, x: Vector, y: Float64Array): void {
  const k = kernelsOf(x, y);
  if (k !== undefined) k.vecAxpy(alpha, x.byteOffset, y.byteOffset, y.length);
  else for (let i = 0; i < y.length; i++) y[i] += alpha * x[i];
}

/** out = x + t * d. */
export function addScaled(out: Float64Array, x: Float64Array, t: number, d: Float64Array): void {
  const k = out.buffer === x.buffer ? kernelsOf(x, d) : undefined;
  if (k !== undefined) k.vecAddScaled(out.byteOffset, x.byteOffset, t, d.byteOffset, out.length);
  else for (let i = 0; i < out.length; i++) out[i] = x[i] + t * d[i];
}

/** max_i |scale * a[i]|, NaN if any entry is NaN (torch `a.mul(scale).abs().max()`). */
export function maxAbs(a: Float64Array, scale = 1): number {
  const k = kernelsOf(a, a);
  if (k !== undefined) return k.vecMaxAbs(a.byteOffset, scale, a.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i] * scale);
    if (v !== v) return NaN;
    if (v > m) m = v;
  }
  return m;
}

/** y += alpha * x, then return dot(z, y): one pass, the same results as axpy then dot. */
function axpyDot(alpha: number, x: Vector, y: Float64Array, z: Vector): number {
  const n = y.length;
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v0 = y[i] + alpha * x[i];
    const v1 = y[i + 1] + alpha * x[i + 1];
    const v2 = y[i + 2] + alpha * x[i + 2];
    const v3 = y[i + 3] + alpha * x[i + 3];
    y[i] = v0;
    y[i + 1] = v1;
    y[i + 2] = v2;
    y[i + 3] = v3;
    s0 += z[i] * v0;
    s1 += z[i + 1] * v1;
    s2 += z[i + 2] * v2;
    s3 += z[i + 3] * v3;
  }
  for (; i < n; i++) {
    const v = y[i] + alpha * x[i];
    y[i] = v;
    s0 += z[i] * v;
  }
  return (s0 + s1) + (s2 + s3);
}

/** The L-BFGS history, oldest pair first: y_i = g_{i+1} - g_i (oldDirs), s_i = x_{i+1} - x_i (oldStps), ro_i = 1 / (y_i . s_i). */
export interface History {
  oldDirs: Vector[];
  oldStps: Vector[];
  ro: number[];
  hDiag: number;
}

/**
 * d = -H g in JS: q = -g; backward al[i] = (s_i . q) ro_i, q -= al[i] y_i; r = q hDiag; forward
 * r += (al[i] - (y_i . r) ro_i) s_i. q, r and the result all live in d's buffer; `al` is written.
 * Each axpy is fused with the next pair's dot in one pass (axpyDot: the same operations in the same
 * order, bit for bit, with one sweep over q instead of two per history pair).
 */
export function twoLoopJs(g: Float64Array, d: Float64Array, h: History, al: Float64Array): void {
  const { oldDirs, oldStps, ro, hDiag } = h;
  const numOld = oldDirs.length;
  const q = d;
  for (let i = 0; i < q.length; i++) q[i] = -g[i];
  let sq = numOld > 0 ? dot(oldStps[numOld - 1], q) : 0;
  for (let i = numOld - 1; i >= 0; i--) {
    al[i] = sq * ro[i]; // al[i] = dot(oldStps[i], q) * ro[i]
    if (i > 0) sq = axpyDot(-al[i], oldDirs[i], q, oldStps[i - 1]);
    else axpy(-al[i], oldDirs[i], q);
  }
  // multiply by initial Hessian; r/d is the final direction
  const r = q;
  for (let i = 0; i < r.length; i++) r[i] = q[i] * hDiag;
  let yr = numOld > 0 ? dot(oldDirs[0], r) : 0;
  for (let i = 0; i < numOld; i++) {
    const beI = yr * ro[i]; // beI = dot(oldDirs[i], r) * ro[i]
    if (i + 1 < numOld) yr = axpyDot(al[i] - beI, oldStps[i], r, oldDirs[i + 1]);
    else axpy(al[i] - beI, oldStps[i], r);
  }
}

/** The vectors of one optimiser and the recursion over them. */
export interface TwoLoopMemory {
  /** 'wasm' or 'js': where the vectors live and the recursion runs. */
  readonly kind: 'wasm' | 'js';
  /** How the history's pairs are stored. */
  readonly precision: HistoryPrecision;
  /** A new zeroed float64 vector of the optimiser's length (at most VECTORS of them: x, d, the gradients, the line search's). */
  vec(): Float64Array;
  /** A new zeroed vector for a history pair, in `precision` (at most 2 * historySize + 2: the pairs and two spares). */
  pair(): Vector;
  /** `al`, the two-loop coefficients (historySize entries). */
  readonly al: Float64Array;
  /** d = -H g; g and d must come from vec(), the history's vectors from pair(). */
  direction(g: Float64Array, d: Float64Array, h: History): void;
  /**
   * Write a new pair, y = g - gPrev and s = t d (pair() vectors; the others from vec()), and return
   * y . s and y . y of the stored values (as dot() computes them).
   */
  newPair(y: Vector, s: Vector, g: Float64Array, gPrev: Float64Array, d: Float64Array, t: number): { ys: number; yy: number };
}

/** newPair in JS. */
function newPairJs(y: Vector, s: Vector, g: Float64Array, gPrev: Float64Array, d: Float64Array, t: number): { ys: number; yy: number } {
  for (let i = 0; i < y.length; i++) {
    y[i] = g[i] - gPrev[i];
    s[i] = d[i] * t;
  }
  return { ys: dot(y, s), yy: dot(y, y) };
}

/** How many float64 vectors an optimiser takes from vec(). */
export const VECTORS = 9;

/** Above this the history stays in JS arrays (a wasm memory holds at most 4 GB). */
const MAX_ARENA_BYTES = 2 ** 31;

/**
 * Memory for an optimiser over `n` unknowns with `historySize` pairs: in wasm when the kernels load and
 * the vectors fit, else JS.
 */
export function twoLoopMemory(n: number, historySize: number, prefer: 'wasm' | 'js' = 'wasm', precision: HistoryPrecision = 'float64'): TwoLoopMemory {
  const pairs = 2 * historySize + 2;
  const bytes = VECTORS * (n * 8 + 64) + pairs * (n * (precision === 'float32' ? 4 : 8) + 64) + 2 * (historySize * 4 + 64) + 2 * (historySize * 8 + 64) + 64;
  const arena = prefer === 'wasm' && bytes <= MAX_ARENA_BYTES ? wasmArena(bytes) : null;
  return arena === null ? jsMemory(n, historySize, precision) : wasmMemory(arena, n, historySize, precision);
}

/** A counter that throws past `most` (a caller asking for more vectors than the memory was sized for). */
function counted<T>(make: () => T, most: number, what: string): () => T {
  let made = 0;
  return () => {
    if (++made > most) throw new Error(`two-loop memory: more than ${most} ${what} asked for`);
    return make();
  };
}

function jsMemory(n: number, historySize: number, precision: HistoryPrecision): TwoLoopMemory {
  const al = new Float64Array(historySize);
  return {
    kind: 'js', precision, al,
    vec: () => new Float64Array(n),
    pair: () => (precision === 'float32' ? new Float32Array(n) : new Float64Array(n)),
    direction: (g, d, h) => twoLoopJs(g, d, h, al),
    newPair: newPairJs,
  };
}

function wasmMemory(arena: WasmArena, n: number, historySize: number, precision: HistoryPrecision): TwoLoopMemory {
  const dirs = arena.u32(historySize);
  const stps = arena.u32(historySize);
  const ro = arena.f64(historySize);
  const al = arena.f64(historySize);
  const kernel = precision === 'float32' ? arena.exports.lbfgsDirection32 : arena.exports.lbfgsDirection;
  /** A float64 vector of this memory (from vec()); ours: a history vector of it (from pair()). */
  const inMemory = (v: Vector) => v.buffer === al.buffer && v instanceof Float64Array;
  const ours = (v: Vector) => v.buffer === al.buffer && (precision === 'float32') === (v instanceof Float32Array);
  const products = arena.f64(2);
  const pairKernel = precision === 'float32' ? arena.exports.vecPair32 : arena.exports.vecPair;
  return {
    kind: 'wasm',
    precision,
    al,
    vec: counted(() => arena.f64(n), VECTORS, 'float64 vectors'),
    pair: counted((): Vector => (precision === 'float32' ? arena.f32(n) : arena.f64(n)), 2 * historySize + 2, 'history vectors'),
    direction: (g, d, h) => {
      if (!inMemory(g) || !inMemory(d)) throw new Error('two-loop memory: g and d must be vectors from vec()');
      const numOld = h.oldDirs.length;
      for (let i = 0; i < numOld; i++) {
        if (!ours(h.oldDirs[i]) || !ours(h.oldStps[i])) throw new Error('two-loop memory: the history must be vectors from pair()');
        dirs[i] = h.oldDirs[i].byteOffset;
        stps[i] = h.oldStps[i].byteOffset;
        ro[i] = h.ro[i];
      }
      kernel(g.byteOffset, d.byteOffset, n, dirs.byteOffset, stps.byteOffset, ro.byteOffset, al.byteOffset, numOld, h.hDiag);
    },
    newPair: (y, s, g, gPrev, d, t) => {
      if (!inMemory(g) || !inMemory(gPrev) || !inMemory(d) || !ours(y) || !ours(s)) throw new Error('two-loop memory: a new pair takes vectors from pair() and vec()');
      pairKernel(y.byteOffset, s.byteOffset, g.byteOffset, gPrev.byteOffset, d.byteOffset, t, n, products.byteOffset);
      return { ys: products[0], yy: products[1] };
    },
  };
}
