/** lib/analysis/scale.ts: a reconstruction scored up to a positive scale. */
import { strict as assert } from 'assert';
import { scaledMse, scaledToTruth } from '../lib/analysis/scale';
import { mse } from '../lib/analysis/metrics';
import type { Img } from '../lib/data/image';

const img = (values: number[]): Img => ({ height: 1, width: values.length / 3, channels: 3, data: Float32Array.from(values) });

describe('scaledMse', () => {
  const truth = img([0.1, 0.5, 0.9, 0.3, 0.7, 0.2]);

  it('finds the scale of a scaled copy exactly (MSE 0)', () => {
    const s = scaledMse(img(Array.from(truth.data, (v) => 17 * v)), truth);
    assert.ok(Math.abs(s.scale - 1 / 17) < 1e-7, `scale ${s.scale}`);
    assert.ok(s.mse < 1e-14, `mse ${s.mse}`);
  });

  it('is the least-squares scale: no other scale does better, and never worse than the raw MSE', () => {
    const rec = img([0.3, 0.2, 1.1, 0.1, 0.9, 0.5]);
    const s = scaledMse(rec, truth);
    // a = <x', x> / <x', x'>
    const dot = 0.3 * 0.1 + 0.2 * 0.5 + 1.1 * 0.9 + 0.1 * 0.3 + 0.9 * 0.7 + 0.5 * 0.2;
    const n2 = 0.09 + 0.04 + 1.21 + 0.01 + 0.81 + 0.25;
    assert.ok(Math.abs(s.scale - dot / n2) < 1e-7);
    for (const d of [-0.01, 0.01]) {
      const other = mse(img(Array.from(rec.data, (v) => v * (s.scale + d))), truth);
      assert.ok(other > s.mse, `scale ${s.scale + d} gives ${other} < ${s.mse}`);
    }
    assert.ok(s.mse <= mse(rec, truth));
    assert.equal(scaledToTruth(img([0, 0, 0, 0, 0, 0]), truth).scale, 0);
    // a negated image: the best scale >= 0 is 0, and the score is the truth's mean square
    const negated = scaledMse(img(Array.from(truth.data, (v) => -v)), truth);
    assert.equal(negated.scale, 0);
    assert.ok(Math.abs(negated.mse - (0.01 + 0.25 + 0.81 + 0.09 + 0.49 + 0.04) / 6) < 1e-7);
  });

  it('refuses images of different shapes', () => {
    assert.throws(() => scaledMse(img([1, 2, 3]), truth), /mse: image shapes differ: 1x1x3 vs 1x2x3/);
  });
});
