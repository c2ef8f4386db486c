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
 *   clip:C               every example's gradient clipped to L2 norm C, then averaged     (per example)
 *   dp:C:SIGMA           DP-SGD: clip:C, plus N(0, (SIGMA C)^2) on the sum, then averaged (per example)
 *
 * Specs joined with '+' compose left to right: `prune:0.3+gaussian:1e-3` prunes, then adds noise.
 * Usage: `const d = parseDefense('gaussian:1e-3'); const shared = applyDefense(d, c.shared, seed)`; `d.spec` is
 * the canonical text ('gaussian:0.001').
 *
 * Per-example defenses (dp, clip; lib/defenses/dp.ts) need the gradient of every example of the batch,
 * not their mean: their registry entry says `input: 'per-example'`, they may only come first in a '+'
 * composition ('dp:1:1+fp16' clips, noises and averages, then rounds the result), and the parsed
 * defense carries them as `d.perExample` (applyPerExampleDefense; makeCase / defendCase and
 * trainWithDefense compute the per-example gradients themselves).
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
import { dpSgd } from './dp';
import type { AggregateOptions, PerExampleDefense } from './types';

export type { Defense, DefenseKind, DefenseSpec, NamedDefense, PerExampleDefense, AggregateOptions } from './types';
export { checkFinite } from './types';
export { gaussianNoise, laplacianNoise, laplaceSample } from './noise';
export { fp16, int8, roundToFloat16, roundArrayToFloat16, toFloat16Bits, fromFloat16Bits, quantizeInt8, roundHalfEven } from './precision';
export { prune, pruneArray, prunedCount } from './pruning';
export { dpSgd, perExampleNorms, clipFactors, readPerExample } from './dp';

/** The gradient unchanged (new tensors all the same: the caller may dispose input and output apart). */
export function none(): Defense {
  return (grads) => mapGradients(grads, (g) => Float32Array.from(g));
}

/** One numeric field of a spec, after the name: 'dp:C:SIGMA' has two. */
interface SpecField {
  /** Its name in the spec forms ('VARIANCE', 'C', ...). */
  name: string;
  /** The property of the parsed DefenseSpec that holds it. */
  key: 'variance' | 'ratio' | 'clip' | 'sigma';
  /** Accepts a parsed value. */
  valid: (v: number) => boolean;
  /** What a valid value is, for error messages. */
  rule: string;
}

interface EntryBase {
  /** The numeric fields after the name, in order (none for 'fp16'). */
  fields: readonly SpecField[];
  example: string;
  help: string;
}

/** A defense of the batch's gradient, or one that needs the per-example gradients (must come first in a composition). */
type DefenseEntry =
  | (EntryBase & { input: 'gradient'; make: (v: number[]) => Defense })
  | (EntryBase & { input: 'per-example'; make: (v: number[]) => PerExampleDefense });

const VARIANCE: SpecField = { name: 'VARIANCE', key: 'variance', valid: (v) => v >= 0, rule: 'a variance >= 0' };
const RATIO: SpecField = { name: 'RATIO', key: 'ratio', valid: (v) => v >= 0 && v <= 1, rule: 'a ratio in [0, 1]' };
const CLIP: SpecField = { name: 'C', key: 'clip', valid: (v) => v > 0, rule: 'a clipping norm C > 0' };
const SIGMA: SpecField = { name: 'SIGMA', key: 'sigma', valid: (v) => v >= 0, rule: 'a noise multiplier SIGMA >= 0' };

/** Every known defense, by spec name. */
export const DEFENSES: Readonly<Record<DefenseKind, DefenseEntry>> = {
  none: { input: 'gradient', fields: [], example: 'none', help: 'no defense (the gradient copied unchanged)', make: () => none() },
  gaussian: {
    input: 'gradient', fields: [VARIANCE], example: 'gaussian:1e-3',
    help: 'add N(0, VARIANCE) noise to every entry', make: ([v]) => gaussianNoise(v),
  },
  laplacian: {
    input: 'gradient', fields: [VARIANCE], example: 'laplacian:1e-2',
    help: 'add Laplace noise of variance VARIANCE (scale sqrt(VARIANCE/2)) to every entry', make: ([v]) => laplacianNoise(v),
  },
  fp16: { input: 'gradient', fields: [], example: 'fp16', help: 'round every entry to IEEE half precision', make: () => fp16() },
  int8: { input: 'gradient', fields: [], example: 'int8', help: 'symmetric per-tensor int8 quantisation (scale max|g|/127)', make: () => int8() },
  prune: {
    input: 'gradient', fields: [RATIO], example: 'prune:0.3',
    help: 'per tensor, zero the RATIO fraction of smallest-magnitude entries', make: ([v]) => prune(v),
  },
  clip: {
    input: 'per-example', fields: [CLIP], example: 'clip:1',
    help: "clip every example's gradient to L2 norm C (all parameters jointly), then average (per example; first)", make: ([c]) => dpSgd(c, 0),
  },
  dp: {
    input: 'per-example', fields: [CLIP, SIGMA], example: 'dp:1:1',
    help: 'DP-SGD: clip:C, add N(0, (SIGMA C)^2) to the sum, then average (per example; first)', make: ([c, s]) => dpSgd(c, s),
  },
};

function formOf(name: string, e: DefenseEntry): string {
  return [name, ...e.fields.map((f) => f.name)].join(':');
}

/** "none, gaussian:VARIANCE, laplacian:VARIANCE, fp16, int8, prune:RATIO, clip:C, dp:C:SIGMA" */
export function knownDefenseForms(): string {
  return Object.entries(DEFENSES).map(([name, e]) => formOf(name, e)).join(', ');
}

/** One line per defense, for --help texts. */
export function defenseHelp(): string {
  return Object.entries(DEFENSES).map(([name, e]) => `${formOf(name, e).padEnd(20)} ${e.help}`).join('\n');
}

/** Whether a parsed step works on per-example gradients (dp, clip). */
export function isPerExampleStep(spec: DefenseSpec): boolean {
  return DEFENSES[spec.kind].input === 'per-example';
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function specError(spec: string, why: string): Error {
  return new Error(`bad defense '${spec}': ${why} (known forms: ${knownDefenseForms()}; join with '+' to compose)`);
}

/** Parse ONE spec (no '+'): 'gaussian:1e-3' -> { kind: 'gaussian', variance: 0.001 }. Throws on bad specs. */
export function parseDefenseSpec(spec: string): DefenseSpec {
  const parts = spec.split(':');
  const name = parts[0];
  const entry = Object.prototype.hasOwnProperty.call(DEFENSES, name) ? DEFENSES[name as DefenseKind] : undefined;
  if (entry === undefined) throw specError(spec, `unknown defense '${name}'`);
  const { fields } = entry;
  const texts = parts.slice(1);
  const needs = fields.map((f) => f.rule).join(' and ');
  if (fields.length === 0) {
    if (texts.length > 0) throw specError(spec, `${name} takes no parameter`);
    return { kind: name } as DefenseSpec;
  }
  if (texts.length === 0) throw specError(spec, `${name} needs ${needs}, e.g. ${entry.example}`);
  if (texts.length !== fields.length) {
    throw specError(spec, `${name} takes ${fields.length} field${fields.length > 1 ? 's' : ''} (${formOf(name, entry)}), got ${texts.length}; e.g. ${entry.example}`);
  }
  const parsed: Record<string, number | string> = { kind: name };
  fields.forEach((f, i) => {
    const text = texts[i];
    const v = Number(text);
    if (!DECIMAL.test(text) || !Number.isFinite(v)) throw specError(spec, `'${text}' is not a number; ${name} needs ${needs}, e.g. ${entry.example}`);
    if (!f.valid(v)) throw specError(spec, `${name} needs ${f.rule}, got ${v}`);
    parsed[f.key] = v;
  });
  return parsed as unknown as DefenseSpec;
}

/** The numeric fields of a parsed spec, in spec order. */
function fieldValues(spec: DefenseSpec): number[] {
  const values = spec as unknown as Record<string, number>;
  return DEFENSES[spec.kind].fields.map((f) => values[f.key]);
}

/** Canonical text of a parsed spec: { kind: 'gaussian', variance: 0.001 } -> 'gaussian:0.001', { kind: 'dp', clip: 1, sigma: 0.5 } -> 'dp:1:0.5'. */
export function formatDefenseSpec(spec: DefenseSpec): string {
  return [spec.kind, ...fieldValues(spec).map(String)].join(':');
}

/** The defense of a batch's gradient that a parsed spec names; throws for per-example steps (see perExampleFromSpec). */
export function defenseFromSpec(spec: DefenseSpec): Defense {
  const entry = DEFENSES[spec.kind];
  if (entry.input === 'per-example') throw new Error(`defense '${formatDefenseSpec(spec)}' works on per-example gradients: use perExampleFromSpec`);
  return entry.make(fieldValues(spec));
}

/** The per-example defense that a parsed dp or clip spec names. */
export function perExampleFromSpec(spec: DefenseSpec): PerExampleDefense {
  const entry = DEFENSES[spec.kind];
  if (entry.input !== 'per-example') throw new Error(`defense '${formatDefenseSpec(spec)}' works on the batch's gradient: use defenseFromSpec`);
  return entry.make(fieldValues(spec));
}

/**
 * Parse a '+'-joined list of specs into parsed specs (at least one). Throws on bad specs, and when a
 * per-example step (dp, clip) is not the first: after any other step the per-example gradients are gone.
 */
export function parseDefenseSpecs(spec: string): DefenseSpec[] {
  if (typeof spec !== 'string' || spec.trim() === '') throw specError(String(spec), 'empty defense spec');
  const steps = spec.split('+').map((s) => parseDefenseSpec(s.trim()));
  steps.forEach((s, i) => {
    if (i > 0 && isPerExampleStep(s)) {
      throw specError(spec, `${formatDefenseSpec(s)} works on per-example gradients and must come first in a '+' composition (e.g. ${formatDefenseSpec(s)}+fp16)`);
    }
  });
  return steps;
}

/**
 * A CLI spec to a defense: 'gaussian:1e-3', 'laplacian:1e-2', 'fp16', 'int8', 'prune:0.3', 'none',
 * 'clip:1', 'dp:1:0.5', or several joined with '+' (applied left to right; dp and clip only first).
 * Unknown or malformed -> Error listing the known forms. The one parse of a spec: the result is the
 * defense, and its `spec` is the canonical text ('prune:.3 + gaussian:1e-3' -> 'prune:0.3+gaussian:0.001')
 * that results and tables are keyed by. For a spec starting with dp or clip, `perExample` is the
 * defense and calling the result itself throws (see NamedDefense).
 */
export function parseDefense(spec: string): NamedDefense {
  const steps = parseDefenseSpecs(spec);
  const canonical = steps.map(formatDefenseSpec).join('+');
  if (isPerExampleStep(steps[0])) {
    const first = perExampleFromSpec(steps[0]);
    const rest = steps.slice(1).map(defenseFromSpec);
    const perExample: PerExampleDefense = (rows, rng, options?: AggregateOptions) => {
      const shared = first(rows, rng, options);
      if (rest.length === 0) return shared;
      try {
        return compose(...rest)(shared, rng);
      } finally {
        tf.dispose(shared);
      }
    };
    const refuse: Defense = () => {
      throw new Error(`defense '${canonical}' works on per-example gradients, not on a batch's gradient: apply it with applyPerExampleDefense, makeCase / defendCase or trainWithDefense`);
    };
    return Object.assign(refuse, { spec: canonical, steps, perExample });
  }
  const defenses = steps.map(defenseFromSpec);
  const d = (defenses.length === 1 ? defenses[0] : compose(...defenses)) as NamedDefense;
  return Object.assign(d, { spec: canonical, steps });
}

/**
 * The DP-SGD step a defense starts with: { clip, sigma } for 'dp:C:SIGMA...' and { clip, sigma: 0 } for
 * 'clip:C...'; null for every other defense (no clipping, so no bounded sensitivity and no DP guarantee).
 * Later steps ('dp:1:1+fp16') are post-processing and change nothing in the guarantee.
 */
export function dpParameters(defense: Defense | string): { clip: number; sigma: number } | null {
  const d = typeof defense === 'string' ? parseDefense(defense) : defense;
  const first = (d as Partial<NamedDefense>).steps?.[0];
  if (first?.kind === 'dp') return { clip: first.clip, sigma: first.sigma };
  if (first?.kind === 'clip') return { clip: first.clip, sigma: 0 };
  return null;
}

/** The per-example defense of `defense` (a spec or a parsed defense), or undefined when it works on the batch's gradient. */
export function perExampleOf(defense: Defense | string): PerExampleDefense | undefined {
  const d = typeof defense === 'string' ? parseDefense(defense) : defense;
  return (d as Partial<NamedDefense>).perExample;
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

/**
 * Convenience: run a per-example defense ('dp:1:1', or a parsed one) on per-example gradients
 * ([batch, ...shape] per parameter, lib/models/per-example.ts), with an Rng seeded from `seed` through
 * defenseSeed. Returns the shared gradient (new tensors); the input is untouched.
 */
export function applyPerExampleDefense(defense: Defense | string, perExample: Tensor[], seed: number, options?: AggregateOptions): Tensor[] {
  const d = perExampleOf(defense);
  if (d === undefined) {
    const spec = typeof defense === 'string' ? defense : (defense as Partial<NamedDefense>).spec ?? 'custom';
    throw new Error(`defense '${spec}' works on the batch's gradient, not on per-example gradients: use applyDefense`);
  }
  return d(perExample, createRng(defenseSeed(seed)), options);
}
