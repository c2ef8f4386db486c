import { strict as assert } from 'assert';
import * as path from 'path';
import { runParallel, progressBar, startOrder } from '../lib/experiments/parallel';
import type { DefendedAttackJob, DefendedAttackResult } from '../lib/experiments/defended-attack';
import { renderSvg } from '../lib/report/plot';

const TASK = path.join(__dirname, '../lib/experiments/defended-attack.js');
const image = (n: string) => path.join(__dirname, '../../datasets/natural', n + '.png');

describe('parallel sweeps (worker threads)', () => {
  it('gives the same results on 2 workers as in one thread, in job order', async () => {
    const jobs: DefendedAttackJob[] = ['rocket', 'coffee', 'hubble'].map((n, i) => ({ image: image(n), label: i * 10, seed: i + 1, iterations: 2, defense: 'none' }));
    const serial = await runParallel<DefendedAttackJob, DefendedAttackResult>(TASK, jobs, { workers: 1 });
    let progress = 0;
    const parallel = await runParallel<DefendedAttackJob, DefendedAttackResult>(TASK, jobs, { workers: 2, onProgress: (d) => (progress = d) });
    assert.equal(progress, 3);
    assert.deepEqual(parallel.map((r) => r.image), jobs.map((j) => j.image));
    assert.deepEqual(parallel.map((r) => r.mse), serial.map((r) => r.mse));
    assert.ok(serial.every((r) => r.iterationsRun === 2 && r.mse > 0));
  });

  it('starts the costliest jobs first when given a cost, results still in job order and unchanged', async () => {
    assert.deepEqual(startOrder([5, 1, 9, 1, 9], (c) => c), [2, 4, 0, 1, 3]);
    assert.deepEqual(startOrder(['a', 'b', 'c']), [0, 1, 2]);
    assert.throws(() => startOrder([1, NaN], (c) => c), /cost must be a finite number, got NaN/);
    const jobs: DefendedAttackJob[] = ['rocket', 'coffee', 'hubble'].map((n, i) => ({ image: image(n), label: i * 10, seed: i + 1, iterations: 1 + i, defense: 'none' }));
    const plain = await runParallel<DefendedAttackJob, DefendedAttackResult>(TASK, jobs, { workers: 1 });
    for (const workers of [1, 2]) {
      const arrived: number[] = [];
      const costly = await runParallel<DefendedAttackJob, DefendedAttackResult>(TASK, jobs, { workers, cost: (j) => j.iterations, onResult: (i) => arrived.push(i) });
      if (workers === 1) assert.deepEqual(arrived, [2, 1, 0]);
      assert.deepEqual(costly.map((r) => r.image), jobs.map((j) => j.image));
      assert.deepEqual(costly.map((r) => r.mse), plain.map((r) => r.mse));
    }
  });

  it('reports a failing job with its message', async () => {
    const jobs: DefendedAttackJob[] = [{ image: '/no/such.png', label: 1, seed: 1, iterations: 1, defense: 'none' }];
    await assert.rejects(runParallel(TASK, jobs, { workers: 2 }), /cannot read image \/no\/such.png/);
  });

  it('draws a progress bar', () => {
    assert.equal(progressBar(3, 6, 10), '[#####.....] 3/6');
  });
});

describe('SVG figures', () => {
  it('renders traces with a log axis, a legend and titles', () => {
    const svg = renderSvg(
      [{ x: [0, 1, 2], y: [1, 1e-2, 1e-4], name: 'D' }, { y: [0.5, 0.1, 0.01], name: 'MSE', mode: 'lines+markers' }],
      { title: 'T', xaxis: { title: 'iteration' }, yaxis: { type: 'log', title: 'value' } },
    );
    assert.match(svg, /^<svg /);
    assert.equal((svg.match(/<path /g) ?? []).length, 2);
    assert.equal((svg.match(/<circle /g) ?? []).length, 3);
    for (const label of ['1e-4', '0.01', '>1<', '>D<', '>MSE<', '>iteration<', '>value<', '>T<']) assert.ok(svg.includes(label), label);
  });
  it('refuses to draw nothing', () => {
    assert.throws(() => renderSvg([{ x: [1], y: [NaN] }]), /no finite points/);
  });
});
