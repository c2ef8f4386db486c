/**
 * One DLG run on an image given as data (any shape: 8x8x1 digits, 28x28x1 Fashion-MNIST, 32x32x3
 * photos), as a job for parallel.ts. The LeNet is sized for the image (same paper recipe).
 * Returns the metrics, the snapshots (clipped, as plain arrays) and the iterations to recovery.
 */
import { makeCase, disposeCase } from '../cases/case';
import { dlg } from '../attacks/dlg';
import type { DlgStatus } from '../attacks/dlg';
import { score, imageAt, clip01, mseCurve } from '../analysis/score';
import type { Img } from '../data/image';

export interface AttackImageJob {
  name: string;
  image: Img;
  label: number;
  numClasses: number;
  seed: number;
  iterations: number;
}

export interface AttackImageResult {
  name: string;
  shape: string;
  mse: number;
  psnr: number;
  ssim: number;
  recovered: boolean;
  labelOk: boolean;
  status: DlgStatus;
  iterationsRun: number;
  evals: number;
  seconds: number;
  /** First snapshot iteration (every 10) with MSE < 1e-3, or null. */
  iterationsToRecover: number | null;
  /** Clipped dummy at each snapshot, and the snapshot iterations. */
  frames: Img[];
  frameIterations: number[];
  mseCurve: { iteration: number; mse: number }[];
  losses: number[];
}

export function run(job: AttackImageJob): AttackImageResult {
  const truth = job.image;
  const c = makeCase({ images: [truth], labels: [job.label], seed: job.seed, numClasses: job.numClasses });
  const r = dlg(c.model, c.shared, { iterations: job.iterations, seed: job.seed });
  const s = score(imageAt(r.data, r.shape, 0), truth);
  const curve = mseCurve(r, truth);
  disposeCase(c);
  return {
    name: job.name,
    shape: `${truth.height}x${truth.width}x${truth.channels}`,
    mse: s.mse,
    psnr: s.psnr,
    ssim: s.ssim,
    recovered: s.recovered,
    labelOk: r.labels[0] === job.label,
    status: r.status,
    iterationsRun: r.iterations,
    evals: r.evals,
    seconds: r.seconds,
    iterationsToRecover: curve.find((p) => p.mse < 1e-3)?.iteration ?? null,
    frames: r.snapshots.map((snap) => clip01(imageAt(snap.data, r.shape, 0))),
    frameIterations: r.snapshots.map((snap) => snap.iteration),
    mseCurve: curve,
    losses: r.losses,
  };
}
