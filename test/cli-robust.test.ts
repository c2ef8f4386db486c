/**
 * The dlg command refuses what it cannot honour before any work (one error line, exit code 2), says
 * when it resizes an input, prints its result before writing files, and writes them atomically.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { dlgCli, assertUsageError, ASTRONAUT } from './dlg-cli';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'dlg-robust-'));

describe('npm run dlg: nothing is lost, nothing is silently ignored', function () {
  this.timeout(120_000);
  it('--out DIR: result.json holds the JSON line, printed first; progress.png and reconstruction.png written', () => {
    const out = path.join(tmp(), 'new', 'nested');
    const r = dlgCli(['--image', ASTRONAUT, '--label', '7', '--iterations', '3', '--out', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fs.readFileSync(path.join(out, 'result.json'), 'utf8'), r.stdout);
    assert.equal(JSON.parse(r.stdout).out, out);
    for (const f of ['progress.png', 'reconstruction.png']) assert.ok(fs.statSync(path.join(out, f)).size > 100, f);
    assert.deepEqual(fs.readdirSync(out).filter((f) => f.includes('.tmp')), [], 'no temporary files left');
  });

  it('--size 64 resizes the 32x32 photo and says so in one line; the JSON carries the note', () => {
    const r = dlgCli(['--image', ASTRONAUT, '--label', '7', '--iterations', '1', '--size', '64']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^note: astronaut\.png: 32x32 resized to 64x64$/m);
    const j = JSON.parse(r.stdout);
    assert.equal(j.size, 64);
    assert.deepEqual(j.notes, ['astronaut.png: 32x32 resized to 64x64']);
  });

  it('--defense dp:1:1: the JSON gives the (epsilon, delta) of the one shared gradient; no dp step: Infinity', () => {
    const r = dlgCli(['--image', ASTRONAUT, '--label', '7', '--iterations', '1', '--defense', 'dp:1:1', '--delta', '1e-6', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.defense, 'dp:1:1');
    assert.equal(j.delta, 1e-6);
    assert.ok(j.epsilon > j.epsilon_exact && j.epsilon_exact > 4 && j.epsilon < 7, `epsilon ${j.epsilon}, exact ${j.epsilon_exact}`);
    const plain = JSON.parse(dlgCli(['--image', ASTRONAUT, '--label', '7', '--iterations', '1', '--defense', 'prune:0.3', '--json']).stdout);
    assert.equal(plain.epsilon, 'Infinity');
  });

  it('--model resnet20 attacks the paper\'s ResNet: the JSON names the model and its evaluations', () => {
    const r = dlgCli(['--image', ASTRONAUT, '--label', '7', '--iterations', '2', '--size', '8', '--model', 'resnet20', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.model, 'resnet20');
    assert.equal(j.size, 8);
    assert.equal(j.iterations, 2);
    assert.ok(j.evals > 2 && j.gradient_distance > 0 && j.mse > 1e-3, `evaluations ${j.evals}, distance ${j.gradient_distance}, MSE ${j.mse}`);
  });

  it('progress lines give N of total and the time left', () => {
    const r = dlgCli(['--image', ASTRONAUT, '--label', '7', '--iterations', '20']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^progress: iteration 10\/20 \(50%\), [\d.]+ s elapsed, about [\d.]+ s left; gradient distance [\d.e+-]+$/m);
  });

  const root = tmp();
  const file = path.join(root, 'a-file');
  fs.writeFileSync(file, 'x');
  const taken = path.join(root, 'taken');
  fs.mkdirSync(path.join(taken, 'reconstruction.png'), { recursive: true });
  const image = ['--image', ASTRONAUT, '--iterations', '300'];
  const bad: [string[], RegExp][] = [
    [[...image, '--out', file], /--out .*a-file: exists and is not a directory/],
    [[...image, '--out', path.join(file, 'sub')], /--out .*a-file\/sub: .*a-file is not a directory/],
    [[...image, '--out', taken], /--out .*taken: reconstruction.png exists there and is not a file/],
    [[...image, '--out', '/proc/x'], /--out \/proc\/x: \/proc is a pseudo filesystem/],
    [[...image, '--out='], /--out needs a value, got ''/],
    [[...image, '--labels', '1'], /--labels does not apply to a single --image; one --image takes --label/],
    [['--batch', '2', '--dataset', 'digits', '--label', '3'], /--label does not apply to --batch; with --batch give --labels/],
    [['--dataset', 'digits'], /--dataset does not apply to a single --image; add --batch N \(--batch 1 for one image\)/],
    [[...image, '--seed', '1', '--seed', '2'], /--seed given twice/],
    [[...image, '--paper', '--preset', 'batch'], /--paper \(= --preset paper\) contradicts --preset batch/],
    [[...image, '--preset', 'fast'], /--preset must be 'default', 'paper' or 'batch', got 'fast'/],
    [[...image, '--model', 'resnet99'], /--model must be one of lenet, resnet20, resnet32, resnet56, resnet18-released, got 'resnet99'/],
    [[...image, '--engine', 'gpu'], /--engine must be 'auto', 'tfjs' or 'fused', got 'gpu'/],
    [[...image, '--snapshot-every', '0'], /--snapshot-every must be >= 1, got 0/],
    [[...image, '--size', '1'], /--size must be in \[2, 512\], got 1/],
    [[...image, '--defense', 'dp:1:1', '--delta', '2'], /--delta must be in \(0, 1\), got 2/],
    [[...image, '--defense', 'dp:0:1'], /--defense: bad defense 'dp:0:1'/],
    [['--text', 'hello world', '--image', ASTRONAUT], /unknown option --image for --text \(it applies to a single --image or --batch\)/],
    [['--text', 'hello world', '--batch', '2'], /--text and --batch are different attacks/],
    [['--batch', '2', '--image', ASTRONAUT, '--image', ASTRONAUT, '--pick', 'random'], /--pick applies to --dataset/],
  ];
  for (const [args, message] of bad) {
    it(`refuses ${JSON.stringify(args.map((a) => (a.startsWith('/') ? path.basename(a) : a)))} before any work`, () => {
      const t0 = Date.now();
      assertUsageError(args, message);
      assert.ok(Date.now() - t0 < 15_000, 'refused before the 300-iteration attack');
    });
  }
});
