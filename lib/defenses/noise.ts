/**
 * Additive noise defenses (paper, "Defenses": Gaussian and Laplacian noise, variance 1e-4 .. 1e-1).
 * The parameter is the noise VARIANCE, as in the paper's sweep (not the standard deviation):
 *   gaussian: N(0, variance), standard deviation sqrt(variance);
 *   laplacian: Laplace(0, b) with scale b = sqrt(variance / 2) (its variance is 2 b^2).
 * One independent draw per gradient entry, from the seeded Rng, tensors in order.
 */
import { mapGradients } from './types';
import type { Defense } from './types';
import type { Rng } from '../rng';

function checkVariance(name: string, variance: number): void {
  if (!(Number.isFinite(variance) && variance >= 0)) throw new Error(`${name} noise variance must be a finite number >= 0, got ${variance}`);
}

/** One Laplace(0, b) draw by inverting the CDF of a uniform in (0, 1). */
export function laplaceSample(rng: Rng, b: number): number {
  let u = rng.next();
  while (u === 0) u = rng.next(); // u in (0, 1): log never sees 0
  return u < 0.5 ? b * Math.log(2 * u) : -b * Math.log(2 * (1 - u));
}

/** Add N(0, variance) noise to every gradient entry. */
export function gaussianNoise(variance: number): Defense {
  checkVariance('gaussian', variance);
  const sd = Math.sqrt(variance);
  return (grads, rng) =>
    mapGradients(grads, (g) => {
      const out = new Float32Array(g.length);
      for (let j = 0; j < g.length; j++) out[j] = g[j] + sd * rng.normal();
      return out;
    });
}

/** Add Laplace noise of the given variance (scale b = sqrt(variance / 2)) to every gradient entry. */
export function laplacianNoise(variance: number): Defense {
  checkVariance('laplacian', variance);
  const b = Math.sqrt(variance / 2);
  return (grads, rng) =>
    mapGradients(grads, (g) => {
      const out = new Float32Array(g.length);
      for (let j = 0; j < g.length; j++) out[j] = g[j] + laplaceSample(rng, b);
      return out;
    });
}
