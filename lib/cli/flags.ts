/**
 * The attack's configuration on the command line: one flag per configuration key (lib/config.ts),
 * one preset chosen by name, one merge, one validation. A bad value is reported under its flag:
 * `--iterations must be >= 1, got 0`.
 */
import { ConfigError, dlgConfig, oneOfText, PRESET_NAMES, PRESETS } from '../config';
import type { ConfigKey, DlgConfig, PresetName } from '../config';
import { UsageError } from './args';
import type { FlagSpec, Parsed } from './args';

/** The attack a command line asks for: one image, a batch, or a sentence. */
export type Mode = 'image' | 'batch' | 'text';

export interface ConfigFlag extends FlagSpec {
  /** The configuration key this flag sets. */
  key: ConfigKey;
}

/** Flag -> configuration key. Without the flag the preset's value holds. */
export const CONFIG_FLAGS: Readonly<Record<string, ConfigFlag>> = Object.freeze({
  iterations: { key: 'iterations', kind: 'int', help: `optimiser steps (presets: ${PRESETS.default.iterations})` },
  'line-search': { key: 'lbfgs.lineSearch', kind: 'string', help: "L-BFGS line search: 'strong_wolfe' (toolkit default) or 'none' (the released code)" },
  'label-strategy': { key: 'label', kind: 'string', help: "'joint' (DLG), 'idlg' (one image: label read off the gradient first), 'distinct' or 'count' (batches)" },
  'batch-update': { key: 'batchUpdate', kind: 'string', help: "with --batch: 'joint' (whole batch per L-BFGS step) or 'round-robin' (one sample per step, the paper's)" },
  'history-precision': { key: 'lbfgs.historyPrecision', kind: 'string', help: "L-BFGS history storage: 'float32' (presets; torch's for the released code's float32 dummy) or 'float64'" },
  init: { key: 'init', kind: 'string', help: "dummy initialisation: 'normal' (the released code) or 'uniform'" },
  engine: { key: 'engine', kind: 'string', help: "objective evaluator: 'auto', 'fused' (conv stacks such as LeNet) or 'tfjs' (autodiff, any model)" },
  threads: { key: 'threads', kind: 'int', help: 'threads of one evaluation of the fused objective: 1 (presets) or 2 (same numbers; for one attack on an idle machine)' },
  'snapshot-every': { key: 'snapshotEvery', kind: 'int', help: 'keep the dummy every k steps for progress.png (presets: 10)' },
});

/** The flag of a configuration key, for messages. */
export function flagOf(key: string): string {
  if (key === 'preset') return '--preset';
  if (key === 'seed') return '--seed';
  const hit = Object.entries(CONFIG_FLAGS).find(([, f]) => f.key === key);
  return hit ? `--${hit[0]}` : `config ${key}`;
}

/** The preset named by --preset / --paper, else `fallback`; contradictions are a UsageError. */
export function presetOf(args: Parsed, fallback: PresetName): PresetName {
  const named = args.preset as string | undefined;
  if (named !== undefined && !(PRESET_NAMES as string[]).includes(named)) throw new UsageError(`--preset must be ${oneOfText(PRESET_NAMES)}, got '${named}'`);
  if (args.paper === true && named !== undefined && named !== 'paper') throw new UsageError(`--paper (= --preset paper) contradicts --preset ${named}`);
  return args.paper === true ? 'paper' : (named as PresetName | undefined) ?? fallback;
}

/** The configuration the flags describe: the preset, then each given flag's key; validated once. */
export function configFromFlags(args: Parsed, preset: PresetName, extra: Partial<Omit<DlgConfig, 'lbfgs'>> = {}): DlgConfig {
  const overrides: Record<string, unknown> = { ...extra };
  const lbfgs: Record<string, unknown> = {};
  for (const [flag, f] of Object.entries(CONFIG_FLAGS)) {
    const v = args[flag];
    if (v === undefined) continue;
    if (f.key.startsWith('lbfgs.')) lbfgs[f.key.slice(6)] = v;
    else overrides[f.key] = v;
  }
  try {
    return dlgConfig({ ...overrides, lbfgs }, preset);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`${flagOf(e.key)} ${e.flagRule}`);
    throw e;
  }
}
