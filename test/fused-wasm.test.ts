import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as v8 from 'v8';
import * as vm from 'vm';
import { tf } from '../lib/engine';
import { parameterGradients } from '../lib/models/gradients';
import { gradientDistance } from '../lib/attacks/objective';
import { softmax, oneHot } from '../lib/models/nn';
import { lenet } from '../lib/models/lenet';
import { disposeModel, ACTIVATIONS } from '../lib/models/model';
import type { ActivationName, Model } from '../lib/models/model';
import { fusedObjective, chooseKernels } from '../lib/engine/fused';
import type { FusedKernels, FusedObjective } from '../lib/engine/fused';
import { loadWasm, wasmStatus, wasmMemoryBytes, WASM_FILE } from '../lib/engine/wasm';
import { runParallel } from '../lib/experiments/parallel';
import { createRng, uniformArray } from '../lib/rng';
import { loadGolden, goldenModel, goldenImages, goldenDummies, relativeError } from './golden';
import type { GoldenCase } from './golden';
import type { FusedJobResult } from './helpers/fused-task';
import type { Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs';

const golden = loadGolden('lenet.json');

/** D and its gradient from `f` at x = [image, label logits if joint]. */
function evalAt(f: FusedObjective, image: ArrayLike<number>, logits?: ArrayLike<number>) {
  const x = new Float64Array(f.size);
  x.set(image);
  if (logits) x.set(logits, image.length);
  const grad = new Float64Array(f.size);
  const d = f.evaluate(x, grad);
  return { d, gx: grad.slice(0, image.length), gy: grad.slice(image.length) };
}

/** NHWC -> NCHW (PyTorch's layout) of a gradient of golden case c. */
function toNchw(v: ArrayLike<number>, c: GoldenCase): Float64Array {
  const b = c.labels.length, h = c.size, w = c.size, ch = c.channels;
  const out = new Float64Array(v.length);
  for (let n = 0; n < b; n++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < ch; k++) {
    out[((n * ch + k) * h + y) * w + x] = v[((n * h + y) * w + x) * ch + k];
  }
  return out;
}

/** D and its gradients through tfjs autodiff (the reference path), joint or fixed label. */
function tfjsObjective(model: Model, shared: Tensor[], image: Tensor4D, label: Tensor2D, joint: boolean) {
  let out = { d: NaN, gx: new Float64Array(0), gy: new Float64Array(0) };
  tf.tidy(() => {
    const objective = (xd: Tensor, yd?: Tensor) =>
      gradientDistance(parameterGradients(model, xd as Tensor4D, joint ? softmax(yd as Tensor2D) : label), shared);
    const { value, grads } = tf.valueAndGrads(objective)(joint ? [image, label] : [image]);
    out = { d: value.dataSync()[0], gx: Float64Array.from(grads[0].dataSync()), gy: joint ? Float64Array.from(grads[1].dataSync()) : new Float64Array(0) };
  });
  return out;
}

interface StackOptions {
  inputShape: [number, number, number];
  convs: { kernel: number; stride: number; pad: number; out: number }[];
  classes: number;
  activation: ActivationName;
  seed: number;
}

/** A conv stack of any geometry with its ConvStackStructure (LeNet's recipe, other kernels/strides/pads/channels). */
function convStack(o: StackOptions): Model {
  const rng = createRng(o.seed);
  const params: Tensor[] = [];
  const names: string[] = [];
  let [h, w, c] = o.inputShape;
  o.convs.forEach((cv, i) => {
    params.push(tf.tensor(uniformArray(rng, cv.kernel * cv.kernel * c * cv.out, -0.5, 0.5), [cv.kernel, cv.kernel, c, cv.out]));
    params.push(tf.tensor(uniformArray(rng, cv.out, -0.5, 0.5), [cv.out]));
    names.push(`conv${i + 1}.weight`, `conv${i + 1}.bias`);
    h = Math.floor((h + 2 * cv.pad - cv.kernel) / cv.stride) + 1;
    w = Math.floor((w + 2 * cv.pad - cv.kernel) / cv.stride) + 1;
    c = cv.out;
  });
  const flat = h * w * c;
  params.push(tf.tensor(uniformArray(rng, flat * o.classes, -0.5, 0.5), [flat, o.classes]), tf.tensor(uniformArray(rng, o.classes, -0.5, 0.5), [o.classes]));
  names.push('fc.weight', 'fc.bias');
  const act = ACTIVATIONS[o.activation];
  const forward = (x: Tensor4D, p: Tensor[]): Tensor2D => {
    let z: Tensor4D = x;
    o.convs.forEach((cv, i) => {
      const pad: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [cv.pad, cv.pad], [cv.pad, cv.pad], [0, 0]];
      z = act(tf.add(tf.conv2d(z, p[2 * i] as Tensor4D, cv.stride, pad), p[2 * i + 1])) as Tensor4D;
    });
    const flattened = tf.reshape(tf.transpose(z, [0, 3, 1, 2]), [z.shape[0], flat]) as Tensor2D;
    return tf.add(tf.matMul(flattened, p[p.length - 2] as Tensor2D), p[p.length - 1]) as Tensor2D;
  };
  let inC = o.inputShape[2];
  const convs = o.convs.map((cv) => {
    const s = { kernel: cv.kernel, stride: cv.stride, pad: cv.pad, inChannels: inC, outChannels: cv.out };
    inC = cv.out;
    return s;
  });
  return {
    name: `conv stack ${JSON.stringify(o.convs)}`, inputShape: o.inputShape, numClasses: o.classes, paramNames: names, params, forward,
    structure: { kind: 'conv-stack', forward, convs, activation: o.activation, flatten: 'NCHW' },
  };
}

describe('fused DLG objective on the wasm SIMD kernels (lib/engine/fused-wasm.ts)', () => {
  it('the wasm module loads here (Node 20 has WebAssembly SIMD) and auto picks it', () => {
    const status = wasmStatus();
    assert.ok(status.available, `wasm kernels unavailable: ${status.reason}`);
    const model = lenet({ inputShape: [8, 8, 1], numClasses: 3 });
    const shared = model.params.map((p) => tf.zerosLike(p));
    assert.equal(fusedObjective(model, shared, { batchSize: 1, label: 'joint' })?.kernels, 'wasm');
    assert.equal(fusedObjective(model, shared, { batchSize: 1, label: 'joint', kernels: 'js' })?.kernels, 'js');
    tf.dispose(shared);
    disposeModel(model);
  });

  it('both kernels match the PyTorch float64 golden values (wasm: float32 sums, rel. < 3e-6; JS: float64 sums, rel. < 1e-6)', () => {
    // measured: wasm <= 1.5e-6 (dx of the tanh case), JS <= 4.5e-7; the existing bound of fused.test.ts is 5e-6
    const worst = { wasm: 0, js: 0 };
    for (const c of golden.cases) {
      const model = goldenModel(c);
      const x = goldenImages(c);
      const shared = tf.tidy(() => parameterGradients(model, x, oneHot(c.labels, c.numClasses)));
      const { image, label } = goldenDummies(c);
      for (const kernels of ['wasm', 'js'] as const) {
        const f = fusedObjective(model, shared, { batchSize: c.labels.length, label: 'joint', kernels }) as FusedObjective;
        assert.equal(f.kernels, kernels);
        const r = evalAt(f, image.dataSync(), label.dataSync());
        const errs = [Math.abs(r.d - c.distance) / c.distance, relativeError(toNchw(r.gx, c), c.dDistance_dDummyImage), relativeError(r.gy, c.dDistance_dDummyLabel)];
        worst[kernels] = Math.max(worst[kernels], ...errs);
        assert.ok(Math.max(...errs) < (kernels === 'wasm' ? 3e-6 : 1e-6), `${c.name} ${kernels}: D ${errs[0]}, dx ${errs[1]}, dy ${errs[2]}`);
      }
      tf.dispose([x, image, label, ...shared]);
      disposeModel(model);
    }
    assert.ok(worst.wasm > 0 && worst.js > 0);
  });

  const stacks: (StackOptions & { batch: number; label: 'joint' | 'fixed' })[] = [
    { inputShape: [11, 9, 2], convs: [{ kernel: 3, stride: 1, pad: 1, out: 5 }, { kernel: 4, stride: 3, pad: 0, out: 7 }], classes: 7, activation: 'sigmoid', seed: 1, batch: 3, label: 'joint' },
    { inputShape: [10, 10, 3], convs: [{ kernel: 5, stride: 2, pad: 2, out: 16 }, { kernel: 3, stride: 1, pad: 1, out: 9 }], classes: 5, activation: 'tanh', seed: 2, batch: 2, label: 'fixed' },
    { inputShape: [7, 13, 1], convs: [{ kernel: 2, stride: 2, pad: 1, out: 3 }, { kernel: 3, stride: 1, pad: 2, out: 4 }, { kernel: 1, stride: 1, pad: 0, out: 6 }], classes: 4, activation: 'sigmoid', seed: 3, batch: 1, label: 'joint' },
  ];
  for (const s of stacks) {
    // measured: wasm <= 6.2e-7, JS <= 1.7e-7 (dx)
    it(`other geometries: ${JSON.stringify(s.convs)} on ${s.inputShape.join('x')} b${s.batch}, ${s.activation}, ${s.label}: both kernels = tfjs autodiff (rel. < 1e-5)`, () => {
      const model = convStack(s);
      const rng = createRng(s.seed + 10);
      const [h, w, c] = s.inputShape;
      const x = tf.tensor4d(uniformArray(rng, s.batch * h * w * c, 0, 1), [s.batch, h, w, c]);
      const labels = Array.from({ length: s.batch }, (_, i) => (3 * i + 1) % s.classes);
      const shared = tf.tidy(() => parameterGradients(model, x, oneHot(labels, s.classes)));
      const image = tf.tensor4d(uniformArray(rng, s.batch * h * w * c, 0, 1), [s.batch, h, w, c]);
      const logits = tf.tensor2d(uniformArray(rng, s.batch * s.classes, -1, 1), [s.batch, s.classes]);
      const joint = s.label === 'joint';
      const label = joint ? logits : (tf.tidy(() => softmax(logits)) as Tensor2D);
      const ref = tfjsObjective(model, shared, image, label, joint);
      for (const kernels of ['wasm', 'js'] as const) {
        const f = fusedObjective(model, shared, { batchSize: s.batch, label: s.label, target: joint ? undefined : label.dataSync(), kernels }) as FusedObjective;
        const r = evalAt(f, image.dataSync(), joint ? logits.dataSync() : undefined);
        const errs = [Math.abs(r.d - ref.d) / ref.d, relativeError(r.gx, ref.gx), joint ? relativeError(r.gy, ref.gy) : 0];
        assert.ok(Math.max(...errs) < 1e-5, `${kernels}: D ${r.d} vs ${ref.d}; errors ${errs}`);
      }
      tf.dispose([x, image, logits, label, ...shared]);
      disposeModel(model);
    });
  }

  it('is deterministic: the same bits from a second objective, after another objective used the memory, and in worker threads', async function () {
    const job = { size: 16, batch: 2, seed: 5, kernels: 'wasm' as FusedKernels };
    const task = path.join(__dirname, 'helpers/fused-task.js');
    const local = (await runParallel<typeof job, FusedJobResult>(task, [job], { workers: 1 }))[0];
    assert.equal(local.kernels, 'wasm');
    // interleave: an objective of another shape claims the workspace in between
    const again = (await runParallel<typeof job, FusedJobResult>(task, [job, { ...job, size: 24, batch: 3 }, job], { workers: 1 }));
    assert.equal(again[2].value, local.value);
    assert.deepEqual(again[2].grad, local.grad);
    const threads = await runParallel<typeof job, FusedJobResult>(task, [job, { ...job, size: 24, batch: 3 }, job, job], { workers: 2 });
    for (const i of [0, 2, 3]) {
      assert.equal(threads[i].kernels, 'wasm');
      assert.equal(threads[i].value, local.value, `job ${i}`);
      assert.deepEqual(threads[i].grad, local.grad, `job ${i}`);
    }
    assert.equal(threads[1].value, again[1].value);
  });

  it('1,200 evaluations hold the wasm memory, the heap and the RSS flat; more objectives reuse the same memory', function () {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const model = lenet({ inputShape: [32, 32, 3], numClasses: 100, seed: 4 });
    const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 4) as Tensor4D;
    const shared = tf.tidy(() => parameterGradients(model, x, oneHot([1, 2], 100)));
    const f = fusedObjective(model, shared, { batchSize: 2, label: 'joint', kernels: 'wasm' }) as FusedObjective;
    const pt = new Float64Array(f.size).map((_, i) => Math.sin(i));
    const grad = new Float64Array(f.size);
    const first = f.evaluate(pt, grad);
    const wasmBytes = wasmMemoryBytes();
    const samples: { heap: number; rss: number }[] = [];
    for (let i = 0; i < 1200; i++) {
      pt[i % pt.length] += 1e-3; // a new point every time
      f.evaluate(pt, grad);
      if (i === 200 || i === 1199) {
        gc();
        samples.push({ heap: process.memoryUsage().heapUsed, rss: process.memoryUsage().rss });
      }
      assert.equal(wasmMemoryBytes(), wasmBytes);
    }
    // measured: heap +0.1 MB, RSS -0.7 MB, wasm memory 2.5 MB throughout; allow allocator noise
    assert.ok(samples[1].heap - samples[0].heap < 1 << 20, `heap grew by ${(samples[1].heap - samples[0].heap) / 1024} kB`);
    assert.ok(samples[1].rss - samples[0].rss < 8 << 20, `RSS grew by ${(samples[1].rss - samples[0].rss) / 2 ** 20} MB`);
    // 40 more objectives of this size or smaller: no new wasm memory, and the first one still gives its numbers
    for (let i = 0; i < 40; i++) {
      const g = fusedObjective(model, shared, { batchSize: 1 + (i % 2), label: 'joint', kernels: 'wasm' }) as FusedObjective;
      g.evaluate(new Float64Array(g.size), new Float64Array(g.size));
    }
    assert.equal(wasmMemoryBytes(), wasmBytes);
    pt.set(new Float64Array(f.size).map((_, i) => Math.sin(i)));
    assert.equal(f.evaluate(pt, grad), first);
    tf.dispose([x, ...shared]);
    disposeModel(model);
  });

  it("where the module does not load: 'auto' falls back to the JS kernels with one warning, 'wasm' is a clear error", () => {
    const down = { available: false, reason: 'wasm kernels: /x/kernels.wasm not found (build with `npm run build`, which compiles lib/engine/assembly/)' };
    assert.deepEqual(chooseKernels('auto', { available: true, reason: '' }), { kernels: 'wasm' });
    assert.deepEqual(chooseKernels('js', { available: true, reason: '' }), { kernels: 'js' });
    const auto = chooseKernels('auto', down);
    assert.equal(auto.kernels, 'js');
    assert.equal(auto.warning, `warning: ${down.reason}; the fused DLG objective runs on the JS kernels (~8x slower)`);
    assert.throws(() => chooseKernels('wasm', down), /kernels 'wasm' unavailable: wasm kernels: \/x\/kernels.wasm not found/);
    assert.throws(() => chooseKernels('gpu' as FusedKernels, down), /kernels must be 'auto', 'wasm' or 'js', got 'gpu'/);
    assert.throws(() => loadWasm(path.join(os.tmpdir(), 'no-such-dir', 'kernels.wasm')), /no-such-dir\/kernels.wasm not found \(build with `npm run build`/);
    const junk = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dlg-wasm-')), 'kernels.wasm');
    fs.writeFileSync(junk, 'not wasm');
    assert.throws(() => loadWasm(junk), /kernels.wasm does not load here \(/);
    assert.ok(fs.existsSync(WASM_FILE), `${WASM_FILE} is built by npm run build`);
  });

  it('DLG_WASM=0 runs the JS kernels without a warning, with the numbers of kernels: js', () => {
    const script = `
      const { tf } = require('./lib/engine');
      const { lenet } = require('./lib/models/lenet');
      const { fusedObjective } = require('./lib/engine/fused');
      const m = lenet({ inputShape: [8, 8, 1], numClasses: 3 });
      const s = m.params.map((p) => tf.onesLike(p));
      const f = fusedObjective(m, s, { batchSize: 1, label: 'joint' });
      const g = new Float64Array(f.size);
      console.log(JSON.stringify({ kernels: f.kernels, d: f.evaluate(new Float64Array(f.size).fill(0.5), g) }));`;
    const r = spawnSync(process.execPath, ['-e', script], { cwd: path.join(__dirname, '..'), env: { ...process.env, DLG_WASM: '0', DLG_BACKEND: 'cpu' }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    const out = JSON.parse(r.stdout.trim());
    assert.equal(out.kernels, 'js');
    const m = lenet({ inputShape: [8, 8, 1], numClasses: 3 });
    const s = m.params.map((p) => tf.onesLike(p));
    const f = fusedObjective(m, s, { batchSize: 1, label: 'joint', kernels: 'js' }) as FusedObjective;
    assert.equal(out.d, f.evaluate(new Float64Array(f.size).fill(0.5), new Float64Array(f.size)));
    tf.dispose(s);
    disposeModel(m);
  });
});
