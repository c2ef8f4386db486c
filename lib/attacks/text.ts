/**
 * DLG on text (paper, section 4.2): the attack in embedding space on a BERT masked-LM step.
 *
 * Threat model. The attacker knows the model (weights, word-embedding table, WordPiece vocabulary)
 * and the shared gradient of every parameter in model.params, and whatever the threat model hands
 * over besides (`TextKnowledge`; lib/cases/text.ts `TextThreat`, `observe`): the sequence length and
 * the masked positions, or neither (then both are read off the gradient, text-leaks.ts), and the
 * word-embedding table's gradient when the client shares it (then the set of tokens the model read is
 * its non-zero rows, and decoding keeps to them). It never sees the text, its tokens or its labels.
 *
 * It draws dummy input embeddings E' [seq, hidden] and dummy label logits Y' and minimises the
 * gradient distance (text-objective.ts; L2 as DLG, or cosine, or TAG's L1 + L2)
 *     D(E', Y') = distance( dL_MLM(E', softmax(Y'))/dW , g )
 * with L-BFGS (or Adam). Options beyond DLG, each measured in lib/experiments/text.ts (TEXT_VARIANTS):
 *   labelInit 'gradient'   Y' starts with +10 on the masked tokens read off the decoder-bias gradient;
 *   labelSpace 'read'      Y' ranges over those tokens only (masked x |labels| logits, not x 30,522);
 *   restarts               several initialisations run `restartIterations` steps each; the one with the
 *                          lowest gradient distance continues (never the truth: the attacker has none);
 *   discreteEvery          every k steps and at the end, a discrete step (text-discrete.ts, after LAMP):
 *                          project to tokens, local search on the gradient distance of whole sentences,
 *                          continue from the sentence found; the answer is the best sentence found.
 * The attack stops early once the distance falls to 1e-9 of the initial one ('exact': the sentence, or
 * the embeddings, explain the gradient to float32 rounding). Tokens come back by nearest word
 * embedding (cosine by default, or L2); at a masked position the recovered sentence takes the label
 * (the model read [MASK] there). `iterations` counts every optimiser step, restarts included.
 * textDlg never sees the truth; lib/analysis/text.ts scores its output.
 */
import { createRng } from '../rng';
import { checkShared } from '../models/gradients';
import { createLbfgs } from './optim/lbfgs';
import { DEFAULT_DLG } from '../config';
import type { LbfgsOptions } from './optim/lbfgs';
import { createAdam } from './optim/adam';
import { textObjective, checkTextShape, DEFAULT_TEXT_OBJECTIVE } from './text-objective';
import type { TextEngine, TextDistance, TextObjective } from './text-objective';
import type { Bert } from '../models/bert';
import { nearestTokens, nearestCandidates } from './decode';
import type { NearestMetric } from './decode';
import { bertVocab, unusedIds } from '../data/wordpiece';
import { readSeqLength, readMaskedCount, readLabels, readPositions, readTokenSet, positionHypotheses } from './text-leaks';
import { discreteSearch, DEFAULT_DISCRETE } from './text-discrete';
import type { TextKnowledge } from '../cases/text';
import type { Tensor } from '@tensorflow/tfjs';

export type { TextKnowledge };

export { textObjective };

export type TextOptimizer = 'lbfgs' | 'adam';

export interface TextDlgOptions {
  /** Optimiser steps in all, restarts included (the paper: 100 for text). */
  iterations: number;
  /** Seed of the dummy initialisation: E' ~ N(0, 1) (the word embeddings' distribution), Y' ~ N(0, 1); restart r uses seed + r. */
  seed: number;
  /** 'lbfgs' (as DLG; strong-Wolfe line search by default) or 'adam' (one evaluation per step). */
  optimizer: TextOptimizer;
  /** L-BFGS settings (default: torch's, strong-Wolfe line search, maxIter 20 per step). */
  lbfgs: LbfgsOptions;
  /** Adam learning rate. */
  adamLr: number;
  /** Keep the decoded sentence every k steps (and at 0 and the end). */
  snapshotEvery: number;
  /** How embeddings become tokens. */
  metric: NearestMetric;
  /**
   * Dummy label logits at the start: 'random' N(0, 1) (DLG), or 'gradient': N(0, 1) plus 10 on the
   * masked tokens read off the decoder-bias gradient (iDLG-style, Zhao et al. 2020; which token goes
   * to which position is left to the attack).
   */
  labelInit: 'random' | 'gradient';
  /**
   * What the dummy labels range over: 'vocabulary' (DLG: masked x vocab logits) or 'read': only the
   * tokens read off the decoder-bias gradient (masked x |labels| logits; the right labels are among
   * them, and the optimiser no longer carries 30,522 logits per position).
   */
  labelSpace: 'vocabulary' | 'read';
  /** Objective engine: 'fused' (default) or 'autodiff' (tfjs; the reference, ~4x slower). */
  engine: TextEngine;
  /** Gradient distance: 'l2' (DLG), 'cosine', 'l1l2' (TAG: l2 + l1Weight * l1). */
  distance: TextDistance;
  l1Weight: number;
  /** Initialisations tried (1: none); each runs `restartIterations` steps, the lowest distance continues. */
  restarts: number;
  restartIterations: number;
  /** A discrete step every k optimiser steps and at the end (0: none). */
  discreteEvery: number;
  /** Nearest tokens per position offered to the discrete step. */
  discreteCandidates: number;
  /** Keep [CLS] and [SEP] at both ends (the tokenizer puts them there): their embeddings are not optimised. */
  knownSpecials: boolean;
  /** Token ids the decoding never returns; default: [PAD] and [unused*] of bert-base-uncased (no text contains them). */
  exclude?: readonly number[];
  /** Called after each optimiser step. */
  onStep?: (iteration: number, distance: number) => void;
}

/**
 * The default attack: labels read off the decoder-bias gradient (the dummy labels range over those
 * tokens only), L2 distance, L-BFGS, a discrete step every 10 iterations; see lib/experiments/text.ts
 * (TEXT_VARIANTS) for the paper's DLG and the other variants, and the measurements behind the choice.
 */
export const DEFAULT_TEXT_DLG: Readonly<Omit<TextDlgOptions, 'onStep' | 'exclude'>> = Object.freeze({
  iterations: 100,
  seed: 1,
  optimizer: 'lbfgs' as const,
  lbfgs: DEFAULT_DLG.lbfgs,
  adamLr: 0.1,
  snapshotEvery: 10,
  metric: 'cosine' as const,
  labelInit: 'gradient' as const,
  labelSpace: 'read' as const,
  engine: 'fused' as const,
  distance: 'l2' as const,
  l1Weight: DEFAULT_TEXT_OBJECTIVE.l1Weight,
  restarts: 1,
  restartIterations: 5,
  discreteEvery: 10,
  discreteCandidates: 8,
  knownSpecials: false,
});

export interface TextSnapshot {
  iteration: number;
  distance: number;
  /** The attack's answer at this point ([CLS] ... [SEP]): the best discrete sentence once a discrete step ran, else nearest tokens with the labels at masked positions. */
  ids: number[];
}

export interface TextDlgResult {
  /** Recovered sentence ids: the discrete step's sentence when it ran, else nearest tokens; the labels at masked positions. */
  ids: number[];
  /** Tokens the model read, as recovered (what the model read: [MASK] at most masked positions). */
  inputIds: number[];
  /** Recovered label of each masked position. */
  labels: number[];
  /** Recovered embeddings [seq, hidden], flat. */
  embeddings: Float32Array;
  /** Sequence length and masked positions the attack used (handed over or read off the gradient). */
  seqLength: number;
  positions: number[];
  /** The label multiset read off the decoder-bias gradient (labelInit 'gradient' or discrete steps), else []. */
  labelReading: number[];
  /** The token set read off the word-embedding gradient, when it was shared. */
  tokenSet?: number[];
  /** Optimiser steps run (fewer than asked when the attack stopped at an exact sentence or diverged). */
  iterations: number;
  /** Evaluations of the continuous objective (value + gradient). */
  evals: number;
  /** Discrete steps run, those that improved on the best sentence so far, and their evaluations of D (values and gradients). */
  discrete: { steps: number; kept: number; evals: number };
  seconds: number;
  /** Gradient distance of the returned state (the discrete sentence's when it is returned). */
  distance: number;
  /** Gradient distance before every optimiser step along the kept path, then at its end (index 0: the initial state). */
  losses: number[];
  snapshots: TextSnapshot[];
  /**
   * 'exact': the distance fell to <= 1e-9 of the initial one (a discrete step's sentence, or the
   * embeddings themselves: they explain the gradient to float32 rounding) and the attack stopped there.
   */
  status: 'completed' | 'diverged' | 'exact';
}

/** Merge options over DEFAULT_TEXT_DLG, with clear messages. */
export function textDlgOptions(overrides: Partial<TextDlgOptions> = {}): TextDlgOptions {
  const known = new Set([...Object.keys(DEFAULT_TEXT_DLG), 'onStep', 'exclude']);
  for (const k of Object.keys(overrides)) if (!known.has(k)) throw new Error(`unknown text DLG option '${k}' (known: ${[...known].join(', ')})`);
  const o: TextDlgOptions = { ...DEFAULT_TEXT_DLG, ...overrides, lbfgs: { ...DEFAULT_TEXT_DLG.lbfgs, ...(overrides.lbfgs ?? {}) } };
  const int = (k: keyof TextDlgOptions, min: number) => {
    const v = o[k] as number;
    if (!Number.isInteger(v) || v < min) throw new Error(`text DLG ${k} must be an integer >= ${min}, got ${v}`);
  };
  if (!Number.isInteger(o.iterations) || o.iterations < 1) throw new Error(`text DLG iterations must be a positive integer, got ${o.iterations}`);
  if (!Number.isInteger(o.snapshotEvery) || o.snapshotEvery < 1) throw new Error(`text DLG snapshotEvery must be a positive integer, got ${o.snapshotEvery}`);
  if (!Number.isInteger(o.seed)) throw new Error(`text DLG seed must be an integer, got ${o.seed}`);
  int('restarts', 1);
  int('restartIterations', 1);
  int('discreteEvery', 0);
  int('discreteCandidates', 1);
  if (o.optimizer !== 'lbfgs' && o.optimizer !== 'adam') throw new Error(`text DLG optimizer must be 'lbfgs' or 'adam', got '${o.optimizer}'`);
  if (o.metric !== 'cosine' && o.metric !== 'l2') throw new Error(`text DLG metric must be 'cosine' or 'l2', got '${o.metric}'`);
  if (o.labelInit !== 'random' && o.labelInit !== 'gradient') throw new Error(`text DLG labelInit must be 'random' or 'gradient', got '${o.labelInit}'`);
  if (o.labelSpace !== 'vocabulary' && o.labelSpace !== 'read') throw new Error(`text DLG labelSpace must be 'vocabulary' or 'read', got '${o.labelSpace}'`);
  if (o.distance !== 'l2' && o.distance !== 'cosine' && o.distance !== 'l1l2') throw new Error(`text DLG distance must be 'l2', 'cosine' or 'l1l2', got '${o.distance}'`);
  if (o.engine !== 'fused' && o.engine !== 'autodiff') throw new Error(`text DLG engine must be 'fused' or 'autodiff', got '${o.engine}'`);
  if (!(o.adamLr > 0)) throw new Error(`text DLG adamLr must be > 0, got ${o.adamLr}`);
  if (!(o.l1Weight >= 0)) throw new Error(`text DLG l1Weight must be >= 0, got ${o.l1Weight}`);
  return o;
}

/** One optimiser over a state vector: step() returns the distance at the state it started from. */
interface Stepper {
  x: Float64Array;
  step(closure: (x: Float64Array) => { loss: number; grad: Float64Array }): number;
}

function stepper(x0: Float64Array, o: TextDlgOptions): Stepper {
  if (o.optimizer === 'lbfgs') {
    const opt = createLbfgs(x0, o.lbfgs);
    return { x: opt.x, step: (c) => opt.step(c) };
  }
  const opt = createAdam(x0, { lr: o.adamLr });
  return {
    x: opt.x,
    step: (c) => {
      const { loss, grad } = c(opt.x);
      if (Number.isFinite(loss)) opt.step(grad);
      return loss;
    },
  };
}

/** Run DLG on a BERT MLM gradient. The model is read, never changed; `shared` is not disposed. */
export function textDlg(model: Bert, shared: Tensor[], knowledge: TextKnowledge = {}, overrides: Partial<TextDlgOptions> = {}): TextDlgResult {
  const o = textDlgOptions(overrides);
  const start = Date.now();
  checkShared(model, shared);
  const { hidden, vocabSize } = model.config;
  const vocab = vocabSize === bertVocab().size ? bertVocab() : undefined;
  const exclude = o.exclude ?? (vocab ? unusedIds() : []);

  // --- what the attack works with: handed over, or read off the gradient
  const n = knowledge.seqLength ?? readSeqLength(model, shared);
  checkTextShape(model, { seqLength: n, positions: [1] });
  const needLabels = o.labelInit === 'gradient' || o.labelSpace === 'read' || o.discreteEvery > 0;
  const m = knowledge.positions?.length ?? readMaskedCount(model, shared);
  const positions = knowledge.positions ? [...knowledge.positions] : readPositions(model, shared, n, m);
  const shape = { seqLength: n, positions };
  checkTextShape(model, shape);
  const labelReading = needLabels ? readLabels(model, shared, m).labels : [];
  const tokenSet = knowledge.embeddingGradient ? readTokenSet(knowledge.embeddingGradient) : undefined;
  const excluded = new Set(exclude);
  const pool = tokenSet ? [...new Set([...tokenSet, ...labelReading])].filter((id) => !excluded.has(id)) : undefined;
  const decodeExclude = pool ? complement(pool, vocabSize) : exclude;

  // the label logits: one per token of `space` (the vocabulary, or the tokens read off the gradient)
  const space = o.labelSpace === 'read' ? [...new Set(labelReading)] : undefined;
  const k = space ? space.length : vocabSize;
  const objective = textObjective(model, shared, shape, { engine: o.engine, distance: o.distance, l1Weight: o.l1Weight, ...(space ? { labelSupport: space } : {}) });
  const embSize = n * hidden;
  const size = objective.size;
  const table = model.wordEmbeddings.dataSync();
  const specials = o.knownSpecials && vocab ? [[0, vocab.clsId], [n - 1, vocab.sepId]] : [];

  const init = (seed: number): Float64Array => {
    const rng = createRng(seed);
    const x = new Float64Array(size);
    for (let i = 0; i < size; i++) x[i] = rng.normal();
    for (const [q, id] of specials) for (let c = 0; c < hidden; c++) x[q * hidden + c] = table[id * hidden + c];
    if (o.labelInit === 'gradient' && !space) {
      for (let r = 0; r < m; r++) for (const l of new Set(labelReading)) x[embSize + r * vocabSize + l] += 10;
    }
    return x;
  };

  let evals = 0;
  const grad = new Float64Array(size);
  const closure = (x: Float64Array) => {
    evals++;
    const loss = objective(x, grad);
    for (const [q] of specials) grad.fill(0, q * hidden, (q + 1) * hidden);
    return { loss, grad };
  };

  const decodeState = (x: Float64Array): { ids: number[]; inputIds: number[]; labels: number[] } => {
    const inputIds = nearestTokens(model.wordEmbeddings, x.subarray(0, embSize), o.metric, decodeExclude);
    for (const [q, id] of specials) inputIds[q] = id;
    const labels = positions.map((_, r) => (space ? space[argmaxExcept(x, embSize + r * k, k, new Set())] : argmaxExcept(x, embSize + r * vocabSize, vocabSize, excluded)));
    const ids = [...inputIds];
    positions.forEach((q, r) => (ids[q] = labels[r]));
    return { ids, inputIds, labels };
  };

  // --- discrete step: project to tokens, search on the distance of whole sentences, continue from there
  let discreteObjective: TextObjective | undefined;
  const discrete = { steps: 0, kept: 0, evals: 0 };
  let best: { ids: number[]; inputIds: number[]; labels: number[]; distance: number } | undefined;
  const onehot = new Float64Array(m * vocabSize);
  const emb = new Float64Array(embSize);
  const sentenceDistance = (ids: readonly number[], labels: readonly number[], g?: Float64Array): number => {
    discreteObjective ??= textObjective(model, shared, shape, { engine: o.engine, distance: o.distance, l1Weight: o.l1Weight, label: 'fixed', target: onehot });
    onehot.fill(0);
    labels.forEach((l, r) => (onehot[r * vocabSize + l] = 1));
    discreteObjective.setTarget(onehot);
    ids.forEach((id, i) => {
      for (let c = 0; c < hidden; c++) emb[i * hidden + c] = table[id * hidden + c];
    });
    return discreteObjective(emb, g);
  };
  /** Search from the projection of x; x becomes the sentence found (its embeddings, near one-hot labels). */
  const discreteStep = (x: Float64Array): void => {
    discrete.steps++;
    const cands = nearestCandidates(model.wordEmbeddings, x.subarray(0, embSize), o.discreteCandidates, o.metric, decodeExclude);
    const startIds = cands.map((c) => c[0]);
    for (const [q, id] of specials) {
      startIds[q] = id;
      cands[q] = [id];
    }
    if (vocab) {
      // [CLS] and [SEP] are where the tokenizer puts them whatever the options: the search leaves both ends
      startIds[0] = vocab.clsId;
      startIds[n - 1] = vocab.sepId;
    }
    const r = discreteSearch(
      { seqLength: n, hidden, table, labels: labelReading, candidates: cands, distance: sentenceDistance, fixedEnds: vocab !== undefined || specials.length > 0 },
      startIds,
      { ...DEFAULT_DISCRETE, target: exactTolerance },
    );
    discrete.evals += r.evals + r.gradients;
    if (best === undefined || r.distance < best.distance) {
      const ids = [...r.ids];
      positions.forEach((q, row) => (ids[q] = r.labels[row]));
      best = { ids, inputIds: r.ids, labels: r.labels, distance: r.distance };
      discrete.kept++;
    }
    r.ids.forEach((id, i) => {
      for (let c = 0; c < hidden; c++) x[i * hidden + c] = table[id * hidden + c];
    });
    for (let row = 0; row < m; row++) {
      x.fill(0, embSize + row * k, embSize + (row + 1) * k);
      x[embSize + row * k + (space ? space.indexOf(r.labels[row]) : r.labels[row])] = 25;
    }
  };

  // --- the optimisation: restarts first (lowest distance kept), then the rest of the budget.
  // losses: the distance before every step of the kept path, then at its end (losses[0]: the initial state)
  const snapshots: TextSnapshot[] = [];
  let losses: number[] = [];
  let iteration = 0;
  let status: TextDlgResult['status'] = 'completed';
  let exactTolerance = 0;
  let x: Float64Array = init(o.seed);
  snapshots.push({ iteration: 0, distance: NaN, ids: decodeState(x).ids });
  const snap = (state: Float64Array, d: number) => {
    if (iteration % o.snapshotEvery === 0 && iteration < o.iterations) snapshots.push({ iteration, distance: d, ids: best ? best.ids : decodeState(state).ids });
  };
  /** One step of `s`; false when it diverged (x restored). */
  const advance = (s: Stepper, path: number[]): boolean => {
    const before = Float64Array.from(s.x);
    const d = s.step(closure);
    if (!Number.isFinite(d) || !s.x.every(Number.isFinite)) {
      s.x.set(before);
      return false;
    }
    path.push(d);
    if (exactTolerance === 0) {
      exactTolerance = 1e-9 * d;
      snapshots[0].distance = d;
    }
    return true;
  };
  if (o.restarts > 1) {
    const budget = Math.min(o.iterations, o.restarts * o.restartIterations);
    let kept: { x: Float64Array; losses: number[] } | undefined;
    for (let r = 0; r < o.restarts && iteration < budget; r++) {
      const s = stepper(r === 0 ? x : init(o.seed + r), o);
      const path: number[] = [];
      let ok = true;
      for (let k = 0; k < o.restartIterations && iteration < budget && ok; k++) {
        ok = advance(s, path);
        iteration++;
        const lead = kept && kept.losses[kept.losses.length - 1] <= path[path.length - 1] ? kept : { x: s.x, losses: path };
        snap(lead.x, lead.losses[lead.losses.length - 1]);
        o.onStep?.(iteration, lead.losses[lead.losses.length - 1]);
      }
      if (!ok) continue;
      path.push(closure(s.x).loss);
      if (kept === undefined || path[path.length - 1] < kept.losses[kept.losses.length - 1]) kept = { x: Float64Array.from(s.x), losses: path };
    }
    if (kept) {
      x = kept.x;
      losses = kept.losses.slice(0, -1);
    }
  }
  let opt = stepper(x, o);
  x = opt.x;
  while (iteration < o.iterations && status === 'completed') {
    if (!advance(opt, losses)) {
      status = 'diverged';
      break;
    }
    iteration++;
    if (losses[losses.length - 1] <= exactTolerance) {
      // the embeddings explain the gradient (to float32 rounding): nothing left to optimise
      status = 'exact';
      break;
    }
    if (o.discreteEvery > 0 && iteration % o.discreteEvery === 0 && iteration < o.iterations) {
      discreteStep(x);
      opt = stepper(x, o);
      x = opt.x;
      if (best && best.distance <= exactTolerance) status = 'exact';
    }
    snap(x, losses[losses.length - 1]);
    o.onStep?.(iteration, losses[losses.length - 1]);
  }
  let distance = status === 'diverged' ? losses[losses.length - 1] ?? NaN : closure(x).loss;
  losses.push(distance);
  if (o.discreteEvery > 0 && (status === 'completed' || (status === 'exact' && best === undefined))) {
    discreteStep(Float64Array.from(x));
    if (best && best.distance <= exactTolerance) status = 'exact';
  }
  // with discrete steps the answer is the sentence of lowest distance they found (a sentence, not a blend)
  const final = best ?? { ...decodeState(x), distance };
  objective.dispose();
  discreteObjective?.dispose();
  distance = final.distance;
  // stopped early at an exact sentence: its answer stands for the rest of the budget (curves line up)
  const end = status === 'exact' ? o.iterations : iteration;
  for (let k = snapshots[snapshots.length - 1].iteration + 1; k < end; k++) if (k % o.snapshotEvery === 0) snapshots.push({ iteration: k, distance, ids: final.ids });
  snapshots.push({ iteration: end, distance, ids: final.ids });
  return {
    ids: final.ids,
    inputIds: final.inputIds,
    labels: final.labels,
    embeddings: Float32Array.from(x.subarray(0, embSize)),
    seqLength: n,
    positions,
    labelReading,
    ...(tokenSet ? { tokenSet } : {}),
    iterations: iteration,
    evals,
    discrete,
    seconds: (Date.now() - start) / 1000,
    distance,
    losses,
    snapshots,
    status,
  };
}

/** Index of the largest x[off + j], j < count, not in `skip`. */
function argmaxExcept(x: Float64Array, off: number, count: number, skip: Set<number>): number {
  let best = -1;
  for (let j = 0; j < count; j++) if (!skip.has(j) && (best < 0 || x[off + j] > x[off + best])) best = j;
  return best;
}

/** Every id in [0, size) not in `keep`. */
function complement(keep: readonly number[], size: number): number[] {
  const k = new Set(keep);
  const out: number[] = [];
  for (let i = 0; i < size; i++) if (!k.has(i)) out.push(i);
  return out;
}

/**
 * The attack when the masked positions are not handed over and their reading may be wrong: textDlg on
 * each of `hypotheses` position sets (positionHypotheses: read off the position-embedding gradient,
 * most likely first), each with the full budget, stopping at the first 'exact' result; otherwise the
 * result of lowest gradient distance (never the truth). `iterations` and `evals` of the returned
 * result add up every run. With positions in `knowledge`, this is textDlg.
 */
export function textDlgSearchPositions(model: Bert, shared: Tensor[], knowledge: TextKnowledge = {}, overrides: Partial<TextDlgOptions> = {}, hypotheses = 3): TextDlgResult {
  if (knowledge.positions) return textDlg(model, shared, knowledge, overrides);
  if (!Number.isInteger(hypotheses) || hypotheses < 1) throw new Error(`position hypotheses must be a positive integer, got ${hypotheses}`);
  checkShared(model, shared);
  const n = knowledge.seqLength ?? readSeqLength(model, shared);
  checkTextShape(model, { seqLength: n, positions: [1] });
  const m = readMaskedCount(model, shared);
  let best: TextDlgResult | undefined;
  let iterations = 0;
  let evals = 0;
  const discrete = { steps: 0, kept: 0, evals: 0 };
  for (const positions of positionHypotheses(model, shared, n, m, hypotheses)) {
    const r = textDlg(model, shared, { ...knowledge, seqLength: n, positions }, overrides);
    iterations += r.iterations;
    evals += r.evals;
    discrete.steps += r.discrete.steps;
    discrete.kept += r.discrete.kept;
    discrete.evals += r.discrete.evals;
    if (best === undefined || r.distance < best.distance) best = r;
    if (r.status === 'exact') break;
  }
  return { ...(best as TextDlgResult), iterations, evals, discrete };
}
