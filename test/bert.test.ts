/**
 * BERT-MLM for DLG on text: every op on the attack path checked at second order against central
 * finite differences (the pattern of twice.test.ts), then the whole attack objective's gradient
 * with respect to the dummy embeddings and the dummy labels.
 */
import { strict as assert } from 'assert';
import { tf } from '../lib/engine';
import { withStockGradients } from '../lib/engine/twice';
import { crossEntropy, softmax } from '../lib/models/nn';
import { createRng, normalArray } from '../lib/rng';
import { bert, bertConfig, disposeBert, layerNorm, gelu, selfAttention } from '../lib/models/bert';
import { mlmGradient } from '../lib/cases/text';
import { textObjective } from '../lib/attacks/text';
import type { Tensor, Tensor2D } from '@tensorflow/tfjs';

function randomTensor(shape: number[], seed: number, scale = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(normalArray(createRng(seed), n).map((a) => a * scale), shape);
}

/** D(x) = || d/dw h(w, x) - t ||^2; relative error of dD/dx along a random direction vs Richardson-extrapolated central differences. */
function secondOrderError(wShape: number[], xShape: number[], h: (w: Tensor, x: Tensor) => Tensor): number {
  return tf.tidy(() => {
    const w = randomTensor(wShape, 1, 0.5);
    const x = randomTensor(xShape, 2, 0.7);
    const v = randomTensor(xShape, 3);
    const t = tf.add(tf.grad((wi: Tensor) => h(wi, x))(w), randomTensor(wShape, 4, 0.1));
    const D = (xi: Tensor) => tf.sum(tf.square(tf.sub(tf.grad((wi: Tensor) => h(wi, xi))(w), t)));
    const analytic = tf.sum(tf.mul(tf.grad(D)(x), v)).dataSync()[0];
    const fd = (eps: number) => (D(tf.add(x, tf.mul(v, eps))).dataSync()[0] - D(tf.sub(x, tf.mul(v, eps))).dataSync()[0]) / (2 * eps);
    const numeric = (4 * fd(5e-3) - fd(1e-2)) / 3;
    return Math.abs(analytic - numeric) / Math.max(Math.abs(numeric), 1e-3);
  });
}

const sumOf = (t: Tensor, seed = 9) => tf.sum(tf.mul(t, randomTensor(t.shape, seed)));
const mm = (x: Tensor, w: Tensor) => tf.matMul(x as Tensor2D, w as Tensor2D);

interface OpCase {
  name: string;
  wShape: number[];
  xShape: number[];
  h: (w: Tensor, x: Tensor) => Tensor;
  /** tfjs's stock gradients get this one wrong at second order */
  stockWrong?: boolean;
}

const OPS: OpCase[] = [
  // a spread added to every row keeps its variance away from 0, where rsqrt's curvature defeats finite differences
  { name: 'layerNorm (mean, variance, rsqrt)', wShape: [4, 6], xShape: [3, 4], h: (w, x) => sumOf(tf.square(layerNorm(tf.add(mm(x, w), tf.linspace(-1.5, 1.5, 6)), tf.fill([6], 1.3), tf.fill([6], 0.2), 1e-5))) },
  { name: 'layerNorm gamma/beta as the parameters', wShape: [5], xShape: [3, 5], h: (w, x) => sumOf(tf.square(layerNorm(tf.sin(x), w, tf.mul(w, 0.5), 1e-5))) },
  { name: 'GELU (erf form)', wShape: [4, 5], xShape: [3, 4], h: (w, x) => sumOf(gelu(mm(x, w))) },
  { name: 'tf.erf', wShape: [4, 5], xShape: [3, 4], h: (w, x) => sumOf(tf.erf(mm(x, w))) },
  { name: 'tf.rsqrt', wShape: [4, 5], xShape: [3, 4], h: (w, x) => sumOf(tf.rsqrt(tf.add(tf.square(mm(x, w)), 0.5))) },
  {
    name: 'multi-head self-attention (batchMatMul, 3-D softmax, transpose, reshape)',
    wShape: [6, 6], xShape: [4, 6], stockWrong: true,
    h: (w, x) => {
      const r = (s: number) => randomTensor([6, 6], s, 0.4);
      const b = (s: number) => randomTensor([6], s, 0.1);
      return sumOf(selfAttention(x as Tensor2D, w, b(20), r(21), b(22), r(23), b(24), r(25), b(26), 2));
    },
  },
  {
    name: 'selection matrix rows + slice (position embeddings)',
    wShape: [7, 3], xShape: [5, 3],
    h: (w, x) => sumOf(tf.square(mm(tf.tensor2d([[0, 1, 0, 0, 0], [0, 0, 0, 1, 0]]), tf.mul(x, tf.slice(w, [0, 0], [5, 3]))))),
  },
  {
    name: 'crossEntropy with soft labels softmax(dummy) over a 50-token vocabulary',
    wShape: [4, 50], xShape: [2, 4], stockWrong: true,
    h: (w, x) => crossEntropy(mm(x, w) as Tensor2D, softmax(tf.mul(mm(x, tf.ones([4, 50])), randomTensor([2, 50], 7)) as Tensor2D)),
  },
];

describe('BERT ops: second-order gradients vs finite differences', () => {
  for (const c of OPS) {
    it(`${c.name}: autodiff agrees with finite differences (rel. err < 3e-3)`, () => {
      const err = secondOrderError(c.wShape, c.xShape, c.h);
      assert.ok(err < 3e-3, `relative error ${err}`);
    });
  }
  for (const c of OPS.filter((k) => k.stockWrong)) {
    it(`${c.name}: wrong with tfjs's stock gradients (why lib/engine/twice.ts is needed)`, () => {
      const err = withStockGradients(() => secondOrderError(c.wShape, c.xShape, c.h));
      assert.ok(err > 0.01, `stock relative error only ${err}`);
    });
  }
});

describe('BERT-MLM model', () => {
  const tiny = { vocabSize: 40, hidden: 8, heads: 2, layers: 1, intermediate: 16, maxPositions: 8, seed: 3 };

  it('has BERT\'s parameter list and shapes; logits [masked, vocab]; same seed, same weights', () => {
    const m = bert(tiny);
    assert.equal(m.paramNames.length, 3 + 16 + 6);
    assert.equal(m.paramNames[0], 'embeddings.position_embeddings');
    assert.deepEqual(m.params[m.params.length - 2].shape, [8, 40]);
    const logits = tf.tidy(() => m.mlmLogits(m.embed([1, 5, 7, 2]), [1, 2], m.params).arraySync() as number[][]);
    assert.deepEqual([logits.length, logits[0].length], [2, 40]);
    const again = bert(tiny);
    const a = m.params[3].dataSync();
    const b = again.params[3].dataSync();
    assert.deepEqual(Array.from(a), Array.from(b));
    const other = bert({ ...tiny, seed: 4 });
    assert.notDeepEqual(Array.from(other.params[3].dataSync()), Array.from(a));
    [m, again, other].forEach(disposeBert);
  });

  it('rejects bad configs and inputs with clear errors', () => {
    assert.throws(() => bertConfig({ hidden: 10, heads: 4 }), /heads \(4\) must divide hidden \(10\)/);
    assert.throws(() => bertConfig({ layers: 0 }), /layers must be a positive integer/);
    assert.throws(() => bertConfig({ depth: 2 } as never), /unknown BERT option 'depth'/);
    const m = bert(tiny);
    assert.throws(() => m.embed([40]), /token id 40 is outside the vocabulary/);
    assert.throws(() => tf.tidy(() => m.mlmLogits(tf.zeros([9, 8]) as Tensor2D, [1], m.params)), /input embeddings \[seq <= 8, 8\]/);
    assert.throws(() => tf.tidy(() => m.mlmLogits(tf.zeros([4, 8]) as Tensor2D, [4], m.params)), /masked position 4 is outside/);
    assert.throws(() => tf.tidy(() => m.mlmLogits(tf.zeros([4, 8]) as Tensor2D, [1, 1], m.params)), /masked position 1 is repeated/);
    disposeBert(m);
  });

  it('the attack objective\'s gradient w.r.t. dummy embeddings and dummy labels agrees with finite differences', () => {
    const m = bert(tiny);
    const ids = [1, 5, 7, 9, 2];
    const positions = [1, 3];
    const shared = mlmGradient(m, [1, 4, 7, 4, 2], positions, [5, 9]);
    const objective = textObjective(m, shared, { seqLength: ids.length, positions });
    const n = ids.length * 8 + positions.length * 40;
    const x = Float64Array.from(normalArray(createRng(11), n));
    const grad = new Float64Array(n);
    const value = objective(x, grad);
    assert.ok(value > 0 && Number.isFinite(value));
    // separately along a direction in the embeddings and one in the labels
    for (const [lo, hi] of [[0, ids.length * 8], [ids.length * 8, n]]) {
      const v = new Float64Array(n);
      const r = normalArray(createRng(lo + 5), hi - lo);
      for (let i = lo; i < hi; i++) v[i] = r[i - lo];
      const at = (eps: number) => objective(x.map((xi, i) => xi + eps * v[i]));
      const fd = (eps: number) => (at(eps) - at(-eps)) / (2 * eps);
      const numeric = (4 * fd(5e-3) - fd(1e-2)) / 3;
      const analytic = grad.reduce((s, g, i) => s + g * v[i], 0);
      const err = Math.abs(analytic - numeric) / Math.max(Math.abs(numeric), 1e-6);
      assert.ok(err < 5e-3, `${lo === 0 ? 'embeddings' : 'labels'}: analytic ${analytic}, numeric ${numeric}, rel. err ${err}`);
    }
    tf.dispose(shared);
    disposeBert(m);
  });
});
