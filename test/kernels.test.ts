import { strict as assert } from 'assert';
import type { Tensor, Tensor4D, TensorInfo, NamedAttrMap, KernelFunc } from '@tensorflow/tfjs';
import { tf } from '../lib/backend';
import {
  installFastKernels,
  uninstallFastKernels,
  fastKernelsInstalled,
  originalKernelFunc,
  fastKernelFunc,
} from '../lib/kernels';

type Pad = 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];

interface Case {
  name: string;
  x: [number, number, number, number];
  f: [number, number, number, number];
  strides: number | [number, number];
  pad: Pad;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** Mulberry32: plain JS, seeded. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randn(shape: number[], rand: () => number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; ++i) v[i] = 2 * rand() - 1;
  return tf.tensor(v, shape, 'float32');
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; ++i) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Max abs difference relative to the reference's magnitude (floored at 1). */
function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  assert.equal(got.length, want.length, 'length');
  let m = 0;
  for (let i = 0; i < got.length; ++i) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= m)) m = d; // NaN propagates as a failure
  }
  return m / Math.max(1, maxAbs(want));
}

const TOL = 1e-5;

const CASES: Case[] = [];
for (const B of [1, 4]) {
  CASES.push(
    { name: `lenet conv1 b${B}`, x: [B, 36, 36, 3], f: [5, 5, 3, 12], strides: 2, pad: 'valid' },
    { name: `lenet conv2 b${B}`, x: [B, 20, 20, 12], f: [5, 5, 12, 12], strides: 2, pad: 'valid' },
    { name: `lenet conv3 b${B}`, x: [B, 12, 12, 12], f: [5, 5, 12, 12], strides: 1, pad: 'valid' },
  );
}
CASES.push(
  { name: 'mnist conv1 (padded 32x32x1)', x: [2, 32, 32, 1], f: [5, 5, 1, 12], strides: 2, pad: 'valid' },
  { name: '28x28x1 same s2', x: [2, 28, 28, 1], f: [5, 5, 1, 12], strides: 2, pad: 'same' },
  { name: '8x8x1 same s1', x: [3, 8, 8, 1], f: [5, 5, 1, 12], strides: 1, pad: 'same' },
  { name: '8x8x1 valid s2 (12x12 padded)', x: [1, 12, 12, 1], f: [5, 5, 1, 12], strides: 2, pad: 'valid' },
  { name: 'odd 13x11 s2 valid, CO=5', x: [2, 13, 11, 3], f: [5, 5, 3, 5], strides: 2, pad: 'valid' },
  { name: 'odd 9x7 s2 same, CI=5 CO=6', x: [2, 9, 7, 5], f: [3, 4, 5, 6], strides: 2, pad: 'same' },
  { name: 'odd 15x15 s2 same', x: [1, 15, 15, 12], f: [5, 5, 12, 12], strides: 2, pad: 'same' },
  { name: 'stride [2,1] explicit asymmetric', x: [2, 10, 9, 7], f: [4, 3, 7, 13], strides: [2, 1], pad: [[0, 0], [1, 2], [2, 0], [0, 0]] },
  { name: 'stride [1,3] explicit asymmetric', x: [1, 11, 14, 2], f: [3, 5, 2, 9], strides: [1, 3], pad: [[0, 0], [0, 3], [1, 2], [0, 0]] },
  { name: 'numeric pad 1, ceil rounding', x: [2, 10, 10, 3], f: [4, 4, 3, 8], strides: 3, pad: 1, dimRoundingMode: 'ceil' },
  { name: 'numeric pad 2, floor rounding', x: [1, 9, 9, 4], f: [5, 5, 4, 4], strides: 2, pad: 2, dimRoundingMode: 'floor' },
  { name: '1x1 filter', x: [2, 6, 5, 9], f: [1, 1, 9, 10], strides: 1, pad: 'valid' },
  { name: 'filter larger than input, same', x: [1, 3, 4, 2], f: [5, 5, 2, 3], strides: 1, pad: 'same' },
);

function outShapeOf(c: Case): number[] {
  return tf.backend_util.computeConv2DInfo(c.x, c.f, c.strides, 1, c.pad, c.dimRoundingMode).outShape;
}

/** Run a kernelFunc directly on the cpu backend and return its values (output disposed). */
function runKernel(fn: KernelFunc, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap): { shape: number[]; values: Float32Array } {
  const backend = tf.backend() as unknown as {
    readSync(id: object): Float32Array;
    disposeData(id: object): void;
  };
  const out = fn({ inputs, backend: backend as never, attrs }) as TensorInfo;
  const values = Float32Array.from(backend.readSync(out.dataId));
  backend.disposeData(out.dataId);
  return { shape: out.shape, values };
}

function attrsFor(c: Case, extra: NamedAttrMap): NamedAttrMap {
  return {
    strides: c.strides,
    pad: c.pad as NamedAttrMap[string],
    dataFormat: 'NHWC',
    dimRoundingMode: c.dimRoundingMode as NamedAttrMap[string],
    ...extra,
  };
}

describe('fast conv kernels', function () {
  let wasInstalled = false;
  before(function () {
    if (tf.getBackend() !== 'cpu') this.skip();
    wasInstalled = fastKernelsInstalled();
    installFastKernels();
  });
  after(() => {
    // Leave the registry as we found it for the other test files.
    if (tf.getBackend() === 'cpu' && !wasInstalled) uninstallFastKernels();
  });

  it('installs idempotently on the cpu backend and can be removed again', () => {
    installFastKernels();
    installFastKernels();
    assert.ok(fastKernelsInstalled());
    uninstallFastKernels();
    assert.ok(!fastKernelsInstalled());
    assert.equal(tf.getKernel('Conv2D', 'cpu').kernelFunc, originalKernelFunc('Conv2D'));
    installFastKernels();
    assert.ok(fastKernelsInstalled());
    assert.equal(tf.getKernel('Conv2DBackpropFilter', 'cpu').kernelFunc, fastKernelFunc('Conv2DBackpropFilter'));
  });

  for (const [i, c] of CASES.entries()) {
    it(`matches the original kernels: ${c.name}`, () => {
      const rand = prng(1000 + i);
      const x = randn(c.x, rand);
      const w = randn(c.f, rand);
      const outShape = outShapeOf(c);
      const dy = randn(outShape, rand);
      try {
        // Conv2D
        const cAttrs = attrsFor(c, { dilations: 1 });
        const ref = runKernel(originalKernelFunc('Conv2D'), { x, filter: w }, cAttrs);
        const got = runKernel(fastKernelFunc('Conv2D'), { x, filter: w }, cAttrs);
        assert.deepEqual(got.shape, ref.shape);
        assert.deepEqual(ref.shape, outShape);
        const e1 = relErr(got.values, ref.values);
        assert.ok(e1 < TOL, `Conv2D rel err ${e1}`);
        // Through the registry: tf.conv2d uses the installed fast kernel.
        const viaOp = tf.tidy(() => tf.conv2d(x as Tensor4D, w as Tensor4D, c.strides, c.pad, 'NHWC', 1, c.dimRoundingMode).dataSync());
        assert.ok(relErr(viaOp, ref.values) < TOL, 'tf.conv2d');

        // Conv2DBackpropInput
        const iAttrs = attrsFor(c, { inputShape: c.x });
        const refI = runKernel(originalKernelFunc('Conv2DBackpropInput'), { dy, filter: w }, iAttrs);
        const gotI = runKernel(fastKernelFunc('Conv2DBackpropInput'), { dy, filter: w }, iAttrs);
        assert.deepEqual(gotI.shape, c.x);
        assert.deepEqual(refI.shape, c.x);
        const e2 = relErr(gotI.values, refI.values);
        assert.ok(e2 < TOL, `Conv2DBackpropInput rel err ${e2}`);

        // Conv2DBackpropFilter
        const fAttrs = attrsFor(c, { filterShape: c.f });
        const refF = runKernel(originalKernelFunc('Conv2DBackpropFilter'), { x, dy }, fAttrs);
        const gotF = runKernel(fastKernelFunc('Conv2DBackpropFilter'), { x, dy }, fAttrs);
        assert.deepEqual(gotF.shape, c.f);
        assert.deepEqual(refF.shape, c.f);
        const e3 = relErr(gotF.values, refF.values);
        assert.ok(e3 < TOL, `Conv2DBackpropFilter rel err ${e3}`);
      } finally {
        tf.dispose([x, w, dy]);
      }
    });
  }

  it('falls back to the original kernel for dilations and NCHW', () => {
    const rand = prng(7);
    const x = randn([1, 11, 11, 3], rand);
    const w = randn([3, 3, 3, 4], rand);
    const attrs: NamedAttrMap = { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 2, dimRoundingMode: undefined as never };
    const ref = runKernel(originalKernelFunc('Conv2D'), { x, filter: w }, attrs);
    const got = runKernel(fastKernelFunc('Conv2D'), { x, filter: w }, attrs);
    assert.deepEqual(got.shape, ref.shape);
    assert.deepEqual(Array.from(got.values), Array.from(ref.values));
    // NCHW: the original handles it; the fast kernel must hand it over unchanged.
    const xc = randn([1, 3, 7, 6], rand);
    const cAttrs: NamedAttrMap = { strides: 1, pad: 'valid', dataFormat: 'NCHW', dilations: 1, dimRoundingMode: undefined as never };
    const refC = runKernel(originalKernelFunc('Conv2D'), { x: xc, filter: w }, cAttrs);
    const gotC = runKernel(fastKernelFunc('Conv2D'), { x: xc, filter: w }, cAttrs);
    assert.deepEqual(gotC.shape, refC.shape);
    assert.deepEqual(Array.from(gotC.values), Array.from(refC.values));
    tf.dispose([x, w, xc]);
  });

  /** First- and second-order gradients of a conv, with the given kernels installed. */
  function grads(c: Case, seed: number): Float32Array[] {
    const rand = prng(seed);
    return tf.tidy(() => {
      const x = randn(c.x, rand);
      const w = randn(c.f, rand);
      const u = randn(outShapeOf(c), rand);
      const v = randn(c.x, rand);
      const conv = (a: Tensor, b: Tensor) =>
        tf.conv2d(a as Tensor4D, b as Tensor4D, c.strides, c.pad, 'NHWC', 1, c.dimRoundingMode);
      // First order: d/dx, d/dw of sum(conv(x, w) * u) (Conv2DBackpropInput, Conv2DBackpropFilter).
      const [gx, gw] = tf.grads((a: Tensor, b: Tensor) => tf.sum(tf.mul(conv(a, b), u)))([x, w]);
      // Second order: d/du, d/dw of sum(d/dx[sum(conv(x, w) * u)] * v): the gradient of
      // Conv2DBackpropInput runs Conv2D and Conv2DBackpropFilter.
      const inner = (uu: Tensor, ww: Tensor) => {
        const dx = tf.grad((a: Tensor) => tf.sum(tf.mul(conv(a, ww), uu)))(x);
        return tf.sum(tf.mul(dx, v));
      };
      const [gu2, gw2] = tf.grads(inner)([u, w]);
      return [gx, gw, gu2, gw2].map((t) => t.dataSync() as Float32Array);
    });
  }

  // (Not the dimRoundingMode cases: tfjs's own Conv2DBackpropInput gradient drops dimRoundingMode.)
  for (const c of [0, 4, 7, 10, 11, 13, 14, 18].map((k) => CASES[k])) {
    it(`tf.grad through tf.conv2d agrees with and without fast kernels: ${c.name}`, () => {
      uninstallFastKernels();
      let ref: Float32Array[];
      try {
        assert.ok(!fastKernelsInstalled());
        ref = grads(c, 42);
      } finally {
        installFastKernels();
      }
      assert.ok(fastKernelsInstalled());
      const got = grads(c, 42);
      const names = ['dL/dx', 'dL/dw', 'd2/du', 'd2/dw'];
      for (let k = 0; k < ref.length; ++k) {
        const e = relErr(got[k], ref[k]);
        assert.ok(e < TOL, `${names[k]} rel err ${e}`);
      }
    });
  }

  it('does not leak tensors over repeated calls', () => {
    const c = CASES[1];
    const rand = prng(5);
    const x = randn(c.x, rand);
    const w = randn(c.f, rand);
    const step = () =>
      tf.tidy(() => {
        const f = (a: Tensor, b: Tensor) => tf.sum(tf.square(tf.conv2d(a as Tensor4D, b as Tensor4D, 2, 'valid')));
        const [gx, gw] = tf.grads(f)([x, w]);
        return tf.add(tf.sum(gx), tf.sum(gw)).dataSync()[0];
      });
    step();
    const before = tf.memory().numTensors;
    const beforeIds = tf.engine().backend.numDataIds();
    for (let i = 0; i < 20; ++i) step();
    assert.equal(tf.memory().numTensors, before);
    assert.equal(tf.engine().backend.numDataIds(), beforeIds);
    tf.dispose([x, w]);
  });
});
