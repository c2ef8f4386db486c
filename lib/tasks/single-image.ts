/**
 * One single-image DLG run as a job for parallel.ts: load the image, build the case, attack, score.
 * Plain data in, plain data out (worker threads pass structured clones).
 */
import { loadImage } from '../image';
import { makeCase, disposeCase } from '../case';
import { dlg } from '../attacks/dlg';
import type { DlgStatus } from '../attacks/dlg';
import { PAPER_DLG, DEFAULT_DLG } from '../config';
import type { LabelStrategy } from '../config';
import { score, imageAt } from '../evaluate';

export interface SingleImageJob {
  image: string;
  label: number;
  seed: number;
  iterations: number;
  lineSearch: 'none' | 'strong_wolfe';
  labelStrategy?: LabelStrategy;
  size?: number;
}

export interface SingleImageResult extends SingleImageJob {
  mse: number;
  psnr: number;
  ssim: number;
  recovered: boolean;
  recoveredLabel: number;
  labelOk: boolean;
  status: DlgStatus;
  iterationsRun: number;
  evals: number;
  seconds: number;
  distance: number;
  /** first iteration whose snapshot has MSE < 1e-3 (snapshots every 10), or null */
  iterationsToRecover: number | null;
}

export function run(job: SingleImageJob): SingleImageResult {
  const truth = loadImage(job.image, { size: job.size ?? 32, channels: 3 });
  const c = makeCase({ images: [truth], labels: [job.label], seed: job.seed });
  const base = job.lineSearch === 'none' ? PAPER_DLG : DEFAULT_DLG;
  const r = dlg(c.model, c.shared, {
    ...base,
    iterations: job.iterations,
    seed: job.seed,
    label: job.labelStrategy ?? 'joint',
    lbfgs: { ...base.lbfgs, lineSearch: job.lineSearch },
  });
  const s = score(imageAt(r.data, r.shape, 0), truth);
  let iterationsToRecover: number | null = null;
  for (const snap of r.snapshots) {
    if (score(imageAt(snap.data, r.shape, 0), truth).recovered) {
      iterationsToRecover = snap.iteration;
      break;
    }
  }
  disposeCase(c);
  return {
    ...job,
    mse: s.mse,
    psnr: s.psnr,
    ssim: s.ssim,
    recovered: s.recovered,
    recoveredLabel: r.labels[0],
    labelOk: r.labels[0] === job.label,
    status: r.status,
    iterationsRun: r.iterations,
    evals: r.evals,
    seconds: r.seconds,
    distance: r.distance,
    iterationsToRecover,
  };
}
