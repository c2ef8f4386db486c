/**
 * DP-SGD as a defense (lib/defenses/dp.ts), per-example gradients (lib/models/per-example.ts,
 * lib/engine/per-example.ts), makeCase / defendCase with per-example defenses, DP-SGD training
 * (lib/cases/train.ts) and the epsilon of one shared step (lib/analysis/step-privacy.ts).
 */
import { strict as assert } from 'assert';
import { tf } from '../lib/engine';
import type { Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs';
import { createRng } from '../lib/rng';
import { loadDataset } from '../lib/data';
import { lenet } from '../lib/models/lenet';
import { disposeModel } from '../lib/models/model';
import type { Model } from '../lib/models/model';
import { parameterGradients } from '../lib/models/gradients';
import { perExampleGradients } from '../lib/models/per-example';
import { oneHot } from '../lib/models/nn';
import { makeCase, disposeCase, defendCase, stackImages } from '../lib/cases/case';
import { trainWithDefense, trainTestSplit, poissonSample } from '../lib/cases/train';
import type { LabelledImages } from '../lib/cases/train';
import {
  parseDefense, parseDefenseSpec, canonicalDefense, applyDefense, applyPerExampleDefense, dpSgd, perExampleNorms, clipFactors,
  dpParameters, defenseSeed, knownDefenseForms,
} from '../lib/defenses';
import { dpSgdEpsilon, gaussianRdpEpsilon, exactGaussianEpsilon } from '../lib/analysis/privacy';
import { stepEpsilon } from '../lib/analysis/step-privacy';
import type { Img } from '../lib/data/image';

const digitsModel = (seed: number, activation: 'sigmoid' | 'relu' = 'sigmoid'): Model => lenet({ inputShape: [8, 8, 1], numClasses: 10, seed, activation });
/** The same model without its conv-stack structure: only the generic (tfjs) paths apply. */
const withoutStructure = (m: Model): Model => ({ name: m.name, inputShape: m.inputShape, numClasses: m.numClasses, paramNames: m.paramNames, params: m.params, forward: m.forward });
const values = (ts: Tensor[]) => ts.map((t) => Array.from(t.dataSync()));

/** Per-sample loop of parameterGradients: the definition the per-example paths must reproduce. */
function loopGradients(model: Model, images: Img[], labels: number[]): number[][][] {
  return images.map((img, b) => tf.tidy(() => values(parameterGradients(model, stackImages([img]), oneHot([labels[b]], model.numClasses)))));
}

/** Reference DP-SGD aggregate in float64 from per-sample gradients: (sum_b g_b min(1, C/|g_b|) + noise) / D. */
function referenceClippedMean(rows: number[][][], clip: number, denominator = rows.length): number[][] {
  const norms = rows.map((r) => Math.sqrt(r.reduce((s, t) => s + t.reduce((u, v) => u + v * v, 0), 0)));
  return rows[0].map((t, i) => t.map((_, j) => rows.reduce((s, r, b) => s + r[i][j] * Math.min(1, clip / norms[b]), 0) / denominator));
}

function maxRelative(a: number[][], b: number[][]): number {
  let worst = 0;
  a.forEach((t, i) => {
    const scale = Math.max(...b[i].map(Math.abs), 1e-30);
    t.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - b[i][j]) / scale)));
  });
  return worst;
}

describe('DP-SGD defense (per-example clipping and Gaussian noise)', function () {
  let data: LabelledImages;
  before(function () {
    const digits = loadDataset('digits');
    data = { images: digits.images.slice(0, 200), labels: digits.labels.slice(0, 200) };
  });

  describe('specs', () => {
    it('parses dp:C:SIGMA and clip:C, canonical text, composition with a per-example step first', () => {
      assert.deepEqual(parseDefenseSpec('dp:1:1'), { kind: 'dp', clip: 1, sigma: 1 });
      assert.deepEqual(parseDefenseSpec('dp:0.5:1e-2'), { kind: 'dp', clip: 0.5, sigma: 0.01 });
      assert.deepEqual(parseDefenseSpec('dp:1:0'), { kind: 'dp', clip: 1, sigma: 0 });
      assert.deepEqual(parseDefenseSpec('clip:2'), { kind: 'clip', clip: 2 });
      assert.equal(canonicalDefense('dp:1.0:1E-1'), 'dp:1:0.1');
      assert.equal(canonicalDefense('dp:1:0.5 + fp16 + prune:.3'), 'dp:1:0.5+fp16+prune:0.3');
      assert.equal(canonicalDefense('clip:1+int8'), 'clip:1+int8');
      assert.deepEqual(dpParameters('dp:2:0.5+fp16'), { clip: 2, sigma: 0.5 });
      assert.deepEqual(dpParameters('clip:3'), { clip: 3, sigma: 0 });
      assert.equal(dpParameters('gaussian:1e-3'), null);
      assert.equal(dpParameters('none'), null);
      assert.match(knownDefenseForms(), /prune:RATIO, clip:C, dp:C:SIGMA$/);
      const d = parseDefense('dp:1:1');
      assert.equal(typeof d.perExample, 'function');
      assert.equal(parseDefense('gaussian:1e-3').perExample, undefined);
    });

    const bad: [string, RegExp][] = [
      ['dp', /dp needs a clipping norm C > 0 and a noise multiplier SIGMA >= 0, e\.g\. dp:1:1/],
      ['dp:1', /dp takes 2 fields \(dp:C:SIGMA\), got 1/],
      ['dp:1:1:1', /dp takes 2 fields \(dp:C:SIGMA\), got 3/],
      ['dp:0:1', /dp needs a clipping norm C > 0, got 0/],
      ['dp:-1:1', /dp needs a clipping norm C > 0, got -1/],
      ['dp:1:-0.5', /dp needs a noise multiplier SIGMA >= 0, got -0.5/],
      ['dp:abc:1', /'abc' is not a number; dp needs a clipping norm C > 0 and a noise multiplier SIGMA >= 0/],
      ['dp:1:', /'' is not a number/],
      ['dp:1:Infinity', /'Infinity' is not a number/],
      ['dp:1:NaN', /'NaN' is not a number/],
      ['clip', /clip needs a clipping norm C > 0, e\.g\. clip:1/],
      ['clip:0', /clip needs a clipping norm C > 0, got 0/],
      ['clip:1:2', /clip takes 1 field \(clip:C\), got 2/],
      ['fp16+dp:1:1', /dp:1:1 works on per-example gradients and must come first in a '\+' composition/],
      ['clip:1+dp:1:1', /dp:1:1 works on per-example gradients and must come first/],
      ['gaussian:1e-3+clip:1', /clip:1 works on per-example gradients and must come first/],
    ];
    for (const [spec, message] of bad) {
      it(`'${spec}' -> one error line naming the problem and the known forms`, () => {
        assert.throws(() => parseDefense(spec), (e: Error) => {
          assert.match(e.message, message);
          assert.match(e.message, /known forms: .*clip:C, dp:C:SIGMA/);
          assert.ok(!e.message.includes('\n'), 'one line');
          return true;
        });
      });
    }

    it('a per-example defense refuses a batch gradient, and a batch defense refuses per-example gradients', () => {
      const g = [tf.ones([3, 2])];
      const rows = [tf.ones([2, 3, 2])];
      const mixed = [tf.ones([2, 3]), tf.ones([3, 3])];
      const nan = [tf.tensor([[1, NaN]])];
      const empty = [tf.zeros([0, 3])];
      const n0 = tf.memory().numTensors;
      assert.throws(() => parseDefense('dp:1:1')(g, createRng(1)), /defense 'dp:1:1' works on per-example gradients, not on a batch's gradient: apply it with applyPerExampleDefense/);
      assert.throws(() => applyDefense('dp:1:1+fp16', g, 1), /'dp:1:1\+fp16' works on per-example gradients/);
      assert.throws(() => applyPerExampleDefense('fp16', rows, 1), /defense 'fp16' works on the batch's gradient, not on per-example gradients: use applyDefense/);
      assert.throws(() => dpSgd(1, 1)(mixed, createRng(1)), /same leading batch dimension 2/);
      assert.throws(() => dpSgd(1, 1)(nan, createRng(1)), /gradient 0 contains NaN or Infinity/);
      assert.throws(() => dpSgd(1, 1)(empty, createRng(1)), /an empty batch needs options.denominator/);
      assert.throws(() => dpSgd(0, 1), /clipping norm C must be a finite number > 0, got 0/);
      assert.throws(() => dpSgd(1, -1), /noise multiplier sigma must be a finite number >= 0, got -1/);
      assert.equal(tf.memory().numTensors, n0, 'an error leaks no tensor');
      tf.dispose([...mixed, ...nan, ...empty]);
      tf.dispose([...g, ...rows]);
    });
  });

  describe('per-example gradients', () => {
    it("engine 'tfjs' is the per-sample loop of parameterGradients, bit for bit; the rows average to the batch gradient", () => {
      const model = digitsModel(3);
      const images = data.images.slice(0, 6);
      const labels = data.labels.slice(0, 6);
      const loop = loopGradients(model, images, labels);
      const n0 = tf.memory().numTensors;
      const rows = tf.tidy(() => perExampleGradients(model, stackImages(images), oneHot(labels, 10), { engine: 'tfjs' }));
      assert.equal(tf.memory().numTensors, n0 + model.params.length);
      rows.forEach((r, i) => {
        assert.deepEqual(r.shape, [6, ...model.params[i].shape]);
        const v = r.dataSync();
        const n = model.params[i].size;
        for (let b = 0; b < 6; b++) assert.deepEqual(Array.from(v.subarray(b * n, (b + 1) * n)), loop[b][i], `row ${b} of ${model.paramNames[i]}`);
      });
      const batch = tf.tidy(() => values(parameterGradients(model, stackImages(images), oneHot(labels, 10))));
      const mean = loop[0].map((t, i) => t.map((_, j) => loop.reduce((s, r) => s + r[i][j], 0) / 6));
      assert.ok(maxRelative(mean, batch) < 1e-6, `mean of the rows vs the batch gradient: ${maxRelative(mean, batch)}`);
      tf.dispose(rows);
      disposeModel(model);
    });

    for (const activation of ['sigmoid', 'relu'] as const) {
      it(`engine 'fused' (one flat pass, LeNet-${activation}) equals the per-sample loop to float32 rounding (< 1e-6 of each tensor's largest entry)`, () => {
        const model = digitsModel(4, activation);
        const images = data.images.slice(10, 42);
        const labels = data.labels.slice(10, 42);
        const loop = loopGradients(model, images, labels);
        const n0 = tf.memory().numTensors;
        const rows = tf.tidy(() => perExampleGradients(model, stackImages(images), oneHot(labels, 10), { engine: 'fused' }));
        const auto = tf.tidy(() => perExampleGradients(model, stackImages(images), oneHot(labels, 10)));
        assert.equal(tf.memory().numTensors, n0 + 2 * model.params.length);
        let worst = 0;
        rows.forEach((r, i) => {
          const v = r.dataSync();
          const n = model.params[i].size;
          for (let b = 0; b < 32; b++) worst = Math.max(worst, maxRelative([Array.from(v.subarray(b * n, (b + 1) * n))], [loop[b][i]]));
          assert.deepEqual(Array.from(auto[i].dataSync()), Array.from(v), "'auto' picks the fused engine");
        });
        assert.ok(worst < 1e-6, `worst relative difference ${worst}`);
        tf.dispose([...rows, ...auto]);
        disposeModel(model);
      });
    }

    it("a model without a conv-stack structure: 'auto' falls back to tfjs, 'fused' refuses; a batch of 0 gives empty rows", () => {
      const model = digitsModel(5);
      const plain = withoutStructure(model);
      const x = stackImages(data.images.slice(0, 3));
      const y = oneHot(data.labels.slice(0, 3), 10);
      const a = perExampleGradients(plain, x, y);
      const b = perExampleGradients(model, x, y, { engine: 'tfjs' });
      assert.deepEqual(values(a), values(b));
      assert.throws(() => perExampleGradients(plain, x, y, { engine: 'fused' }), /has no conv-stack structure/);
      assert.throws(() => perExampleGradients(model, x, y, { engine: 'fast' as never }), /engine must be 'auto', 'tfjs' or 'fused'/);
      assert.throws(() => perExampleGradients(model, x, oneHot([1, 2], 10)), /target must be \[3, 10\]/);
      for (const engine of ['fused', 'tfjs'] as const) {
        const empty = perExampleGradients(model, tf.zeros([0, 8, 8, 1]) as Tensor4D, tf.zeros([0, 10]) as Tensor2D, { engine });
        empty.forEach((t, i) => assert.deepEqual(t.shape, [0, ...model.params[i].shape]));
        tf.dispose(empty);
      }
      tf.dispose([...a, ...b, x, y]);
      disposeModel(model);
    });
  });

  describe('clipping and noise', () => {
    it('clip:C is the mean of the per-sample gradients clipped to norm C (float64 reference, per-sample loop)', () => {
      const model = digitsModel(6);
      const images = data.images.slice(50, 66);
      const labels = data.labels.slice(50, 66);
      const loop = loopGradients(model, images, labels);
      const norms = loop.map((r) => Math.sqrt(r.reduce((s, t) => s + t.reduce((u, v) => u + v * v, 0), 0)));
      // a C between the smallest and largest norm: some rows are clipped, some are not
      const sorted = [...norms].sort((p, q) => p - q);
      const C = sorted[8];
      assert.ok(sorted[0] < C && sorted[15] > C, `norms ${sorted.map((v) => v.toFixed(2)).join(' ')}`);
      const rows = tf.tidy(() => perExampleGradients(model, stackImages(images), oneHot(labels, 10)));
      const shared = applyPerExampleDefense(`clip:${C}`, rows, 1);
      const ref = referenceClippedMean(loop, C);
      assert.ok(maxRelative(values(shared), ref) < 2e-6, `clip:${C} vs reference: ${maxRelative(values(shared), ref)}`);
      // dp:C:0 is the same computation
      const dp0 = applyPerExampleDefense(`dp:${C}:0`, rows, 1);
      assert.deepEqual(values(dp0), values(shared));
      // after clipping every row has norm <= C (to float32 rounding); rows below C are untouched
      const flat = rows.map((r) => r.dataSync() as Float32Array);
      const batch = 16;
      const measured = perExampleNorms(flat, batch);
      const factors = clipFactors(measured, C);
      measured.forEach((n, b) => {
        close(n, norms[b], 2e-6, `norm of row ${b}`);
        assert.ok(n * factors[b] <= C * (1 + 1e-12), `clipped norm ${n * factors[b]} > C ${C}`);
        assert.equal(factors[b], n > C ? C / n : 1);
      });
      // the clipped rows, rounded to float32 as the output is, stay within float32 rounding of C
      const clippedNorm = (b: number) => Math.sqrt(flat.reduce((s, r) => {
        const n = r.length / batch;
        let t = 0;
        for (let j = b * n; j < (b + 1) * n; j++) t += Math.fround(r[j] * factors[b]) ** 2;
        return s + t;
      }, 0));
      for (let b = 0; b < batch; b++) assert.ok(clippedNorm(b) <= C * (1 + 1e-6), `row ${b}: ${clippedNorm(b)} vs C ${C}`);
      tf.dispose([...rows, ...shared, ...dp0]);
      disposeModel(model);
    });

    it('a batch of one: dp:C:SIGMA clips the gradient to norm C and adds N(0, (SIGMA C)^2) to every entry', () => {
      const model = digitsModel(7);
      const img = data.images[3];
      const label = data.labels[3];
      const [g] = loopGradients(model, [img], [label]);
      const norm = Math.sqrt(g.reduce((s, t) => s + t.reduce((u, v) => u + v * v, 0), 0));
      assert.ok(norm > 1, `the single digit's gradient norm ${norm} exceeds C = 1`);
      const c = makeCase({ images: [img], labels: [label], seed: 9, model: digitsModel(7), defense: 'dp:1:0' });
      const clipped = values(c.shared);
      const sharedNorm = Math.sqrt(clipped.reduce((s, t) => s + t.reduce((u, v) => u + v * v, 0), 0));
      close(sharedNorm, 1, 1e-6, 'norm of the clipped gradient');
      clipped.forEach((t, i) => t.forEach((v, j) => close(v, g[i][j] / norm, 1e-5, `entry ${i}/${j}`, 1e-9)));
      assert.equal(c.defense, 'dp:1:0');
      disposeCase(c);
      // with noise: shared - clipped is the noise, drawn from the case's defense stream
      const sigma = 0.3;
      const clip = 0.5;
      const noisy = makeCase({ images: [img], labels: [label], seed: 9, model: digitsModel(7), defense: `dp:${clip}:${sigma}` });
      const rng = createRng(defenseSeed(9));
      values(noisy.shared).forEach((t, i) => t.forEach((v, j) => {
        const expected = Math.fround(g[i][j] * Math.min(1, clip / norm) + sigma * clip * rng.normal());
        close(v, expected, 1e-5, `noisy entry ${i}/${j}`, 1e-7);
      }));
      disposeCase(noisy);
      disposeModel(model);
    });

    it('noise scale: the empirical standard deviation of shared(SIGMA) - shared(0) is SIGMA C / B (within 2%), mean ~0, Gaussian kurtosis', () => {
      const B = 4;
      const rows = [tf.tensor(new Float32Array(B * 50000).map((_, k) => Math.sin(k)), [B, 50000]), tf.ones([B, 3, 7])];
      for (const [C, sigma] of [[1, 1], [0.5, 3], [2, 0.01]]) {
        const clean = applyPerExampleDefense(`dp:${C}:0`, rows, 5);
        const noisy = applyPerExampleDefense(`dp:${C}:${sigma}`, rows, 5);
        const a = values(noisy).flat();
        const b = values(clean).flat();
        const d = a.map((v, k) => v - b[k]);
        const n = d.length;
        const mean = d.reduce((s, v) => s + v, 0) / n;
        const sd = Math.sqrt(d.reduce((s, v) => s + (v - mean) ** 2, 0) / n);
        const kurt = d.reduce((s, v) => s + (v - mean) ** 4, 0) / n / sd ** 4;
        const expected = (sigma * C) / B;
        assert.ok(Math.abs(sd / expected - 1) < 0.02, `C ${C} sigma ${sigma}: sd ${sd} vs ${expected}`);
        assert.ok(Math.abs(mean) < (5 * expected) / Math.sqrt(n), `mean ${mean}`);
        assert.ok(Math.abs(kurt - 3) < 0.15, `kurtosis ${kurt}`);
        tf.dispose([...clean, ...noisy]);
      }
      // the denominator option: the same sum divided by D instead of B
      const byB = applyPerExampleDefense('dp:1:1', rows, 6);
      const byTen = applyPerExampleDefense('dp:1:1', rows, 6, { denominator: 10 });
      const x = values(byB).flat();
      values(byTen).flat().forEach((v, k) => close(v, (x[k] * B) / 10, 1e-6, `entry ${k}`, 1e-9));
      // an empty Poisson batch with a denominator: pure noise of sd sigma C / D
      const empty = applyPerExampleDefense('dp:1:2', [tf.zeros([0, 20000])], 7, { denominator: 8 });
      const e = values(empty)[0];
      const esd = Math.sqrt(e.reduce((s, v) => s + v * v, 0) / e.length);
      assert.ok(Math.abs(esd / (2 / 8) - 1) < 0.03, `empty batch: sd ${esd}`);
      tf.dispose([...rows, ...byB, ...byTen, ...empty]);
    });

    it('deterministic from the seed; another seed gives other noise; no tensor left behind', () => {
      const model = digitsModel(8);
      const n0 = tf.memory().numTensors;
      const run = (seed: number, spec: string) => {
        const c = makeCase({ images: data.images.slice(0, 3), labels: data.labels.slice(0, 3), seed, model, defense: spec });
        const v = values(c.shared);
        disposeCase(c, true);
        return v;
      };
      assert.deepEqual(run(1, 'dp:1:0.5+fp16'), run(1, 'dp:1:0.5+fp16'));
      assert.notDeepEqual(run(1, 'dp:1:0.5'), run(2, 'dp:1:0.5'));
      assert.equal(tf.memory().numTensors, n0);
      disposeModel(model);
    });
  });

  describe('makeCase and defendCase', () => {
    it('a batch case gets the DP-SGD aggregate of its per-example gradients; dp after another defense is refused', () => {
      const model = digitsModel(9);
      const images = data.images.slice(20, 24);
      const labels = data.labels.slice(20, 24);
      const loop = loopGradients(model, images, labels);
      const c = makeCase({ images, labels, seed: 3, model, defense: 'clip:0.8' });
      const ref = referenceClippedMean(loop, 0.8);
      assert.ok(maxRelative(values(c.shared), ref) < 2e-6);
      assert.equal(c.defense, 'clip:0.8');
      assert.throws(() => defendCase(c, 'dp:1:1', 3), /'dp:1:1' works on per-example gradients and must come first; this case's gradient is already defended with 'clip:0.8'/);
      defendCase(c, 'fp16', 3); // batch-gradient defenses may follow
      assert.equal(c.defense, 'clip:0.8+fp16');
      disposeCase(c, true);
      disposeModel(model);
    });
  });

  describe('training under DP-SGD', function () {
    let train: LabelledImages;
    let test: LabelledImages;
    before(function () {
      const split = trainTestSplit(loadDataset('digits'), { seed: 0, testCount: 100, trainCount: 320 });
      train = split.train;
      test = split.test;
    });

    it('clip with a norm no gradient reaches trains exactly as without a defense (per-example mean = batch gradient)', () => {
      const once = (defense: string) => {
        const model = digitsModel(11);
        trainWithDefense({ model, ...train, defense, epochs: 1, batchSize: 32, lr: 0.1, momentum: 0.9, seed: 2 });
        const v = values(model.params);
        disposeModel(model);
        return v;
      };
      const a = once('none');
      const b = once('clip:1000');
      assert.ok(maxRelative(b, a) < 1e-4, `parameters after one epoch differ by ${maxRelative(b, a)}`);
    });

    it('reports the run\'s epsilon (shuffle: as libraries do, plus the guarantee without amplification); flat tensor counts', () => {
      const model = digitsModel(12);
      const start = tf.memory().numTensors;
      const counts: number[] = [];
      const r = trainWithDefense({
        model, ...train, test, defense: 'dp:1:1', epochs: 3, batchSize: 32, lr: 0.1, momentum: 0.9, seed: 3,
        onEpoch: () => counts.push(tf.memory().numTensors),
      });
      assert.ok(counts.every((c) => c === counts[0]), `tensor counts ${counts.join(', ')}`);
      assert.equal(tf.memory().numTensors, start);
      assert.equal(r.steps, 30);
      const p = r.privacy!;
      assert.equal(p.sampling, 'shuffle');
      assert.equal(p.q, 32 / 320);
      assert.equal(p.steps, 30);
      assert.equal(p.delta, 1e-5);
      assert.equal(p.epsilon, dpSgdEpsilon({ sigma: 1, q: 0.1, steps: 30, delta: 1e-5 }).epsilon);
      assert.equal(p.epsilonGuaranteed, dpSgdEpsilon({ sigma: 0.5, q: 1, steps: 3, delta: 1e-5 }).epsilon);
      assert.equal(p.neighbours, 'replace-one');
      assert.ok(p.epsilonGuaranteed > p.epsilon);
      assert.match(p.note, /does not cover shuffling/);
      disposeModel(model);
      assert.equal(trainWithDefense({ model: digitsModel(1), ...train, epochs: 0, seed: 1, defense: 'gaussian:1e-3' }).privacy, undefined);
    });

    it('Poisson sampling: batches of varying size at rate q, round(N / B) steps per epoch, epsilon a guarantee; deterministic from the seed', () => {
      const rng = createRng(4);
      const sizes = Array.from({ length: 400 }, () => poissonSample(320, 0.1, rng).length);
      const mean = sizes.reduce((s, v) => s + v, 0) / sizes.length;
      assert.ok(Math.abs(mean - 32) < 1, `mean Poisson batch ${mean}`);
      assert.ok(new Set(sizes).size > 10, 'batch sizes vary');
      const once = (seed: number) => {
        const model = digitsModel(13);
        const r = trainWithDefense({ model, ...train, defense: 'dp:1:1', epochs: 2, batchSize: 32, lr: 0.1, momentum: 0.9, seed, sampling: 'poisson', delta: 1e-6 });
        const v = { params: values(model.params), losses: r.losses, privacy: r.privacy };
        disposeModel(model);
        return { ...v, steps: r.steps };
      };
      const a = once(5);
      assert.equal(a.steps, 20);
      assert.equal(a.privacy!.sampling, 'poisson');
      assert.equal(a.privacy!.epsilonGuaranteed, a.privacy!.epsilon);
      assert.equal(a.privacy!.epsilon, dpSgdEpsilon({ sigma: 1, q: 0.1, steps: 20, delta: 1e-6 }).epsilon);
      assert.equal(a.privacy!.neighbours, 'add-or-remove-one');
      assert.deepEqual(once(5), a);
      assert.notDeepEqual(once(6).losses, a.losses);
      const model = digitsModel(1);
      assert.throws(() => trainWithDefense({ model, ...train, epochs: 1, seed: 1, sampling: 'bernoulli' as never }), /sampling must be 'shuffle' or 'poisson'/);
      assert.throws(() => trainWithDefense({ model, ...train, epochs: 1, seed: 1, batchSize: 500, sampling: 'poisson' }), /batchSize 500 exceeds the 320 training examples/);
      assert.throws(() => trainWithDefense({ model, ...train, epochs: 1, seed: 1, delta: 0 }), /delta must be in \(0, 1\)/);
      disposeModel(model);
    });
  });

  describe('epsilon of one shared step (stepEpsilon, for the CLI)', () => {
    it('the Gaussian mechanism with noise multiplier SIGMA, RDP and exact; Infinity without a dp step', () => {
      const s = stepEpsilon('dp:1:1');
      assert.equal(s.defense, 'dp:1:1');
      assert.equal(s.delta, 1e-5);
      assert.equal(s.epsilon, gaussianRdpEpsilon(1, 1e-5).epsilon);
      assert.equal(s.epsilon, dpSgdEpsilon({ sigma: 1, q: 1, steps: 1, delta: 1e-5 }).epsilon);
      assert.equal(s.exactEpsilon, exactGaussianEpsilon(1, 1e-5));
      assert.ok(Math.abs(s.epsilon - 4.7285) < 1e-4 && Math.abs(s.exactEpsilon - 4.3772) < 1e-4, JSON.stringify(s));
      assert.equal(stepEpsilon('dp:5:1+fp16', 1e-5).epsilon, s.epsilon, 'C and post-processing do not change epsilon');
      assert.ok(stepEpsilon('dp:1:1', 1e-3).epsilon < s.epsilon);
      for (const spec of ['none', 'gaussian:1e-2', 'clip:1', 'dp:1:0', 'prune:0.9']) {
        const r = stepEpsilon(spec);
        assert.equal(r.epsilon, Infinity, spec);
        assert.equal(JSON.parse(JSON.stringify(r)).epsilon, null);
      }
      assert.throws(() => stepEpsilon('dp:0:1'), /bad defense 'dp:0:1': dp needs a clipping norm C > 0, got 0/);
      assert.throws(() => stepEpsilon('dp:1:1', 0), /delta must be in \(0, 1\), got 0/);
    });
  });
});

function close(a: number, b: number, rel: number, what: string, abs = 0): void {
  assert.ok(Math.abs(a - b) <= rel * Math.abs(b) + abs, `${what}: ${a} vs ${b}`);
}
