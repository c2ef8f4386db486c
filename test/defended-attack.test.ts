import { strict as assert } from 'assert';
import * as path from 'path';
import { runParallel } from '../lib/experiments/parallel';
import { run } from '../lib/experiments/defended-attack';
import type { DefendedAttackJob, DefendedAttackResult } from '../lib/experiments/defended-attack';

const TASK = path.join(__dirname, '../lib/experiments/defended-attack.js');
const IMAGE = path.join(__dirname, '../../datasets/natural/astronaut.png');
const job = (defense: string, iterations = 2): DefendedAttackJob => ({ image: IMAGE, label: 7, seed: 1, iterations, defense });

describe('defended attack task (lib/experiments/defended-attack)', () => {
  let none: DefendedAttackResult;
  let pruned: DefendedAttackResult;

  before(async () => {
    [none, pruned] = await runParallel<DefendedAttackJob, DefendedAttackResult>(TASK, [job('none'), job('prune:0.9')], { workers: 2 });
  });

  it('attacks the defended gradient: none and prune:0.9 give different distances', () => {
    assert.ok(Number.isFinite(none.distance) && Number.isFinite(pruned.distance));
    assert.notEqual(none.distance, pruned.distance);
    assert.notEqual(none.distanceCurve[0].value, pruned.distanceCurve[0].value);
    // same model and dummy start: the truth-side MSE of the start is the same
    assert.equal(none.mseCurve[0].value, pruned.mseCurve[0].value);
  });

  it('returns every result field as plain data', () => {
    for (const r of [none, pruned]) {
      for (const k of ['mse', 'psnr', 'ssim', 'evals', 'seconds', 'distance'] as const) assert.equal(typeof r[k], 'number', k);
      assert.ok(r.mse > 0);
      assert.equal(typeof r.recovered, 'boolean');
      assert.equal(r.recovered, r.mse < 1e-3);
      assert.equal(typeof r.labelOk, 'boolean');
      assert.equal(r.labelOk, r.recoveredLabel === 7);
      assert.ok(['completed', 'converged', 'stalled', 'diverged'].includes(r.status));
      assert.equal(r.iterationsRun, 2);
      assert.equal(r.lineSearch, 'strong_wolfe');
      assert.deepEqual(r.distanceCurve.map((p) => p.iteration), [0, 2]);
      assert.deepEqual(r.mseCurve.map((p) => p.iteration), [0, 2]);
      assert.equal(r.distanceCurve[1].value, r.distance);
      assert.equal(r.mseCurve[1].value, r.mse);
      assert.deepEqual(r.shape, [32, 32, 3]);
      assert.ok(Array.isArray(r.reconstruction));
      assert.equal(r.reconstruction.length, 32 * 32 * 3);
      assert.ok(r.reconstruction.every((v) => v >= 0 && v <= 1));
    }
    assert.equal(none.defenseCanonical, 'none');
    assert.equal(pruned.defenseCanonical, 'prune:0.9');
  });

  it('curves start at iteration 0 and end at the last iteration (sampled every 10)', () => {
    const r = run(job('fp16', 3));
    assert.deepEqual(r.distanceCurve.map((p) => p.iteration), [0, 3]);
    assert.equal(r.defense, 'fp16');
  });

  it('rejects a bad spec with the parse message', async () => {
    await assert.rejects(runParallel(TASK, [job('gaussian:lots')], { workers: 2 }), /bad defense 'gaussian:lots'.*not a number/);
    assert.throws(() => run(job('blur:3')), /bad defense 'blur:3': unknown defense 'blur'/);
  });
});
