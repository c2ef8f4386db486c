/**
 * The smallest model a gradient leaks from: one fully connected layer on the flattened image,
 * logits = flatten(x) W + b (then softmax cross-entropy, lib/nn.ts). Used by notebook 00 to show
 * that for such a layer the input can be read off the gradient exactly (lib/attacks/analytic.ts).
 * Weights and bias ~ U(-1/sqrt(n), 1/sqrt(n)) with n inputs (PyTorch's nn.Linear default), so the
 * softmax is not saturated on [0, 1] images; flatten in NHWC order.
 */
import { tf, useEngine } from '../engine';
import { createRng, uniformArray } from '../rng';
import type { Model } from './model';
import type { Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs';

export interface DenseOptions {
  /** [height, width, channels] of one input. */
  inputShape: [number, number, number];
  numClasses: number;
  /** Seed of the initialisation. */
  seed: number;
  /** Initialisation bound: U(-bound, bound). Default 1/sqrt(h*w*c) (nn.Linear's). */
  bound?: number;
}

/** A single dense layer: parameters 'fc.weight' [h*w*c, classes] and 'fc.bias' [classes]. */
export function dense(options: DenseOptions): Model {
  useEngine();
  const { inputShape, numClasses, seed } = options;
  if (!Array.isArray(inputShape) || inputShape.length !== 3 || !inputShape.every((v) => Number.isInteger(v) && v > 0)) {
    throw new Error(`dense: inputShape must be 3 positive integers [h, w, c], got ${JSON.stringify(inputShape)}`);
  }
  if (!Number.isInteger(numClasses) || numClasses < 2) throw new Error(`dense: numClasses must be an integer >= 2, got ${numClasses}`);
  const [h, w, c] = inputShape;
  const n = h * w * c;
  const bound = options.bound ?? 1 / Math.sqrt(n);
  if (!(bound > 0) || !Number.isFinite(bound)) throw new Error(`dense: bound must be a positive number, got ${bound}`);
  const rng = createRng(seed);
  const params = [tf.tensor2d(uniformArray(rng, n * numClasses, -bound, bound), [n, numClasses]), tf.tensor1d(uniformArray(rng, numClasses, -bound, bound))];
  const forward = (x: Tensor4D, p: Tensor[]): Tensor2D =>
    tf.add(tf.matMul(tf.reshape(x, [x.shape[0], n]) as Tensor2D, p[0] as Tensor2D), p[1]) as Tensor2D;
  return { name: `Dense ${h}x${w}x${c} -> ${numClasses}`, inputShape: [h, w, c], numClasses, paramNames: ['fc.weight', 'fc.bias'], params, forward };
}
