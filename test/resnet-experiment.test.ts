/** The ResNet task module (lib/experiments/resnet.ts): cost, DLG and Inverting Gradients jobs, serial and in workers. */
import { strict as assert } from 'assert';
import * as path from 'path';
import { tf } from '../lib/engine';
import { runParallel } from '../lib/experiments/parallel';
import { makeCase, makeCaseFor } from '../lib/cases/case';
import { makeModel } from '../lib/models';
import { run, projectedSeconds } from '../lib/experiments/resnet';
import type { ResNetJob, ResNetResult, AttackResult, CostResult, NormsResult } from '../lib/experiments/resnet';

const TASK = path.join(__dirname, '../lib/experiments/resnet.js');
const IMAGE = path.join(__dirname, '../../datasets/natural/astronaut.png');

/** A few cheap evaluations of ResNet-20 at 4x4: two L-BFGS steps of two fixed-length inner iterations. */
const tinyDlg: ResNetJob = {
  kind: 'dlg', model: 'resnet20', size: 4, seed: 3, image: IMAGE, label: 7, iterations: 2, numClasses: 10,
  lineSearch: 'none', lbfgs: { maxIter: 2 }, engine: 'tfjs',
};

describe('ResNet task (lib/experiments/resnet)', function () {
  this.timeout(600000);

  it('cost: seconds per DLG objective evaluation through dlg() (engine tfjs), after a warm-up', () => {
    const r = run({ kind: 'cost', model: 'resnet20', size: 4, seed: 1, evals: 2, repeats: 3 }) as CostResult;
    assert.equal(r.evals, 3); // 2 fixed-length inner iterations + dlg()'s final evaluation
    assert.equal(r.runs.length, 3);
    assert.equal(r.secondsPerEval, Math.min(...r.runs));
    assert.ok(r.secondsPerEvalMedian >= r.secondsPerEval && r.secondsPerEvalMedian <= Math.max(...r.runs));
    assert.equal(r.parameters, 269722 - 650 + 64 * 100 + 100);
    assert.ok(r.secondsPerEval > 0 && r.secondsPerEval < 60, `${r.secondsPerEval} s`);
    assert.match(r.modelName, /^ResNet-20 \(sigmoid, strides removed, BatchNorm, identity shortcuts, init pytorch\) 4x4x3 -> 100$/);
    assert.equal(projectedSeconds(0.5, 20), 0.5 * 20 * 1200);
  });

  it('dlg: deterministic from the job, both scores, the scaled reconstruction, tensor counts flat', () => {
    const before = tf.memory().numTensors;
    const a = run(tinyDlg) as AttackResult;
    const b = run(tinyDlg) as AttackResult;
    assert.equal(tf.memory().numTensors, before);
    assert.equal(a.evals, 2 * 2 + 1);
    assert.equal(a.iterationsRun, 2);
    for (const k of ['mse', 'scaledMse', 'scale', 'objective', 'psnr', 'ssim'] as const) assert.equal(a[k], b[k], k);
    assert.deepEqual(a.reconstruction, b.reconstruction);
    assert.ok(a.scaledMse <= a.mse && a.scale >= 0, `scaled ${a.scaledMse} vs ${a.mse}, scale ${a.scale}`);
    assert.equal(a.reconstruction.length, 4 * 4 * 3);
    assert.equal(a.scaledReconstruction.length, 4 * 4 * 3);
    assert.deepEqual(a.mseCurve.map((p) => p.iteration), [0, 2]);
    assert.ok(a.mseCurve.every((p) => p.scaledMse <= p.mse));
    assert.equal(a.recovered, false);
    assert.equal(a.status, 'completed');
  });

  it('dlg on LeNet 8x8 (fused objective) recovers the photo; its scale is 1', () => {
    const r = run({ kind: 'dlg', model: 'lenet', size: 8, seed: 1, image: IMAGE, label: 7, iterations: 100 }) as AttackResult;
    assert.ok(r.recovered, `MSE ${r.mse}`);
    assert.ok(r.iterationsToRecover !== null && r.iterationsToRecoverUpToScale !== null && r.iterationsToRecoverUpToScale <= r.iterationsToRecover);
    assert.ok(Math.abs(r.scale - 1) < 0.02, `scale ${r.scale}`);
    assert.equal(r.status, 'stopped'); // stopWhen 'recovered'
    assert.ok(r.labelOk);
  });

  it('inverting: Adam steps, iDLG label, same result in a worker as in this thread', async () => {
    const job: ResNetJob = { kind: 'inverting', model: 'resnet20', size: 4, seed: 2, image: IMAGE, label: 7, iterations: 3, numClasses: 10 };
    const [inWorker, again] = await runParallel<ResNetJob, ResNetResult>(TASK, [job, tinyDlg], { workers: 2 });
    const here = run(job) as AttackResult;
    assert.equal(here.iterationsRun, 3);
    assert.equal(here.evals, 4); // 3 steps + the final objective
    assert.equal((inWorker as AttackResult).mse, here.mse);
    assert.equal((again as AttackResult).mse, (run(tinyDlg) as AttackResult).mse);
    assert.ok(here.reconstruction.every((v) => v >= 0 && v <= 1));
  });

  it("norms: the shared gradient's squared norm per parameter tensor; with the released U(-0.5, 0.5) init the first layers' vanish", () => {
    const job = (init: 'dlg' | 'pytorch'): ResNetJob => ({ kind: 'norms', model: 'resnet20', modelOptions: { init }, size: 8, seed: 1, image: IMAGE, label: 7 });
    const dlgInit = run(job('dlg')) as NormsResult;
    const torchInit = run(job('pytorch')) as NormsResult;
    assert.equal(dlgInit.paramNames[0], 'conv1.weight');
    assert.equal(dlgInit.squaredNorms.length, 59);
    assert.ok(Math.abs(dlgInit.total - dlgInit.squaredNorms.reduce((a, v) => a + v, 0)) < 1e-9 * dlgInit.total);
    const share = (r: NormsResult) => r.squaredNorms[0] / r.total;
    assert.ok(share(dlgInit) < 1e-12, `conv1.weight's share with 'dlg' init: ${share(dlgInit)}`);
    assert.ok(share(torchInit) > 1e-9, `conv1.weight's share with 'pytorch' init: ${share(torchInit)}`);
  });

  it('refuses bad jobs with one clear line', () => {
    assert.throws(() => run({ ...tinyDlg, model: 'vgg' }), /unknown model 'vgg' \(known: lenet, resnet20/);
    assert.throws(() => run({ ...tinyDlg, model: 'lenet', modelOptions: { strides: 'kept' } }), /model lenet has no option 'strides'/);
    assert.throws(() => run({ ...tinyDlg, modelOptions: { batchNorm: 'no' as never } }), /resnet20: batchNorm must be true or false/);
    assert.throws(() => run({ ...tinyDlg, iterations: 0 }), /iterations must be a positive integer, got 0/);
    assert.throws(() => run({ ...tinyDlg, size: 2.5 }), /size must be a positive integer, got 2.5/);
    assert.throws(() => run({ ...tinyDlg, kind: 'train' } as never), /unknown job kind 'train' \(known: cost, dlg, inverting, norms\)/);
    assert.throws(() => run({ kind: 'cost', model: 'resnet20', size: 4, seed: 1, evals: 0 }), /cost: evals must be a positive integer, got 0/);
    assert.throws(() => run({ kind: 'cost', model: 'resnet20', size: 4, seed: 1, repeats: 1.5 }), /cost: repeats must be a positive integer, got 1.5/);
    assert.throws(() => run({ ...tinyDlg, stopWhen: 'soon' as never }), /stopWhen must be 'recovered', 'recovered-up-to-scale' or 'never', got 'soon'/);
  });

  it('a case that cannot be built leaves no tensors behind (its model is freed)', () => {
    const before = tf.memory().numTensors;
    assert.throws(() => run({ ...tinyDlg, image: '/no/such.png' }), /cannot read image \/no\/such.png/);
    assert.throws(() => run({ kind: 'norms', model: 'resnet20', size: 4, seed: 1, image: '/no/such.png', label: 1 }), /cannot read image/);
    assert.equal(tf.memory().numTensors, before);
    // the model and the gradient are built, then the client's defense fails
    const failing = () => {
      throw new Error('defense failed');
    };
    const model = makeModel('resnet20', { inputShape: [4, 4, 3], numClasses: 10, seed: 1 });
    assert.ok(tf.memory().numTensors > before);
    const image = { height: 4, width: 4, channels: 3, data: new Float32Array(48).fill(0.5) };
    assert.throws(() => makeCaseFor(model, { images: [image], labels: [1], seed: 1, defense: failing }), /defense failed/);
    assert.equal(tf.memory().numTensors, before);
    // LeNet made by makeCase itself, same rule
    assert.throws(() => makeCase({ images: [image], labels: [1], seed: 1, defense: failing }), /defense failed/);
    assert.equal(tf.memory().numTensors, before);
  });
});
