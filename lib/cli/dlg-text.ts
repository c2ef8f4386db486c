/**
 * `npm run dlg -- --text "a sentence" [--iterations N --seed S --metric cosine|l2 --optimizer lbfgs|adam
 *                                     --label-init gradient|random --positions gradient|known --json]`  (see lib/cli/dlg.ts)
 *
 * DLG on text: a small BERT-MLM (lib/models/bert.ts, randomly initialised from --seed) takes one
 * masked-LM step on the sentence (WordPiece, bert-base-uncased vocabulary, 15% masked from --seed);
 * the attacker recovers the sentence from the shared gradient in embedding space
 * (lib/attacks/text.ts). Prints one JSON line: text, decoded, token_accuracy, exact, iterations,
 * evals, seconds, ... Empty text or more tokens than the model's sequence length: one error line,
 * exit code 2.
 */
import { UsageError } from './args';
import type { Parsed } from './args';
import { jsonLine, runFields } from './report';
import { makeTextCase, disposeTextCase, observe, DEFAULT_TEXT_THREAT } from '../cases/text';
import { textDlg, DEFAULT_TEXT_DLG } from '../attacks/text';
import { scoreTokens } from '../analysis/text';
import { decode } from '../data/wordpiece';
import { progressReporter } from '../report/progress';

export function runText(args: Parsed): void {
  const text = args.text as string;
  if (text.trim() === '') throw new UsageError('--text is empty');
  const iterations = (args.iterations as number | undefined) ?? DEFAULT_TEXT_DLG.iterations;
  if (iterations < 1) throw new UsageError(`--iterations must be >= 1, got ${iterations}`);
  const metric = args.metric as string;
  if (metric !== 'cosine' && metric !== 'l2') throw new UsageError(`--metric must be 'cosine' or 'l2', got '${metric}'`);
  const optimizer = args.optimizer as string;
  if (optimizer !== 'lbfgs' && optimizer !== 'adam') throw new UsageError(`--optimizer must be 'lbfgs' or 'adam', got '${optimizer}'`);
  const labelInit = args['label-init'] as string;
  if (labelInit !== 'random' && labelInit !== 'gradient') throw new UsageError(`--label-init must be 'random' or 'gradient', got '${labelInit}'`);
  const positions = args.positions as string;
  if (positions !== 'gradient' && positions !== 'known') throw new UsageError(`--positions must be 'gradient' or 'known', got '${positions}'`);
  const seed = args.seed as number;
  let c;
  try {
    c = makeTextCase(text, { seed });
  } catch (e) {
    throw new UsageError(`--text: ${(e as Error).message}`);
  }
  const progress = progressReporter('iteration', iterations, { quiet: args.json === true, every: 10 });
  let r;
  try {
    // what the attacker sees: the gradient and, with --positions known, the step's shape (lib/cases/text.ts)
    r = textDlg(c.model, c.shared, observe(c, { ...DEFAULT_TEXT_THREAT, positions }), {
      iterations, seed, metric, optimizer, labelInit,
      // the paper's DLG: random labels over the whole vocabulary, no discrete step
      ...(labelInit === 'random' ? { labelSpace: 'vocabulary' as const, discreteEvery: 0 } : {}),
      onStep: (it, d) => progress(it, `gradient distance ${d.toExponential(3)}`),
    });
  } catch (e) {
    disposeTextCase(c);
    throw e;
  }
  const s = scoreTokens(r.ids, c.encoding.ids);
  const line = {
    text,
    original: decode(c.encoding.ids, c.vocab),
    decoded: decode(r.ids, c.vocab),
    token_accuracy: s.tokenAccuracy,
    tokens_correct: s.correct,
    tokens: s.total,
    exact: s.exact,
    masked_positions: c.shape.positions,
    seed,
    metric,
    optimizer,
    label_init: labelInit,
    positions,
    model: c.model.name,
    ...runFields(r),
  };
  disposeTextCase(c);
  process.stdout.write(jsonLine(line) + '\n');
}
