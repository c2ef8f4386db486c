/**
 * The one record of an attack against its truth, used by the CLI, the experiment tasks and the
 * notebooks: per-image scores after matching reconstructions to the truth (lib/analysis/match.ts),
 * the labels against the true ones, and how the run went. Analysis sees the truth; the attack did not.
 */
import type { Img } from '../data/image';
import type { DlgResult, DlgStatus } from '../attacks/dlg';
import { scoreBatch } from './score';
import type { Scores } from './score';
import { labelAccuracy } from './labels';

export interface AttackReport {
  /** Per true image (the truth's order): scores of the reconstruction matched to it, and its index. */
  images: (Scores & { reconstruction: number })[];
  /** Worst case over the images (a single image: its own): largest MSE, smallest PSNR and SSIM. */
  mse: number;
  psnr: number;
  ssim: number;
  /** Every image has MSE < RECOVERED_MSE. */
  recovered: boolean;
  /** How many images have MSE < RECOVERED_MSE. */
  recoveredCount: number;
  /** Recovered labels (the attack's order) and the true ones. */
  labels: number[];
  trueLabels: number[];
  /** Multiset accuracy of the labels (the order of a batch is unknowable). */
  labelAccuracy: number;
  /** Every label recovered. */
  labelOk: boolean;
  status: DlgStatus;
  iterations: number;
  evals: number;
  seconds: number;
  /** Final gradient distance (against the shared gradient the attacker saw). */
  distance: number;
}

/** Score an attack's result against the private images and labels. */
export function attackReport(result: Pick<DlgResult, 'data' | 'shape' | 'labels' | 'status' | 'iterations' | 'evals' | 'seconds' | 'distance'>, truths: Img[], trueLabels: number[]): AttackReport {
  const s = scoreBatch(result, truths);
  const accuracy = labelAccuracy(result.labels, trueLabels);
  return {
    images: s.perImage,
    mse: s.maxMse,
    psnr: Math.min(...s.perImage.map((p) => p.psnr)),
    ssim: Math.min(...s.perImage.map((p) => p.ssim)),
    recovered: s.recovered,
    recoveredCount: s.perImage.filter((p) => p.recovered).length,
    labels: result.labels,
    trueLabels,
    labelAccuracy: accuracy,
    labelOk: accuracy === 1,
    status: result.status,
    iterations: result.iterations,
    evals: result.evals,
    seconds: result.seconds,
    distance: result.distance,
  };
}
