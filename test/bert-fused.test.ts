/**
 * The fused BERT-MLM attack objective (lib/engine/bert-fused.ts) against PyTorch in float64
 * (test/golden/bert_golden.py), against the tfjs autodiff path, and against finite differences;
 * the low-rank factorisation of the shared decoder gradient; tensor counts.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { tf } from '../lib/engine';
import { bert, disposeBert } from '../lib/models/bert';
import type { Bert } from '../lib/models/bert';
import { loadBertCheckpoint } from '../lib/models/bert-checkpoint';
import { mlmGradient } from '../lib/cases/text';
import { textObjective } from '../lib/attacks/text-objective';
import type { TextDistance } from '../lib/attacks/text-objective';
import { bertFusedObjective } from '../lib/engine/bert-fused';
import { lowRankFactor } from '../lib/engine/low-rank';
import { createRng, normalArray } from '../lib/rng';
import type { Tensor } from '@tensorflow/tfjs';
import { relativeError as relErr } from './golden';

const GOLDEN = path.join(__dirname, '../../test/golden');

interface Golden {
  ids: number[];
  positions: number[];
  labels: number[];
  l1Weight: number;
  shared: number[][];
  dummyE: number[];
  dummyY: number[];
  objective: Record<string, { value: number; dE: number[]; dY?: number[] }>;
}

/** dD/dx along a random direction restricted to [lo, hi), vs Richardson-extrapolated central differences. */
function directionalError(f: (x: Float64Array, g?: Float64Array) => number, x: Float64Array, lo: number, hi: number, seed: number, h = 1e-3): number {
  const g = new Float64Array(x.length);
  f(x, g);
  const v = new Float64Array(x.length);
  const r = normalArray(createRng(seed), hi - lo);
  for (let i = lo; i < hi; i++) v[i] = r[i - lo];
  const at = (eps: number) => f(x.map((xi, i) => xi + eps * v[i]));
  const fd = (eps: number) => (at(eps) - at(-eps)) / (2 * eps);
  const numeric = (4 * fd(h / 2) - fd(h)) / 3;
  const analytic = g.reduce((s, gi, i) => s + gi * v[i], 0);
  return Math.abs(analytic - numeric) / Math.max(Math.abs(numeric), 1e-9);
}

describe('fused BERT-MLM objective vs PyTorch (float64 golden values)', () => {
  const golden = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'bert.json'), 'utf8')) as Golden;
  let model: Bert;
  let shared: Tensor[];
  before(() => {
    model = loadBertCheckpoint(path.join(GOLDEN, 'bert-tiny.safetensors'));
    shared = golden.shared.map((s, i) => tf.tensor(s, model.params[i].shape));
  });
  after(() => {
    tf.dispose(shared);
    disposeBert(model);
  });
  const cases: [string, TextDistance, 'joint' | 'fixed'][] = [['l2', 'l2', 'joint'], ['cosine', 'cosine', 'joint'], ['l1l2', 'l1l2', 'joint'], ['l2_fixed', 'l2', 'fixed']];
  for (const [[key, distance, label], lowRank] of cases.flatMap((c) => [[c, false], [c, true]] as const)) {
    const tol = lowRank ? 1e-6 : 1e-9;
    it(`${key}${lowRank ? ', shared decoder gradient factored (low rank)' : ''}: value and gradients agree with PyTorch to ${tol}`, () => {
      const V = model.config.vocabSize;
      const target = new Float64Array(golden.positions.length * V);
      golden.labels.forEach((l, r) => (target[r * V + l] = 1));
      const f = bertFusedObjective(model, shared, { seqLength: golden.ids.length, positions: golden.positions, label, target, distance, l1Weight: golden.l1Weight, lowRank });
      assert.equal(f.decoderRank().rank, lowRank ? 2 : 8);
      const x = Float64Array.from(label === 'joint' ? [...golden.dummyE, ...golden.dummyY] : golden.dummyE);
      const g = new Float64Array(x.length);
      const value = f.evaluate(x, g);
      const want = golden.objective[key];
      assert.ok(Math.abs(value - want.value) <= tol * Math.abs(want.value), `value ${value} vs ${want.value}`);
      const nE = golden.dummyE.length;
      assert.ok(relErr(g.subarray(0, nE), want.dE) < tol, `dE rel. err ${relErr(g.subarray(0, nE), want.dE)}`);
      if (want.dY) assert.ok(relErr(g.subarray(nE), want.dY) < tol, `dY rel. err ${relErr(g.subarray(nE), want.dY)}`);
    });
  }
});

describe('fused BERT-MLM objective vs tfjs autodiff and finite differences', () => {
  // a 2-layer model with 4 heads, large enough for every code path, small enough for tfjs in float32
  const config = { vocabSize: 300, hidden: 16, heads: 4, layers: 2, intermediate: 32, maxPositions: 12, seed: 3 };
  const ids = [1, 40, 77, 103, 9, 250, 31, 120, 2];
  const positions = [2, 3, 6];
  const inputIds = ids.map((id, i) => (positions.includes(i) ? 5 : id));
  let model: Bert;
  let honest: Tensor[];
  let noisy: Tensor[];
  before(() => {
    model = bert(config);
    honest = mlmGradient(model, inputIds, positions, positions.map((q) => ids[q]));
    // a noised gradient (as under a noise defense): its decoder part is no longer low-rank
    noisy = honest.map((g, i) => tf.tidy(() => tf.add(g, tf.mul(tf.tensor(normalArray(createRng(100 + i), g.size), g.shape), 1e-3))));
  });
  after(() => {
    tf.dispose([...honest, ...noisy]);
    disposeBert(model);
  });
  const shape = { seqLength: ids.length, positions };

  for (const distance of ['l2', 'cosine', 'l1l2'] as const) {
    for (const which of ['honest', 'noised'] as const) {
      it(`${distance}, ${which} gradient: fused = autodiff (value and both gradients, rel. err < 1e-5)`, () => {
        const shared = which === 'honest' ? honest : noisy;
        const fused = textObjective(model, shared, shape, { engine: 'fused', distance });
        const auto = textObjective(model, shared, shape, { engine: 'autodiff', distance });
        const x = Float64Array.from(normalArray(createRng(7), fused.size));
        const g1 = new Float64Array(fused.size);
        const g2 = new Float64Array(fused.size);
        const v1 = fused(x, g1);
        const v2 = auto(x, g2);
        const nE = ids.length * config.hidden;
        assert.ok(Math.abs(v1 - v2) < 1e-5 * Math.abs(v2), `value ${v1} vs ${v2}`);
        assert.ok(relErr(g1.subarray(0, nE), g2.subarray(0, nE)) < 1e-5, `dE rel. err ${relErr(g1.subarray(0, nE), g2.subarray(0, nE))}`);
        assert.ok(relErr(g1.subarray(nE), g2.subarray(nE)) < 1e-5, `dY rel. err ${relErr(g1.subarray(nE), g2.subarray(nE))}`);
      });
    }
    // l1l2 has kinks (|G - S| at 0): smaller steps cross fewer of them, and the bound is looser
    const [h, tol] = distance === 'l1l2' ? [1e-6, 1e-4] : [1e-3, 1e-5];
    it(`${distance}: the gradient agrees with finite differences along the embeddings and the labels (rel. err < ${tol})`, () => {
      const f = textObjective(model, honest, shape, { distance });
      const x = Float64Array.from(normalArray(createRng(8), f.size));
      const nE = ids.length * config.hidden;
      const eE = directionalError(f, x, 0, nE, 1, h);
      const eY = directionalError(f, x, nE, f.size, 2, h);
      assert.ok(eE < tol, `embeddings: rel. err ${eE}`);
      assert.ok(eY < tol, `labels: rel. err ${eY}`);
    });
  }

  it('labels over a support of tokens: fused = autodiff, finite differences; x holds masked x support logits', () => {
    const labelSupport = [ids[2], ids[3], ids[6], 17];
    const fused = textObjective(model, honest, shape, { labelSupport });
    const auto = textObjective(model, honest, shape, { labelSupport, engine: 'autodiff' });
    const nE = ids.length * config.hidden;
    assert.equal(fused.size, nE + positions.length * labelSupport.length);
    const x = Float64Array.from(normalArray(createRng(12), fused.size));
    const g1 = new Float64Array(fused.size);
    const g2 = new Float64Array(fused.size);
    const v1 = fused(x, g1);
    const v2 = auto(x, g2);
    assert.ok(Math.abs(v1 - v2) < 1e-5 * v2, `value ${v1} vs ${v2}`);
    assert.ok(relErr(g1, g2) < 1e-5, `rel. err ${relErr(g1, g2)}`);
    const eY = directionalError(fused, x, nE, fused.size, 3);
    assert.ok(eY < 1e-5, `labels: rel. err ${eY}`);
    auto.dispose();
  });

  it("label 'fixed': fused = autodiff; the target can be replaced", () => {
    const V = config.vocabSize;
    const target = new Float64Array(positions.length * V);
    positions.forEach((q, r) => (target[r * V + ids[q]] = 1));
    const fused = textObjective(model, honest, shape, { label: 'fixed', target });
    const auto = textObjective(model, honest, shape, { label: 'fixed', target, engine: 'autodiff' });
    assert.equal(fused.size, ids.length * config.hidden);
    // at the client's own input the distance is ~0 (float32 rounding of the shared gradient)
    const truth = Float64Array.from(model.embed(inputIds).dataSync());
    assert.ok(fused(truth) < 1e-9, `distance at the truth ${fused(truth)}`);
    const x = Float64Array.from(normalArray(createRng(9), fused.size));
    const g1 = new Float64Array(fused.size);
    const g2 = new Float64Array(fused.size);
    assert.ok(Math.abs(fused(x, g1) - auto(x, g2)) < 1e-5 * auto(x));
    assert.ok(relErr(g1, g2) < 1e-5, `rel. err ${relErr(g1, g2)}`);
    const other = new Float64Array(target.length);
    positions.forEach((q, r) => (other[r * V + 11 + r] = 1));
    fused.setTarget(other);
    auto.setTarget(other);
    assert.ok(Math.abs(fused(x) - auto(x)) < 1e-5 * auto(x));
    assert.ok(fused(truth) > 1e-3, 'wrong labels: the truth no longer matches');
  });

  it('evaluations create no tensors', () => {
    const f = textObjective(model, honest, shape);
    const x = Float64Array.from(normalArray(createRng(10), f.size));
    const g = new Float64Array(f.size);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) f(x, g);
    assert.equal(tf.memory().numTensors, before);
    const auto = textObjective(model, honest, shape, { engine: 'autodiff' });
    auto(x, g);
    assert.equal(tf.memory().numTensors, before, 'autodiff: tensors freed per call');
  });

  it('rejects bad shapes and options with clear errors', () => {
    assert.throws(() => textObjective(model, honest, { seqLength: 9, positions: [0] }), /masked positions must be distinct integers in \[1, 7\]/);
    assert.throws(() => textObjective(model, honest, { seqLength: 9, positions: [2, 2] }), /masked positions must be distinct/);
    assert.throws(() => textObjective(model, honest, shape, { label: 'fixed' }), /label 'fixed' needs a target/);
    assert.throws(() => textObjective(model, honest, shape, { engine: 'gpu' as never }), /engine must be 'fused' or 'autodiff'/);
    assert.throws(() => textObjective(model, honest, shape, { distance: 'l3' as never }), /distance must be 'l2', 'cosine' or 'l1l2'/);
    const f = textObjective(model, honest, shape);
    assert.throws(() => f(new Float64Array(3)), /x has 3 entries/);
  });
});

describe('low-rank factorisation of the shared decoder gradient', () => {
  it('finds rank m of an honest client\'s gradient (t^T Delta) and reproduces it; a noised one stays full rank', () => {
    const rng = createRng(4);
    const rows = 16;
    const cols = 500;
    const a = normalArray(rng, rows * 3);
    const b = normalArray(rng, 3 * cols);
    const s = new Float32Array(rows * cols);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) for (let k = 0; k < 3; k++) s[i * cols + j] += a[i * 3 + k] * b[k * cols + j];
    const lr = lowRankFactor(s, rows, cols);
    assert.equal(lr.rank, 3);
    assert.ok(lr.droppedEnergy < 1e-12, `dropped ${lr.droppedEnergy}`);
    const back = new Float64Array(rows * cols);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) for (let k = 0; k < 3; k++) back[i * cols + j] += lr.u[i * 3 + k] * lr.b[k * cols + j];
    assert.ok(relErr(back, s) < 1e-6, `reconstruction rel. err ${relErr(back, s)}`);
    const noise = normalArray(createRng(5), rows * cols);
    const full = lowRankFactor(s.map((v, i) => v + 1e-3 * noise[i]), rows, cols);
    assert.equal(full.rank, rows);
  });
});
