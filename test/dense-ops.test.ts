/**
 * The float64 matrix products of the fused BERT objective (lib/engine/dense-ops.ts) on the wasm
 * kernel (assembly/dense.ts) against the JS loops: bit for bit for every remainder of the kernel's
 * blocking (rows of a by 4, rows of b by 4, an odd row), overwrite and accumulate; and the workspace
 * is shared with the other wasm users of the thread without corrupting their results.
 */
import { strict as assert } from 'assert';
import { matMulTB, matMulTBJs, matMul, matMulTA } from '../lib/engine/dense-ops';
import { wasmStatus, wasmRuntime } from '../lib/engine/wasm';
import { createRng, normalArray } from '../lib/rng';
import { assertSameBits } from './golden';

const transpose = (a: Float64Array, rows: number, cols: number) => {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j];
  return out;
};

describe('dense-ops matrix products: the wasm kernel against the JS loops', () => {
  before(() => assert.ok(wasmStatus().available, `wasm kernels: ${wasmStatus().reason}`));

  it('matMulTB, matMul and matMulTA give the JS numbers bit for bit: n 1-9, p 1, 3, 4, 5, 8, 9, k 1, 7, 64, overwrite and accumulate', () => {
    let cases = 0;
    for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9]) {
      for (const p of [1, 3, 4, 5, 8, 9]) {
        for (const k of [1, 7, 64]) {
          const rng = createRng(1000 * n + 10 * p + k);
          const a = Float64Array.from(normalArray(rng, n * k));
          const b = Float64Array.from(normalArray(rng, p * k));
          const start = Float64Array.from(normalArray(rng, n * p));
          for (const accumulate of [false, true]) {
            const expect = Float64Array.from(start);
            matMulTBJs(a, b, expect, n, k, p, accumulate);
            const c1 = Float64Array.from(start);
            matMulTB(a, b, c1, n, k, p, accumulate);
            assertSameBits(c1, expect, `matMulTB n=${n} k=${k} p=${p} acc=${accumulate}`);
            const c2 = Float64Array.from(start);
            matMul(a, transpose(b, p, k), c2, n, k, p, accumulate);
            assertSameBits(c2, expect, `matMul n=${n} k=${k} p=${p} acc=${accumulate}`);
            const c3 = Float64Array.from(start);
            matMulTA(transpose(a, n, k), transpose(b, p, k), c3, k, n, p, accumulate);
            assertSameBits(c3, expect, `matMulTA n=${n} k=${k} p=${p} acc=${accumulate}`);
            cases++;
          }
        }
      }
    }
    assert.equal(cases, 9 * 6 * 3 * 2);
  });

  it('reads only the first n*k / p*k entries of longer arrays and writes only c[0, n*p)', () => {
    const rng = createRng(3);
    const n = 5, k = 6, p = 7;
    const a = Float64Array.from(normalArray(rng, n * k + 11));
    const b = Float64Array.from(normalArray(rng, p * k + 13));
    const c = new Float64Array(n * p + 4).fill(7);
    const cJs = new Float64Array(n * p + 4).fill(7);
    matMulTB(a, b, c, n, k, p);
    matMulTBJs(a, b, cJs, n, k, p);
    assertSameBits(c, cJs, 'long arrays');
    assert.deepEqual(Array.from(c.subarray(n * p)), [7, 7, 7, 7]);
  });

  it('shares the thread\'s wasm workspace: a claim by another owner before and after gives the same product', () => {
    const w = wasmRuntime()!;
    const other = {};
    const rng = createRng(4);
    const n = 24, k = 64, p = 256;
    const a = Float64Array.from(normalArray(rng, n * k)), b = Float64Array.from(normalArray(rng, p * k));
    const expect = new Float64Array(n * p);
    matMulTBJs(a, b, expect, n, k, p);
    const { base } = w.claim(other, 1 << 20);
    w.f64().fill(-1, base / 8, base / 8 + (1 << 17));
    const c = new Float64Array(n * p);
    matMulTB(a, b, c, n, k, p);
    assertSameBits(c, expect, 'after another owner');
    assert.equal(w.claim(other, 1 << 20).intact, false, 'the other owner learns its data may be gone');
  });
});
