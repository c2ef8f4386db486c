/**
 * The vocabulary-sized part of the fused BERT-MLM objective (bert-fused.ts): the MLM decoder
 * z = t Wd + bd over V tokens (30,522 for bert-base-uncased) at the m masked rows, and the distance
 * of its weight gradient to the shared one, without ever forming the [hidden x V] gradient.
 *
 * With Delta = dL/dz [m, V] (m = 2-4 masked positions), the decoder's weight gradient is
 * G = t^T Delta, a sum of m outer products. For S the shared gradient and a distance whose
 * adjoint is Ghat = a S + b G (L2: a = -2, b = 2; cosine: other scalars):
 *   ||G||^2 = sum_rs (t t^T)_rs (Delta Delta^T)_rs,    <G, S> = sum_r t_r . (S Delta^T)_r
 *   t Ghat     = a t S + b (t t^T) Delta           (the adjoint reaching Delta through G)
 *   Delta Ghat^T = a (S Delta^T)^T + b (Delta Delta^T) t   (the adjoint reaching t through G)
 * so every pass over the vocabulary is m dot products or m axpys of length `hidden` per token.
 * Wd is kept in both layouts (dot products along hidden or along the vocabulary, whichever keeps the
 * loads per multiply-add lowest); S, when its rank k is low (an honest client's: k = m), as S = U B
 * (low-rank.ts), which makes its passes k/hidden as long. Float64 throughout.
 * A distance that needs G itself (an L1 term) materialises it: denseResidual / denseAdjoint.
 *
 * The tables live in a wasm memory of their own when the kernels load (wasmArena), and rowDots and
 * colDots on them run there (assembly/decoder.ts's dots4: four vectors per pass, f64x2, bit for bit the JS loops).
 */
import { transposeTo } from './dense-ops';
import { lowRankFactor } from './low-rank';
import { wasmArena } from './wasm';
import type { WasmArena } from './wasm';

/** Wd, bd and the shared gradients of both, laid out for the passes below (float64). */
export interface DecoderTables {
  /** vocabulary size V and hidden size */
  vocab: number;
  hidden: number;
  /** Wd [hidden, V] and Wd^T [V, hidden] (row j: the decoder's column for token j) */
  w: Float64Array;
  wT: Float64Array;
  bias: Float64Array;
  /** the shared gradient S of Wd: factored S = U B when its rank is low (an honest client's: m), else dense */
  shared: { kind: 'dense'; s: Float64Array; sT: Float64Array } | { kind: 'low-rank'; rank: number; u: Float64Array; b: Float64Array; bT: Float64Array };
  /** the rank kept and the relative energy of S left out by the factorisation (0 when dense) */
  sharedRank: number;
  droppedEnergy: number;
  /** ||S||^2 of the weight gradient */
  sNorm2: number;
}

/** Where a table lives: a fresh float64 array, or a vector of the tables' wasm arena. */
type Alloc = (n: number) => Float64Array;

/** Transpose a row-major [rows, cols] matrix into float64. */
function transpose64(a: ArrayLike<number>, rows: number, cols: number, alloc: Alloc = (n) => new Float64Array(n)): Float64Array {
  const out = alloc(rows * cols);
  transposeTo(a, rows, cols, out);
  return out;
}

/** A copy of `a` in float64. */
function copy64(a: ArrayLike<number>, alloc: Alloc): Float64Array {
  const out = alloc(a.length);
  out.set(a);
  return out;
}

/** The wasm arena of tables made by decoderTables, with the scratch of the four-row passes, by the arena's buffer. */
interface DotsArena {
  arena: WasmArena;
  /** a group's rows interleaved: [d, 4] (rowDots) and [V, 4] (colDots); the kernels' output [max(V, d), 4] */
  vi: Float64Array;
  ri: Float64Array;
  out4: Float64Array;
}
const arenas = new WeakMap<ArrayBufferLike, DotsArena>();

/** An arena for the tables of one objective (w, wT, and S dense or factored), or null without the wasm kernels. */
function tablesArena(hidden: number, vocab: number, sharedDense: boolean, rank: number): DotsArena | null {
  const n = hidden * vocab;
  const tables = sharedDense ? 4 * n : 2 * n + 2 * rank * vocab + hidden * rank;
  const scratch = 4 * hidden + 4 * vocab + 4 * Math.max(vocab, hidden);
  const arena = wasmArena(8 * (tables + scratch) + 64 * 12);
  if (arena === null) return null;
  const a: DotsArena = { arena, vi: arena.f64(4 * hidden), ri: arena.f64(4 * vocab), out4: arena.f64(4 * Math.max(vocab, hidden)) };
  arenas.set(a.vi.buffer, a);
  return a;
}

/** Use the factored S when its rank is at most this fraction of `hidden`. */
const LOW_RANK_FRACTION = 0.25;

/** Tables from Wd [hidden, V], bd [V] and the shared gradient of Wd (flat row-major arrays); S factored when its rank is low and `lowRank`. */
export function decoderTables(w: ArrayLike<number>, b: ArrayLike<number>, sW: ArrayLike<number>, hidden: number, vocab: number, lowRank = true): DecoderTables {
  let sNorm2 = 0;
  for (let i = 0; i < sW.length; i++) sNorm2 += sW[i] * sW[i];
  const lr = lowRank ? lowRankFactor(sW, hidden, vocab) : undefined;
  const factored = lr !== undefined && lr.rank <= LOW_RANK_FRACTION * hidden ? lr : undefined;
  const dots = tablesArena(hidden, vocab, factored === undefined, factored?.rank ?? 0);
  const alloc: Alloc = dots ? (n) => dots.arena.f64(n) : (n) => new Float64Array(n);
  const base = { vocab, hidden, w: copy64(w, alloc), wT: transpose64(w, hidden, vocab, alloc), bias: Float64Array.from(b), sNorm2 };
  if (factored !== undefined) {
    const shared = { kind: 'low-rank' as const, rank: factored.rank, u: copy64(factored.u, alloc), b: copy64(factored.b, alloc), bT: transpose64(factored.b, factored.rank, vocab, alloc) };
    return { ...base, shared, sharedRank: factored.rank, droppedEnergy: factored.droppedEnergy };
  }
  return { ...base, shared: { kind: 'dense', s: copy64(sW, alloc), sT: transpose64(sW, hidden, vocab, alloc) }, sharedRank: hidden, droppedEnergy: 0 };
}

/**
 * out[r, j] (+)= vecs_r . mat_j for mat [V, d] (rows j) and vecs [m, d]: m dot products per row of
 * mat, up to four rows of vecs at a time so that each entry of mat is loaded once per group. On the
 * wasm kernels when mat is a table of decoderTables' arena, else in JS; the same numbers either way.
 */
export function rowDots(mat: Float64Array, vecs: Float64Array, m: number, V: number, d: number, out: Float64Array, accumulate = false): void {
  const a = arenas.get(mat.buffer);
  if (a === undefined) return rowDotsJs(mat, vecs, m, V, d, out, accumulate);
  const { vi, out4 } = a;
  for (let r0 = 0; r0 < m; r0 += 4) {
    const cnt = Math.min(4, m - r0);
    for (let h = 0; h < d; h++) for (let k = 0; k < 4; k++) vi[h * 4 + k] = k < cnt ? vecs[(r0 + k) * d + h] : 0;
    a.arena.exports.dots4(mat.byteOffset, vi.byteOffset, V, d, out4.byteOffset);
    for (let k = 0; k < cnt; k++) {
      const o = (r0 + k) * V;
      if (accumulate) for (let j = 0; j < V; j++) out[o + j] += out4[j * 4 + k];
      else for (let j = 0; j < V; j++) out[o + j] = out4[j * 4 + k];
    }
  }
}

/** rowDots in JS. */
export function rowDotsJs(mat: Float64Array, vecs: Float64Array, m: number, V: number, d: number, out: Float64Array, accumulate = false): void {
  for (let r0 = 0; r0 < m; r0 += 4) {
    const cnt = Math.min(4, m - r0);
    const a = r0 * d;
    const b = a + d;
    const c = b + d;
    const e = c + d;
    const o0 = r0 * V;
    const o1 = o0 + V;
    const o2 = o1 + V;
    const o3 = o2 + V;
    for (let j = 0; j < V; j++) {
      const o = j * d;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      if (cnt === 4) {
        for (let h = 0; h < d; h++) {
          const w = mat[o + h];
          s0 += vecs[a + h] * w;
          s1 += vecs[b + h] * w;
          s2 += vecs[c + h] * w;
          s3 += vecs[e + h] * w;
        }
      } else if (cnt === 3) {
        for (let h = 0; h < d; h++) {
          const w = mat[o + h];
          s0 += vecs[a + h] * w;
          s1 += vecs[b + h] * w;
          s2 += vecs[c + h] * w;
        }
      } else if (cnt === 2) {
        for (let h = 0; h < d; h++) {
          const w = mat[o + h];
          s0 += vecs[a + h] * w;
          s1 += vecs[b + h] * w;
        }
      } else {
        for (let h = 0; h < d; h++) s0 += vecs[a + h] * mat[o + h];
      }
      if (accumulate) {
        out[o0 + j] += s0;
        if (cnt > 1) out[o1 + j] += s1;
        if (cnt > 2) out[o2 + j] += s2;
        if (cnt > 3) out[o3 + j] += s3;
      } else {
        out[o0 + j] = s0;
        if (cnt > 1) out[o1 + j] = s1;
        if (cnt > 2) out[o2 + j] = s2;
        if (cnt > 3) out[o3 + j] = s3;
      }
    }
  }
}

/**
 * out[r, h] (+)= sum_j rows[r, j] mat[h, j] for mat [d, V] and rows [m, V]: long dot products along
 * the vocabulary, up to four rows at a time. On the wasm kernels when mat is a table of
 * decoderTables' arena, else in JS; the same numbers either way.
 */
export function colDots(mat: Float64Array, rows: Float64Array, m: number, V: number, d: number, out: Float64Array, accumulate = false): void {
  const a = arenas.get(mat.buffer);
  if (a === undefined) return colDotsJs(mat, rows, m, V, d, out, accumulate);
  const { ri, out4 } = a;
  for (let r0 = 0; r0 < m; r0 += 4) {
    const cnt = Math.min(4, m - r0);
    for (let k = 0; k < 4; k++) {
      const o = (r0 + k) * V;
      if (k < cnt) for (let j = 0; j < V; j++) ri[j * 4 + k] = rows[o + j];
      else for (let j = 0; j < V; j++) ri[j * 4 + k] = 0;
    }
    a.arena.exports.dots4(mat.byteOffset, ri.byteOffset, d, V, out4.byteOffset);
    for (let k = 0; k < cnt; k++) {
      for (let h = 0; h < d; h++) {
        const i = (r0 + k) * d + h;
        out[i] = accumulate ? out[i] + out4[h * 4 + k] : out4[h * 4 + k];
      }
    }
  }
}

/** colDots in JS. */
export function colDotsJs(mat: Float64Array, rows: Float64Array, m: number, V: number, d: number, out: Float64Array, accumulate = false): void {
  for (let r0 = 0; r0 < m; r0 += 4) {
    const cnt = Math.min(4, m - r0);
    const a = r0 * V;
    const b = a + V;
    const c = b + V;
    const e = c + V;
    for (let h = 0; h < d; h++) {
      const o = h * V;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      if (cnt === 4) {
        for (let j = 0; j < V; j++) {
          const w = mat[o + j];
          s0 += rows[a + j] * w;
          s1 += rows[b + j] * w;
          s2 += rows[c + j] * w;
          s3 += rows[e + j] * w;
        }
      } else if (cnt === 3) {
        for (let j = 0; j < V; j++) {
          const w = mat[o + j];
          s0 += rows[a + j] * w;
          s1 += rows[b + j] * w;
          s2 += rows[c + j] * w;
        }
      } else if (cnt === 2) {
        for (let j = 0; j < V; j++) {
          const w = mat[o + j];
          s0 += rows[a + j] * w;
          s1 += rows[b + j] * w;
        }
      } else {
        for (let j = 0; j < V; j++) s0 += rows[a + j] * mat[o + j];
      }
      const vals = [s0, s1, s2, s3];
      for (let k = 0; k < cnt; k++) {
        const i = (r0 + k) * d + h;
        out[i] = accumulate ? out[i] + vals[k] : vals[k];
      }
    }
  }
}

/** z[m, V] = t Wd + bd for t [m, hidden]. */
export function decoderLogits(tab: DecoderTables, t: Float64Array, m: number, z: Float64Array): void {
  const { vocab: V, hidden: d, wT, bias } = tab;
  rowDots(wT, t, m, V, d, z);
  for (let r = 0; r < m; r++) for (let j = 0; j < V; j++) z[r * V + j] += bias[j];
}

/**
 * The backward pass through the decoder for Delta [m, V]: tbar = Delta Wd^T [m, hidden],
 * sdt = (S Delta^T)^T [m, hidden], dd = Delta Delta^T [m, m], gBias = sum_r Delta_r [V].
 */
export function decoderBackward(tab: DecoderTables, delta: Float64Array, m: number, tbar: Float64Array, sdt: Float64Array, dd: Float64Array, gBias: Float64Array): void {
  const { vocab: V, hidden: d, w } = tab;
  colDots(w, delta, m, V, d, tbar);
  const sh = tab.shared;
  if (sh.kind === 'dense') colDots(sh.s, delta, m, V, d, sdt);
  else {
    // (S Delta^T)^T = (Delta B^T) U^T
    const k = sh.rank;
    const db = new Float64Array(m * k);
    colDots(sh.b, delta, m, V, k, db);
    sdt.fill(0, 0, m * d);
    for (let r = 0; r < m; r++) for (let h = 0; h < d; h++) for (let i = 0; i < k; i++) sdt[r * d + h] += db[r * k + i] * sh.u[h * k + i];
  }
  for (let r = 0; r < m; r++) {
    for (let q = 0; q <= r; q++) {
      let acc = 0;
      for (let j = 0; j < V; j++) acc += delta[r * V + j] * delta[q * V + j];
      dd[r * m + q] = acc;
      dd[q * m + r] = acc;
    }
  }
  gBias.fill(0, 0, V);
  for (let r = 0; r < m; r++) for (let j = 0; j < V; j++) gBias[j] += delta[r * V + j];
}

/**
 * dD/dDelta [m, V] (written into deltaHat) from: tbarHat = dD/dtbar [m, hidden] (through tbar = Delta Wd^T),
 * the weight gradient's adjoint Ghat = a S + b G with tt = t t^T [m, m], and the bias gradient's adjoint gBiasHat [V].
 * `scratch` holds m * hidden numbers.
 */
export function decoderDeltaAdjoint(tab: DecoderTables, tbarHat: Float64Array, t: Float64Array, tt: Float64Array, a: number, b: number, delta: Float64Array, gBiasHat: Float64Array, m: number, deltaHat: Float64Array, scratch: Float64Array): void {
  const { vocab: V, hidden: d, wT } = tab;
  rowDots(wT, tbarHat, m, V, d, deltaHat);
  const sh = tab.shared;
  if (a === 0) {
    // no S term
  } else if (sh.kind === 'dense') {
    for (let i = 0; i < m * d; i++) scratch[i] = a * t[i];
    rowDots(sh.sT, scratch, m, V, d, deltaHat, true);
  } else {
    // a t S = (a t U) B
    const k = sh.rank;
    scratch.fill(0, 0, m * k);
    for (let r = 0; r < m; r++) for (let i = 0; i < k; i++) for (let h = 0; h < d; h++) scratch[r * k + i] += a * t[r * d + h] * sh.u[h * k + i];
    rowDots(sh.bT, scratch, m, V, k, deltaHat, true);
  }
  for (let r = 0; r < m; r++) {
    const o = r * V;
    for (let q = 0; q < m; q++) {
      const f = b * tt[r * m + q];
      if (f === 0) continue;
      const oq = q * V;
      for (let j = 0; j < V; j++) deltaHat[o + j] += f * delta[oq + j];
    }
    for (let j = 0; j < V; j++) deltaHat[o + j] += gBiasHat[j];
  }
}

/** tHat[m, hidden] += zHat Wd^T  (z = t Wd + bd, reversed). */
export function decoderLogitsAdjoint(tab: DecoderTables, zHat: Float64Array, m: number, tHat: Float64Array): void {
  colDots(tab.w, zHat, m, tab.vocab, tab.hidden, tHat, true);
}

/** Column j of the shared weight gradient S (the hidden numbers of token j), into out. */
function sharedColumn(tab: DecoderTables, j: number, out: Float64Array): void {
  const sh = tab.shared;
  const d = tab.hidden;
  if (sh.kind === 'dense') {
    for (let h = 0; h < d; h++) out[h] = sh.sT[j * d + h];
    return;
  }
  const k = sh.rank;
  for (let h = 0; h < d; h++) {
    let acc = 0;
    for (let i = 0; i < k; i++) acc += sh.u[h * k + i] * sh.bT[j * k + i];
    out[h] = acc;
  }
}

/**
 * Materialised residual R = G - S of the weight gradient, G = t^T Delta, as [V, hidden] (float64),
 * for distances with an elementwise term. Returns sum R^2 and sum |R|.
 */
export function denseResidual(tab: DecoderTables, t: Float64Array, delta: Float64Array, m: number, residual: Float64Array): { l2: number; l1: number } {
  const { vocab: V, hidden: d } = tab;
  const sj = new Float64Array(d);
  let l2 = 0;
  let l1 = 0;
  for (let j = 0; j < V; j++) {
    const o = j * d;
    sharedColumn(tab, j, sj);
    for (let h = 0; h < d; h++) {
      let g = 0;
      for (let r = 0; r < m; r++) g += delta[r * V + j] * t[r * d + h];
      const res = g - sj[h];
      residual[o + h] = res;
      l2 += res * res;
      l1 += Math.abs(res);
    }
  }
  return { l2, l1 };
}

/** With gHat = dD/dG as [V, hidden]: deltaHat += t gHat^T... i.e. deltaHat_rj += t_r . gHat_j, and tHat_r += sum_j Delta_rj gHat_j. */
export function denseAdjoint(tab: DecoderTables, gHat: Float64Array, t: Float64Array, delta: Float64Array, m: number, deltaHat: Float64Array, tHat: Float64Array): void {
  const { vocab: V, hidden: d } = tab;
  for (let j = 0; j < V; j++) {
    const o = j * d;
    for (let r = 0; r < m; r++) {
      const tr = r * d;
      const dv = delta[r * V + j];
      let s = 0;
      for (let h = 0; h < d; h++) {
        s += t[tr + h] * gHat[o + h];
        tHat[tr + h] += dv * gHat[o + h];
      }
      deltaHat[r * V + j] += s;
    }
  }
}
