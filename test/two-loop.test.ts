import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';
import * as v8 from 'v8';
import * as vm from 'vm';
import { twoLoopJs, twoLoopMemory, dot, axpy, addScaled, maxAbs, VECTORS } from '../lib/attacks/optim/two-loop';
import type { History, HistoryPrecision, Vector } from '../lib/attacks/optim/two-loop';
import { createLbfgs } from '../lib/attacks/optim/lbfgs';
import { wasmStatus } from '../lib/engine/wasm';
import { createRng } from '../lib/rng';

/** A history of `numOld` pairs over `n` unknowns (y . s > 0, as the optimiser keeps them), written into `pair()` vectors. */
function history(pair: () => Vector, n: number, numOld: number, seed: number): History {
  const rng = createRng(seed);
  const rand = () => rng.next();
  const h: History = { oldDirs: [], oldStps: [], ro: [], hDiag: 0 };
  for (let k = 0; k < numOld; k++) {
    const y = pair(), s = pair();
    for (let i = 0; i < n; i++) {
      s[i] = rand() - 0.5;
      y[i] = s[i] * (1 + 10 * rand()) + 1e-3 * (rand() - 0.5);
    }
    h.oldDirs.push(y);
    h.oldStps.push(s);
    h.ro.push(1 / dot(y, s));
    h.hDiag = dot(y, s) / dot(y, y);
  }
  if (numOld === 0) h.hDiag = 1;
  return h;
}

/**
 * `steps` strong-Wolfe steps (20 iterations each at most) on an ill-conditioned separable quartic,
 * sum_i c_i (x_i - 1)^2 + (x_i - 1)^4 / 4 (minimum 0 at x = 1), in a child process with `env`.
 */
function quartic(precision: HistoryPrecision, env: Record<string, string>, steps = 5): { x: number[]; sum: number; evals: number; nIter: number; loss: number; maxError: number } {
  const script = `
    const { createLbfgs } = require(${JSON.stringify(path.join(__dirname, '../lib/attacks/optim/lbfgs.js'))});
    const n = 2000, c = Float64Array.from({ length: n }, (_, i) => Math.exp(6 * i / n));
    const closure = (x) => { let f = 0; const g = new Float64Array(n);
      for (let i = 0; i < n; i++) { const e = x[i] - 1; f += c[i] * e * e + e ** 4 / 4; g[i] = 2 * c[i] * e + e ** 3; }
      return { loss: f, grad: g }; };
    const opt = createLbfgs(Float64Array.from({ length: n }, (_, i) => Math.sin(i)), { lineSearch: 'strong_wolfe', historyPrecision: '${precision}' });
    for (let k = 0; k < ${steps}; k++) opt.step(closure);
    process.stdout.write(JSON.stringify({ x: Array.from(opt.x.subarray(0, 50)), sum: opt.x.reduce((a, b) => a + b, 0), evals: opt.funcEvals, nIter: opt.nIter, loss: closure(opt.x).loss,
      maxError: opt.x.reduce((m, v) => Math.max(m, Math.abs(v - 1)), 0) }));`;
  const r = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, ...env }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

describe('L-BFGS two-loop recursion: wasm kernel against the JS loops', () => {
  before(function () {
    // the build compiles kernels.wasm; without it this file has nothing to compare
    assert.ok(wasmStatus().available, `wasm kernels: ${wasmStatus().reason}`);
  });

  for (const precision of ['float64', 'float32'] as HistoryPrecision[]) for (const n of [1, 3, 4, 5, 6, 7, 8, 12, 15, 1001]) {
    for (const numOld of [0, 1, 2, 5, 100]) {
      it(`${precision} history, n = ${n}, ${numOld} pairs: the same direction and coefficients, bit for bit`, () => {
        const mem = twoLoopMemory(n, 100, 'wasm', precision);
        assert.equal(mem.kind, 'wasm');
        const h = history(mem.pair, n, numOld, 1000 * n + numOld);
        for (const v of [...h.oldDirs, ...h.oldStps]) assert.equal(v instanceof Float32Array, precision === 'float32');
        const g = mem.vec(), d = mem.vec();
        const rng = createRng(7 + n);
        const rand = () => rng.next();
        for (let i = 0; i < n; i++) g[i] = rand() - 0.5;
        mem.direction(g, d, h);
        // the same inputs in plain JS arrays
        const hJs: History = { oldDirs: h.oldDirs.map((v) => v.slice()), oldStps: h.oldStps.map((v) => v.slice()), ro: h.ro.slice(), hDiag: h.hDiag };
        const dJs = new Float64Array(n), alJs = new Float64Array(100);
        twoLoopJs(Float64Array.from(g), dJs, hJs, alJs);
        for (let i = 0; i < n; i++) assert.ok(Object.is(d[i], dJs[i]), `d[${i}]: wasm ${d[i]}, JS ${dJs[i]}`);
        for (let i = 0; i < numOld; i++) assert.ok(Object.is(mem.al[i], alJs[i]), `al[${i}]: wasm ${mem.al[i]}, JS ${alJs[i]}`);
        // a descent direction (H is positive definite)
        if (n > 1) assert.ok(dot(g, d) < 0, `g . d = ${dot(g, d)}`);
        // the history is read, not written
        for (let k = 0; k < numOld; k++) assert.deepEqual(Array.from(h.oldDirs[k]), Array.from(hJs.oldDirs[k]));
      });
    }
  }

  for (const precision of ['float64', 'float32'] as HistoryPrecision[]) {
    it(`a whole strong-Wolfe run on 2,000 unknowns, ${precision} history, ends at the same point with DLG_WASM=0 (JS loops) as with the kernel`, () => {
      const wasm = quartic(precision, {}), js = quartic(precision, { DLG_WASM: '0' });
      assert.ok(wasm.nIter >= 60, `only ${wasm.nIter} iterations: the history barely filled`);
      assert.deepEqual(wasm, js);
    });
  }

  it('a float32 history takes another path to the minimum, as close as a float64 one: loss < 1e-8 and max |x - 1| < 1e-4 after 10 steps', () => {
    // measured: float64 loss 6.1e-9, max |x - 1| 1.9e-5; float32 4.9e-9, 1.7e-5 (both stopped by the tolerances)
    const f64 = quartic('float64', {}, 10), f32 = quartic('float32', {}, 10);
    assert.notDeepEqual(f64.x, f32.x);
    for (const r of [f64, f32]) assert.ok(r.loss < 1e-8 && r.maxError < 1e-4, `loss ${r.loss}, max |x - 1| = ${r.maxError}`);
  });

  it('the optimiser\'s vector operations on arena vectors: the JS loops\' numbers, bit for bit, at every length and remainder', () => {
    for (const n of [0, 1, 2, 3, 4, 5, 7, 8, 9, 1001]) {
      const mem = twoLoopMemory(Math.max(n, 1), 1);
      assert.equal(mem.kind, 'wasm');
      const [a, b, c, e] = [mem.vec(), mem.vec(), mem.vec(), mem.vec()].map((v) => v.subarray(0, n));
      const rng = createRng(11 + n);
      for (let i = 0; i < n; i++) {
        a[i] = (rng.next() - 0.5) * 1e3;
        b[i] = (rng.next() - 0.5) * 1e-3;
      }
      const js = (v: Float64Array) => Float64Array.from(v); // a copy outside the arena: the JS loops run
      assert.ok(Object.is(dot(a, b), dot(js(a), js(b))), `dot, n = ${n}`);
      for (const scale of [1, -0.37]) assert.ok(Object.is(maxAbs(a, scale), maxAbs(js(a), scale)), `maxAbs, n = ${n}`);
      addScaled(c, a, 0.7071, b);
      const cJs = new Float64Array(n);
      addScaled(cJs, js(a), 0.7071, js(b));
      assert.deepEqual(Array.from(c), Array.from(cJs), `addScaled, n = ${n}`);
      e.set(b);
      const eJs = js(b);
      axpy(-3.3, a, e);
      axpy(-3.3, js(a), eJs);
      assert.deepEqual(Array.from(e), Array.from(eJs), `axpy, n = ${n}`);
      if (n > 0) {
        a[n - 1] = NaN;
        assert.ok(Number.isNaN(maxAbs(a)) && Number.isNaN(maxAbs(js(a))), 'a NaN anywhere gives NaN');
        a[n - 1] = -5e3;
        assert.equal(maxAbs(a), 5e3);
      }
    }
  });

  for (const precision of ['float64', 'float32'] as HistoryPrecision[]) {
    it(`${precision} history: a new pair and its products y . s, y . y on the kernel are the JS loops' numbers, bit for bit`, () => {
      for (const n of [1, 2, 3, 4, 5, 7, 9, 1001]) {
        const mem = twoLoopMemory(n, 2, 'wasm', precision), jsMem = twoLoopMemory(n, 2, 'js', precision);
        assert.equal(mem.kind, 'wasm');
        const [g, gPrev, d] = [mem.vec(), mem.vec(), mem.vec()];
        const rng = createRng(29 + n);
        for (let i = 0; i < n; i++) {
          g[i] = rng.next() - 0.5;
          gPrev[i] = rng.next() - 0.5;
          d[i] = (rng.next() - 0.5) * 1e2;
        }
        const y = mem.pair(), s = mem.pair(), yJs = jsMem.pair(), sJs = jsMem.pair();
        const got = mem.newPair(y, s, g, gPrev, d, 0.013), want = jsMem.newPair(yJs, sJs, Float64Array.from(g), Float64Array.from(gPrev), Float64Array.from(d), 0.013);
        assert.deepEqual(Array.from(y), Array.from(yJs), `y, n = ${n}`);
        assert.deepEqual(Array.from(s), Array.from(sJs), `s, n = ${n}`);
        assert.ok(Object.is(got.ys, want.ys) && Object.is(got.yy, want.yy), `n = ${n}: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
        assert.ok(Object.is(got.ys, dot(y, s)) && Object.is(got.yy, dot(y, y)));
      }
    });
  }

  it('falls back to JS arrays without the kernels, and refuses vectors it did not make', () => {
    const js = twoLoopMemory(10, 5, 'js');
    assert.equal(js.kind, 'js');
    assert.ok(!(js.vec().buffer instanceof SharedArrayBuffer));
    const mem = twoLoopMemory(10, 2);
    for (let i = 0; i < VECTORS; i++) mem.vec();
    assert.throws(() => mem.vec(), new RegExp(`more than ${VECTORS} float64 vectors`));
    for (let i = 0; i < 2 * 2 + 2; i++) mem.pair();
    assert.throws(() => mem.pair(), /more than 6 history vectors/);
    const other = twoLoopMemory(10, 2, 'wasm', 'float32');
    const g = other.vec(), d = other.vec();
    assert.throws(() => other.direction(new Float64Array(10), d, { oldDirs: [], oldStps: [], ro: [], hDiag: 1 }), /vectors from vec\(\)/);
    // a pair of the wrong precision, or from outside the memory
    assert.throws(() => other.direction(g, d, { oldDirs: [new Float32Array(10)], oldStps: [other.pair()], ro: [1], hDiag: 1 }), /vectors from pair\(\)/);
    assert.throws(() => other.direction(g, d, { oldDirs: [other.pair()], oldStps: [new Float64Array(10)], ro: [1], hDiag: 1 }), /vectors from pair\(\)/);
  });

  it('optimisers with full histories release their wasm memory: RSS flat over 60 of them', function () {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const n = 20000;
    const closure = (x: Float64Array) => {
      let f = 0;
      const g = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const w = 1 + (i % 7);
        f += w * (x[i] - 1) ** 2 + (x[i] - 1) ** 4;
        g[i] = 2 * w * (x[i] - 1) + 4 * (x[i] - 1) ** 3;
      }
      return { loss: f, grad: g };
    };
    const rss: number[] = [];
    for (let k = 0; k < 60; k++) {
      const opt = createLbfgs(new Float64Array(n), { historySize: 10 }); // 24 vectors of 160 kB touched per optimiser
      opt.step(closure);
      if (k === 10 || k === 59) {
        gc();
        rss.push(process.memoryUsage().rss);
      }
    }

    // measured: -30 MB (the first optimisers' pages returned); 50 leaked optimisers would hold about 190 MB
    assert.ok(rss[1] - rss[0] < 40 << 20, `RSS grew by ${((rss[1] - rss[0]) / 2 ** 20).toFixed(1)} MB over 50 optimisers`);
  });
});
