/**
 * The privacy-utility frontier of DP-SGD beside the paper's defenses, as jobs for parallel.ts
 * (runParallel), on scikit-learn's 8x8 digits with the setup of train-defended.ts (its fixed split,
 * its LeNet family, its training defaults):
 *
 *   { kind: 'train', defense: 'dp:1:0.3', seed }   train the LeNet under the defense (DP-SGD: per-example
 *        clipping in every minibatch, Poisson sampling by default) -> held-out accuracy and, for a dp
 *        spec, the run's epsilon (lib/analysis/privacy.ts; sampling, q, steps and delta stated);
 *   { kind: 'attack', defense: 'dp:1:0.3', seed, index }   attack the defended gradient of one held-out
 *        digit, shared by a freshly initialised model of the same family (the paper's setting), with a
 *        strong attacker, two attacks side by side:
 *          - DLG (DEFAULT_DLG: L-BFGS with strong-Wolfe line search) with the label read off the
 *            gradient (iDLG) and `restarts` random starts, of which the attacker keeps the one with the
 *            smallest gradient distance to what it received (never chosen by the truth);
 *          - Inverting Gradients (lib/attacks/inverting.ts: cosine distance, TV prior, Adam, box
 *            constraint; iDLG label), whose cosine ignores the gradient's scale, so clipping alone
 *            does not disturb it; its restarts are chosen by its own objective;
 *        -> for each: MSE, recovered (MSE < 1e-3), identified (the digit nearest to the clipped
 *        reconstruction among all 1,797 is the attacked one, as in train-defended.ts), label; and the
 *        epsilon of the single shared step (stepEpsilon: q = 1, T = 1, delta stated).
 *
 * Any defense spec works in both jobs (so the paper's defenses face the same attacker); `dpSpec(sigma)`
 * names the DP-SGD grid. Plain data in, plain data out; deterministic from the job.
 */
import { disposeModel } from '../models/model';
import { trainWithDefense } from '../cases/train';
import type { Sampling, DpSgdPrivacy } from '../analysis/privacy';
import { makeCase, disposeCase } from '../cases/case';
import { parseDefense } from '../defenses';
import { dlg } from '../attacks/dlg';
import { invertingGradients, DEFAULT_INVERTING } from '../attacks/inverting';
import type { DlgResult } from '../attacks/dlg';
import { DEFAULT_DLG } from '../config';
import { score, imageAt, clip01 } from '../analysis/score';
import { stepEpsilon, STEP_DELTA } from '../analysis/step-privacy';
import { digitsSplit, digitsLenet, nearestDigit, TRAIN_DEFAULTS } from './train-defended';

/** The DP-SGD defense of the grid: clipping norm `clip` (default 1), noise multiplier `sigma`. */
export function dpSpec(sigma: number, clip = 1): string {
  return `dp:${clip}:${sigma}`;
}

/** Attack defaults: restarts per attack, and the steps of each. */
export const ATTACK_DEFAULTS = { restarts: 4, dlgIterations: DEFAULT_DLG.iterations, invertingRestarts: 1, invertingIterations: DEFAULT_INVERTING.iterations };

export interface FrontierTrainJob {
  kind: 'train';
  /** Any defense spec; 'dp:C:SIGMA' for DP-SGD. */
  defense: string;
  /** Seed of the model's initialisation, the sampling and the noise. */
  seed: number;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  momentum?: number;
  /** Default 'poisson' (the accountant's assumption: the reported epsilon is a guarantee). */
  sampling?: Sampling;
  /** Default 1e-5 (below 1/N = 1/1437). */
  delta?: number;
  /** Use only the first `trainCount` training digits (default: all 1437). */
  trainCount?: number;
}

export interface FrontierAttackJob {
  kind: 'attack';
  defense: string;
  /** Seed of the model, the defense's noise and the attacker's starts. */
  seed: number;
  /** Held-out digit 0 .. 359. */
  index: number;
  /** DLG restarts (default 4). */
  restarts?: number;
  /** L-BFGS steps per DLG restart (default 300). */
  dlgIterations?: number;
  /** Inverting Gradients restarts (default 1: on these digits two starts end at the same objective) and Adam steps per restart (default 1000). */
  invertingRestarts?: number;
  invertingIterations?: number;
  /** Delta of the reported single-step epsilon (default 1e-5). */
  delta?: number;
}

export type FrontierJob = FrontierTrainJob | FrontierAttackJob;

export interface FrontierTrainResult {
  kind: 'train';
  /** Canonical spec. */
  defense: string;
  seed: number;
  epochs: number;
  lr: number;
  batchSize: number;
  sampling: Sampling;
  /** Held-out accuracy after the last epoch, and after every epoch. */
  testAccuracy: number;
  testCurve: number[];
  trainAccuracy: number;
  losses: number[];
  steps: number;
  trainSeconds: number;
  /** For dp specs: the run's privacy (epsilon, epsilonGuaranteed, q, steps, delta, note); null otherwise (no guarantee). */
  privacy: DpSgdPrivacy | null;
}

/** One attack's outcome on one digit. */
export interface AttackOutcome {
  mse: number;
  psnr: number;
  recovered: boolean;
  identified: boolean;
  labelOk: boolean;
  /** The attacker's own objective at the kept restart (DLG: gradient distance; IG: 1 - cos + TV). */
  objective: number;
  /** Which restart was kept (0-based), and every restart's final objective. */
  restart: number;
  restartObjectives: number[];
  seconds: number;
  /** The kept reconstruction (NHWC flat 8x8x1, DLG unclipped, IG in [0, 1]). */
  reconstruction: number[];
}

export interface FrontierAttackResult {
  kind: 'attack';
  defense: string;
  seed: number;
  index: number;
  label: number;
  /** Epsilon of this single shared gradient (q = 1, T = 1) at `delta`: RDP, and exact; Infinity (JSON null) without a dp step. */
  stepEpsilon: number;
  stepExactEpsilon: number;
  delta: number;
  dlg: AttackOutcome;
  inverting: AttackOutcome;
  /** Either attack recovered / identified the digit. */
  recovered: boolean;
  identified: boolean;
}

export type FrontierResult = FrontierTrainResult | FrontierAttackResult;

export function runTrain(job: FrontierTrainJob): FrontierTrainResult {
  const { train, test } = digitsSplit();
  const defense = parseDefense(job.defense);
  const epochs = job.epochs ?? TRAIN_DEFAULTS.epochs;
  const batchSize = job.batchSize ?? TRAIN_DEFAULTS.batchSize;
  const lr = job.lr ?? TRAIN_DEFAULTS.lr;
  const momentum = job.momentum ?? TRAIN_DEFAULTS.momentum;
  const sampling = job.sampling ?? 'poisson';
  const data = job.trainCount ? { images: train.images.slice(0, job.trainCount), labels: train.labels.slice(0, job.trainCount) } : train;
  const model = digitsLenet(job.seed);
  try {
    const r = trainWithDefense({ model, ...data, test, defense, seed: job.seed, epochs, batchSize, lr, momentum, sampling, delta: job.delta ?? STEP_DELTA });
    return {
      kind: 'train',
      defense: defense.spec,
      seed: job.seed,
      epochs,
      lr,
      batchSize,
      sampling,
      testAccuracy: r.accuracy[r.accuracy.length - 1] ?? NaN,
      testCurve: r.accuracy,
      trainAccuracy: r.trainAccuracy[r.trainAccuracy.length - 1] ?? NaN,
      losses: r.losses,
      steps: r.steps,
      trainSeconds: r.seconds,
      privacy: r.privacy ?? null,
    };
  } finally {
    disposeModel(model);
  }
}

export function runAttack(job: FrontierAttackJob): FrontierAttackResult {
  const { train, test } = digitsSplit();
  if (!Number.isInteger(job.index) || job.index < 0 || job.index >= test.images.length) {
    throw new Error(`attack: index must be an integer in 0..${test.images.length - 1}, got ${job.index}`);
  }
  const o = { ...ATTACK_DEFAULTS, ...definedOnly(job) };
  for (const k of Object.keys(ATTACK_DEFAULTS) as (keyof typeof ATTACK_DEFAULTS)[]) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new Error(`attack: ${k} must be a positive integer, got ${o[k]}`);
  }
  const defense = parseDefense(job.defense);
  const delta = job.delta ?? STEP_DELTA;
  const privacy = stepEpsilon(defense.spec, delta);
  const truth = test.images[job.index];
  const label = test.labels[job.index];
  const target = train.images.length + job.index; // nearestDigit numbers training digits first
  const c = makeCase({ images: [truth], labels: [label], seed: job.seed, model: digitsLenet(job.seed), defense });
  try {
    const outcome = (r: DlgResult, restart: number, restartObjectives: number[]): AttackOutcome => {
      const recon = imageAt(r.data, r.shape, 0);
      const s = score(recon, truth);
      return {
        mse: s.mse,
        psnr: s.psnr,
        recovered: s.recovered,
        identified: nearestDigit(clip01(recon).data) === target,
        labelOk: r.labels[0] === label,
        objective: restartObjectives[restart],
        restart,
        restartObjectives,
        seconds: r.seconds,
        reconstruction: Array.from(r.data),
      };
    };
    // DLG: independent starts, the attacker keeps the smallest gradient distance
    const starts = Array.from({ length: o.restarts }, (_, r) => dlg(c.model, c.shared, {
      ...DEFAULT_DLG, label: 'idlg', iterations: o.dlgIterations, seed: attackSeed(job.seed, r),
    }));
    const distances = starts.map((r) => (Number.isFinite(r.distance) ? r.distance : Infinity));
    const kept = distances.indexOf(Math.min(...distances));
    const dlgOutcome = outcome(starts[kept], kept, starts.map((r) => r.distance));
    dlgOutcome.seconds = starts.reduce((s, r) => s + r.seconds, 0);
    // Inverting Gradients: its restarts are chosen inside by its objective
    const ig = invertingGradients(c.model, c.shared, {
      ...DEFAULT_INVERTING, restarts: o.invertingRestarts, iterations: o.invertingIterations, seed: attackSeed(job.seed, 1000),
    });
    const igObjectives = ig.restartObjectives.map((v) => (Number.isFinite(v) ? v : Infinity));
    const igOutcome = outcome(ig, igObjectives.indexOf(Math.min(...igObjectives)), ig.restartObjectives);
    return {
      kind: 'attack',
      defense: defense.spec,
      seed: job.seed,
      index: job.index,
      label,
      stepEpsilon: privacy.epsilon,
      stepExactEpsilon: privacy.exactEpsilon,
      delta,
      dlg: dlgOutcome,
      inverting: igOutcome,
      recovered: dlgOutcome.recovered || igOutcome.recovered,
      identified: dlgOutcome.identified || igOutcome.identified,
    };
  } finally {
    disposeCase(c);
  }
}

/** The seed of the attacker's start r: derived from the job seed, apart from the model's and the defense's streams. */
function attackSeed(seed: number, r: number): number {
  return (Math.imul(seed, 7919) + 104729 * (r + 1)) | 0;
}

function definedOnly(job: FrontierAttackJob): Partial<typeof ATTACK_DEFAULTS> {
  const out: Partial<typeof ATTACK_DEFAULTS> = {};
  for (const k of Object.keys(ATTACK_DEFAULTS) as (keyof typeof ATTACK_DEFAULTS)[]) if (job[k] !== undefined) out[k] = job[k];
  return out;
}

/** The worker entry point (parallel.ts). */
export function run(job: FrontierJob): FrontierResult {
  if (job.kind === 'train') return runTrain(job);
  if (job.kind === 'attack') return runAttack(job);
  throw new Error(`unknown job kind '${(job as { kind: unknown }).kind}' (known: train, attack)`);
}

// ---------------------------------------------------------------- the grid and its table

/** A frontier sweep: the DP-SGD grid plus any other defenses, trained and attacked alike. */
export interface FrontierGrid {
  /** Noise multipliers of the DP-SGD grid (each becomes dpSpec(sigma, clip)). */
  sigmas: number[];
  /** Clipping norm of the grid. Default 1. */
  clip?: number;
  /** Further defense specs attacked (and trained, unless in `attackOnly`) the same way, e.g. the paper's. */
  defenses?: string[];
  /** Specs that get attack jobs but no training jobs (their accuracy is known elsewhere, e.g. notebook 06). */
  attackOnly?: string[];
  /** Training seeds per defense. */
  trainSeeds: number[];
  /** Held-out digits 0 .. digits-1 are attacked, digit i with seed 1 + i (as notebook 06). */
  digits: number;
  /** Overrides for every train job (epochs, lr, sampling, ...). */
  train?: Omit<Partial<FrontierTrainJob>, 'kind' | 'defense' | 'seed'>;
  /** Overrides for every attack job (restarts, iterations, ...). */
  attack?: Omit<Partial<FrontierAttackJob>, 'kind' | 'defense' | 'seed' | 'index'>;
}

/** The jobs of a grid: training jobs first, then attack jobs, in spec order. */
export function frontierJobs(grid: FrontierGrid): FrontierJob[] {
  const specs = [...grid.sigmas.map((s) => dpSpec(s, grid.clip ?? 1)), ...(grid.defenses ?? [])].map((s) => parseDefense(s).spec);
  const attackOnly = new Set((grid.attackOnly ?? []).map((s) => parseDefense(s).spec));
  const train: FrontierJob[] = specs.filter((s) => !attackOnly.has(s)).flatMap((defense) =>
    grid.trainSeeds.map((seed): FrontierTrainJob => ({ ...grid.train, kind: 'train', defense, seed })));
  const attack: FrontierJob[] = specs.flatMap((defense) =>
    Array.from({ length: grid.digits }, (_, i): FrontierAttackJob => ({ ...grid.attack, kind: 'attack', defense, seed: 1 + i, index: i })));
  return [...train, ...attack];
}

/** One row of the frontier table: a defense, its privacy, its accuracy, and what the attacker got. */
export interface FrontierRow {
  defense: string;
  /** The dp step's noise multiplier (null: not DP-SGD). */
  sigma: number | null;
  /** Epsilon of one shared gradient (q = 1, T = 1), RDP and exact; Infinity without a guarantee. */
  stepEpsilon: number;
  stepExactEpsilon: number;
  /** Epsilon of the training run (mean over seeds; they share q, steps, sigma, so it is the same number); Infinity without a guarantee, NaN when not trained. */
  trainEpsilon: number;
  /** Held-out accuracy (mean over training seeds; NaN when not trained) and its standard deviation. */
  testAccuracy: number;
  testAccuracySd: number;
  trainRuns: number;
  /** Attacked digits. */
  attacks: number;
  dlgRecovered: number;
  dlgIdentified: number;
  invertingRecovered: number;
  invertingIdentified: number;
  /** Digits recovered / identified by either attack. */
  recovered: number;
  identified: number;
  labelsOk: number;
  dlgMedianMse: number;
  invertingMedianMse: number;
  /** 'no' (every digit recovered), 'partly', 'blurred only' (none recovered, some identified), 'yes'; 'not attacked' without attack results. */
  stopped: 'no' | 'partly' | 'blurred only' | 'yes' | 'not attacked';
}

/** Summarise results into one row per defense, in the order defenses first appear. */
export function frontierTable(results: FrontierResult[]): FrontierRow[] {
  const specs: string[] = [];
  for (const r of results) if (!specs.includes(r.defense)) specs.push(r.defense);
  const mean = (xs: number[]) => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
  const median = (xs: number[]) => {
    if (xs.length === 0) return NaN;
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  };
  return specs.map((defense): FrontierRow => {
    const trains = results.filter((r): r is FrontierTrainResult => r.kind === 'train' && r.defense === defense);
    const attacks = results.filter((r): r is FrontierAttackResult => r.kind === 'attack' && r.defense === defense);
    const accs = trains.map((t) => t.testAccuracy);
    const acc = mean(accs);
    const count = (f: (a: FrontierAttackResult) => boolean) => attacks.filter(f).length;
    const recovered = count((a) => a.recovered);
    const identified = count((a) => a.identified);
    const step = attacks[0] ?? null;
    const first = parseDefense(defense).steps[0];
    return {
      defense,
      sigma: first.kind === 'dp' ? first.sigma : first.kind === 'clip' ? 0 : null,
      stepEpsilon: step ? step.stepEpsilon : stepEpsilon(defense).epsilon,
      stepExactEpsilon: step ? step.stepExactEpsilon : stepEpsilon(defense).exactEpsilon,
      trainEpsilon: trains.length === 0 ? NaN : mean(trains.map((t) => (t.privacy ? t.privacy.epsilon : Infinity))),
      testAccuracy: acc,
      testAccuracySd: accs.length < 2 ? NaN : Math.sqrt(accs.reduce((s, a) => s + (a - acc) ** 2, 0) / (accs.length - 1)),
      trainRuns: trains.length,
      attacks: attacks.length,
      dlgRecovered: count((a) => a.dlg.recovered),
      dlgIdentified: count((a) => a.dlg.identified),
      invertingRecovered: count((a) => a.inverting.recovered),
      invertingIdentified: count((a) => a.inverting.identified),
      recovered,
      identified,
      labelsOk: count((a) => a.dlg.labelOk),
      dlgMedianMse: median(attacks.map((a) => a.dlg.mse)),
      invertingMedianMse: median(attacks.map((a) => a.inverting.mse)),
      stopped: attacks.length === 0 ? 'not attacked' : recovered === attacks.length ? 'no' : recovered > 0 ? 'partly' : identified > 0 ? 'blurred only' : 'yes',
    };
  });
}
