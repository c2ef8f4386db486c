/**
 * lib/train.ts: SGD on defended minibatch gradients, on scikit-learn's 8x8 digits (datasets/digits).
 * Learns well above chance in a short run, deterministic from the seed, hurt by strong defenses,
 * leaks no tensors. The whole file runs in a few seconds on 2 cores.
 */
import { strict as assert } from 'assert';
import { tf } from '../lib/engine';
import { loadDataset } from '../lib/data';
import { lenet } from '../lib/models/lenet';
import { disposeModel } from '../lib/models/model';
import type { Model } from '../lib/models/model';
import { trainWithDefense, trainTestSplit, accuracy, predict, shuffledIndices } from '../lib/cases/train';
import type { LabelledImages, TrainOptions } from '../lib/cases/train';
import { createRng } from '../lib/rng';
import { run as runDefenseJob } from '../lib/experiments/train-defended';
import type { TrainJobResult, AttackJobResult } from '../lib/experiments/train-defended';

const digitsModel = (seed: number): Model => lenet({ inputShape: [8, 8, 1], numClasses: 10, seed });

describe('train (SGD on defended gradients)', function () {
  let train: LabelledImages;
  let test: LabelledImages;
  let small: LabelledImages;
  /** Held-out accuracy per epoch without a defense (seed 1, 10 epochs), computed once. */
  let cleanCurve: number[] | undefined;

  before(function () {
    const split = trainTestSplit(loadDataset('digits'), { seed: 0, testCount: 300, trainCount: 1000 });
    train = split.train;
    test = split.test;
    small = { images: train.images.slice(0, 160), labels: train.labels.slice(0, 160) };
  });

  /** Train a fresh model (seed 1) and return its held-out accuracy per epoch; the model is disposed. */
  function held(defense: string, epochs = 10, extra: Partial<TrainOptions> = {}): number[] {
    const model = digitsModel(1);
    try {
      return trainWithDefense({ model, ...train, test, defense, epochs, batchSize: 32, lr: 0.1, momentum: 0.9, seed: 1, ...extra }).accuracy;
    } finally {
      disposeModel(model);
    }
  }

  it('splits deterministically into disjoint sets', function () {
    const data = { images: train.images.slice(0, 50), labels: train.labels.slice(0, 50) };
    const a = trainTestSplit(data, { seed: 3, testCount: 10 });
    const b = trainTestSplit(data, { seed: 3, testCount: 10 });
    assert.equal(a.test.images.length, 10);
    assert.equal(a.train.images.length, 40);
    assert.deepEqual(a.test.labels, b.test.labels);
    const all = new Set([...a.train.images, ...a.test.images]);
    assert.equal(all.size, 50, 'train and test overlap');
    const perm = shuffledIndices(20, createRng(1));
    assert.deepEqual([...perm].sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i));
    assert.throws(() => trainTestSplit(data, { seed: 3, testCount: 50 }), /test count/);
  });

  it('accuracy() is the fraction of argmax predictions equal to the label', function () {
    const model = digitsModel(2);
    try {
      const imgs = test.images.slice(0, 40);
      const pred = predict(model, imgs, 7); // chunked
      assert.deepEqual(pred, predict(model, imgs));
      assert.equal(accuracy(model, imgs, pred), 1);
      const wrong = pred.map((p) => (p + 1) % 10);
      assert.equal(accuracy(model, imgs, wrong), 0);
      assert.throws(() => accuracy(model, imgs, pred.slice(1)), /40 images but 39 labels/);
      assert.throws(() => accuracy(model, imgs, pred.map(() => 10)), /label 0 is 10/);
    } finally {
      disposeModel(model);
    }
  });

  it('learns the digits: held-out accuracy from chance to > 0.75 in 10 short epochs (no defense)', function () {
    const model = digitsModel(1);
    const before = accuracy(model, test.images, test.labels);
    disposeModel(model);
    const acc = (cleanCurve ??= held('none'));
    assert.ok(before < 0.25, `untrained accuracy ${before} should be near chance (0.1)`);
    assert.ok(acc[acc.length - 1] > 0.75, `held-out accuracy after 10 epochs: ${acc.map((a) => a.toFixed(2)).join(' ')}`);
    assert.ok(acc[acc.length - 1] > acc[0], 'accuracy should rise over the epochs');
  });

  it('strong defenses cost accuracy: prune:0.99 measurably, gaussian:1e-1 down to near chance', function () {
    const clean = (cleanCurve ??= held('none'))[9];
    const pruned = held('prune:0.99').pop()!;
    const noisy = held('gaussian:1e-1').pop()!;
    assert.ok(pruned < clean - 0.2, `prune:0.99 ${pruned} vs none ${clean}`);
    assert.ok(noisy < 0.35, `gaussian:1e-1 ${noisy} vs none ${clean}`);
  });

  it('is deterministic from the seed (shuffle and noise), and another seed differs', function () {
    const once = (seed: number) => {
      const model = digitsModel(4);
      const r = trainWithDefense({ model, ...small, defense: 'laplacian:1e-3', epochs: 2, batchSize: 16, lr: 0.1, momentum: 0.9, seed });
      const params = model.params.map((p) => Array.from(p.dataSync()));
      disposeModel(model);
      return { losses: r.losses, accuracy: r.accuracy, params };
    };
    const a = once(7);
    const b = once(7);
    assert.deepEqual(a, b);
    assert.notDeepEqual(once(8).losses, a.losses);
  });

  it('keeps the tensor count flat across epochs and leaves no tensor behind (momentum, noise defense)', function () {
    const model = digitsModel(5);
    const start = tf.memory().numTensors;
    const counts: number[] = [];
    const r = trainWithDefense({
      model, ...small, test: { images: test.images.slice(0, 50), labels: test.labels.slice(0, 50) },
      defense: 'prune:0.3+gaussian:1e-4', epochs: 3, batchSize: 32, lr: 0.05, momentum: 0.9, seed: 1,
      onEpoch: () => counts.push(tf.memory().numTensors),
    });
    assert.equal(r.steps, 3 * Math.ceil(160 / 32));
    assert.equal(counts.length, 3);
    assert.ok(counts.every((c) => c === counts[0]), `tensor counts per epoch: ${counts.join(', ')}`);
    assert.equal(tf.memory().numTensors, start, 'tensors left behind after training');
    assert.equal(model.params.length, 8);
    disposeModel(model);
  });

  it('plain SGD (no momentum) updates the parameters in place and the loss falls', function () {
    const model = digitsModel(6);
    const before = model.params.map((p) => p);
    const r = trainWithDefense({ model, ...small, epochs: 3, batchSize: 16, lr: 0.5, seed: 1 });
    assert.ok(model.params.every((p, i) => p !== before[i] && !p.isDisposed), 'parameters replaced by new live tensors');
    assert.ok(before.every((p) => p.isDisposed), 'old parameters disposed');
    assert.ok(r.losses[2] < r.losses[0], `losses ${r.losses.join(', ')}`);
    assert.deepEqual(r.accuracy, r.trainAccuracy, 'without a test set, accuracy is the training accuracy');
    disposeModel(model);
  });

  it('rejects bad options with clear messages', function () {
    const model = digitsModel(1);
    const base = { model, ...small, epochs: 1, seed: 1 };
    assert.throws(() => trainWithDefense({ ...base, lr: 0 }), /lr must be a positive number/);
    assert.throws(() => trainWithDefense({ ...base, momentum: 1 }), /momentum must be in \[0, 1\)/);
    assert.throws(() => trainWithDefense({ ...base, batchSize: 0 }), /batchSize/);
    assert.throws(() => trainWithDefense({ ...base, labels: small.labels.slice(1) }), /160 images but 159 labels/);
    assert.throws(() => trainWithDefense({ ...base, defense: 'blur:3' }), /unknown defense 'blur'/);
    const wrongShape = lenet({ inputShape: [16, 16, 1], numClasses: 10, seed: 1 });
    assert.throws(() => trainWithDefense({ ...base, model: wrongShape }), /expects 16x16x1/);
    disposeModel(wrongShape);
    disposeModel(model);
  });

  it('task train-defended: a train job and an attack job (none recovers the digit, gaussian:1e-2 stops it)', function () {
    const t = runDefenseJob({ kind: 'train', defense: 'int8', seed: 1, epochs: 1, trainCount: 200 }) as TrainJobResult;
    assert.equal(t.defense, 'int8');
    assert.equal(t.testCurve.length, 1);
    assert.ok(t.testAccuracy >= 0 && t.testAccuracy <= 1 && t.trainSeconds > 0);
    const clean = runDefenseJob({ kind: 'attack', defense: 'none', seed: 1, index: 0 }) as AttackJobResult;
    assert.ok(clean.recovered && clean.identified && clean.labelOk, `undefended attack: MSE ${clean.mse}`);
    const noisy = runDefenseJob({ kind: 'attack', defense: 'gaussian:1e-2', seed: 1, index: 0 }) as AttackJobResult;
    assert.ok(!noisy.recovered && !noisy.identified, `gaussian:1e-2: MSE ${noisy.mse}`);
    assert.equal(noisy.reconstruction.length, 64);
    assert.throws(() => runDefenseJob({ kind: 'attack', defense: 'none', seed: 1, index: 360 }), /index must be an integer in 0..359/);
  });
});
