/**
 * Per-example gradients: the gradient of each example's own loss, one row per example, before any
 * averaging. DP-SGD (lib/defenses/dp.ts) clips these rows one by one; the batch gradient that
 * parameterGradients returns is their mean.
 *
 *   const rows = perExampleGradients(model, x, oneHot(labels, k));   // rows[i]: [batch, ...params[i].shape]
 *
 * Row b is exactly parameterGradients(model, x[b:b+1], target[b:b+1]) (a batch of one; cross-entropy
 * is a mean over the batch, so the rows average to the batch gradient). Two engines:
 *   'tfjs'  that definition, one tfjs gradient per example: any model;
 *   'fused' one flat-array pass for the whole batch (lib/engine/per-example.ts): models with a
 *           conv-stack structure (LeNet); the same numbers to float32 rounding, ~10x faster;
 *   'auto'  (default) 'fused' where the model supports it, else 'tfjs'.
 */
import { tf, useEngine } from '../engine';
import { perExampleGradientsFlat } from '../engine/per-example';
import { parameterGradients } from './gradients';
import { checkInput } from './model';
import type { Model } from './model';
import type { Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs';

export type PerExampleEngine = 'auto' | 'tfjs' | 'fused';

export interface PerExampleOptions {
  /** How the rows are computed (see the file comment). Default 'auto'. */
  engine?: PerExampleEngine;
}

/**
 * Per-example parameter gradients of the cross-entropy loss for inputs x [batch, h, w, c] and targets
 * [batch, classes]: one tensor per parameter, shape [batch, ...parameter shape], in model order.
 * A batch of 0 gives tensors of 0 rows. The caller owns (disposes) the result; nothing else is left.
 */
export function perExampleGradients(model: Model, x: Tensor4D, target: Tensor2D, options: PerExampleOptions = {}): Tensor[] {
  useEngine();
  const engine = options.engine ?? 'auto';
  if (engine !== 'auto' && engine !== 'tfjs' && engine !== 'fused') throw new Error(`per-example engine must be 'auto', 'tfjs' or 'fused', got '${engine}'`);
  checkInput(model, x);
  const B = x.shape[0];
  if (target.rank !== 2 || target.shape[0] !== B || target.shape[1] !== model.numClasses) {
    throw new Error(`target must be [${B}, ${model.numClasses}], got ${JSON.stringify(target.shape)}`);
  }
  if (engine !== 'tfjs') {
    const flat = perExampleGradientsFlat(model, x.dataSync() as Float32Array, target.dataSync(), B);
    if (flat !== null) return flat.map((values, i) => tf.tensor(values, [B, ...model.params[i].shape], 'float32'));
    if (engine === 'fused') throw new Error(`per-example engine 'fused': ${model.name} has no conv-stack structure (lib/models/model.ts); use 'tfjs' or 'auto'`);
  }
  if (B === 0) return model.params.map((p) => tf.zeros([0, ...p.shape]));
  return tf.tidy(() => {
    const rows = Array.from({ length: B }, (_, b) => {
      const xb = tf.slice(x, [b, 0, 0, 0], [1, -1, -1, -1]) as Tensor4D;
      const tb = tf.slice(target, [b, 0], [1, -1]) as Tensor2D;
      return parameterGradients(model, xb, tb);
    });
    return model.params.map((_, i) => tf.stack(rows.map((r) => r[i])));
  });
}
