/**
 * lib/engine/fused-train.ts (the wasm first-order pass of LeNet) and trainWithDefense's 'fused' engine:
 * the loss, parameter gradient and logits against tfjs autodiff, the per-example rows against the JS
 * pass, whole training runs against the 'tfjs' engine, flat tensor counts, option errors; and
 * pruneArray's selection against a sort.
 */
import { strict as assert } from 'assert';
import { tf } from '../lib/engine';
import { convStackPass } from '../lib/engine/fused-train';
import { fusedObjective } from '../lib/engine/fused';
import { perExampleGradientsFlat } from '../lib/engine/per-example';
import { wasmStatus } from '../lib/engine/wasm';
import { lenet } from '../lib/models/lenet';
import { dense } from '../lib/models/dense';
import { crossEntropy } from '../lib/models/nn';
import { disposeModel } from '../lib/models/model';
import type { ActivationName } from '../lib/models/model';
import { loadDataset } from '../lib/data';
import { trainWithDefense, trainTestSplit } from '../lib/cases/train';
import type { LabelledImages, TrainOptions } from '../lib/cases/train';
import { pruneArray, pruneBySort } from '../lib/defenses/pruning';
import { createRng } from '../lib/rng';
import type { Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs';

/** max |a - b| / max |b| */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

describe('fused first-order pass (LeNet training on wasm)', function () {
  before(function () {
    if (!wasmStatus().available) throw new Error(`the wasm kernels did not load: ${wasmStatus().reason}`);
  });

  const cases: { shape: [number, number, number]; act: ActivationName; B: number }[] = [
    { shape: [8, 8, 1], act: 'sigmoid', B: 32 },
    { shape: [16, 16, 3], act: 'tanh', B: 3 },
    { shape: [32, 32, 3], act: 'sigmoid', B: 2 },
    { shape: [12, 12, 1], act: 'relu', B: 5 },
  ];
  for (const { shape, act, B } of cases) {
    it(`${shape.join('x')} ${act}, batch ${B}: loss, gradient and logits equal tfjs autodiff (<= 1e-5 relative)`, function () {
      const model = lenet({ inputShape: shape, numClasses: 10, seed: 3, activation: act });
      const n = shape[0] * shape[1] * shape[2];
      const x = new Float32Array(B * n).map((_, i) => Math.sin(i * 0.37) * 0.5 + 0.5);
      const t = new Float32Array(B * 10);
      for (let b = 0; b < B; b++) {
        t[b * 10 + ((b * 3) % 10)] = 0.75;
        t[b * 10 + ((b * 3 + 1) % 10)] = 0.25; // a soft row
      }
      const pass = convStackPass(model, B)!;
      assert.equal(pass.batch, B);
      const params = model.params.map((p) => Float32Array.from(p.dataSync()));
      const grads = params.map((p) => new Float32Array(p.length));
      const before = tf.memory().numTensors;
      const loss = pass.gradient(params, x, t, grads);
      assert.equal(tf.memory().numTensors, before, 'the pass makes no tensors');
      assert.equal(pass.loss(params, x, t), loss);
      const logits = new Float32Array(B * 10);
      pass.logits(params, x, logits);
      const ref = tf.tidy(() => {
        const X = tf.tensor4d(x, [B, ...shape]) as Tensor4D;
        const T = tf.tensor2d(t, [B, 10]) as Tensor2D;
        const { value, grads: g } = tf.valueAndGrads((...p: Tensor[]) => crossEntropy(model.forward(X, p) as Tensor2D, T))(model.params);
        return { loss: value.dataSync()[0], grads: g.map((v) => v.dataSync()), logits: model.forward(X, model.params).dataSync() };
      });
      assert.ok(Math.abs(loss - ref.loss) <= 1e-5 * Math.abs(ref.loss), `loss ${loss} vs tfjs ${ref.loss}`);
      ref.grads.forEach((g, i) => {
        const e = relErr(grads[i], g);
        assert.ok(e <= 1e-5, `${model.paramNames[i]}: relative difference ${e.toExponential(2)}`);
      });
      assert.ok(relErr(logits, ref.logits) <= 1e-5, `logits: ${relErr(logits, ref.logits)}`);
      // per-example rows against the JS per-example pass (float64 dense layer), and their mean against the batch gradient
      const rows = params.map((p) => new Float32Array(B * p.length));
      assert.equal(pass.perExample(params, x, t, rows), loss);
      const js = perExampleGradientsFlat(model, x, t, B)!;
      rows.forEach((r, i) => {
        for (let b = 0; b < B; b++) {
          const n = params[i].length, e = relErr(r.subarray(b * n, (b + 1) * n), js[i].subarray(b * n, (b + 1) * n));
          assert.ok(e <= 1e-5, `${model.paramNames[i]}, example ${b}: relative difference ${e.toExponential(2)}`);
        }
        const mean = new Float64Array(params[i].length);
        for (let b = 0; b < B; b++) for (let j = 0; j < mean.length; j++) mean[j] += r[b * mean.length + j] / B;
        assert.ok(relErr(mean, grads[i]) <= 1e-5, `${model.paramNames[i]}: the rows' mean against the batch gradient`);
      });
      // a second call with other parameters: the parameters are read at every call
      const halved = params.map((p) => p.map((v) => v / 2));
      const loss2 = pass.gradient(halved, x, t, grads);
      assert.notEqual(loss2, loss);
      assert.equal(pass.gradient(params, x, t, grads), loss, 'the same inputs give the same loss, bit for bit');
      disposeModel(model);
    });
  }

  it('rejects bad inputs with clear messages; null without a conv-stack structure', function () {
    const model = lenet({ inputShape: [8, 8, 1], numClasses: 10, seed: 1 });
    const pass = convStackPass(model, 4)!;
    const params = model.params.map((p) => Float32Array.from(p.dataSync()));
    const grads = params.map((p) => new Float32Array(p.length));
    assert.throws(() => pass.gradient(params, new Float32Array(3 * 64), new Float32Array(40), grads), /x holds 192 values, expected 4x8x8x1 = 256/);
    assert.throws(() => pass.gradient(params, new Float32Array(256), new Float32Array(30), grads), /target holds 30 values, expected 4x10/);
    assert.throws(() => pass.gradient(params.slice(1), new Float32Array(256), new Float32Array(40), grads), /params must be 8 arrays/);
    assert.throws(() => pass.logits(params, new Float32Array(256), new Float32Array(3)), /out must hold 4x10 values/);
    assert.throws(() => pass.perExample(params, new Float32Array(256), new Float32Array(40), grads), /rows must be 8 arrays of 4 x/);
    assert.throws(() => convStackPass(model, 0), /batch must be a positive integer, got 0/);
    const mlp = dense({ inputShape: [8, 8, 1], numClasses: 10, seed: 1 });
    assert.equal(convStackPass(mlp, 4), null);
    disposeModel(model);
    disposeModel(mlp);
  });

  it('the pass, the fused objective and the per-example gradients check parameter shapes against the structure alike', function () {
    const model = lenet({ inputShape: [8, 8, 1], numClasses: 10, seed: 1 });
    const good = model.params.slice();
    const x = new Float32Array(2 * 64), t = new Float32Array(20);
    const paths: [string, () => unknown][] = [
      ['convStackPass', () => convStackPass(model, 2)],
      ['fusedObjective', () => fusedObjective(model, good, { batchSize: 2, label: 'joint' })],
      ['perExampleGradientsFlat', () => perExampleGradientsFlat(model, x, t, 2)],
    ];
    const bad: [number, number[], RegExp][] = [
      [0, [3, 3, 1, 12], /.*: parameters of conv 1 do not match its structure/],
      [3, [11], /.*: parameters of conv 2 do not match its structure/],
      [6, [192, 10], /.*: dense layer is \[192,10\], its structure gives \[48, 10\]/],
      [7, [9], /.*: dense layer is \[48,10\], its structure gives \[48, 10\]/],
    ];
    for (const [i, shape, message] of bad) {
      const wrong = tf.zeros(shape);
      model.params[i] = wrong;
      for (const [who, run] of paths) assert.throws(run, new RegExp(`^Error: ${who}: ${message.source}`), `${who}, parameter ${i} ${JSON.stringify(shape)}`);
      model.params[i] = good[i];
      wrong.dispose();
    }
    model.params.pop();
    for (const [who, run] of paths) assert.throws(run, new RegExp(`^Error: ${who}: .* has 7 parameters, its structure 8`), who);
    model.params.push(good[7]);
    assert.ok(convStackPass(model, 2) !== null);
    disposeModel(model);
  });
});

describe('trainWithDefense: the fused engine against tfjs autodiff', function () {
  let train: LabelledImages;
  let test: LabelledImages;
  before(function () {
    const split = trainTestSplit(loadDataset('digits'), { seed: 0, testCount: 300, trainCount: 1000 });
    train = split.train;
    test = split.test;
  });
  const run = (engine: 'tfjs' | 'fused', extra: Partial<TrainOptions>) => {
    const model = lenet({ inputShape: [8, 8, 1], numClasses: 10, seed: 1, activation: 'sigmoid' });
    const before = tf.memory().numTensors;
    try {
      const r = trainWithDefense({ model, ...train, test, epochs: 10, batchSize: 32, lr: 0.1, momentum: 0.9, seed: 1, engine, ...extra });
      const params = model.params.map((p) => Float32Array.from(p.dataSync()));
      return { r, params, leaked: tf.memory().numTensors - before };
    } finally {
      disposeModel(model);
    }
  };

  for (const extra of [{ defense: 'none' }, { defense: 'prune:0.3' }, { defense: 'gaussian:1e-3', momentum: 0, lr: 1 }, { defense: 'dp:1:0.3', sampling: 'poisson' as const }]) {
    it(`${JSON.stringify(extra)}: the same accuracy every epoch, losses within 1e-4, parameters within 1e-3, no tensor left`, function () {
      const a = run('tfjs', extra);
      const b = run('fused', extra);
      assert.deepEqual(b.r.accuracy, a.r.accuracy);
      assert.deepEqual(b.r.trainAccuracy, a.r.trainAccuracy);
      assert.equal(b.r.steps, a.r.steps);
      b.r.losses.forEach((l, e) => assert.ok(Math.abs(l - a.r.losses[e]) <= 1e-4 * Math.abs(a.r.losses[e]), `epoch ${e + 1}: loss ${l} vs ${a.r.losses[e]}`));
      b.params.forEach((p, i) => assert.ok(relErr(p, a.params[i]) <= 1e-3, `parameter ${i}: ${relErr(p, a.params[i])}`));
      assert.ok(a.r.accuracy[a.r.accuracy.length - 1] > 0.5, `it learned: held-out accuracy ${a.r.accuracy.join(', ')}`);
      assert.equal(a.leaked, 0);
      assert.equal(b.leaked, 0);
    });
  }

  it('what the model and the defense are given stays what it was: clones of the parameters (onEpoch) and of a gradient (defense) do not change later', function () {
    for (const engine of ['fused', 'tfjs'] as const) {
      const model = lenet({ inputShape: [8, 8, 1], numClasses: 10, seed: 1, activation: 'sigmoid' });
      const clones: Tensor[] = [];
      const values: Float32Array[] = [];
      // a defense that keeps a clone of the first gradient it is given
      let firstGradient: Tensor | null = null;
      let firstValues: Float32Array | null = null;
      const keeping = (grads: Tensor[]) => {
        if (firstGradient === null) {
          firstGradient = grads[0].clone();
          firstValues = Float32Array.from(grads[0].dataSync());
        }
        return grads.map((g) => g.clone());
      };
      trainWithDefense({ model, ...train, epochs: 2, batchSize: 32, lr: 0.1, momentum: 0.9, seed: 1, engine, defense: keeping, onEpoch: (st) => {
        if (st.epoch === 1) model.params.forEach((p) => { clones.push(p.clone()); values.push(Float32Array.from(p.dataSync())); });
      } });
      clones.forEach((c, i) => assert.deepEqual(c.dataSync(), values[i], `${engine}: parameter ${i} changed after its epoch`));
      assert.deepEqual(firstGradient!.dataSync(), firstValues, `${engine}: the gradient a defense was given changed after its step`);
      tf.dispose(firstGradient!);
      assert.notDeepEqual(model.params[0].dataSync(), values[0], 'the second epoch moved the parameters');
      tf.dispose(clones);
      disposeModel(model);
    }
  });

  it("'auto' is 'fused' for LeNet; 'fused' without a conv-stack structure and a bad engine are errors", function () {
    const auto = run('fused', { defense: 'none', epochs: 2 });
    const model = lenet({ inputShape: [8, 8, 1], numClasses: 10, seed: 1, activation: 'sigmoid' });
    const r = trainWithDefense({ model, ...train, test, epochs: 2, batchSize: 32, lr: 0.1, momentum: 0.9, seed: 1, defense: 'none' });
    assert.deepEqual(Array.from(model.params[0].dataSync()), Array.from(auto.params[0]));
    assert.deepEqual(r.accuracy, auto.r.accuracy);
    assert.throws(() => trainWithDefense({ model, ...train, epochs: 1, seed: 1, engine: 'gpu' as never }), /engine must be 'auto', 'tfjs' or 'fused', got 'gpu'/);
    const mlp = dense({ inputShape: [8, 8, 1], numClasses: 10, seed: 1 });
    assert.throws(() => trainWithDefense({ model: mlp, ...train, epochs: 1, seed: 1, engine: 'fused' }), /engine 'fused': .* has no conv-stack structure/);
    disposeModel(model);
    disposeModel(mlp);
  });
});

describe('pruneArray: the selection of the smallest magnitudes', function () {
  /** The definition: sort the indices by magnitude, then index; zero the first round(ratio n). */
  it('the sort it is checked against prunes the smallest magnitudes, ties by index', function () {
    // |0| (2), |-0| (3), then |-1| (1) before |1| (4): the lower index goes first; a pruned entry is +0
    const out = pruneBySort(Float32Array.from([3, -1, 0, -0, 1, 2]), 0.5);
    assert.deepEqual(Array.from(out, (v) => (Object.is(v, -0) ? '-0' : v)), [3, 0, 0, 0, 1, 2]);
  });
  it('equals the sort on 200 random tensors with ties, zeros, -0 and subnormals, ratios 0 to 1', function () {
    const rng = createRng(7);
    let checked = 0;
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + Math.floor(rng.next() * 3000);
      const v = new Float32Array(n).map(() => {
        const r = rng.next();
        return r < 0.15 ? 0 : r < 0.25 ? -0 : r < 0.45 ? (rng.next() < 0.5 ? 1.5 : -1.5) : r < 0.55 ? 1e-42 * (rng.next() - 0.5) : (rng.next() - 0.5) * 10 ** (rng.next() * 20 - 10);
      });
      for (const ratio of [0, 0.1, 0.3, 0.5, 0.9, 0.99, 1]) {
        const a = pruneArray(v, ratio), b = pruneBySort(v, ratio);
        for (let j = 0; j < n; j++) if (!Object.is(a[j], b[j])) assert.fail(`n ${n}, ratio ${ratio}: entry ${j} is ${a[j]}, the sort gives ${b[j]}`);
        checked++;
      }
    }
    assert.equal(checked, 1400);
  });
});
