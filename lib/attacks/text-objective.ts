/**
 * The DLG-on-text objective D(E', Y') on flat vectors x = [E' (seq*hidden), Y' (masked*vocab)]:
 * the distance between the MLM parameter gradient of the dummy (embeddings E', soft labels
 * softmax(Y')) and the shared one. Two engines compute the same function:
 *   'fused'     lib/engine/bert-fused.ts: hand-written forward, backward and their adjoints on float64
 *               arrays, the decoder's [hidden x vocab] gradient never formed (the default; ~4x faster);
 *   'autodiff'  tfjs second-order autodiff of the model's graph (float32; the reference).
 * test/bert-fused.test.ts holds them to each other, to finite differences and to PyTorch (float64).
 * With label 'fixed' the labels are given (e.g. read off the decoder-bias gradient) and x = E'.
 */
import { tf, useEngine } from '../engine';
import { checkShared } from '../models/gradients';
import { gradientDistance } from './objective';
import { softmax } from '../models/nn';
import { bertFusedObjective, DEFAULT_L1_WEIGHT } from '../engine/bert-fused';
import type { TextDistance } from '../engine/bert-fused';
import type { Bert } from '../models/bert';
import type { TextShape } from '../cases/text';
import type { Tensor, Tensor2D } from '@tensorflow/tfjs';

export type { TextDistance };
export type TextEngine = 'fused' | 'autodiff';

export interface TextObjectiveOptions {
  /** 'fused' (default) or 'autodiff' (tfjs, the reference). */
  engine: TextEngine;
  /** 'l2' sum ||G' - G||^2 (DLG), 'cosine' 1 - cos(G', G) over all parameters, 'l1l2' l2 + l1Weight * sum |G' - G| (TAG). */
  distance: TextDistance;
  /** Weight of the L1 term of 'l1l2'. */
  l1Weight: number;
  /** 'joint': x = [E', Y'] (DLG); 'fixed': x = E' and the labels are `target`. */
  label: 'joint' | 'fixed';
  /** With label 'fixed': target rows [masked, vocab], flat (one-hot for known labels). */
  target?: ArrayLike<number>;
  /** With label 'joint': the tokens the dummy labels range over (x holds masked * support.length logits); default the whole vocabulary. */
  labelSupport?: readonly number[];
  /** Fused engine: factor the shared decoder gradient when its rank is low (default true; see bert-fused.ts). */
  lowRank?: boolean;
}

export const DEFAULT_TEXT_OBJECTIVE: Readonly<TextObjectiveOptions> = Object.freeze({
  engine: 'fused' as const,
  distance: 'l2' as const,
  l1Weight: DEFAULT_L1_WEIGHT,
  label: 'joint' as const,
});

/** A text objective: value of D at x and, with `grad`, its gradient written into grad. */
export type TextObjective = ((x: Float64Array, grad?: Float64Array) => number) & {
  /** Length of x. */
  readonly size: number;
  /** Replace the fixed target (label 'fixed'). */
  setTarget(target: ArrayLike<number>): void;
  /** Free what the objective holds (the autodiff engine's constant tensors); the fused one holds none. */
  dispose(): void;
};

/** Check a text shape against the model with clear messages. */
export function checkTextShape(model: Bert, shape: TextShape): void {
  const { maxPositions } = model.config;
  const seq = shape.seqLength;
  if (!Number.isInteger(seq) || seq < 3 || seq > maxPositions) throw new Error(`sequence length must be an integer in [3, ${maxPositions}], got ${seq}`);
  const ps = shape.positions;
  if (!Array.isArray(ps) || ps.length === 0) throw new Error('the MLM step needs at least one masked position');
  if (ps.some((q) => !Number.isInteger(q) || q < 1 || q > seq - 2) || new Set(ps).size !== ps.length) {
    throw new Error(`masked positions must be distinct integers in [1, ${seq - 2}] (not [CLS]/[SEP]), got ${JSON.stringify(ps)}`);
  }
}

/**
 * The attack objective D(x) for `model`, the shared gradient and the shape of the step.
 * Fused: buffers allocated once (not re-entrant). Autodiff: tensors created and freed per call.
 */
export function textObjective(model: Bert, shared: Tensor[], shape: TextShape, overrides: Partial<TextObjectiveOptions> = {}): TextObjective {
  useEngine();
  checkShared(model, shared);
  checkTextShape(model, shape);
  const o: TextObjectiveOptions = { ...DEFAULT_TEXT_OBJECTIVE, ...overrides };
  if (o.engine !== 'fused' && o.engine !== 'autodiff') throw new Error(`text objective engine must be 'fused' or 'autodiff', got '${o.engine}'`);
  if (o.label !== 'joint' && o.label !== 'fixed') throw new Error(`text objective label must be 'joint' or 'fixed', got '${o.label}'`);
  const { hidden, vocabSize } = model.config;
  const { seqLength: seq, positions } = shape;
  const m = positions.length;
  const embSize = seq * hidden;
  const k = o.label === 'joint' && o.labelSupport ? o.labelSupport.length : vocabSize;
  const size = embSize + (o.label === 'joint' ? m * k : 0);
  if (o.engine === 'fused') {
    const fused = bertFusedObjective(model, shared, { seqLength: seq, positions, label: o.label, target: o.target, distance: o.distance, l1Weight: o.l1Weight, lowRank: o.lowRank, labelSupport: o.labelSupport });
    const f = (x: Float64Array, grad?: Float64Array) => fused.evaluate(x, grad);
    return Object.assign(f, { size, setTarget: (t: ArrayLike<number>) => fused.setTarget(t), dispose: () => undefined });
  }
  if (o.distance !== 'l2' && o.distance !== 'cosine' && o.distance !== 'l1l2') throw new Error(`text objective distance must be 'l2', 'cosine' or 'l1l2', got '${o.distance}'`);
  let target: Float32Array | undefined;
  const setTarget = (t: ArrayLike<number>) => {
    if (t.length !== m * vocabSize) throw new Error(`text objective: target has ${t.length} entries, expected ${m * vocabSize}`);
    target = Float32Array.from(t);
  };
  if (o.label === 'fixed') {
    if (o.target === undefined) throw new Error("text objective: label 'fixed' needs a target");
    setTarget(o.target);
  }
  const f = (e: Tensor, y: Tensor) => {
    const dummy = tf.grads((...p: Tensor[]) => model.mlmLoss(e as Tensor2D, positions, y as Tensor2D, p))(model.params);
    return autodiffDistance(dummy, shared, o.distance, o.l1Weight);
  };
  // labels over a support: softmax over the support's logits, placed at its ids by a constant 0/1 matrix [k, vocab]
  const place = o.labelSupport ? tf.tidy(() => tf.oneHot(tf.tensor1d([...(o.labelSupport as number[])], 'int32'), vocabSize).toFloat() as Tensor2D) : undefined;
  const fJoint = (e: Tensor, y: Tensor) => f(e, place ? (tf.matMul(softmax(y as Tensor2D), place) as Tensor2D) : softmax(y as Tensor2D));
  const vgJoint = tf.valueAndGrads(fJoint);
  const vgFixed = tf.valueAndGrads((e: Tensor) => f(e, tf.tensor2d(target as Float32Array, [m, vocabSize])));
  const objective = (x: Float64Array, grad?: Float64Array) => {
    if (x.length !== size) throw new Error(`text objective: x has ${x.length} entries, expected ${size}`);
    return tf.tidy(() => {
      const e = tf.tensor2d(Float32Array.from(x.subarray(0, embSize)), [seq, hidden]);
      if (o.label === 'fixed') {
        if (grad === undefined) return f(e, tf.tensor2d(target as Float32Array, [m, vocabSize])).dataSync()[0];
        const { value, grads } = vgFixed([e]);
        grad.set(grads[0].dataSync());
        return value.dataSync()[0];
      }
      const y = tf.tensor2d(Float32Array.from(x.subarray(embSize)), [m, k]);
      if (grad === undefined) return fJoint(e, y).dataSync()[0];
      const { value, grads } = vgJoint([e, y]);
      grad.set(grads[0].dataSync());
      grad.set(grads[1].dataSync(), embSize);
      return value.dataSync()[0];
    });
  };
  return Object.assign(objective, { size, setTarget, dispose: () => place?.dispose() });
}

/** The distances of TextDistance on tensors (twice differentiable). */
function autodiffDistance(dummy: Tensor[], shared: Tensor[], distance: TextDistance, l1Weight: number): Tensor {
  if (distance === 'l2') return gradientDistance(dummy, shared);
  if (distance === 'cosine') {
    const dot = tf.addN(dummy.map((g, i) => tf.sum(tf.mul(g, shared[i]))));
    const gg = tf.addN(dummy.map((g) => tf.sum(tf.square(g))));
    const ss = tf.addN(shared.map((s) => tf.sum(tf.square(s))));
    return tf.sub(1, tf.div(dot, tf.sqrt(tf.mul(gg, ss))));
  }
  const l1 = tf.addN(dummy.map((g, i) => tf.sum(tf.abs(tf.sub(g, shared[i])))));
  return tf.add(gradientDistance(dummy, shared), tf.mul(l1, l1Weight));
}
