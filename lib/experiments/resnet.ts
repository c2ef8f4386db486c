/**
 * The paper's own model, ResNet, as jobs for parallel.ts (plain data in, plain data out):
 *
 *  - 'cost':      seconds per DLG objective evaluation (forward, parameter gradient, second-order
 *                 backward) of a model at a size, measured through dlg() itself with engine 'tfjs'
 *                 (autodiff through lib/attacks/objective.ts): a warm-up run, then `repeats` runs of
 *                 one L-BFGS step of `evals` fixed-length inner iterations (no line search: one
 *                 evaluation each); the minimum and the median over the runs (the machine may be shared);
 *  - 'dlg':       DLG (lib/attacks/dlg.ts) on a photo against a model of the registry (lib/models);
 *  - 'inverting': Inverting Gradients (lib/attacks/inverting.ts) on the same case;
 *  - 'norms':     the squared norm of the shared gradient of every parameter tensor (where the
 *                 gradient vanishes, the attack has nothing to match).
 *
 * The client's case is built by cases/case.ts with the named model (its BatchNorm in training mode,
 * batch statistics). The truth only scores the result, twice: the plain MSE (recovered: < 1e-3), and
 * the MSE after the least-squares scale of lib/analysis/scale.ts, because a BatchNorm ResNet's
 * gradient is blind to the input's scale. With `stopWhen` the harness (not the attacker) ends a
 * DLG run at the first snapshot with MSE (or scaled MSE) < 1e-3. Every number is deterministic from
 * the job except the seconds.
 *
 * DLG's L-BFGS runs with RESNET_TOLERANCES unless the job says otherwise: torch's absolute
 * tolerances (max |gradient| <= 1e-7, loss change < 1e-9) end the attack on a sigmoid ResNet after
 * a few steps, because the dummy image's gradient is tiny (the sigmoids after every residual sum
 * shrink it); with them the dummy stops moving long before the image is found.
 */
import { loadImage } from '../data/image';
import { makeCaseFor, disposeCase } from '../cases/case';
import type { Case } from '../cases/case';
import { dlg } from '../attacks/dlg';
import type { DlgResult, DlgStatus, DlgSnapshot } from '../attacks/dlg';
import { invertingGradients, DEFAULT_INVERTING } from '../attacks/inverting';
import { DEFAULT_DLG, PAPER_DLG, RECOVERED_MSE, BATCH_TOLERANCES } from '../config';
import type { DlgEngine } from '../config';
import type { LbfgsOptions } from '../attacks/optim/lbfgs';
import { score, imageAt, clip01, mseCurve } from '../analysis/score';
import { mse } from '../analysis/metrics';
import { scaledMse, scaledToTruth } from '../analysis/scale';
import { makeModel, isModelName, MODEL_NAMES } from '../models';
import type { ModelOptions } from '../models';
import { parameterCount } from '../models/model';
import type { Img } from '../data/image';

/** L-BFGS tolerances of this module's DLG runs (config.ts's BATCH_TOLERANCES: 1e-14 both), see the module comment. */
export const RESNET_TOLERANCES: Readonly<Pick<LbfgsOptions, 'toleranceGrad' | 'toleranceChange'>> = BATCH_TOLERANCES;

/** Model options beyond inputShape / numClasses / seed (activation, strides, batchNorm, shortcut, init). */
export type ExtraModelOptions = Omit<ModelOptions, 'inputShape' | 'numClasses' | 'seed'>;

interface JobBase {
  /** A name of lib/models MODELS: 'lenet', 'resnet20', 'resnet32', 'resnet56', 'resnet18-released'. */
  model: string;
  modelOptions?: ExtraModelOptions;
  /** Image side in pixels (square RGB inputs). */
  size: number;
  /** Classes of the model (default 100, the paper's CIFAR-100). */
  numClasses?: number;
  /** Seed of the model's initialisation and of the dummy. */
  seed: number;
}

export interface CostJob extends JobBase {
  kind: 'cost';
  /** Evaluations per timed run (default 2; dlg() adds its final evaluation). */
  evals?: number;
  /** Timed runs after the warm-up (default 3). */
  repeats?: number;
}

export interface AttackJob extends JobBase {
  kind: 'dlg' | 'inverting';
  /** The private image (any size; resized to size x size). */
  image: string;
  label: number;
  /** DLG: L-BFGS steps; Inverting Gradients: Adam steps. */
  iterations: number;
  /** DLG: 'strong_wolfe' (DEFAULT_DLG, default) or 'none' (the released code's PAPER_DLG). */
  lineSearch?: 'none' | 'strong_wolfe';
  /** DLG: objective engine (default 'auto': the fused objective where the model has one, LeNet; tfjs otherwise). */
  engine?: DlgEngine;
  /**
   * DLG, an experiment rule checked at every snapshot (every 10 steps): 'recovered' (default) stops
   * at the first with MSE < 1e-3; 'recovered-up-to-scale' at the first with scaled MSE < 1e-3 (for
   * BatchNorm models, whose gradient does not see the scale); 'never' runs all iterations.
   */
  stopWhen?: 'recovered' | 'recovered-up-to-scale' | 'never';
  /** DLG: L-BFGS options over the line search's defaults; default RESNET_TOLERANCES. */
  lbfgs?: Partial<LbfgsOptions>;
  /** Inverting Gradients: TV weight (default DEFAULT_INVERTING's 1e-4). */
  tv?: number;
}

export interface NormsJob extends JobBase {
  kind: 'norms';
  /** The private image (any size; resized to size x size). */
  image: string;
  label: number;
}

export type ResNetJob = CostJob | AttackJob | NormsJob;

interface ResultBase {
  kind: ResNetJob['kind'];
  model: string;
  /** The model's own description, e.g. "ResNet-20 (sigmoid, strides removed, ...) 16x16x3 -> 100". */
  modelName: string;
  parameters: number;
  size: number;
  seed: number;
}

export interface CostResult extends ResultBase {
  kind: 'cost';
  /** Evaluations per timed run. */
  evals: number;
  /** Wall seconds per evaluation, the minimum over the timed runs. */
  secondsPerEval: number;
  /** The median over the timed runs. */
  secondsPerEvalMedian: number;
  /** Every timed run's seconds per evaluation. */
  runs: number[];
}

export interface AttackResult extends ResultBase {
  kind: 'dlg' | 'inverting';
  image: string;
  label: number;
  mse: number;
  psnr: number;
  ssim: number;
  /** MSE < 1e-3. */
  recovered: boolean;
  recoveredLabel: number;
  labelOk: boolean;
  status: DlgStatus;
  iterationsRun: number;
  /** First snapshot iteration with MSE < 1e-3, or null. */
  iterationsToRecover: number | null;
  /** The least-squares scale of the reconstruction onto the truth (lib/analysis/scale.ts). */
  scale: number;
  /** MSE of scale * reconstruction against the truth. */
  scaledMse: number;
  /** scaledMse < 1e-3: the image is found up to the scale the gradient cannot see. */
  recoveredUpToScale: boolean;
  /** First snapshot iteration with scaled MSE < 1e-3, or null. */
  iterationsToRecoverUpToScale: number | null;
  evals: number;
  seconds: number;
  secondsPerEval: number;
  /** Final objective (DLG: gradient distance; Inverting Gradients: 1 - cos + TV). */
  objective: number;
  /** MSE (and scaled MSE) of the dummy against the truth at every snapshot (every 10 iterations and the last). */
  mseCurve: { iteration: number; mse: number; scaledMse: number }[];
  /** The final reconstruction clipped to [0, 1], HWC flat. */
  reconstruction: number[];
  /** The final reconstruction times `scale`, clipped to [0, 1], HWC flat (the scale is fitted with the truth). */
  scaledReconstruction: number[];
}

export interface NormsResult extends ResultBase {
  kind: 'norms';
  image: string;
  label: number;
  paramNames: string[];
  /** ||dL/dW||^2 of each parameter tensor, in paramNames order. */
  squaredNorms: number[];
  /** Their sum: ||g||^2. */
  total: number;
}

export type ResNetResult = CostResult | AttackResult | NormsResult;

/** Throws one line when the job names no known model or no valid size. */
function checkModelJob(job: JobBase): void {
  if (!isModelName(job.model)) throw new Error(`unknown model '${job.model}' (known: ${MODEL_NAMES.join(', ')})`);
  if (!Number.isInteger(job.size) || job.size < 1) throw new Error(`size must be a positive integer, got ${job.size}`);
}

/** The job's model at its size (throws the registry's one-line errors). */
function buildModel(job: JobBase) {
  checkModelJob(job);
  return makeModel(job.model, { ...(job.modelOptions ?? {}), inputShape: [job.size, job.size, 3], numClasses: job.numClasses ?? 100, seed: job.seed });
}

/** A flat gray-ish image for cost jobs (the cost does not depend on the pixels). */
function probeImage(size: number): Img {
  const data = new Float32Array(size * size * 3);
  for (let i = 0; i < data.length; i++) data[i] = 0.5 + 0.4 * Math.sin(0.37 * i);
  return { height: size, width: size, channels: 3, data };
}

function cost(job: CostJob): CostResult {
  const evals = job.evals ?? 2;
  const repeats = job.repeats ?? 3;
  if (!Number.isInteger(evals) || evals < 1) throw new Error(`cost: evals must be a positive integer, got ${evals}`);
  if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`cost: repeats must be a positive integer, got ${repeats}`);
  const c = makeCaseFor(buildModel(job), { images: [probeImage(job.size)], labels: [0], seed: job.seed });
  try {
    // fixed-length L-BFGS steps (no line search, tolerances 0): one evaluation per inner iteration
    const lbfgs = { ...PAPER_DLG.lbfgs, toleranceGrad: 0, toleranceChange: 0 };
    dlg(c.model, c.shared, { ...PAPER_DLG, engine: 'tfjs', iterations: 1, seed: job.seed, lbfgs: { ...lbfgs, maxIter: 1 } }); // warm-up
    const runs: number[] = [];
    let count = 0;
    for (let i = 0; i < repeats; i++) {
      const r = dlg(c.model, c.shared, { ...PAPER_DLG, engine: 'tfjs', iterations: 1, seed: job.seed, lbfgs: { ...lbfgs, maxIter: evals, maxEval: evals } });
      runs.push(r.seconds / r.evals);
      count = r.evals;
    }
    const sorted = [...runs].sort((a, b) => a - b);
    return {
      kind: 'cost', model: job.model, modelName: c.model.name, parameters: parameterCount(c.model), size: job.size, seed: job.seed,
      evals: count, secondsPerEval: sorted[0], secondsPerEvalMedian: sorted[Math.floor((sorted.length - 1) / 2)], runs,
    };
  } finally {
    disposeCase(c);
  }
}

/** The client's case for a job on a photo: its model at the job's size, the photo, its gradient (nothing left behind on a throw). */
function photoCase(job: JobBase & { image: string; label: number }): { c: Case; truth: Img } {
  checkModelJob(job);
  const truth = loadImage(job.image, { size: job.size, channels: 3 });
  return { c: makeCaseFor(buildModel(job), { images: [truth], labels: [job.label], seed: job.seed }), truth };
}

/** The harness's stop rule at a snapshot (it sees the truth; the attack does not). */
function stopRule(when: NonNullable<AttackJob['stopWhen']>, truth: Img): ((snap: DlgSnapshot) => boolean) | undefined {
  const at = (snap: DlgSnapshot) => imageAt(snap.data, [1, truth.height, truth.width, truth.channels], 0);
  if (when === 'recovered') return (snap) => mse(at(snap), truth) < RECOVERED_MSE;
  if (when === 'recovered-up-to-scale') return (snap) => scaledMse(at(snap), truth).mse < RECOVERED_MSE;
  return undefined; // 'never'
}

function norms(job: NormsJob): NormsResult {
  const { c } = photoCase(job);
  try {
    const squaredNorms = c.shared.map((g) => {
      const v = g.dataSync();
      let s = 0;
      for (let i = 0; i < v.length; i++) s += v[i] * v[i];
      return s;
    });
    return {
      kind: 'norms', model: job.model, modelName: c.model.name, parameters: parameterCount(c.model), size: job.size, seed: job.seed,
      image: job.image, label: job.label, paramNames: [...c.model.paramNames], squaredNorms, total: squaredNorms.reduce((a, v) => a + v, 0),
    };
  } finally {
    disposeCase(c);
  }
}

const STOP_RULES = ['recovered', 'recovered-up-to-scale', 'never'];

function attack(job: AttackJob): AttackResult {
  if (!Number.isInteger(job.iterations) || job.iterations < 1) throw new Error(`iterations must be a positive integer, got ${job.iterations}`);
  if (job.stopWhen !== undefined && !STOP_RULES.includes(job.stopWhen)) throw new Error(`stopWhen must be 'recovered', 'recovered-up-to-scale' or 'never', got '${job.stopWhen}'`);
  const { c, truth } = photoCase(job);
  try {
    let r: DlgResult;
    if (job.kind === 'dlg') {
      const base = (job.lineSearch ?? 'strong_wolfe') === 'none' ? PAPER_DLG : DEFAULT_DLG;
      r = dlg(c.model, c.shared, {
        ...base,
        lbfgs: { ...base.lbfgs, ...RESNET_TOLERANCES, ...(job.lbfgs ?? {}) },
        iterations: job.iterations,
        seed: job.seed,
        engine: job.engine ?? 'auto',
        stopAt: stopRule(job.stopWhen ?? 'recovered', truth),
      });
    } else {
      r = invertingGradients(c.model, c.shared, { ...DEFAULT_INVERTING, iterations: job.iterations, seed: job.seed, tv: job.tv ?? DEFAULT_INVERTING.tv });
    }
    const final = imageAt(r.data, r.shape, 0);
    const s = score(final, truth);
    const fitted = scaledMse(final, truth);
    const curve = mseCurve(r, truth).map((p, i) => ({ ...p, scaledMse: scaledMse(imageAt(r.snapshots[i].data, r.shape, 0), truth).mse }));
    return {
      kind: job.kind,
      model: job.model,
      modelName: c.model.name,
      parameters: parameterCount(c.model),
      size: job.size,
      seed: job.seed,
      image: job.image,
      label: job.label,
      mse: s.mse,
      psnr: s.psnr,
      ssim: s.ssim,
      recovered: s.recovered,
      recoveredLabel: r.labels[0],
      labelOk: r.labels[0] === job.label,
      status: r.status,
      iterationsRun: r.iterations,
      iterationsToRecover: curve.find((p) => p.mse < RECOVERED_MSE)?.iteration ?? null,
      scale: fitted.scale,
      scaledMse: fitted.mse,
      recoveredUpToScale: fitted.mse < RECOVERED_MSE,
      iterationsToRecoverUpToScale: curve.find((p) => p.scaledMse < RECOVERED_MSE)?.iteration ?? null,
      evals: r.evals,
      seconds: r.seconds,
      secondsPerEval: r.evals > 0 ? r.seconds / r.evals : NaN,
      objective: r.distance,
      mseCurve: curve,
      reconstruction: Array.from(clip01(final).data),
      scaledReconstruction: Array.from(clip01(scaledToTruth(final, truth).image).data),
    };
  } finally {
    disposeCase(c);
  }
}

/** Run one job (the parallel.ts entry point). */
export function run(job: ResNetJob): ResNetResult {
  if (job.kind === 'cost') return cost(job);
  if (job.kind === 'dlg' || job.kind === 'inverting') return attack(job);
  if (job.kind === 'norms') return norms(job);
  throw new Error(`unknown job kind '${(job as { kind: string }).kind}' (known: cost, dlg, inverting, norms)`);
}

/**
 * Seconds the paper's attack would take at a measured cost: `iterations` L-BFGS steps (1,200 in
 * the paper for images) of `evalsPerIteration` objective evaluations each.
 */
export function projectedSeconds(secondsPerEval: number, evalsPerIteration: number, iterations = 1200): number {
  return secondsPerEval * evalsPerIteration * iterations;
}
