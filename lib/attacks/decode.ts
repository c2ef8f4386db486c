/**
 * From embedding space back to tokens: each row of a recovered embedding matrix becomes the
 * vocabulary token whose word embedding is nearest, by cosine similarity (the default: invariant
 * to the row's scale) or by Euclidean (L2) distance.
 *
 * The scores are one matrix product of the rows with the vocabulary table, in float64 on flat arrays
 * (lib/engine/dense-ops.ts's matMulTB, on the wasm kernel when it loads). A text attack decodes after
 * every step, so what the scores need of the table (its unit rows for cosine; its rows in float64
 * and their squared norms for L2) is made once per table and kept while the table lives; no tensor
 * is made or kept.
 */
import type { Tensor2D } from '@tensorflow/tfjs';
import { matMulTB } from '../engine/dense-ops';

export type NearestMetric = 'cosine' | 'l2';

/** What the scores need of a table, each made on first use: its unit rows (cosine), its rows and their squared norms (L2). */
interface TableCopy {
  unit?: Float64Array;
  rows?: Float64Array;
  norm2?: Float64Array;
}

/** By the table's data (a tfjs Variable that is assigned new values gets a new dataId). */
const COPIES = new WeakMap<object, TableCopy>();

function tableCopy(table: Tensor2D): TableCopy {
  const key = (table as unknown as { dataId: object }).dataId;
  let c = COPIES.get(key);
  if (c === undefined) {
    c = {};
    COPIES.set(key, c);
  }
  return c;
}

/** The table's rows divided by (their norm + 1e-12), float64. */
function unitRows(table: Tensor2D): Float64Array {
  const c = tableCopy(table);
  if (c.unit === undefined) c.unit = unit(table.dataSync(), table.shape[0], table.shape[1]);
  return c.unit;
}

/** The table's rows in float64 and their squared norms. */
function l2Rows(table: Tensor2D): { rows: Float64Array; norm2: Float64Array } {
  const c = tableCopy(table);
  if (c.rows === undefined || c.norm2 === undefined) {
    const [vocab, hidden] = table.shape;
    const rows = Float64Array.from(table.dataSync());
    const norm2 = new Float64Array(vocab);
    for (let v = 0; v < vocab; v++) for (let h = 0; h < hidden; h++) norm2[v] += rows[v * hidden + h] ** 2;
    c.rows = rows;
    c.norm2 = norm2;
  }
  return { rows: c.rows, norm2: c.norm2 };
}

/** Rows of a [n, hidden] matrix divided by (their norm + 1e-12). */
function unit(rows: ArrayLike<number>, n: number, hidden: number): Float64Array {
  const out = new Float64Array(n * hidden);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let h = 0; h < hidden; h++) s += rows[i * hidden + h] * rows[i * hidden + h];
    const scale = 1 / (Math.sqrt(s) + 1e-12);
    for (let h = 0; h < hidden; h++) out[i * hidden + h] = rows[i * hidden + h] * scale;
  }
  return out;
}

/** Scores [n, vocab] (row-major) whose largest entry in each row is the nearest token. */
function scores(table: Tensor2D, rows: ArrayLike<number>, metric: NearestMetric, what: string): { s: Float64Array; n: number; vocab: number } {
  const [vocab, hidden] = table.shape;
  if (rows.length % hidden !== 0) throw new Error(`${what}: ${rows.length} values are not rows of ${hidden}`);
  if (metric !== 'cosine' && metric !== 'l2') throw new Error(`${what}: metric must be 'cosine' or 'l2', got '${metric}'`);
  const n = rows.length / hidden;
  const s = new Float64Array(n * vocab);
  if (metric === 'cosine') {
    matMulTB(unit(rows, n, hidden), unitRows(table), s, n, hidden, vocab);
    return { s, n, vocab };
  }
  // L2: argmin ||x - t||^2 = argmax 2 x.t - ||t||^2 (||x||^2 is the same for every t)
  const t = l2Rows(table);
  matMulTB(Float64Array.from(rows), t.rows, s, n, hidden, vocab);
  for (let i = 0; i < n; i++) for (let v = 0; v < vocab; v++) s[i * vocab + v] = 2 * s[i * vocab + v] - t.norm2[v];
  return { s, n, vocab };
}

/** A mask of the ids in `exclude` that are in range. */
function excluded(vocab: number, exclude: readonly number[]): Uint8Array {
  const out = new Uint8Array(vocab);
  for (const id of exclude) if (id >= 0 && id < vocab) out[id] = 1;
  return out;
}

/**
 * Nearest vocabulary ids for `rows` [n, hidden] (flat, row-major) against `table` [vocab, hidden];
 * ids in `exclude` are never returned (e.g. [PAD] and the [unused*] slots, which no text contains).
 * Ties go to the lower id.
 */
export function nearestTokens(table: Tensor2D, rows: ArrayLike<number>, metric: NearestMetric = 'cosine', exclude: readonly number[] = []): number[] {
  const { s, n, vocab } = scores(table, rows, metric, 'nearestTokens');
  const skip = excluded(vocab, exclude);
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    let best = -1, bestScore = -Infinity;
    for (let v = 0; v < vocab; v++) {
      if (skip[v] === 0 && (best < 0 || s[i * vocab + v] > bestScore)) {
        best = v;
        bestScore = s[i * vocab + v];
      }
    }
    ids.push(Math.max(best, 0));
  }
  return ids;
}

/**
 * The k nearest vocabulary ids of each row (best first, ties to the lower id), by the same scores as
 * nearestTokens; ids in `exclude` are never returned.
 */
export function nearestCandidates(table: Tensor2D, rows: ArrayLike<number>, k: number, metric: NearestMetric = 'cosine', exclude: readonly number[] = []): number[][] {
  const { s, n, vocab } = scores(table, rows, metric, 'nearestCandidates');
  const skip = excluded(vocab, exclude);
  const allowed: number[] = [];
  for (let v = 0; v < vocab; v++) if (skip[v] === 0) allowed.push(v);
  const kk = Math.max(1, Math.min(k, allowed.length));
  const out: number[][] = [];
  for (let i = 0; i < n; i++) {
    const row = s.subarray(i * vocab, (i + 1) * vocab);
    // the kk best, kept sorted: a new id enters when it beats the last (ids come in increasing order)
    const top: number[] = [];
    for (const v of allowed) {
      if (top.length === kk && !(row[v] > row[top[kk - 1]])) continue;
      let at = top.length === kk ? kk - 1 : top.length;
      while (at > 0 && row[v] > row[top[at - 1]]) at--;
      if (top.length === kk) top.pop();
      top.splice(at, 0, v);
    }
    out.push(top);
  }
  return out;
}
