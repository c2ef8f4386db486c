/**
 * What both evaluators of the fused DLG objective (fused-js.ts, fused-wasm.ts) start from: the
 * checked options, the conv-stack geometry, and the parameters and shared gradient as float32 arrays.
 * The formulas are in fused.ts.
 */
import { tf } from '.';
import type { ActivationName, ConvStackStructure, Model } from '../models/model';
import type { Tensor } from '@tensorflow/tfjs';
import type { FusedObjectiveOptions } from './fused-types';
import { sharedNorm2 } from './fused-cosine';

export type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

export interface PlanLayer {
  info: Conv2DInfo;
  /** Filter (HWIO) and bias, and the shared gradient's entries for them. */
  w: Float32Array;
  b: Float32Array;
  sw: Float32Array;
  sb: Float32Array;
  /** Output pixels B * outHeight * outWidth, and channels. */
  pixels: number;
  channels: number;
}

export interface FusedPlan {
  B: number;
  /** Classes. */
  K: number;
  /** The fixed target [B, K] (label 'fixed'), or null for the joint label. */
  target: Float64Array | null;
  /** Image values B*h*w*c (NHWC), and the length of x and grad (images, then B*K label logits if joint). */
  nImage: number;
  size: number;
  act: ActivationName;
  layers: PlanLayer[];
  /** Dense layer [F, K] and bias [K], and the shared gradient's entries for them. */
  Wd: Float32Array;
  bd: Float32Array;
  sWd: Float32Array;
  sbd: Float32Array;
  /** Features F = channels * pixels of the last conv per sample; pixels OHW and channels CL of it. */
  F: number;
  OHW: number;
  CL: number;
  /** NCHW feature j of one sample <-> NHWC offset perm[j] in the last activation (torch's view()). */
  perm: Int32Array;
  /** distance 'cosine': the weights per parameter tensor (model.params order) and sn (fused-cosine.ts); null for 'l2'. */
  cosine: { weights: number[]; sn: number } | null;
}

/**
 * The plan for `model` and the shared gradient, or null when the model carries no conv-stack
 * structure. Bad options or shapes: one clear error.
 */
export function fusedPlan(model: Model, shared: Tensor[], options: FusedObjectiveOptions): FusedPlan | null {
  const { batchSize: B, label } = options;
  if (convStackOf(model) === null) return null;
  if (!Number.isInteger(B) || B < 1) throw new Error(`fusedObjective: batchSize must be a positive integer, got ${B}`);
  if (label !== 'joint' && label !== 'fixed') throw new Error(`fusedObjective: label must be 'joint' or 'fixed', got '${label}'`);
  const distance = options.distance ?? 'l2';
  if (distance !== 'l2' && distance !== 'cosine') throw new Error(`fusedObjective: distance must be 'l2' or 'cosine', got '${String(distance)}'`);
  if (options.weights !== undefined && distance !== 'cosine') throw new Error(`fusedObjective: weights are for distance 'cosine' only`);
  const geometry = convStackGeometry(model, B, 'fusedObjective')!;
  const { structure, F, OHW, CL, perm } = geometry;
  const L = structure.convs.length;
  const nParams = 2 * L + 2;
  if (shared.length !== nParams) throw new Error(`fusedObjective: shared gradient has ${shared.length} tensors, expected ${nParams}`);
  shared.forEach((g, i) => {
    if (g.shape.join() !== model.params[i].shape.join()) {
      throw new Error(`fusedObjective: shared gradient ${model.paramNames[i]} has shape ${JSON.stringify(g.shape)}, expected ${JSON.stringify(model.params[i].shape)}`);
    }
  });
  const K = model.numClasses;
  const [h0, w0, c0] = model.inputShape;
  const nImage = B * h0 * w0 * c0;
  const size = nImage + (label === 'joint' ? B * K : 0);
  const f32 = (t: Tensor) => Float32Array.from(t.dataSync());

  let target: Float64Array | null = null;
  if (label === 'fixed') {
    if (options.target === undefined || options.target.length !== B * K) {
      throw new Error(`fusedObjective: label 'fixed' needs a target of ${B}x${K} = ${B * K} values, got ${options.target === undefined ? 'none' : options.target.length}`);
    }
    target = Float64Array.from(options.target);
  }

  const layers: PlanLayer[] = geometry.layers.map(({ info, channels }, l) => ({
    info,
    w: f32(model.params[2 * l]),
    b: f32(model.params[2 * l + 1]),
    sw: f32(shared[2 * l]),
    sb: f32(shared[2 * l + 1]),
    pixels: B * info.outHeight * info.outWidth,
    channels,
  }));
  const sWd = f32(shared[2 * L]), sbd = f32(shared[2 * L + 1]);
  let cosine: FusedPlan['cosine'] = null;
  if (distance === 'cosine') {
    const weights = options.weights ?? new Array<number>(nParams).fill(1);
    if (weights.length !== nParams || !weights.every((w) => typeof w === 'number' && w >= 0 && Number.isFinite(w))) {
      throw new Error(`fusedObjective: weights must be ${nParams} numbers >= 0 (one per parameter tensor), got ${JSON.stringify(options.weights)}`);
    }
    const all = [...layers.flatMap((ly) => [ly.sw, ly.sb]), sWd, sbd];
    cosine = { weights: [...weights], sn: sharedNorm2(all, weights) };
  }
  return {
    B, K, target, nImage, size, act: structure.activation, layers,
    Wd: f32(model.params[2 * L]), bd: f32(model.params[2 * L + 1]), sWd, sbd,
    F, OHW, CL, perm, cosine,
  };
}

/** The model's conv-stack structure, or null when it has none (or its forward is not the one described). */
export function convStackOf(model: Model): ConvStackStructure | null {
  const s = model.structure;
  if (s === undefined || s === null || s.kind !== 'conv-stack' || s.forward !== model.forward) return null;
  return s;
}

/** One conv layer of a conv-stack model laid out for a batch. */
export interface ConvLayerGeometry {
  /** tfjs's geometry of the convolution for the batch's NHWC input. */
  info: Conv2DInfo;
  /** Output channels, and the filter's rows kernel * kernel * inChannels. */
  channels: number;
  rows: number;
}

/** The conv stack of a model laid out for a batch, and how its last activation is flattened. */
export interface ConvStackGeometry {
  structure: ConvStackStructure;
  layers: ConvLayerGeometry[];
  /** Features F = CL * OHW of one sample after the last conv: OHW pixels of CL channels. */
  F: number;
  OHW: number;
  CL: number;
  /** NCHW feature j of one sample (torch's view()) <-> NHWC offset perm[j] in the last activation. */
  perm: Int32Array;
}

/**
 * The geometry of `model`'s conv stack for batches of `batch` NHWC images, with the model's parameter
 * shapes checked against its structure (errors start with `who`); null when the model has no
 * conv-stack structure. The fused objective (fusedPlan), the training pass (fused-train.ts) and the
 * per-example gradients (per-example.ts) all lay out their layers from it.
 */
export function convStackGeometry(model: Model, batch: number, who: string): ConvStackGeometry | null {
  const structure = convStackOf(model);
  if (structure === null) return null;
  const L = structure.convs.length;
  const K = model.numClasses;
  const shapeOf = (i: number) => model.params[i].shape.join();
  if (model.params.length !== 2 * L + 2) throw new Error(`${who}: ${model.name} has ${model.params.length} parameters, its structure ${2 * L + 2}`);
  const [h0, w0, c0] = model.inputShape;
  let inShape: [number, number, number, number] = [batch, h0, w0, c0];
  const layers = structure.convs.map((conv, l): ConvLayerGeometry => {
    const filterShape: [number, number, number, number] = [conv.kernel, conv.kernel, conv.inChannels, conv.outChannels];
    if (shapeOf(2 * l) !== filterShape.join() || shapeOf(2 * l + 1) !== String(conv.outChannels) || inShape[3] !== conv.inChannels) {
      throw new Error(`${who}: ${model.name}: parameters of conv ${l + 1} do not match its structure`);
    }
    const p = conv.pad;
    const info = tf.backend_util.computeConv2DInfo(inShape, filterShape, conv.stride, 1, [[0, 0], [p, p], [p, p], [0, 0]], undefined, false, 'channelsLast');
    inShape = [batch, info.outHeight, info.outWidth, conv.outChannels];
    return { info, channels: conv.outChannels, rows: conv.kernel * conv.kernel * conv.inChannels };
  });
  const last = layers[L - 1];
  const OHW = last.info.outHeight * last.info.outWidth;
  const CL = last.channels;
  const F = CL * OHW;
  if (shapeOf(2 * L) !== `${F},${K}` || shapeOf(2 * L + 1) !== String(K)) {
    throw new Error(`${who}: ${model.name}: dense layer is ${JSON.stringify(model.params[2 * L].shape)}, its structure gives [${F}, ${K}]`);
  }
  const perm = new Int32Array(F);
  for (let c = 0; c < CL; c++) for (let hw = 0; hw < OHW; hw++) perm[c * OHW + hw] = hw * CL + c;
  return { structure, layers, F, OHW, CL, perm };
}
