import { strict as assert } from 'assert';
import * as path from 'path';
import * as v8 from 'v8';
import * as vm from 'vm';
import { tf } from '../lib/engine';
import { parameterGradients } from '../lib/models/gradients';
import { gradientDistance } from '../lib/attacks/objective';
import { softmax, oneHot } from '../lib/models/nn';
import { lenet } from '../lib/models/lenet';
import { disposeModel } from '../lib/models/model';
import type { Model } from '../lib/models/model';
import { fusedObjective } from '../lib/engine/fused';
import { fusedDistance } from './helpers/fused-op';
import { loadImage } from '../lib/data/image';
import { makeCase, disposeCase } from '../lib/cases/case';
import { dlg } from '../lib/attacks/dlg';
import { dlgConfig } from '../lib/config';
import { LBFGS_DEFAULTS } from '../lib/attacks/optim/lbfgs';
import { mse } from '../lib/analysis/metrics';
import { loadGolden, goldenModel, goldenImages, goldenDummies, relativeError } from './golden';
import type { GoldenCase } from './golden';
import type { Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs';

const golden = loadGolden('lenet.json');
const photo = (name: string) => loadImage(path.join(__dirname, '../../datasets/natural', name + '.png'), { size: 32, channels: 3 });

/** D and its gradients through tfjs autodiff (the reference path of lib/attacks/dlg.ts). */
function tfjsObjective(model: Model, shared: Tensor[], image: Tensor4D, label: Tensor2D, joint: boolean) {
  let out = { d: NaN, gx: new Float64Array(0), gy: null as Float64Array | null };
  tf.tidy(() => {
    const objective = (xd: Tensor, yd?: Tensor) =>
      gradientDistance(parameterGradients(model, xd as Tensor4D, joint ? softmax(yd as Tensor2D) : label), shared);
    const { value, grads } = tf.valueAndGrads(objective)(joint ? [image, label] : [image]);
    out = { d: value.dataSync()[0], gx: Float64Array.from(grads[0].dataSync()), gy: joint ? Float64Array.from(grads[1].dataSync()) : null };
  });
  return out;
}

/** D and its gradient through the fused evaluator at the same point. */
function fusedAt(model: Model, shared: Tensor[], image: Tensor4D, label: Tensor2D, joint: boolean) {
  const B = image.shape[0];
  const target = joint ? undefined : label.dataSync();
  const f = fusedObjective(model, shared, { batchSize: B, label: joint ? 'joint' : 'fixed', target });
  assert.ok(f !== null, 'LeNet must be fusable');
  const nImg = image.size;
  const x = new Float64Array(f.size);
  x.set(image.dataSync());
  if (joint) x.set(label.dataSync(), nImg);
  const grad = new Float64Array(f.size);
  const d = f.evaluate(x, grad);
  return { d, gx: grad.subarray(0, nImg), gy: joint ? grad.subarray(nImg) : null, f, x, grad };
}

/** ||x||_2 of a NHWC gradient reordered to NCHW (PyTorch's layout). */
function toNchw(v: ArrayLike<number>, c: GoldenCase): Float64Array {
  const b = c.labels.length, h = c.size, w = c.size, ch = c.channels;
  const out = new Float64Array(v.length);
  for (let n = 0; n < b; n++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < ch; k++) {
    out[((n * ch + k) * h + y) * w + x] = v[((n * h + y) * w + x) * ch + k];
  }
  return out;
}

describe('fused DLG objective (lib/engine/fused.ts)', () => {
  for (const c of golden.cases) {
    for (const joint of c.labels.length === 1 || c.name.endsWith('b2') ? [true, false] : [true]) {
      it(`${c.name}, ${joint ? 'joint' : 'fixed'} label: value and gradients = tfjs autodiff (rel. < 1e-5) and PyTorch float64 (rel. < 5e-6)`, () => {
        const model = goldenModel(c);
        const x = goldenImages(c);
        const shared = tf.tidy(() => parameterGradients(model, x, oneHot(c.labels, c.numClasses)));
        const { image, label: logits } = goldenDummies(c);
        // fixed label: a soft target that is not one-hot, to exercise the general formula
        const label = (joint ? logits : tf.tidy(() => softmax(tf.mul(logits, 0.7) as Tensor2D))) as Tensor2D;
        const ref = tfjsObjective(model, shared, image, label, joint);
        const ours = fusedAt(model, shared, image, label, joint);
        const ed = Math.abs(ours.d - ref.d) / ref.d;
        const ex = relativeError(ours.gx, ref.gx);
        assert.ok(ed < 1e-5, `D ${ours.d} vs tfjs ${ref.d} (rel ${ed})`);
        assert.ok(ex < 1e-5, `dD/dx' rel err vs tfjs ${ex}`);
        if (joint) {
          const ey = relativeError(ours.gy as Float64Array, ref.gy as Float64Array);
          assert.ok(ey < 1e-5, `dD/dy' rel err vs tfjs ${ey}`);
          // the PyTorch golden values (float64) of the same objective
          const pd = Math.abs(ours.d - c.distance) / c.distance;
          const px = relativeError(toNchw(ours.gx, c), c.dDistance_dDummyImage);
          const py = relativeError(ours.gy as Float64Array, c.dDistance_dDummyLabel);
          // measured: <= 5.4e-7 on every case (tfjs itself: up to 1.7e-6 on dx)
          assert.ok(pd < 5e-6 && px < 5e-6 && py < 5e-6, `vs PyTorch: D ${pd}, dx ${px}, dy ${py}`);
        }
        // a second call on the same buffers gives the same numbers (no state leaks between calls)
        const again = new Float64Array(ours.f.size);
        assert.equal(ours.f.evaluate(ours.x, again), ours.d);
        assert.deepEqual(Array.from(again), Array.from(ours.grad));
        tf.dispose([x, image, label, logits, ...shared]);
        disposeModel(model);
      });
    }
  }

  it('agrees with central finite differences along random directions (relu excluded: kinks)', () => {
    const model = lenet({ inputShape: [12, 12, 2], numClasses: 5, activation: 'tanh', seed: 3 });
    const x = tf.randomUniform([1, 12, 12, 2], 0, 1, 'float32', 1) as Tensor4D;
    const shared = tf.tidy(() => parameterGradients(model, x, oneHot([2], 5)));
    const f = fusedObjective(model, shared, { batchSize: 1, label: 'joint' });
    assert.ok(f !== null);
    const pt = new Float64Array(f.size);
    for (let i = 0; i < pt.length; i++) pt[i] = Math.sin(3.1 * i) * 0.8 + 0.3;
    const grad = new Float64Array(f.size);
    f.evaluate(pt, grad);
    const scratch = new Float64Array(f.size);
    for (let trial = 0; trial < 3; trial++) {
      const dir = new Float64Array(f.size).map((_, i) => Math.cos(1.7 * i + trial));
      const h = 1e-2;
      const at = (s: number) => f.evaluate(pt.map((v, i) => v + s * dir[i]), scratch);
      // five-point central difference: error O(h^4), ~3e-5 relative here (float32 noise dominates below h = 3e-3)
      const fd = (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h);
      const an = grad.reduce((a, g, i) => a + g * dir[i], 0);
      assert.ok(Math.abs(fd - an) / Math.abs(an) < 2e-4, `trial ${trial}: finite difference ${fd} vs analytic ${an}`);
    }
    tf.dispose([x, ...shared]);
    disposeModel(model);
  });

  it('as a tfjs op (fusedDistance): the same value and gradients under tf.valueAndGrads, no tensors left', () => {
    const c = golden.cases[0];
    const model = goldenModel(c);
    const x = goldenImages(c);
    const shared = tf.tidy(() => parameterGradients(model, x, oneHot(c.labels, c.numClasses)));
    const { image, label } = goldenDummies(c);
    const ours = fusedAt(model, shared, image, label as Tensor2D, true);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const { value, grads } = tf.valueAndGrads((a: Tensor, b: Tensor) => fusedDistance(ours.f, a as Tensor4D, b as Tensor2D))([image, label]);
      assert.ok(Math.abs(value.dataSync()[0] - ours.d) / ours.d < 1e-6, `${value.dataSync()[0]} vs ${ours.d}`);
      assert.ok(relativeError(grads[0].dataSync(), ours.gx) < 1e-6);
      assert.ok(relativeError(grads[1].dataSync(), ours.gy as Float64Array) < 1e-6);
    });
    assert.equal(tf.memory().numTensors, before);
    assert.throws(() => fusedDistance(ours.f, image), /fusedDistance: the objective takes 3172 values, got image \[1,32,32,3\]/);
    tf.dispose([x, image, label, ...shared]);
    disposeModel(model);
  });

  it('is offered only for models that carry a matching structure, with clear errors for bad input', () => {
    const model = lenet({ inputShape: [8, 8, 1], numClasses: 10 });
    const shared = model.params.map((p) => tf.zerosLike(p));
    const wrapped: Model = { ...model, forward: (x, p) => model.forward(x, p) };
    assert.equal(fusedObjective(wrapped, shared, { batchSize: 1, label: 'joint' }), null);
    const { structure: _dropped, ...plain } = model;
    void _dropped;
    assert.equal(fusedObjective(plain, shared, { batchSize: 1, label: 'joint' }), null);
    assert.throws(() => fusedObjective(model, shared, { batchSize: 1, label: 'fixed' }), /label 'fixed' needs a target of 1x10 = 10 values, got none/);
    assert.throws(() => fusedObjective(model, shared.slice(1), { batchSize: 1, label: 'joint' }), /shared gradient has 7 tensors, expected 8/);
    assert.throws(() => fusedObjective(model, shared, { batchSize: 0, label: 'joint' }), /batchSize must be a positive integer/);
    const f = fusedObjective(model, shared, { batchSize: 2, label: 'joint' });
    assert.ok(f !== null);
    assert.equal(f.size, 2 * 64 + 2 * 10);
    assert.throws(() => f.evaluate(new Float64Array(3), new Float64Array(3)), /x and grad must hold 148 values, got 3 and 3/);
    tf.dispose(shared);
    disposeModel(model);
  });
});

describe("DLG attack: engine 'fused' vs 'tfjs'", () => {
  it('reaches the same reconstruction from the same seed (16x16 photo: MSE between the two < 1e-3)', () => {
    const truth = loadImage(path.join(__dirname, '../../datasets/natural/astronaut.png'), { size: 16, channels: 3 });
    const c = makeCase({ images: [truth], labels: [7], seed: 1, numClasses: 10 });
    const a = dlg(c.model, c.shared, { seed: 1, iterations: 300, engine: 'fused' });
    const b = dlg(c.model, c.shared, { seed: 1, iterations: 300, engine: 'tfjs' });
    const between = mse({ ...truth, data: a.data }, { ...truth, data: b.data });
    const toTruth = [mse({ ...truth, data: a.data }, truth), mse({ ...truth, data: b.data }, truth)];
    // measured: both converge in ~30 steps, MSE to the truth ~2e-8, between the two ~1e-9
    assert.ok(between < 1e-3, `MSE between the engines' reconstructions ${between} (to truth: ${toTruth})`);
    assert.ok(toTruth[0] < 1e-3 && toTruth[1] < 1e-3, `MSE to truth ${toTruth}`);
    assert.deepEqual(a.labels, [7]);
    assert.deepEqual(b.labels, [7]);
    assert.equal(a.status, 'converged');
    assert.equal(b.status, 'converged');
    // the same start point gives the same distance (float32 rounding); later L-BFGS amplifies rounding
    assert.ok(Math.abs(a.losses[0] - b.losses[0]) / b.losses[0] < 1e-6, `${a.losses[0]} vs ${b.losses[0]}`);
    for (const r of [a, b]) assert.ok(r.distance < 1e-6 * r.losses[0], `distance ${r.losses[0]} -> ${r.distance}`);
    disposeCase(c);
  });

  it("engine 'auto' picks the fused objective for LeNet; 'fused' on an unsupported model is a clear error", () => {
    const c = makeCase({ images: [photo('coffee')], labels: [3], seed: 2 });
    const auto = dlg(c.model, c.shared, { seed: 2, iterations: 3 });
    const fused = dlg(c.model, c.shared, { seed: 2, iterations: 3, engine: 'fused' });
    assert.deepEqual(auto.losses, fused.losses);
    const wrapped: Model = { ...c.model, forward: (x, p) => c.model.forward(x, p) };
    assert.throws(() => dlg(wrapped, c.shared, { iterations: 1, engine: 'fused' }), /engine 'fused': LeNet-sigmoid 32x32x3 -> 100 has no conv-stack structure/);
    assert.throws(() => dlgConfig({ engine: 'gpu' as never }), /engine must be 'auto', 'tfjs' or 'fused', got 'gpu'/);
    disposeCase(c);
  });

  it('a 1,200-step attack holds a flat tensor count and a flat heap (both engines)', function () {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const rocket = loadImage(path.join(__dirname, '../../datasets/natural/rocket.png'), { size: 16, channels: 3 });
    const c = makeCase({ images: [rocket], labels: [1], seed: 6, numClasses: 10 });
    for (const engine of ['fused', 'tfjs'] as const) {
      const tensors: number[] = [];
      const heap: number[] = [];
      const before = tf.memory().numTensors;
      dlg(c.model, c.shared, {
        engine, seed: 6, iterations: 1200, snapshotEvery: 1200, patience: 1201,
        // one evaluation per step: 1,200 evaluations in a few seconds
        lbfgs: { ...LBFGS_DEFAULTS, maxIter: 1, historySize: 20 },
        onStep: (i) => {
          tensors.push(tf.memory().numTensors);
          if (i === 200 || i === 1199) {
            gc();
            heap.push(process.memoryUsage().heapUsed);
          }
        },
      });
      assert.equal(tf.memory().numTensors, before, `${engine}: tensors left behind`);
      assert.ok(tensors.every((n) => n === tensors[0]), `${engine}: tensor counts vary ${Math.min(...tensors)}..${Math.max(...tensors)}`);
      // the result's losses array grows by 1,000 numbers (8 kB); allow 1 MB for allocator noise
      const growth = heap[1] - heap[0];
      assert.ok(growth < 1 << 20, `${engine}: heap grew by ${(growth / 1024).toFixed(0)} kB from step 200 to 1199`);
    }
    disposeCase(c);
  });
});
