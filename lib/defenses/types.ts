/**
 * Gradient defenses (paper, "Defenses"): what a client may do to its gradient before sharing it.
 * A defense is a plain function from gradients (one tensor per parameter) to new gradients.
 *
 * Also the plumbing every defense shares: read each gradient once into plain JS, check that it is
 * finite, transform a fresh copy, build a new tensor of the same shape. Inputs are never written to
 * (on the cpu backend dataSync() may hand out the tensor's own storage).
 */
import { tf } from '../engine';
import type { Tensor } from '@tensorflow/tfjs';
import type { Rng } from '../rng';

/**
 * Gradients in, new gradients out: one float32 tensor per input, same shape, same order.
 * A defense never disposes or mutates its input; the caller owns (and disposes) the output.
 * Randomised defenses draw only from `rng` (tensors in order, entries in row-major order), so the
 * same seed gives the same output. A non-finite input throws "gradient <i> contains NaN or Infinity".
 */
export type Defense = (grads: Tensor[], rng: Rng) => Tensor[];

/** How a per-example defense turns the batch into one gradient. */
export interface AggregateOptions {
  /**
   * Divide the (clipped, noised) sum by this instead of the batch size: the expected batch size q N
   * under Poisson sampling, whose actual batch size is random (and may be 0). Default: the batch size.
   */
  denominator?: number;
}

/**
 * A defense that needs every example's gradient (DP-SGD, lib/defenses/dp.ts): per-example gradients
 * in (one tensor per parameter, shape [batch, ...parameter shape], as lib/models/per-example.ts
 * returns them), the shared gradient of the batch out (one tensor per parameter). Same contract as
 * Defense otherwise: inputs untouched, outputs owned by the caller, randomness from `rng` only.
 */
export type PerExampleDefense = (perExample: Tensor[], rng: Rng, options?: AggregateOptions) => Tensor[];

/** The parsed form of a CLI defense spec (see parseDefenseSpec in index.ts). */
export type DefenseSpec =
  | { kind: 'none' }
  | { kind: 'gaussian'; variance: number }
  | { kind: 'laplacian'; variance: number }
  | { kind: 'fp16' }
  | { kind: 'int8' }
  | { kind: 'prune'; ratio: number }
  | { kind: 'clip'; clip: number }
  | { kind: 'dp'; clip: number; sigma: number };

export type DefenseKind = DefenseSpec['kind'];

/**
 * A parsed defense (lib/defenses parseDefense): the function, its canonical spec text and its steps.
 * When the first step works on per-example gradients (dp, clip), `perExample` is the whole defense,
 * from per-example gradients to the shared gradient, and the function itself throws: a gradient that
 * is already averaged over the batch cannot be clipped per example (makeCase / defendCase and
 * trainWithDefense compute the per-example gradients and call `perExample`).
 */
export type NamedDefense = Defense & {
  readonly spec: string;
  readonly steps: readonly DefenseSpec[];
  readonly perExample?: PerExampleDefense;
};

/** Throw "gradient <i> contains NaN or Infinity" if `data` has a non-finite entry. */
export function checkFinite(data: ArrayLike<number>, i: number): void {
  // One multiply-add per entry: x * 0 is 0 for finite x and NaN for NaN or +-Infinity.
  let probe = 0;
  for (let j = 0; j < data.length; j++) probe += data[j] * 0;
  if (probe !== 0) throw new Error(`gradient ${i} contains NaN or Infinity`);
}

/**
 * Build a defense's outputs: `f` gets every gradient's values (read-only: it must return a NEW
 * Float32Array of the same length) and its index. All inputs are read and checked before `f` runs
 * or any tensor is created, so an error leaks no tensor and consumes no randomness.
 */
export function mapGradients(grads: Tensor[], f: (values: Float32Array, index: number) => Float32Array): Tensor[] {
  const values = grads.map((g, i) => {
    if (g.dtype !== 'float32') throw new Error(`gradient ${i} has dtype ${g.dtype}, expected float32`);
    const d = g.dataSync() as Float32Array;
    checkFinite(d, i);
    return d;
  });
  const outs = values.map((d, i) => {
    const out = f(d, i);
    if (out === d || out.length !== d.length) throw new Error(`defense returned a bad array for gradient ${i}`);
    return out;
  });
  return outs.map((out, i) => tf.tensor(out, grads[i].shape, 'float32'));
}
