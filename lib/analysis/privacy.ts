/**
 * The privacy accountant of DP-SGD: the (epsilon, delta) that T steps of the Poisson-subsampled
 * Gaussian mechanism guarantee, by Renyi differential privacy (RDP).
 *
 * One DP-SGD step (lib/defenses/dp.ts) adds N(0, (sigma C)^2) to the sum of per-example gradients
 * clipped to norm C, over a batch in which each of the N training examples is included
 * independently with probability q (Poisson sampling). Its RDP at order a > 1 is
 *     q = 1 (no sampling, e.g. one shared step):  a / (2 sigma^2)               (Mironov 2017)
 *     0 < q < 1:  log(A_a) / (a - 1)                          (Mironov, Talwar, Zhang 2019)
 * with A_a = sum_i binom(a, i) q^i (1 - q)^(a - i) exp((i^2 - i) / (2 sigma^2)) for integer a, and,
 * for fractional a, the two-sided erfc series of their Sec. 3.3. RDP adds up over steps (T times
 * the one-step value) and is converted to (epsilon, delta)-DP at the best order of a list:
 *     'improved' (default): eps = rdp + log1p(-1/a) - log(delta a) / (a - 1)  for a > 1.01
 *                (Balle et al. 2020, Thm. 21; Canonne, Kamath, Steinke 2020), and eps = 0 where
 *                delta^2 + expm1(-rdp) > 0 (the KL bound) -- dp_accounting 0.6.0's compute_epsilon,
 *                which TensorFlow Privacy uses, and (without the KL case) Opacus 1.6;
 *     'classic': eps = rdp + log(1/delta) / (a - 1)  (Mironov 2017, Prop. 3) -- what TensorFlow
 *                Privacy and Opacus used when their published examples were written.
 * Neighbouring datasets differ by adding or removing one example (the relation of the SGM analysis).
 *
 * The code is a port of dp_accounting 0.6.0 (rdp_privacy_accountant.py): the same orders, the same
 * series, its termination rule (at most 1000 terms; an order whose series does not converge counts
 * as RDP = Infinity, so the result stays an upper bound) and its summing of the fractional series in
 * absolute value (an upper bound on A_a). test/privacy.test.ts checks every order against it
 * (test/golden/privacy_golden.py) and the epsilons against the published examples of TensorFlow
 * Privacy, Opacus and Abadi et al. 2016.
 *
 * Also here: the exact epsilon of one Gaussian mechanism (analytic Gaussian, Balle and Wang 2018),
 * tighter than any RDP conversion; and log erfc and log|Gamma| in float64.
 *
 * Why in lib/analysis: the accountant is arithmetic on public numbers (sigma, q, T, delta), a
 * statement about a defense or a training run, not part of computing one; like the metrics it is used
 * by whoever reports results (training, experiments, the CLI), and it needs no tensors. The attacker
 * never needs it (attacks/ must not import analysis/).
 */

/** dp_accounting's DEFAULT_RDP_ORDERS: 1.1, 1.2, ..., 10.9, then 11..63, then 128, 256, 512, 1024. */
export const DEFAULT_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, x) => 1 + (x + 1) / 10),
  ...Array.from({ length: 53 }, (_, x) => 11 + x),
  128, 256, 512, 1024,
]);

/**
 * Opacus's RDPAccountant.DEFAULT_ALPHAS (also TensorFlow Privacy's orders of 2019): 1.1 .. 10.9, 12..63.
 * The published examples of both libraries were computed on these orders with the classic conversion.
 */
export const OPACUS_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, x) => 1 + (x + 1) / 10),
  ...Array.from({ length: 52 }, (_, x) => 12 + x),
]);

/** How RDP is turned into (epsilon, delta): see the file comment. */
export type RdpConversion = 'improved' | 'classic';

// ---------------------------------------------------------------- special functions (float64)

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/** log|Gamma(x)| (Lanczos, g = 7, n = 9; reflection below 1/2): relative error ~1e-15, as scipy's gammaln. */
export function logGamma(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return Infinity;
  if (Number.isInteger(x) && x <= 0) return Infinity; // poles
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i] / (z + i);
  return LOG_SQRT_2PI + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** log|binom(n, k)| for real n, k (as dp_accounting's _log_comb). */
export function logBinomial(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

/** exp(x^2) erfc(x) for x >= 2, by the continued fraction erfc(x) = e^{-x^2}/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))). */
function erfcxContinuedFraction(x: number): number {
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 10000; n++) {
    const a = n / 2;
    d = x + a * d;
    if (d === 0) d = tiny;
    d = 1 / d;
    c = x + a / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return 1 / (Math.sqrt(Math.PI) * f);
}

/** erf(x) for |x| < 2 by the series (2/sqrt(pi)) e^{-x^2} sum_n 2^n x^(2n+1) / (1*3*...*(2n+1)) (all terms of one sign). */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (Math.abs(term) < 1e-17 * Math.abs(sum)) break;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum;
}

/** log(erfc(x)) in float64 for every real x, without underflow for large x (erfc(30) ~ 1e-393). */
export function logErfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return -Infinity;
  if (x === -Infinity) return Math.LN2;
  if (x >= 2) return -x * x + Math.log(erfcxContinuedFraction(x));
  if (x > -2) return Math.log1p(-erfSeries(x)); // erfc(x) >= erfc(2) ~ 4.7e-3: the cancellation costs < 3 digits
  // x <= -2: erfc(x) = 2 - erfc(-x), erfc(-x) small
  return Math.LN2 + Math.log1p(-0.5 * Math.exp(-x * x) * erfcxContinuedFraction(-x));
}

/** log(Phi(z)), Phi the standard normal CDF: log(erfc(-z / sqrt 2) / 2). */
export function logNormalCdf(z: number): number {
  return logErfc(-z / Math.SQRT2) - Math.LN2;
}

/** log(e^a + e^b) without overflow. */
function logAdd(a: number, b: number): number {
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  if (lo === -Infinity) return hi;
  return Math.log1p(Math.exp(lo - hi)) + hi;
}

// ---------------------------------------------------------------- RDP of the sampled Gaussian mechanism

function logAInteger(q: number, sigma: number, alpha: number): number {
  let logA = -Infinity;
  const log1mq = Math.log1p(-q);
  const logq = Math.log(q);
  for (let i = 0; i <= alpha; i++) {
    const logCoef = logBinomial(alpha, i) + i * logq + (alpha - i) * log1mq;
    logA = logAdd(logA, logCoef + (i * i - i) / (2 * sigma ** 2));
  }
  return logA;
}

/** Terms of the fractional series before it counts as not converging (dp_accounting's _MAX_STEPS_LOG_A_FRAC). */
const MAX_FRACTIONAL_TERMS = 1000;

function logAFractional(q: number, sigma: number, alpha: number): number {
  let logA0 = -Infinity;
  let logA1 = -Infinity;
  const z0 = sigma ** 2 * Math.log(1 / q - 1) + 0.5;
  const log1mq = Math.log1p(-q);
  const logq = Math.log(q);
  let last0 = -Infinity;
  let last1 = -Infinity;
  for (let i = 0; i < MAX_FRACTIONAL_TERMS; i++) {
    const logCoef = logBinomial(alpha, i);
    const j = alpha - i;
    const logT0 = logCoef + i * logq + j * log1mq;
    const logT1 = logCoef + j * logq + i * log1mq;
    const logE0 = Math.log(0.5) + logErfc((i - z0) / (Math.sqrt(2) * sigma));
    const logE1 = Math.log(0.5) + logErfc((z0 - j) / (Math.sqrt(2) * sigma));
    const logS0 = logT0 + (i * i - i) / (2 * sigma ** 2) + logE0;
    const logS1 = logT1 + (j * j - j) / (2 * sigma ** 2) + logE1;
    logA0 = logAdd(logA0, logS0);
    logA1 = logAdd(logA1, logS1);
    const total = logAdd(logA0, logA1);
    // stop once both terms decrease and are negligible (e^-30) next to the sum
    if (logS0 < last0 && logS1 < last1 && Math.max(logS0, logS1) < total - 30) return total;
    last0 = logS0;
    last1 = logS1;
  }
  return Infinity; // not converged: this order gives no bound
}

function checkMechanism(q: number, sigma: number): void {
  if (!(q >= 0 && q <= 1)) throw new Error(`sampling rate q must be in [0, 1], got ${q}`);
  if (!(sigma >= 0)) throw new Error(`noise multiplier sigma must be >= 0, got ${sigma}`);
}

function checkOrder(alpha: number): void {
  if (!(alpha > 1)) throw new Error(`RDP orders must be > 1, got ${alpha}`);
}

/**
 * RDP at order `alpha` (> 1) of ONE step of the Gaussian mechanism with noise multiplier `sigma`
 * (noise standard deviation / L2 sensitivity) on a Poisson sample of rate `q`.
 * q = 0: 0; sigma = 0 or alpha = Infinity: Infinity; q = 1: alpha / (2 sigma^2).
 */
export function rdpSampledGaussian(q: number, sigma: number, alpha: number): number {
  checkMechanism(q, sigma);
  checkOrder(alpha);
  if (q === 0) return 0;
  if (alpha === Infinity || sigma === 0) return Infinity;
  if (q === 1) return alpha / (2 * sigma ** 2);
  const logA = Number.isInteger(alpha) ? logAInteger(q, sigma, alpha) : logAFractional(q, sigma, alpha);
  return logA / (alpha - 1);
}

/** RDP of `steps` steps (composition: the sum, here `steps` times one step) at every order. */
export function rdpSteps(q: number, sigma: number, steps: number, orders: readonly number[] = DEFAULT_ORDERS): number[] {
  if (!(Number.isInteger(steps) && steps >= 0)) throw new Error(`steps must be an integer >= 0, got ${steps}`);
  return orders.map((a) => {
    const r = rdpSampledGaussian(q, sigma, a);
    return steps === 0 ? 0 : r * steps;
  });
}

/** An (epsilon, delta) guarantee and the order it was read at (null when no order gives a bound). */
export interface EpsilonAtOrder {
  epsilon: number;
  order: number | null;
}

/**
 * The smallest epsilon over the orders for which RDP values `rdp` give (epsilon, delta)-DP.
 * 'improved' as dp_accounting's compute_epsilon; 'classic' as Mironov 2017, Prop. 3. Ties go to the
 * first order (numpy's argmin).
 */
export function epsilonFromRdp(orders: readonly number[], rdp: readonly number[], delta: number, conversion: RdpConversion = 'improved'): EpsilonAtOrder {
  if (orders.length !== rdp.length) throw new Error(`${orders.length} orders but ${rdp.length} RDP values`);
  if (orders.length === 0) throw new Error('no RDP orders');
  if (!(delta >= 0 && delta < 1)) throw new Error(`delta must be in [0, 1), got ${delta}`);
  if (conversion !== 'improved' && conversion !== 'classic') throw new Error(`conversion must be 'improved' or 'classic', got '${conversion}'`);
  orders.forEach(checkOrder);
  if (delta === 0) return rdp.every((r) => r === 0) ? { epsilon: 0, order: null } : { epsilon: Infinity, order: null };
  let best = Infinity;
  let bestOrder: number | null = null;
  orders.forEach((a, k) => {
    const r = rdp[k];
    let eps: number;
    if (conversion === 'classic') {
      eps = r - Math.log(delta) / (a - 1);
    } else if (r < 0) {
      eps = 0;
    } else if (delta ** 2 + Math.expm1(-r) > 0) {
      eps = 0; // the KL bound: delta <= sqrt(1 - exp(-rdp)) already holds
    } else if (a > 1.01) {
      eps = r + Math.log1p(-1 / a) - Math.log(delta * a) / (a - 1);
    } else {
      eps = Infinity;
    }
    if (eps < best) {
      best = eps;
      bestOrder = a;
    }
  });
  return { epsilon: Math.max(0, best), order: bestOrder };
}

/** What DP-SGD's accountant needs: the noise multiplier, the sampling rate, the steps and delta. */
export interface DpSgdAccounting {
  /** Noise multiplier: noise standard deviation / clipping norm (sigma of dp:C:sigma). */
  sigma: number;
  /** Poisson sampling rate (expected batch size / training-set size); 1 for a single shared step. */
  q: number;
  /** Number of steps (noisy gradients released). */
  steps: number;
  delta: number;
  /** RDP orders; default DEFAULT_ORDERS. */
  orders?: readonly number[];
  /** Default 'improved'. */
  conversion?: RdpConversion;
}

/** Epsilon of `steps` DP-SGD steps with Poisson sampling at rate q, noise multiplier sigma, at delta. */
export function dpSgdEpsilon(options: DpSgdAccounting): EpsilonAtOrder {
  const { sigma, q, steps, delta } = options;
  const orders = options.orders ?? DEFAULT_ORDERS;
  return epsilonFromRdp(orders, rdpSteps(q, sigma, steps, orders), delta, options.conversion ?? 'improved');
}

/** RDP epsilon of ONE Gaussian mechanism (q = 1, T = 1) with noise multiplier sigma: min over orders of a/(2 sigma^2) + conversion. */
export function gaussianRdpEpsilon(sigma: number, delta: number, conversion: RdpConversion = 'improved', orders: readonly number[] = DEFAULT_ORDERS): EpsilonAtOrder {
  return dpSgdEpsilon({ sigma, q: 1, steps: 1, delta, conversion, orders });
}

// ---------------------------------------------------------------- the exact Gaussian mechanism

/** log delta(eps) of the Gaussian mechanism with noise multiplier sigma (Balle and Wang 2018, eq. 6). */
function gaussianLogDelta(sigma: number, eps: number): number {
  const t = eps * sigma + 1 / (2 * sigma);
  const x = logNormalCdf(1 / sigma - t);
  const y = eps + logNormalCdf(-t);
  return y <= x ? x + Math.log1p(-Math.exp(y - x)) : -Infinity;
}

/**
 * The exact (smallest) epsilon of one Gaussian mechanism with noise multiplier sigma at delta: the
 * analytic Gaussian mechanism (Balle and Wang 2018), as dp_accounting's get_epsilon_gaussian;
 * solved by bisection to 1e-12. Tighter than the RDP conversion for a single step.
 */
export function exactGaussianEpsilon(sigma: number, delta: number): number {
  if (!(sigma >= 0)) throw new Error(`noise multiplier sigma must be >= 0, got ${sigma}`);
  if (!(delta >= 0 && delta <= 1)) throw new Error(`delta must be in [0, 1], got ${delta}`);
  if (delta === 1) return 0;
  if (sigma === 0) return Infinity;
  if (sigma === Infinity) return 0;
  if (delta === 0) return Infinity;
  const target = Math.log(delta);
  if (gaussianLogDelta(sigma, 0) < target) return 0;
  let lo = 0;
  let hi = 1;
  while (gaussianLogDelta(sigma, hi) > target) {
    lo = hi;
    hi *= 10;
    if (hi > 1e12) return Infinity;
  }
  while (hi - lo > 1e-12 * Math.max(1, hi)) {
    const mid = 0.5 * (lo + hi);
    if (gaussianLogDelta(sigma, mid) > target) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

// ---------------------------------------------------------------- what a DP-SGD training run guarantees

/** How training draws its minibatches (lib/cases/train.ts). */
export type Sampling = 'shuffle' | 'poisson';

/** A DP-SGD training run, as far as its privacy is concerned. */
export interface DpSgdRun {
  /** Clipping norm (only reported: epsilon depends on the noise multiplier alone). */
  clip: number;
  /** Noise multiplier. */
  sigma: number;
  sampling: Sampling;
  /** Training-set size N. */
  examples: number;
  /** Batch size (Poisson: the expected one, q N). */
  batchSize: number;
  /** Noisy steps taken. */
  steps: number;
  /** Passes over the data (shuffle: every example is in exactly one batch per epoch). */
  epochs: number;
  delta: number;
}

/** The privacy statement of a DP-SGD run. */
export interface DpSgdPrivacy {
  clip: number;
  sigma: number;
  sampling: Sampling;
  /** batchSize / examples. */
  q: number;
  steps: number;
  epochs: number;
  delta: number;
  /**
   * The accountant's epsilon: RDP of the Poisson-subsampled Gaussian mechanism at rate q, `steps` times,
   * improved conversion, DEFAULT_ORDERS, add-or-remove-one neighbours. A guarantee when sampling is
   * 'poisson'. With 'shuffle' (fixed-size batches from a shuffle per epoch) it is the number DP
   * libraries usually print, but that analysis assumes Poisson sampling and does not cover shuffling
   * (Chua et al. 2024 show the true epsilon of shuffled batches can be much larger): see epsilonGuaranteed.
   */
  epsilon: number;
  /** The order epsilon was read at (null when infinite). */
  order: number | null;
  /**
   * An epsilon that holds for the sampling actually used. 'poisson': `epsilon`. 'shuffle': no
   * amplification by sampling: an example's clipped gradient enters exactly one batch per epoch, so
   * each epoch is one Gaussian mechanism; under replace-one neighbours (the example swapped for
   * another at the same position) its sensitivity is 2C, so noise multiplier sigma / 2, q = 1,
   * `epochs` compositions. (Replace-one is the relation a fixed-size batch admits; it is weaker than
   * add-or-remove-one by about a factor 2 in epsilon.)
   */
  epsilonGuaranteed: number;
  /** Neighbouring relation of epsilonGuaranteed. */
  neighbours: 'add-or-remove-one' | 'replace-one';
  /** One line saying what the numbers assume. */
  note: string;
}

/** The privacy of a DP-SGD training run (see DpSgdPrivacy); sigma = 0 (clipping only): Infinity. */
export function dpSgdPrivacy(run: DpSgdRun): DpSgdPrivacy {
  const { clip, sigma, sampling, examples, batchSize, steps, epochs, delta } = run;
  if (sampling !== 'shuffle' && sampling !== 'poisson') throw new Error(`sampling must be 'shuffle' or 'poisson', got '${sampling}'`);
  if (!(Number.isInteger(examples) && examples >= 1)) throw new Error(`examples must be a positive integer, got ${examples}`);
  if (!(batchSize > 0 && batchSize <= examples)) throw new Error(`batch size must be in (0, ${examples}], got ${batchSize}`);
  if (!(Number.isInteger(epochs) && epochs >= 0)) throw new Error(`epochs must be an integer >= 0, got ${epochs}`);
  const q = batchSize / examples;
  const main = dpSgdEpsilon({ sigma, q, steps, delta });
  const guaranteed = sampling === 'poisson' ? main.epsilon : dpSgdEpsilon({ sigma: sigma / 2, q: 1, steps: epochs, delta }).epsilon;
  const note = sampling === 'poisson'
    ? `Poisson sampling at rate q = ${q.toPrecision(4)}: epsilon is a guarantee (RDP accountant, add-or-remove-one, delta ${delta})`
    : `shuffled fixed-size batches: epsilon (${fmt(main.epsilon)}) assumes Poisson sampling at q = ${q.toPrecision(4)} as DP libraries report it, `
      + `but does not cover shuffling; guaranteed without amplification: ${fmt(guaranteed)} (replace-one, ${epochs} epochs, delta ${delta})`;
  return {
    clip, sigma, sampling, q, steps, epochs, delta,
    epsilon: main.epsilon,
    order: main.order,
    epsilonGuaranteed: guaranteed,
    neighbours: sampling === 'poisson' ? 'add-or-remove-one' : 'replace-one',
    note,
  };
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toPrecision(4) : 'Infinity';
}
