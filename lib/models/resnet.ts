/**
 * Residual networks of basic blocks, made twice differentiable for DLG: the paper's own model.
 *
 * The paper (section 4.1): "We experiment our algorithm on modern CNN architectures ResNet-56 ...",
 * made twice differentiable by replacing ReLU with sigmoid and removing the strides. Two families:
 *
 * 1. resnet(depth) / resnet20 / resnet32 / resnet56: the CIFAR ResNet of He et al. 2016 (section 4.2),
 *      conv3x3(C -> 16) - BN - act - 3 stages of n basic blocks with 16 / 32 / 64 channels
 *      (depth = 6n + 2: n = 3 / 5 / 9) - global average pool - linear(64 -> classes),
 *    a basic block being  act( BN(conv3x3(act(BN(conv3x3(x))))) + shortcut(x) ).
 *    Options (ResNetOptions): activation (sigmoid, the paper), strides 'removed' (the paper: every
 *    stride 1, so stage 3 runs at the input's full resolution) or 'kept' (He et al.: stride 2 at the
 *    first block of stages 2 and 3), BatchNorm on or off, the shortcut, the initialisation.
 * 2. resnet18Released: the ResNet of the released DLG code's models/vision.py, exactly as defined
 *    there (its main script never uses it): conv3x3(C -> 64) - BN - sigmoid - four stages of two
 *    basic blocks with 64 / 128 / 256 / 512 channels, every stride 1, 1x1-conv + BN projection
 *    shortcuts where the width changes - F.avg_pool2d(out, 4) - flatten - linear. Two things in the
 *    released file keep it from running as written, and are resolved here: it calls F.Sigmoid (no
 *    such function; torch.sigmoid is meant), and its Linear(512, classes) only fits inputs whose
 *    4x4-pooled map is 1x1 (inputs of 4x4 to 7x7: with every stride 1 a 32x32 input leaves 8x8x512
 *    after the pool). Here the linear layer takes the flattened pooled map, 512 * floor(h/4) *
 *    floor(w/4) features in PyTorch's NCHW order (what LeNet's `hideen` argument does); for a
 *    4x4 input that is the released Linear(512, classes).
 *
 * BatchNorm runs in training mode with the batch's own statistics (layers.batchNorm), as in PyTorch
 * for a module in train() mode (a fresh module's default, and what the DLG code's client and any
 * client computing a training step use). With a single image it normalises each channel over the
 * image's spatial positions. Without BatchNorm every convolution gets a bias instead (BatchNorm's
 * shift plays that role when it is on; the ResNets' convolutions have bias=False).
 *
 * Shortcut, when a block changes the width or the resolution ('identity' by default):
 *  - 'identity': He et al.'s option A, parameter-free (layers.identityShortcut: subsample, zero-pad
 *    the new channels). This is the ResNet-20/32/56 of He et al.'s CIFAR experiments (0.27M /
 *    0.46M / 0.85M parameters) and of the common PyTorch CIFAR ResNets; the attacker gets no
 *    gradient from the shortcut.
 *  - 'projection': option B, a 1x1 convolution (stride as the block) followed by BatchNorm (when
 *    on), named shortcut.0 / shortcut.1 as in PyTorch; the released ResNet-18 uses it.
 *
 * Initialisation ('pytorch' by default, see ResNetInit): 'pytorch' is PyTorch's default (conv and
 * linear weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), BatchNorm scale 1 and shift 0), what
 * the released code's ResNet gets (its main script applies weights_init to LeNet only); 'dlg' is the
 * released code's weights_init, every weight and bias ~ U(-0.5, 0.5), BatchNorm's scale and shift
 * included. Both are drawn from `seed`, parameter by parameter in PyTorch's order. 'pytorch' is the
 * default because it is the one DLG can work with: a sigmoid after every residual sum multiplies
 * the gradient by at most 1/4 per block, and with BatchNorm scales ~ U(-0.5, 0.5) the first layers'
 * gradients vanish. ResNet-20 on a 16x16 photo (test/bench/results/resnet-norms.json): conv1.weight
 * holds 3.5e-16 of the shared gradient's squared norm with 'dlg', 2.0e-6 with 'pytorch' (linear.weight
 * about 0.95 with either); with 'dlg' the dummy image gets no usable gradient and DLG stops at once
 * (test/bench/results/resnet-dlg.json).
 *
 * What the gradient cannot tell (lib/analysis/scale.ts): with BatchNorm in training mode and a
 * bias-free first convolution, the output, the loss and every parameter gradient are the same for
 * an input x and for a x (a > 0), up to BatchNorm's eps. DLG can then recover the image only up to
 * that scale.
 *
 * Parameters are named and ordered as PyTorch's named_parameters() of the equivalent module
 * (conv1.weight, bn1.weight, bn1.bias, layer1.0.conv1.weight, ..., linear.weight, linear.bias),
 * filters HWIO, the linear weight [in, out]. Every op is a public tfjs op (conv2d, mean, rsqrt, pad,
 * matMul, ...): faster CPU kernels registered for them benefit the model without a change here.
 */
import { tf, useEngine } from '../engine';
import { createRng, uniformArray } from '../rng';
import type { Model, ActivationName } from './model';
import { ACTIVATIONS } from './model';
import { conv, batchNorm, identityShortcut, globalAvgPool, avgPool, linear, flattenNCHW } from './layers';
import type { Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs';

/** 'removed': every convolution stride 1 (the paper); 'kept': He et al.'s stride 2 at stages 2 and 3. */
export type ResNetStrides = 'removed' | 'kept';
/** 'identity': option A (parameter-free); 'projection': option B (1x1 conv + BatchNorm). */
export type ResNetShortcut = 'identity' | 'projection';
/**
 * 'dlg': the released DLG code's weights_init, every weight and bias ~ U(-0.5, 0.5) (BatchNorm's too);
 * 'pytorch': PyTorch's defaults (conv / linear ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), BatchNorm 1 and 0).
 */
export type ResNetInit = 'dlg' | 'pytorch';

export interface ResNetOptions {
  /** [height, width, channels] of one input; 32x32x3 (CIFAR) by default. */
  inputShape?: [number, number, number];
  /** 100 (CIFAR-100, as the paper's LeNet) by default. */
  numClasses?: number;
  /** Seed of the initialisation; 1234 (the released code's) by default. */
  seed?: number;
  /** 'sigmoid' (the paper) by default; 'relu' (He et al.) and 'tanh' for experiments beyond it. */
  activation?: ActivationName;
  /** 'removed' (the paper) by default. */
  strides?: ResNetStrides;
  /** BatchNorm after every convolution (training-mode batch statistics); true by default. */
  batchNorm?: boolean;
  /** 'identity' (option A) by default. */
  shortcut?: ResNetShortcut;
  /** 'pytorch' (PyTorch's default) by default; 'dlg': the released code's U(-0.5, 0.5). */
  init?: ResNetInit;
}

/** The released ResNet-18 has its architecture fixed; only these can be chosen. */
export interface ResNet18ReleasedOptions {
  /** [height, width, channels]; at least 4x4. 4x4 gives the released Linear(512, classes). Default 32x32x3. */
  inputShape?: [number, number, number];
  /** Default 100. */
  numClasses?: number;
  /** Default 1234. */
  seed?: number;
  /** Default 'pytorch' (what the module gets: the released main script applies weights_init to LeNet only); 'dlg': weights_init's U(-0.5, 0.5). */
  init?: ResNetInit;
}

/** The depths with a name: n = 3, 5, 9 blocks per stage. */
export const CIFAR_RESNET_DEPTHS = [20, 32, 56] as const;

// ------------------------------------------------------------------------------------------------
// The architecture as data: what forward() interprets, with parameter indices.

interface ConvRef { weight: number; bias?: number; stride: number; pad: number }
interface NormRef { gamma: number; beta: number }
type ShortcutRef =
  | { kind: 'none' }
  | { kind: 'identity'; outChannels: number; stride: number }
  | { kind: 'projection'; conv: ConvRef; bn?: NormRef };
interface BlockRef { conv1: ConvRef; bn1?: NormRef; conv2: ConvRef; bn2?: NormRef; shortcut: ShortcutRef }

interface StageSpec { channels: number; blocks: number; stride: number }
interface NetSpec {
  who: string;
  inputShape: [number, number, number];
  numClasses: number;
  seed: number;
  activation: ActivationName;
  init: ResNetInit;
  batchNorm: boolean;
  shortcut: ResNetShortcut;
  stemChannels: number;
  stages: StageSpec[];
  /** 'global': mean over all positions (CIFAR ResNet); a number: F.avg_pool2d(out, k) then flatten. */
  pool: 'global' | number;
}

type ParamKind = 'weight' | 'bias' | 'bn-weight' | 'bn-bias';
interface ParamSpec { name: string; shape: number[]; fanIn: number; kind: ParamKind }

/** Build the parameters and the forward function of a residual network of basic blocks. */
function buildResNet(spec: NetSpec, name: string): Model {
  useEngine();
  const { who, inputShape, numClasses, seed, activation, init } = spec;
  checkCommon(who, inputShape, numClasses, seed, init);
  const act = ACTIVATIONS[activation];
  if (act === undefined) throw new Error(`${who}: unknown activation '${activation}' (known: ${Object.keys(ACTIVATIONS).join(', ')})`);
  const [h0, w0, c0] = inputShape;

  const specs: ParamSpec[] = [];
  const add = (pname: string, shape: number[], fanIn: number, kind: ParamKind): number => {
    specs.push({ name: pname, shape, fanIn, kind });
    return specs.length - 1;
  };
  /** A k x k convolution (HWIO) with a bias when BatchNorm is off; PyTorch's padding k // 2. */
  const convParam = (prefix: string, k: number, cin: number, cout: number, stride: number, withBias: boolean): ConvRef => {
    const weight = add(`${prefix}.weight`, [k, k, cin, cout], cin * k * k, 'weight');
    const bias = withBias ? add(`${prefix}.bias`, [cout], cin * k * k, 'bias') : undefined;
    return { weight, bias, stride, pad: Math.floor(k / 2) };
  };
  const normParam = (prefix: string, c: number): NormRef => ({
    gamma: add(`${prefix}.weight`, [c], c, 'bn-weight'),
    beta: add(`${prefix}.bias`, [c], c, 'bn-bias'),
  });
  const bn = spec.batchNorm;

  const stem = convParam('conv1', 3, c0, spec.stemChannels, 1, !bn);
  const stemBn = bn ? normParam('bn1', spec.stemChannels) : undefined;
  let h = h0;
  let w = w0;
  let channels = spec.stemChannels;
  const blocks: BlockRef[] = [];
  spec.stages.forEach((stage, s) => {
    for (let b = 0; b < stage.blocks; b++) {
      const prefix = `layer${s + 1}.${b}`;
      const stride = b === 0 ? stage.stride : 1;
      const conv1 = convParam(`${prefix}.conv1`, 3, channels, stage.channels, stride, !bn);
      const bn1 = bn ? normParam(`${prefix}.bn1`, stage.channels) : undefined;
      const conv2 = convParam(`${prefix}.conv2`, 3, stage.channels, stage.channels, 1, !bn);
      const bn2 = bn ? normParam(`${prefix}.bn2`, stage.channels) : undefined;
      let shortcut: ShortcutRef = { kind: 'none' };
      if (stride !== 1 || channels !== stage.channels) {
        shortcut = spec.shortcut === 'identity'
          ? { kind: 'identity', outChannels: stage.channels, stride }
          : { kind: 'projection', conv: convParam(`${prefix}.shortcut.0`, 1, channels, stage.channels, stride, !bn), bn: bn ? normParam(`${prefix}.shortcut.1`, stage.channels) : undefined };
      }
      blocks.push({ conv1, bn1, conv2, bn2, shortcut });
      channels = stage.channels;
      h = Math.floor((h - 1) / stride) + 1; // 3x3, pad 1: floor((h + 2 - 3) / s) + 1
      w = Math.floor((w - 1) / stride) + 1;
    }
  });
  let features = channels;
  if (spec.pool !== 'global') {
    const k = spec.pool;
    if (h < k || w < k) throw new Error(`${who}: inputShape ${h0}x${w0} is too small for the ${k}x${k} average pool (at least ${k}x${k})`);
    features = channels * Math.floor(h / k) * Math.floor(w / k);
  }
  const fcWeight = add('linear.weight', [features, numClasses], features, 'weight');
  const fcBias = add('linear.bias', [numClasses], features, 'bias');

  const rng = createRng(seed);
  const params = specs.map((p) => {
    const n = p.shape.reduce((a, v) => a * v, 1);
    if (init === 'pytorch' && p.kind === 'bn-weight') return tf.ones(p.shape);
    if (init === 'pytorch' && p.kind === 'bn-bias') return tf.zeros(p.shape);
    const bound = init === 'dlg' ? 0.5 : 1 / Math.sqrt(p.fanIn);
    return tf.tensor(uniformArray(rng, n, -bound, bound), p.shape);
  });

  const convolve = (x: Tensor4D, c: ConvRef, p: Tensor[]) => conv(x, p[c.weight] as Tensor4D, c.stride, c.pad, c.bias === undefined ? undefined : p[c.bias]);
  const norm = (x: Tensor4D, r: NormRef | undefined, p: Tensor[]) => (r === undefined ? x : batchNorm(x, p[r.gamma], p[r.beta]));
  const forward = (x: Tensor4D, p: Tensor[]): Tensor2D => {
    let z = act(norm(convolve(x, stem, p), stemBn, p)) as Tensor4D;
    for (const b of blocks) {
      const inner = act(norm(convolve(z, b.conv1, p), b.bn1, p)) as Tensor4D;
      const residual = norm(convolve(inner, b.conv2, p), b.bn2, p);
      const sc = b.shortcut;
      const skip = sc.kind === 'none' ? z
        : sc.kind === 'identity' ? identityShortcut(z, sc.outChannels, sc.stride)
          : norm(convolve(z, sc.conv, p), sc.bn, p);
      z = act(tf.add(residual, skip)) as Tensor4D;
    }
    const pooled = spec.pool === 'global' ? globalAvgPool(z) : flattenNCHW(avgPool(z, spec.pool));
    return linear(pooled, p[fcWeight] as Tensor2D, p[fcBias]);
  };

  return {
    name: `${name} ${h0}x${w0}x${c0} -> ${numClasses}`,
    inputShape: [h0, w0, c0],
    numClasses,
    paramNames: specs.map((p) => p.name),
    params,
    forward,
  };
}

function checkCommon(who: string, inputShape: unknown, numClasses: number, seed: number, init: string): void {
  if (!Array.isArray(inputShape) || inputShape.length !== 3 || !inputShape.every((v) => Number.isInteger(v) && v > 0)) {
    throw new Error(`${who}: inputShape must be 3 positive integers [h, w, c], got ${JSON.stringify(inputShape)}`);
  }
  if (!Number.isInteger(numClasses) || numClasses < 2) throw new Error(`${who}: numClasses must be an integer >= 2, got ${numClasses}`);
  if (!Number.isInteger(seed)) throw new Error(`${who}: seed must be an integer, got ${seed}`);
  if (init !== 'dlg' && init !== 'pytorch') throw new Error(`${who}: init must be 'dlg' or 'pytorch', got '${init}'`);
}

/**
 * A CIFAR ResNet of depth 6n + 2 (n basic blocks per stage): 20, 32, 56 as in He et al., any
 * 6n + 2 >= 8 allowed (ResNet-8 is a cheap stand-in for tests). See the module comment for the options.
 */
export function resnet(depth: number, options: ResNetOptions = {}): Model {
  const who = `resnet${depth}`;
  if (!Number.isInteger(depth) || depth < 8 || (depth - 2) % 6 !== 0) throw new Error(`resnet: depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 56, ...), got ${depth}`);
  const strides = options.strides ?? 'removed';
  const batchNorm = options.batchNorm ?? true;
  const shortcut = options.shortcut ?? 'identity';
  if (strides !== 'removed' && strides !== 'kept') throw new Error(`${who}: strides must be 'removed' or 'kept', got '${strides}'`);
  if (typeof batchNorm !== 'boolean') throw new Error(`${who}: batchNorm must be true or false, got ${JSON.stringify(batchNorm)}`);
  if (shortcut !== 'identity' && shortcut !== 'projection') throw new Error(`${who}: shortcut must be 'identity' or 'projection', got '${shortcut}'`);
  const n = (depth - 2) / 6;
  const s = strides === 'kept' ? 2 : 1;
  const activation = options.activation ?? 'sigmoid';
  const spec: NetSpec = {
    who,
    inputShape: options.inputShape ?? [32, 32, 3],
    numClasses: options.numClasses ?? 100,
    seed: options.seed ?? 1234,
    activation,
    init: options.init ?? 'pytorch',
    batchNorm,
    shortcut,
    stemChannels: 16,
    stages: [{ channels: 16, blocks: n, stride: 1 }, { channels: 32, blocks: n, stride: s }, { channels: 64, blocks: n, stride: s }],
    pool: 'global',
  };
  const parts = [activation, `strides ${strides}`, batchNorm ? 'BatchNorm' : 'no BatchNorm', `${shortcut} shortcuts`, `init ${spec.init}`];
  return buildResNet(spec, `ResNet-${depth} (${parts.join(', ')})`);
}

/** ResNet-20 (3 blocks per stage, 0.27M parameters with identity shortcuts). */
export function resnet20(options: ResNetOptions = {}): Model {
  return resnet(20, options);
}

/** ResNet-32 (5 blocks per stage, 0.46M parameters with identity shortcuts). */
export function resnet32(options: ResNetOptions = {}): Model {
  return resnet(32, options);
}

/** ResNet-56, the paper's model (9 blocks per stage, 0.85M parameters with identity shortcuts). */
export function resnet56(options: ResNetOptions = {}): Model {
  return resnet(56, options);
}

/** The released DLG code's ResNet-18 (models/vision.py), see the module comment. 11M parameters. */
export function resnet18Released(options: ResNet18ReleasedOptions = {}): Model {
  const spec: NetSpec = {
    who: 'resnet18-released',
    inputShape: options.inputShape ?? [32, 32, 3],
    numClasses: options.numClasses ?? 100,
    seed: options.seed ?? 1234,
    activation: 'sigmoid',
    init: options.init ?? 'pytorch',
    batchNorm: true,
    shortcut: 'projection',
    stemChannels: 64,
    stages: [64, 128, 256, 512].map((channels) => ({ channels, blocks: 2, stride: 1 })),
    pool: 4,
  };
  return buildResNet(spec, `ResNet-18 of the released DLG code (sigmoid, strides 1, BatchNorm, projection shortcuts, 4x4 average pool, init ${spec.init})`);
}
