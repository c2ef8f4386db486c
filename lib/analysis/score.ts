/**
 * Metrics of an attack result against the truth (the only place that sees both).
 */
import { fromTensorData } from '../data/image';
import type { Img } from '../data/image';
import { mse, psnr, ssim } from './metrics';
import { RECOVERED_MSE } from '../config';
import type { DlgResult } from '../attacks/dlg';
import { matchImages } from './match';

export interface Scores {
  mse: number;
  psnr: number;
  ssim: number;
  /** MSE below RECOVERED_MSE (1e-3). */
  recovered: boolean;
}

/** The i-th image of a flat NHWC batch. */
export function imageAt(data: Float32Array, shape: [number, number, number, number], i: number): Img {
  const [, h, w, c] = shape;
  const n = h * w * c;
  return fromTensorData(data.subarray(i * n, (i + 1) * n), h, w, c);
}

/** Clip to [0, 1], as a viewer would (the dummy is unconstrained during the attack). */
export function clip01(img: Img): Img {
  return { ...img, data: img.data.map((v) => Math.min(1, Math.max(0, v))) };
}

/**
 * MSE, PSNR and SSIM of the reconstruction as the attack returns it (unclipped: the dummy is free during
 * the attack) against the truth, all three of the same image; images are shown clipped to [0, 1].
 */
export function score(reconstruction: Img, truth: Img): Scores {
  const m = mse(reconstruction, truth);
  return { mse: m, psnr: psnr(reconstruction, truth), ssim: ssim(reconstruction, truth), recovered: m < RECOVERED_MSE };
}

/** MSE of every snapshot of sample i against its truth: the paper's MSE-vs-iteration curve. */
export function mseCurve(result: DlgResult, truth: Img, i = 0): { iteration: number; mse: number }[] {
  return result.snapshots.map((s) => ({ iteration: s.iteration, mse: mse(imageAt(s.data, result.shape, i), truth) }));
}

/** Scores of a batch attack after matching reconstructions to truths (see lib/match.ts). */
export interface BatchScores {
  /** Per true image i (in the truth's order): the scores of the reconstruction matched to it. */
  perImage: (Scores & { reconstruction: number })[];
  /** Largest per-image MSE after matching. */
  maxMse: number;
  /** Every image of the batch has MSE < RECOVERED_MSE. */
  recovered: boolean;
}

/** Reconstructions of a batch result as images. */
export function batchImages(result: Pick<DlgResult, 'shape'>, data: Float32Array): Img[] {
  return Array.from({ length: result.shape[0] }, (_, i) => imageAt(data, result.shape, i));
}

/** Match the result's reconstructions to the truths by MSE (optimal assignment), then score each pair. */
export function scoreBatch(result: Pick<DlgResult, 'data' | 'shape'>, truths: Img[]): BatchScores {
  const recs = batchImages(result, result.data);
  const m = matchImages(recs, truths);
  const perImage = new Array<Scores & { reconstruction: number }>(truths.length);
  m.cols.forEach((t, r) => { perImage[t] = { ...score(recs[r], truths[t]), reconstruction: r }; });
  const maxMse = Math.max(...perImage.map((s) => s.mse));
  return { perImage, maxMse, recovered: maxMse < RECOVERED_MSE };
}

/** Per snapshot: the largest per-image MSE after matching (the batch is recovered once it is < 1e-3). */
export function batchMseCurve(result: DlgResult, truths: Img[]): { iteration: number; maxMse: number; mse: number[] }[] {
  return result.snapshots.map((s) => {
    const m = matchImages(batchImages(result, s.data), truths);
    const perTruth = new Array<number>(truths.length);
    m.cols.forEach((t, r) => { perTruth[t] = m.mse[r]; });
    return { iteration: s.iteration, maxMse: Math.max(...perTruth), mse: perTruth };
  });
}
