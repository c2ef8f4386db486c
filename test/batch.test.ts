import { strict as assert } from 'assert';
import { tf } from '../lib/engine';
import { makeCase, disposeCase } from '../lib/cases/case';
import { dlg } from '../lib/attacks/dlg';
import { createRoundRobin } from '../lib/attacks/optim/round-robin';
import { scoreBatch, batchMseCurve } from '../lib/analysis/score';
import { BATCH_TOLERANCES, DEFAULT_DLG } from '../lib/config';
import { loadDataset } from '../lib/data';
import { resize } from '../lib/data/image';

// Fashion-MNIST downsampled to 16x16 (as notebook 03): cheap enough for a test
const data = loadDataset('fashion-mnist', { limit: 8 });
const images = data.images.map((im) => resize(im, 16, 16));
const lbfgs = { ...DEFAULT_DLG.lbfgs, ...BATCH_TOLERANCES };

describe('batched DLG (joint and round-robin updates)', () => {
  it('round-robin L-BFGS: one block per step, cycling, each with its own state; solves a coupled quadratic', () => {
    // f(x) = sum_i (x_i - c_i)^2 + (x_0 + x_2)^2 / 2, blocks {0, 1} and {2, 3}
    const c = [1, -2, 3, 0.5];
    const closure = (x: Float64Array) => {
      const s = x[0] + x[2];
      let loss = s * s / 2;
      const grad = new Float64Array(4);
      for (let i = 0; i < 4; i++) { loss += (x[i] - c[i]) ** 2; grad[i] = 2 * (x[i] - c[i]); }
      grad[0] += s;
      grad[2] += s;
      return { loss, grad };
    };
    const opt = createRoundRobin(new Float64Array(4), [Int32Array.from([0, 1]), Int32Array.from([2, 3])], { maxIter: 20, lineSearch: 'strong_wolfe', toleranceGrad: 1e-12, toleranceChange: 1e-14 });
    opt.step(closure);
    assert.equal(opt.x[2], 0, 'the second block has not moved after the first step');
    assert.equal(opt.x[3], 0);
    assert.ok(Math.abs(opt.x[1] - c[1]) < 1e-6, `the first block moved (its separable coordinate solved): ${opt.x[1]}`);
    for (let t = 0; t < 60; t++) opt.step(closure);
    // optimum: x0 = (2 c0 - ... ) solve 2(x0-1) + x0 + x2 = 0, 2(x2-3) + x0 + x2 = 0 -> x0 = 0, x2 = 2
    assert.ok(Math.abs(opt.x[0] - 0) < 1e-6 && Math.abs(opt.x[2] - 2) < 1e-6, `x = ${Array.from(opt.x)}`);
    assert.throws(() => createRoundRobin(new Float64Array(3), [Int32Array.from([0, 1]), Int32Array.from([1, 2])]), /index 1 is out of range or in two blocks/);
    assert.throws(() => createRoundRobin(new Float64Array(3), [Int32Array.from([0, 1])]), /do not cover every variable/);
  });

  it('joint update recovers a batch of 2 (every image MSE < 1e-3 after matching) and both labels', () => {
    const truths = images.slice(0, 2);
    const c = makeCase({ images: truths, labels: [data.labels[0], data.labels[1]], seed: 1 });
    const r = dlg(c.model, c.shared, { batchSize: 2, seed: 1, iterations: 40, lbfgs, snapshotEvery: 5 });
    const s = scoreBatch(r, truths);
    assert.ok(s.recovered, `per-image MSE ${s.perImage.map((p) => p.mse)} (${r.status}, ${r.iterations} iterations)`);
    assert.deepEqual([...r.labels].sort(), [data.labels[0], data.labels[1]].sort());
    const curve = batchMseCurve(r, truths);
    assert.ok(curve[0].maxMse > 0.1 && curve[curve.length - 1].maxMse < 1e-3);
    disposeCase(c);
  });

  it('round-robin update moves one sample per iteration and makes progress on a batch of 2', () => {
    const truths = images.slice(2, 4);
    const c = makeCase({ images: truths, labels: [data.labels[2], data.labels[3]], seed: 2 });
    const seen: number[] = [];
    const r = dlg(c.model, c.shared, { batchSize: 2, seed: 2, iterations: 30, lbfgs, batchUpdate: 'round-robin', snapshotEvery: 1,
      stopAt: (snap) => { seen.push(snap.iteration); return false; } });
    const n = 16 * 16;
    const moved = (a: Float32Array, b: Float32Array, i: number) => a.subarray(i * n, (i + 1) * n).some((v, j) => v !== b[i * n + j]);
    const [s0, s1, s2] = r.snapshots;
    assert.deepEqual([moved(s0.data, s1.data, 0), moved(s0.data, s1.data, 1)], [true, false], 'iteration 1 moves sample 0 only');
    assert.deepEqual([moved(s1.data, s2.data, 0), moved(s1.data, s2.data, 1)], [false, true], 'iteration 2 moves sample 1 only');
    assert.equal(seen.length, 30);
    const curve = batchMseCurve(r, truths);
    // measured: max MSE 1.15 -> 0.20 after 30 iterations (15 steps per sample); the joint update is below 1e-3 by then
    assert.ok(curve[curve.length - 1].maxMse < 0.3 * curve[0].maxMse, `max MSE ${curve[0].maxMse} -> ${curve[curve.length - 1].maxMse}`);
    disposeCase(c);
  });

  it('batchSize 1: round-robin is the plain attack; stopAt ends a run with status stopped', () => {
    const c = makeCase({ images: [images[4]], labels: [data.labels[4]], seed: 3 });
    const a = dlg(c.model, c.shared, { seed: 3, iterations: 5 });
    const b = dlg(c.model, c.shared, { seed: 3, iterations: 5, batchUpdate: 'round-robin' });
    assert.deepEqual(Array.from(a.data), Array.from(b.data));
    const s = dlg(c.model, c.shared, { seed: 3, iterations: 50, snapshotEvery: 2, stopAt: (snap) => snap.iteration >= 4 });
    assert.equal(s.status, 'stopped');
    assert.equal(s.iterations, 4);
    disposeCase(c);
  });

  it('holds a flat tensor count across round-robin iterations (tfjs engine) and is reproducible', () => {
    const c = makeCase({ images: images.slice(0, 2), labels: [1, 2], seed: 4 });
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    const opts = { batchSize: 2, seed: 4, iterations: 4, batchUpdate: 'round-robin' as const, engine: 'tfjs' as const, onStep: () => counts.push(tf.memory().numTensors) };
    const a = dlg(c.model, c.shared, opts);
    assert.equal(tf.memory().numTensors, before);
    assert.ok(counts.length >= 4 && counts.every((n) => n === counts[0]), `tensor counts ${counts}`);
    const b = dlg(c.model, c.shared, { ...opts, onStep: undefined });
    assert.deepEqual(Array.from(a.data), Array.from(b.data));
    disposeCase(c);
  });

  it('rejects unknown batch options', () => {
    const c = makeCase({ images: images.slice(0, 2), labels: [1, 2], seed: 5 });
    assert.throws(() => dlg(c.model, c.shared, { batchSize: 2, batchUpdate: 'one-by-one' as never }), /batchUpdate must be 'joint' or 'round-robin', got 'one-by-one'/);
    assert.throws(() => dlg(c.model, c.shared, { batchSize: 0 }), /batchSize must be a positive integer, got 0/);
    disposeCase(c);
  });
});
