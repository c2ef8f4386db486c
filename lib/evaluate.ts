/**
 * Metrics of an attack result against the truth (the only place that sees both).
 */
import { fromTensorData } from './image';
import type { Img } from './image';
import { mse, psnr, ssim } from './metrics';
import { RECOVERED_MSE } from './config';
import type { DlgResult } from './attacks/dlg';

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

/** MSE (of the raw reconstruction), PSNR and SSIM (of the clipped one) against the truth. */
export function score(reconstruction: Img, truth: Img): Scores {
  const m = mse(reconstruction, truth);
  const shown = clip01(reconstruction);
  return { mse: m, psnr: psnr(shown, truth), ssim: ssim(shown, truth), recovered: m < RECOVERED_MSE };
}

/** MSE of every snapshot of sample i against its truth: the paper's MSE-vs-iteration curve. */
export function mseCurve(result: DlgResult, truth: Img, i = 0): { iteration: number; mse: number }[] {
  return result.snapshots.map((s) => ({ iteration: s.iteration, mse: mse(imageAt(s.data, result.shape, i), truth) }));
}
