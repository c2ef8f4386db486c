/**
 * The layers of a CIFAR-style ResNet (lib/models/resnet.ts) as plain functions of tensors, each
 * written with public tfjs ops whose gradients are correct at second order (with lib/engine/twice.ts;
 * test/twice.test.ts checks every one against finite differences):
 *
 *  - conv:            PyTorch's Conv2d (square kernel, symmetric zero padding, stride), optional bias;
 *  - batchNorm:       PyTorch's BatchNorm2d in training mode (batch statistics, biased variance);
 *  - identityShortcut: He et al.'s option A (take every stride-th pixel, zero-pad the new channels);
 *  - globalAvgPool / avgPool: means over axes (tfjs's AvgPool kernel has a gradient, AvgPoolGrad,
 *                     that itself has none, so pooling is written as a reshape and a mean).
 *
 * Tensors are NHWC, filters HWIO. No tf.tidy inside: the callers run under a tape and a tidy.
 */
import { tf } from '../engine';
import type { Tensor, Tensor1D, Tensor2D, Tensor4D } from '@tensorflow/tfjs';

/** PyTorch's BatchNorm2d default epsilon. */
export const BATCH_NORM_EPS = 1e-5;

/**
 * PyTorch's Conv2d: filter HWIO [k, k, in, out], zero padding `pad` on every side (tfjs's 'same'
 * pads asymmetrically for stride 2, PyTorch does not), then the bias if given.
 * Output side: floor((n + 2 pad - k) / stride) + 1.
 */
export function conv(x: Tensor4D, filter: Tensor4D, stride: number, pad: number, bias?: Tensor): Tensor4D {
  const y = pad === 0
    ? tf.conv2d(x, filter, stride, 'valid')
    : tf.conv2d(x, filter, stride, [[0, 0], [pad, pad], [pad, pad], [0, 0]]);
  return bias === undefined ? y : (tf.add(y, bias) as Tensor4D);
}

/**
 * BatchNorm2d in training mode: per channel, normalise over the batch and the spatial positions
 * with the batch's own mean and biased variance, then scale by gamma and shift by beta:
 *   y = (x - mean) * gamma / sqrt(var + eps) + beta.
 * With one image the statistics are those of the image's spatial positions. Running statistics are
 * neither read nor updated (a client computing a training gradient does not use them). Like
 * PyTorch, refuses a single value per channel (the variance would be 0 and y = beta).
 */
export function batchNorm(x: Tensor4D, gamma: Tensor, beta: Tensor, eps = BATCH_NORM_EPS): Tensor4D {
  const [n, h, w] = x.shape;
  if (n * h * w < 2) {
    throw new Error(`batchNorm: expected more than 1 value per channel in training mode, got input ${JSON.stringify(x.shape)} (batch x height x width = 1)`);
  }
  // means as sums times 1/count: the cpu backend's Sum over leading axes is a fast kernel
  // (lib/engine/kernels.ts), its Mean transposes first (10-100x slower on these shapes)
  const inv = 1 / (n * h * w);
  const mean = tf.mul(tf.sum(x, [0, 1, 2], true), inv);
  const centered = tf.sub(x, mean);
  const variance = tf.mul(tf.sum(tf.square(centered), [0, 1, 2], true), inv);
  // the per-channel factor gamma / sqrt(var + eps) on [1, 1, 1, C] tensors, one full-size multiply
  const scale = tf.mul(tf.rsqrt(tf.add(variance, eps)), gamma);
  return tf.add(tf.mul(centered, scale), beta) as Tensor4D;
}

/**
 * He et al.'s option A shortcut from `inChannels` to `outChannels` (>= inChannels): every
 * stride-th pixel (x[:, ::s, ::s] in PyTorch), the channels placed in the middle of the wider
 * tensor with floor((out - in) / 2) zero channels before them and the rest after (the common PyTorch
 * CIFAR ResNet pads planes // 4 on each side when the width doubles). No parameters.
 * Stride 1: a channel zero-pad (tf.pad). Stride > 1: a fixed 0/1 1x1 convolution that does the
 * subsampling and the padding at once (tfjs's strided slice has no gradient).
 */
export function identityShortcut(x: Tensor4D, outChannels: number, stride: number): Tensor4D {
  const inChannels = x.shape[3];
  if (outChannels < inChannels) throw new Error(`identityShortcut: cannot shrink ${inChannels} channels to ${outChannels}`);
  const before = Math.floor((outChannels - inChannels) / 2);
  if (stride === 1) {
    return outChannels === inChannels ? x : tf.pad(x, [[0, 0], [0, 0], [0, 0], [before, outChannels - inChannels - before]]);
  }
  const select = new Float32Array(inChannels * outChannels);
  for (let i = 0; i < inChannels; i++) select[i * outChannels + i + before] = 1;
  return tf.conv2d(x, tf.tensor4d(select, [1, 1, inChannels, outChannels]), stride, 'valid');
}

/** Mean over the spatial positions: [n, h, w, c] -> [n, c] (adaptive average pooling to 1x1). */
export function globalAvgPool(x: Tensor4D): Tensor2D {
  return tf.mean(x, [1, 2]) as Tensor2D;
}

/**
 * PyTorch's F.avg_pool2d(x, k): non-overlapping k x k windows, stride k, no padding, the last
 * rows and columns that do not fill a window dropped (floor). [n, h, w, c] -> [n, h/k, w/k, c].
 * Written as a reshape to [n, h/k, k, w/k, k, c] and a mean over the two window axes.
 */
export function avgPool(x: Tensor4D, k: number): Tensor4D {
  const [n, h, w, c] = x.shape;
  const ho = Math.floor(h / k);
  const wo = Math.floor(w / k);
  if (!Number.isInteger(k) || k < 1 || ho < 1 || wo < 1) throw new Error(`avgPool: a ${k}x${k} window does not fit a ${h}x${w} map`);
  const cropped = ho * k === h && wo * k === w ? x : tf.slice(x, [0, 0, 0, 0], [n, ho * k, wo * k, c]);
  return tf.reshape(tf.mean(tf.reshape(cropped, [n, ho, k, wo, k, c]), [2, 4]), [n, ho, wo, c]) as Tensor4D;
}

/** PyTorch's Linear with the weight stored [in, out]: x W + b. */
export function linear(x: Tensor2D, weight: Tensor2D, bias: Tensor1D | Tensor): Tensor2D {
  return tf.add(tf.matMul(x, weight), bias) as Tensor2D;
}

/** Flatten [n, h, w, c] in PyTorch's NCHW order (out.view(n, -1) of an NCHW tensor). */
export function flattenNCHW(x: Tensor4D): Tensor2D {
  const [n, h, w, c] = x.shape;
  return (h === 1 && w === 1 ? tf.reshape(x, [n, c]) : tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [n, c * h * w])) as Tensor2D;
}
