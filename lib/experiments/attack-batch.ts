/**
 * One DLG run on a batch of images (notebook 03's sweep), as a job for parallel.ts: the client's
 * gradient of the whole batch, the attack (joint or round-robin update, joint or fixed labels), and
 * the scores after matching reconstructions to the truth (lib/match.ts). The run is stopped (an
 * experiment rule, not the attacker's) at the first snapshot where every image has MSE < 1e-3.
 */
import { makeCase, disposeCase } from '../cases/case';
import { dlg } from '../attacks/dlg';
import type { DlgStatus } from '../attacks/dlg';
import { labelAccuracy } from '../analysis/labels';
import { RECOVERED_MSE } from '../config';
import type { BatchUpdate, LabelStrategy } from '../config';
import type { LbfgsOptions } from '../attacks/optim/lbfgs';
import { scoreBatch, batchImages, clip01 } from '../analysis/score';
import { matchImages } from '../analysis/match';
import type { Img } from '../data/image';

export interface AttackBatchJob {
  images: Img[];
  labels: number[];
  numClasses: number;
  /** Seed of the model and of the dummy. */
  seed: number;
  iterations: number;
  batchUpdate: BatchUpdate;
  label: LabelStrategy;
  snapshotEvery?: number;
  /** Stop at the first snapshot where every image is recovered (default true). */
  stopWhenRecovered?: boolean;
  /** L-BFGS settings over the 'batch' preset's (torch defaults + strong Wolfe + BATCH_TOLERANCES). */
  lbfgs?: Partial<LbfgsOptions>;
  /** Keep the clipped dummies of every snapshot, matched to the truth's order (for progress grids). */
  keepFrames?: boolean;
}

export interface AttackBatchResult {
  batchSize: number;
  batchUpdate: BatchUpdate;
  label: LabelStrategy;
  seed: number;
  /** Per true image, after matching. */
  mse: number[];
  maxMse: number;
  recovered: boolean;
  /** First snapshot iteration where every image has MSE < 1e-3 after matching, or null. */
  iterationsToRecover: number | null;
  labels: number[];
  labelAccuracy: number;
  status: DlgStatus;
  iterationsRun: number;
  evals: number;
  seconds: number;
  /** With keepFrames: frames[s][i] = snapshot s's dummy matched to true image i (clipped). */
  frames?: Img[][];
  frameIterations: number[];
  /** Largest per-image MSE after matching, per snapshot. */
  maxMseCurve: number[];
}

export function run(job: AttackBatchJob): AttackBatchResult {
  const n = job.images.length;
  const c = makeCase({ images: job.images, labels: job.labels, seed: job.seed, numClasses: job.numClasses });
  const maxMseCurve: number[] = [];
  const frames: Img[][] = [];
  let iterationsToRecover: number | null = null;
  const r = dlg(c.model, c.shared, {
    preset: 'batch',
    iterations: job.iterations,
    seed: job.seed,
    label: job.label,
    batchUpdate: job.batchUpdate,
    batchSize: n,
    lbfgs: job.lbfgs,
    snapshotEvery: job.snapshotEvery ?? 10,
    stopAt: (snap) => {
      const recs = batchImages({ shape: [n, ...c.model.inputShape] }, snap.data);
      const m = matchImages(recs, job.images);
      const maxMse = Math.max(...m.mse);
      maxMseCurve.push(maxMse);
      if (job.keepFrames) {
        const row = new Array<Img>(n);
        m.cols.forEach((t, rIdx) => { row[t] = clip01(recs[rIdx]); });
        frames.push(row);
      }
      if (maxMse < RECOVERED_MSE && iterationsToRecover === null) iterationsToRecover = snap.iteration;
      return iterationsToRecover !== null && job.stopWhenRecovered !== false;
    },
  });
  const s = scoreBatch(r, job.images);
  disposeCase(c);
  return {
    batchSize: n,
    batchUpdate: job.batchUpdate,
    label: job.label,
    seed: job.seed,
    mse: s.perImage.map((p) => p.mse),
    maxMse: s.maxMse,
    recovered: s.recovered,
    iterationsToRecover,
    labels: r.labels,
    labelAccuracy: labelAccuracy(r.labels, job.labels),
    status: r.status,
    iterationsRun: r.iterations,
    evals: r.evals,
    seconds: r.seconds,
    frames: job.keepFrames ? frames : undefined,
    frameIterations: r.snapshots.slice(1, 1 + maxMseCurve.length).map((sn) => sn.iteration),
    maxMseCurve,
  };
}
