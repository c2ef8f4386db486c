/**
 * Label recovery from the shared gradient alone (iDLG, Zhao et al. 2020).
 * With softmax cross-entropy and a one-hot label, dL/dlogits = softmax - onehot is negative only
 * at the true class. The last layer's weight gradient is activations^T (softmax - onehot); with
 * non-negative activations (sigmoid) its column for the true class sums to a negative number and
 * every other column to a positive one: the label is the argmin of the column sums.
 */
import { tf } from '../engine';
import type { Model } from '../model';
import type { Tensor } from '@tensorflow/tfjs';

/** Index of the last dense weight [in, numClasses] among the model's parameters. */
function lastDenseWeight(model: Model, shared: Tensor[]): Tensor {
  for (let k = shared.length - 1; k >= 0; k--) {
    const g = shared[k];
    if (g.rank === 2 && g.shape[1] === model.numClasses) return g;
  }
  throw new Error(`iDLG needs a final dense layer [in, ${model.numClasses}]; ${model.name} has none`);
}

/** iDLG's label for a single-sample gradient. */
export function idlgLabel(model: Model, shared: Tensor[]): number {
  const w = lastDenseWeight(model, shared);
  return tf.tidy(() => tf.argMin(tf.sum(w, 0)).dataSync()[0]);
}
