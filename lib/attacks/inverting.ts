/**
 * Inverting Gradients (Geiping, Bauermeister, Droege, Moeller, NeurIPS 2020, "Inverting Gradients -
 * How easy is it to break privacy in federated learning?"), in the same interface as dlg():
 *
 *   minimise over x'   1 - cos(g'(x'), g)  +  alpha * TV(x')      subject to x' in [0, 1]
 *
 * with g' = dL(F(x'), y)/dW the dummy's parameter gradient, the cosine taken over all parameters at
 * once (one long vector, optionally weighted per parameter tensor), TV the anisotropic total
 * variation (mean absolute difference of neighbouring pixels, vertically plus horizontally), Adam
 * with a step decay of the learning rate, and the box constraint applied by clamping after every
 * step. The cosine ignores the gradient's magnitude, so only its direction must match: that is
 * what lets it work where DLG's squared distance is dominated by a few large entries (trained
 * models, ReLU). The label comes from iDLG for a single image (lib/attacks/labels.ts), as in the
 * authors' code (inversefed, `_infer_label` with the last layer's weight gradient), or is given,
 * or, for a batch without labels, is optimised jointly as DLG does (softmax of free logits).
 *
 * Settings follow the authors' code (github.com/JonasGeiping/invertinggradients,
 * inversefed/reconstruction_algorithms.py DEFAULT_CONFIG); see PAPER_INVERTING. One deliberate
 * difference: inversefed works in normalised image space (x - mean) / std and clamps to the
 * normalised box; this toolkit's images are unnormalised in [0, 1], so the box is [0, 1] and TV is
 * measured in [0, 1] units (about 1/std ~ 4-5x smaller than inversefed's for the same image).
 *
 * The attacker never sees the ground truth: the function takes the model and the shared gradient.
 */
import { tf } from '../engine';
import { createRng } from '../rng';
import { createAdam } from './optim/adam';
import { parameterGradients, checkShared } from '../models/gradients';
import { flatObjective } from './objective';
import { softmax, oneHot, argmaxRows } from '../models/nn';
import type { Model } from '../models/model';
import { idlgLabel } from './labels';
import type { DlgResult, DlgSnapshot, DlgStatus } from './dlg';
import { fusedObjective } from '../engine/fused';
import { ENGINES } from '../config';
import type { DlgEngine } from '../config';
import type { Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs';

export interface InvertingConfig {
  /** Adam steps per restart. inversefed: max_iterations 4800 (CIFAR), 24000 (ImageNet). */
  iterations: number;
  /** Adam learning rate. inversefed: lr 0.1. */
  lr: number;
  /**
   * Step decay: lr x 0.1 after 3/8, 5/8 and 7/8 of the iterations (inversefed: lr_decay True,
   * MultiStepLR with milestones max_iterations / 2.667, / 1.6, / 1.142, gamma 0.1).
   */
  lrDecay: boolean;
  /** Weight alpha of the total-variation prior. inversefed: total_variation 1e-1 (in normalised units). */
  tv: number;
  /**
   * Step with the sign of the image gradient (signed Adam, inversefed's `signed`: its DEFAULT_CONFIG
   * has False, the README's example and most published configs True).
   */
  signed: boolean;
  /** Clamp the image to [0, 1] after every step (inversefed: boxed True). */
  boxed: boolean;
  /** Per-parameter-tensor weights of the cosine: 'equal' (inversefed's weights='equal') or one number per tensor. */
  weights: 'equal' | number[];
  /** Independent restarts; the one with the lowest final objective is returned (inversefed: restarts 1, scoring_choice 'loss'). */
  restarts: number;
  /** Dummy image init: N(0, 1) (inversefed: init 'randn') or U(0, 1). */
  init: 'normal' | 'uniform';
  /** Seed of the dummy initialisation (all restarts draw from one stream). */
  seed: number;
  /** Keep a snapshot of the dummy every k steps. */
  snapshotEvery: number;
  /**
   * How the objective and its gradient are computed (as DLG's DlgEngine): 'auto' (default) the fused
   * objective (lib/engine/fused.ts with distance 'cosine', the TV prior in flat loops) where the model
   * has a conv-stack structure (LeNet), else tfjs autodiff; 'tfjs' always autodiff; 'fused' the fused
   * one or a clear error. The two agree to float32 rounding (test/inverting.test.ts).
   */
  engine: DlgEngine;
}

/** The authors' code's defaults (inversefed DEFAULT_CONFIG), in this toolkit's [0, 1] image space. */
export const PAPER_INVERTING: InvertingConfig = {
  iterations: 4800,
  lr: 0.1,
  lrDecay: true,
  tv: 1e-1,
  signed: false,
  boxed: true,
  weights: 'equal',
  restarts: 1,
  init: 'normal',
  seed: 1234,
  snapshotEvery: 10,
  engine: 'auto',
};

/**
 * This toolkit's default for the small LeNets it attacks: inversefed's DEFAULT_CONFIG with a smaller
 * TV weight (the recovery threshold MSE < 1e-3 is tight and TV biases the fixed point; our TV is in
 * [0, 1] units) and fewer steps (one Adam step is one evaluation; 1000 steps cost about as much as
 * 50 L-BFGS steps of DLG). Unsigned steps: on the astronaut photo (LeNet-sigmoid 32x32, 2000 steps)
 * signed Adam ended at MSE 0.068, unsigned at 0.033.
 */
export const DEFAULT_INVERTING: InvertingConfig = {
  ...PAPER_INVERTING,
  iterations: 1000,
  tv: 1e-4,
};

export interface InvertingOptions extends Partial<InvertingConfig> {
  /** Number of samples behind the shared gradient. Default 1. */
  batchSize?: number;
  /** Known labels (one per sample); default: iDLG for one sample, joint optimisation for a batch. */
  labels?: number[];
  /** Called after every Adam step with the objective before the step. */
  onStep?: (iteration: number, objective: number) => void;
}

/** Result: DLG's shape (`distance`/`losses` hold the Inverting Gradients objective), plus each restart's final objective. */
export interface InvertingResult extends DlgResult {
  restartObjectives: number[];
}

/** Merge a partial config over a base, validating every field with a clear message. */
export function invertingConfig(overrides: Partial<InvertingConfig> = {}, base: InvertingConfig = DEFAULT_INVERTING): InvertingConfig {
  const known = new Set(Object.keys(base));
  for (const key of Object.keys(overrides)) {
    if (!known.has(key)) throw new Error(`unknown Inverting Gradients option '${key}' (known: ${[...known].join(', ')})`);
  }
  const c: InvertingConfig = { ...base, ...overrides };
  const positiveInt = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) throw new Error(`Inverting Gradients option ${name} must be a positive integer, got ${v}`);
  };
  positiveInt('iterations', c.iterations);
  positiveInt('restarts', c.restarts);
  positiveInt('snapshotEvery', c.snapshotEvery);
  if (!(c.lr > 0) || !Number.isFinite(c.lr)) throw new Error(`Inverting Gradients option lr must be a positive number, got ${c.lr}`);
  if (!(c.tv >= 0) || !Number.isFinite(c.tv)) throw new Error(`Inverting Gradients option tv must be a number >= 0, got ${c.tv}`);
  if (!Number.isInteger(c.seed)) throw new Error(`Inverting Gradients option seed must be an integer, got ${c.seed}`);
  if (!ENGINES.includes(c.engine)) throw new Error(`Inverting Gradients option engine must be one of ${ENGINES.join(', ')}, got '${c.engine}'`);
  if (c.init !== 'normal' && c.init !== 'uniform') throw new Error(`Inverting Gradients option init must be 'normal' or 'uniform', got '${c.init}'`);
  for (const b of ['lrDecay', 'signed', 'boxed'] as const) {
    if (typeof c[b] !== 'boolean') throw new Error(`Inverting Gradients option ${b} must be true or false, got ${c[b]}`);
  }
  if (c.weights !== 'equal' && !(Array.isArray(c.weights) && c.weights.every((w) => w >= 0 && Number.isFinite(w)))) {
    throw new Error(`Inverting Gradients option weights must be 'equal' or an array of numbers >= 0, got ${JSON.stringify(c.weights)}`);
  }
  return c;
}

/** The learning rate of step t (0-based) under the 3/8, 5/8, 7/8 step decay. */
export function scheduledLr(config: Pick<InvertingConfig, 'lr' | 'lrDecay' | 'iterations'>, t: number): number {
  if (!config.lrDecay) return config.lr;
  const n = config.iterations;
  const milestones = [Math.floor(n / 2.667), Math.floor(n / 1.6), Math.floor(n / 1.142)];
  return config.lr * 0.1 ** milestones.filter((m) => t >= m).length;
}

/**
 * 1 - cos(dummy, shared) over all parameter tensors as one vector, each tensor's products scaled
 * by its weight: 1 - sum w_i <d_i, s_i> / sqrt(sum w_i |d_i|^2 * sum w_i |s_i|^2). Differentiable in `dummy`.
 * No tf.tidy inside (it runs under the caller's tidy and gradient tape).
 */
export function cosineDistance(dummy: Tensor[], shared: Tensor[], weights?: number[]): Tensor {
  if (dummy.length !== shared.length) throw new Error(`gradient lists differ in length: ${dummy.length} vs ${shared.length}`);
  if (weights !== undefined && weights.length !== dummy.length) throw new Error(`${weights.length} weights for ${dummy.length} gradient tensors`);
  {
    const w = (i: number, t: Tensor) => (weights === undefined ? t : tf.mul(t, weights[i]));
    const dots = dummy.map((d, i) => w(i, tf.sum(tf.mul(d, shared[i]))));
    const dn = dummy.map((d, i) => w(i, tf.sum(tf.square(d))));
    const sn = shared.map((s, i) => w(i, tf.sum(tf.square(s))));
    const sum = (ts: Tensor[]) => (ts.length === 1 ? ts[0] : tf.addN(ts));
    return tf.sub(1, tf.div(sum(dots), tf.sqrt(tf.mul(sum(dn), sum(sn)))));
  }
}

/** Anisotropic total variation of an NHWC batch: mean |x[i+1,j] - x[i,j]| + mean |x[i,j+1] - x[i,j]| (inversefed's). */
export function totalVariation(x: Tensor4D): Tensor {
  {
    const [n, h, w, c] = x.shape;
    const parts: Tensor[] = [];
    if (h > 1) parts.push(tf.mean(tf.abs(tf.sub(tf.slice(x, [0, 1, 0, 0], [n, h - 1, w, c]), tf.slice(x, [0, 0, 0, 0], [n, h - 1, w, c])))));
    if (w > 1) parts.push(tf.mean(tf.abs(tf.sub(tf.slice(x, [0, 0, 1, 0], [n, h, w - 1, c]), tf.slice(x, [0, 0, 0, 0], [n, h, w - 1, c])))));
    return parts.length === 0 ? tf.scalar(0) : parts.length === 1 ? parts[0] : tf.add(parts[0], parts[1]);
  }
}

/**
 * The objective as a function of the dummy image (and, without fixed labels, the dummy label logits):
 * 1 - cos(g'(x', y'), g) + tv * TV(x'). Exposed for finite-difference tests.
 */
/**
 * alpha TV(x) of the image part of a flat x ([n, h, w, c] NHWC, as totalVariation), with alpha times its
 * gradient added into grad; returns alpha TV(x). The fused path's prior: the same formula in float64,
 * with d|u|/du = sign(u), 0 at u = 0 (torch's convention; tfjs's abs takes -1 there).
 */
export function addTotalVariation(x: Float64Array, shape: [number, number, number, number], alpha: number, grad: Float64Array): number {
  const [n, h, w, c] = shape;
  let tv = 0;
  const part = (count: number, step: number, rows: number, inner: number) => {
    // pairs (i, i + step) for i over `rows` blocks of `inner` entries each, block strides h*w*c / (w*c)
    let sum = 0;
    const scale = alpha / count;
    for (let r = 0; r < rows; r++) {
      const o = r * (inner + step);
      for (let i = o; i < o + inner; i++) {
        const u = x[i + step] - x[i];
        sum += Math.abs(u);
        const s = u > 0 ? scale : u < 0 ? -scale : 0;
        grad[i + step] += s;
        grad[i] -= s;
      }
    }
    tv += sum / count;
  };
  // vertical: for each image, rows 0..h-2 against 1..h-1 (one block of (h-1) w c entries per image)
  if (h > 1) part(n * (h - 1) * w * c, w * c, n, (h - 1) * w * c);
  // horizontal: for each image row, columns 0..w-2 against 1..w-1 (one block of (w-1) c entries per row)
  if (w > 1) part(n * h * (w - 1) * c, c, n * h, (w - 1) * c);
  return alpha * tv;
}

export function invertingObjective(
  model: Model,
  shared: Tensor[],
  options: { tv: number; weights?: number[]; target?: Tensor2D },
): (x: Tensor4D, labelLogits?: Tensor2D) => Tensor {
  return (x, labelLogits) => {
    const target = options.target ?? (labelLogits !== undefined ? softmax(labelLogits) : undefined);
    if (target === undefined) throw new Error('invertingObjective: give a fixed target or the dummy label logits');
    const cos = cosineDistance(parameterGradients(model, x, target), shared, options.weights);
    return options.tv > 0 ? tf.add(cos, tf.mul(totalVariation(x), options.tv)) : cos;
  };
}

/**
 * Run Inverting Gradients against `shared`, the gradient of `model`'s loss on private data.
 * The model's parameters are read, never changed; `shared` is not disposed.
 */
export function invertingGradients(model: Model, shared: Tensor[], options: InvertingOptions = {}): InvertingResult {
  const { batchSize = 1, labels: givenLabels, onStep, ...overrides } = options;
  const config = invertingConfig(overrides);
  checkShared(model, shared);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  if (givenLabels !== undefined && givenLabels.length !== batchSize) throw new Error(`${givenLabels.length} labels given for batchSize ${batchSize}`);
  if (Array.isArray(config.weights) && config.weights.length !== model.params.length) {
    throw new Error(`Inverting Gradients option weights has ${config.weights.length} entries; ${model.name} has ${model.params.length} parameter tensors`);
  }
  const [h, w, c] = model.inputShape;
  const k = model.numClasses;
  const imageSize = batchSize * h * w * c;
  const shape: [number, number, number, number] = [batchSize, h, w, c];
  const weights = config.weights === 'equal' ? undefined : config.weights;

  const fixedLabels = givenLabels ?? (batchSize === 1 ? [idlgLabel(model, shared)] : undefined);
  const joint = fixedLabels === undefined;
  const target = joint ? undefined : oneHot(fixedLabels, k);
  let evals = 0;
  const grad = new Float64Array(imageSize + (joint ? batchSize * k : 0));
  const fused = config.engine === 'tfjs' ? null
    : fusedObjective(model, shared, { batchSize, label: joint ? 'joint' : 'fixed', target: target?.dataSync(), distance: 'cosine', weights });
  if (config.engine === 'fused' && fused === null) {
    throw new Error(`Inverting Gradients engine 'fused': ${model.name} has no conv-stack structure (ConvStackStructure, lib/models/model.ts); use engine 'tfjs' or 'auto'`);
  }
  const evaluate = fused !== null
    ? (x: Float64Array) => fused.evaluate(x, grad) + (config.tv > 0 ? addTotalVariation(x, shape, config.tv, grad) : 0)
    : flatObjective(invertingObjective(model, shared, { tv: config.tv, weights, target }), shape, joint ? k : 0, grad);
  const closure = (x: Float64Array): number => {
    evals++;
    return evaluate(x);
  };

  const rng = createRng(config.seed);
  const start = Date.now();
  let best: Trial | undefined;
  const restartObjectives: number[] = [];
  try {
    for (let r = 0; r < config.restarts; r++) {
      const x0 = new Float64Array(grad.length);
      for (let i = 0; i < imageSize; i++) x0[i] = config.init === 'normal' ? rng.normal() : rng.next();
      for (let i = imageSize; i < x0.length; i++) x0[i] = rng.normal();
      const trial = runTrial(x0);
      restartObjectives.push(trial.losses[trial.losses.length - 1]);
      const score = (t: Trial) => (Number.isFinite(t.losses[t.losses.length - 1]) ? t.losses[t.losses.length - 1] : Infinity);
      if (best === undefined || score(trial) < score(best)) best = trial;
    }
  } finally {
    if (target) target.dispose();
  }
  const b = best!;
  const data = Float32Array.from(b.x.subarray(0, imageSize));
  return {
    data,
    shape,
    labels: joint ? argmaxRows(b.x.subarray(imageSize), batchSize, k) : fixedLabels!,
    status: b.status,
    iterations: b.iterations,
    evals,
    seconds: (Date.now() - start) / 1000,
    distance: b.losses[b.losses.length - 1],
    losses: b.losses,
    snapshots: b.snapshots,
    restartObjectives,
  };

  interface Trial { x: Float64Array; losses: number[]; snapshots: DlgSnapshot[]; status: DlgStatus; iterations: number }
  function runTrial(x0: Float64Array): Trial {
    const opt = createAdam(x0, { lr: config.lr });
    const x = opt.x;
    if (config.boxed) clampImage(x);
    const losses: number[] = [];
    const snapshots: DlgSnapshot[] = [{ iteration: 0, distance: NaN, data: Float32Array.from(x.subarray(0, imageSize)) }];
    const lastFinite = Float64Array.from(x);
    let status: DlgStatus = 'completed';
    let t = 0;
    for (; t < config.iterations; t++) {
      const loss = closure(x);
      losses.push(loss);
      if (!Number.isFinite(loss) || !grad.every(Number.isFinite)) {
        status = 'diverged';
        break;
      }
      lastFinite.set(x);
      if (config.signed) for (let i = 0; i < imageSize; i++) grad[i] = Math.sign(grad[i]);
      opt.step(grad, scheduledLr(config, t));
      if (config.boxed) clampImage(x);
      onStep?.(t + 1, loss);
      if ((t + 1) % config.snapshotEvery === 0) snapshots.push({ iteration: t + 1, distance: NaN, data: Float32Array.from(x.subarray(0, imageSize)) });
    }
    let steps = t;
    if (status === 'diverged') {
      // roll back to the last state with a finite objective: the one before the last update
      // (or the start, if the very first evaluation was not finite)
      x.set(lastFinite);
      steps = Math.max(0, t - 1);
      losses.length = steps + 1;
      if (t === 0) losses[0] = NaN;
      while (snapshots.length > 1 && snapshots[snapshots.length - 1].iteration > steps) snapshots.pop();
    } else {
      losses.push(closure(x));
    }
    if (snapshots[snapshots.length - 1].iteration !== steps) snapshots.push({ iteration: steps, distance: NaN, data: Float32Array.from(x.subarray(0, imageSize)) });
    for (const s of snapshots) s.distance = losses[Math.min(s.iteration, losses.length - 1)];
    return { x, losses, snapshots, status, iterations: steps };
  }

  function clampImage(x: Float64Array): void {
    for (let i = 0; i < imageSize; i++) x[i] = x[i] < 0 ? 0 : x[i] > 1 ? 1 : x[i];
  }
}

/** The shared gradient must match the model's parameters one to one. */

