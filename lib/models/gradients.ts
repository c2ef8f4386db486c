/**
 * The client's side of federated / distributed training: the gradient it shares,
 * g = dL(F(x, W), y) / dW, one tensor per parameter, in the model's parameter order.
 */
import { tf, useEngine } from '../engine';
import { crossEntropy } from './nn';
import { checkInput } from './model';
import type { Model } from './model';
import type { Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs';

/**
 * Parameter gradients of the cross-entropy loss for inputs x [batch, h, w, c] and soft or one-hot
 * targets [batch, classes]. Differentiable in x and target when called under an outer gradient.
 */
export function parameterGradients(model: Model, x: Tensor4D, target: Tensor2D): Tensor[] {
  useEngine();
  checkInput(model, x);
  if (target.rank !== 2 || target.shape[0] !== x.shape[0] || target.shape[1] !== model.numClasses) {
    throw new Error(`target must be [${x.shape[0]}, ${model.numClasses}], got ${JSON.stringify(target.shape)}`);
  }
  const lossOf = (...p: Tensor[]) => crossEntropy(model.forward(x, p), target);
  return tf.grads(lossOf)(model.params);
}

/** The loss value itself (for reporting). */
export function lossValue(model: Model, x: Tensor4D, target: Tensor2D): number {
  return tf.tidy(() => crossEntropy(model.forward(x, model.params), target).dataSync()[0]);
}

/** What checkShared needs of a model (LeNet-style models and the BERT-MLM alike). */
export interface ParameterList {
  readonly name: string;
  readonly paramNames: readonly string[];
  readonly params: readonly Tensor[];
}

/** A shared gradient must hold one tensor per parameter, each of its parameter's shape: a clear error otherwise. */
export function checkShared(model: ParameterList, shared: Tensor[]): void {
  if (!Array.isArray(shared) || shared.length !== model.params.length) {
    throw new Error(`shared gradient has ${Array.isArray(shared) ? shared.length : 'no'} tensors; ${model.name} has ${model.params.length} parameters`);
  }
  shared.forEach((g, i) => {
    if (g.shape.join() !== model.params[i].shape.join()) {
      throw new Error(`shared gradient ${model.paramNames[i]} has shape ${JSON.stringify(g.shape)}, expected ${JSON.stringify(model.params[i].shape)}`);
    }
  });
}
