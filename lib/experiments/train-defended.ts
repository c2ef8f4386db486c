/**
 * The paper's defense table as jobs for parallel.ts (runParallel), on scikit-learn's 8x8 digits:
 *
 *   { kind: 'train', defense, seed, epochs }   train the paper's LeNet (sigmoid, U(-0.5, 0.5)
 *        weights, sized 8x8x1 -> 10) with SGD + momentum on the defended gradient of every minibatch
 *        -> { testAccuracy, trainSeconds, ... }: the accuracy the defense costs;
 *   { kind: 'attack', defense, seed, index }   DLG (the default preset) on the defended gradient of one
 *        held-out digit, shared by a freshly initialised model of the same family (the paper's
 *        setting) -> { mse, recovered (MSE < 1e-3), ... }: whether the defense stopped the attack.
 *
 * Plain data in, plain data out (worker threads pass structured clones). The data split is fixed
 * (SPLIT_SEED), so every job sees the same train and held-out digits whatever its seed.
 */
import { loadDataset } from '../data';
import { lenet } from '../models/lenet';
import { disposeModel } from '../models/model';
import { trainWithDefense, trainTestSplit } from '../cases/train';
import type { LabelledImages } from '../cases/train';
import { makeCase, disposeCase } from '../cases/case';
import { parseDefense } from '../defenses';
import { dlg } from '../attacks/dlg';
import type { DlgStatus } from '../attacks/dlg';
import { score, imageAt, clip01 } from '../analysis/score';

/** Seed of the fixed train / held-out split of the 1797 digits. */
export const SPLIT_SEED = 0;
/** Held-out digits (the rest, 1437, is the training set). */
export const TEST_COUNT = 360;
/** Training defaults, chosen on the undefended model: ~96% held-out accuracy in 20 epochs (~3 s). */
export const TRAIN_DEFAULTS = { epochs: 20, batchSize: 32, lr: 0.1, momentum: 0.9 };

export interface TrainJob {
  kind: 'train';
  /** Defense spec, e.g. 'gaussian:1e-3' (see lib/defenses). */
  defense: string;
  /** Seed of the model's initialisation, the shuffling and the defense's noise. */
  seed: number;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  momentum?: number;
  /** Use only the first `trainCount` training digits (default: all 1437). */
  trainCount?: number;
}

export interface AttackJob {
  kind: 'attack';
  defense: string;
  /** Seed of the model's initialisation, the defense's noise and the dummy. */
  seed: number;
  /** Which held-out digit (0 .. TEST_COUNT-1). */
  index: number;
  /** L-BFGS steps (default 300, as in the released code). */
  iterations?: number;
}

export type DefenseJob = TrainJob | AttackJob;

export interface TrainJobResult {
  kind: 'train';
  defense: string;
  seed: number;
  epochs: number;
  /** Held-out accuracy after the last epoch. */
  testAccuracy: number;
  trainAccuracy: number;
  /** Held-out accuracy after every epoch. */
  testCurve: number[];
  losses: number[];
  steps: number;
  /** Seconds of the updates (forward, gradient, defense, step), without the accuracy evaluations. */
  trainSeconds: number;
}

export interface AttackJobResult {
  kind: 'attack';
  defense: string;
  seed: number;
  index: number;
  label: number;
  mse: number;
  psnr: number;
  /** MSE < 1e-3 against the true digit (this toolkit's criterion throughout). */
  recovered: boolean;
  /**
   * A looser, visual criterion: the digit nearest to the (clipped) reconstruction, by MSE among all
   * 1797 digits, is the attacked digit itself, i.e. the reconstruction singles out the private sample.
   */
  identified: boolean;
  labelOk: boolean;
  status: DlgStatus;
  iterations: number;
  seconds: number;
  /** The reconstruction (NHWC flat 8x8x1, unclipped), to show beside the truth. */
  reconstruction: number[];
}

export type DefenseJobResult = TrainJobResult | AttackJobResult;

let cached: { train: LabelledImages; test: LabelledImages } | null = null;

/** The fixed split of the digits: 1437 training digits and 360 held out. */
export function digitsSplit(): { train: LabelledImages; test: LabelledImages } {
  if (!cached) cached = trainTestSplit(loadDataset('digits'), { seed: SPLIT_SEED, testCount: TEST_COUNT });
  return cached;
}

/** The model family of the table: the paper's LeNet, sized for 8x8x1 digits and 10 classes. */
export function digitsLenet(seed: number) {
  return lenet({ inputShape: [8, 8, 1], numClasses: 10, seed, activation: 'sigmoid' });
}

export function runTrain(job: TrainJob): TrainJobResult {
  const { train, test } = digitsSplit();
  const o = { ...TRAIN_DEFAULTS, ...definedOnly(job) };
  const data = job.trainCount ? { images: train.images.slice(0, job.trainCount), labels: train.labels.slice(0, job.trainCount) } : train;
  const defense = parseDefense(job.defense);
  const model = digitsLenet(job.seed);
  try {
    const r = trainWithDefense({
      model, ...data, test, defense, seed: job.seed,
      epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, momentum: o.momentum,
    });
    return {
      kind: 'train',
      defense: defense.spec,
      seed: job.seed,
      epochs: o.epochs,
      testAccuracy: r.accuracy[r.accuracy.length - 1] ?? NaN,
      trainAccuracy: r.trainAccuracy[r.trainAccuracy.length - 1] ?? NaN,
      testCurve: r.accuracy,
      losses: r.losses,
      steps: r.steps,
      trainSeconds: r.seconds,
    };
  } finally {
    disposeModel(model);
  }
}

export function runAttack(job: AttackJob): AttackJobResult {
  const { test } = digitsSplit();
  if (!Number.isInteger(job.index) || job.index < 0 || job.index >= test.images.length) {
    throw new Error(`attack: index must be an integer in 0..${test.images.length - 1}, got ${job.index}`);
  }
  const truth = test.images[job.index];
  const label = test.labels[job.index];
  const defense = parseDefense(job.defense);
  const c = makeCase({ images: [truth], labels: [label], seed: job.seed, model: digitsLenet(job.seed), defense });
  try {
    const r = dlg(c.model, c.shared, { iterations: job.iterations, seed: job.seed });
    const recon = imageAt(r.data, r.shape, 0);
    const s = score(recon, truth);
    return {
      kind: 'attack',
      defense: defense.spec,
      seed: job.seed,
      index: job.index,
      label,
      mse: s.mse,
      psnr: s.psnr,
      recovered: s.recovered,
      identified: nearestDigit(clip01(recon).data) === trainCountOfSplit() + job.index,
      labelOk: r.labels[0] === label,
      status: r.status,
      iterations: r.iterations,
      seconds: r.seconds,
      reconstruction: Array.from(r.data),
    };
  } finally {
    disposeCase(c);
  }
}

/** Number of training digits in the split (they come first in nearestDigit's numbering). */
function trainCountOfSplit(): number {
  return digitsSplit().train.images.length;
}

/**
 * Index of the digit nearest to `pixels` (8x8, by squared distance) among all digits of the split,
 * numbered training digits first, then held-out ones.
 */
export function nearestDigit(pixels: ArrayLike<number>): number {
  const { train, test } = digitsSplit();
  const all = [...train.images, ...test.images];
  let best = -1;
  let bestD = Infinity;
  all.forEach((img, k) => {
    let d = 0;
    for (let p = 0; p < img.data.length; p++) d += (img.data[p] - pixels[p]) ** 2;
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  });
  return best;
}

/** The worker entry point (parallel.ts). */
export function run(job: DefenseJob): DefenseJobResult {
  if (job.kind === 'train') return runTrain(job);
  if (job.kind === 'attack') return runAttack(job);
  throw new Error(`unknown job kind '${(job as { kind: unknown }).kind}' (known: train, attack)`);
}

function definedOnly(job: TrainJob): Partial<typeof TRAIN_DEFAULTS> {
  const out: Partial<typeof TRAIN_DEFAULTS> = {};
  for (const k of ['epochs', 'batchSize', 'lr', 'momentum'] as const) if (job[k] !== undefined) out[k] = job[k];
  return out;
}
