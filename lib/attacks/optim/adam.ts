/**
 * Adam (Kingma & Ba 2015) on flat Float64Array vectors, with torch.optim.Adam's arithmetic
 * (weight decay 0, amsgrad off):
 *
 *   m <- b1 m + (1 - b1) g            v <- b2 v + (1 - b2) g^2
 *   x <- x - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *
 * Like lbfgs.ts, the caller owns the objective: it hands step() the gradient at the current x
 * (and optionally the learning rate of this step, for a schedule). Buffers are allocated once.
 */

export interface AdamOptions {
  /** Learning rate (torch default 1e-3; Inverting Gradients uses 0.1). */
  lr: number;
  /** Decay of the first moment (torch default 0.9). */
  beta1: number;
  /** Decay of the second moment (torch default 0.999). */
  beta2: number;
  /** Added to the denominator (torch default 1e-8). */
  eps: number;
}

/** torch.optim.Adam's defaults. */
export const ADAM_DEFAULTS: Readonly<AdamOptions> = Object.freeze({ lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 });

export interface Adam {
  /** The parameters, updated in place by step(). */
  readonly x: Float64Array;
  /** One update with the gradient `grad` at the current x; `lr` overrides the option for this step. */
  step(grad: ArrayLike<number>, lr?: number): void;
  /** Steps taken so far (torch's state['step']). */
  readonly t: number;
}

/** Validate options over the defaults, with clear messages. */
export function adamOptions(overrides: Partial<AdamOptions> = {}): AdamOptions {
  const known = new Set(Object.keys(ADAM_DEFAULTS));
  for (const k of Object.keys(overrides)) if (!known.has(k)) throw new Error(`unknown Adam option '${k}' (known: ${[...known].join(', ')})`);
  const o: AdamOptions = { ...ADAM_DEFAULTS, ...overrides };
  if (!(o.lr > 0) || !Number.isFinite(o.lr)) throw new Error(`Adam lr must be a positive number, got ${o.lr}`);
  for (const b of ['beta1', 'beta2'] as const) {
    if (!(o[b] >= 0 && o[b] < 1)) throw new Error(`Adam ${b} must be in [0, 1), got ${o[b]}`);
  }
  if (!(o.eps >= 0) || !Number.isFinite(o.eps)) throw new Error(`Adam eps must be a number >= 0, got ${o.eps}`);
  return o;
}

/** An Adam optimiser starting at a copy of x0. */
export function createAdam(x0: ArrayLike<number>, overrides: Partial<AdamOptions> = {}): Adam {
  const o = adamOptions(overrides);
  const x = Float64Array.from(x0);
  const m = new Float64Array(x.length);
  const v = new Float64Array(x.length);
  let t = 0;
  return {
    x,
    get t() {
      return t;
    },
    step(grad: ArrayLike<number>, lr = o.lr) {
      if (grad.length !== x.length) throw new Error(`Adam: gradient has ${grad.length} entries, parameters ${x.length}`);
      if (!(lr >= 0) || !Number.isFinite(lr)) throw new Error(`Adam: step lr must be a number >= 0, got ${lr}`);
      t++;
      const bias1 = 1 - o.beta1 ** t;
      const bias2Sqrt = Math.sqrt(1 - o.beta2 ** t);
      const stepSize = lr / bias1;
      for (let i = 0; i < x.length; i++) {
        const g = grad[i];
        m[i] = o.beta1 * m[i] + (1 - o.beta1) * g;
        v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g;
        x[i] -= (stepSize * m[i]) / (Math.sqrt(v[i]) / bias2Sqrt + o.eps);
      }
    },
  };
}
