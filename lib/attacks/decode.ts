/**
 * From embedding space back to tokens: each row of a recovered embedding matrix becomes the
 * vocabulary token whose word embedding is nearest, by cosine similarity (the default: invariant
 * to the row's scale) or by Euclidean (L2) distance.
 */
import { tf } from '../engine';
import type { Tensor2D } from '@tensorflow/tfjs';

export type NearestMetric = 'cosine' | 'l2';

/**
 * Nearest vocabulary ids for `rows` [n, hidden] (flat, row-major) against `table` [vocab, hidden];
 * ids in `exclude` are never returned (e.g. [PAD] and the [unused*] slots, which no text contains).
 */
export function nearestTokens(table: Tensor2D, rows: ArrayLike<number>, metric: NearestMetric = 'cosine', exclude: readonly number[] = []): number[] {
  const hidden = table.shape[1];
  if (rows.length % hidden !== 0) throw new Error(`nearestTokens: ${rows.length} values are not rows of ${hidden}`);
  if (metric !== 'cosine' && metric !== 'l2') throw new Error(`nearestTokens: metric must be 'cosine' or 'l2', got '${metric}'`);
  const n = rows.length / hidden;
  const vocab = table.shape[0];
  const penalty = new Float32Array(vocab);
  for (const id of exclude) if (id >= 0 && id < vocab) penalty[id] = -Infinity;
  return tf.tidy(() => {
    const x = tf.tensor2d(Float32Array.from(rows), [n, hidden]);
    // L2: argmin ||x - t||^2 = argmax 2 x.t - ||t||^2 (||x||^2 is the same for every t)
    return Array.from(tf.argMax(tf.add(scores(table, x, metric), tf.tensor2d(penalty, [1, vocab])), 1).dataSync());
  });
}

/**
 * The k nearest vocabulary ids of each row (best first), by the same scores as nearestTokens;
 * ids in `exclude` are never returned.
 */
export function nearestCandidates(table: Tensor2D, rows: ArrayLike<number>, k: number, metric: NearestMetric = 'cosine', exclude: readonly number[] = []): number[][] {
  const hidden = table.shape[1];
  if (rows.length % hidden !== 0) throw new Error(`nearestCandidates: ${rows.length} values are not rows of ${hidden}`);
  const n = rows.length / hidden;
  const vocab = table.shape[0];
  const penalty = new Float32Array(vocab);
  for (const id of exclude) if (id >= 0 && id < vocab) penalty[id] = -Infinity;
  const kk = Math.min(k, vocab - new Set(exclude).size);
  return tf.tidy(() => {
    const x = tf.tensor2d(Float32Array.from(rows), [n, hidden]);
    const score = tf.add(scores(table, x, metric), tf.tensor2d(penalty, [1, vocab]));
    const ids = tf.topk(score, Math.max(1, kk)).indices.arraySync() as number[][];
    return ids;
  });
}

/** Scores [n, vocab] whose argmax is the nearest token (see nearestTokens). */
function scores(table: Tensor2D, x: Tensor2D, metric: NearestMetric): Tensor2D {
  if (metric === 'cosine') {
    const xn = tf.div(x, tf.add(tf.norm(x, 'euclidean', 1, true), 1e-12));
    const tn = tf.div(table, tf.add(tf.norm(table, 'euclidean', 1, true), 1e-12));
    return tf.matMul(xn, tn, false, true) as Tensor2D;
  }
  return tf.sub(tf.mul(tf.matMul(x, table, false, true), 2), tf.reshape(tf.sum(tf.square(table), 1), [1, -1])) as Tensor2D;
}
