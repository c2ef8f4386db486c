import { strict as assert } from 'assert';
import { tf } from '../lib/engine';
import { createRng } from '../lib/rng';
import type { Rng } from '../lib/rng';
import type { Tensor } from '@tensorflow/tfjs';
import {
  DEFENSES, parseDefense, parseDefenseSpec, parseDefenseSpecs, canonicalDefense, compose, applyDefense, defenseSeed,
  none, gaussianNoise, laplacianNoise, laplaceSample, fp16, int8, prune, prunedCount, pruneArray,
  toFloat16Bits, roundToFloat16, roundHalfEven, quantizeInt8,
} from '../lib/defenses';
import { float16BitsToFloat32Bits } from '../lib/defenses/precision';
import type { Defense } from '../lib/defenses';

const f32 = (xs: number[]) => Array.from(new Float32Array(xs));
const values = (t: Tensor) => Array.from(t.dataSync());

/** Run a defense on plain arrays (shapes given), return plain arrays; disposes everything it made. */
function run(defense: Defense, arrays: number[][], seed = 1, shapes?: number[][]): number[][] {
  const grads = arrays.map((a, i) => tf.tensor(a, shapes?.[i] ?? [a.length], 'float32'));
  const outs = defense(grads, createRng(seed));
  const res = outs.map(values);
  outs.forEach((o, i) => assert.deepEqual(o.shape, grads[i].shape));
  tf.dispose([...grads, ...outs]);
  return res;
}

function moments(xs: ArrayLike<number>) {
  const n = xs.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += xs[i];
  mean /= n;
  let m2 = 0;
  let m4 = 0;
  for (let i = 0; i < n; i++) {
    const d = xs[i] - mean;
    m2 += d * d;
    m4 += d * d * d * d;
  }
  m2 /= n;
  m4 /= n;
  return { mean, variance: m2, kurtosis: m4 / (m2 * m2) };
}

const ALL: [string, Defense][] = [
  ['none', none()],
  ['gaussian:1e-3', gaussianNoise(1e-3)],
  ['laplacian:1e-3', laplacianNoise(1e-3)],
  ['fp16', fp16()],
  ['int8', int8()],
  ['prune:0.3', prune(0.3)],
  ['prune:0.3+gaussian:1e-3', parseDefense('prune:0.3+gaussian:1e-3')],
];

describe('defenses: fp16 (bit-exact float32 -> binary16 -> float32)', () => {
  // [input, expected half value, expected half bits], all hand-computed (cross-checked once against numpy's astype(float16)).
  const cases: [number, number, number][] = [
    [1, 1, 0x3c00],
    [-2, -2, 0xc000],
    [1 + 2 ** -11, 1, 0x3c00], // exactly halfway between 1 and 1+2^-10: tie to even (mantissa 0)
    [1 + 3 * 2 ** -11, 1 + 2 ** -9, 0x3c02], // halfway between 1+2^-10 (odd) and 1+2^-9 (even): up
    [1 + 2 ** -11 + 2 ** -20, 1 + 2 ** -10, 0x3c01], // just above the tie: up
    [65504, 65504, 0x7bff], // largest half
    [65519, 65504, 0x7bff], // below the midpoint 65520
    [65520, Infinity, 0x7c00], // midpoint to 2^16, tie to even (0x7c00): overflow
    [-65520, -Infinity, 0xfc00],
    [1e10, Infinity, 0x7c00],
    [2 ** -14, 2 ** -14, 0x0400], // smallest normal
    [1023 * 2 ** -24, 1023 * 2 ** -24, 0x03ff], // largest subnormal
    [2 ** -14 - 2 ** -25, 2 ** -14, 0x0400], // tie between 0x3ff (odd) and 0x400: up, carrying into the normals
    [2 ** -24, 2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0, 0x0000], // tie between 0 and 2^-24: to even (0)
    [3 * 2 ** -25, 2 ** -23, 0x0002], // tie between 2^-24 (odd) and 2^-23: up
    [2 ** -25 * (1 + 2 ** -10), 2 ** -24, 0x0001], // just above the tie
    [5.96e-8, 2 ** -24, 0x0001], // 0.99992 * 2^-24
    [2 ** -26, 0, 0x0000],
    [-(2 ** -26), -0, 0x8000], // sign kept
    [1e-40, 0, 0x0000], // a float32 subnormal
    [0.1, 0.0999755859375, 0x2e66],
    [1 / 3, 0.333251953125, 0x3555],
    [-0, -0, 0x8000],
    [Infinity, Infinity, 0x7c00],
    [-Infinity, -Infinity, 0xfc00],
  ];
  for (const [x, want, bits] of cases) {
    it(`${Object.is(x, -0) ? '-0' : x} -> ${Object.is(want, -0) ? '-0' : want} (0x${bits.toString(16).padStart(4, '0')})`, () => {
      assert.equal(toFloat16Bits(x), bits);
      assert.ok(Object.is(roundToFloat16(x), want), `${roundToFloat16(x)}`);
    });
  }
  it('NaN stays NaN (quiet, sign kept); half bits map back to float32 exactly', () => {
    assert.ok(Number.isNaN(roundToFloat16(NaN)));
    assert.equal(toFloat16Bits(NaN) & 0x7e00, 0x7e00);
    assert.equal(float16BitsToFloat32Bits(0x0001), 0x33800000); // 2^-24 as a normal float32
    assert.equal(float16BitsToFloat32Bits(0x03ff), 0x387fc000);
    assert.equal(float16BitsToFloat32Bits(0xfbff), 0xc77fe000); // -65504
    // Every one of the 63488 non-NaN halves round-trips (a half is its own nearest half).
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) continue;
      const back = new Float32Array(new Uint32Array([float16BitsToFloat32Bits(h)]).buffer)[0];
      assert.equal(toFloat16Bits(back), h);
    }
  });
  it('the fp16 defense rounds every entry of every tensor', () => {
    const [a, b] = run(fp16(), [[1 + 2 ** -11, 65504, 65519, 0.1], [2 ** -25, 3 * 2 ** -25, -(2 ** -24)]], 1, [[2, 2], [3]]);
    assert.deepEqual(a, [1, 65504, 65504, 0.0999755859375]);
    assert.deepEqual(b, [0, 2 ** -23, -(2 ** -24)]);
  });
  it('65520 in a gradient becomes Infinity (overflow is part of fp16)', () => {
    assert.deepEqual(run(fp16(), [[65520, -1e6]])[0], [Infinity, -Infinity]);
  });
});

describe('defenses: int8', () => {
  it('round half to even', () => {
    assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, -63.5, 0.49, 0.51, -2.6].map(roundHalfEven), [0, 2, 2, 0, -2, -64, 0, 1, -3]);
  });
  it('max 127: scale 1, q = round-half-even(g)', () => {
    // q: 127, -64 (tie to even), 0 (tie), 2 (tie), 2 (tie), 0 (tie), 0, 1, -127
    assert.deepEqual(Array.from(quantizeInt8(new Float32Array([127, -63.5, 0.5, 1.5, 2.5, -0.5, 0.4, 0.6, -127]))), [127, -64, 0, 2, 2, 0, 0, 1, -127]);
  });
  it('max 2: scale 2/127; g * 127/2 = 127, -63.5, 31.75, 0.635 -> q = 127, -64, 32, 1', () => {
    const [out] = run(int8(), [[2, -1, 0.5, 0.01]]);
    assert.deepEqual(out, f32([2, (-64 * 2) / 127, (32 * 2) / 127, 2 / 127]));
  });
  it('an all-zero tensor stays zero; the max-magnitude entry is kept exactly; per-tensor scale', () => {
    const [z, a, b] = run(int8(), [[0, 0, 0], [-0.3, 0.1], [1000, 4, 3]]);
    assert.deepEqual(z.map(Math.abs), [0, 0, 0]);
    assert.equal(a[0], Math.fround(-0.3));
    // Its own scale 1000/127: 4 * 127/1000 = 0.508 -> q = 1; 3 * 127/1000 = 0.381 -> q = 0.
    assert.deepEqual(b, f32([1000, 1000 / 127, 0]));
  });
  it('max error <= scale/2 on random data; at most 255 distinct levels', () => {
    const rng = createRng(3);
    const g = new Float32Array(20000);
    for (let i = 0; i < g.length; i++) g[i] = rng.normal() * 1e-3;
    const out = quantizeInt8(g);
    let maxAbs = 0;
    for (const v of g) maxAbs = Math.max(maxAbs, Math.abs(v));
    const scale = maxAbs / 127;
    let worst = 0;
    for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(out[i] - g[i]));
    assert.ok(worst <= scale / 2 * (1 + 1e-6), `${worst} > ${scale / 2}`);
    assert.ok(worst > scale / 2 * 0.9, 'the bound is nearly reached on 20000 entries');
    assert.ok(new Set(out).size <= 255);
  });
});

describe('defenses: prune (per tensor, smallest magnitudes to zero)', () => {
  // magnitudes: 0 (#5) < 0.1 (#1, #4) < 0.2 (#3, #8) < 0.3 (#2, #7) < 0.4 < 0.5 < 0.6
  const g = [0.5, -0.1, 0.3, -0.2, 0.1, 0, 0.4, -0.3, 0.2, 0.6];
  it('ratio 0.2 of 10 -> 2 zeroed: #5 (0) and #1 (0.1, lower index than #4)', () => {
    assert.deepEqual(run(prune(0.2), [g])[0], f32([0.5, 0, 0.3, -0.2, 0.1, 0, 0.4, -0.3, 0.2, 0.6]));
  });
  it('ratio 0.4 of 10 -> 4 zeroed: #5, #1, #4, #3 (-0.2 before the tied 0.2 at #8)', () => {
    assert.deepEqual(run(prune(0.4), [g])[0], f32([0.5, 0, 0.3, 0, 0, 0, 0.4, -0.3, 0.2, 0.6]));
  });
  it('ratio 0 leaves the gradient unchanged, ratio 1 zeroes it', () => {
    assert.deepEqual(run(prune(0), [g])[0], f32(g));
    assert.deepEqual(run(prune(1), [g])[0], new Array(10).fill(0));
  });
  it('all-equal magnitudes: the first entries by index go', () => {
    assert.deepEqual(run(prune(0.5), [[1, -1, 1, -1]])[0], [0, 0, 1, -1]);
  });
  it('per tensor: each tensor loses round(ratio * n) entries; exact zero counts on 77k entries', () => {
    assert.equal(prunedCount(0.3, 7), 2); // 2.1
    assert.equal(prunedCount(0.29, 100), 29); // 28.999999999999996 rounds to 29, not floored to 28
    assert.equal(prunedCount(0.25, 2), 1); // 0.5, half up
    const rng = createRng(5);
    const sizes = [62000, 15000, 7, 1];
    const arrays = sizes.map((n) => Array.from({ length: n }, () => rng.normal()));
    for (const ratio of [0.01, 0.3, 0.9]) {
      const t0 = Date.now();
      const outs = run(prune(ratio), arrays);
      assert.ok(Date.now() - t0 < 3000, 'n log n, not n^2');
      outs.forEach((o, i) => {
        const zeros = o.filter((v) => v === 0).length;
        assert.equal(zeros, Math.round(ratio * sizes[i]), `ratio ${ratio}, tensor ${i}`);
        // Every kept entry is at least as large in magnitude as every pruned one.
        const kept = arrays[i].filter((_, j) => o[j] !== 0).map(Math.abs);
        const pruned = arrays[i].filter((_, j) => o[j] === 0).map(Math.abs);
        if (kept.length && pruned.length) assert.ok(Math.min(...kept) >= Math.max(...pruned));
        o.forEach((v, j) => v !== 0 && assert.equal(v, Math.fround(arrays[i][j])));
      });
    }
  });
  it('pruneArray does not write to its input', () => {
    const a = new Float32Array([3, 1, 2]);
    assert.deepEqual(Array.from(pruneArray(a, 0.67)), [3, 0, 0]);
    assert.deepEqual(Array.from(a), [3, 1, 2]);
  });
});

describe('defenses: gaussian and laplacian noise', () => {
  /** An Rng replaying fixed uniforms (for hand-computed Laplace draws). */
  const fixed = (us: number[]): Rng => {
    let i = 0;
    const next = () => us[i++];
    return { next, uniform: (lo, hi) => lo + (hi - lo) * next(), normal: () => NaN, fork: () => 0 };
  };
  it('laplace by inverse CDF: u = 0.25 -> b ln 0.5, u = 0.75 -> -b ln 0.5, u = 0.5 -> 0, u = 0 redrawn', () => {
    const b = 2;
    assert.equal(laplaceSample(fixed([0.25]), b), 2 * Math.log(0.5)); // -1.3862943611198906
    assert.equal(laplaceSample(fixed([0.75]), b), -2 * Math.log(0.5));
    assert.equal(laplaceSample(fixed([0.5]), b), -0);
    assert.equal(laplaceSample(fixed([0, 0.25]), b), 2 * Math.log(0.5));
  });
  it('gaussian noise is sqrt(variance) * rng.normal(), in order, added to the entries', () => {
    const out = run(gaussianNoise(0.04), [[1, 2], [3]], 9);
    const r = createRng(9);
    const want = [1 + 0.2 * r.normal(), 2 + 0.2 * r.normal(), 3 + 0.2 * r.normal()];
    assert.deepEqual([...out[0], ...out[1]], f32(want));
  });
  it('laplacian noise uses b = sqrt(variance / 2)', () => {
    const out = run(laplacianNoise(0.08), [[0, 10]], 4);
    const r = createRng(4);
    assert.deepEqual(out[0], f32([laplaceSample(r, 0.2), 10 + laplaceSample(r, 0.2)]));
  });
  for (const [name, make, kurtosis] of [['gaussian', gaussianNoise, 3], ['laplacian', laplacianNoise, 6]] as const) {
    for (const variance of [1e-4, 1e-1]) {
      it(`${name}:${variance}: 100k draws have variance within 2%, mean ~0, kurtosis ~${kurtosis}`, () => {
        const [out] = run(make(variance), [new Array(100000).fill(0)], 2024);
        const m = moments(out);
        assert.ok(Math.abs(m.variance / variance - 1) < 0.02, `variance ${m.variance}`);
        assert.ok(Math.abs(m.mean) < 4 * Math.sqrt(variance / 1e5), `mean ${m.mean}`);
        assert.ok(Math.abs(m.kurtosis - kurtosis) < (kurtosis === 3 ? 0.1 : 0.5), `kurtosis ${m.kurtosis}`);
      });
    }
  }
  it('same seed, same noise; different seed, different noise (applyDefense too)', () => {
    const a = run(gaussianNoise(1e-2), [[0, 0, 0]], 7)[0];
    assert.deepEqual(run(gaussianNoise(1e-2), [[0, 0, 0]], 7)[0], a);
    assert.notDeepEqual(run(gaussianNoise(1e-2), [[0, 0, 0]], 8)[0], a);
    const g = [tf.zeros([4])];
    const [x] = applyDefense('laplacian:1e-2', g, 1);
    const [y] = applyDefense(laplacianNoise(1e-2), g, 1);
    const [z] = applyDefense('laplacian:1e-2', g, 2);
    assert.deepEqual(values(x), values(y));
    assert.notDeepEqual(values(x), values(z));
    tf.dispose([...g, x, y, z]);
  });
  it('applyDefense draws from a stream derived from the seed, not the model-init stream createRng(seed)', () => {
    assert.notEqual(defenseSeed(1), 1);
    assert.equal(defenseSeed(1), defenseSeed(1));
    const g = [tf.zeros([3])];
    const [x] = applyDefense(gaussianNoise(1), g, 1);
    const r = createRng(1);
    assert.notDeepEqual(values(x), f32([r.normal(), r.normal(), r.normal()]));
    tf.dispose([...g, x]);
  });
  it('rejects a negative or non-finite variance', () => {
    assert.throws(() => gaussianNoise(-1), /variance must be a finite number >= 0/);
    assert.throws(() => laplacianNoise(NaN), /variance/);
    assert.throws(() => prune(1.5), /prune ratio must be a number in \[0, 1\]/);
  });
});

describe('defenses: common contract', () => {
  for (const [name, d] of ALL) {
    it(`${name}: new tensors of the same shapes; input neither mutated nor disposed; no leak; empty list`, () => {
      const g = [tf.tensor([[0.5, -0.25], [1, 2]]), tf.tensor([3, -4, 0])];
      const before = g.map(values);
      const n0 = tf.memory().numTensors;
      const out = d(g, createRng(1));
      assert.equal(out.length, 2);
      out.forEach((o, i) => {
        assert.notEqual(o, g[i]);
        assert.deepEqual(o.shape, g[i].shape);
        assert.equal(o.dtype, 'float32');
      });
      tf.dispose(out);
      assert.equal(tf.memory().numTensors, n0, 'tensors leaked');
      g.forEach((t) => assert.ok(!t.isDisposed));
      g.forEach((t, i) => assert.deepEqual(values(t), before[i]));
      assert.deepEqual(d([], createRng(1)), []);
      tf.dispose(g);
    });
    it(`${name}: NaN or Infinity in a gradient -> "gradient <i> contains NaN", nothing leaked`, () => {
      const g = [tf.tensor([1, 2]), tf.tensor([0, NaN, 1]), tf.tensor([Infinity])];
      const n0 = tf.memory().numTensors;
      assert.throws(() => d(g, createRng(1)), /gradient 1 contains NaN/);
      assert.throws(() => d([g[0], g[2]], createRng(1)), /gradient 1 contains NaN or Infinity/);
      assert.throws(() => d([g[2]], createRng(1)), /gradient 0 contains NaN or Infinity/);
      assert.equal(tf.memory().numTensors, n0);
      tf.dispose(g);
    });
  }
  it('none copies exactly', () => {
    assert.deepEqual(run(none(), [[0.1, -0]]), [f32([0.1, -0])]);
  });
});

describe('defenses: compose', () => {
  it('applies left to right: prune then noise has no zeros, noise then prune has exactly the pruned count', () => {
    const g = [new Array(100).fill(0).map((_, i) => i + 1)];
    const pruneThenNoise = run(compose(prune(0.5), gaussianNoise(1e-2)), g, 3)[0];
    const noiseThenPrune = run(compose(gaussianNoise(1e-2), prune(0.5)), g, 3)[0];
    assert.equal(pruneThenNoise.filter((v) => v === 0).length, 0);
    assert.equal(noiseThenPrune.filter((v) => v === 0).length, 50);
    // Deterministic and hand-checked (max 127, so int8's scale is 1):
    //   prune(0.25) first zeroes 0.6 (#2): [127, 1.4, 0, 50] -> int8 -> [127, 1, 0, 50];
    //   int8 first ties 1.4 and 0.6 at 1: [127, 1, 1, 50] -> prune zeroes the lower index #1 -> [127, 0, 1, 50].
    assert.deepEqual(run(compose(prune(0.25), int8()), [[127, 1.4, 0.6, 50]])[0], [127, 1, 0, 50]);
    assert.deepEqual(run(compose(int8(), prune(0.25)), [[127, 1.4, 0.6, 50]])[0], [127, 0, 1, 50]);
    assert.deepEqual(run(parseDefense('int8+prune:0.25'), [[127, 1.4, 0.6, 50]])[0], [127, 0, 1, 50]);
  });
  it('the same as applying the stages one by one with a shared Rng; intermediates disposed; compose() copies', () => {
    const g = [tf.tensor([1, -2, 3, -4])];
    const n0 = tf.memory().numTensors;
    const [c] = compose(prune(0.25), laplacianNoise(1e-2), fp16())(g, createRng(6));
    assert.equal(tf.memory().numTensors, n0 + 1);
    const rng = createRng(6);
    const a = prune(0.25)(g, rng);
    const b = laplacianNoise(1e-2)(a, rng);
    const [d] = fp16()(b, rng);
    assert.deepEqual(values(c), values(d));
    const [e] = compose()(g, rng);
    assert.deepEqual(values(e), [1, -2, 3, -4]);
    tf.dispose([...g, c, ...a, ...b, d, e]);
    assert.equal(tf.memory().numTensors, n0 - 1);
  });
  it('an error inside a composition leaks nothing', () => {
    const g = [tf.tensor([1e6, 1])];
    const n0 = tf.memory().numTensors;
    // fp16 turns 1e6 into Infinity, which the next stage rejects.
    assert.throws(() => compose(fp16(), int8())(g, createRng(1)), /gradient 0 contains NaN or Infinity/);
    assert.equal(tf.memory().numTensors, n0);
    tf.dispose(g);
  });
});

describe('defenses: specs', () => {
  it('parses every known form', () => {
    assert.deepEqual(parseDefenseSpec('gaussian:1e-3'), { kind: 'gaussian', variance: 1e-3 });
    assert.deepEqual(parseDefenseSpec('laplacian:1e-2'), { kind: 'laplacian', variance: 1e-2 });
    assert.deepEqual(parseDefenseSpec('fp16'), { kind: 'fp16' });
    assert.deepEqual(parseDefenseSpec('int8'), { kind: 'int8' });
    assert.deepEqual(parseDefenseSpec('prune:0.3'), { kind: 'prune', ratio: 0.3 });
    assert.deepEqual(parseDefenseSpec('prune:1'), { kind: 'prune', ratio: 1 });
    assert.deepEqual(parseDefenseSpec('none'), { kind: 'none' });
    assert.deepEqual(parseDefenseSpecs('prune:.3 + gaussian:1E-3'), [{ kind: 'prune', ratio: 0.3 }, { kind: 'gaussian', variance: 1e-3 }]);
    assert.equal(canonicalDefense('gaussian:1e-3'), 'gaussian:0.001');
    assert.equal(canonicalDefense('prune:0.30+fp16'), 'prune:0.3+fp16');
    assert.deepEqual(Object.keys(DEFENSES).sort(), ['clip', 'dp', 'fp16', 'gaussian', 'int8', 'laplacian', 'none', 'prune']);
    for (const s of ['gaussian:1e-3', 'laplacian:1e-2', 'fp16', 'int8', 'prune:0.3', 'none', 'prune:0.2+int8']) assert.equal(typeof parseDefense(s), 'function');
  });
  const bad: [string, RegExp][] = [
    ['gaussian', /gaussian needs a variance >= 0, e\.g\. gaussian:1e-3/],
    ['gaussian:abc', /'abc' is not a number/],
    ['gaussian:', /'' is not a number/],
    ['gaussian:0x10', /'0x10' is not a number/],
    ['gaussian:-1', /gaussian needs a variance >= 0, got -1/],
    ['laplacian:Infinity', /not a number/],
    ['prune:1.5', /prune needs a ratio in \[0, 1\], got 1.5/],
    ['prune:-0.1', /ratio in \[0, 1\]/],
    ['foo:1', /unknown defense 'foo'/],
    ['fp16:2', /fp16 takes no parameter/],
    ['', /empty defense spec/],
    ['prune:0.3+', /unknown defense ''/],
    ['toString', /unknown defense 'toString'/],
  ];
  for (const [spec, message] of bad) {
    it(`'${spec}' -> Error naming the problem and listing the known forms`, () => {
      assert.throws(() => parseDefense(spec), (e: Error) => {
        assert.match(e.message, message);
        assert.match(e.message, /known forms: none, gaussian:VARIANCE, laplacian:VARIANCE, fp16, int8, prune:RATIO/);
        return true;
      });
    });
  }
});
