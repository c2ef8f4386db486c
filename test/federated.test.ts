import { strict as assert } from 'assert';
import { tf } from '../lib/engine';
import { lenet } from '../lib/models/lenet';
import { makeCase, disposeCase } from '../lib/cases/case';
import { loadDataset } from '../lib/data';
import { score, imageAt } from '../lib/analysis/score';
import { trainWithDefense } from '../lib/cases/train';
import { federatedRound, disposeView, applyRound, roundOptions } from '../lib/cases/federated';
import type { Client, ServerView } from '../lib/cases/federated';
import { attackServerView, gradientEstimate } from '../lib/attacks/federated';
import type { Tensor } from '@tensorflow/tfjs';

const lfw = loadDataset('lfw', { limit: 8 });
const faceModel = () => lenet({ inputShape: [25, 25, 1], numClasses: 100, seed: 1 });
const oneEach = (n: number): Client[] => Array.from({ length: n }, (_, k) => ({ images: [lfw.images[k]], labels: [lfw.labels[k]] }));

/** max |a - b| over all entries, relative to max |b|. */
function relDiff(a: Tensor[], b: Tensor[]): number {
  let num = 0;
  let den = 0;
  a.forEach((t, i) => {
    const x = t.dataSync();
    const y = b[i].dataSync();
    for (let j = 0; j < x.length; j++) {
      num = Math.max(num, Math.abs(x[j] - y[j]));
      den = Math.max(den, Math.abs(y[j]));
    }
  });
  return num / den;
}

describe('federated round (FedSGD, FedAvg, secure aggregation)', () => {
  it('FedSGD: each client sends its own gradient; secure aggregation reveals only the mean, = the gradient of the union batch', () => {
    const model = faceModel();
    const clients = [{ images: lfw.images.slice(0, 2), labels: lfw.labels.slice(0, 2) }, ...oneEach(4).slice(2)];
    const before = tf.memory().numTensors;
    const each = federatedRound(model, clients, { protocol: 'fedsgd' });
    const agg = federatedRound(model, clients, { protocol: 'fedsgd', secureAggregation: true });
    assert.equal(each.updates.length, 3);
    assert.deepEqual(each.sampleCounts, [2, 1, 1]);
    assert.equal(agg.updates.length, 1);
    assert.deepEqual(agg.sampleCounts, [4]);
    // each update is that client's gradient
    each.updates.forEach((u, k) => {
      const c = makeCase({ images: clients[k].images, labels: clients[k].labels, seed: 1, model });
      assert.ok(relDiff(u, c.shared) < 1e-6);
      disposeCase(c, true);
    });
    // the aggregate is the sample-weighted mean of the client gradients ...
    const mean = tf.tidy(() => each.updates[0].map((_, i) => tf.div(tf.addN(each.updates.map((u, k) => tf.mul(u[i], each.sampleCounts[k]))), 4)));
    assert.ok(relDiff(agg.updates[0], mean) < 1e-6, `${relDiff(agg.updates[0], mean)}`);
    // ... and the gradient of the batch of all four images
    const union = makeCase({ images: lfw.images.slice(0, 4), labels: lfw.labels.slice(0, 4), seed: 1, model });
    const d = relDiff(agg.updates[0], union.shared);
    assert.ok(d < 1e-6, `aggregate vs union-batch gradient: ${d}`);
    tf.dispose(mean);
    disposeCase(union, true);
    disposeView(each);
    disposeView(agg);
    assert.equal(tf.memory().numTensors, before);
    tf.dispose(model.params);
  });

  it('FedAvg: K local SGD steps give the update W_K - W0 of K full-batch SGD epochs (train.ts), and K = 1 is -lr x gradient', () => {
    const global = faceModel();
    const clients = [{ images: lfw.images.slice(0, 3), labels: lfw.labels.slice(0, 3) }];
    const lr = 0.05;
    const sgd = federatedRound(global, clients, { protocol: 'fedsgd' });
    const k1 = federatedRound(global, clients, { protocol: 'fedavg', localSteps: 1, lr });
    const minusLrG = tf.tidy(() => sgd.updates[0].map((g) => tf.mul(g, -lr)));
    assert.ok(relDiff(k1.updates[0], minusLrG) < 1e-6);
    const est = gradientEstimate(k1, 0);
    assert.ok(relDiff(est, sgd.updates[0]) < 1e-5, 'the K = 1 gradient estimate is the gradient');
    for (const K of [3]) {
      const view = federatedRound(global, clients, { protocol: 'fedavg', localSteps: K, lr });
      const local = faceModel();
      trainWithDefense({ model: local, images: clients[0].images, labels: clients[0].labels, epochs: K, batchSize: 3, lr, seed: 1 });
      const moved = tf.tidy(() => local.params.map((p, i) => tf.sub(p, global.params[i])));
      const d = relDiff(view.updates[0], moved);
      assert.ok(d < 1e-5, `FedAvg update vs train.ts: ${d}`);
      // the K-step estimate differs from the gradient at W0 (the trajectory moved)
      const e = gradientEstimate(view, 0);
      const off = relDiff(e, sgd.updates[0]);
      assert.ok(off > 1e-3, `estimate after ${K} steps vs gradient at W0: ${off}`);
      tf.dispose([...moved, ...e, ...local.params]);
      disposeView(view);
    }
    tf.dispose([...minusLrG, ...est]);
    disposeView(sgd);
    disposeView(k1);
    tf.dispose(global.params);
  });

  it('applyRound: the server steps with the mean update', () => {
    const model = faceModel();
    const w0 = model.params.map((p) => p.clone());
    const view = federatedRound(model, oneEach(2), { protocol: 'fedsgd', secureAggregation: true });
    applyRound(model, view, 0.5);
    const expected = tf.tidy(() => w0.map((w, i) => tf.sub(w, tf.mul(view.updates[0][i], 0.5))));
    assert.ok(relDiff(model.params, expected) < 1e-6);
    tf.dispose([...w0, ...expected, ...model.params]);
    disposeView(view);
  });

  it("the server recovers a single client's image from FedSGD (MSE < 1e-3); Inverting Gradients attacks the same view", () => {
    const model = faceModel();
    const before = tf.memory().numTensors;
    const one = federatedRound(model, oneEach(1), { protocol: 'fedsgd' });
    const [r] = attackServerView(model, one, { dlg: { iterations: 100, seed: 1 } });
    const s = score(imageAt(r.data, r.shape, 0), lfw.images[0]);
    assert.ok(s.mse < 1e-3, `MSE ${s.mse}`);
    assert.deepEqual(r.labels, [lfw.labels[0]]);
    // Inverting Gradients on the same view
    const [ig] = attackServerView(model, one, { attack: 'inverting', inverting: { iterations: 300, seed: 1 } });
    assert.equal(ig.iterations, 300);
    assert.ok(score(imageAt(ig.data, ig.shape, 0), lfw.images[0]).mse < 0.05);
    disposeView(one);
    assert.equal(tf.memory().numTensors, before);
    tf.dispose(model.params);
  });

  it('bad input: clear errors', () => {
    const model = faceModel();
    const clients = oneEach(2);
    assert.throws(() => federatedRound(model, clients, { protocol: 'fedprox' as never }), /unknown federated protocol 'fedprox' \(known: fedsgd, fedavg\)/);
    assert.throws(() => federatedRound(model, clients, { protocol: 'fedsgd', localSteps: 2 }), /FedSGD sends one gradient: localSteps must be 1/);
    assert.throws(() => federatedRound(model, clients, { protocol: 'fedavg', localSteps: 0 }), /localSteps must be a positive integer, got 0/);
    assert.throws(() => federatedRound(model, clients, { protocol: 'fedavg', lr: 0 }), /lr must be a positive number, got 0/);
    assert.throws(() => federatedRound(model, clients, { protocol: 'fedsgd', secure: true } as never), /unknown federated round option 'secure'/);
    assert.throws(() => federatedRound(model, [], { protocol: 'fedsgd' }), /at least one client/);
    assert.throws(() => federatedRound(model, [{ images: [lfw.images[0]], labels: [] }], { protocol: 'fedsgd' }), /client 0: 1 images but 0 labels/);
    assert.throws(() => federatedRound(model, [{ images: [lfw.images[0]], labels: [100] }], { protocol: 'fedsgd' }), /client 0, label 0 is 100/);
    const digits = loadDataset('digits', { limit: 1 });
    assert.throws(() => federatedRound(model, [{ images: digits.images, labels: [0] }], { protocol: 'fedsgd' }), /client 0, image 0 is 8x8x1; LeNet-sigmoid 25x25x1 -> 100 expects 25x25x1/);
    assert.equal(roundOptions({ protocol: 'fedavg' }).lr, 0.1);
    const view: ServerView = federatedRound(model, clients, { protocol: 'fedsgd' });
    assert.throws(() => attackServerView(model, view, { attack: 'magic' as never }), /unknown attack 'magic' \(known: dlg, inverting\)/);
    assert.throws(() => attackServerView(model, view, { iterations: 3 } as never), /unknown server attack option 'iterations'/);
    assert.throws(() => gradientEstimate(view, 5), /has 2 updates; no update 5/);
    disposeView(view);
    tf.dispose(model.params);
  });
});
