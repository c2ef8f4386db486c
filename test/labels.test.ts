import { strict as assert } from 'assert';
import { tf } from '../lib/engine';
import { makeCase, disposeCase } from '../lib/cases/case';
import { idlgLabel, distinctLabels, countLabels, recoverLabels, meanSoftmaxOnDummies } from '../lib/attacks/labels';
import { labelAccuracy } from '../lib/analysis/labels';
import { dlg } from '../lib/attacks/dlg';
import { loadDataset } from '../lib/data';
import { createRng } from '../lib/rng';
import type { Model } from '../lib/models/model';
import type { Tensor } from '@tensorflow/tfjs';

const data = loadDataset('fashion-mnist');

type Rule = (model: Model, shared: Tensor[], n: number) => number[];

/**
 * Mean label accuracy and exact batches of `rule` over `runs` random batches of n Fashion-MNIST images
 * (the paper's sigmoid LeNet, 100-way head, a fresh model per batch) with labels drawn by `draw`.
 */
function measure(rule: Rule, n: number, runs: number, draw: (rng: ReturnType<typeof createRng>) => number[]): { accuracy: number; exact: number } {
  let acc = 0;
  let exact = 0;
  for (let s = 0; s < runs; s++) {
    const rng = createRng(100 + s);
    const images = Array.from({ length: n }, () => data.images[Math.floor(rng.next() * data.images.length)]);
    const labels = draw(rng);
    const c = makeCase({ images, labels, seed: 1 + s });
    const a = labelAccuracy(rule(c.model, c.shared, n), labels);
    acc += a;
    exact += a === 1 ? 1 : 0;
    disposeCase(c);
  }
  return { accuracy: acc / runs, exact };
}

const distinctDraw = (n: number) => (rng: ReturnType<typeof createRng>) => {
  const out: number[] = [];
  while (out.length < n) {
    const j = Math.floor(rng.next() * 100);
    if (!out.includes(j)) out.push(j);
  }
  return out;
};
/** n labels from only ceil(n/2) classes: repeats in every batch of 2 or more. */
const repeatedDraw = (n: number) => (rng: ReturnType<typeof createRng>) => {
  const pool = Array.from({ length: Math.ceil(n / 2) }, () => Math.floor(rng.next() * 100));
  return Array.from({ length: n }, (_, i) => pool[i < pool.length ? i : Math.floor(rng.next() * pool.length)]);
};

describe('label recovery from the gradient (iDLG, distinct-label and counting rules)', () => {
  it('labelAccuracy compares multisets (order unknowable)', () => {
    assert.equal(labelAccuracy([3, 1, 1], [1, 3, 1]), 1);
    assert.equal(labelAccuracy([1, 1, 2], [1, 2, 2]), 2 / 3);
    assert.equal(labelAccuracy([5, 6], [7, 8]), 0);
    assert.throws(() => labelAccuracy([1], [1, 2]), /1 recovered labels for 2 true ones/);
  });

  it('single samples: iDLG, distinct and count all read the label exactly (20 of 20)', () => {
    const idlg = measure((m, g) => [idlgLabel(m, g)], 1, 20, distinctDraw(1));
    const distinct = measure(distinctLabels, 1, 20, distinctDraw(1));
    const count = measure(countLabels, 1, 20, distinctDraw(1));
    assert.deepEqual([idlg.exact, distinct.exact, count.exact], [20, 20, 20]);
  });

  it("distinct labels, batches of 4 and 8: the 'distinct' rule (most negative weight columns) and 'count' (bias gradient)", () => {
    const d4 = measure(distinctLabels, 4, 20, distinctDraw(4));
    const c4 = measure(countLabels, 4, 20, distinctDraw(4));
    const d8 = measure(distinctLabels, 8, 20, distinctDraw(8));
    const c8 = measure(countLabels, 8, 20, distinctDraw(8));
    // measured (20 batches each): d4 1 (20/20 exact), c4 1 (20/20), d8 0.963 (15/20), c8 1 (20/20)
    assert.ok(d4.accuracy >= 0.97 && d4.exact >= 18, JSON.stringify(d4));
    assert.ok(c4.accuracy >= 0.99 && c4.exact >= 19, JSON.stringify(c4));
    assert.ok(d8.accuracy >= 0.93 && d8.exact >= 12, JSON.stringify(d8));
    assert.ok(c8.accuracy >= 0.98 && c8.exact >= 18, JSON.stringify(c8));
  });

  it("repeated labels, batches of 8: 'count' counts them, 'distinct' cannot", () => {
    const d8 = measure(distinctLabels, 8, 20, repeatedDraw(8));
    const c8 = measure(countLabels, 8, 20, repeatedDraw(8));
    // at most 4 distinct classes: 'distinct' gets at most 4 of 8 right (measured 0.49, 0/20 exact); count 1 (20/20)
    assert.ok(d8.accuracy <= 0.5 && d8.exact === 0, JSON.stringify(d8));
    assert.ok(c8.accuracy >= 0.97 && c8.exact >= 17, JSON.stringify(c8));
  });

  it('count: the repeated labels of one batch counted exactly; the dummy estimate is a probability vector', () => {
    const c = makeCase({ images: data.images.slice(0, 8), labels: [4, 4, 4, 9, 9, 0, 0, 0], seed: 3 });
    const p = meanSoftmaxOnDummies(c.model, 16, 1);
    assert.equal(p.length, 100);
    assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-5);
    assert.deepEqual(countLabels(c.model, c.shared, 8), [0, 0, 0, 4, 4, 4, 9, 9]);
    disposeCase(c);
  });

  it('dlg() takes batch labels from the gradient and keeps them fixed', () => {
    const c = makeCase({ images: data.images.slice(0, 4), labels: [7, 7, 2, 5], seed: 4 });
    const r = dlg(c.model, c.shared, { batchSize: 4, label: 'count', iterations: 1, seed: 1 });
    assert.deepEqual(r.labels, [2, 5, 7, 7]);
    const r2 = dlg(c.model, c.shared, { batchSize: 4, label: 'distinct', iterations: 1, seed: 1 });
    assert.equal(labelAccuracy(r2.labels, [7, 7, 2, 5]), 0.75);
    disposeCase(c);
  });

  it('bad input: clear errors', () => {
    const c = makeCase({ images: data.images.slice(0, 2), labels: [1, 2], seed: 5 });
    assert.throws(() => recoverLabels('idlg', c.model, c.shared, 2), /label 'idlg' recovers a single sample's label; batchSize is 2/);
    assert.throws(() => dlg(c.model, c.shared, { batchSize: 2, label: 'idlg' }), /label 'idlg' recovers a single sample's label/);
    assert.throws(() => distinctLabels(c.model, c.shared, 101), /batch of 101 cannot have distinct labels among 100 classes/);
    assert.throws(() => countLabels(c.model, c.shared, 0), /batch size must be a positive integer, got 0/);
    assert.throws(() => dlg(c.model, c.shared, { label: 'bias' as never }), /label must be 'joint', 'idlg', 'distinct' or 'count'/);
    const noBias = c.shared.slice(0, 7);
    const model = { ...c.model, params: c.model.params.slice(0, 7) };
    assert.throws(() => countLabels(model, noBias, 2), /needs a bias on the last dense layer/);
    const before = tf.memory().numTensors;
    countLabels(c.model, c.shared, 2);
    distinctLabels(c.model, c.shared, 2);
    assert.equal(tf.memory().numTensors, before);
    disposeCase(c);
  });
});
