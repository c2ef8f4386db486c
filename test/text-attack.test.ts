/**
 * The text attack beyond DLG: what the gradient gives away (text-leaks.ts), the discrete step
 * (text-discrete.ts), the threat model (cases/text.ts observe), and the default attack on a paper
 * sentence with the full 30,522-token BERT (about a minute).
 */
import { strict as assert } from 'assert';
import { tf } from '../lib/engine';
import { makeTextCase, disposeTextCase, observe } from '../lib/cases/text';
import type { TextCase } from '../lib/cases/text';
import { readSeqLength, readMaskedCount, readLabels, readPositions, readTokenSet, positionHypotheses } from '../lib/attacks/text-leaks';
import { discreteSearch, permutations, DEFAULT_DISCRETE } from '../lib/attacks/text-discrete';
import { textDlg, textDlgSearchPositions } from '../lib/attacks/text';
import { scoreTokens } from '../lib/analysis/text';
import { PAPER_SENTENCES, HELD_OUT_SENTENCES } from '../lib/experiments/text-sentences';
import { variantTable, paperRows } from '../lib/experiments/text';
import type { TextAttackResult } from '../lib/experiments/text';
import { encode } from '../lib/data/wordpiece';
import { createRng, normalArray } from '../lib/rng';
import { bert, disposeBert } from '../lib/models/bert';
import { mlmGradient } from '../lib/cases/text';

describe('what a BERT MLM gradient gives away', () => {
  const cases: TextCase[] = [];
  before(() => {
    for (const [text, seed] of [[PAPER_SENTENCES[0], 1], [PAPER_SENTENCES[2], 1], [HELD_OUT_SENTENCES[1], 2]] as const) {
      cases.push(makeTextCase(text, { seed, shareEmbeddingGradient: true }));
    }
  });
  after(() => cases.forEach(disposeTextCase));

  it('sequence length, number masked, the label multiset and the masked positions, on three sentences', () => {
    for (const c of cases) {
      const n = readSeqLength(c.model, c.shared);
      assert.equal(n, c.encoding.ids.length);
      const m = readMaskedCount(c.model, c.shared);
      assert.equal(m, c.shape.positions.length);
      assert.deepEqual(readLabels(c.model, c.shared, m).labels, [...c.masked.labels].sort((a, b) => a - b));
      assert.deepEqual(readPositions(c.model, c.shared, n, m), c.shape.positions);
    }
  });

  it('the token set from the word-embedding gradient: exactly the ids the model read', () => {
    for (const c of cases) {
      assert.deepEqual(readTokenSet(c.embeddingGradient!), [...new Set(c.masked.inputIds)].sort((a, b) => a - b));
    }
  });

  it('the threat model decides what the attacker receives', () => {
    const c = cases[1];
    assert.deepEqual(Object.keys(observe(c, { embeddingGradient: false, positions: 'gradient' })), []);
    const k = observe(c, { embeddingGradient: true, positions: 'known' });
    assert.equal(k.seqLength, 18);
    assert.deepEqual(k.positions, c.shape.positions);
    assert.equal(k.embeddingGradient, c.embeddingGradient);
    const plain = makeTextCase(PAPER_SENTENCES[2], { seed: 1 });
    assert.equal(plain.embeddingGradient, undefined);
    assert.throws(() => observe(plain, { embeddingGradient: true, positions: 'gradient' }), /make the case with shareEmbeddingGradient: true/);
    disposeTextCase(plain);
  });
});

describe('the discrete step', () => {
  it('distinct permutations of a multiset', () => {
    assert.equal(permutations([1, 2, 3]).length, 6);
    assert.deepEqual(permutations([5, 5, 7]), [[5, 5, 7], [5, 7, 5], [7, 5, 5]]);
    assert.deepEqual(permutations([4]), [[4]]);
  });

  it('finds a sentence from a start with a wrong token, two swapped tokens and swapped labels (a quadratic D)', () => {
    // D = ||E[ids] - E[truth]||^2 + 5 * (labels wrong): zero only at the truth
    const hidden = 6;
    const vocab = 40;
    const table = normalArray(createRng(3), vocab * hidden);
    const truth = [1, 10, 11, 12, 13, 14, 2];
    const truthLabels = [20, 21];
    const distance = (ids: readonly number[], labels: readonly number[], g?: Float64Array) => {
      let v = 0;
      ids.forEach((id, i) => {
        for (let c = 0; c < hidden; c++) {
          const diff = table[id * hidden + c] - table[truth[i] * hidden + c];
          v += diff * diff;
          if (g) g[i * hidden + c] = 2 * diff;
        }
      });
      return v + 5 * labels.filter((l, r) => l !== truthLabels[r]).length;
    };
    const start = [1, 10, 13, 12, 11, 30, 2]; // 11 and 13 swapped, 14 replaced by 30
    const candidates = truth.map((id, i) => (i === 5 ? [30, 31, 14] : [id, 32]));
    const r = discreteSearch({ seqLength: 7, hidden, table, labels: [21, 20], candidates, distance, fixedEnds: true }, start, { ...DEFAULT_DISCRETE, target: 1e-12 });
    assert.deepEqual(r.ids, truth);
    assert.deepEqual(r.labels, truthLabels);
    assert.equal(r.distance, 0);
    assert.deepEqual(r.moves, { labels: 0, replace: 1, swap: 1 });
    assert.ok(r.evals < 60, `${r.evals} evaluations`);
  });
});

describe('text attack options on a tiny BERT', () => {
  const tiny = { vocabSize: 60, hidden: 16, heads: 2, layers: 1, intermediate: 32, maxPositions: 8, seed: 5 };
  const ids = [1, 17, 23, 4, 41, 2];
  const positions = [2];
  const inputIds = [1, 17, 3, 4, 41, 2];

  it('restarts count towards the iterations; the paper\'s DLG (labels over the vocabulary, no discrete step) still runs; results are seeded', () => {
    const m = bert(tiny);
    const shared = mlmGradient(m, inputIds, positions, [23]);
    const r = textDlg(m, shared, {}, { iterations: 30, restarts: 3, restartIterations: 2, seed: 2 });
    assert.deepEqual(r.positions, positions, 'positions read off the gradient');
    assert.deepEqual(r.labelReading, [23]);
    assert.equal(r.status, 'exact');
    assert.equal(r.iterations, 20, 'restarts 3 x 2, then 14 steps to the discrete step at 20');
    assert.deepEqual(scoreTokens(r.ids, ids).exact, true);
    const again = textDlg(m, shared, {}, { iterations: 30, restarts: 3, restartIterations: 2, seed: 2 });
    assert.deepEqual(again.losses, r.losses);
    const dlg = textDlg(m, shared, { seqLength: 6, positions }, { iterations: 3, labelInit: 'random', labelSpace: 'vocabulary', discreteEvery: 0 });
    assert.equal(dlg.iterations, 3);
    assert.equal(dlg.discrete.steps, 0);
    assert.deepEqual(dlg.labelReading, []);
    assert.throws(() => textDlg(m, shared, {}, { labelSpace: 'all' as never }), /labelSpace must be 'vocabulary' or 'read'/);
    assert.throws(() => textDlg(m, shared, {}, { restarts: 0 }), /restarts must be an integer >= 1/);
    tf.dispose(shared);
    disposeBert(m);
  });
});

describe('searching the masked positions', () => {
  it('position hypotheses: distinct sets, the reading first; the search stops at the first exact result', () => {
    const tiny = { vocabSize: 60, hidden: 16, heads: 2, layers: 1, intermediate: 32, maxPositions: 8, seed: 5 };
    const m = bert(tiny);
    const inputIds = [1, 17, 3, 4, 3, 2];
    const shared = mlmGradient(m, inputIds, [2, 4], [23, 9]);
    const hs = positionHypotheses(m, shared, 6, 2, 5);
    assert.equal(hs.length, 5);
    assert.equal(new Set(hs.map((h) => h.join())).size, 5);
    assert.deepEqual(hs[0], readPositions(m, shared, 6, 2));
    assert.ok(hs.some((h) => h.join() === '2,4'), JSON.stringify(hs));
    const r = textDlgSearchPositions(m, shared, {}, { iterations: 30, seed: 1 }, 3);
    assert.equal(r.status, 'exact');
    assert.deepEqual(r.positions, [2, 4]);
    assert.deepEqual(scoreTokens(r.ids, [1, 17, 23, 4, 9, 2]).exact, true);
    tf.dispose(shared);
    disposeBert(m);
  });
});

describe('text experiment tables', () => {
  const result = (variant: string, text: string, acc: number, iterations: number): TextAttackResult => ({
    text, variant, threat: { embeddingGradient: false, positions: 'gradient' }, original: 'a b c', masked: 'a [MASK] c', maskedPositions: [2],
    positionsUsed: [2], positionsCorrect: true, labelReadingCorrect: true, tokens: 3,
    curve: [0, 5, 10, 40].map((k, i) => ({ iteration: k, decoded: `d${k}`, tokenAccuracy: [0, 0.5, acc, acc][i], exact: acc === 1 && k >= 10, distance: 1 / (k + 1) })),
    decoded: 'd40', tokenAccuracy: acc, exact: acc === 1, labelsCorrect: 1, iterations, evals: 10, discrete: { steps: 1, kept: 1, evals: 5 }, seconds: 2, distance: 0, status: acc === 1 ? 'exact' : 'completed', model: 'm',
  });

  it('variantTable: mean token accuracy on the paper\'s and the held-out sentences, exact counts, worst', () => {
    const rows = variantTable([
      result('v', PAPER_SENTENCES[0], 1, 10), result('v', PAPER_SENTENCES[1], 0.5, 40), result('v', HELD_OUT_SENTENCES[0], 1, 10),
      result('w', PAPER_SENTENCES[0], 0.25, 40),
    ]);
    assert.deepEqual(rows.map((r) => [r.variant, r.paper, r.heldOut, r.paperExact, r.heldOutExact, r.worst, r.meanEvals]), [['v', 0.75, 1, 1, 1, 0.5, 15], ['w', 0.25, NaN, 0, 0, 0.25, 15]]);
  });

  it('paperRows: initial, the marks before the end, the end, the original', () => {
    const rows = paperRows(result('v', PAPER_SENTENCES[0], 1, 10), [10, 20, 30]);
    assert.deepEqual(rows.map((r) => [r.row, r.decoded, r.tokenAccuracy]), [
      ['initial', 'd0', 0], ['iteration 10', 'd10', 1], ['iteration 20', 'd10', 1], ['iteration 30', 'd10', 1], ['end (10 iterations run, exact)', 'd40', 1], ['original', 'a b c', 1],
    ]);
  });
});

describe('the default text attack on the full-size BERT (30,522 tokens)', () => {
  it('recovers a paper sentence exactly, reading the positions and labels off the gradient; tensors do not leak', () => {
    const text = PAPER_SENTENCES[2];
    const c = makeTextCase(text, { seed: 1 });
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    const r = textDlg(c.model, c.shared, observe(c), { iterations: 30, onStep: () => counts.push(tf.memory().numTensors) });
    assert.ok(counts.every((k) => k === before), `tensor counts ${counts}`);
    const s = scoreTokens(r.ids, encode(text, 32).ids);
    assert.ok(s.tokenAccuracy >= 0.9, `token accuracy ${s.tokenAccuracy}`);
    assert.equal(s.exact, true);
    assert.equal(r.status, 'exact');
    assert.deepEqual(r.positions, c.shape.positions);
    assert.ok(r.distance < 1e-9 * r.losses[0], `distance ${r.distance} from ${r.losses[0]}`);
    disposeTextCase(c);
  });
});
