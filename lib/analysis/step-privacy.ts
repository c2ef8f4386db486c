/**
 * What ONE shared gradient under a defense guarantees: the epsilon a CLI prints beside an attack.
 *
 *   stepEpsilon('dp:1:1', 1e-5)
 *   // { defense: 'dp:1:1', clip: 1, sigma: 1, delta: 1e-5, epsilon: 4.73, order: 5.4, exactEpsilon: 4.22, ... }
 *
 * A client that shares the DP-SGD gradient of its batch once releases one Gaussian mechanism: the
 * clipped per-example gradients' sum has sensitivity C to adding or removing one example and gets
 * noise of standard deviation sigma C, so the noise multiplier is sigma, with no sampling (q = 1) and
 * one step (T = 1). `epsilon` is the RDP accountant's (lib/analysis/privacy.ts, improved conversion,
 * its DEFAULT_ORDERS), which is what the same accountant gives a whole training run; `exactEpsilon` is
 * the smallest epsilon of that one Gaussian mechanism (analytic Gaussian, Balle and Wang 2018).
 * Later steps of a composed spec ('dp:1:1+fp16') are post-processing and do not change either.
 * Defenses without a dp step (none, noise without clipping, fp16, int8, prune) and clip:C or dp:C:0
 * have no bounded-noise guarantee: epsilon Infinity (JSON.stringify writes it as null).
 */
import { parseDefense, dpParameters } from '../defenses';
import { gaussianRdpEpsilon, exactGaussianEpsilon } from './privacy';

/** The privacy of one shared gradient under a defense. */
export interface StepPrivacy {
  /** The defense's canonical spec. */
  defense: string;
  /** Clipping norm and noise multiplier of its dp (or clip) step; null without one. */
  clip: number | null;
  sigma: number | null;
  delta: number;
  /** RDP epsilon of one Gaussian mechanism with noise multiplier sigma (q = 1, T = 1); Infinity without a guarantee. */
  epsilon: number;
  /** The RDP order epsilon was read at (null when infinite). */
  order: number | null;
  /** The exact epsilon of the same Gaussian mechanism (tighter); Infinity without a guarantee. */
  exactEpsilon: number;
  /** Neighbouring datasets: the client's batch with or without one example. */
  neighbours: 'add-or-remove-one';
}

/** Default delta of the reports. */
export const STEP_DELTA = 1e-5;

/**
 * The epsilon of one shared gradient under `spec` at `delta` (default 1e-5). Throws the defense
 * parser's one-line error on a bad spec, and on a delta outside (0, 1).
 */
export function stepEpsilon(spec: string, delta: number = STEP_DELTA): StepPrivacy {
  const d = parseDefense(spec);
  if (!(delta > 0 && delta < 1)) throw new Error(`delta must be in (0, 1), got ${delta}`);
  const dp = dpParameters(d);
  if (dp === null || dp.sigma === 0) {
    return { defense: d.spec, clip: dp?.clip ?? null, sigma: dp?.sigma ?? null, delta, epsilon: Infinity, order: null, exactEpsilon: Infinity, neighbours: 'add-or-remove-one' };
  }
  const rdp = gaussianRdpEpsilon(dp.sigma, delta);
  return {
    defense: d.spec,
    clip: dp.clip,
    sigma: dp.sigma,
    delta,
    epsilon: rdp.epsilon,
    order: rdp.order,
    exactEpsilon: exactGaussianEpsilon(dp.sigma, delta),
    neighbours: 'add-or-remove-one',
  };
}
