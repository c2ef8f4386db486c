/**
 * What a BERT masked-LM gradient gives away before any optimisation (the attacker's reading of it):
 *   sequence length   rows of the position-embedding gradient: non-zero exactly for the n positions used;
 *   labels            the decoder-bias gradient is (1/m) sum_r (softmax_r - onehot_r): negative exactly at
 *                     the masked tokens, about -c/m for a token masked c times (iDLG's reading, Zhao et al. 2020);
 *   number masked m   the rank of the decoder-weight gradient t^T Delta (m outer products);
 *   masked positions  the rows of the position-embedding gradient with the largest norms: the MLM loss
 *                     reads the encoder's output at the masked rows, whose residual stream carries the
 *                     loss gradient straight back to their inputs (other rows only through attention);
 *   bag of tokens     the non-zero rows of the word-embedding table's gradient, when it is shared.
 * Each function reads only the gradient (never the truth); lib/experiments/text.ts scores the readings.
 */
import type { Tensor } from '@tensorflow/tfjs';
import type { Bert } from '../models/bert';
import { lowRankFactor } from '../engine/low-rank';

/** Number of leading non-zero rows of the position-embedding gradient (the sequence length). */
export function readSeqLength(model: Bert, shared: Tensor[]): number {
  const d = model.config.hidden;
  const g = shared[0].dataSync();
  let n = 0;
  for (let i = 0; i < model.config.maxPositions; i++) {
    let s = 0;
    for (let c = 0; c < d; c++) s += g[i * d + c] * g[i * d + c];
    if (s > 0) n = i + 1;
  }
  return n;
}

/** Rank of the shared decoder-weight gradient: the number of masked positions. */
export function readMaskedCount(model: Bert, shared: Tensor[]): number {
  const { hidden, vocabSize } = model.config;
  return lowRankFactor(shared[shared.length - 2].dataSync(), hidden, vocabSize, 1e-9).rank;
}

export interface LabelReading {
  /** The masked tokens, each as many times as it was masked (ascending ids). */
  labels: number[];
  /** Every token whose bias gradient is negative, with -gradient * m (about its count). */
  evidence: { id: number; weight: number }[];
}

/** The multiset of masked tokens from the decoder-bias gradient, given the number masked `m`. */
export function readLabels(model: Bert, shared: Tensor[], m: number): LabelReading {
  const g = shared[shared.length - 1].dataSync();
  const evidence: { id: number; weight: number }[] = [];
  for (let j = 0; j < g.length; j++) if (g[j] < 0) evidence.push({ id: j, weight: -g[j] * m });
  evidence.sort((a, b) => b.weight - a.weight);
  // counts: round(weight), at least 1 for the strongest; then trim or pad to exactly m
  const counts: number[] = evidence.map((e) => Math.max(0, Math.round(e.weight)));
  if (evidence.length > 0 && !counts.some((c) => c > 0)) counts[0] = 1;
  let total = counts.reduce((a, b) => a + b, 0);
  for (let k = evidence.length - 1; total > m && k >= 0; k--) {
    while (counts[k] > 0 && total > m) {
      counts[k]--;
      total--;
    }
  }
  for (let k = 0; total < m && evidence.length > 0; k = (k + 1) % evidence.length) {
    counts[k]++;
    total++;
  }
  const labels: number[] = [];
  evidence.forEach((e, k) => {
    for (let c = 0; c < counts[k]; c++) labels.push(e.id);
  });
  return { labels: labels.sort((a, b) => a - b), evidence };
}

/** Norm of each row 1..n-2 of the position-embedding gradient ([CLS] and [SEP] are never masked). */
export function positionGradientNorms(model: Bert, shared: Tensor[], n: number): number[] {
  const d = model.config.hidden;
  const g = shared[0].dataSync();
  const norms: number[] = [];
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < d; c++) s += g[i * d + c] * g[i * d + c];
    norms.push(Math.sqrt(s));
  }
  return norms;
}

/** The m positions (of 1..n-2) whose position-embedding gradient rows are largest, ascending. */
export function readPositions(model: Bert, shared: Tensor[], n: number, m: number): number[] {
  const norms = positionGradientNorms(model, shared, n);
  const inner = Array.from({ length: n - 2 }, (_, i) => i + 1);
  return inner.sort((a, b) => norms[b] - norms[a]).slice(0, m).sort((a, b) => a - b);
}

/**
 * Hypotheses for the masked positions, most likely first: m-subsets of the m + 2 rows with the largest
 * position-gradient norms, ordered by their summed norm (the first is readPositions').
 */
export function positionHypotheses(model: Bert, shared: Tensor[], n: number, m: number, count: number): number[][] {
  const norms = positionGradientNorms(model, shared, n);
  const pool = Array.from({ length: n - 2 }, (_, i) => i + 1).sort((a, b) => norms[b] - norms[a]).slice(0, m + 2);
  const subsets: number[][] = [];
  const pick = (start: number, cur: number[]) => {
    if (cur.length === m) {
      subsets.push([...cur]);
      return;
    }
    for (let i = start; i < pool.length; i++) pick(i + 1, [...cur, pool[i]]);
  };
  pick(0, []);
  const score = (s: number[]) => s.reduce((a, q) => a + norms[q], 0);
  return subsets.sort((a, b) => score(b) - score(a)).slice(0, count).map((s) => s.sort((a, b) => a - b));
}

/** Token ids whose row of the word-embedding table's gradient is non-zero (the tokens the model read). */
export function readTokenSet(embeddingGradient: Tensor): number[] {
  const [vocab, d] = embeddingGradient.shape;
  const g = embeddingGradient.dataSync();
  const ids: number[] = [];
  for (let v = 0; v < vocab; v++) {
    for (let c = 0; c < d; c++) {
      if (g[v * d + c] !== 0) {
        ids.push(v);
        break;
      }
    }
  }
  return ids;
}
