/** notebooks/tools/child-cpu.ts: the runner's per-notebook CPU time, from /proc/self/stat. */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { childCpuSeconds, childTicks, clockTicks, formatCpu, ownTicks, threadCpuSeconds } from '../notebooks/tools/child-cpu';

describe('child CPU time (run-notebooks)', function () {
  it('reads cutime + cstime (fields 16, 17) of a stat line, counting from the command name\'s last parenthesis', function () {
    // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
    const line = '4242 (a) b) (c)) S 1 4242 4242 0 -1 4194560 100 200 0 0 7 3 1234 56 20 0 1 0 99 0 0';
    assert.equal(childTicks(line), 1234 + 56);
    assert.equal(childTicks('4242 (node) R 1 2 3 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 1 0 0'), 0);
    assert.equal(childTicks('no parenthesis here'), null);
    assert.equal(childTicks('1 (x) S 1 2'), null, 'too few fields');
  });

  it('reads a thread\'s own utime + stime (fields 14, 15) the same way, and this thread\'s CPU time grows as it computes', function () {
    assert.equal(ownTicks('4242 (a) b) (c)) S 1 4242 4242 0 -1 4194560 100 200 0 0 7 3 1234 56 20 0 1 0 99 0 0'), 7 + 3);
    assert.equal(ownTicks('1 (x) S 1 2'), null, 'too few fields');
    if (!fs.existsSync('/proc/thread-self/stat')) {
      assert.ok(Number.isNaN(threadCpuSeconds(100)));
      this.skip();
    }
    // Compute until this thread's own CPU time has grown by 0.3 s (5 s of wall time at most); the
    // whole process (other threads too) used at least as much.
    const perSecond = clockTicks();
    const before = threadCpuSeconds(perSecond);
    const p0 = process.cpuUsage();
    const t0 = performance.now();
    let grown = 0;
    while (grown < 0.3 && performance.now() - t0 < 5000) grown = threadCpuSeconds(perSecond) - before;
    const p = process.cpuUsage(p0);
    const processGrown = (p.user + p.system) / 1e6;
    assert.ok(grown >= 0.3 && grown <= processGrown + 0.02, `this thread's CPU grew by ${grown} s, the process's by ${processGrown} s`);
  });

  it('grows by what a finished child used: a child that computes for 0.6 s of CPU adds 0.5 to 1.5 s', function () {
    if (!fs.existsSync('/proc/self/stat')) {
      assert.equal(childCpuSeconds(), null);
      this.skip();
    }
    const before = childCpuSeconds();
    assert.ok(before !== null && before >= 0);
    const r = spawnSync(process.execPath, ['-e', 'const t = process.cpuUsage(); let x = 0; while ((process.cpuUsage(t).user + process.cpuUsage(t).system) < 600000) x++;']);
    assert.equal(r.status, 0);
    const grown = (childCpuSeconds() as number) - before;
    assert.ok(grown >= 0.5 && grown < 1.5, `children's CPU grew by ${grown} s`);
  });

  it('formats a notebook\'s CPU time and the cores it kept busy, or nothing without a reading', function () {
    assert.equal(formatCpu(255.49, 131.6), ' (CPU 255.5 s, 1.94 cores)');
    assert.equal(formatCpu(null, 10), '');
    assert.equal(formatCpu(undefined, 10), '');
    assert.equal(formatCpu(3, 0), '');
  });
});
