/**
 * Paper defaults in one place. Sources: the paper (Zhu, Liu, Han, NeurIPS 2019), section 3
 * (Algorithm 1) and section 4.1, and the released code (mit-han-lab/dlg, main.py).
 */
import type { LbfgsOptions } from './attacks/optim/lbfgs';
import { LBFGS_DEFAULTS } from './attacks/optim/lbfgs';

export type LabelStrategy = 'joint' | 'idlg' | 'distinct' | 'count';
/** How a batch's dummies are updated (lib/round-robin.ts): all at once, or one sample per step. */
export type BatchUpdate = 'joint' | 'round-robin';
export type DummyInit = 'normal' | 'uniform';
/**
 * How the gradient distance and its gradient are computed: 'tfjs' (autodiff, any model), 'fused'
 * (lib/engine/fused.ts: one flat-array pass, models with a conv-stack structure such as LeNet; same numbers to
 * float32 rounding, several times faster), 'auto' (fused where the model supports it).
 */
export type DlgEngine = 'auto' | 'tfjs' | 'fused';

export interface DlgConfig {
  /** Outer optimiser steps. 300 in the released code; the paper's text shows 1200 for images. */
  iterations: number;
  /** Keep a snapshot of the dummy data every k steps (the paper's figures: every 10). */
  snapshotEvery: number;
  /** torch.optim.LBFGS settings (the released code uses its defaults: lr 1, max_iter 20, ...). */
  lbfgs: LbfgsOptions;
  /** Seed of the dummy initialisation. */
  seed: number;
  /** Dummy data ~ N(0, 1) ('normal', torch.randn in the code) or U(0, 1). */
  init: DummyInit;
  /**
   * 'joint': optimise dummy label logits with the data (DLG, Algorithm 1);
   * 'idlg': read the label off the last layer's gradient first (Zhao et al. 2020), then optimise the data only;
   * batches (fixed labels read off the gradient, see lib/attacks/labels.ts): 'distinct' (the N most negative
   * weight-gradient columns; Wainakh et al. 2022 / Yin et al. 2021; exact for distinct labels) or 'count'
   * (counts from the bias gradient and the model's mean softmax on dummy inputs; repeated labels too).
   */
  label: LabelStrategy;
  /**
   * Batches only: 'joint' updates the whole batch in every L-BFGS step; 'round-robin' (the paper's variant)
   * one sample per step, cycling, each sample with its own L-BFGS state. One iteration = one L-BFGS step
   * either way, each evaluation computing the whole batch's gradient distance.
   */
  batchUpdate: BatchUpdate;
  /** Stop early once the gradient distance falls below this (0: never). */
  stopDistance: number;
  /** Stop early when L-BFGS has not moved the dummy for this many consecutive steps. */
  patience: number;
  /** Objective evaluator (DlgEngine); 'auto' by default. */
  engine: DlgEngine;
}

/** The released code exactly: L-BFGS with torch defaults and no line search, 300 steps. */
export const PAPER_DLG: DlgConfig = {
  iterations: 300,
  snapshotEvery: 10,
  lbfgs: { ...LBFGS_DEFAULTS },
  seed: 1234,
  init: 'normal',
  label: 'joint',
  batchUpdate: 'joint',
  stopDistance: 0,
  patience: 3,
  engine: 'auto',
};

/**
 * This toolkit's default: the paper's algorithm with a strong-Wolfe line search in L-BFGS.
 * Measured with the PyTorch original on this machine class: without it 13 of 30 runs recover
 * (MSE < 1e-3), with it 30 of 30 (../shared/PAPER.md). Everything else as in the paper.
 */
export const DEFAULT_DLG: DlgConfig = {
  ...PAPER_DLG,
  lbfgs: { ...LBFGS_DEFAULTS, lineSearch: 'strong_wolfe' },
};

/**
 * L-BFGS tolerances for batch attacks. torch's defaults are absolute (stop when max |gradient| <= 1e-7 or
 * the loss changes by < 1e-9); the loss is a mean over the batch, so gradient and distance shrink with the
 * batch size and L-BFGS declares optimality before the dummies match. Measured (Fashion-MNIST at 16x16,
 * batch 8, seed 1): torch's tolerances stop at max MSE 2.8e-3 after 79 iterations; these recover the
 * batch (MSE < 1e-3) at iteration 95. Used by the --batch CLI and notebook 03.
 */
export const BATCH_TOLERANCES: Readonly<Pick<LbfgsOptions, 'toleranceGrad' | 'toleranceChange'>> = Object.freeze({ toleranceGrad: 1e-14, toleranceChange: 1e-14 });

/** Recovery threshold used throughout (paper figures: MSE between reconstruction and truth). */
export const RECOVERED_MSE = 1e-3;

/** Merge a partial config over a base, validating every field with a clear message. */
export function dlgConfig(overrides: Partial<DlgConfig> = {}, base: DlgConfig = DEFAULT_DLG): DlgConfig {
  const known = new Set(Object.keys(base));
  for (const key of Object.keys(overrides)) {
    if (!known.has(key)) throw new Error(`unknown DLG option '${key}' (known: ${[...known].join(', ')})`);
  }
  const c: DlgConfig = { ...base, ...overrides, lbfgs: { ...base.lbfgs, ...(overrides.lbfgs ?? {}) } };
  const positiveInt = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) throw new Error(`DLG option ${name} must be a positive integer, got ${v}`);
  };
  positiveInt('iterations', c.iterations);
  positiveInt('snapshotEvery', c.snapshotEvery);
  positiveInt('patience', c.patience);
  if (!Number.isInteger(c.seed)) throw new Error(`DLG option seed must be an integer, got ${c.seed}`);
  if (c.init !== 'normal' && c.init !== 'uniform') throw new Error(`DLG option init must be 'normal' or 'uniform', got '${c.init}'`);
  if (!['joint', 'idlg', 'distinct', 'count'].includes(c.label)) throw new Error(`DLG option label must be 'joint', 'idlg', 'distinct' or 'count', got '${c.label}'`);
  if (c.batchUpdate !== 'joint' && c.batchUpdate !== 'round-robin') throw new Error(`DLG option batchUpdate must be 'joint' or 'round-robin', got '${c.batchUpdate}'`);
  if (c.engine !== 'auto' && c.engine !== 'tfjs' && c.engine !== 'fused') throw new Error(`DLG option engine must be 'auto', 'tfjs' or 'fused', got '${c.engine}'`);
  if (!(c.stopDistance >= 0)) throw new Error(`DLG option stopDistance must be >= 0, got ${c.stopDistance}`);
  return c;
}
