/**
 * The fused DLG objective as a tfjs op, for code that works with tensors: a scalar D(x', y') whose
 * gradient (first order) comes from the same fused pass. Under tf.grad / tf.valueAndGrads it is one
 * op instead of ~400 (see lenet-objective.ts). Not twice differentiable: D's gradient is computed by
 * hand, nothing differentiates it again (nothing in DLG does).
 */
import { tf } from '../../lib/engine';
import type { FusedObjective } from '../../lib/engine/fused';
import type { Scalar, Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs';

/**
 * D at dummy images x' [batch, h, w, c] and, for a 'joint' objective, dummy label logits y'
 * [batch, classes] (omit y' for a 'fixed' one). Returns a scalar tensor; gradients flow to x' and y'.
 */
export function fusedDistance(fused: FusedObjective, image: Tensor4D, labelLogits?: Tensor2D): Scalar {
  const n = image.size + (labelLogits?.size ?? 0);
  if (n !== fused.size) {
    throw new Error(`fusedDistance: the objective takes ${fused.size} values, got image ${JSON.stringify(image.shape)}${labelLogits ? ` and label ${JSON.stringify(labelLogits.shape)}` : ''}`);
  }
  const op = tf.customGrad((...args: unknown[]) => {
    const inputs = args.slice(0, labelLogits ? 2 : 1) as Tensor[];
    const x = new Float64Array(n);
    x.set(inputs[0].dataSync());
    if (labelLogits) x.set(inputs[1].dataSync(), inputs[0].size);
    const grad = new Float64Array(n); // per call: the gradient belongs to this forward
    const value = fused.evaluate(x, grad);
    return {
      value: tf.scalar(value),
      gradFunc: (dy: Tensor) =>
        inputs.map((t, i) => tf.mul(dy, tf.tensor(Float32Array.from(grad.subarray(i === 0 ? 0 : inputs[0].size, i === 0 ? inputs[0].size : n)), t.shape))),
    };
  });
  const call = op as unknown as (...t: Tensor[]) => Scalar;
  return labelLogits ? call(image, labelLogits) : call(image);
}
