import { strict as assert } from 'assert';
import { hungarian, matchImages } from '../lib/analysis/match';
import { createRng } from '../lib/rng';
import { loadDataset } from '../lib/data';
import type { Img } from '../lib/data/image';

/** Minimum total over all injective row -> column maps, by brute force. */
function bruteForce(cost: number[][]): number {
  const n = cost.length;
  const m = cost[0].length;
  let best = Infinity;
  const used = new Array<boolean>(m).fill(false);
  const go = (r: number, acc: number) => {
    if (r === n) { best = Math.min(best, acc); return; }
    for (let c = 0; c < m; c++) {
      if (used[c]) continue;
      used[c] = true;
      go(r + 1, acc + cost[r][c]);
      used[c] = false;
    }
  };
  go(0, 0);
  return best;
}

describe('optimal assignment (Hungarian algorithm)', () => {
  it('finds the brute-force optimum on random cost matrices up to 7x7 (and rectangular ones)', () => {
    const rng = createRng(5);
    let checked = 0;
    for (let n = 1; n <= 7; n++) {
      for (const extra of [0, 0, 0, 1, 2]) {
        const m = n + extra;
        for (let trial = 0; trial < 6; trial++) {
          // integer costs make ties common (several optimal assignments); real ones too
          const cost = Array.from({ length: n }, () => Array.from({ length: m }, () => (trial % 2 ? Math.floor(rng.next() * 5) : rng.normal() * 10)));
          const a = hungarian(cost);
          assert.equal(new Set(a.cols).size, n, 'distinct columns');
          assert.ok(a.cols.every((c) => c >= 0 && c < m));
          const total = a.cols.reduce((s, c, r) => s + cost[r][c], 0);
          assert.ok(Math.abs(total - a.total) < 1e-9);
          const best = bruteForce(cost);
          assert.ok(Math.abs(a.total - best) < 1e-9, `n=${n} m=${m}: ${a.total} vs brute force ${best}`);
          checked++;
        }
      }
    }
    assert.equal(checked, 7 * 5 * 6);
  });

  it('is not fooled by the greedy choice', () => {
    // greedy (row 0 takes its cheapest column 0) costs 1 + 100; the optimum 2 + 2
    assert.deepEqual(hungarian([[1, 2], [2, 100]]).cols, [1, 0]);
    assert.equal(hungarian([[1, 2], [2, 100]]).total, 4);
    assert.deepEqual(hungarian([[4, 1, 3], [2, 0, 5], [3, 2, 2]]).cols, [1, 0, 2]);
  });

  it('recovers a permutation of images from noisy copies', () => {
    const d = loadDataset('fashion-mnist', { limit: 8 });
    const rng = createRng(9);
    const perm = [5, 2, 7, 0, 3, 6, 1, 4];
    const noisy: Img[] = perm.map((i) => ({ ...d.images[i], data: d.images[i].data.map((v) => v + 0.1 * rng.normal()) }));
    const m = matchImages(noisy, d.images);
    assert.deepEqual(m.cols, perm);
    m.mse.forEach((e) => assert.ok(Math.abs(e - 0.01) < 0.002, `noise MSE ${e}`));
  });

  it('rejects malformed cost matrices with a clear message', () => {
    assert.throws(() => hungarian([[1, 2], [3, 4], [5, 6]]), /3 rows but only 2 columns/);
    assert.throws(() => hungarian([[1, 2], [3]]), /row 1 has 1 entries, expected 2/);
    assert.throws(() => hungarian([[1, NaN]]), /cost\[0\]\[1\] is NaN/);
    assert.throws(() => matchImages([], [{ height: 1, width: 1, channels: 1, data: new Float32Array(1) }]), /0 reconstructions for 1 true images/);
    assert.deepEqual(hungarian([]).cols, []);
  });
});
