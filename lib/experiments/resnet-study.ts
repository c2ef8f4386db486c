/**
 * The job lists of the ResNet study (lib/experiments/resnet.ts runs each job; test/bench/resnet.ts
 * runs the lists and records the results; a notebook can run them with parallel.ts):
 *
 *  - costJobs:      seconds per DLG objective evaluation of LeNet and ResNet-20/32/56 (strides removed
 *                   and kept) at one size (32x32: the paper's CIFAR setting);
 *  - dlgJobs:       DLG on photos against LeNet and the paper's ResNet-20 (sigmoid, strides removed,
 *                   BatchNorm, PyTorch init) side by side (BatchNorm runs stop once the image is found
 *                   up to its scale, the others once it is found), then the variants on the first photo:
 *                   strides kept, the released code's U(-0.5, 0.5) init, no BatchNorm, torch's L-BFGS
 *                   tolerances, the released code's L-BFGS (no line search: evaluations per iteration);
 *  - invertingJobs: Inverting Gradients on the same photos, LeNet and ResNet-20;
 *  - normsJobs:     the squared norm of every parameter tensor's shared gradient, per model variant.
 */
import * as path from 'path';
import type { CostJob, AttackJob, NormsJob, ExtraModelOptions } from './resnet';

export interface StudyOptions {
  /** Photo files (default: datasets/natural/*.png of this repository). */
  images?: string[];
  /** Their labels (default 7, 3, 11, 42, 64, ...: any class; the attack does not know it). */
  labels?: number[];
  /** Image side for the attacks (default 16) and for the cost jobs (default 32). */
  size?: number;
  /** Seed of the models and dummies (default 1). */
  seed?: number;
  /** DLG: L-BFGS steps (default 300, the released code's). */
  iterations?: number;
  /** DLG variants on the first photo: L-BFGS steps (default 50; the released code's settings: 10, enough to count evaluations per step). */
  variantIterations?: number;
  /** Inverting Gradients: Adam steps (default 1000, DEFAULT_INVERTING's). */
  invertingIterations?: number;
}

/** datasets/natural of the repository (this file is compiled to dist/lib/experiments). */
export const NATURAL_PHOTOS: readonly string[] = ['astronaut', 'chelsea', 'coffee', 'hubble', 'rocket'].map((n) => path.join(__dirname, '../../../datasets/natural', `${n}.png`));
const LABELS = [7, 3, 11, 42, 64, 25, 90, 51];

/** The cost jobs: LeNet, then ResNet-20 / 32 / 56 with strides removed and kept. */
export function costJobs(options: { size?: number; seed?: number; evals?: number; repeats?: number } = {}): CostJob[] {
  const size = options.size ?? 32;
  const seed = options.seed ?? 1;
  const evals = options.evals ?? 2;
  const repeats = options.repeats ?? 3;
  const jobs: CostJob[] = [{ kind: 'cost', model: 'lenet', size, seed, evals, repeats }];
  for (const model of ['resnet20', 'resnet32', 'resnet56']) {
    for (const strides of ['removed', 'kept'] as const) jobs.push({ kind: 'cost', model, modelOptions: { strides }, size, seed, evals, repeats });
  }
  return jobs;
}

function photos(options: StudyOptions): { image: string; label: number }[] {
  const images = options.images ?? [...NATURAL_PHOTOS];
  const labels = options.labels ?? LABELS.slice(0, images.length);
  if (labels.length !== images.length) throw new Error(`${images.length} images but ${labels.length} labels`);
  return images.map((image, i) => ({ image, label: labels[i] }));
}

/** The DLG jobs (see the module comment). LeNet runs on tfjs autodiff too, for comparable seconds. */
export function dlgJobs(options: StudyOptions = {}): AttackJob[] {
  const size = options.size ?? 16;
  const seed = options.seed ?? 1;
  const iterations = options.iterations ?? 300;
  const all = photos(options);
  const job = (model: string, p: { image: string; label: number }, extra: Partial<AttackJob> = {}, modelOptions?: ExtraModelOptions): AttackJob =>
    ({ kind: 'dlg', model, modelOptions, size, seed, iterations, engine: 'tfjs', ...p, ...extra });
  // BatchNorm ResNets: the image can only be found up to its scale, so the run stops there
  const upToScale: Partial<AttackJob> = { stopWhen: 'recovered-up-to-scale' };
  const jobs: AttackJob[] = [];
  for (const p of all) jobs.push(job('lenet', p), job('resnet20', p, upToScale));
  const first = all[0];
  const v = options.variantIterations ?? 50;
  jobs.push(
    job('resnet20', first, { ...upToScale, iterations: v }, { strides: 'kept' }),
    job('resnet20', first, { ...upToScale, iterations: v }, { init: 'dlg' }),
    job('resnet20', first, { iterations: v }, { batchNorm: false }),
    job('resnet20', first, { ...upToScale, iterations: v, lbfgs: { toleranceGrad: 1e-7, toleranceChange: 1e-9 } }),
    job('resnet20', first, { ...upToScale, lineSearch: 'none', iterations: Math.min(v, 10) }),
  );
  return jobs;
}

/**
 * The gradient-norm jobs (first photo): ResNet-20 with either init, BatchNorm on and off, ReLU and
 * tanh for contrast, ResNet-56 and LeNet: where the shared gradient vanishes, DLG has nothing to match.
 */
export function normsJobs(options: StudyOptions = {}): NormsJob[] {
  const size = options.size ?? 16;
  const seed = options.seed ?? 1;
  const p = photos(options)[0];
  const job = (model: string, modelOptions?: ExtraModelOptions): NormsJob => ({ kind: 'norms', model, modelOptions, size, seed, ...p });
  const jobs: NormsJob[] = [job('lenet')];
  for (const init of ['pytorch', 'dlg'] as const) {
    for (const batchNorm of [true, false]) jobs.push(job('resnet20', { init, batchNorm }));
  }
  jobs.push(job('resnet20', { activation: 'relu' }), job('resnet20', { activation: 'tanh' }), job('resnet20', { strides: 'kept' }), job('resnet56'));
  return jobs;
}

/** The Inverting Gradients jobs: LeNet and ResNet-20 on the first `count` photos (default 2). */
export function invertingJobs(options: StudyOptions & { count?: number } = {}): AttackJob[] {
  const size = options.size ?? 16;
  const seed = options.seed ?? 1;
  const iterations = options.invertingIterations ?? 1000;
  return photos(options).slice(0, options.count ?? 2).flatMap((p) => ['lenet', 'resnet20'].map((model): AttackJob => ({ kind: 'inverting', model, size, seed, iterations, ...p })));
}
