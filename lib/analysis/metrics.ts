/**
 * Image similarity metrics used to score a reconstruction against the original: MSE, PSNR and
 * SSIM. All three compare two `Img`s of the same shape with values in [0, 1] and compute in
 * float64. They reproduce scikit-image (checked against it by test/golden/metrics_golden.py):
 *
 *   mse(a, b)   == skimage.metrics.mean_squared_error(a, b)
 *   psnr(a, b)  == skimage.metrics.peak_signal_noise_ratio(a, b, data_range=1)
 *   ssim(a, b)  == skimage.metrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
 *                    use_sample_covariance=False, data_range=1, channel_axis=-1)
 */
import { checkImg, shapeOf } from '../data/image';
import type { Img } from '../data/image';

function checkPair(fn: string, a: Img, b: Img): void {
  checkImg(a, `${fn} first image`);
  checkImg(b, `${fn} second image`);
  if (a.height !== b.height || a.width !== b.width || a.channels !== b.channels) {
    throw new Error(`${fn}: image shapes differ: ${shapeOf(a)} vs ${shapeOf(b)}`);
  }
}

/** Mean squared error over all height*width*channels values. */
export function mse(a: Img, b: Img): number {
  checkPair('mse', a, b);
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = a.data[i] - b.data[i];
    sum += d * d;
  }
  return sum / a.data.length;
}

/** Peak signal-to-noise ratio in dB, 10 log10(dataRange^2 / mse); Infinity for identical images. */
export function psnr(a: Img, b: Img, dataRange = 1): number {
  const err = mse(a, b);
  return err === 0 ? Infinity : 10 * Math.log10((dataRange * dataRange) / err);
}

// ---------------------------------------------------------------------------------------------
// SSIM

/** Options of `ssim`; the defaults are those of Wang et al. 2004. */
export interface SsimOptions {
  /** Distance between the smallest and largest possible value. Default 1. */
  dataRange?: number;
  /** Standard deviation of the Gaussian window. Default 1.5 (an 11x11 window). */
  sigma?: number;
  /** Stabilising constants, C1 = (k1 dataRange)^2, C2 = (k2 dataRange)^2. Defaults 0.01, 0.03. */
  k1?: number;
  k2?: number;
  /**
   * Odd window size that sets the border cropped before averaging, (winSize-1)/2 on each side,
   * as skimage's `win_size` does with gaussian_weights=True (the Gaussian filter is unchanged).
   * Default: the Gaussian's width, 11, or for images smaller than that the largest odd number
   * that fits the smaller side (8x8 -> 7, 3x4 -> 3), where skimage would refuse.
   */
  winSize?: number;
}

/** scipy.ndimage's sampled Gaussian, radius int(3.5 sigma + 0.5), normalised to sum 1. */
function gaussianKernel(sigma: number): Float64Array {
  const r = Math.trunc(3.5 * sigma + 0.5);
  const k = new Float64Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) sum += k[i + r] = Math.exp((-0.5 / (sigma * sigma)) * i * i);
  return k.map((v) => v / sum);
}

/** scipy 'reflect' border (d c b a | a b c d | d c b a), for any distance outside [0, n). */
function reflect(i: number, n: number): number {
  const p = 2 * n;
  const j = ((i % p) + p) % p;
  return j < n ? j : p - 1 - j;
}

/** Separable filter of an h x w plane with a symmetric kernel, along rows then along columns. */
function filter2d(src: Float64Array, h: number, w: number, k: Float64Array): Float64Array {
  const r = (k.length - 1) / 2;
  const tmp = new Float64Array(h * w);
  const out = new Float64Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let v = 0;
      for (let j = -r; j <= r; j++) v += k[j + r] * src[reflect(y + j, h) * w + x];
      tmp[y * w + x] = v;
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let v = 0;
      for (let j = -r; j <= r; j++) v += k[j + r] * tmp[y * w + reflect(x + j, w)];
      out[y * w + x] = v;
    }
  }
  return out;
}

/** Mean SSIM of one channel, with local statistics weighted by the Gaussian kernel `k`. */
function ssimPlane(a: Img, b: Img, ch: number, k: Float64Array, pad: number, c1: number, c2: number): number {
  const { height: h, width: w, channels } = a;
  const n = h * w;
  const x = new Float64Array(n), y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = a.data[i * channels + ch];
    y[i] = b.data[i * channels + ch];
  }
  const product = (p: Float64Array, q: Float64Array) => p.map((v, i) => v * q[i]);
  const ux = filter2d(x, h, w, k), uy = filter2d(y, h, w, k);
  const uxx = filter2d(product(x, x), h, w, k);
  const uyy = filter2d(product(y, y), h, w, k);
  const uxy = filter2d(product(x, y), h, w, k);

  let sum = 0;
  for (let r = pad; r < h - pad; r++) {
    for (let col = pad; col < w - pad; col++) {
      const i = r * w + col;
      const vx = uxx[i] - ux[i] * ux[i];
      const vy = uyy[i] - uy[i] * uy[i];
      const vxy = uxy[i] - ux[i] * uy[i];
      const num = (2 * ux[i] * uy[i] + c1) * (2 * vxy + c2);
      const den = (ux[i] * ux[i] + uy[i] * uy[i] + c1) * (vx + vy + c2);
      sum += num / den;
    }
  }
  return sum / ((h - 2 * pad) * (w - 2 * pad));
}

/**
 * Structural similarity (Wang, Bovik, Sheikh, Simoncelli 2004), averaged over channels.
 *
 * Per channel: Gaussian-weighted local means ux, uy, variances vx, vy and covariance vxy (filter
 * with reflected borders), the SSIM map
 *   ((2 ux uy + C1)(2 vxy + C2)) / ((ux^2 + uy^2 + C1)(vx + vy + C2)),
 * and its mean after cropping (winSize-1)/2 pixels from each border, where the filter saw
 * reflected pixels. 1 means identical; values near 0 mean unrelated structure.
 */
export function ssim(a: Img, b: Img, opts: SsimOptions = {}): number {
  checkPair('ssim', a, b);
  const { dataRange = 1, sigma = 1.5, k1 = 0.01, k2 = 0.03 } = opts;
  if (!(sigma > 0)) throw new Error(`ssim: sigma must be positive, got ${sigma}`);
  const kernel = gaussianKernel(sigma);
  const side = Math.min(a.height, a.width);
  const winSize = opts.winSize ?? Math.min(kernel.length, side % 2 === 1 ? side : side - 1);
  if (!Number.isInteger(winSize) || winSize % 2 !== 1 || winSize > side) {
    throw new Error(`ssim: winSize must be an odd integer <= ${side} for images of shape ${shapeOf(a)}, got ${winSize}`);
  }
  const c1 = (k1 * dataRange) ** 2, c2 = (k2 * dataRange) ** 2;
  let total = 0;
  for (let ch = 0; ch < a.channels; ch++) total += ssimPlane(a, b, ch, kernel, (winSize - 1) / 2, c1, c2);
  return total / a.channels;
}
