import { strict as assert } from 'assert';
import type { Tensor, Tensor2D, Tensor4D, TensorInfo, NamedAttrMap, KernelFunc, DataType } from '@tensorflow/tfjs';
import { tf } from '../lib/engine/backend';
import { useEngine } from '../lib/engine';
import {
  installFastKernels,
  uninstallFastKernels,
  fastKernelsInstalled,
  originalKernelFunc,
  fastKernelFunc,
  FAST_KERNEL_NAMES,
  CONV_KERNEL_NAMES,
} from '../lib/engine/kernels';
import type { FastKernelName } from '../lib/engine/kernels';
import { lenet } from '../lib/models/lenet';
import { parameterGradients } from '../lib/models/gradients';
import { gradientDistance } from '../lib/attacks/objective';
import { softmax, oneHot } from '../lib/models/nn';
import { disposeModel } from '../lib/models/model';

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
  before(() => useEngine()); // the second-order fixes and the fast kernels, applied explicitly
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

// ------------------------------------------------------------------------------------------------
// Elementwise, slice/pad, transpose, reduction and matmul kernels

interface KernelOut {
  shape: number[];
  dtype: DataType;
  values: number[];
}

/** Run a kernelFunc directly on the cpu backend; any dtype; output disposed. */
function runAny(fn: KernelFunc, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap = {}): KernelOut {
  const backend = tf.backend() as unknown as {
    readSync(id: object): ArrayLike<number>;
    disposeData(id: object): void;
  };
  const out = fn({ inputs, backend: backend as never, attrs }) as TensorInfo;
  const values = Array.from(backend.readSync(out.dataId));
  backend.disposeData(out.dataId);
  return { shape: out.shape, dtype: out.dtype, values };
}

/** Identical element by element (NaN equals NaN; +0 and -0 differ). */
function assertSameBits(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; ++i) {
    const ok = Object.is(got[i], want[i]) || (Number.isNaN(got[i]) && Number.isNaN(want[i]));
    if (!ok) assert.fail(`${what}: element ${i} is ${got[i]}, original gives ${want[i]}`);
  }
}

/** Fast vs original kernel on the same inputs: same shape, dtype and values, bit for bit. */
function assertKernelMatches(name: FastKernelName, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap, what: string): KernelOut {
  const ref = runAny(originalKernelFunc(name), inputs, attrs);
  const got = runAny(fastKernelFunc(name), inputs, attrs);
  assert.deepEqual(got.shape, ref.shape, `${what}: shape`);
  assert.equal(got.dtype, ref.dtype, `${what}: dtype`);
  assertSameBits(got.values, ref.values, what);
  return got;
}

/** Random values with a sprinkling of 0, -0, +-Infinity, NaN, tiny and huge numbers. */
function randSpecial(shape: number[], rand: () => number, special = true): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  const odd = [0, -0, Infinity, -Infinity, NaN, 1e-38, -3e38, 1, -1];
  for (let i = 0; i < n; ++i) v[i] = special && rand() < 0.08 ? odd[Math.floor(rand() * odd.length)] : 4 * rand() - 2;
  return tf.tensor(v, shape, 'float32');
}

function randInt(shape: number[], rand: () => number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Int32Array(n);
  for (let i = 0; i < n; ++i) v[i] = Math.floor(rand() * 41) - 20 || 1; // no zeros (RealDiv)
  return tf.tensor(v, shape, 'int32');
}

describe('fast elementwise, slice, pad, transpose, sum and matmul kernels', function () {
  before(() => useEngine()); // the second-order fixes and the fast kernels, applied explicitly
  let wasInstalled = false;
  before(function () {
    if (tf.getBackend() !== 'cpu') this.skip();
    wasInstalled = fastKernelsInstalled();
    installFastKernels();
  });
  after(() => {
    if (tf.getBackend() === 'cpu' && !wasInstalled) uninstallFastKernels();
  });

  it('installs and removes every kernel in FAST_KERNEL_NAMES, or a chosen subset', () => {
    assert.ok(FAST_KERNEL_NAMES.length > CONV_KERNEL_NAMES.length);
    for (const name of FAST_KERNEL_NAMES) assert.equal(tf.getKernel(name, 'cpu').kernelFunc, fastKernelFunc(name), name);
    uninstallFastKernels();
    for (const name of FAST_KERNEL_NAMES) {
      assert.equal(tf.getKernel(name, 'cpu').kernelFunc, originalKernelFunc(name), name);
      assert.notEqual(originalKernelFunc(name), fastKernelFunc(name), name);
    }
    assert.ok(!fastKernelsInstalled());
    installFastKernels([...CONV_KERNEL_NAMES]);
    assert.ok(fastKernelsInstalled(CONV_KERNEL_NAMES));
    assert.ok(!fastKernelsInstalled());
    assert.equal(tf.getKernel('Multiply', 'cpu').kernelFunc, originalKernelFunc('Multiply'));
    installFastKernels();
    installFastKernels();
    assert.ok(fastKernelsInstalled());
  });

  const BINARY = ['Add', 'Sub', 'Multiply', 'RealDiv', 'SquaredDifference'] as const;
  const SHAPE_PAIRS: [number[], number[]][] = [
    [[], []],
    [[7], [7]],
    [[1], [7]],
    [[7], [1]],
    [[], [3, 4]],
    [[3, 4], []],
    [[1, 1], [768, 100]], // tf.sum's gradient: dy reshaped to [1,1] times ones
    [[768, 100], [1, 1]],
    [[768, 100], [768, 100]],
    [[4, 100], [100]], // dense bias
    [[100], [4, 100]],
    [[4, 100], [4, 1]], // row-wise (logSoftmax's shift)
    [[4, 1], [4, 100]],
    [[2, 5, 5, 3], [3]], // conv bias
    [[2, 5, 5, 3], [1, 1, 1, 3]],
    [[1, 1, 1, 3], [2, 5, 5, 3]],
    [[1, 1, 1, 1], [5, 5, 12, 12]],
    [[3, 1], [1, 4]], // outer broadcast on both sides
    [[2, 1, 4], [3, 1]],
    [[2, 3, 1, 5], [1, 3, 4, 1]],
    [[2, 1, 3, 1, 2], [1, 4, 1]], // rank 5 vs 3, alternating
    [[1, 6], [6]],
    [[6, 1], [6, 1]],
    [[1, 1, 1], [1]],
    [[0, 3], [3]], // empty
    [[2, 0], [1]],
    [[2, 1], [2, 0]],
  ];

  for (const name of BINARY) {
    it(`${name}: bit-identical to the original on ${SHAPE_PAIRS.length} shape pairs, incl. broadcasting corner cases`, () => {
      const rand = prng(name.length * 101);
      for (const [sa, sb] of SHAPE_PAIRS) {
        const a = randSpecial(sa, rand);
        const b = randSpecial(sb, rand);
        try {
          assertKernelMatches(name, { a, b }, {}, `${name} ${JSON.stringify(sa)} ${JSON.stringify(sb)}`);
        } finally {
          tf.dispose([a, b]);
        }
      }
    });
  }

  it('binary kernels: int32 and mixed inputs go to the original kernel; ops on int32, bool and complex64 still work', () => {
    const rand = prng(77);
    for (const name of BINARY) {
      for (const [sa, sb] of [[[3, 4], [3, 4]], [[3, 4], [4]], [[1, 1], [2, 3]], [[], [5]]] as [number[], number[]][]) {
        const a = randInt(sa, rand), b = randInt(sb, rand), c = randSpecial(sb, rand, false);
        try {
          const got = assertKernelMatches(name, { a, b }, {}, `${name} int32 ${JSON.stringify(sa)} ${JSON.stringify(sb)}`);
          assert.equal(got.dtype, 'int32');
          assertKernelMatches(name, { a, b: c }, {}, `${name} int32 x float32`);
          assertKernelMatches(name, { a: c, b: a }, {}, `${name} float32 x int32`);
        } finally {
          tf.dispose([a, b, c]);
        }
      }
    }
    tf.tidy(() => {
      const i = tf.tensor2d([[1, -2, 3], [4, 5, -6]], [2, 3], 'int32');
      const j = tf.tensor1d([2, 3, -4], 'int32');
      const sum = tf.add(i, j);
      assert.equal(sum.dtype, 'int32');
      assert.deepEqual(Array.from(sum.dataSync()), [3, 1, -1, 6, 8, -10]);
      assert.deepEqual(Array.from(tf.mul(i, j).dataSync()), [2, -6, -12, 8, 15, 24]);
      assert.deepEqual(Array.from(tf.sub(i, j).dataSync()), [-1, -5, 7, 2, 2, -2]);
      assert.deepEqual(Array.from(tf.squaredDifference(i, j).dataSync()), [1, 25, 49, 4, 4, 4]);
      assert.deepEqual(Array.from(tf.div(i, j).dataSync()), [0, -1, -1, 2, 1, 1]); // int32 division floors
      assert.deepEqual(Array.from(tf.div(tf.cast(i, 'float32'), j).dataSync()), [0.5, -2 / 3, -0.75, 2, 5 / 3, 1.5].map(Math.fround));
      const t = tf.tensor1d([true, false, true], 'bool');
      assert.deepEqual(Array.from(tf.sum(t).dataSync()), [2]);
      assert.deepEqual(Array.from(tf.logicalAnd(t, tf.tensor1d([true, true, false], 'bool')).dataSync()), [1, 0, 0]);
      const z = tf.complex([1, 2], [3, -1]);
      const w = tf.complex([0.5, -1], [2, 4]);
      const prod = tf.mul(z, w); // (1+3i)(0.5+2i) = -5.5+3.5i, (2-i)(-1+4i) = 2+9i
      assert.equal(prod.dtype, 'complex64');
      assert.deepEqual(Array.from(tf.real(prod).dataSync()), [-5.5, 2]);
      assert.deepEqual(Array.from(tf.imag(prod).dataSync()), [3.5, 9]);
      assert.deepEqual(Array.from(tf.real(tf.add(z, w)).dataSync()), [1.5, 1]);
      assert.deepEqual(Array.from(tf.imag(tf.sub(z, w)).dataSync()), [1, -5]);
    });
  });

  it('Sigmoid and Exp: bit-identical; int32 Exp goes to the original', () => {
    const rand = prng(5);
    for (const shape of [[], [1], [1, 16, 16, 12], [3, 100], [0, 4]]) {
      const x = randSpecial(shape, rand);
      const big = tf.tidy(() => tf.mul(x, 50)); // saturate sigmoid / overflow exp
      try {
        for (const name of ['Sigmoid', 'Exp'] as const) {
          assertKernelMatches(name, { x }, {}, `${name} ${JSON.stringify(shape)}`);
          assertKernelMatches(name, { x: big }, {}, `${name} x50 ${JSON.stringify(shape)}`);
        }
      } finally {
        tf.dispose([x, big]);
      }
    }
    const i = randInt([2, 3], rand);
    const e = assertKernelMatches('Exp', { x: i }, {}, 'Exp int32');
    assert.equal(e.dtype, 'float32');
    i.dispose();
  });

  it('Slice: bit-identical on NHWC crops, every rank, continuous and empty slices; int32 goes to the original', () => {
    const rand = prng(11);
    const cases: [number[], number | number[], number | number[]][] = [
      [[1, 20, 20, 12], [0, 2, 2, 0], [1, 16, 16, 12]], // tf.pad's gradient in LeNet
      [[1, 36, 36, 3], [0, 2, 2, 0], [1, 32, 32, 3]],
      [[1, 12, 12, 12], [0, 2, 2, 0], [1, 8, 8, 12]],
      [[3, 9, 7, 5], [1, 0, 3, 2], [2, 9, 4, 3]],
      [[3, 9, 7, 5], [0, 0, 0, 0], [-1, -1, -1, -1]], // everything
      [[3, 9, 7, 5], [1, 0, 0, 0], [1, -1, -1, -1]], // continuous
      [[3, 9, 7, 5], [2, 4, 0, 0], [1, 2, -1, -1]], // continuous
      [[3, 9, 7, 5], [0, 0, 0, 4], [3, 9, 7, 1]], // one channel
      [[3, 9, 7, 5], 1, 2], // number begin / size
      [[10], [3], [5]],
      [[6, 8], [1, 2], [4, 5]],
      [[6, 8], [0, 7], [6, 1]],
      [[2, 3, 4], [1, 1, 1], [1, 2, 3]],
      [[2, 3, 4, 5, 6], [1, 0, 2, 1, 3], [1, 3, 2, 3, 2]],
      [[4, 5], [2, 1], [0, 3]], // empty
      [[0, 5], [0, 1], [0, 3]],
    ];
    for (const [shape, begin, size] of cases) {
      const x = randSpecial(shape, rand);
      const i = randInt(shape, rand);
      try {
        const what = `Slice ${JSON.stringify(shape)} ${JSON.stringify(begin)} ${JSON.stringify(size)}`;
        assertKernelMatches('Slice', { x }, { begin, size }, what);
        assert.equal(assertKernelMatches('Slice', { x: i }, { begin, size }, `${what} int32`).dtype, 'int32');
      } finally {
        tf.dispose([x, i]);
      }
    }
  });

  it('PadV2: bit-identical on NHWC paddings, every rank, non-zero constants and empty inputs; int32 goes to the original', () => {
    const rand = prng(12);
    const cases: [number[], [number, number][], number][] = [
      [[1, 16, 16, 12], [[0, 0], [2, 2], [2, 2], [0, 0]], 0], // LeNet
      [[1, 32, 32, 3], [[0, 0], [2, 2], [2, 2], [0, 0]], 0],
      [[2, 8, 8, 12], [[0, 0], [2, 2], [2, 2], [0, 0]], 0],
      [[2, 5, 4, 3], [[1, 0], [0, 2], [3, 1], [1, 2]], 1.5],
      [[2, 5, 4, 3], [[0, 0], [0, 0], [0, 0], [0, 0]], 0],
      [[2, 5, 4, 3], [[0, 0], [0, 0], [0, 0], [2, 1]], -0.25],
      [[2, 5, 4, 3], [[3, 1], [0, 0], [0, 0], [0, 0]], 0],
      [[7], [[2, 3]], -1],
      [[3, 4], [[1, 1], [0, 2]], 0],
      [[2, 2, 3, 2, 2], [[0, 1], [1, 0], [0, 0], [1, 1], [0, 0]], 2],
      [[0, 3], [[1, 1], [2, 0]], 7], // empty input, non-empty output
      [[], [], 0],
    ];
    for (const [shape, paddings, constantValue] of cases) {
      const x = randSpecial(shape, rand);
      const i = randInt(shape, rand);
      try {
        const what = `PadV2 ${JSON.stringify(shape)} ${JSON.stringify(paddings)} ${constantValue}`;
        assertKernelMatches('PadV2', { x }, { paddings, constantValue }, what);
        assert.equal(assertKernelMatches('PadV2', { x: i }, { paddings, constantValue }, `${what} int32`).dtype, 'int32');
      } finally {
        tf.dispose([x, i]);
      }
    }
  });

  it('Transpose: bit-identical for every permutation of rank 2-4 and some of rank 5; int32 goes to the original', () => {
    const rand = prng(13);
    const perms = (n: number): number[][] =>
      n === 1 ? [[0]] : perms(n - 1).flatMap((p) => Array.from({ length: n }, (_, k) => [...p.slice(0, k), n - 1, ...p.slice(k)]));
    const shapes = [[1, 8, 8, 12], [1, 12, 8, 8], [2, 3, 4, 5], [3, 1, 4, 1], [4, 7], [1, 5], [2, 3, 4]];
    for (const shape of shapes) {
      const x = randSpecial(shape, rand);
      try {
        for (const perm of perms(shape.length)) assertKernelMatches('Transpose', { x }, { perm }, `Transpose ${JSON.stringify(shape)} ${perm}`);
      } finally {
        x.dispose();
      }
    }
    const x5 = randSpecial([2, 3, 1, 4, 2], rand);
    const i = randInt([2, 3, 4], rand);
    const e = randSpecial([0, 3, 2], rand);
    for (const perm of [[4, 3, 2, 1, 0], [0, 2, 4, 1, 3], [1, 0, 3, 4, 2]]) assertKernelMatches('Transpose', { x: x5 }, { perm }, `Transpose rank 5 ${perm}`);
    assert.equal(assertKernelMatches('Transpose', { x: i }, { perm: [2, 0, 1] }, 'Transpose int32').dtype, 'int32');
    assertKernelMatches('Transpose', { x: e }, { perm: [2, 0, 1] }, 'Transpose empty');
    tf.dispose([x5, i, e]);
  });

  it('Sum: bit-identical for full, innermost, leading and other axis sets, keepDims, empty; int32 and bool go to the original', () => {
    const rand = prng(14);
    const cases: [number[], number | number[] | null][] = [
      [[768, 100], null],
      [[768, 100], [0, 1]],
      [[4, 100], -1],
      [[4, 100], [1]],
      [[4, 100], [0]],
      [[1, 16, 16, 12], [0, 1, 2]], // bias gradient
      [[2, 8, 8, 12], [0, 1, 2]],
      [[2, 8, 8, 12], [1, 2, 3]],
      [[2, 8, 8, 12], [1, 2]], // middle: original
      [[2, 8, 8, 12], [0, 3]], // outer + inner: original
      [[2, 8, 8, 12], [2, 0]], // unsorted: original
      [[5, 5, 12, 12], [0, 1, 2, 3]],
      [[1, 1, 7], [0, 1]], // only size-1 dims reduced
      [[3, 1, 7], [1]],
      [[1, 6, 1, 4], [0, 1, 2]],
      [[12], [0]],
      [[], []],
      [[], null],
      [[0, 3], [0]],
      [[3, 0], [1]],
      [[0, 3], null],
    ];
    for (const [shape, axis] of cases) {
      const x = randSpecial(shape, rand, shape.length > 0 && shape[0] === 768 ? false : true);
      const i = randInt(shape, rand);
      try {
        for (const keepDims of [false, true]) {
          const what = `Sum ${JSON.stringify(shape)} axis ${JSON.stringify(axis)} keepDims ${keepDims}`;
          assertKernelMatches('Sum', { x }, { axis, keepDims } as unknown as NamedAttrMap, what);
          assert.equal(assertKernelMatches('Sum', { x: i }, { axis, keepDims } as unknown as NamedAttrMap, `${what} int32`).dtype, 'int32');
        }
      } finally {
        tf.dispose([x, i]);
      }
    }
    const b = tf.tensor2d([[true, false], [true, true]], [2, 2], 'bool');
    const s = assertKernelMatches('Sum', { x: b }, { axis: [0], keepDims: false }, 'Sum bool');
    assert.equal(s.dtype, 'int32');
    assert.deepEqual(s.values, [2, 1]);
    b.dispose();
  });

  it('BatchMatMul: bit-identical for every transpose combination, K below / above / across the 48 block, batches; int32 goes to the original', () => {
    const rand = prng(15);
    // [M, K, N] and batch shapes of a and b
    const cases: [number, number, number, number[], number[]][] = [
      [1, 768, 100, [], []], // LeNet dense layer, forward
      [1, 100, 768, [], []],
      [768, 1, 100, [], []], // weight gradient x^T dy (outer product)
      [3, 48, 5, [], []],
      [3, 49, 5, [], []],
      [5, 97, 3, [], []],
      [4, 7, 6, [], []],
      [1, 1, 1, [], []],
      [2, 0, 3, [], []], // K = 0
      [3, 50, 4, [2], [2]],
      [3, 5, 4, [1], [3]],
      [3, 5, 4, [2, 3], [2, 3]],
      [3, 60, 4, [2], []],
    ];
    for (const [M, K, N, ba, bb] of cases) {
      for (const transposeA of [false, true]) {
        for (const transposeB of [false, true]) {
          const aShape = [...ba, ...(transposeA ? [K, M] : [M, K])];
          const bShape = [...bb, ...(transposeB ? [N, K] : [K, N])];
          const a = randSpecial(aShape, rand, M * N < 1000);
          const b = randSpecial(bShape, rand, M * N < 1000);
          try {
            const what = `BatchMatMul ${JSON.stringify(aShape)} x ${JSON.stringify(bShape)} tA ${transposeA} tB ${transposeB}`;
            assertKernelMatches('BatchMatMul', { a, b }, { transposeA, transposeB }, what);
          } finally {
            tf.dispose([a, b]);
          }
        }
      }
    }
    const a = randInt([2, 3, 4], rand), b = randInt([2, 4, 5], rand);
    const r = assertKernelMatches('BatchMatMul', { a, b }, { transposeA: false, transposeB: false }, 'BatchMatMul int32');
    assert.equal(r.dtype, 'int32');
    tf.dispose([a, b]);
  });
});

// ------------------------------------------------------------------------------------------------
// The whole DLG objective, as lib/attacks/dlg.ts evaluates it, with and without the fast kernels

describe('DLG objective with and without the fast kernels', function () {
  before(() => useEngine()); // the second-order fixes and the fast kernels, applied explicitly
  let wasInstalled = false;
  before(function () {
    if (tf.getBackend() !== 'cpu') this.skip();
    wasInstalled = fastKernelsInstalled();
  });
  after(() => {
    if (tf.getBackend() !== 'cpu') return;
    if (wasInstalled) installFastKernels();
    else uninstallFastKernels();
  });

  interface Setup {
    name: string;
    inputShape: [number, number, number];
    classes: number;
    batch: number;
  }
  const SETUPS: Setup[] = [
    { name: 'LeNet 32x32x3 -> 100, batch 1 (the paper)', inputShape: [32, 32, 3], classes: 100, batch: 1 },
    { name: 'LeNet 28x28x1 -> 10, batch 2', inputShape: [28, 28, 1], classes: 10, batch: 2 },
  ];

  /** Max abs difference relative to the reference's largest magnitude. */
  function relToMax(got: ArrayLike<number>, want: ArrayLike<number>): number {
    return (relErr(got, want) * Math.max(1, maxAbs(want))) / Math.max(1e-30, maxAbs(want));
  }

  /** value, first-order parameter gradients, and second-order gradients in x' and y'. */
  function evaluate(s: Setup): { value: number; first: Float32Array[]; second: Float32Array[] } {
    const model = lenet({ inputShape: s.inputShape, numClasses: s.classes, seed: 99 });
    const rand = prng(2024);
    try {
      return tf.tidy(() => {
        const [h, w, c] = s.inputShape;
        const x = tf.tidy(() => tf.mul(tf.add(randn([s.batch, h, w, c], rand), 1), 0.5)) as Tensor4D;
        const labels = Array.from({ length: s.batch }, (_, i) => (7 * i + 3) % s.classes);
        const shared = parameterGradients(model, x, oneHot(labels, s.classes));
        const xd = randn([s.batch, h, w, c], rand) as Tensor4D;
        const yd = randn([s.batch, s.classes], rand) as Tensor2D;
        const first = parameterGradients(model, xd, softmax(yd)).map((g) => g.dataSync() as Float32Array);
        const objective = (a: Tensor, b?: Tensor) => gradientDistance(parameterGradients(model, a as Tensor4D, softmax(b as Tensor2D)), shared);
        const { value, grads } = tf.valueAndGrads(objective)([xd, yd]);
        return { value: value.dataSync()[0], first, second: grads.map((g) => g.dataSync() as Float32Array) };
      });
    } finally {
      disposeModel(model);
    }
  }

  for (const s of SETUPS) {
    it(`first- and second-order gradients agree to 1e-5 (relative): ${s.name}`, () => {
      uninstallFastKernels();
      assert.ok(!fastKernelsInstalled(CONV_KERNEL_NAMES) && tf.getKernel('Multiply', 'cpu').kernelFunc === originalKernelFunc('Multiply'));
      const ref = evaluate(s);
      installFastKernels();
      assert.ok(fastKernelsInstalled());
      const got = evaluate(s);
      assert.ok(Number.isFinite(ref.value) && ref.value > 0);
      assert.ok(Math.abs(got.value - ref.value) <= 1e-5 * Math.abs(ref.value), `value ${got.value} vs ${ref.value}`);
      const errs: string[] = [];
      ref.first.forEach((r, k) => {
        const e = relToMax(got.first[k], r);
        errs.push(e.toExponential(1));
        assert.ok(e < TOL, `first-order parameter gradient ${k}: rel err ${e}`);
      });
      ['x', 'y'].forEach((v, k) => {
        const e = relToMax(got.second[k], ref.second[k]);
        errs.push(e.toExponential(1));
        assert.ok(e < TOL, `second-order dD/d${v}': rel err ${e}`);
      });
      if (process.env.VERBOSE) console.log(`      rel errors: ${errs.join(' ')}`);
    });
  }

  it('the attack closure does not leak tensors or backend data with the fast kernels', () => {
    installFastKernels();
    const model = lenet({ seed: 5 });
    const rand = prng(3);
    const shared = tf.tidy(() => parameterGradients(model, tf.mul(tf.add(randn([1, 32, 32, 3], rand), 1), 0.5) as Tensor4D, oneHot([4], 100)));
    const valueAndGrads = tf.valueAndGrads((a: Tensor, b?: Tensor) =>
      gradientDistance(parameterGradients(model, a as Tensor4D, softmax(b as Tensor2D)), shared),
    );
    const x = new Float32Array(32 * 32 * 3).map(() => 2 * rand() - 1);
    const y = new Float32Array(100).map(() => 2 * rand() - 1);
    const step = () =>
      tf.tidy(() => {
        const { value, grads } = valueAndGrads([tf.tensor4d(x, [1, 32, 32, 3]), tf.tensor2d(y, [1, 100])]);
        grads.forEach((g) => g.dataSync());
        return value.dataSync()[0];
      });
    const v0 = step();
    const before = tf.memory().numTensors;
    const beforeIds = tf.engine().backend.numDataIds();
    for (let i = 0; i < 5; ++i) assert.equal(step(), v0);
    assert.equal(tf.memory().numTensors, before);
    assert.equal(tf.engine().backend.numDataIds(), beforeIds);
    tf.dispose(shared);
    disposeModel(model);
  });
});
