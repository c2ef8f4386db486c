/**
 * Gradient defenses (paper, "Defenses"): the client transforms its gradient before sharing it.
 *
 *   spec                 defense
 *   none                 the gradient unchanged (copied)
 *   gaussian:VARIANCE    + N(0, VARIANCE) noise on every entry           (paper: 1e-4 .. 1e-1)
 *   laplacian:VARIANCE   + Laplace noise of variance VARIANCE (b = sqrt(VARIANCE / 2))
 *   fp16                 rounded to IEEE half precision
 *   int8                 symmetric per-tensor int8 quantisation
 *   prune:RATIO          per tensor, the RATIO fraction (0..1) of smallest-magnitude entries zeroed
 *
 * Specs joined with '+' compose left to right: `prune:0.3+gaussian:1e-3` prunes, then adds noise.
 * Usage: `const d = parseDefense('gaussian:1e-3'); const shared = applyDefense(d, c.shared, seed)`; `d.spec` is
 * the canonical text ('gaussian:0.001').
 */
import { createRng } from '../rng';
import type { Rng } from '../rng';
import { tf } from '../engine';
import type { Tensor } from '@tensorflow/tfjs';
import { mapGradients } from './types';
import type { Defense, DefenseKind, DefenseSpec, NamedDefense } from './types';
import { gaussianNoise, laplacianNoise } from './noise';
import { fp16, int8 } from './precision';
import { prune } from './pruning';

export type { Defense, DefenseKind, DefenseSpec, NamedDefense } from './types';
export { checkFinite } from './types';
export { gaussianNoise, laplacianNoise, laplaceSample } from './noise';
export { fp16, int8, roundToFloat16, roundArrayToFloat16, toFloat16Bits, fromFloat16Bits, quantizeInt8, roundHalfEven } from './precision';
export { prune, pruneArray, prunedCount } from './pruning';

/** The gradient unchanged (new tensors all the same: the caller may dispose input and output apart). */
export function none(): Defense {
  return (grads) => mapGradients(grads, (g) => Float32Array.from(g));
}

interface DefenseEntry {
  /** Name of the spec's parameter, if it takes one. */
  param?: 'VARIANCE' | 'RATIO';
  /** Accepts a parsed parameter value. */
  valid?: (v: number) => boolean;
  /** What a valid parameter is, for error messages. */
  rule?: string;
  example: string;
  help: string;
  make: (v: number) => Defense;
}

/** Every known defense, by spec name. */
export const DEFENSES: Readonly<Record<DefenseKind, DefenseEntry>> = {
  none: { example: 'none', help: 'no defense (the gradient copied unchanged)', make: () => none() },
  gaussian: {
    param: 'VARIANCE', valid: (v) => v >= 0, rule: 'a variance >= 0', example: 'gaussian:1e-3',
    help: 'add N(0, VARIANCE) noise to every entry', make: (v) => gaussianNoise(v),
  },
  laplacian: {
    param: 'VARIANCE', valid: (v) => v >= 0, rule: 'a variance >= 0', example: 'laplacian:1e-2',
    help: 'add Laplace noise of variance VARIANCE (scale sqrt(VARIANCE/2)) to every entry', make: (v) => laplacianNoise(v),
  },
  fp16: { example: 'fp16', help: 'round every entry to IEEE half precision', make: () => fp16() },
  int8: { example: 'int8', help: 'symmetric per-tensor int8 quantisation (scale max|g|/127)', make: () => int8() },
  prune: {
    param: 'RATIO', valid: (v) => v >= 0 && v <= 1, rule: 'a ratio in [0, 1]', example: 'prune:0.3',
    help: 'per tensor, zero the RATIO fraction of smallest-magnitude entries', make: (v) => prune(v),
  },
};

/** "none, gaussian:VARIANCE, laplacian:VARIANCE, fp16, int8, prune:RATIO" */
export function knownDefenseForms(): string {
  return Object.entries(DEFENSES).map(([name, e]) => (e.param ? `${name}:${e.param}` : name)).join(', ');
}

/** One line per defense, for --help texts. */
export function defenseHelp(): string {
  return Object.entries(DEFENSES).map(([name, e]) => `${(e.param ? `${name}:${e.param}` : name).padEnd(20)} ${e.help}`).join('\n');
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function specError(spec: string, why: string): Error {
  return new Error(`bad defense '${spec}': ${why} (known forms: ${knownDefenseForms()}; join with '+' to compose)`);
}

/** Parse ONE spec (no '+'): 'gaussian:1e-3' -> { kind: 'gaussian', variance: 0.001 }. Throws on bad specs. */
export function parseDefenseSpec(spec: string): DefenseSpec {
  const colon = spec.indexOf(':');
  const name = colon < 0 ? spec : spec.slice(0, colon);
  const entry = Object.prototype.hasOwnProperty.call(DEFENSES, name) ? DEFENSES[name as DefenseKind] : undefined;
  if (entry === undefined) throw specError(spec, `unknown defense '${name}'`);
  if (!entry.param) {
    if (colon >= 0) throw specError(spec, `${name} takes no parameter`);
    return { kind: name } as DefenseSpec;
  }
  if (colon < 0) throw specError(spec, `${name} needs ${entry.rule}, e.g. ${entry.example}`);
  const text = spec.slice(colon + 1);
  const v = Number(text);
  if (!DECIMAL.test(text) || !Number.isFinite(v)) throw specError(spec, `'${text}' is not a number; ${name} needs ${entry.rule}, e.g. ${entry.example}`);
  if (!entry.valid!(v)) throw specError(spec, `${name} needs ${entry.rule}, got ${v}`);
  return name === 'prune' ? { kind: 'prune', ratio: v } : ({ kind: name, variance: v } as DefenseSpec);
}

/** Canonical text of a parsed spec: { kind: 'gaussian', variance: 0.001 } -> 'gaussian:0.001'. */
export function formatDefenseSpec(spec: DefenseSpec): string {
  if (spec.kind === 'gaussian' || spec.kind === 'laplacian') return `${spec.kind}:${spec.variance}`;
  if (spec.kind === 'prune') return `${spec.kind}:${spec.ratio}`;
  return spec.kind;
}

/** The defense a parsed spec names. */
export function defenseFromSpec(spec: DefenseSpec): Defense {
  if (spec.kind === 'gaussian' || spec.kind === 'laplacian') return DEFENSES[spec.kind].make(spec.variance);
  if (spec.kind === 'prune') return DEFENSES.prune.make(spec.ratio);
  return DEFENSES[spec.kind].make(NaN);
}

/** Parse a '+'-joined list of specs into parsed specs (at least one). Throws on bad specs. */
export function parseDefenseSpecs(spec: string): DefenseSpec[] {
  if (typeof spec !== 'string' || spec.trim() === '') throw specError(String(spec), 'empty defense spec');
  return spec.split('+').map((s) => parseDefenseSpec(s.trim()));
}

/**
 * A CLI spec to a defense: 'gaussian:1e-3', 'laplacian:1e-2', 'fp16', 'int8', 'prune:0.3', 'none',
 * or several joined with '+' (applied left to right). Unknown or malformed -> Error listing the known
 * forms. The one parse of a spec: the result is the defense, and its `spec` is the canonical text
 * ('prune:.3 + gaussian:1e-3' -> 'prune:0.3+gaussian:0.001') that results and tables are keyed by.
 */
export function parseDefense(spec: string): NamedDefense {
  const steps = parseDefenseSpecs(spec);
  const defenses = steps.map(defenseFromSpec);
  const d = (defenses.length === 1 ? defenses[0] : compose(...defenses)) as NamedDefense;
  return Object.assign(d, { spec: steps.map(formatDefenseSpec).join('+'), steps });
}

/** Canonical text of a (possibly '+'-composed) spec: parseDefense(spec).spec. */
export function canonicalDefense(spec: string): string {
  return parseDefense(spec).spec;
}

/**
 * Apply defenses one after the other (left to right), all drawing from the same Rng. Intermediate
 * tensors are disposed; the input is not. compose() is `none()`.
 */
export function compose(...defenses: Defense[]): Defense {
  if (defenses.length === 0) return none();
  return (grads, rng) => {
    let current = grads;
    for (const d of defenses) {
      let next: Tensor[];
      try {
        next = d(current, rng);
      } finally {
        if (current !== grads) tf.dispose(current);
      }
      current = next;
    }
    return current;
  };
}

/**
 * The seed of a defense's random stream, derived from an experiment seed (murmur3 finaliser).
 * The model's initialisation and the attacker's dummy draw from createRng(seed) itself; noise drawn
 * from the same stream would repeat the weights' random numbers, which the attacker knows.
 */
export function defenseSeed(seed: number): number {
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  let h = (seed ^ 0x64656665) >>> 0; // 'defe'
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/**
 * Convenience: run `defense` on `grads` with an Rng seeded from `seed` (through defenseSeed, so the
 * experiment seed of the model can be passed as is). Returns new tensors; `grads` is untouched.
 */
export function applyDefense(defense: Defense | string, grads: Tensor[], seed: number): Tensor[] {
  const d = typeof defense === 'string' ? parseDefense(defense) : defense;
  const rng: Rng = createRng(defenseSeed(seed));
  return d(grads, rng);
}
