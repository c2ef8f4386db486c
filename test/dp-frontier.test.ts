/**
 * lib/experiments/dp-frontier.ts: train and attack jobs under DP-SGD and the paper's defenses, the
 * grid and its table. Small jobs (short training, few attack steps): the full grid runs from
 * test/bench/dp-frontier.ts.
 */
import { strict as assert } from 'assert';
import { tf } from '../lib/engine';
import { run, dpSpec, frontierJobs, frontierTable } from '../lib/experiments/dp-frontier';
import type { FrontierAttackResult, FrontierTrainResult, FrontierResult, FrontierAttackJob } from '../lib/experiments/dp-frontier';
import { dpSgdEpsilon } from '../lib/analysis/privacy';
import { stepEpsilon } from '../lib/analysis/step-privacy';

const quick: Partial<FrontierAttackJob> = { restarts: 2, dlgIterations: 100, invertingIterations: 200 };

describe('task dp-frontier (DP-SGD: accuracy, epsilon, and a strong attacker)', function () {
  let clean: FrontierAttackResult;
  let noisy: FrontierAttackResult;
  let trained: FrontierTrainResult;

  before(function () {
    const n0 = tf.memory().numTensors;
    clean = run({ kind: 'attack', defense: 'none', seed: 1, index: 0, ...quick }) as FrontierAttackResult;
    noisy = run({ kind: 'attack', defense: dpSpec(0.3), seed: 1, index: 0, ...quick }) as FrontierAttackResult;
    trained = run({ kind: 'train', defense: 'dp:1:1', seed: 1, epochs: 2, trainCount: 320 }) as FrontierTrainResult;
    assert.equal(tf.memory().numTensors, n0, 'jobs leave no tensor behind');
  });

  it('without a defense both attacks recover the digit (MSE < 1e-3), identify it and read its label', () => {
    for (const a of [clean.dlg, clean.inverting]) {
      assert.ok(a.recovered && a.identified && a.labelOk, `MSE ${a.mse}`);
      assert.equal(a.recovered, a.mse < 1e-3);
      assert.equal(a.reconstruction.length, 64);
    }
    assert.ok(clean.recovered && clean.identified);
    assert.equal(clean.stepEpsilon, Infinity);
  });

  it('the attacker keeps the DLG restart with the smallest gradient distance (its own objective, not the truth)', () => {
    for (const r of [clean, noisy]) {
      assert.equal(r.dlg.restartObjectives.length, 2);
      assert.equal(r.dlg.objective, Math.min(...r.dlg.restartObjectives));
      assert.equal(r.dlg.restartObjectives[r.dlg.restart], r.dlg.objective);
      assert.equal(r.inverting.restartObjectives.length, 1);
    }
    assert.notEqual(clean.dlg.restartObjectives[0], clean.dlg.restartObjectives[1], 'restarts start from different dummies');
  });

  it('dp:1:0.3 (one step: epsilon 20.4 at delta 1e-5) stops both attacks: nothing recovered or identified', () => {
    assert.equal(noisy.defense, 'dp:1:0.3');
    assert.equal(noisy.stepEpsilon, stepEpsilon('dp:1:0.3', 1e-5).epsilon);
    assert.ok(Math.abs(noisy.stepEpsilon - 20.39) < 0.01, `${noisy.stepEpsilon}`);
    assert.ok(noisy.stepExactEpsilon < noisy.stepEpsilon);
    assert.equal(noisy.delta, 1e-5);
    assert.ok(!noisy.recovered && !noisy.identified, `DLG MSE ${noisy.dlg.mse}, IG MSE ${noisy.inverting.mse}`);
  });

  it('a train job reports held-out accuracy and the epsilon of the run (Poisson sampling: q, steps, delta stated)', () => {
    assert.equal(trained.defense, 'dp:1:1');
    assert.equal(trained.sampling, 'poisson');
    assert.equal(trained.testCurve.length, 2);
    assert.ok(trained.testAccuracy >= 0 && trained.testAccuracy <= 1);
    const p = trained.privacy!;
    assert.equal(p.q, 32 / 320);
    assert.equal(trained.steps, 20);
    assert.equal(p.steps, 20);
    assert.equal(p.epsilon, dpSgdEpsilon({ sigma: 1, q: 0.1, steps: 20, delta: 1e-5 }).epsilon);
    assert.equal(p.epsilonGuaranteed, p.epsilon);
    const plain = run({ kind: 'train', defense: 'fp16', seed: 1, epochs: 1, trainCount: 64, sampling: 'shuffle' }) as FrontierTrainResult;
    assert.equal(plain.privacy, null);
  });

  it('is deterministic from the job', () => {
    const again = run({ kind: 'attack', defense: dpSpec(0.3), seed: 1, index: 0, ...quick }) as FrontierAttackResult;
    const strip = (r: FrontierAttackResult) => ({ ...r, dlg: { ...r.dlg, seconds: 0 }, inverting: { ...r.inverting, seconds: 0 } });
    assert.deepEqual(strip(again), strip(noisy));
  });

  it('the grid: train jobs then attack jobs; the table: one row per defense', () => {
    const jobs = frontierJobs({ sigmas: [0.1, 1], defenses: ['gaussian:1e-3'], attackOnly: ['gaussian:1e-3'], trainSeeds: [1, 2], digits: 3, train: { epochs: 5 } });
    assert.equal(jobs.filter((j) => j.kind === 'train').length, 4);
    assert.equal(jobs.filter((j) => j.kind === 'attack').length, 9);
    assert.deepEqual([...new Set(jobs.map((j) => j.defense))], ['dp:1:0.1', 'dp:1:1', 'gaussian:0.001']);
    assert.ok(jobs.every((j) => j.kind === 'attack' || j.epochs === 5));
    const fake = (defense: string, recovered: boolean, identified: boolean, i: number): FrontierAttackResult => ({
      ...noisy, defense, index: i,
      dlg: { ...noisy.dlg, recovered, identified, mse: i }, inverting: { ...noisy.inverting, recovered: false, identified: false, mse: 10 + i },
      recovered, identified,
    });
    const results: FrontierResult[] = [
      { ...trained, testAccuracy: 0.8 }, { ...trained, testAccuracy: 0.9 },
      fake('dp:1:1', true, true, 0), fake('dp:1:1', false, true, 1), fake('dp:1:1', false, false, 2),
      fake('none', true, true, 0),
    ];
    const [dp, none] = frontierTable(results);
    assert.equal(dp.defense, 'dp:1:1');
    assert.equal(dp.sigma, 1);
    assert.ok(Math.abs(dp.testAccuracy - 0.85) < 1e-12);
    assert.ok(Math.abs(dp.testAccuracySd - Math.sqrt(0.005)) < 1e-12);
    assert.equal(dp.trainEpsilon, trained.privacy!.epsilon);
    assert.deepEqual([dp.attacks, dp.dlgRecovered, dp.dlgIdentified, dp.recovered, dp.identified], [3, 1, 2, 1, 2]);
    assert.equal(dp.dlgMedianMse, 1);
    assert.equal(dp.invertingMedianMse, 11);
    assert.equal(dp.stopped, 'partly');
    assert.equal(none.stopped, 'no');
    assert.equal(none.sigma, null);
    assert.ok(Number.isNaN(none.testAccuracy));
  });

  it('rejects bad jobs with one clear message', () => {
    assert.throws(() => run({ kind: 'attack', defense: 'none', seed: 1, index: 360 }), /index must be an integer in 0..359/);
    assert.throws(() => run({ kind: 'attack', defense: 'dp:0:1', seed: 1, index: 0 }), /bad defense 'dp:0:1'/);
    assert.throws(() => run({ kind: 'attack', defense: 'none', seed: 1, index: 0, restarts: 0 }), /restarts must be a positive integer, got 0/);
    assert.throws(() => run({ kind: 'fit' } as never), /unknown job kind 'fit'/);
  });
});
