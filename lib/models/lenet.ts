/**
 * LeNet exactly as in the original DLG code (mit-han-lab/dlg, models/vision.py):
 *   Conv(C->12, k5, pad 2, stride 2) - sigmoid - Conv(12->12, k5, pad 2, stride 2) - sigmoid -
 *   Conv(12->12, k5, pad 2, stride 1) - sigmoid - flatten (NCHW order) - Linear(12*h*w -> classes)
 * Every weight and bias ~ Uniform(-0.5, 0.5). Sigmoid, not ReLU, and no max-pool: DLG needs a
 * twice-differentiable model (paper, section 3.2).
 *
 * tfjs is NHWC with HWIO filters. PyTorch pads 2 on every side; TF 'same' would pad asymmetrically
 * for stride 2, so we give the convolution explicit symmetric padding [[0,0],[2,2],[2,2],[0,0]]. The flatten transposes to NCHW first so
 * the linear layer's weight has PyTorch's column order.
 */
import { tf, useEngine } from '../engine';
import { createRng, uniformArray } from '../rng';
import type { Model, ActivationName } from './model';
import { ACTIVATIONS } from './model';
import type { Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs';

export interface LeNetOptions {
  /** [height, width, channels]; 32x32x3 in the paper. */
  inputShape?: [number, number, number];
  /** 100 (CIFAR-100) in the paper. */
  numClasses?: number;
  /** Seed of the Uniform(-0.5, 0.5) initialisation; 1234 in the original code. */
  seed?: number;
  /** 'sigmoid' in the paper; 'relu' and 'tanh' for experiments beyond it. */
  activation?: ActivationName;
}

const HIDDEN = 12;
const KERNEL = 5;
const PAD = 2;
const STRIDES = [2, 2, 1];

/** Spatial size after one conv of the stack: floor((n + 2*pad - k) / stride) + 1. */
function convOut(n: number, stride: number): number {
  return Math.floor((n + 2 * PAD - KERNEL) / stride) + 1;
}

/** Build a LeNet for the given input shape with freshly initialised parameters. */
export function lenet(options: LeNetOptions = {}): Model {
  useEngine();
  const inputShape = options.inputShape ?? [32, 32, 3];
  const numClasses = options.numClasses ?? 100;
  const seed = options.seed ?? 1234;
  const activation = options.activation ?? 'sigmoid';
  const [h0, w0, c0] = inputShape;
  if (![h0, w0, c0].every((v) => Number.isInteger(v) && v > 0)) {
    throw new Error(`lenet: inputShape must be 3 positive integers [h, w, c], got ${JSON.stringify(inputShape)}`);
  }
  if (!Number.isInteger(numClasses) || numClasses < 2) throw new Error(`lenet: numClasses must be an integer >= 2, got ${numClasses}`);
  const act = ACTIVATIONS[activation];
  if (act === undefined) throw new Error(`lenet: unknown activation '${activation}' (known: ${Object.keys(ACTIVATIONS).join(', ')})`);

  let h = h0;
  let w = w0;
  for (const s of STRIDES) {
    h = convOut(h, s);
    w = convOut(w, s);
  }
  const flat = HIDDEN * h * w;
  const shapes: [string, number[]][] = [
    ['conv1.weight', [KERNEL, KERNEL, c0, HIDDEN]],
    ['conv1.bias', [HIDDEN]],
    ['conv2.weight', [KERNEL, KERNEL, HIDDEN, HIDDEN]],
    ['conv2.bias', [HIDDEN]],
    ['conv3.weight', [KERNEL, KERNEL, HIDDEN, HIDDEN]],
    ['conv3.bias', [HIDDEN]],
    ['fc.weight', [flat, numClasses]],
    ['fc.bias', [numClasses]],
  ];
  const rng = createRng(seed);
  const params = shapes.map(([, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return tf.tensor(uniformArray(rng, n, -0.5, 0.5), shape);
  });
  const padding: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [PAD, PAD], [PAD, PAD], [0, 0]];

  const forward = (x: Tensor4D, p: Tensor[]): Tensor2D => {
    let z: Tensor4D = x;
    for (let layer = 0; layer < 3; layer++) {
      const conv = tf.conv2d(z, p[2 * layer] as Tensor4D, STRIDES[layer], padding);
      z = act(tf.add(conv, p[2 * layer + 1])) as Tensor4D;
    }
    const n = z.shape[0];
    const flattened = tf.reshape(tf.transpose(z, [0, 3, 1, 2]), [n, flat]) as Tensor2D;
    return tf.add(tf.matMul(flattened, p[6] as Tensor2D), p[7]) as Tensor2D;
  };

  return {
    name: `LeNet-${activation} ${h0}x${w0}x${c0} -> ${numClasses}`,
    inputShape: [h0, w0, c0],
    numClasses,
    paramNames: shapes.map(([name]) => name),
    params,
    forward,
    structure: {
      kind: 'conv-stack',
      forward,
      convs: STRIDES.map((stride, i) => ({ kernel: KERNEL, stride, pad: PAD, inChannels: i === 0 ? c0 : HIDDEN, outChannels: HIDDEN })),
      activation,
      flatten: 'NCHW',
    },
  };
}
