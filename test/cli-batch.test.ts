import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadImage } from '../lib/data/image';
import { dlgCli, ROOT, ASTRONAUT, assertUsageError } from './dlg-cli';

const COFFEE = path.join(ROOT, 'datasets/natural/coffee.png');

describe('npm run dlg -- --batch N (command line)', () => {
  it('attacks the first N images of a dataset: per-image MSE after matching, labels and label accuracy', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dlg-batch-'));
    const r = dlgCli(['--batch', '3', '--dataset', 'digits', '--iterations', '12', '--seed', '2', '--label-strategy', 'count', '--out', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const j = JSON.parse(lines[0]);
    assert.equal(j.batch, 3);
    assert.equal(j.source, 'digits images 0,1,2');
    assert.deepEqual(j.true_labels, [0, 1, 2]);
    assert.deepEqual(j.labels, [0, 1, 2], 'count reads the three labels off the gradient');
    assert.equal(j.label_accuracy, 1);
    assert.equal(j.mse.length, 3);
    assert.deepEqual([...j.assignment].sort(), [0, 1, 2]);
    assert.equal(j.max_mse, Math.max(...j.mse));
    assert.equal(j.recovered, j.max_mse < 1e-3);
    assert.equal(j.batch_update, 'joint');
    assert.ok(j.iterations <= 12 && j.evals >= j.iterations);
    assert.equal(r.stderr, '');
    const grid = loadImage(path.join(out, 'reconstruction.png'), { channels: 1 });
    assert.ok(grid.width > 3 * 8 * 2 && grid.height > 2 * 8 * 2, `grid ${grid.width}x${grid.height}`);
    assert.ok(fs.existsSync(path.join(out, 'progress.png')));
  });

  it('takes N --image files with --labels; round-robin update', () => {
    const r = dlgCli(['--batch', '2', '--image', ASTRONAUT, '--image', COFFEE, '--labels', '7,3', '--iterations', '2', '--batch-update', 'round-robin', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.deepEqual(j.true_labels, [7, 3]);
    assert.equal(j.batch_update, 'round-robin');
    assert.equal(j.iterations, 2);
    assert.equal(j.mse.length, 2);
    assert.ok(j.mse.every((m: number) => m > 1e-3), '2 iterations recover nothing yet');
  });

  const bad: [string[], RegExp][] = [
    [['--batch', '0', '--dataset', 'digits'], /--batch must be >= 1, got 0/],
    [['--batch', '3', '--image', ASTRONAUT, '--image', COFFEE], /--batch 3 needs 3 --image files, got 2/],
    [['--image', ASTRONAUT, '--image', COFFEE], /2 --image files need --batch 2/],
    [['--batch', '6', '--dataset', 'natural'], /--batch 6: dataset 'natural' has only 5 images/],
    [['--batch', '2', '--dataset', 'imagenet'], /unknown dataset 'imagenet'/],
    [['--batch', '2'], /--batch N needs --dataset NAME or N --image files/],
    [['--batch', '2', '--dataset', 'digits', '--batch-update', 'sweep'], /--batch-update must be 'joint' or 'round-robin', got 'sweep'/],
    [['--batch', '2', '--dataset', 'digits', '--label-strategy', 'idlg'], /idlg reads a single sample's label; use 'distinct' or 'count'/],
    [['--batch', '2', '--image', ASTRONAUT, '--image', COFFEE, '--labels', '1,x'], /--labels must be comma-separated integers in \[0, 99\]/],
    [['--batch', '2', '--dataset', 'digits', '--labels', '1,2,3'], /--labels gives 3 labels for --batch 2/],
  ];
  for (const [args, message] of bad) {
    it(`bad input ${JSON.stringify(args.map((a) => path.basename(a)))}: one error line, exit code 2`, () => {
      assertUsageError(args, message);
    });
  }
});
