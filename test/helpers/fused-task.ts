/**
 * A task module for lib/experiments/parallel.ts (tests): the fused DLG objective of a LeNet at a fixed
 * point, built and evaluated in whichever thread runs the job.
 */
import { tf } from '../../lib/engine';
import { lenet } from '../../lib/models/lenet';
import { disposeModel } from '../../lib/models/model';
import { parameterGradients } from '../../lib/models/gradients';
import { oneHot } from '../../lib/models/nn';
import { fusedObjective } from '../../lib/engine/fused';
import type { FusedKernels } from '../../lib/engine/fused';
import { createRng, uniformArray } from '../../lib/rng';
import type { Tensor4D } from '@tensorflow/tfjs';

export interface FusedJob {
  size: number;
  batch: number;
  seed: number;
  kernels: FusedKernels;
}

export interface FusedJobResult {
  kernels: string;
  value: number;
  grad: number[];
}

export function run(job: FusedJob): FusedJobResult {
  const { size, batch, seed } = job;
  const model = lenet({ inputShape: [size, size, 3], numClasses: 10, seed });
  const rng = createRng(seed);
  const images = tf.tensor4d(uniformArray(rng, batch * size * size * 3, 0, 1), [batch, size, size, 3]) as Tensor4D;
  const shared = tf.tidy(() => parameterGradients(model, images, oneHot(Array.from({ length: batch }, (_, i) => i % 10), 10)));
  const f = fusedObjective(model, shared, { batchSize: batch, label: 'joint', kernels: job.kernels });
  if (f === null) throw new Error('LeNet must be fusable');
  const x = Float64Array.from({ length: f.size }, () => rng.normal());
  const grad = new Float64Array(f.size);
  const value = f.evaluate(x, grad);
  tf.dispose([images, ...shared]);
  disposeModel(model);
  return { kernels: f.kernels, value, grad: Array.from(grad) };
}
