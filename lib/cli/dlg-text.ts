/**
 * npm run dlg -- --text "a sentence" [--iterations N --seed S --metric cosine|l2 --optimizer lbfgs|adam
 *                                     --label-init random|gradient --json]
 *
 * DLG on text: a small BERT-MLM (lib/models/bert.ts, randomly initialised from --seed) takes one
 * masked-LM step on the sentence (WordPiece, bert-base-uncased vocabulary, 15% masked from --seed);
 * the attacker recovers the sentence from the shared gradient in embedding space
 * (lib/attacks/text.ts). Prints one JSON line: text, decoded, token_accuracy, exact, iterations,
 * evals, seconds, ... Empty text or more tokens than the model's sequence length: one error line,
 * exit code 2 (runMain in lib/cli/dlg.ts prints it).
 */
import { parseArgs, usage, UsageError } from './args';
import type { FlagSpec } from './args';
import { backendName } from '../engine/backend';
import { makeTextCase, disposeTextCase } from '../cases/text';
import { textDlg, DEFAULT_TEXT_DLG } from '../attacks/text';
import { scoreTokens } from '../analysis/text';
import { decode } from '../data/wordpiece';

export const TEXT_SPEC: Record<string, FlagSpec> = {
  text: { kind: 'string', help: 'the private sentence (WordPiece tokens + [CLS]/[SEP] must fit the model\'s sequence length, 32)' },
  iterations: { kind: 'int', help: 'optimiser steps', default: DEFAULT_TEXT_DLG.iterations },
  seed: { kind: 'int', help: 'seed of the model, the masking and the dummy initialisation', default: 1 },
  metric: { kind: 'string', help: "nearest-embedding decoding: 'cosine' or 'l2'", default: DEFAULT_TEXT_DLG.metric },
  optimizer: { kind: 'string', help: "'lbfgs' (strong-Wolfe line search) or 'adam'", default: DEFAULT_TEXT_DLG.optimizer },
  'label-init': { kind: 'string', help: "dummy labels start 'random' (DLG) or from the decoder-bias 'gradient' (iDLG-style)", default: DEFAULT_TEXT_DLG.labelInit },
  json: { kind: 'boolean', help: 'print only the JSON line (no progress on stderr)' },
  help: { kind: 'boolean', help: 'show this help' },
};

/** The --text mode of `npm run dlg`. Throws UsageError on bad arguments. */
export function mainText(argv: string[]): void {
  const args = parseArgs(argv, TEXT_SPEC);
  if (args.help) {
    process.stdout.write(usage('npm run dlg -- --text "a sentence"', TEXT_SPEC) + '\n');
    return;
  }
  const text = args.text;
  if (typeof text !== 'string') throw new UsageError('--text needs a sentence');
  if (text.trim() === '') throw new UsageError('--text is empty');
  const iterations = args.iterations as number;
  if (iterations < 1) throw new UsageError(`--iterations must be >= 1, got ${iterations}`);
  const metric = args.metric as string;
  if (metric !== 'cosine' && metric !== 'l2') throw new UsageError(`--metric must be 'cosine' or 'l2', got '${metric}'`);
  const optimizer = args.optimizer as string;
  if (optimizer !== 'lbfgs' && optimizer !== 'adam') throw new UsageError(`--optimizer must be 'lbfgs' or 'adam', got '${optimizer}'`);
  const labelInit = args['label-init'] as string;
  if (labelInit !== 'random' && labelInit !== 'gradient') throw new UsageError(`--label-init must be 'random' or 'gradient', got '${labelInit}'`);
  const seed = args.seed as number;
  let c;
  try {
    c = makeTextCase(text, { seed });
  } catch (e) {
    throw new UsageError(`--text: ${(e as Error).message}`);
  }
  const quiet = args.json === true;
  const r = textDlg(c.model, c.shared, c.shape, {
    iterations,
    seed,
    metric,
    optimizer,
    labelInit,
    onStep: quiet ? undefined : (it, d) => {
      if (it % 10 === 0) process.stderr.write(`iteration ${it}: gradient distance ${d.toExponential(3)}\n`);
    },
  });
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
    status: r.status,
    iterations: r.iterations,
    evals: r.evals,
    seconds: r.seconds,
    gradient_distance: r.distance,
    seed,
    metric,
    optimizer,
    label_init: labelInit,
    model: c.model.name,
    backend: backendName(),
  };
  disposeTextCase(c);
  process.stdout.write(JSON.stringify(line) + '\n');
}
