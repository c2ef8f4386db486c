/**
 * What an attack needs of a model: its input shape, its class count, its parameters and a pure
 * forward function of (input, parameters). Passing the parameters in lets us differentiate with
 * respect to them (the shared gradient) and then again with respect to the input (the attack).
 */
import { tf } from '../engine';
import type { Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs';

export interface Model {
  /** Human-readable description, e.g. "LeNet-sigmoid 32x32x3 -> 100". */
  readonly name: string;
  /** [height, width, channels] of one input; inputs are NHWC batches in [0, 1]. */
  readonly inputShape: [number, number, number];
  readonly numClasses: number;
  /** Parameter names in PyTorch's order, e.g. 'conv1.weight'. */
  readonly paramNames: string[];
  /** Parameter values, same order (conv filters HWIO, dense weights [in, out]). */
  readonly params: Tensor[];
  /** Logits [batch, numClasses] for x [batch, h, w, c] under parameters p. */
  forward(x: Tensor4D, p: Tensor[]): Tensor2D;
  /** Optional explicit architecture description, used by lib/engine/fused.ts (fast DLG objective); see ConvStackStructure below. */
  readonly structure?: ConvStackStructure;
}

export type ActivationName = 'sigmoid' | 'relu' | 'tanh';

/** Activations by name (a registry, not a class tree). All twice differentiable (relu: a.e.). */
export const ACTIVATIONS: Record<ActivationName, (x: Tensor) => Tensor> = {
  sigmoid: (x) => tf.sigmoid(x),
  relu: (x) => tf.relu(x),
  tanh: (x) => tf.tanh(x),
};

/** Number of scalar parameters. */
export function parameterCount(model: Model): number {
  return model.params.reduce((a, p) => a + p.size, 0);
}

/** Free the model's parameter tensors. */
export function disposeModel(model: Model): void {
  tf.dispose(model.params);
}

/** Check that x is a batch of the model's input shape; a clear error otherwise. */
export function checkInput(model: Model, x: Tensor): void {
  const [h, w, c] = model.inputShape;
  if (x.rank !== 4 || x.shape[1] !== h || x.shape[2] !== w || x.shape[3] !== c) {
    throw new Error(`${model.name} expects input [batch, ${h}, ${w}, ${c}], got ${JSON.stringify(x.shape)}`);
  }
}

/**
 * An explicit structural description a model can carry so that the engine (lib/engine/fused.ts) can
 * evaluate the DLG objective without tfjs. Models are never recognised by guessing from parameter
 * shapes: a factory that knows its architecture attaches it (lib/models/lenet.ts does), and the
 * description only counts while the model's `forward` is the very function it describes.
 */
/** One convolution of the stack: square kernel, symmetric zero padding, NHWC input, HWIO filter. */
export interface ConvLayerStructure {
  kernel: number;
  stride: number;
  /** Zero padding on every side (PyTorch's `padding`). */
  pad: number;
  inChannels: number;
  outChannels: number;
}

/**
 * x -> [conv(+bias) -> activation] x L -> flatten in NCHW order -> dense(+bias) -> logits.
 * Parameters, in the model's order: conv_1 weight (HWIO), conv_1 bias, ..., conv_L bias,
 * dense weight [features, classes], dense bias [classes].
 */
export interface ConvStackStructure {
  kind: 'conv-stack';
  /** The forward function this structure describes. */
  forward: Model['forward'];
  convs: ConvLayerStructure[];
  activation: ActivationName;
  flatten: 'NCHW';
}
