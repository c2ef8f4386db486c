/**
 * One DLG-on-text experiment as a job for lib/parallel.ts: the client's MLM step on a sentence,
 * the attack on its gradient, and the scores against the truth (computed here, after the attack;
 * textDlg() itself never sees them). Everything in the result is plain data.
 */
import { makeTextCase, disposeTextCase } from '../cases/text';
import { textDlg } from '../attacks/text';
import type { TextDlgOptions } from '../attacks/text';
import { scoreTokens } from '../analysis/text';
import { decode } from '../data/wordpiece';

export interface TextAttackJob {
  text: string;
  /** Seeds the model, the masking and the dummy initialisation. */
  seed: number;
  iterations: number;
  labelInit?: TextDlgOptions['labelInit'];
  metric?: TextDlgOptions['metric'];
  optimizer?: TextDlgOptions['optimizer'];
}

export interface TextAttackResult {
  text: string;
  /** The original WordPiece text (lower-cased, split), what a perfect attack returns. */
  original: string;
  /** What the model read, with [MASK] / random tokens at the masked positions. */
  masked: string;
  maskedPositions: number[];
  tokens: number;
  /** Decoded text, token accuracy and distance after every iteration (index = iteration). */
  curve: { iteration: number; decoded: string; tokenAccuracy: number; exact: boolean; distance: number }[];
  decoded: string;
  tokenAccuracy: number;
  exact: boolean;
  /** Labels (masked tokens) recovered / masked. */
  labelsCorrect: number;
  iterations: number;
  evals: number;
  seconds: number;
  status: string;
  model: string;
}

export function run(job: TextAttackJob): TextAttackResult {
  const c = makeTextCase(job.text, { seed: job.seed });
  try {
    const r = textDlg(c.model, c.shared, c.shape, {
      iterations: job.iterations,
      seed: job.seed,
      snapshotEvery: 1,
      ...(job.labelInit ? { labelInit: job.labelInit } : {}),
      ...(job.metric ? { metric: job.metric } : {}),
      ...(job.optimizer ? { optimizer: job.optimizer } : {}),
    });
    const curve = r.snapshots.map((s) => {
      const sc = scoreTokens(s.ids, c.encoding.ids);
      return { iteration: s.iteration, decoded: decode(s.ids, c.vocab), tokenAccuracy: sc.tokenAccuracy, exact: sc.exact, distance: s.distance };
    });
    const final = scoreTokens(r.ids, c.encoding.ids);
    return {
      text: job.text,
      original: decode(c.encoding.ids, c.vocab),
      masked: decode(c.masked.inputIds, c.vocab),
      maskedPositions: c.shape.positions,
      tokens: final.total,
      curve,
      decoded: decode(r.ids, c.vocab),
      tokenAccuracy: final.tokenAccuracy,
      exact: final.exact,
      labelsCorrect: r.labels.filter((l, i) => l === c.masked.labels[i]).length,
      iterations: r.iterations,
      evals: r.evals,
      seconds: r.seconds,
      status: r.status,
      model: c.model.name,
    };
  } finally {
    disposeTextCase(c);
  }
}
