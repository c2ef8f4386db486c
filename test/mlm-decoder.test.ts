/**
 * The vocabulary-sized passes of the fused BERT-MLM objective (lib/engine/mlm-decoder.ts) on the wasm
 * kernels (assembly/decoder.ts) against the JS loops: bit for bit, for every group size of the
 * four-row passes, overwrite and accumulate; and a whole text objective evaluation with and without
 * the kernels.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';
import { decoderTables, rowDots, rowDotsJs, colDots, colDotsJs } from '../lib/engine/mlm-decoder';
import { wasmStatus } from '../lib/engine/wasm';
import { createRng, normalArray } from '../lib/rng';
import { assertSameBits } from './golden';


describe('MLM decoder passes: wasm kernels against the JS loops', () => {
  const hidden = 12, vocab = 301;
  const rng = createRng(5);
  const w = normalArray(rng, hidden * vocab);
  const b = normalArray(rng, vocab);
  const sW = normalArray(rng, hidden * vocab); // full rank: S stays dense
  before(() => assert.ok(wasmStatus().available, `wasm kernels: ${wasmStatus().reason}`));

  it('the tables live in the wasm arena (dense S) and give the JS numbers bit for bit, m = 1..9, overwrite and accumulate', () => {
    const tab = decoderTables(w, b, sW, hidden, vocab, false);
    assert.equal(tab.shared.kind, 'dense');
    const wasmBuffer = tab.w.buffer;
    assert.ok(!(wasmBuffer instanceof SharedArrayBuffer) && wasmBuffer !== new Float64Array(1).buffer);
    assert.equal(tab.wT.buffer, wasmBuffer, 'wT in the same arena');
    const plainWT = Float64Array.from(tab.wT), plainW = Float64Array.from(tab.w);
    for (let m = 1; m <= 9; m++) {
      const vecs = Float64Array.from(normalArray(createRng(m), m * hidden));
      const rows = Float64Array.from(normalArray(createRng(100 + m), m * vocab));
      for (const accumulate of [false, true]) {
        const start = Float64Array.from(normalArray(createRng(200 + m), m * vocab));
        const z = Float64Array.from(start), zJs = Float64Array.from(start);
        rowDots(tab.wT, vecs, m, vocab, hidden, z, accumulate);
        rowDotsJs(plainWT, vecs, m, vocab, hidden, zJs, accumulate);
        assertSameBits(z, zJs, `rowDots m=${m} accumulate=${accumulate}`);
        const t0 = Float64Array.from(normalArray(createRng(300 + m), m * hidden));
        const t = Float64Array.from(t0), tJs = Float64Array.from(t0);
        colDots(tab.w, rows, m, vocab, hidden, t, accumulate);
        colDotsJs(plainW, rows, m, vocab, hidden, tJs, accumulate);
        assertSameBits(t, tJs, `colDots m=${m} accumulate=${accumulate}`);
      }
    }
  });

  it('every remainder of the four-rows-per-pass kernel: hidden 1-7 (colDots over 1-7 rows), vocab 5-8 (rowDots), m = 1..5', () => {
    let checked = 0;
    for (let h = 1; h <= 7; h++) {
      for (let V = 5; V <= 8; V++) {
        const r = createRng(100 * h + V);
        const tab = decoderTables(normalArray(r, h * V), normalArray(r, V), normalArray(r, h * V), h, V, false);
        for (let m = 1; m <= 5; m++) {
          const vecs = Float64Array.from(normalArray(r, m * h));
          const z = new Float64Array(m * V), zJs = new Float64Array(m * V);
          rowDots(tab.wT, vecs, m, V, h, z);
          rowDotsJs(Float64Array.from(tab.wT), vecs, m, V, h, zJs);
          assertSameBits(z, zJs, `rowDots hidden=${h} V=${V} m=${m}`);
          const rows = Float64Array.from(normalArray(r, m * V));
          const t = new Float64Array(m * h), tJs = new Float64Array(m * h);
          colDots(tab.w, rows, m, V, h, t);
          colDotsJs(Float64Array.from(tab.w), rows, m, V, h, tJs);
          assertSameBits(t, tJs, `colDots hidden=${h} V=${V} m=${m}`);
          checked++;
        }
      }
    }
    assert.equal(checked, 7 * 4 * 5);
  });

  it('a low-rank S: its factor tables are in the arena too, and the short passes (d = rank) agree', () => {
    // S = u v^T + u2 v2^T: rank 2 <= hidden / 4
    const r = createRng(9);
    const u = normalArray(r, 2 * hidden), v = normalArray(r, 2 * vocab);
    const low = new Float32Array(hidden * vocab);
    for (let h = 0; h < hidden; h++) for (let j = 0; j < vocab; j++) low[h * vocab + j] = u[h] * v[j] + u[hidden + h] * v[vocab + j];
    const tab = decoderTables(w, b, low, hidden, vocab, true);
    assert.equal(tab.shared.kind, 'low-rank');
    if (tab.shared.kind !== 'low-rank') return;
    const k = tab.shared.rank;
    assert.equal(tab.shared.b.buffer, tab.w.buffer);
    const m = 3;
    const rows = Float64Array.from(normalArray(createRng(11), m * vocab));
    const out = new Float64Array(m * k), outJs = new Float64Array(m * k);
    colDots(tab.shared.b, rows, m, vocab, k, out);
    colDotsJs(Float64Array.from(tab.shared.b), rows, m, vocab, k, outJs);
    assertSameBits(out, outJs, 'colDots on B');
    const vecs = Float64Array.from(normalArray(createRng(12), m * k));
    const z = new Float64Array(m * vocab), zJs = new Float64Array(m * vocab);
    rowDots(tab.shared.bT, vecs, m, vocab, k, z);
    rowDotsJs(Float64Array.from(tab.shared.bT), vecs, m, vocab, k, zJs);
    assertSameBits(z, zJs, 'rowDots on B^T');
  });

  it('a whole evaluation of the text objective (30,522 tokens) gives the same value and gradient with DLG_WASM=0', () => {
    const script = `
      const { makeTextCase } = require(${JSON.stringify(path.join(__dirname, '../lib/cases/text.js'))});
      const { textObjective } = require(${JSON.stringify(path.join(__dirname, '../lib/attacks/text-objective.js'))});
      const { createRng } = require(${JSON.stringify(path.join(__dirname, '../lib/rng.js'))});
      const c = makeTextCase('the cat sat on the mat', { seed: 3 });
      const f = textObjective(c.model, c.shared, c.shape);
      const rng = createRng(4);
      const x = Float64Array.from({ length: f.size }, () => rng.normal());
      const g = new Float64Array(f.size);
      const value = f(x, g);
      const sha = require('crypto').createHash('sha256').update(Buffer.from(g.buffer)).digest('hex');
      process.stdout.write(JSON.stringify({ value, size: f.size, sha }));`;
    const run = (env: Record<string, string>) => {
      const r = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, ...env }, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as { value: number; size: number };
    };
    const wasm = run({}), js = run({ DLG_WASM: '0' });
    assert.ok(wasm.size > 30522, `size ${wasm.size}`);
    assert.deepEqual(wasm, js);
  });
});
