/**
 * Make TensorFlow.js twice differentiable on the DLG attack path.
 *
 * DLG differentiates a gradient: D(x') = sum ||dL(F(x'), y')/dW - g||^2, and dD/dx' needs the
 * derivative of every backward op. TensorFlow.js gets two things wrong here, silently:
 *
 * 1. Ops whose gradient reuses the saved OUTPUT (sigmoid: dy*y*(1-y), exp: dy*y, tanh, softmax,
 *    logSoftmax, ...). The engine saves a clone of the output, and the tape node of that clone is
 *    recorded before the node that produces the output, so when the outer gradient walks the tape it
 *    treats the saved output as a constant. The second derivative then misses the terms through y
 *    (relative error about 1 on the dummy-image gradient of LeNet).
 *    Fix: re-register those gradients so they save only the INPUT and recompute the output from it.
 * 2. Conv2DBackpropFilter (dW of a convolution) has no gradient at all. We give it one:
 *    dW = corr(x, dy)  =>  d/dx = conv2DBackpropInput(dy, ddW),  d/ddy = conv2d(x, ddW).
 *
 * Not fixable here: tf.logSoftmax and tf.logSigmoid are customGrad ops that save their output
 * outside the registry; on an attack path use nn.logSoftmax / nn.crossEntropy instead (a test
 * keeps watching tf.logSoftmax).
 *
 * `installTwiceDifferentiableGradients()` is idempotent; lib/engine/index.ts useEngine() calls it (importing
 * this module changes nothing).
 * test/twice.test.ts checks each op against finite differences and PyTorch golden values.
 */
import { tf } from './backend';
import type { Tensor, Tensor4D, NamedAttrMap, GradConfig } from '@tensorflow/tfjs';

type Grads = { [input: string]: () => Tensor };

/** Gradient configs that save inputs only, so the outer tape sees every dependency. */
const CONFIGS: GradConfig[] = [
  {
    kernelName: 'Sigmoid',
    inputsToSave: ['x'],
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]): Grads => {
      const [x] = saved;
      return {
        x: () => {
          const s = tf.sigmoid(x);
          return tf.mul(dy as Tensor, tf.mul(s, tf.sub(1, s)));
        },
      };
    },
  },
  {
    kernelName: 'Exp',
    inputsToSave: ['x'],
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]): Grads => {
      const [x] = saved;
      return { x: () => tf.mul(dy as Tensor, tf.exp(x)) };
    },
  },
  {
    kernelName: 'Tanh',
    inputsToSave: ['x'],
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]): Grads => {
      const [x] = saved;
      return { x: () => tf.mul(dy as Tensor, tf.sub(1, tf.square(tf.tanh(x)))) };
    },
  },
  {
    kernelName: 'Softmax',
    inputsToSave: ['logits'],
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs?: NamedAttrMap): Grads => {
      const [logits] = saved;
      const dim = (attrs as { dim: number }).dim;
      return {
        logits: () => {
          const y = tf.softmax(logits, dim);
          const dyTimesY = tf.mul(dy as Tensor, y);
          return tf.sub(dyTimesY, tf.mul(tf.sum(dyTimesY, [dim], true), y));
        },
      };
    },
  },
  {
    kernelName: 'LogSoftmax',
    inputsToSave: ['logits'],
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs?: NamedAttrMap): Grads => {
      const [logits] = saved;
      const axis = (attrs as { axis: number }).axis;
      return {
        logits: () => {
          const softmax = tf.softmax(logits, axis);
          return tf.sub(dy as Tensor, tf.mul(tf.sum(dy as Tensor, axis, true), softmax));
        },
      };
    },
  },
  {
    kernelName: 'Conv2DBackpropFilter',
    inputsToSave: ['x', 'dy'],
    gradFunc: (ddw: Tensor | Tensor[], saved: Tensor[], attrs?: NamedAttrMap): Grads => {
      const [x, dy] = saved as Tensor4D[];
      const { strides, pad, dataFormat, dimRoundingMode } = attrs as unknown as {
        strides: [number, number];
        pad: 'valid' | 'same';
        dataFormat: 'NHWC' | 'NCHW';
        dimRoundingMode?: 'floor' | 'round' | 'ceil';
      };
      const g = ddw as Tensor4D;
      return {
        x: () => tf.conv2dTranspose(dy, g, x.shape as [number, number, number, number], strides, pad, dimRoundingMode),
        dy: () => tf.conv2d(x, g, strides, pad, dataFormat === 'NCHW' ? 'NCHW' : 'NHWC', 1, dimRoundingMode),
      };
    },
  },
];

let installed = false;
/** The gradients tfjs shipped with, kept to demonstrate (and test) what goes wrong without the fix. */
const stock = new Map<string, GradConfig | undefined>();

/** Replace the gradients listed above in the global tfjs gradient registry (idempotent). */
export function installTwiceDifferentiableGradients(): void {
  if (installed) return;
  for (const config of CONFIGS) {
    const original = tf.getGradient(config.kernelName);
    if (!stock.has(config.kernelName)) stock.set(config.kernelName, original);
    if (original !== undefined) tf.unregisterGradient(config.kernelName);
    tf.registerGradient(config);
  }
  installed = true;
}

/**
 * Run `fn` with tfjs's stock gradients (for demonstrations and tests only): second-order results
 * computed inside are wrong, and kernels without a stock gradient (Conv2DBackpropFilter) throw.
 */
export function withStockGradients<T>(fn: () => T): T {
  for (const config of CONFIGS) {
    tf.unregisterGradient(config.kernelName);
    const original = stock.get(config.kernelName);
    if (original !== undefined) tf.registerGradient(original);
  }
  installed = false;
  try {
    return fn();
  } finally {
    for (const config of CONFIGS) {
      if (tf.getGradient(config.kernelName) !== undefined) tf.unregisterGradient(config.kernelName);
    }
    installTwiceDifferentiableGradients();
  }
}

/** Kernels whose gradients this module replaces or adds. */
export const TWICE_DIFFERENTIABLE_KERNELS: readonly string[] = CONFIGS.map((c) => c.kernelName);
