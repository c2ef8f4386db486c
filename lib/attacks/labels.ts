/**
 * Label recovery from the shared gradient alone, for softmax cross-entropy with one-hot labels.
 *
 * The last dense layer o = f Wd + bd (f: features [N, in], o: logits [N, K]) of a batch of N has
 *     dL/dbd_k     = (1/N) sum_n (p_nk - y_nk)
 *     dL/dWd[i, k] = (1/N) sum_n f_ni (p_nk - y_nk)          (p = softmax(o), y one-hot)
 * and p_nk - y_nk is negative exactly where y_nk = 1. Three rules build on this:
 *
 * - `idlgLabel` (iDLG, Zhao et al. 2020), N = 1: with non-negative features (sigmoid, relu) the
 *   column of Wd's gradient for the true class sums to -(1 - p) sum_i f_i < 0, every other column to
 *   p_k sum_i f_i > 0: the label is the argmin of the column sums. Exact whenever sum_i f_i > 0.
 *
 * - `distinctLabels` (Wainakh et al. 2022, "User-Level Label Leakage from Gradients in Federated
 *   Learning", LLG step 1; the same observation as Yin et al. 2021, GradInversion, for batches of
 *   distinct labels): the N classes with the most negative column sums. A class absent from the batch
 *   has column sum (1/N) sum_n p_nk S_n > 0 (S_n = sum_i f_ni > 0), so it is never picked before a
 *   negative one; a present class with sample m has (1/N)(sum_n p_nk S_n - S_m), negative unless the
 *   model already gives class k a large share of the batch's features. Exact when the N labels are
 *   distinct and every present column is negative (always, in our measurements with the untrained
 *   sigmoid LeNet of the paper); with repeated labels it returns only as many distinct classes as it
 *   can see and pads with the next columns, i.e. it cannot count.
 *
 * - `countLabels` (the bias-gradient counting rule of the "LLG+"/"bias-corrected" family: Wainakh et
 *   al. 2022 estimate the per-class impact from the model on dummy data; breaching's `bias-corrected`
 *   strategy, Geiping et al., uses the bias gradient the same way): from the bias gradient,
 *       count_k = sum_n p_nk - N dL/dbd_k,
 *   exact if the attacker knew the mean softmax over the private batch. It does not: it estimates the
 *   mean softmax p^ from the model on `probes` random dummy inputs (uniform in [0, 1]). Classes with
 *   dL/dbd_k < 0 are certainly present (p >= 0) and get one sample each; the remaining samples go one by
 *   one to the class with the largest remaining estimate N p^_k - N dL/dbd_k - assigned_k. Exact for
 *   distinct labels (as distinctLabels, from the bias instead of the weight), and for repeated labels as
 *   far as p^ is close to the batch's true mean softmax (measured in test/labels.test.ts and notebook 03).
 *   Needs a bias on the last layer.
 */
import { tf } from '../engine';
import { createRng } from '../rng';
import type { Model } from '../models/model';
import type { Tensor, Tensor4D } from '@tensorflow/tfjs';

/** Fixed-label strategies of dlg(): how the labels are read off the gradient before the attack. */
export type FixedLabelStrategy = 'idlg' | 'distinct' | 'count';

/** The last dense weight's gradient [in, numClasses] among the shared tensors. */
function lastDenseWeight(model: Model, shared: Tensor[]): Tensor {
  for (let k = shared.length - 1; k >= 0; k--) {
    const g = shared[k];
    if (g.rank === 2 && g.shape[1] === model.numClasses) return g;
  }
  throw new Error(`label recovery needs a final dense layer [in, ${model.numClasses}]; ${model.name} has none`);
}

/** The last dense layer's bias gradient [numClasses] (the rank-1 tensor right after its weight). */
function lastDenseBias(model: Model, shared: Tensor[]): Tensor {
  const w = lastDenseWeight(model, shared);
  const b = shared[shared.indexOf(w) + 1];
  if (b === undefined || b.rank !== 1 || b.shape[0] !== model.numClasses) {
    throw new Error(`label strategy 'count' needs a bias on the last dense layer; ${model.name} has none`);
  }
  return b;
}

function checkBatch(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`label recovery: batch size must be a positive integer, got ${n}`);
}

/** Column sums of the last dense layer's weight gradient, one per class. */
export function weightColumnSums(model: Model, shared: Tensor[]): Float32Array {
  const w = lastDenseWeight(model, shared);
  return tf.tidy(() => tf.sum(w, 0).dataSync() as Float32Array);
}

/** iDLG's label for a single-sample gradient. */
export function idlgLabel(model: Model, shared: Tensor[]): number {
  const w = lastDenseWeight(model, shared);
  return tf.tidy(() => tf.argMin(tf.sum(w, 0)).dataSync()[0]);
}

/** The n classes with the most negative weight-gradient column sums, most negative first (distinct labels). */
export function distinctLabels(model: Model, shared: Tensor[], n: number): number[] {
  checkBatch(n);
  if (n > model.numClasses) throw new Error(`label strategy 'distinct': batch of ${n} cannot have distinct labels among ${model.numClasses} classes`);
  const sums = weightColumnSums(model, shared);
  return Array.from(sums.keys()).sort((a, b) => sums[a] - sums[b] || a - b).slice(0, n);
}

export interface CountOptions {
  /** Random inputs (uniform in [0, 1]) on which the attacker estimates the mean softmax. Default 64. */
  probes?: number;
  /** Seed of those inputs. Default 0. */
  seed?: number;
}

/** Mean softmax of the model over `probes` uniform random inputs (what the attacker can compute). */
export function meanSoftmaxOnDummies(model: Model, probes = 64, seed = 0): Float64Array {
  if (!Number.isInteger(probes) || probes < 1) throw new Error(`label strategy 'count': probes must be a positive integer, got ${probes}`);
  const [h, w, c] = model.inputShape;
  const rng = createRng(seed);
  const data = new Float32Array(probes * h * w * c);
  for (let i = 0; i < data.length; i++) data[i] = rng.next();
  const p = tf.tidy(() => tf.mean(tf.softmax(model.forward(tf.tensor4d(data, [probes, h, w, c]) as Tensor4D, model.params)), 0).dataSync());
  return Float64Array.from(p);
}

/**
 * Labels of a batch of n, repeats allowed, counted from the last layer's bias gradient (see above).
 * Returns n labels sorted by class (the order of a batch is unknowable).
 */
export function countLabels(model: Model, shared: Tensor[], n: number, options: CountOptions = {}): number[] {
  checkBatch(n);
  const db = lastDenseBias(model, shared).dataSync();
  const pHat = meanSoftmaxOnDummies(model, options.probes ?? 64, options.seed ?? 0);
  const k = model.numClasses;
  const assigned = new Array<number>(k).fill(0);
  // certainly present: a negative bias-gradient entry (most negative first if there are more than n)
  const negative = Array.from({ length: k }, (_, j) => j).filter((j) => db[j] < 0).sort((a, b) => db[a] - db[b]);
  for (const j of negative.slice(0, n)) assigned[j] = 1;
  let left = n - Math.min(n, negative.length);
  const estimate = (j: number) => n * (pHat[j] - db[j]) - assigned[j];
  while (left > 0) {
    let best = 0;
    for (let j = 1; j < k; j++) if (estimate(j) > estimate(best)) best = j;
    assigned[best]++;
    left--;
  }
  const labels: number[] = [];
  assigned.forEach((m, j) => { for (let r = 0; r < m; r++) labels.push(j); });
  return labels;
}

/** Labels for dlg()'s fixed-label strategies; 'idlg' only for a single sample. */
export function recoverLabels(strategy: FixedLabelStrategy, model: Model, shared: Tensor[], n: number): number[] {
  if (strategy === 'idlg') {
    if (n !== 1) throw new Error(`label 'idlg' recovers a single sample's label; batchSize is ${n} (use 'distinct' or 'count')`);
    return [idlgLabel(model, shared)];
  }
  if (strategy === 'distinct') return distinctLabels(model, shared, n);
  if (strategy === 'count') return countLabels(model, shared, n);
  throw new Error(`unknown label strategy '${strategy as string}'`);
}
