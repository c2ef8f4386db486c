/**
 * Rebuild the tensors of test/golden/make_golden.py (closed-form weights and inputs) in tfjs
 * layout, and load its PyTorch outputs. Shared by the golden tests.
 */
import * as fs from 'fs';
import * as path from 'path';
import { strict as assert } from 'assert';
import { tf } from '../lib/engine/backend';
import { lenet } from '../lib/models/lenet';
import type { Model, ActivationName } from '../lib/models/model';
import type { Tensor, Tensor4D } from '@tensorflow/tfjs';

export interface GoldenCase {
  name: string;
  activation: ActivationName;
  channels: number;
  size: number;
  numClasses: number;
  labels: number[];
  paramNames: string[];
  paramShapes: number[][];
  logits: number[];
  loss: number;
  sharedGrads: (number[] | null)[];
  fcWeightGradEvery13: number[];
  sharedGradNorms: number[];
  distance: number;
  dDistance_dDummyImage: number[];
  dDistance_dDummyLabel: number[];
}

export function loadGolden(file: string): { torch: string; cases: GoldenCase[] } {
  return JSON.parse(fs.readFileSync(path.join(__dirname, '../../test/golden', file), 'utf8'));
}

const wave = (n: number, salt: number) => 0.5 * Math.sin(0.7 * n + salt) * Math.cos(0.31 * n);
const pixel = (n: number, salt: number) => 0.5 + 0.5 * Math.sin(0.05 * n * (salt + 1) + salt);
const dummyValue = (n: number, salt: number) => 1.3 * Math.sin(1.9 * n + salt) + 0.4 * Math.cos(0.37 * n);

/** PyTorch-layout values (OIHW filter, [out, in] linear, 1-D bias) -> tfjs layout tensor. */
export function fromTorchLayout(values: ArrayLike<number>, torchShape: number[]): Tensor {
  if (torchShape.length === 4) {
    const [o, i, kh, kw] = torchShape;
    return tf.tidy(() => tf.transpose(tf.tensor4d(Array.from(values), [o, i, kh, kw]), [2, 3, 1, 0]));
  }
  if (torchShape.length === 2) return tf.tidy(() => tf.transpose(tf.tensor2d(Array.from(values), torchShape as [number, number])));
  return tf.tensor(Array.from(values), torchShape);
}

/** tfjs-layout tensor -> flat values in PyTorch layout. */
export function toTorchLayout(t: Tensor): Float32Array {
  if (t.rank !== 4 && t.rank !== 2) return t.dataSync() as Float32Array;
  // the values are read outside tf.tidy: tidy walks a returned array element by element looking for tensors
  const moved = tf.tidy(() => (t.rank === 4 ? tf.transpose(t, [3, 2, 0, 1]) : tf.transpose(t)));
  const values = moved.dataSync() as Float32Array;
  moved.dispose();
  return values;
}

/** The closed-form weights of the generators (parameter k: wave(i, k + 1) in PyTorch layout), in tfjs layout. */
export function closedFormParams(paramShapes: number[][]): Tensor[] {
  return paramShapes.map((shape, k) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = new Float64Array(n);
    for (let i = 0; i < n; i++) values[i] = wave(i, k + 1);
    return fromTorchLayout(values, shape);
  });
}

/** `base` with its parameters replaced by the closed-form weights (base's own are disposed). */
export function withClosedFormParams(base: Model, paramShapes: number[][]): Model {
  const params = closedFormParams(paramShapes);
  tf.dispose(base.params);
  return { ...base, params, forward: base.forward };
}

/** The golden case's LeNet with the closed-form weights. */
export function goldenModel(c: GoldenCase): Model {
  const base = lenet({ inputShape: [c.size, c.size, c.channels], numClasses: c.numClasses, activation: c.activation });
  return withClosedFormParams(base, c.paramShapes);
}

/** What the image and dummy formulas need of a case. */
type Sizes = Pick<GoldenCase, 'labels' | 'channels' | 'size' | 'numClasses'>;

function nchwToNhwc(values: Float64Array, b: number, c: number, h: number, w: number): Tensor4D {
  return tf.tidy(() => tf.transpose(tf.tensor4d(Float32Array.from(values), [b, c, h, w]), [0, 2, 3, 1]) as Tensor4D);
}

/** The ground-truth images of the case, NHWC. */
export function goldenImages(c: Sizes): Tensor4D {
  const n = c.labels.length * c.channels * c.size * c.size;
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = pixel(i, 0.3);
  return nchwToNhwc(v, c.labels.length, c.channels, c.size, c.size);
}

/** The dummy images and dummy label logits of the case. */
export function goldenDummies(c: Sizes): { image: Tensor4D; label: Tensor } {
  const b = c.labels.length;
  const n = b * c.channels * c.size * c.size;
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = dummyValue(i, 0.1);
  const l = new Float64Array(b * c.numClasses);
  for (let i = 0; i < l.length; i++) l[i] = dummyValue(i, 2.0);
  return { image: nchwToNhwc(v, b, c.channels, c.size, c.size), label: tf.tensor2d(Float32Array.from(l), [b, c.numClasses]) };
}

/** ||a - b|| / ||b|| */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

/** Assert that a wasm kernel's output equals the JS loops' bit for bit (Object.is: -0 and NaN too). */
export function assertSameBits(wasm: Float64Array, js: Float64Array, what: string): void {
  assert.equal(wasm.length, js.length, `${what}: length`);
  for (let i = 0; i < wasm.length; i++) assert.ok(Object.is(wasm[i], js[i]), `${what}[${i}]: wasm ${wasm[i]}, JS ${js[i]}`);
}
