/**
 * The attacker's objective on tensors: the gradient distance of DLG (Algorithm 1, line 5), and the
 * bridge from a tensor objective to the flat vectors the optimisers (lib/attacks/optim) move.
 */
import { tf, useEngine } from '../engine';
import type { Tensor, Tensor2D, Tensor4D, GradSaveFunc } from '@tensorflow/tfjs';

/**
 * The DLG objective: sum over parameter tensors of ||g' - g||^2 (paper, Algorithm 1, line 5).
 *
 * Written as one custom-gradient op: value sum_i sum((g'_i - g_i)^2), gradient 2 (g'_i - g_i) dy.
 * That is exactly what autodiff of the plain formula gives (bit for bit), with ~80 fewer kernel
 * launches per evaluation (tf.sum's stock gradient broadcasts dy against a ones tensor).
 */
export function gradientDistance(dummy: Tensor[], shared: Tensor[]): Tensor {
  if (dummy.length !== shared.length) throw new Error(`gradient lists differ in length: ${dummy.length} vs ${shared.length}`);
  const n = dummy.length;
  const op = tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
    const g = args.slice(0, n) as Tensor[];
    (args[n] as GradSaveFunc)(g);
    const sums = g.map((t, i) => tf.sum(tf.squaredDifference(t, shared[i])));
    return {
      value: n === 1 ? sums[0] : tf.addN(sums),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const twoDy = tf.mul(dy, 2);
        return saved.map((t, i) => tf.mul(tf.sub(t, shared[i]), twoDy));
      },
    };
  });
  return (op as unknown as (...t: Tensor[]) => Tensor)(...dummy);
}

/**
 * An attack objective over tensors as a function of one flat vector, for the optimisers:
 * x = [dummy images NHWC of `shape`, then `labelsPerSample` label logits per sample (0: none)].
 * Each call evaluates the objective and its gradient under tf.tidy, writes the gradient into
 * `grad` (x's length) and returns the value.
 */
export function flatObjective(
  objective: (x: Tensor4D, y?: Tensor2D) => Tensor,
  shape: [number, number, number, number],
  labelsPerSample: number,
  grad: Float64Array,
): (x: Float64Array) => number {
  useEngine();
  const valueAndGrads = tf.valueAndGrads((x: Tensor, y?: Tensor) => objective(x as Tensor4D, y as Tensor2D | undefined));
  const imageSize = shape[0] * shape[1] * shape[2] * shape[3];
  if (grad.length !== imageSize + shape[0] * labelsPerSample) throw new Error(`flatObjective: gradient buffer holds ${grad.length} numbers, expected ${imageSize + shape[0] * labelsPerSample}`);
  return (x: Float64Array): number => {
    let loss = NaN;
    tf.tidy(() => {
      const xd = tf.tensor4d(Float32Array.from(x.subarray(0, imageSize)), shape);
      const args = labelsPerSample > 0 ? [xd, tf.tensor2d(Float32Array.from(x.subarray(imageSize)), [shape[0], labelsPerSample])] : [xd];
      const { value, grads } = valueAndGrads(args);
      loss = value.dataSync()[0];
      grad.set(grads[0].dataSync());
      if (labelsPerSample > 0) grad.set(grads[1].dataSync(), imageSize);
    });
    return loss;
  };
}
