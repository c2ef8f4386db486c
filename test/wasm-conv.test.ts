import { strict as assert } from 'assert';
import type { NamedAttrMap, Tensor4D, TensorInfo } from '@tensorflow/tfjs';
import { tf, useEngine } from '../lib/engine';
import { originalKernelFunc } from '../lib/engine/kernels';
import { conv2dWasm, conv2dBackpropFilterWasm, conv2dBackpropInputWasm } from '../lib/engine/wasm-conv';
import { conv2dForward, conv2dBackpropFilter, conv2dBackpropInput } from '../lib/engine/kernels';
import { wasmStatus } from '../lib/engine/wasm';
import { createRng, uniformArray } from '../lib/rng';

type Shape4 = [number, number, number, number];
type Pad = 'valid' | 'same' | [[number, number], [number, number], [number, number], [number, number]];

interface ConvCase {
  x: Shape4;
  f: Shape4;
  strides: [number, number];
  pad: Pad;
}

interface Backend {
  data: { get(id: object): { values?: unknown } };
  disposeData(id: object): void;
}

/** Max abs difference over the reference's max magnitude (floored at 1), as test/kernels.test.ts. */
function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  assert.equal(got.length, want.length, 'length');
  let m = 0, w = 1;
  for (let i = 0; i < got.length; ++i) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= m)) m = d;
    w = Math.max(w, Math.abs(want[i]));
  }
  return m / w;
}

/** The stock cpu kernel's output values. */
function stock(name: 'Conv2D' | 'Conv2DBackpropInput' | 'Conv2DBackpropFilter', inputs: Record<string, Float32Array>, shapes: Record<string, number[]>, attrs: NamedAttrMap): Float32Array {
  const backend = tf.backend() as unknown as Backend;
  const tensors = Object.fromEntries(Object.keys(inputs).map((k) => [k, tf.tensor(inputs[k], shapes[k], 'float32')]));
  const out = originalKernelFunc(name)({ inputs: tensors, backend: backend as never, attrs }) as TensorInfo;
  const values = Float32Array.from(backend.data.get(out.dataId).values as Float32Array);
  backend.disposeData(out.dataId);
  tf.dispose(Object.values(tensors));
  return values;
}

/** Random cases: batch 1-3, sizes 1-13, channels 1-20, kernels 1-5, strides 1-3, 'valid' / 'same' / explicit pads. */
function randomCases(n: number, seed: number): ConvCase[] {
  const rng = createRng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rng.next() * (hi - lo + 1));
  const cases: ConvCase[] = [];
  while (cases.length < n) {
    const fh = int(1, 5), fw = int(1, 5);
    const kind = int(0, 2);
    const pad: Pad = kind === 0 ? 'valid' : kind === 1 ? 'same' : [[0, 0], [int(0, 3), int(0, 3)], [int(0, 3), int(0, 3)], [0, 0]];
    const x: Shape4 = [int(1, 3), int(1, 13), int(1, 13), int(1, 20)];
    const c: ConvCase = { x, f: [fh, fw, x[3], int(1, 20)], strides: [int(1, 3), int(1, 3)], pad };
    const info = tf.backend_util.computeConv2DInfo(c.x, c.f, c.strides, 1, c.pad as never);
    if (info.outHeight > 0 && info.outWidth > 0) cases.push(c);
  }
  return cases;
}

const RESNET: ConvCase[] = [
  { x: [1, 32, 32, 16], f: [3, 3, 16, 16], strides: [1, 1], pad: 'same' },
  { x: [1, 16, 16, 64], f: [3, 3, 64, 64], strides: [1, 1], pad: 'same' },
  { x: [2, 16, 16, 32], f: [3, 3, 32, 64], strides: [2, 2], pad: [[0, 0], [1, 1], [1, 1], [0, 0]] },
  { x: [2, 8, 8, 64], f: [1, 1, 64, 32], strides: [1, 1], pad: 'valid' }, // 1x1: no im2col
];

describe('tfjs convolutions on the wasm SIMD kernels (lib/engine/wasm-conv.ts)', () => {
  before(function () {
    useEngine(); // registers the fast kernels on the cpu backend
    if (tf.getBackend() !== 'cpu') this.skip();
    assert.ok(wasmStatus().available, wasmStatus().reason);
  });

  const cases = [...RESNET, ...randomCases(60, 17)];
  it(`Conv2D, Conv2DBackpropInput, Conv2DBackpropFilter = the stock cpu kernels on ${cases.length} shapes (ResNet 3x3 16-64 channels, 1x1, and 60 random strides / pads / sizes): rel. < 1e-5`, () => {
    const rng = createRng(3);
    let worst = 0;
    for (const c of cases) {
      const info = tf.backend_util.computeConv2DInfo(c.x, c.f, c.strides, 1, c.pad as never);
      const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
      const x = Float32Array.from(uniformArray(rng, size(c.x), -1, 1));
      const w = Float32Array.from(uniformArray(rng, size(c.f), -1, 1));
      const dy = Float32Array.from(uniformArray(rng, size(info.outShape), -1, 1));
      const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dilations: 1, dimRoundingMode: undefined } as unknown as NamedAttrMap;
      const label = JSON.stringify(c);
      const pairs: [string, Float32Array | null, Float32Array][] = [
        ['Conv2D', conv2dWasm(x, w, info), stock('Conv2D', { x, filter: w }, { x: c.x, filter: c.f }, attrs)],
        ['Conv2DBackpropInput', conv2dBackpropInputWasm(dy, w, info), stock('Conv2DBackpropInput', { dy, filter: w }, { dy: info.outShape, filter: c.f }, { ...attrs, inputShape: c.x } as unknown as NamedAttrMap)],
        ['Conv2DBackpropFilter', conv2dBackpropFilterWasm(x, dy, info), stock('Conv2DBackpropFilter', { x, dy }, { x: c.x, dy: info.outShape }, { ...attrs, filterShape: c.f } as unknown as NamedAttrMap)],
      ];
      for (const [name, got, want] of pairs) {
        assert.ok(got !== null, 'wasm kernels unavailable');
        const e = relErr(got, want);
        if (process.env.DLG_PRINT) console.log(name, label, e);
        worst = Math.max(worst, e);
        assert.ok(e < 1e-5, `${name} ${label}: rel. error ${e}`);
      }
      // and the same numbers as the JS kernels (float64 sums) to float32 rounding
      assert.ok(relErr(conv2dWasm(x, w, info) as Float32Array, conv2dForward(x, w, info)) < 1e-5, label);
      assert.ok(relErr(conv2dBackpropInputWasm(dy, w, info) as Float32Array, conv2dBackpropInput(dy, w, info)) < 1e-5, label);
      assert.ok(relErr(conv2dBackpropFilterWasm(x, dy, info) as Float32Array, conv2dBackpropFilter(x, dy, info)) < 1e-5, label);
    }
    // measured: worst 9.7e-7 (Conv2D 3x3 64 -> 64 at 16x16: 576-term sums)
    assert.ok(worst > 0 && worst < 1e-5, `worst ${worst}`);
  });

  it('tf.conv2d (the same bits) and its gradients run on them through the registered fast kernels, without leaking tensors', () => {
    const x = tf.randomUniform([2, 12, 12, 16], -1, 1, 'float32', 1) as Tensor4D;
    const w = tf.randomUniform([3, 3, 16, 16], -1, 1, 'float32', 2) as Tensor4D;
    const info = tf.backend_util.computeConv2DInfo([2, 12, 12, 16], [3, 3, 16, 16], 1, 1, 'same');
    const y = tf.conv2d(x, w, 1, 'same');
    assert.deepEqual(Array.from(y.dataSync()), Array.from(conv2dWasm(x.dataSync() as Float32Array, w.dataSync() as Float32Array, info) as Float32Array));
    y.dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) {
      tf.tidy(() => {
        const { grads } = tf.valueAndGrads((a, b) => tf.sum(tf.square(tf.conv2d(a as Tensor4D, b as Tensor4D, 1, 'same'))))([x, w]);
        assert.equal(grads[0].shape.join(), '2,12,12,16');
      });
    }
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([x, w]);
  });
});
