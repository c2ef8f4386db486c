/**
 * DP-SGD's gradient step (Abadi et al. 2016, "Deep Learning with Differential Privacy", Algorithm 1)
 * as a client's defense. It needs the gradient of every example of the batch, not their mean:
 *
 *   g~ = ( sum_b clip_C(g_b) + N(0, sigma^2 C^2 I) ) / D,     clip_C(g) = g * min(1, C / ||g||_2)
 *
 * g_b: example b's gradient (all parameter tensors together as one vector: the norm is joint over
 * every parameter); C: the clipping norm; sigma: the noise multiplier (noise standard deviation
 * sigma * C on the SUM, whose sensitivity to adding or removing one example is C); D: the
 * normalisation, by default the batch size B (the mean of the clipped gradients plus noise of standard
 * deviation sigma C / B per entry). With Poisson sampling the batch size is itself random and not
 * public, so training divides by the EXPECTED batch size q N instead (as Opacus does):
 * `options.denominator` (lib/cases/train.ts passes it).
 *
 *   spec          defense
 *   dp:C:SIGMA    clip every example's gradient to norm C, sum, add N(0, (SIGMA C)^2) to every entry, divide by D
 *   clip:C        clipping alone (dp:C:0: no noise, no formal guarantee)
 *
 * For a batch of one (single-image DLG) dp:C:SIGMA clips the gradient to norm C and adds
 * N(0, (SIGMA C)^2) noise to every entry. The privacy this buys is computed by lib/analysis/privacy.ts.
 *
 * Arithmetic: norms, scaling, sums and noise in float64, one rounding to float32 at the end. The
 * clipped rows then have norm <= C up to that rounding (relative 2^-24): floating-point side channels
 * of DP (Mironov 2012) are out of scope here. Noise: one rng.normal() per entry of the shared
 * gradient, tensors in order, entries row-major (none at all when SIGMA = 0).
 */
import { tf } from '../engine';
import type { Tensor } from '@tensorflow/tfjs';
import type { Rng } from '../rng';
import { checkFinite } from './types';
import type { AggregateOptions, PerExampleDefense } from './types';

function checkClip(clip: number): void {
  if (!(Number.isFinite(clip) && clip > 0)) throw new Error(`clipping norm C must be a finite number > 0, got ${clip}`);
}

function checkSigma(sigma: number): void {
  if (!(Number.isFinite(sigma) && sigma >= 0)) throw new Error(`noise multiplier sigma must be a finite number >= 0, got ${sigma}`);
}

/** Per-example gradients read into plain arrays (checked: float32, finite, one batch size), with that batch size. */
export function readPerExample(perExample: Tensor[]): { rows: Float32Array[]; batch: number } {
  if (!Array.isArray(perExample) || perExample.length === 0) throw new Error('per-example gradients: expected one tensor per parameter, got none');
  const batch = perExample[0].shape[0];
  const rows = perExample.map((g, i) => {
    if (g.rank < 1 || g.shape[0] !== batch) throw new Error(`per-example gradient ${i} has shape ${JSON.stringify(g.shape)}: every tensor needs the same leading batch dimension ${batch}`);
    if (g.dtype !== 'float32') throw new Error(`gradient ${i} has dtype ${g.dtype}, expected float32`);
    const d = g.dataSync() as Float32Array;
    checkFinite(d, i);
    return d;
  });
  return { rows, batch };
}

/**
 * Each example's L2 norm over all parameters jointly (float64): norms[b] = sqrt(sum_i ||rows[i][b]||^2),
 * rows[i] holding `batch` rows of rows[i].length / batch values.
 */
export function perExampleNorms(rows: Float32Array[], batch: number): Float64Array {
  const norms = new Float64Array(batch);
  for (const r of rows) {
    const n = r.length / batch;
    for (let b = 0; b < batch; b++) {
      let s = 0;
      for (let j = b * n; j < (b + 1) * n; j++) s += r[j] * r[j];
      norms[b] += s;
    }
  }
  for (let b = 0; b < batch; b++) norms[b] = Math.sqrt(norms[b]);
  return norms;
}

/** The clipping factors min(1, C / ||g_b||) (1 for a zero gradient). */
export function clipFactors(norms: Float64Array, clip: number): Float64Array {
  checkClip(clip);
  return norms.map((n) => (n > clip ? clip / n : 1));
}

/**
 * The DP-SGD step with clipping norm `clip` and noise multiplier `sigma` (sigma = 0: clipping only).
 * Per-example gradients in (one tensor per parameter, [batch, ...shape]), the shared gradient out
 * (one tensor per parameter, [...shape]). Inputs are read and checked before any noise is drawn.
 */
export function dpSgd(clip: number, sigma: number): PerExampleDefense {
  checkClip(clip);
  checkSigma(sigma);
  const sd = sigma * clip;
  return (perExample: Tensor[], rng: Rng, options: AggregateOptions = {}): Tensor[] => {
    const { rows, batch } = readPerExample(perExample);
    const denominator = options.denominator ?? batch;
    if (!(Number.isFinite(denominator) && denominator > 0)) {
      throw new Error(batch === 0 && options.denominator === undefined
        ? 'an empty batch needs options.denominator (the expected batch size) to be normalised'
        : `denominator must be a number > 0, got ${denominator}`);
    }
    const factors = clipFactors(perExampleNorms(rows, batch), clip);
    const sums = rows.map((r, i) => {
      const n = shapeSize(perExample[i].shape.slice(1));
      const s = new Float64Array(n);
      for (let b = 0; b < batch; b++) {
        const f = factors[b];
        const o = b * n;
        for (let j = 0; j < n; j++) s[j] += f * r[o + j];
      }
      return s;
    });
    if (sd > 0) for (const s of sums) for (let j = 0; j < s.length; j++) s[j] += sd * rng.normal();
    return sums.map((s, i) => {
      const out = new Float32Array(s.length);
      for (let j = 0; j < s.length; j++) out[j] = s[j] / denominator;
      return tf.tensor(out, perExample[i].shape.slice(1), 'float32');
    });
  };
}

function shapeSize(shape: number[]): number {
  return shape.reduce((a, v) => a * v, 1);
}
