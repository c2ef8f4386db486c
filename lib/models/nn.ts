/**
 * The loss of the original DLG code, twice differentiable:
 *   L = mean over the batch of sum_c -target_c * logSoftmax(logits)_c
 * with `target` a one-hot label (the client) or softmax(dummy logits) (the attacker).
 * logSoftmax is written with exp/log (both fixed in twice.ts) and a constant shift by the row max
 * (the shift cancels mathematically; we keep it out of the tape so max's gradient never enters).
 */
import { tf } from '../engine';
import type { Tensor, Tensor2D } from '@tensorflow/tfjs';

/** log(softmax(logits)) along the last axis; logits [batch, classes]. */
export function logSoftmax(logits: Tensor2D): Tensor2D {
  const shift = tf.tidy(() => rowMaxConstant(logits));
  const z = tf.sub(logits, shift);
  return tf.sub(z, tf.log(tf.sum(tf.exp(z), -1, true))) as Tensor2D;
}

/** softmax along the last axis, through the twice-differentiable exp. */
export function softmax(logits: Tensor2D): Tensor2D {
  return tf.exp(logSoftmax(logits)) as Tensor2D;
}

/** Soft-label cross-entropy, mean over the batch: the `criterion` of the original code. */
export function crossEntropy(logits: Tensor2D, target: Tensor2D): Tensor {
  if (logits.shape.join() !== target.shape.join()) {
    throw new Error(`crossEntropy: logits ${JSON.stringify(logits.shape)} and target ${JSON.stringify(target.shape)} differ`);
  }
  return tf.div(tf.neg(tf.sum(tf.mul(target, logSoftmax(logits)))), logits.shape[0]);
}

/** One-hot rows for integer labels. */
export function oneHot(labels: number[], numClasses: number): Tensor2D {
  for (const l of labels) {
    if (!Number.isInteger(l) || l < 0 || l >= numClasses) {
      throw new Error(`label ${l} is not an integer in [0, ${numClasses - 1}]`);
    }
  }
  return tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), numClasses).toFloat() as Tensor2D);
}

/** Row max as a constant tensor: its value, without a tape connection to `logits`. */
function rowMaxConstant(logits: Tensor2D): Tensor2D {
  const [rows, cols] = logits.shape;
  const v = logits.dataSync();
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let c = 0; c < cols; c++) m = Math.max(m, v[r * cols + c]);
    out[r] = m;
  }
  return tf.tensor2d(out, [rows, 1]);
}

/**
 * Argmax of each row of a row-major [rows, cols] array: the first maximum wins (the labels of
 * optimised dummy label logits, the predicted classes of logits).
 */
export function argmaxRows(v: ArrayLike<number>, rows: number, cols: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let j = 1; j < cols; j++) if (v[r * cols + j] > v[r * cols + best]) best = j;
    out.push(best);
  }
  return out;
}
