import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT } from './dlg-cli';
import { sameTrajectorySteps, sameEvaluations } from './bench/bench-report';
import type { BenchReport } from './bench/bench-report';

const run = (script: string, args: string[]) => spawnSync(process.execPath, [path.join(ROOT, 'dist/test/bench', script), ...args], { encoding: 'utf8', cwd: ROOT });

function assertUsage(script: string, args: string[], message: RegExp): void {
  const r = run(script, args);
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], message);
}

describe('npm run bench and the baseline driver (test/bench)', () => {
  it('bad flags: one error line, exit code 2, before any work', () => {
    assertUsage('bench.js', ['--cases', 'lenet32,nope'], /--cases: unknown 'nope' \(known: lenet32, lenet64, lenet32x8, bert\)/);
    assertUsage('bench.js', ['--torch-threads', '1,0'], /--torch-threads: '0' is not a positive integer/);
    assertUsage('bench.js', ['--python', '/nonexistent/python'], /--python \/nonexistent\/python: cannot import torch and numpy/);
    assertUsage('bench.js', ['--engines', 'fused,gpu'], /--engines: unknown 'gpu'/);
    assertUsage('baseline.js', ['frob'], /unknown command 'frob' \(torch, ours, same-start\)/);
    assertUsage('baseline.js', ['same-start', '--torch', '/nonexistent.json'], /no such file: \/nonexistent.json/);
  });

  it('runs end to end on our side alone (--no-torch): the report holds the start distance, per-evaluation blocks and a same-start attack', function () {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-')), 'bench.json');
    const r = run('bench.js', ['--no-torch', '--cases', 'lenet32', '--attack-cases', 'lenet32', '--iterations', '3', '--line-search', 'none', '--blocks', '2', '--rounds', '1', '--block-seconds', '0.02', '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /### Per evaluation/);
    const report = JSON.parse(fs.readFileSync(out, 'utf8')) as BenchReport;
    const c = report.cases[0];
    assert.equal(c.name, 'lenet32');
    assert.equal(c.ours.msPerEval.all.length, 2);
    assert.ok(c.ours.startDistance > 0);
    const a = c.ours.attacks[0];
    assert.equal(a.lineSearch, 'none');
    assert.equal(a.iterations, 3);
    assert.equal(a.losses.length, 4);
    assert.equal(a.losses[0], c.ours.startDistance); // the attack starts where the timed objective was evaluated
    // no line search: torch's max_iter 20 evaluations per step, then the final evaluation
    assert.deepEqual(a.evalsAtStep, [null, 40, 60]);
    assert.equal(a.evals, 61);
    assert.equal((a.evalLosses as number[]).length, 60); // the probe's 3 steps (no final evaluation)
    assert.equal((a.evalLosses as number[])[0], a.losses[0]);
    assert.equal((a.evalLosses as number[])[20], a.losses[1]); // step 2's first evaluation is the loss after step 1
    assert.equal(report.machine.cores, os.cpus().length);
  });

  it('parallel bench: a bad count is one line and exit code 2; --rounds reports the CPU time of each job on its own thread, and identical results', function () {
    for (const flag of ['--rounds', '--paired', '--workers']) {
      const bad = run('parallel.js', [flag, '0']);
      assert.equal(bad.status, 2, bad.stderr);
      assert.equal(bad.stdout, '');
      assert.equal(bad.stderr.trim(), `${flag} must be a positive integer, got 0`);
    }
    const r = run('parallel.js', ['--rounds', '2', '--iterations', '20']);
    assert.equal(r.status, 0, r.stderr);
    const rounds = r.stdout.split('\n').filter((l) => l.startsWith('round '));
    assert.equal(rounds.length, 2, r.stdout);
    assert.match(rounds[0], /^round 1 \(alone first\): /);
    assert.match(rounds[1], /^round 2 \(at once first\): /);
    if (fs.existsSync('/proc/thread-self/stat')) {
      // the job's own thread: some CPU time, and no more than its wall time (10 ms ticks)
      const m = /alone ([\d.]+) s \(its thread ([\d.]+) s CPU\)/.exec(rounds[0]);
      assert.ok(m, rounds[0]);
      assert.ok(Number(m[2]) > 0 && Number(m[2]) <= Number(m[1]) + 0.02, rounds[0]);
    }
    assert.match(r.stdout, /results identical across workers and rounds: true/);
    assert.match(r.stdout, /a long sweep of equal jobs on 2 workers, without start-up and the sweep's end: [\d.]+x \(2 \/ [\d.]+\)/);
  });

  it('trajectory agreement helpers count what they say', () => {
    assert.equal(sameTrajectorySteps([10, 5, 2, 1], [10, 5.04, 2.5, 1]), 1); // after 0 and 1 steps within 1%
    assert.equal(sameTrajectorySteps([10, 5], [10, 5]), 1);
    assert.equal(sameTrajectorySteps([11, 5], [10, 5]), -1);
    assert.equal(sameEvaluations([1, 2, 3.01], [1, 2.001, 3]), 2);
  });
});
