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
 */
import { wasmArena } from '../../engine/wasm';
import type { WasmArena } from '../../engine/wasm';

/**
 * Dot product, summed in four interleaved partial sums (lanes i mod 4) added at the end: four
 * independent chains of additions instead of one, so the CPU pipelines them (about 3x faster on the
 * vectors of an attack). Like torch's MKL ddot it sums in another order than a plain loop; the golden
 * tests bound the resulting rounding differences (test/lbfgs.test.ts).
 */
export function dot(a: Float64Array, b: Float64Array): number {
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
export function axpy(alpha: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < y.length; i++) y[i] += alpha * x[i];
}

/** y += alpha * x, then return dot(z, y): one pass, the same results as axpy then dot. */
function axpyDot(alpha: number, x: Float64Array, y: Float64Array, z: Float64Array): number {
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
  oldDirs: Float64Array[];
  oldStps: Float64Array[];
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
  /** A new zeroed vector of the optimiser's length (at most 2 * historySize + 4 of them). */
  vec(): Float64Array;
  /** `al`, the two-loop coefficients (historySize entries). */
  readonly al: Float64Array;
  /** d = -H g; g, d and the history's vectors must come from vec(). */
  direction(g: Float64Array, d: Float64Array, h: History): void;
}

/** Above this the history stays in JS arrays (a wasm memory holds at most 4 GB). */
const MAX_ARENA_BYTES = 2 ** 31;

/**
 * Memory for an optimiser over `n` unknowns with `historySize` pairs: in wasm when the kernels load and
 * the history fits (2 * historySize + 4 vectors: d, the gradient, the pairs and two spares), else JS.
 */
export function twoLoopMemory(n: number, historySize: number, prefer: 'wasm' | 'js' = 'wasm'): TwoLoopMemory {
  const vectors = 2 * historySize + 4;
  const bytes = vectors * (n * 8 + 64) + 2 * (historySize * 4 + 64) + 2 * (historySize * 8 + 64);
  const arena = prefer === 'wasm' && bytes <= MAX_ARENA_BYTES ? wasmArena(bytes) : null;
  return arena === null ? jsMemory(n, historySize) : wasmMemory(arena, n, historySize, vectors);
}

function jsMemory(n: number, historySize: number): TwoLoopMemory {
  const al = new Float64Array(historySize);
  return { kind: 'js', vec: () => new Float64Array(n), al, direction: (g, d, h) => twoLoopJs(g, d, h, al) };
}

function wasmMemory(arena: WasmArena, n: number, historySize: number, vectors: number): TwoLoopMemory {
  const dirs = arena.u32(historySize);
  const stps = arena.u32(historySize);
  const ro = arena.f64(historySize);
  const al = arena.f64(historySize);
  let made = 0;
  return {
    kind: 'wasm',
    al,
    vec: () => {
      if (++made > vectors) throw new Error(`two-loop memory: more than ${vectors} vectors asked for`);
      return arena.f64(n);
    },
    direction: (g, d, h) => {
      if (g.buffer !== al.buffer || d.buffer !== al.buffer) throw new Error('two-loop memory: g and d must be vectors from vec()');
      const numOld = h.oldDirs.length;
      for (let i = 0; i < numOld; i++) {
        dirs[i] = h.oldDirs[i].byteOffset;
        stps[i] = h.oldStps[i].byteOffset;
        ro[i] = h.ro[i];
      }
      arena.exports.lbfgsDirection(g.byteOffset, d.byteOffset, n, dirs.byteOffset, stps.byteOffset, ro.byteOffset, al.byteOffset, numOld, h.hDiag);
    },
  };
}
