/**
 * A DLG run's initial state shared with the PyTorch reference, so that both implementations run
 * the SAME trajectory: identical LeNet weights, private images, dummy images and dummy label logits,
 * float32 values bit for bit. One safetensors file (lib/reference/safetensors.ts), PyTorch layout:
 *
 *   truth.images       [B, C, H, W]   the private images (NCHW)
 *   param.<name>       conv weights [O, I, kh, kw], linear weight [classes, features], biases [n];
 *                      names as in lib/models/lenet.ts (conv1.weight, ..., fc.bias)
 *   start.images       [B, C, H, W]   the dummy images at the start
 *   start.labels       [B, classes]   the dummy label logits at the start
 *   check.distance     [1]            optional: the objective D at the start, as the writer computed it
 *   check.grad.images  [B, C, H, W]   optional: dD/d(dummy images) there
 *   check.grad.labels  [B, classes]   optional: dD/d(dummy label logits) there
 *   metadata           format 'dlg-start-state/1'; config: JSON of StartConfig
 *
 * `lib/reference/dlg_torch.py state` draws a state as the released code does (torch.manual_seed,
 * U(-0.5, 0.5) weights, randn dummies) for the images of a truth file that `writeTruth` wrote;
 * `readStart` gives our side the same model, truth and start point (dlg's `start` option), and
 * `writeStart` writes a state from our side (the PyTorch reference reads it the same way).
 */
import { tf } from '../engine';
import { lenet } from '../models/lenet';
import { disposeModel } from '../models/model';
import type { Model, ActivationName } from '../models/model';
import type { Img } from '../data/image';
import { readSafetensors, writeSafetensors, f32 } from './safetensors';
import type { SafeFile, SafeTensor } from './safetensors';

export const START_FORMAT = 'dlg-start-state/1';

/** What a state file's metadata says about the run. */
export interface StartConfig {
  model: 'lenet';
  /** [height, width, channels] of one image. */
  inputShape: [number, number, number];
  numClasses: number;
  activation: ActivationName;
  /** The private labels, one per image. */
  labels: number[];
  /** Names of the private images (files), if known. */
  images?: string[];
  /** The seed the writer drew the state from (its own random numbers). */
  seed?: number;
  /** Who drew the state, e.g. 'torch 2.13.0+cpu (lib/reference/dlg_torch.py ...)'. */
  madeBy?: string;
}

/** The objective at the start as the writer computed it. */
export interface StartCheck {
  distance: number;
  /** dD/dx in our order: dummy images NHWC, then label logits. */
  grad: Float64Array;
}

/** A state, in the toolkit's layouts. */
export interface StartState {
  config: StartConfig;
  /** LeNet with the state's weights (HWIO filters, [features, classes] dense weight). */
  model: Model;
  /** The private images, HWC. */
  images: Img[];
  labels: number[];
  /** x0 of dlg(): dummy images NHWC flat, then the dummy label logits (float32 values). */
  start: Float64Array;
  check?: StartCheck;
}

// ---------------------------------------------------------------------------------------------
// Layouts (plain arrays): PyTorch NCHW / OIHW / [out, in]  <->  ours NHWC / HWIO / [in, out]

/** [B, C, H, W] -> [B, H, W, C]. */
export function nchwToNhwc(v: ArrayLike<number>, b: number, c: number, h: number, w: number, out = new Float64Array(v.length)): Float64Array {
  for (let n = 0; n < b; n++) for (let k = 0; k < c; k++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    out[((n * h + y) * w + x) * c + k] = v[((n * c + k) * h + y) * w + x];
  }
  return out;
}

/** [B, H, W, C] -> [B, C, H, W]. */
export function nhwcToNchw(v: ArrayLike<number>, b: number, h: number, w: number, c: number, out = new Float64Array(v.length)): Float64Array {
  for (let n = 0; n < b; n++) for (let k = 0; k < c; k++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    out[((n * c + k) * h + y) * w + x] = v[((n * h + y) * w + x) * c + k];
  }
  return out;
}

/** A PyTorch-layout parameter as our tensor: OIHW -> HWIO, [out, in] -> [in, out], 1-D as is. */
function paramFromTorch(t: SafeTensor): { values: Float32Array; shape: number[] } {
  const v = t.data;
  if (t.shape.length === 4) {
    const [o, i, kh, kw] = t.shape;
    const out = new Float32Array(v.length);
    for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) {
      out[((y * kw + x) * i + b) * o + a] = v[((a * i + b) * kh + y) * kw + x];
    }
    return { values: out, shape: [kh, kw, i, o] };
  }
  if (t.shape.length === 2) {
    const [o, i] = t.shape;
    const out = new Float32Array(v.length);
    for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) out[b * o + a] = v[a * i + b];
    return { values: out, shape: [i, o] };
  }
  return { values: Float32Array.from(v), shape: [...t.shape] };
}

/** Our parameter values (HWIO, [in, out], 1-D) as a PyTorch-layout tensor. */
function paramToTorch(values: ArrayLike<number>, shape: number[]): SafeTensor {
  if (shape.length === 4) {
    const [kh, kw, i, o] = shape;
    const out = new Float32Array(values.length);
    for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) {
      out[((a * i + b) * kh + y) * kw + x] = values[((y * kw + x) * i + b) * o + a];
    }
    return { dtype: 'F32', shape: [o, i, kh, kw], data: out };
  }
  if (shape.length === 2) {
    const [i, o] = shape;
    const out = new Float32Array(values.length);
    for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) out[a * i + b] = values[b * o + a];
    return { dtype: 'F32', shape: [o, i], data: out };
  }
  return f32(values, shape);
}

// ---------------------------------------------------------------------------------------------
// Reading

function tensor(file: SafeFile, name: string, shape: number[], path: string): SafeTensor {
  const t = file.tensors[name];
  if (t === undefined) throw new Error(`${path}: no tensor '${name}' in this start state`);
  if (t.shape.join() !== shape.join()) throw new Error(`${path}: tensor '${name}' has shape ${JSON.stringify(t.shape)}, expected ${JSON.stringify(shape)}`);
  return t;
}

/** The metadata of a start state (or truth) file, checked. */
export function readStartConfig(file: SafeFile, path: string): StartConfig {
  if (file.metadata.format !== START_FORMAT) {
    throw new Error(`${path}: not a DLG start state (metadata format ${JSON.stringify(file.metadata.format)}, expected '${START_FORMAT}')`);
  }
  let c: StartConfig;
  try {
    c = JSON.parse(file.metadata.config ?? '');
  } catch {
    throw new Error(`${path}: the metadata 'config' is not JSON`);
  }
  if (c.model !== 'lenet') throw new Error(`${path}: model '${c.model}' (only 'lenet' states are read)`);
  if (!Array.isArray(c.inputShape) || c.inputShape.length !== 3 || !Array.isArray(c.labels) || c.labels.length === 0) {
    throw new Error(`${path}: config needs inputShape [h, w, c] and labels, got ${file.metadata.config}`);
  }
  return { ...c, activation: c.activation ?? 'sigmoid' };
}

/** Read a start state written by the PyTorch reference (or by writeStart): model, truth, start point, check values. */
export function readStart(path: string): StartState {
  const file = readSafetensors(path);
  const config = readStartConfig(file, path);
  const [h, w, c] = config.inputShape;
  const b = config.labels.length;
  const k = config.numClasses;
  const base = lenet({ inputShape: [h, w, c], numClasses: k, activation: config.activation, seed: 0 });
  const params = base.paramNames.map((name, i) => {
    const ours = base.params[i].shape;
    const torchShape = ours.length === 4 ? [ours[3], ours[2], ours[0], ours[1]] : ours.length === 2 ? [ours[1], ours[0]] : ours;
    const { values, shape } = paramFromTorch(tensor(file, `param.${name}`, torchShape, path));
    return tf.tensor(values, shape);
  });
  disposeModel(base);
  const model: Model = { ...base, params };
  const truth = nchwToNhwc(tensor(file, 'truth.images', [b, c, h, w], path).data, b, c, h, w);
  const n = h * w * c;
  const images: Img[] = Array.from({ length: b }, (_, i) => ({ height: h, width: w, channels: c, data: Float32Array.from(truth.subarray(i * n, (i + 1) * n)) }));
  const start = new Float64Array(b * n + b * k);
  nchwToNhwc(tensor(file, 'start.images', [b, c, h, w], path).data, b, c, h, w, start);
  start.set(tensor(file, 'start.labels', [b, k], path).data, b * n);
  let check: StartCheck | undefined;
  if (file.tensors['check.distance'] !== undefined) {
    const grad = new Float64Array(start.length);
    nchwToNhwc(tensor(file, 'check.grad.images', [b, c, h, w], path).data, b, c, h, w, grad);
    grad.set(tensor(file, 'check.grad.labels', [b, k], path).data, b * n);
    check = { distance: tensor(file, 'check.distance', [1], path).data[0], grad };
  }
  return { config, model, images, labels: [...config.labels], start, check };
}

/** Read the check values (objective and gradient at the start) that `dlg_torch.py bench --check` wrote, in our order. */
export function readCheck(path: string, config: StartConfig): StartCheck {
  const file = readSafetensors(path);
  const [h, w, c] = config.inputShape;
  const b = config.labels.length;
  const grad = new Float64Array(b * (h * w * c + config.numClasses));
  nchwToNhwc(tensor(file, 'check.grad.images', [b, c, h, w], path).data, b, c, h, w, grad);
  grad.set(tensor(file, 'check.grad.labels', [b, config.numClasses], path).data, b * h * w * c);
  return { distance: tensor(file, 'check.distance', [1], path).data[0], grad };
}

// ---------------------------------------------------------------------------------------------
// Writing

function truthTensor(images: Img[]): SafeTensor {
  const { height: h, width: w, channels: c } = images[0];
  const nhwc = new Float32Array(images.length * h * w * c);
  images.forEach((img, i) => {
    if (img.height !== h || img.width !== w || img.channels !== c) throw new Error('writeTruth: all images must share one shape');
    nhwc.set(img.data, i * img.data.length);
  });
  return f32(nhwcToNchw(nhwc, images.length, h, w, c), [images.length, c, h, w]);
}

/**
 * A truth file: the private images and labels only, for `dlg_torch.py state --truth FILE`, which adds
 * the released code's draws. The images are written exactly as our loaders made them (float32).
 */
export function writeTruth(path: string, images: Img[], labels: number[], numClasses: number, names?: string[]): void {
  if (images.length === 0 || images.length !== labels.length) throw new Error(`writeTruth: ${images.length} images and ${labels.length} labels`);
  const { height: h, width: w, channels: c } = images[0];
  const config: StartConfig = { model: 'lenet', inputShape: [h, w, c], numClasses, activation: 'sigmoid', labels, ...(names ? { images: names } : {}) };
  writeSafetensors(path, { tensors: { 'truth.images': truthTensor(images) }, metadata: { format: START_FORMAT, config: JSON.stringify(config) } });
}

/** Write a start state from our side (model weights, truth, x0 and optionally the objective there). */
export function writeStart(path: string, state: Omit<StartState, 'config'> & { config?: Partial<StartConfig> }): void {
  const { model, images, labels, start, check } = state;
  const [h, w, c] = model.inputShape;
  const b = labels.length;
  const k = model.numClasses;
  const n = b * h * w * c;
  if (start.length !== n + b * k) throw new Error(`writeStart: start has ${start.length} values, expected ${n + b * k} (joint label)`);
  const activation = model.structure?.activation ?? 'sigmoid';
  const config: StartConfig = { model: 'lenet', inputShape: [h, w, c], numClasses: k, activation, labels, madeBy: 'deep-leakage-ts (lib/reference/start-state.ts)', ...(state.config ?? {}) };
  const tensors: Record<string, SafeTensor> = {
    'truth.images': truthTensor(images),
    'start.images': f32(nhwcToNchw(start.subarray(0, n), b, h, w, c), [b, c, h, w]),
    'start.labels': f32(start.subarray(n), [b, k]),
  };
  model.paramNames.forEach((name, i) => {
    tensors[`param.${name}`] = paramToTorch(model.params[i].dataSync(), model.params[i].shape);
  });
  if (check) {
    tensors['check.distance'] = f32([check.distance], [1]);
    tensors['check.grad.images'] = f32(nhwcToNchw(check.grad.subarray(0, n), b, h, w, c), [b, c, h, w]);
    tensors['check.grad.labels'] = f32(check.grad.subarray(n), [b, k]);
  }
  writeSafetensors(path, { tensors, metadata: { format: START_FORMAT, config: JSON.stringify(config) } });
}
