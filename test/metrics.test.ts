/**
 * MSE, PSNR and SSIM against scikit-image (test/golden/metrics.json, written by
 * test/golden/metrics_golden.py), plus the behaviour skimage does not cover.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { mse, psnr, ssim } from '../lib/analysis/metrics';
import type { Img } from '../lib/data/image';

/** Parameters of one synthetic image; see `synth`. */
interface SynthSpec {
  h: number; w: number; c: number;
  offset: number; ax: number; ay: number;
  amp: number; fx: number; fy: number; phase: number; pc: number;
  noise: number; seed: number;
}

interface MetricsCase {
  name: string;
  a: SynthSpec; b: SynthSpec;
  checksum: { a: number; b: number };
  winSize: number;
  mse: number;
  psnr: number | null; // null: +Infinity
  ssim: number;
}

const golden: { skimage: string; cases: MetricsCase[] } = JSON.parse(
  fs.readFileSync(path.join(__dirname, '../../test/golden/metrics.json'), 'utf8'),
);

/** lowbias32 integer hash, as hash32 in metrics_golden.py. */
function hash32(x: number): number {
  x >>>= 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The closed-form test image of metrics_golden.py (same formula, same float32 rounding). */
function synth(p: SynthSpec): Img {
  const data = new Float32Array(p.h * p.w * p.c);
  for (let y = 0; y < p.h; y++) {
    for (let x = 0; x < p.w; x++) {
      for (let c = 0; c < p.c; c++) {
        const i = (y * p.w + x) * p.c + c;
        // i * 0x9E3779B1 + seed, modulo 2^32 (Math.imul keeps it exact).
        const u = hash32(Math.imul(i, 0x9e3779b1) + p.seed) / 4294967296;
        const v = p.offset + (p.ax * x) / p.w + (p.ay * y) / p.h
          + p.amp * Math.sin(p.fx * x + p.fy * y + p.phase + p.pc * c) + p.noise * (u - 0.5);
        data[i] = Math.min(1, Math.max(0, v));
      }
    }
  }
  return { height: p.h, width: p.w, channels: p.c, data };
}

const sum = (img: Img) => img.data.reduce((s, v) => s + v, 0);
const relErr = (got: number, want: number) => Math.abs(got - want) / Math.max(Math.abs(want), 1e-300);

describe('metrics vs scikit-image ' + golden.skimage, () => {
  const worst = { ssim: 0, mse: 0, psnr: 0 };
  after(() => {
    console.log(`      max deviation: ssim ${worst.ssim.toExponential(2)} abs, ` +
      `mse ${worst.mse.toExponential(2)} rel, psnr ${worst.psnr.toExponential(2)} rel`);
  });

  for (const g of golden.cases) {
    it(g.name, () => {
      const a = synth(g.a), b = synth(g.b);
      // Same inputs as Python built (up to summation order).
      assert.ok(relErr(sum(a), g.checksum.a) < 1e-9 || Math.abs(sum(a) - g.checksum.a) < 1e-9, 'checksum a');
      assert.ok(relErr(sum(b), g.checksum.b) < 1e-9 || Math.abs(sum(b) - g.checksum.b) < 1e-9, 'checksum b');

      const m = mse(a, b);
      if (g.mse === 0) assert.strictEqual(m, 0);
      else {
        worst.mse = Math.max(worst.mse, relErr(m, g.mse));
        assert.ok(relErr(m, g.mse) < 1e-6, `mse ${m} vs ${g.mse}`);
      }

      const p = psnr(a, b);
      if (g.psnr === null) assert.strictEqual(p, Infinity);
      else {
        worst.psnr = Math.max(worst.psnr, relErr(p, g.psnr));
        assert.ok(relErr(p, g.psnr) < 1e-6, `psnr ${p} vs ${g.psnr}`);
      }

      const s = ssim(a, b);
      worst.ssim = Math.max(worst.ssim, Math.abs(s - g.ssim));
      assert.ok(Math.abs(s - g.ssim) < 1e-5, `ssim ${s} vs ${g.ssim}`);
      // The default window is the one the golden file passed to skimage.
      assert.strictEqual(ssim(a, b, { winSize: g.winSize }), s);
    });
  }
});

describe('metrics', () => {
  const spec = (h: number, w: number, c: number, extra: Partial<SynthSpec> = {}): SynthSpec => ({
    h, w, c, offset: 0.5, ax: 0, ay: 0, amp: 0.3, fx: 0.7, fy: 0.4, phase: 0, pc: 1, noise: 0, seed: 0, ...extra,
  });
  const a = synth(spec(16, 16, 3));
  const b = synth(spec(16, 16, 3, { noise: 0.3, seed: 4 }));

  it('identical images: mse 0, psnr Infinity, ssim 1', () => {
    assert.strictEqual(mse(a, a), 0);
    assert.strictEqual(psnr(a, a), Infinity);
    assert.ok(Math.abs(ssim(a, a) - 1) < 1e-12);
  });

  it('mse and psnr follow their definitions', () => {
    const x: Img = { height: 1, width: 2, channels: 2, data: Float32Array.from([0, 0.5, 1, 0.25]) };
    const y: Img = { height: 1, width: 2, channels: 2, data: Float32Array.from([0.5, 0.5, 0, 0.25]) };
    assert.strictEqual(mse(x, y), (0.25 + 0 + 1 + 0) / 4);
    assert.ok(Math.abs(psnr(x, y) - 10 * Math.log10(1 / 0.3125)) < 1e-12);
    assert.ok(Math.abs(psnr(x, y, 255) - psnr(x, y) - 20 * Math.log10(255)) < 1e-9);
  });

  it('ssim is symmetric and below 1 for different images', () => {
    assert.ok(Math.abs(ssim(a, b) - ssim(b, a)) < 1e-12);
    assert.ok(ssim(a, b) < 0.99);
  });

  it('images smaller than the 11x11 window use the largest odd window that fits', () => {
    const s8 = synth(spec(8, 8, 1)), n8 = synth(spec(8, 8, 1, { noise: 0.4, seed: 2 }));
    assert.strictEqual(ssim(s8, n8), ssim(s8, n8, { winSize: 7 }));
    const s6 = synth(spec(6, 10, 1)), n6 = synth(spec(6, 10, 1, { noise: 0.4, seed: 2 }));
    assert.strictEqual(ssim(s6, n6), ssim(s6, n6, { winSize: 5 }));
    const s1 = synth(spec(1, 1, 3)), n1 = synth(spec(1, 1, 3, { noise: 0.4, seed: 2 }));
    assert.ok(Number.isFinite(ssim(s1, n1)));
  });

  it('rejects a window that is even or larger than the image', () => {
    assert.throws(() => ssim(a, b, { winSize: 4 }), /winSize must be an odd integer <= 16 .*16x16x3, got 4/);
    assert.throws(() => ssim(a, b, { winSize: 17 }), /got 17/);
  });

  it('mismatched shapes throw an Error naming both shapes', () => {
    const c = synth(spec(28, 28, 1));
    assert.throws(() => mse(a, c), /mse: image shapes differ: 16x16x3 vs 28x28x1/);
    assert.throws(() => psnr(c, a), /image shapes differ: 28x28x1 vs 16x16x3/);
    assert.throws(() => ssim(a, c), /ssim: image shapes differ: 16x16x3 vs 28x28x1/);
  });

  it('an Img whose data does not match its shape is rejected', () => {
    const bad: Img = { height: 16, width: 16, channels: 3, data: new Float32Array(10) };
    assert.throws(() => ssim(a, bad), /shape 16x16x3 needs 768 values, data has 10/);
  });
});
