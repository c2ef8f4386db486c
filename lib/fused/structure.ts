/**
 * An explicit structural description a model can carry so that lib/fused/ can evaluate the DLG
 * objective without tfjs (see lenet-objective.ts). Models are never recognised by guessing from
 * parameter shapes: a factory that knows its architecture attaches a `ConvStackStructure`
 * (lib/models/lenet.ts does), and the description only counts while the model's `forward` is the
 * very function it describes (a wrapper such as `{ ...model, forward: other }` is not fusable).
 */
import type { ActivationName, Model } from '../model';

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

/** The model's conv-stack structure, or null when it has none (or its forward is not the one described). */
export function convStackOf(model: Model): ConvStackStructure | null {
  const s = model.structure;
  if (s === undefined || s === null || s.kind !== 'conv-stack' || s.forward !== model.forward) return null;
  return s;
}
