/**
 * A reconstruction scored up to a positive scale factor. A network whose first convolution has
 * no bias and is followed by BatchNorm in training mode (the ResNets of lib/models/resnet.ts)
 * computes the same output, loss and parameter gradient for x and for a x, a > 0, up to BatchNorm's
 * eps: the convolution scales its output by a and the batch statistics divide it out (test/resnet.test.ts
 * measures a relative gradient difference of 7.6e-4 between x and 3x with BatchNorm, 1.8 without). The shared gradient
 * therefore says nothing about the image's scale (its contrast and brightness together), and DLG
 * can at best recover the image up to it; the plain MSE then measures the scale, not the leak.
 *
 * scaledMse fits the scale with the truth (analysis only: the attacker never sees it) by least
 * squares over a >= 0, a = max(0, <x', x> / <x', x'>) (a negative scale is visible in the gradient:
 * BatchNorm does not undo a sign), and returns the MSE of a x' against x.
 */
import { mse } from './metrics';
import type { Img } from '../data/image';

export interface ScaledScore {
  /** The least-squares scale a >= 0 (0 for an all-zero reconstruction or one anti-correlated with the truth). */
  scale: number;
  /** MSE of scale * reconstruction against the truth. */
  mse: number;
}

/** The reconstruction scaled by the least-squares factor a >= 0 that best maps it onto the truth. */
export function scaledToTruth(reconstruction: Img, truth: Img): { image: Img; scale: number } {
  let dot = 0;
  let norm2 = 0;
  const n = Math.min(reconstruction.data.length, truth.data.length);
  for (let i = 0; i < n; i++) {
    dot += reconstruction.data[i] * truth.data[i];
    norm2 += reconstruction.data[i] * reconstruction.data[i];
  }
  const scale = norm2 > 0 && dot > 0 ? dot / norm2 : 0;
  return { image: { ...reconstruction, data: reconstruction.data.map((v) => v * scale) }, scale };
}

/** MSE after the least-squares scale (see the module comment). Shapes must match, as for mse(). */
export function scaledMse(reconstruction: Img, truth: Img): ScaledScore {
  mse(reconstruction, truth); // shape checks, one clear error
  const { image, scale } = scaledToTruth(reconstruction, truth);
  return { scale, mse: mse(image, truth) };
}
