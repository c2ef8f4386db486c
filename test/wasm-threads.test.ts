import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';
import * as v8 from 'v8';
import * as vm from 'vm';
import { tf } from '../lib/engine';
import { parameterGradients } from '../lib/models/gradients';
import { oneHot } from '../lib/models/nn';
import { lenet } from '../lib/models/lenet';
import { disposeModel } from '../lib/models/model';
import type { ActivationName } from '../lib/models/model';
import { fusedObjective } from '../lib/engine/fused';
import type { FusedObjective } from '../lib/engine/fused';
import { threadedRuntime, threadsStatus, threadsCounts, splitAt, columnsAt, SERVED, GEMM_WORK, SPLIT_WORK } from '../lib/engine/wasm-threads';
import { dlg } from '../lib/attacks/dlg';
import { dlgConfig, ConfigError } from '../lib/config';
import { createRng, uniformArray } from '../lib/rng';
import type { Tensor4D } from '@tensorflow/tfjs';

/** dist/ (this file runs from dist/test/): the children require the compiled lib from here. */
const DIST = path.join(__dirname, '..');

interface Shape {
  size: number;
  batch: number;
  activation: ActivationName;
  label: 'joint' | 'fixed';
}

/** The objective of a LeNet of `s` with 1 and with 2 threads, at one point. */
function bothObjectives(s: Shape, seed: number) {
  const model = lenet({ inputShape: [s.size, s.size, 3], numClasses: 100, seed, activation: s.activation });
  const rng = createRng(seed);
  const images = tf.tensor4d(uniformArray(rng, s.batch * s.size * s.size * 3, 0, 1), [s.batch, s.size, s.size, 3]) as Tensor4D;
  const labels = Array.from({ length: s.batch }, (_, i) => (37 * i + 1) % 100);
  const target = oneHot(labels, 100);
  const shared = tf.tidy(() => parameterGradients(model, images, target));
  const options = { batchSize: s.batch, label: s.label, target: s.label === 'fixed' ? target.dataSync() : undefined, kernels: 'wasm' as const };
  const one = fusedObjective(model, shared, options) as FusedObjective;
  const two = fusedObjective(model, shared, { ...options, threads: 2 }) as FusedObjective;
  const x = Float64Array.from({ length: one.size }, (_, i) => (i < s.batch * s.size * s.size * 3 ? rng.next() : rng.normal()));
  const done = () => {
    tf.dispose([images, target, ...shared]);
    disposeModel(model);
  };
  return { one, two, x, done };
}

/** Value and gradient of `f` at x. */
function at(f: FusedObjective, x: Float64Array): { d: number; g: Float64Array } {
  const g = new Float64Array(f.size);
  return { d: f.evaluate(x, g), g };
}

function assertSameBits(a: { d: number; g: Float64Array }, b: { d: number; g: Float64Array }, what: string): void {
  assert.ok(Object.is(a.d, b.d), `${what}: D ${a.d} vs ${b.d}`);
  const i = a.g.findIndex((v, k) => !Object.is(v, b.g[k]));
  assert.equal(i, -1, `${what}: gradient entry ${i}: ${a.g[i]} vs ${b.g[i]}`);
}

describe('two threads per evaluation (lib/engine/wasm-threads.ts)', function () {
  this.timeout(120_000);

  it('starts here: the shared build loads and a helper thread serves it', () => {
    const status = threadsStatus();
    assert.ok(status.available, status.reason);
    assert.notEqual(threadedRuntime(), null);
  });

  it('splits only calls worth it: halves (rows of a product even), columns 4 at a time, nothing below the thresholds', () => {
    assert.equal(splitAt(100, SPLIT_WORK), 50);
    assert.equal(splitAt(101, SPLIT_WORK), 50);
    assert.equal(splitAt(102, GEMM_WORK, true, GEMM_WORK), 50, 'rows of a product: an even count here');
    assert.equal(splitAt(100, SPLIT_WORK - 1), 100, 'too little work: all on this thread');
    assert.equal(splitAt(1, 1e9), 1);
    assert.equal(splitAt(5, 1e9, true), 2, '5 rows, even: 2 here, 3 on the helper');
    assert.equal(splitAt(3, 1e9, true), 3, '3 rows, even: 0 here would leave nothing to this thread, so no split');
    assert.equal(columnsAt(100, GEMM_WORK), 48, '25 groups of 4 columns: 12 here');
    assert.equal(columnsAt(75, GEMM_WORK), 36, '18 groups of 4 (and 3 left over, on the helper): 9 here');
    assert.equal(columnsAt(100, GEMM_WORK - 1), 100);
    assert.equal(columnsAt(7, GEMM_WORK), 7, 'one group of 4: no split');
  });

  const shapes: Shape[] = [
    { size: 32, batch: 1, activation: 'sigmoid', label: 'joint' },
    { size: 64, batch: 1, activation: 'sigmoid', label: 'joint' },
    { size: 32, batch: 3, activation: 'tanh', label: 'fixed' },
    { size: 48, batch: 8, activation: 'relu', label: 'joint' },
    { size: 64, batch: 8, activation: 'sigmoid', label: 'fixed' },
  ];
  it(`the same numbers bit for bit as one thread, and every kernel it serves was split: LeNet ${shapes.map((s) => `${s.size}x${s.batch} ${s.activation} ${s.label}`).join(', ')}`, () => {
    const before = threadsCounts();
    for (const [k, s] of shapes.entries()) {
      const { one, two, x, done } = bothObjectives(s, 10 + k);
      const what = `${s.size}x${s.batch} ${s.activation} ${s.label}`;
      const first = at(one, x);
      assertSameBits(first, at(two, x), what);
      // again, at another point, after the other objective used its own memory
      x[0] += 0.25;
      assertSameBits(at(one, x), at(two, x), `${what}, second point`);
      done();
    }
    const after = threadsCounts();
    for (const name of SERVED) assert.ok((after[name] ?? 0) > (before[name] ?? 0), `${name} was never handed over: ${JSON.stringify(after)}`);
  });

  it('a DLG attack with threads 2 follows the 1-thread trajectory exactly (every loss, the evaluations, the dummy)', () => {
    const model = lenet({ inputShape: [32, 32, 3], numClasses: 10, seed: 3 });
    const images = tf.randomUniform([4, 32, 32, 3], 0, 1, 'float32', 3) as Tensor4D;
    const target = oneHot([1, 5, 2, 7], 10);
    const shared = tf.tidy(() => parameterGradients(model, images, target));
    const run = (threads: 1 | 2) => dlg(model, shared, { preset: 'batch', batchSize: 4, iterations: 8, threads });
    const a = run(1), b = run(2);
    assert.deepEqual(b.losses, a.losses);
    assert.equal(b.evals, a.evals);
    assert.ok(a.evals > 50, `${a.evals} evaluations`);
    assert.ok(b.data.every((v, i) => Object.is(v, a.data[i])));
    tf.dispose([images, target, ...shared]);
    disposeModel(model);
  });

  it('1,200 evaluations hold the shared memory, the heap, the RSS and the tensor count flat', () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const { two, x, done } = bothObjectives({ size: 32, batch: 4, activation: 'sigmoid', label: 'joint' }, 7);
    const memory = (threadedRuntime() as NonNullable<ReturnType<typeof threadedRuntime>>).exports.memory;
    const grad = new Float64Array(two.size);
    two.evaluate(x, grad);
    const bytes = memory.buffer.byteLength;
    const tensors = tf.memory().numTensors;
    const samples: { heap: number; rss: number }[] = [];
    for (let i = 0; i < 1200; i++) {
      x[i % x.length] += 1e-3;
      two.evaluate(x, grad);
      if (i === 200 || i === 1199) {
        gc();
        samples.push({ heap: process.memoryUsage().heapUsed, rss: process.memoryUsage().rss });
      }
    }
    assert.equal(memory.buffer.byteLength, bytes);
    assert.equal(tf.memory().numTensors, tensors);
    assert.ok(samples[1].heap - samples[0].heap < 1 << 20, `heap grew by ${(samples[1].heap - samples[0].heap) / 1024} kB`);
    assert.ok(samples[1].rss - samples[0].rss < 8 << 20, `RSS grew by ${(samples[1].rss - samples[0].rss) / 2 ** 20} MB`);
    done();
  });

  it('threads is a configuration key: 1 or 2, anything else a ConfigError naming it', () => {
    assert.equal(dlgConfig().threads, 1);
    assert.equal(dlgConfig({ threads: 2 }).threads, 2);
    for (const bad of [0, 3, 1.5, '2']) {
      assert.throws(() => dlgConfig({ threads: bad as 1 }), (e: unknown) => e instanceof ConfigError && e.key === 'threads' && /threads must be 1 or 2, got/.test(e.message));
    }
  });

  const child = (script: string, env: Record<string, string> = {}) =>
    spawnSync(process.execPath, ['-e', script], { cwd: DIST, env: { ...process.env, DLG_BACKEND: 'cpu', ...env }, encoding: 'utf8', timeout: 60_000 });

  it('a helper that fails is one clear error on this thread, at once (not a hang); the process still exits', () => {
    // a product whose helper half (rows 2, 3 of C) lies past the end of the memory: a wasm trap there
    const script = `
      const { threadedRuntime } = require('./lib/engine/wasm-threads');
      const rt = threadedRuntime();
      const K = 65536, N = 4;
      const { base } = rt.claim({}, 3 << 20);
      const size = rt.exports.memory.buffer.byteLength;
      const a = base, b = a + 4 * 4 * K, c = b + 4 * K * N;
      const ldc = Math.floor((size - c - 64) / 4);
      const t0 = Date.now();
      try { rt.exports.gemm(a, K, 1, b, N, c, ldc, 4, N, K, 0); console.log('no error'); }
      catch (e) { console.log(JSON.stringify({ message: e.message, ms: Date.now() - t0 })); }`;
    const r = child(script);
    assert.equal(r.status, 0, `${r.stderr} ${r.signal} ${r.error}`);
    const out = JSON.parse(r.stdout.trim());
    assert.match(out.message, /^the kernels' helper thread failed: .*out of bounds/);
    assert.ok(out.ms < 10_000, `${out.ms} ms`);
  });

  it('threads 2 without the shared build: one line on stderr says why, once, and one thread runs with the same numbers', () => {
    // the child's fs hides kernels-shared.wasm, as in a checkout whose build did not make it
    const script = `
      const fs = require('fs');
      const read = fs.readFileSync;
      fs.readFileSync = (f, ...rest) => {
        if (String(f).endsWith('kernels-shared.wasm')) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
        return read(f, ...rest);
      };
      const { tf } = require('./lib/engine');
      const { lenet } = require('./lib/models/lenet');
      const { fusedObjective } = require('./lib/engine/fused');
      const m = lenet({ inputShape: [64, 64, 3], numClasses: 3 });
      const s = m.params.map((p) => tf.onesLike(p));
      const out = [];
      for (const threads of [1, 2, 2]) {
        const f = fusedObjective(m, s, { batchSize: 1, label: 'joint', threads });
        out.push({ kernels: f.kernels, d: f.evaluate(new Float64Array(f.size).fill(0.5), new Float64Array(f.size)) });
      }
      console.log(JSON.stringify(out));`;
    const r = child(script);
    assert.equal(r.status, 0, `${r.stderr} ${r.signal} ${r.error}`);
    const out = JSON.parse(r.stdout.trim());
    assert.deepEqual(out.map((o: { kernels: string }) => o.kernels), ['wasm', 'wasm', 'wasm']);
    assert.equal(out[1].d, out[0].d);
    assert.equal(out[2].d, out[0].d);
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^fusedObjective: threads 2 cannot start here \(wasm kernels: .*kernels-shared\.wasm not found .*\); one thread runs, with the same numbers$/);
  });

  it('the helper does not keep a process alive, and DLG_WASM=0 runs threads 2 on the JS kernels with the 1-thread numbers', () => {
    const script = `
      const { tf } = require('./lib/engine');
      const { lenet } = require('./lib/models/lenet');
      const { fusedObjective } = require('./lib/engine/fused');
      const m = lenet({ inputShape: [64, 64, 3], numClasses: 3 });
      const s = m.params.map((p) => tf.onesLike(p));
      const out = {};
      for (const threads of [1, 2]) {
        const f = fusedObjective(m, s, { batchSize: 1, label: 'joint', threads });
        out[threads] = { kernels: f.kernels, d: f.evaluate(new Float64Array(f.size).fill(0.5), new Float64Array(f.size)) };
      }
      console.log(JSON.stringify(out));`;
    for (const env of [{}, { DLG_WASM: '0' }] as Record<string, string>[]) {
      const t0 = Date.now();
      const r = child(script, env);
      assert.equal(r.status, 0, `${r.stderr} ${r.signal} ${r.error}`);
      assert.ok(Date.now() - t0 < 30_000, 'exits on its own');
      const out = JSON.parse(r.stdout.trim());
      assert.equal(out[2].kernels, env.DLG_WASM === '0' ? 'js' : 'wasm');
      assert.equal(out[2].d, out[1].d);
    }
  });
});
