/**
 * Deep Leakage from Gradients (Zhu, Liu, Han, NeurIPS 2019), Algorithm 1.
 *
 * The attacker knows the model and a shared gradient g. It draws dummy data x' (and dummy label
 * logits y'), and minimises the gradient distance
 *     D(x', y') = sum over parameter tensors || dL(F(x'), softmax(y'))/dW - g ||^2
 * over x' and y' with L-BFGS. D's gradient is a second derivative of the loss (see twice.ts).
 *
 * The attacker never sees the ground truth: `dlg()` takes only the model and the gradient.
 * Metrics (MSE, PSNR, SSIM against the truth) are computed from the result by the caller.
 */
import { tf } from '../engine';
import { createRng } from '../rng';
import { createLbfgs } from './optim/lbfgs';
import { dlgConfig } from '../config';
import type { DlgConfig, PresetName } from '../config';
import { parameterGradients, checkShared } from '../models/gradients';
import { gradientDistance, flatObjective } from './objective';
import { softmax, oneHot, argmaxRows } from '../models/nn';
import type { Model } from '../models/model';
import { recoverLabels } from './labels';
import { createRoundRobin } from './optim/round-robin';
import type { Stepper } from './optim/round-robin';
import { fusedObjective } from '../engine/fused';
import type { Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs';

/**
 * When L-BFGS stops moving, the attack counts as converged if the gradient distance is below this
 * fraction of ||g||^2 (float32 leaves a floor around 1e-7 relative), else as stalled in a local minimum.
 */
export const CONVERGED_RELATIVE = 1e-4;

/** Why the attack stopped. */
export type DlgStatus =
  | 'completed' // ran all iterations
  | 'converged' // distance below stopDistance, or L-BFGS stopped moving at distance < CONVERGED_RELATIVE * ||g||^2
  | 'stalled' // L-BFGS stopped moving while the distance is still large (a local minimum)
  | 'diverged' // the distance became NaN or infinite; the last finite dummy is returned
  | 'stopped'; // the caller's stopAt hook ended the run (an experiment's rule, e.g. every image recovered)

export interface DlgSnapshot {
  iteration: number;
  /** Gradient distance at this snapshot. */
  distance: number;
  /** Dummy data, NHWC flat, as plain numbers. */
  data: Float32Array;
}

export interface DlgResult {
  /** Reconstructed inputs, NHWC flat, shape [batch, h, w, c] in `shape`. */
  data: Float32Array;
  shape: [number, number, number, number];
  /** Recovered labels (argmax of the dummy labels, or read off the gradient: iDLG / 'distinct' / 'count'). */
  labels: number[];
  status: DlgStatus;
  /** Outer L-BFGS steps taken (batchUpdate 'round-robin': each step updates one sample, cycling). */
  iterations: number;
  /** Gradient-distance evaluations (forward + gradient + second-order backward each). */
  evals: number;
  seconds: number;
  /** Final gradient distance. */
  distance: number;
  /** Gradient distance after every outer step (index 0: before the first step). */
  losses: number[];
  /** Every `snapshotEvery` steps, and the initial and final states. */
  snapshots: DlgSnapshot[];
}

export interface DlgOptions extends Partial<Omit<DlgConfig, 'lbfgs'>> {
  /** The preset the other options override (lib/config.ts PRESETS): 'default', 'paper' or 'batch'. Default 'default'. */
  preset?: PresetName;
  /** L-BFGS options over the preset's, key by key. */
  lbfgs?: Partial<DlgConfig['lbfgs']>;
  /** Number of samples behind the shared gradient (1 in the paper's single-image figures). */
  batchSize?: number;
  /** Called after each outer step (progress bars, notebooks) with the objective evaluations so far. */
  onStep?: (iteration: number, distance: number, evals: number) => void;
  /**
   * The dummy's starting point instead of the seeded draw: x0 = [dummy images NHWC flat, then the
   * dummy label logits (joint label only), batchSize x numClasses]. E.g. the start the PyTorch
   * reference drew (lib/reference/start-state.ts), to run the same trajectory. Copied, not changed.
   */
  start?: ArrayLike<number>;
  /**
   * Experiment hook, checked at every snapshot: true ends the run (status 'stopped'). Not part of the
   * attack: a harness that sees the truth may stop once it has measured what it needs.
   */
  stopAt?: (snapshot: DlgSnapshot) => boolean;
}

/**
 * Run DLG against `shared`, the gradient of `model`'s loss on private data.
 * The model's parameters are read, never changed; `shared` is not disposed.
 */
export function dlg(model: Model, shared: Tensor[], options: DlgOptions = {}): DlgResult {
  const { batchSize = 1, onStep, stopAt, start: startPoint, preset = 'default', ...overrides } = options;
  const config = dlgConfig(overrides, preset);
  checkShared(model, shared);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  const [h, w, c] = model.inputShape;
  const k = model.numClasses;
  const imageSize = batchSize * h * w * c;
  const shape: [number, number, number, number] = [batchSize, h, w, c];

  const rng = createRng(config.seed);
  const jointLabel = config.label === 'joint';
  // fixed labels (iDLG, or a batch rule of labels.ts) are read off the gradient before the attack
  const fixedLabels = jointLabel ? [] : recoverLabels(config.label as 'idlg' | 'distinct' | 'count', model, shared, batchSize);
  const fixedTarget = jointLabel ? null : oneHot(fixedLabels, k);

  const x0 = new Float64Array(imageSize + (jointLabel ? batchSize * k : 0));
  if (startPoint !== undefined) {
    if (startPoint.length !== x0.length) {
      throw new Error(`start has ${startPoint.length} values, expected ${x0.length} (${batchSize} x ${h}x${w}x${c} dummy images${jointLabel ? ` + ${batchSize} x ${k} label logits` : ''})`);
    }
    x0.set(startPoint);
    if (!x0.every(Number.isFinite)) throw new Error('start has non-finite values');
  } else {
    for (let i = 0; i < imageSize; i++) x0[i] = config.init === 'normal' ? rng.normal() : rng.next();
    for (let i = imageSize; i < x0.length; i++) x0[i] = rng.normal();
  }

  const objective = (xd: Tensor4D, yd?: Tensor2D) => {
    const target = yd === undefined ? (fixedTarget as Tensor2D) : softmax(yd);
    return gradientDistance(parameterGradients(model, xd, target), shared);
  };

  let evals = 0;
  const grad = new Float64Array(x0.length);
  // engine 'fused' / 'auto': the whole objective in one flat-array pass (lib/engine/fused.ts), same numbers
  const fused = config.engine === 'tfjs' ? null
    : fusedObjective(model, shared, { batchSize, label: jointLabel ? 'joint' : 'fixed', target: fixedTarget?.dataSync(), threads: config.threads });
  if (config.engine === 'fused' && fused === null) {
    throw new Error(`engine 'fused': ${model.name} has no conv-stack structure (ConvStackStructure, lib/models/model.ts); use engine 'tfjs' or 'auto'`);
  }
  const evaluate = fused !== null ? (x: Float64Array) => fused.evaluate(x, grad) : flatObjective(objective, shape, jointLabel ? k : 0, grad);
  const closure = (x: Float64Array) => {
    evals++;
    return { loss: evaluate(x), grad };
  };

  const sharedNorm2 = tf.tidy(() => tf.addN(shared.map((g) => tf.sum(tf.square(g)))).dataSync()[0]);
  const start = Date.now();
  const roundRobin = config.batchUpdate === 'round-robin' && batchSize > 1;
  const opt: Stepper = roundRobin ? createRoundRobin(x0, sampleBlocks(batchSize, imageSize / batchSize, jointLabel ? k : 0), config.lbfgs)
    : createLbfgs(x0, config.lbfgs);
  // round-robin: a sample that does not move is normal; stalled means a whole sweep did not move `patience` times
  const patience = config.patience * (roundRobin ? batchSize : 1);
  // losses[i]: distance after i steps. torch's step() returns the loss at the state it started
  // from, so step i+1 tells us losses[i] without an extra evaluation.
  const losses: number[] = [];
  const snapshots: DlgSnapshot[] = [{ iteration: 0, distance: NaN, data: Float32Array.from(opt.x.subarray(0, imageSize)) }];
  let lastFinite = Float64Array.from(opt.x);
  let status: DlgStatus = 'completed';
  let still = 0;
  let iteration = 0;
  while (iteration < config.iterations && status === 'completed') {
    losses.push(opt.step(closure)); // = losses[iteration]
    if (iteration > 0) onStep?.(iteration, losses[iteration], evals);
    if (!Number.isFinite(losses[iteration]) || !opt.x.every(Number.isFinite)) {
      status = 'diverged';
      break;
    }
    if (losses[iteration] < config.stopDistance) status = 'converged';
    iteration++;
    still = sameVector(lastFinite, opt.x) ? still + 1 : 0;
    lastFinite = Float64Array.from(opt.x);
    if (iteration % config.snapshotEvery === 0) {
      snapshots.push({ iteration, distance: NaN, data: Float32Array.from(opt.x.subarray(0, imageSize)) });
      if (status === 'completed' && stopAt?.(snapshots[snapshots.length - 1])) status = 'stopped';
    }
    if (still >= patience) status = losses[iteration - 1] < CONVERGED_RELATIVE * sharedNorm2 ? 'converged' : 'stalled';
  }
  if (status === 'diverged') {
    // roll back to the last finite state, whose distance is the last finite loss we saw
    opt.x.set(lastFinite);
    losses.length = iteration;
    losses.push(iteration > 0 ? losses[iteration - 1] : NaN);
  } else {
    losses.push(closure(opt.x).loss); // = losses[iteration]
    onStep?.(iteration, losses[iteration], evals);
  }
  const finalDistance = losses[iteration];
  const data = Float32Array.from(opt.x.subarray(0, imageSize));
  if (snapshots[snapshots.length - 1].iteration !== iteration) snapshots.push({ iteration, distance: NaN, data });
  for (const s of snapshots) s.distance = losses[Math.min(s.iteration, losses.length - 1)];
  const labels = jointLabel ? argmaxRows(opt.x.subarray(imageSize), batchSize, k) : fixedLabels;
  if (fixedTarget) fixedTarget.dispose();
  return {
    data,
    shape,
    labels,
    status,
    iterations: iteration,
    evals,
    seconds: (Date.now() - start) / 1000,
    distance: finalDistance,
    losses,
    snapshots,
  };
}

/** The shared gradient must match the model's parameters one to one. */

/** Round-robin blocks: sample i's image values, then its label logits (x = [images NHWC, labels]). */
function sampleBlocks(batchSize: number, perImage: number, perLabel: number): Int32Array[] {
  const imageSize = batchSize * perImage;
  return Array.from({ length: batchSize }, (_, i) => {
    const b = new Int32Array(perImage + perLabel);
    for (let j = 0; j < perImage; j++) b[j] = i * perImage + j;
    for (let j = 0; j < perLabel; j++) b[perImage + j] = imageSize + i * perLabel + j;
    return b;
  });
}

function sameVector(a: Float64Array, b: Float64Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

