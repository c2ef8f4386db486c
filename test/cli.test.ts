import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs, UsageError } from '../lib/cli/args';
import { loadImage } from '../lib/data/image';

import { dlgCli, ROOT, ASTRONAUT, assertUsageError } from './dlg-cli';

describe('npm run dlg (command line)', () => {
  it('attacks a PNG and prints one JSON line with the metrics; --out writes the progress grid and the reconstruction', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dlg-cli-'));
    const r = dlgCli(['--image', ASTRONAUT, '--label', '7', '--iterations', '4', '--seed', '1', '--out', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const j = JSON.parse(lines[0]);
    for (const k of ['mse', 'psnr', 'ssim', 'label', 'label_ok', 'iterations', 'evals', 'seconds', 'backend']) assert.ok(k in j, `missing ${k}`);
    assert.equal(j.iterations, 4);
    assert.equal(j.label, 7);
    assert.equal(j.label_ok, true);
    assert.ok(j.mse > 1e-3 && j.mse < 10, `4 iterations cannot recover yet: ${j.mse}`);
    assert.ok(['cpu', 'tensorflow'].includes(j.backend));
    assert.equal(r.stderr, '', '--json prints nothing else');
    const rec = loadImage(path.join(out, 'reconstruction.png'), { channels: 3 });
    assert.deepEqual([rec.height, rec.width], [32, 32]);
    const grid = loadImage(path.join(out, 'progress.png'), { channels: 3 });
    assert.ok(grid.width > 32 * 2 && grid.height >= 64, `grid ${grid.width}x${grid.height}`);
  });

  it('--history-precision: the presets store the L-BFGS history in float32, float64 on request; the two runs differ', () => {
    const run = (extra: string[]) => {
      const r = dlgCli(['--image', ASTRONAUT, '--label', '7', '--iterations', '3', '--seed', '1', '--json', ...extra]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout.trim());
    };
    const f32 = run([]), f64 = run(['--history-precision', 'float64']);
    assert.equal(f32.history_precision, 'float32');
    assert.equal(f64.history_precision, 'float64');
    assert.notEqual(f32.mse, f64.mse, 'the stored pairs are rounded, so the directions and the dummies differ');
  });

  it('--threads 2: two threads per evaluation, the same result as one (and the JSON says which)', () => {
    const run = (extra: string[]) => {
      const r = dlgCli(['--image', ASTRONAUT, '--label', '7', '--size', '64', '--iterations', '3', '--seed', '1', '--json', ...extra]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout.trim());
    };
    const one = run([]), two = run(['--threads', '2']);
    assert.equal(one.threads, 1);
    assert.equal(two.threads, 2);
    assert.equal(two.mse, one.mse);
    assert.equal(two.evals, one.evals);
  });

  const bad: [string[], RegExp][] = [
    [['--label', '7'], /--image FILE is required/],
    [['--image', '/no/such/file.png'], /cannot read image \/no\/such\/file.png/],
    [['--image', ASTRONAUT, '--label', '100'], /--label must be in \[0, 99\]/],
    [['--image', ASTRONAUT, '--label', 'seven'], /--label must be an integer, got 'seven'/],
    [['--image', ASTRONAUT, '--iterations', '0'], /--iterations must be >= 1/],
    [['--image', ASTRONAUT, '--line-search', 'wolfe'], /--line-search must be 'strong_wolfe' or 'none'/],
    [['--image', ASTRONAUT, '--history-precision', 'float16'], /--history-precision must be 'float32' or 'float64', got 'float16'/],
    [['--image', ASTRONAUT, '--threads', '3'], /--threads must be 1 or 2, got 3/],
    [['--image', ASTRONAUT, '--threads', 'two'], /--threads must be an integer, got 'two'/],
    [['--image', ASTRONAUT, '--bogus'], /unknown option --bogus/],
    [['--image', path.join(ROOT, 'package.json')], /not a PNG or JPEG/],
  ];
  for (const [args, message] of bad) {
    it(`bad input ${JSON.stringify(args)}: one error line, exit code 2`, () => {
      assertUsageError(args, message);
    });
  }
});

describe('argument parser', () => {
  const spec = { n: { kind: 'int' as const, help: '', default: 3 }, x: { kind: 'number' as const, help: '' }, f: { kind: 'boolean' as const, help: '' }, s: { kind: 'strings' as const, help: '' } };
  it('parses values, defaults, flags and repeated options', () => {
    assert.deepEqual(parseArgs(['--x=0.5', '--f', '--s', 'a', '--s', 'b'], spec), { n: 3, x: 0.5, f: true, s: ['a', 'b'] });
  });
  it('rejects malformed input with UsageError', () => {
    assert.throws(() => parseArgs(['--n', '1.5'], spec), UsageError);
    assert.throws(() => parseArgs(['--x'], spec), /--x needs a value/);
    assert.throws(() => parseArgs(['--f=1'], spec), /--f takes no value/);
    assert.throws(() => parseArgs(['loose'], spec), /unexpected argument 'loose'/);
  });
});
