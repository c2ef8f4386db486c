/**
 * DLG-on-text experiments as jobs for lib/experiments/parallel.ts: the client's MLM step on a
 * sentence, the attack on what the threat model lets the attacker see, and the scores against the
 * truth (computed here, after the attack; textDlg() itself never sees them). Plain data in and out.
 *
 *   run(job)                 one sentence, one attack variant (the task module of runParallel)
 *   TEXT_VARIANTS            the attack variants of the variant table, by name
 *   variantJobs(...)         the jobs of a table: variants x sentences
 *   variantTable(results)    mean token accuracy per variant, on the paper's and the held-out sentences
 *   paperRows(result)        the paper's table for one run: initial, iterations 10 / 20 / 30, end, original
 */
import { makeTextCase, disposeTextCase, observe, DEFAULT_TEXT_THREAT } from '../cases/text';
import type { TextThreat } from '../cases/text';
import { textDlg, textDlgSearchPositions } from '../attacks/text';
import type { TextDlgOptions } from '../attacks/text';
import { scoreTokens } from '../analysis/text';
import { decode } from '../data/wordpiece';
import { PAPER_SENTENCES, HELD_OUT_SENTENCES } from './text-sentences';

/** Attack options a job may set (plain data). */
export type TextAttackOptions = Partial<Omit<TextDlgOptions, 'onStep' | 'exclude' | 'lbfgs' | 'iterations' | 'seed'>>;

export interface TextAttackJob {
  text: string;
  /** Seeds the model, the masking and the dummy initialisation. */
  seed: number;
  iterations: number;
  /** What the attacker sees (default DEFAULT_TEXT_THREAT). */
  threat?: Partial<TextThreat>;
  /** Attack options over textDlg's defaults. */
  attack?: TextAttackOptions;
  /** With positions read off the gradient: hypotheses tried (textDlgSearchPositions; default 1, the reading). */
  positionHypotheses?: number;
  /** A name for tables (e.g. the variant's). */
  variant?: string;
  /** Shorthands kept for notebook 07 (same as attack.labelInit / metric / optimizer). */
  labelInit?: TextDlgOptions['labelInit'];
  metric?: TextDlgOptions['metric'];
  optimizer?: TextDlgOptions['optimizer'];
}

export interface TextAttackResult {
  text: string;
  variant: string;
  threat: TextThreat;
  /** The original WordPiece text (lower-cased, split), what a perfect attack returns. */
  original: string;
  /** What the model read, with [MASK] / random tokens at the masked positions. */
  masked: string;
  maskedPositions: number[];
  /** Positions the attack used (handed over, or read off the gradient) and whether they were right. */
  positionsUsed: number[];
  positionsCorrect: boolean;
  /** Labels read off the decoder-bias gradient were the masked tokens (as a multiset). */
  labelReadingCorrect: boolean;
  tokens: number;
  /** Decoded text, token accuracy and distance at every snapshot. */
  curve: { iteration: number; decoded: string; tokenAccuracy: number; exact: boolean; distance: number }[];
  decoded: string;
  tokenAccuracy: number;
  exact: boolean;
  /** Labels (masked tokens) recovered / masked. */
  labelsCorrect: number;
  iterations: number;
  evals: number;
  discrete: { steps: number; kept: number; evals: number };
  seconds: number;
  distance: number;
  status: string;
  model: string;
}

export function run(job: TextAttackJob): TextAttackResult {
  const threat: TextThreat = { ...DEFAULT_TEXT_THREAT, ...(job.threat ?? {}) };
  const c = makeTextCase(job.text, { seed: job.seed, shareEmbeddingGradient: threat.embeddingGradient });
  try {
    const attack = (job.positionHypotheses ?? 1) > 1 ? (m: typeof c.model, g: typeof c.shared, k: ReturnType<typeof observe>, o: Partial<TextDlgOptions>) => textDlgSearchPositions(m, g, k, o, job.positionHypotheses) : textDlg;
    const r = attack(c.model, c.shared, observe(c, threat), {
      iterations: job.iterations,
      seed: job.seed,
      snapshotEvery: 1,
      ...(job.labelInit ? { labelInit: job.labelInit } : {}),
      ...(job.metric ? { metric: job.metric } : {}),
      ...(job.optimizer ? { optimizer: job.optimizer } : {}),
      ...(job.attack ?? {}),
    });
    const curve = r.snapshots.map((s) => {
      const sc = scoreTokens(s.ids, c.encoding.ids);
      return { iteration: s.iteration, decoded: decode(s.ids, c.vocab), tokenAccuracy: sc.tokenAccuracy, exact: sc.exact, distance: s.distance };
    });
    const final = scoreTokens(r.ids, c.encoding.ids);
    const sorted = (a: readonly number[]) => JSON.stringify([...a].sort((x, y) => x - y));
    return {
      text: job.text,
      variant: job.variant ?? '',
      threat,
      original: decode(c.encoding.ids, c.vocab),
      masked: decode(c.masked.inputIds, c.vocab),
      maskedPositions: c.shape.positions,
      positionsUsed: r.positions,
      positionsCorrect: sorted(r.positions) === sorted(c.shape.positions),
      labelReadingCorrect: r.labelReading.length > 0 && sorted(r.labelReading) === sorted(c.masked.labels),
      tokens: final.total,
      curve,
      decoded: decode(r.ids, c.vocab),
      tokenAccuracy: final.tokenAccuracy,
      exact: final.exact,
      labelsCorrect: r.positions.every((q, i) => c.shape.positions[i] === q) ? r.labels.filter((l, i) => l === c.masked.labels[i]).length : 0,
      iterations: r.iterations,
      evals: r.evals,
      discrete: r.discrete,
      seconds: r.seconds,
      distance: r.distance,
      status: r.status,
      model: c.model.name,
    };
  } finally {
    disposeTextCase(c);
  }
}

/** A named attack variant: threat model and attack options. */
export interface TextVariant {
  name: string;
  threat?: Partial<TextThreat>;
  attack: TextAttackOptions;
  /** Iterations for this variant (default: the table's). */
  iterations?: number;
  /** Position hypotheses to search when the positions are read off the gradient (default 1). */
  positionHypotheses?: number;
}

/**
 * The variants of the variant table (threat model: DEFAULT_TEXT_THREAT unless a variant says).
 * Each adds one idea to the previous rows: DLG as the paper; labels initialised from the decoder-bias
 * gradient (notebook 07's second run); labels restricted to the tokens read off it; other distances;
 * the discrete step; restarts; then the default attack under the other threat models.
 */
export const TEXT_VARIANTS: Readonly<Record<string, TextVariant>> = Object.freeze({
  dlg: { name: 'dlg', attack: { labelInit: 'random', labelSpace: 'vocabulary', distance: 'l2', discreteEvery: 0 } },
  'labels-init': { name: 'labels-init', attack: { labelInit: 'gradient', labelSpace: 'vocabulary', distance: 'l2', discreteEvery: 0 } },
  'labels-read': { name: 'labels-read', attack: { labelInit: 'gradient', labelSpace: 'read', distance: 'l2', discreteEvery: 0 } },
  'labels-read-cosine': { name: 'labels-read-cosine', attack: { labelInit: 'gradient', labelSpace: 'read', distance: 'cosine', discreteEvery: 0 } },
  'labels-read-tag': { name: 'labels-read-tag', attack: { labelInit: 'gradient', labelSpace: 'read', distance: 'l1l2', discreteEvery: 0 } },
  discrete: { name: 'discrete', attack: { labelInit: 'gradient', labelSpace: 'read', distance: 'l2', discreteEvery: 10 } },
  'discrete-restarts': { name: 'discrete-restarts', attack: { labelInit: 'gradient', labelSpace: 'read', distance: 'l2', discreteEvery: 10, restarts: 4, restartIterations: 5 } },
  'discrete-bag': { name: 'discrete-bag', threat: { embeddingGradient: true }, attack: { labelInit: 'gradient', labelSpace: 'read', distance: 'l2', discreteEvery: 10 } },
  'discrete-positions-known': { name: 'discrete-positions-known', threat: { positions: 'known' }, attack: { labelInit: 'gradient', labelSpace: 'read', distance: 'l2', discreteEvery: 10 } },
});

/** Build the jobs of a variant table: every variant on every sentence. */
export function variantJobs(variants: readonly TextVariant[], sentences: readonly string[], seed: number, iterations: number): TextAttackJob[] {
  return variants.flatMap((v) => sentences.map((text) => ({ text, seed, iterations: v.iterations ?? iterations, variant: v.name, threat: v.threat, attack: v.attack, positionHypotheses: v.positionHypotheses })));
}

export interface VariantRow {
  variant: string;
  /** Mean token accuracy on the paper's sentences and on the held-out ones; sentences recovered exactly. */
  paper: number;
  heldOut: number;
  paperExact: number;
  heldOutExact: number;
  /** Lowest token accuracy on any sentence. */
  worst: number;
  meanSeconds: number;
  meanEvals: number;
}

/** Mean token accuracy per variant, split into the paper's and the held-out sentences. */
export function variantTable(results: readonly TextAttackResult[]): VariantRow[] {
  const names = [...new Set(results.map((r) => r.variant))];
  const paper = new Set(PAPER_SENTENCES);
  const held = new Set(HELD_OUT_SENTENCES);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
  return names.map((variant) => {
    const rs = results.filter((r) => r.variant === variant);
    const p = rs.filter((r) => paper.has(r.text));
    const h = rs.filter((r) => held.has(r.text));
    return {
      variant,
      paper: mean(p.map((r) => r.tokenAccuracy)),
      heldOut: mean(h.map((r) => r.tokenAccuracy)),
      paperExact: p.filter((r) => r.exact).length,
      heldOutExact: h.filter((r) => r.exact).length,
      worst: Math.min(...rs.map((r) => r.tokenAccuracy)),
      meanSeconds: mean(rs.map((r) => r.seconds)),
      meanEvals: mean(rs.map((r) => r.evals + r.discrete.evals)),
    };
  });
}

export interface PaperRow {
  /** 'initial', 'iteration 10', ..., 'end (N)', 'original' */
  row: string;
  iteration: number;
  decoded: string;
  tokenAccuracy: number;
}

/**
 * The paper's text table for one run (its curve needs snapshotEvery 1, as run() records): the
 * decoded text at the initial state, at each of `marks` below the end, at the end, and the original.
 * A run that stopped early at an exact sentence keeps that sentence for the later marks.
 */
export function paperRows(r: TextAttackResult, marks: readonly number[] = [10, 20, 30]): PaperRow[] {
  const end = r.curve[r.curve.length - 1];
  const at = (k: number) => r.curve.filter((p) => p.iteration <= k).pop() ?? r.curve[0];
  const rows: PaperRow[] = [{ row: 'initial', iteration: 0, decoded: r.curve[0].decoded, tokenAccuracy: r.curve[0].tokenAccuracy }];
  for (const k of marks) if (k > 0 && k < end.iteration) rows.push({ row: `iteration ${k}`, iteration: k, decoded: at(k).decoded, tokenAccuracy: at(k).tokenAccuracy });
  rows.push({ row: `end (${r.iterations} iterations run${r.status === 'exact' ? ', exact' : ''})`, iteration: r.iterations, decoded: end.decoded, tokenAccuracy: end.tokenAccuracy });
  rows.push({ row: 'original', iteration: NaN, decoded: r.original, tokenAccuracy: 1 });
  return rows;
}
