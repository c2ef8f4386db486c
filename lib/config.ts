/**
 * The attack's settings in one place: the DLG configuration, its presets by name, and the one merge
 * that validates every field. Sources: the paper (Zhu, Liu, Han, NeurIPS 2019), section 3
 * (Algorithm 1) and section 4.1, and the released code (mit-han-lab/dlg, main.py).
 *
 *   dlgConfig({ iterations: 100 })              the toolkit's default preset, 100 iterations
 *   dlgConfig({ iterations: 100 }, 'paper')     the released code's settings, 100 iterations
 *
 * dlg() takes the same overrides plus `preset`; the CLI maps each flag to one key (lib/cli/flags.ts)
 * and reports a bad value with the flag's name (ConfigError carries the key).
 */
import type { LbfgsOptions } from './attacks/optim/lbfgs';
import { LBFGS_DEFAULTS } from './attacks/optim/lbfgs';

export type LabelStrategy = 'joint' | 'idlg' | 'distinct' | 'count';
/** How a batch's dummies are updated (lib/attacks/optim/round-robin.ts): all at once, or one sample per step. */
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
  /**
   * Threads of one evaluation of the fused objective on the wasm kernels: 1, or 2 (half of each large
   * kernel call on a helper thread, lib/engine/wasm-threads.ts: the same numbers bit for bit, for one
   * attack on an otherwise idle machine; sweeps already use the cores with one attack per worker).
   */
  threads: 1 | 2;
}

/**
 * L-BFGS as the released code runs it: torch's defaults on float32 parameters (the dummy image and
 * label), so torch keeps its history in float32. Here x, the gradient and all arithmetic stay float64;
 * only the stored pairs are float32 (lbfgs.ts, `historyPrecision`).
 */
export const DLG_LBFGS: Readonly<LbfgsOptions> = Object.freeze({ ...LBFGS_DEFAULTS, historyPrecision: 'float32' as const });

/** The released code exactly: L-BFGS with torch defaults and no line search, 300 steps. */
export const PAPER_DLG: DlgConfig = Object.freeze({
  iterations: 300,
  snapshotEvery: 10,
  lbfgs: DLG_LBFGS,
  seed: 1234,
  init: 'normal',
  label: 'joint',
  batchUpdate: 'joint',
  stopDistance: 0,
  patience: 3,
  engine: 'auto',
  threads: 1,
}) as DlgConfig;

/**
 * This toolkit's default: the paper's algorithm with a strong-Wolfe line search in L-BFGS, which makes
 * the released code's fragile optimisation reliable (measured in lib/reference/results/ for PyTorch and
 * for this toolkit). Everything else as in the paper.
 */
export const DEFAULT_DLG: DlgConfig = Object.freeze({
  ...PAPER_DLG,
  lbfgs: Object.freeze({ ...DLG_LBFGS, lineSearch: 'strong_wolfe' as const }),
}) as DlgConfig;

/**
 * L-BFGS tolerances for batch attacks. torch's defaults are absolute (stop when max |gradient| <= 1e-7 or
 * the loss changes by < 1e-9); the loss is a mean over the batch, so gradient and distance shrink with the
 * batch size and L-BFGS declares optimality before the dummies match. Measured (Fashion-MNIST at 16x16,
 * batch 8, seed 1): torch's tolerances stop at max MSE 2.8e-3 after 79 iterations; these recover the
 * batch (MSE < 1e-3) at iteration 95.
 */
export const BATCH_TOLERANCES: Readonly<Pick<LbfgsOptions, 'toleranceGrad' | 'toleranceChange'>> = Object.freeze({ toleranceGrad: 1e-14, toleranceChange: 1e-14 });

/** The default for batches of more than one image: DEFAULT_DLG with BATCH_TOLERANCES. */
export const BATCH_DLG: DlgConfig = Object.freeze({
  ...DEFAULT_DLG,
  lbfgs: Object.freeze({ ...DEFAULT_DLG.lbfgs, ...BATCH_TOLERANCES }),
}) as DlgConfig;

/** Presets by name: the one place a starting configuration is chosen. */
export const PRESETS = Object.freeze({
  /** the toolkit's default: the released code plus a strong-Wolfe line search */
  default: DEFAULT_DLG,
  /** the released code exactly (torch.optim.LBFGS defaults, no line search) */
  paper: PAPER_DLG,
  /** the default with L-BFGS tolerances for batches (BATCH_TOLERANCES) */
  batch: BATCH_DLG,
});
export type PresetName = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

/** The preset a run of `batchSize` images starts from when none is named: 'batch' for more than one. */
export function defaultPreset(batchSize: number): PresetName {
  return batchSize > 1 ? 'batch' : 'default';
}

/** Recovery threshold used throughout (paper figures: MSE between reconstruction and truth). */
export const RECOVERED_MSE = 1e-3;

/** A configuration key, with L-BFGS options as 'lbfgs.NAME'. */
export type ConfigKey = Exclude<keyof DlgConfig, 'lbfgs'> | `lbfgs.${keyof LbfgsOptions}`;

/**
 * A bad configuration value; `key` names the field. `rule` says what is wrong in the library's words
 * ("must be a positive integer, got 0"), `flagRule` in a command line's ("must be >= 1, got 0": a flag's
 * value is already known to be an integer).
 */
export class ConfigError extends Error {
  constructor(readonly key: ConfigKey | string, readonly rule: string, readonly flagRule: string = rule) {
    super(`DLG option ${key} ${rule}`);
  }
}

/** "'a' or 'b'" / "'a', 'b' or 'c'" */
export function oneOfText(values: readonly string[]): string {
  const q = values.map((v) => `'${v}'`);
  return q.length === 1 ? q[0] : `${q.slice(0, -1).join(', ')} or ${q[q.length - 1]}`;
}

/** A rule: null when the value is valid, else what is wrong (library wording, command-line wording). */
type Rule = (v: unknown) => { rule: string; flagRule?: string } | null;
const integerAtLeast = (min: number): Rule => (v) => {
  const what = min === 1 ? 'a positive integer' : `an integer >= ${min}`;
  if (!Number.isInteger(v)) return { rule: `must be ${what}, got ${String(v)}`, flagRule: `must be an integer, got ${String(v)}` };
  return (v as number) < min ? { rule: `must be ${what}, got ${String(v)}`, flagRule: `must be >= ${min}, got ${String(v)}` } : null;
};
const numberAtLeast = (min: number, strict = false): Rule => (v) =>
  typeof v !== 'number' || !Number.isFinite(v) || (strict ? v <= min : v < min) ? { rule: `must be a number ${strict ? '>' : '>='} ${min}, got ${String(v)}` } : null;
const oneOf = (values: readonly string[]): Rule => (v) => (values.includes(v as string) ? null : { rule: `must be ${oneOfText(values)}, got '${String(v)}'` });

export const LABEL_STRATEGIES: readonly LabelStrategy[] = ['joint', 'idlg', 'distinct', 'count'];
export const BATCH_UPDATES: readonly BatchUpdate[] = ['joint', 'round-robin'];
export const DUMMY_INITS: readonly DummyInit[] = ['normal', 'uniform'];
export const ENGINES: readonly DlgEngine[] = ['auto', 'tfjs', 'fused'];
export const LINE_SEARCHES: readonly LbfgsOptions['lineSearch'][] = ['strong_wolfe', 'none'];
export const HISTORY_PRECISIONS: readonly NonNullable<LbfgsOptions['historyPrecision']>[] = ['float32', 'float64'];

/** The rule of every configuration key: the only validation of a DLG configuration. */
export const CONFIG_RULES: Readonly<Record<ConfigKey, Rule>> = Object.freeze({
  iterations: integerAtLeast(1),
  snapshotEvery: integerAtLeast(1),
  patience: integerAtLeast(1),
  seed: (v: unknown) => (Number.isInteger(v) ? null : { rule: `must be an integer, got ${String(v)}` }),
  init: oneOf(DUMMY_INITS),
  label: oneOf(LABEL_STRATEGIES),
  batchUpdate: oneOf(BATCH_UPDATES),
  engine: oneOf(ENGINES),
  threads: (v: unknown) => (v === 1 || v === 2 ? null : { rule: `must be 1 or 2, got ${String(v)}` }),
  stopDistance: numberAtLeast(0),
  'lbfgs.lr': numberAtLeast(0, true),
  'lbfgs.maxIter': integerAtLeast(1),
  'lbfgs.maxEval': (v: unknown) => (v === undefined ? null : integerAtLeast(1)(v)),
  'lbfgs.toleranceGrad': numberAtLeast(0),
  'lbfgs.toleranceChange': numberAtLeast(0),
  'lbfgs.historySize': integerAtLeast(1),
  'lbfgs.lineSearch': oneOf(LINE_SEARCHES),
  'lbfgs.historyPrecision': oneOf(HISTORY_PRECISIONS),
});

/** The value of a key in a configuration. */
export function configValue(c: DlgConfig, key: ConfigKey): unknown {
  return key.startsWith('lbfgs.') ? (c.lbfgs as unknown as Record<string, unknown>)[key.slice(6)] : (c as unknown as Record<string, unknown>)[key];
}

/**
 * The one merge: `overrides` over a preset (by name) or a base configuration, L-BFGS options merged
 * key by key (an undefined value keeps the base's); every field validated (ConfigError naming the key).
 * Unknown keys are errors.
 */
export function dlgConfig(overrides: Partial<Omit<DlgConfig, 'lbfgs'>> & { lbfgs?: Partial<LbfgsOptions> } = {}, base: PresetName | DlgConfig = 'default'): DlgConfig {
  const from = typeof base === 'string' ? PRESETS[base] : base;
  if (from === undefined) throw new ConfigError('preset', `must be ${oneOfText(PRESET_NAMES)}, got '${String(base)}'`);
  const known = new Set(Object.keys(from));
  for (const key of Object.keys(overrides)) {
    if (!known.has(key)) throw new Error(`unknown DLG option '${key}' (known: ${[...known].join(', ')})`);
  }
  const lbfgsKnown = new Set([...Object.keys(LBFGS_DEFAULTS), 'maxEval']);
  for (const key of Object.keys(overrides.lbfgs ?? {})) {
    if (!lbfgsKnown.has(key)) throw new Error(`unknown DLG option 'lbfgs.${key}' (known: ${[...lbfgsKnown].join(', ')})`);
  }
  const defined = <T extends object>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
  const { lbfgs, ...rest } = overrides;
  const c: DlgConfig = { ...from, ...defined(rest), lbfgs: { ...from.lbfgs, ...defined(lbfgs ?? {}) } };
  for (const key of Object.keys(CONFIG_RULES) as ConfigKey[]) {
    const why = CONFIG_RULES[key](configValue(c, key));
    if (why !== null) throw new ConfigError(key, why.rule, why.flagRule);
  }
  return c;
}
