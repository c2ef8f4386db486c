/**
 * DLG on text (paper, section 4.2): the attack in embedding space on a BERT masked-LM step.
 *
 * The attacker knows the model (weights and word-embedding table), the shared gradient g and the
 * shape of the step (`TextShape`: sequence length and masked positions; as DLG on images knows
 * the image size). It draws dummy input embeddings E' [seq, hidden] and dummy label logits Y'
 * [masked, vocab] and minimises
 *     D(E', Y') = sum over parameter tensors || dL_MLM(E', softmax(Y'))/dW - g ||^2
 * with L-BFGS (or Adam). Tokens come back by nearest word embedding (cosine by default, or L2):
 * every position's recovered embedding gives the token the model read; at a masked position the
 * argmax of the dummy label gives the original token (the model read [MASK] there), so the
 * recovered sentence takes the label there. `textDlg()` never sees the truth; lib/analysis/text.ts
 * scores its output.
 */
import { createRng } from '../rng';
import { createLbfgs, LBFGS_DEFAULTS } from './optim/lbfgs';
import type { LbfgsOptions } from './optim/lbfgs';
import { createAdam } from './optim/adam';
import { textObjective } from './text-objective';
import type { TextEngine, TextDistance } from './text-objective';
import type { Bert } from '../models/bert';
import { nearestTokens } from './decode';
import type { NearestMetric } from './decode';
import type { TextShape } from '../cases/text';
import { bertVocab, unusedIds } from '../data/wordpiece';
import type { Tensor } from '@tensorflow/tfjs';

export { textObjective };

export type TextOptimizer = 'lbfgs' | 'adam';

export interface TextDlgOptions {
  /** Outer optimiser steps (the paper: 100 for text). */
  iterations: number;
  /** Seed of the dummy initialisation: E' ~ N(0, 1) (the word embeddings' distribution), Y' ~ N(0, 1). */
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
   * tokens whose decoder-bias gradient is negative (the masked tokens; an iDLG-style reading of
   * the gradient, Zhao et al. 2020; which token goes to which position is still left to the attack).
   */
  labelInit: 'random' | 'gradient';
  /** Token ids the decoding never returns; default: [PAD] and [unused*] of bert-base-uncased (no text contains them). */
  exclude?: readonly number[];
  /** Objective engine: 'fused' (default) or 'autodiff' (tfjs; the reference, ~4x slower). */
  engine: TextEngine;
  /** Gradient distance: 'l2' (DLG), 'cosine', 'l1l2' (TAG). */
  distance: TextDistance;
  /** Called after each outer step. */
  onStep?: (iteration: number, distance: number) => void;
}

export const DEFAULT_TEXT_DLG: Readonly<Omit<TextDlgOptions, 'onStep'>> = Object.freeze({
  iterations: 100,
  seed: 1,
  optimizer: 'lbfgs' as const,
  lbfgs: { ...LBFGS_DEFAULTS, lineSearch: 'strong_wolfe' as const },
  adamLr: 0.1,
  snapshotEvery: 10,
  metric: 'cosine' as const,
  labelInit: 'random' as const,
  engine: 'fused' as const,
  distance: 'l2' as const,
});

export interface TextSnapshot {
  iteration: number;
  distance: number;
  /** Recovered sentence ids ([CLS] ... [SEP]): nearest tokens, labels at masked positions. */
  ids: number[];
}

export interface TextDlgResult {
  /** Recovered sentence ids: nearest token of each embedding, the label's argmax at masked positions. */
  ids: number[];
  /** Nearest token of each recovered embedding (what the model read: [MASK] at most masked positions). */
  inputIds: number[];
  /** Argmax of each dummy label (one per masked position). */
  labels: number[];
  /** Recovered embeddings [seq, hidden], flat. */
  embeddings: Float32Array;
  iterations: number;
  evals: number;
  seconds: number;
  distance: number;
  /** Gradient distance after every outer step (index 0: the initial state). */
  losses: number[];
  snapshots: TextSnapshot[];
  status: 'completed' | 'diverged';
}

/** Merge options over DEFAULT_TEXT_DLG, with clear messages. */
export function textDlgOptions(overrides: Partial<TextDlgOptions> = {}): TextDlgOptions {
  const known = new Set([...Object.keys(DEFAULT_TEXT_DLG), 'onStep', 'exclude']);
  for (const k of Object.keys(overrides)) if (!known.has(k)) throw new Error(`unknown text DLG option '${k}' (known: ${[...known].join(', ')})`);
  const o: TextDlgOptions = { ...DEFAULT_TEXT_DLG, ...overrides, lbfgs: { ...DEFAULT_TEXT_DLG.lbfgs, ...(overrides.lbfgs ?? {}) } };
  if (!Number.isInteger(o.iterations) || o.iterations < 1) throw new Error(`text DLG iterations must be a positive integer, got ${o.iterations}`);
  if (!Number.isInteger(o.snapshotEvery) || o.snapshotEvery < 1) throw new Error(`text DLG snapshotEvery must be a positive integer, got ${o.snapshotEvery}`);
  if (!Number.isInteger(o.seed)) throw new Error(`text DLG seed must be an integer, got ${o.seed}`);
  if (o.optimizer !== 'lbfgs' && o.optimizer !== 'adam') throw new Error(`text DLG optimizer must be 'lbfgs' or 'adam', got '${o.optimizer}'`);
  if (o.metric !== 'cosine' && o.metric !== 'l2') throw new Error(`text DLG metric must be 'cosine' or 'l2', got '${o.metric}'`);
  if (o.labelInit !== 'random' && o.labelInit !== 'gradient') throw new Error(`text DLG labelInit must be 'random' or 'gradient', got '${o.labelInit}'`);
  if (!(o.adamLr > 0)) throw new Error(`text DLG adamLr must be > 0, got ${o.adamLr}`);
  return o;
}

/** Recovered sentence from a state vector: nearest tokens, the labels' argmax at the masked positions. */
function decodeState(model: Bert, x: Float64Array, shape: TextShape, metric: NearestMetric, exclude: readonly number[]): { ids: number[]; inputIds: number[]; labels: number[] } {
  const { hidden, vocabSize } = model.config;
  const embSize = shape.seqLength * hidden;
  const inputIds = nearestTokens(model.wordEmbeddings, x.subarray(0, embSize), metric, exclude);
  const skip = new Set(exclude);
  const labels = shape.positions.map((_, r) => {
    let best = -1;
    const off = embSize + r * vocabSize;
    for (let j = 0; j < vocabSize; j++) if (!skip.has(j) && (best < 0 || x[off + j] > x[off + best])) best = j;
    return best;
  });
  const ids = [...inputIds];
  shape.positions.forEach((q, r) => {
    ids[q] = labels[r];
  });
  return { ids, inputIds, labels };
}

/** Run DLG on a BERT MLM gradient. The model is read, never changed; `shared` is not disposed. */
export function textDlg(model: Bert, shared: Tensor[], shape: TextShape, overrides: Partial<TextDlgOptions> = {}): TextDlgResult {
  const o = textDlgOptions(overrides);
  const objective = textObjective(model, shared, shape, { engine: o.engine, distance: o.distance });
  const { hidden, vocabSize } = model.config;
  const n = shape.seqLength * hidden + shape.positions.length * vocabSize;
  const rng = createRng(o.seed);
  const x0 = new Float64Array(n);
  for (let i = 0; i < n; i++) x0[i] = rng.normal();
  if (o.labelInit === 'gradient') {
    // the decoder bias gradient is mean_r (softmax_r - y_r): negative exactly at the masked tokens
    const g = shared[shared.length - 1].dataSync();
    let most = 0;
    for (let j = 0; j < vocabSize; j++) most = Math.max(most, -g[j]);
    const off = shape.seqLength * hidden;
    for (let r = 0; r < shape.positions.length; r++) {
      for (let j = 0; j < vocabSize; j++) if (g[j] < 0 && most > 0) x0[off + r * vocabSize + j] += (10 * -g[j]) / most;
    }
  }
  const exclude = o.exclude ?? (vocabSize === bertVocab().size ? unusedIds() : []);

  let evals = 0;
  const grad = new Float64Array(n);
  const closure = (x: Float64Array) => {
    evals++;
    return { loss: objective(x, grad), grad };
  };
  const start = Date.now();
  const losses: number[] = [];
  const snapshots: TextSnapshot[] = [];
  const snap = (iteration: number, x: Float64Array, distance: number) => snapshots.push({ iteration, distance, ids: decodeState(model, x, shape, o.metric, exclude).ids });
  let status: 'completed' | 'diverged' = 'completed';
  let x: Float64Array;
  let iteration = 0;
  if (o.optimizer === 'lbfgs') {
    const opt = createLbfgs(x0, o.lbfgs);
    x = opt.x;
    let last = Float64Array.from(x);
    snap(0, x, NaN);
    while (iteration < o.iterations) {
      losses.push(opt.step(closure)); // the distance at the state the step started from
      if (!Number.isFinite(losses[iteration]) || !x.every(Number.isFinite)) {
        status = 'diverged';
        x.set(last);
        break;
      }
      if (iteration > 0) o.onStep?.(iteration, losses[iteration]);
      iteration++;
      last = Float64Array.from(x);
      if (iteration % o.snapshotEvery === 0 && iteration < o.iterations) snap(iteration, x, NaN);
    }
  } else {
    const opt = createAdam(x0, { lr: o.adamLr });
    x = opt.x;
    let last = Float64Array.from(x);
    snap(0, x, NaN);
    while (iteration < o.iterations) {
      const { loss, grad: g } = closure(x);
      losses.push(loss);
      if (!Number.isFinite(loss) || !x.every(Number.isFinite)) {
        status = 'diverged';
        x.set(last);
        break;
      }
      if (iteration > 0) o.onStep?.(iteration, loss);
      last.set(x);
      opt.step(g);
      iteration++;
      if (iteration % o.snapshotEvery === 0 && iteration < o.iterations) snap(iteration, x, NaN);
    }
  }
  if (status === 'completed') {
    losses.push(closure(x).loss);
    o.onStep?.(iteration, losses[iteration]);
  } else {
    // back at the last finite state, whose distance is the last finite loss
    losses.length = iteration;
    losses.push(iteration > 0 ? losses[iteration - 1] : NaN);
  }
  snap(iteration, x, NaN);
  for (const s of snapshots) s.distance = losses[Math.min(s.iteration, losses.length - 1)];
  const final = decodeState(model, x, shape, o.metric, exclude);
  return {
    ...final,
    embeddings: Float32Array.from(x.subarray(0, shape.seqLength * hidden)),
    iterations: iteration,
    evals,
    seconds: (Date.now() - start) / 1000,
    distance: losses[iteration],
    losses,
    snapshots,
    status,
  };
}

/** The shared gradient must match the model's parameters one to one. */
