import { strict as assert } from 'assert';
import * as path from 'path';
import { tf } from '../lib/engine';
import { loadImage } from '../lib/data/image';
import { makeCase, disposeCase } from '../lib/cases/case';
import { dlg } from '../lib/attacks/dlg';
import { idlgLabel } from '../lib/attacks/labels';
import { score, imageAt, mseCurve } from '../lib/analysis/score';
import { dlgConfig, PAPER_DLG, DEFAULT_DLG } from '../lib/config';

const photo = (name: string) => loadImage(path.join(__dirname, '../../datasets/natural', name + '.png'), { size: 32, channels: 3 });

describe('DLG attack (paper, Algorithm 1)', () => {
  it('recovers a natural 32x32 photo and its label from the gradient alone (MSE < 1e-3)', function () {
    const truth = photo('astronaut');
    const c = makeCase({ images: [truth], labels: [7], seed: 1 });
    const r = dlg(c.model, c.shared, { seed: 1, iterations: 300 });
    const s = score(imageAt(r.data, r.shape, 0), truth);
    assert.ok(s.mse < 1e-3, `MSE ${s.mse} after ${r.iterations} iterations (${r.status})`);
    assert.ok(s.psnr > 30 && s.ssim > 0.95, `PSNR ${s.psnr}, SSIM ${s.ssim}`);
    assert.deepEqual(r.labels, [7]);
    assert.equal(r.status, 'converged');
    // the gradient distance falls by many orders of magnitude, and the MSE curve with it
    assert.ok(r.losses[r.losses.length - 1] < 1e-6 * r.losses[0], `distance ${r.losses[0]} -> ${r.distance}`);
    const curve = mseCurve(r, truth);
    assert.ok(curve[0].mse > 0.5 && curve[curve.length - 1].mse < 1e-3, JSON.stringify(curve.map((p) => p.mse)));
    assert.equal(r.losses.length, r.iterations + 1);
    assert.ok(r.evals >= r.iterations);
    disposeCase(c);
  });

  it('holds a flat tensor count across iterations and frees everything it made', () => {
    const c = makeCase({ images: [photo('coffee')], labels: [3], seed: 2 });
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    dlg(c.model, c.shared, { iterations: 8, seed: 2, onStep: () => counts.push(tf.memory().numTensors) });
    assert.equal(tf.memory().numTensors, before);
    assert.ok(counts.length >= 8);
    assert.ok(counts.every((n) => n === counts[0]), `tensor counts ${counts}`);
    disposeCase(c);
  });

  it('is reproducible: the same seed gives the same reconstruction, another seed another', () => {
    const c = makeCase({ images: [photo('chelsea')], labels: [5], seed: 3 });
    const a = dlg(c.model, c.shared, { iterations: 3, seed: 11 });
    const b = dlg(c.model, c.shared, { iterations: 3, seed: 11 });
    const d = dlg(c.model, c.shared, { iterations: 3, seed: 12 });
    assert.deepEqual(Array.from(a.data), Array.from(b.data));
    assert.deepEqual(a.losses, b.losses);
    assert.notDeepEqual(Array.from(a.data), Array.from(d.data));
    disposeCase(c);
  });

  it("iDLG reads the label off the last layer's gradient", () => {
    for (const [name, label] of [['rocket', 0], ['hubble', 42], ['coffee', 99]] as const) {
      const c = makeCase({ images: [photo(name)], labels: [label], seed: 4 });
      assert.equal(idlgLabel(c.model, c.shared), label);
      const r = dlg(c.model, c.shared, { iterations: 2, label: 'idlg', seed: 4 });
      assert.deepEqual(r.labels, [label]);
      disposeCase(c);
    }
  });

  it('snapshots every k iterations, the initial and the final state', () => {
    const c = makeCase({ images: [photo('rocket')], labels: [1], seed: 5 });
    const r = dlg(c.model, c.shared, { iterations: 7, snapshotEvery: 3, seed: 5 });
    assert.deepEqual(r.snapshots.map((s) => s.iteration), [0, 3, 6, 7]);
    assert.equal(r.snapshots[0].data.length, 32 * 32 * 3);
    r.snapshots.forEach((s) => assert.equal(s.distance, r.losses[s.iteration]));
    disposeCase(c);
  });

  it('reports divergence instead of returning NaN', () => {
    const c = makeCase({ images: [photo('rocket')], labels: [1], seed: 6 });
    const poisoned = c.shared.map((g, i) => (i === 0 ? tf.fill(g.shape, NaN) : g));
    const r = dlg(c.model, poisoned, { iterations: 5, seed: 6 });
    assert.equal(r.status, 'diverged');
    assert.ok(r.data.every(Number.isFinite));
    tf.dispose(poisoned[0]);
    disposeCase(c);
  });

  it('rejects a gradient that does not fit the model, and unknown options', () => {
    const c = makeCase({ images: [photo('rocket')], labels: [1], seed: 7 });
    assert.throws(() => dlg(c.model, c.shared.slice(1)), /shared gradient has 7 tensors; LeNet-sigmoid 32x32x3 -> 100 has 8 parameters/);
    const wrong = [...c.shared];
    wrong[6] = tf.zeros([10, 100]);
    assert.throws(() => dlg(c.model, wrong), /shared gradient fc.weight has shape \[10,100\], expected \[768,100\]/);
    assert.throws(() => dlg(c.model, c.shared, { iterations: 0 }), /iterations must be a positive integer/);
    assert.throws(() => dlg(c.model, c.shared, { itrations: 5 } as never), /unknown DLG option 'itrations'/);
    assert.throws(() => dlg(c.model, c.shared, { lbfgs: { lineSearch: 'wolfe' } } as never), /lineSearch/);
    tf.dispose(wrong[6]);
    disposeCase(c);
  });

  it('keeps the paper defaults in one config: 300 steps, snapshots every 10, torch L-BFGS defaults', () => {
    assert.equal(PAPER_DLG.iterations, 300);
    assert.equal(PAPER_DLG.snapshotEvery, 10);
    assert.deepEqual(
      [PAPER_DLG.lbfgs.lr, PAPER_DLG.lbfgs.maxIter, PAPER_DLG.lbfgs.historySize, PAPER_DLG.lbfgs.toleranceGrad, PAPER_DLG.lbfgs.toleranceChange, PAPER_DLG.lbfgs.lineSearch],
      [1, 20, 100, 1e-7, 1e-9, 'none'],
    );
    assert.equal(DEFAULT_DLG.lbfgs.lineSearch, 'strong_wolfe');
    assert.equal(dlgConfig({ iterations: 5 }).lbfgs.lineSearch, 'strong_wolfe');
  });
});
