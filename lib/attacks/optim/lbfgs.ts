/**
 * L-BFGS on flat Float64Array vectors: a line-by-line port of PyTorch's `torch.optim.LBFGS`.
 *
 * Source: torch/optim/lbfgs.py of PyTorch 2.x (`_cubic_interpolate`, `_strong_wolfe`,
 * `LBFGS.step`), which is itself ported from torch7's optim (polyinterp.lua, lswolfe.lua) and
 * "heavily inspired by minFunc". PyTorch is BSD-3-Clause licensed, Copyright (c) Facebook, Inc.
 * (Meta) and its contributors; this port keeps its structure, names (camelCased) and comments so the
 * two can be read side by side. DLG (Zhu et al. 2019) optimises its dummy data and label with exactly
 * this optimiser, `torch.optim.LBFGS([dummy_data, dummy_label])`, lr 1, no line search.
 *
 * What differs from torch, and why:
 * - Parameters are one flat vector `x` and the closure returns `{ loss, grad }` instead of filling
 *   `p.grad`; the optimiser copies the gradient into its own buffers.
 * - torch's `_directional_evaluate` moves the parameters to x + t*d, evaluates, then copies x back;
 *   here the closure is simply handed a scratch vector holding x + t*d, so `x` is never disturbed.
 * - Tensors that torch clones (`g_prev`, `bracket_g`, the L-BFGS history) live in buffers allocated
 *   once and overwritten with `.set()`. The only allocations in steady state are the history pairs
 *   (y, s) while the history is filling up; once it is full the oldest pair's arrays are recycled.
 *   All of them, x included, live where two-loop.ts puts them (a wasm memory of the optimiser's own
 *   when the kernels load), which also runs the two-loop recursion and the vector operations (dot,
 *   axpy, x + t d, max |.|) on its kernels; the numbers do not change.
 * - Options are validated up front (torch accepts lr = 0 and checks little else).
 * - Numbers: the same IEEE double operations in the same order, with three exceptions that torch's
 *   tensor machinery introduces: `dot` is BLAS `ddot` (MKL sums vectors of 3 or more entries in
 *   another order), `y.add_(x, alpha=a)` is a fused multiply-add (JavaScript has none), and a
 *   Python `float / tensor` is computed as `float * tensor.reciprocal()` (in `_cubic_interpolate`,
 *   when the step lengths happen to be tensors). Each changes a result by about an ulp, so iterates
 *   agree with torch to rounding, not bit for bit; on ill-conditioned problems this grows over many
 *   iterations exactly as torch's own iterates move when the start point moves by an ulp.
 *   test/lbfgs.test.ts measures the agreement.
 *
 * Non-finite losses or gradients are not special-cased, as in torch. Every NaN comparison is false,
 * so none of the early exits (`opt_cond`, `gtd > -tolerance_change`, the lack-of-progress checks)
 * fire and the iteration runs until its budget is spent: `maxIter` iterations, or `maxEval`
 * closure evaluations (the strong-Wolfe search is given `max_ls = maxEval - evaluations so far`
 * and evaluates up to max_ls + 1 times, so a step can take maxEval + 1 evaluations, as in torch).
 * `x` fills with NaN and step() returns the (NaN) loss. Because `maxIter` and `maxEval` are
 * validated to be finite integers >= 1, step() always terminates. One torch crash is avoided: a
 * NaN loss at a point that satisfies the curvature condition makes torch index past its one-point
 * bracket (IndexError); here that point is returned.
 *
 * Two torch behaviours worth knowing (reproduced, not fixed): with `maxIter: 1` and strong Wolfe,
 * `maxEval` defaults to 1, the search gets max_ls = 0, and if its single trial does not decrease
 * the loss it returns t = 0, so x never moves; and a zoom that cannot satisfy the conditions can
 * also end at t = 0.
 */
import { dot, axpy, addScaled, maxAbs, twoLoopMemory } from './two-loop';
import type { TwoLoopMemory, HistoryPrecision, Vector } from './two-loop';

/** Options of the optimiser; names are torch's keyword arguments in camelCase. */
export interface LbfgsOptions {
  /** Step size multiplier (torch `lr`, default 1). Without line search the step is `lr * d`. */
  lr: number;
  /** Maximal number of inner iterations per step() (torch `max_iter`, default 20). */
  maxIter: number;
  /** Maximal number of closure evaluations per step() (torch `max_eval`, default `floor(maxIter * 5 / 4)`). */
  maxEval?: number;
  /** Stop when max |grad| <= toleranceGrad (torch `tolerance_grad`, default 1e-7). */
  toleranceGrad: number;
  /** Stop when the step, the loss change or the directional derivative is below this (default 1e-9). */
  toleranceChange: number;
  /** Number of (s, y) curvature pairs kept (torch `history_size`, default 100). */
  historySize: number;
  /** 'none' takes fixed steps of length lr; 'strong_wolfe' runs torch's line search (`line_search_fn`). */
  lineSearch: 'none' | 'strong_wolfe';
  /**
   * How the (y, s) pairs are stored (default 'float64', the dtype of `x`). torch stores them in the
   * parameters' dtype; 'float32' does that for float32 parameters: each pair is rounded to float32 once,
   * when it is stored, and y . s, y . y and the two-loop recursion are computed in float64 from the
   * stored values. Half the memory, and the recursion (memory-bound at large sizes) reads half the bytes.
   */
  historyPrecision?: HistoryPrecision;
}

/** torch's defaults (`line_search_fn=None`); `maxEval` is left out so it follows `maxIter`. */
export const LBFGS_DEFAULTS: Readonly<LbfgsOptions> = Object.freeze({
  lr: 1,
  maxIter: 20,
  toleranceGrad: 1e-7,
  toleranceChange: 1e-9,
  historySize: 100,
  lineSearch: 'none' as const,
  historyPrecision: 'float64' as const,
});

/** Evaluate the objective at x: return the loss and its gradient (a fresh array or one reused; the optimiser copies what it keeps). */
export type Closure = (x: Float64Array) => { loss: number; grad: ArrayLike<number> };

/** A stateful L-BFGS optimiser, the counterpart of one `torch.optim.LBFGS` instance. */
export interface Lbfgs {
  /** The parameters, updated in place by step(). */
  readonly x: Float64Array;
  /** One torch `optimizer.step(closure)`; returns the loss at the start of the step (torch's `orig_loss`). */
  step(closure: Closure): number;
  /** Total closure evaluations so far (torch `state['func_evals']`). */
  readonly funcEvals: number;
  /** Total inner iterations so far (torch `state['n_iter']`). */
  readonly nIter: number;
}

// ---------------------------------------------------------------------------------------------
// Small vector helpers. max/min follow Python's built-ins (`min(a, b)` returns a unless b < a), which
// matters when NaN shows up; maxAbs (two-loop.ts) propagates NaN like torch's `.abs().max()`.
// ---------------------------------------------------------------------------------------------

function sumAbs(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]);
  return s;
}

const pyMin = (a: number, b: number): number => (b < a ? b : a);
const pyMax = (a: number, b: number): number => (b > a ? b : a);

// ---------------------------------------------------------------------------------------------
// _cubic_interpolate
// ---------------------------------------------------------------------------------------------

/**
 * Minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1 and g2, clamped to `bounds`
 * (default: the interval between x1 and x2); the midpoint of the bounds if the cubic has no minimum.
 * (torch evaluates `3 * (f1 - f2) / (x1 - x2)` as a multiplication by the reciprocal whenever x1
 * or x2 is a tensor, which can change the last bit; here it is a plain division.)
 */
export function cubicInterpolate(
  x1: number, f1: number, g1: number,
  x2: number, f2: number, g2: number,
  bounds?: readonly [number, number],
): number {
  // ported from https://github.com/torch/optim/blob/master/polyinterp.lua
  // Compute bounds of interpolation area
  const [xminBound, xmaxBound] = bounds ?? (x1 <= x2 ? [x1, x2] : [x2, x1]);

  // Code for most common case: cubic interpolation of 2 points
  //   w/ function and derivative values for both
  // Solution in this case (where x2 is the farthest point):
  //   d1 = g1 + g2 - 3*(f1-f2)/(x1-x2);
  //   d2 = sqrt(d1^2 - g1*g2);
  //   min_pos = x2 - (x2 - x1)*((g2 + d2 - d1)/(g2 - g1 + 2*d2));
  //   t_new = min(max(min_pos,xmin_bound),xmax_bound);
  const d1 = g1 + g2 - (3 * (f1 - f2)) / (x1 - x2);
  const d2Square = d1 * d1 - g1 * g2;
  if (d2Square >= 0) {
    const d2 = Math.sqrt(d2Square);
    const minPos = x1 <= x2
      ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
      : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
    return pyMin(pyMax(minPos, xminBound), xmaxBound);
  }
  return (xminBound + xmaxBound) / 2.0;
}

// ---------------------------------------------------------------------------------------------
// _strong_wolfe
// ---------------------------------------------------------------------------------------------

/** Evaluate the objective at x + t*d, write the gradient there into gOut, return the loss. */
export type DirectionalEvaluate = (t: number, gOut: Float64Array) => number;

/** Scratch vectors of the line search (length n each), allocated once per optimiser. */
export interface WolfeBuffers {
  gNew: Float64Array;
  gPrev: Float64Array;
  bracketG: [Float64Array, Float64Array];
}

/** The line search's buffers, each from `vec` (plain arrays of n by default; the optimiser passes its memory's). */
function wolfeBuffers(n: number, vec: () => Float64Array = () => new Float64Array(n)): WolfeBuffers {
  return { gNew: vec(), gPrev: vec(), bracketG: [vec(), vec()] };
}

/**
 * Line search for a step t along d satisfying the strong Wolfe conditions (sufficient decrease c1,
 * curvature c2): first bracket an interval containing such a point, then zoom into it by cubic
 * interpolation. `f`, `g` and `gtd` are the loss, gradient and directional derivative at t = 0;
 * on return `g` holds the gradient at the accepted step (torch returns it as `g_new`) and the
 * result has the loss there, the step and the number of evaluations. torch's signature without
 * `x` (objFunc closes over it), plus optional scratch buffers.
 */
export function strongWolfe(
  objFunc: DirectionalEvaluate,
  t: number, d: Float64Array, f: number, g: Float64Array, gtd: number,
  c1 = 1e-4, c2 = 0.9, toleranceChange = 1e-9, maxLs = 25,
  buf: WolfeBuffers = wolfeBuffers(d.length),
): { f: number; t: number; lsFuncEvals: number } {
  // ported from https://github.com/torch/optim/blob/master/lswolfe.lua
  if (!(maxLs >= 0)) throw new Error(`strongWolfe: maxLs must be >= 0, got ${maxLs}`); // torch: NameError
  const dNorm = maxAbs(d);
  // (torch clones g here; we only write g at the very end, so it is read in place)
  const { gNew, gPrev, bracketG } = buf;
  // evaluate objective and gradient using initial step
  let fNew = objFunc(t, gNew);
  let lsFuncEvals = 1;
  let gtdNew = dot(gNew, d);

  // bracket an interval containing a point satisfying the Wolfe criteria.
  // A bracket has two points, or one when the Wolfe point was found directly (`done`).
  let tPrev = 0;
  let fPrev = f;
  gPrev.set(g);
  let gtdPrev = gtd;
  let done = false;
  let lsIter = 0;
  let bracket: number[] = [];
  let bracketF: number[] = [];
  let bracketGtd: number[] = [];
  while (lsIter < maxLs) {
    // check conditions
    if (fNew > f + c1 * t * gtd || (lsIter > 1 && fNew >= fPrev)) {
      bracket = [tPrev, t];
      bracketF = [fPrev, fNew];
      bracketG[0].set(gPrev);
      bracketG[1].set(gNew);
      bracketGtd = [gtdPrev, gtdNew];
      break;
    }

    if (Math.abs(gtdNew) <= -c2 * gtd) {
      bracket = [t];
      bracketF = [fNew];
      bracketG[0].set(gNew);
      done = true;
      break;
    }

    if (gtdNew >= 0) {
      bracket = [tPrev, t];
      bracketF = [fPrev, fNew];
      bracketG[0].set(gPrev);
      bracketG[1].set(gNew);
      bracketGtd = [gtdPrev, gtdNew];
      break;
    }

    // interpolate
    const minStep = t + 0.01 * (t - tPrev);
    const maxStep = t * 10;
    const tmp = t;
    t = cubicInterpolate(tPrev, fPrev, gtdPrev, t, fNew, gtdNew, [minStep, maxStep]);

    // next step
    tPrev = tmp;
    fPrev = fNew;
    gPrev.set(gNew);
    gtdPrev = gtdNew;
    fNew = objFunc(t, gNew);
    lsFuncEvals += 1;
    gtdNew = dot(gNew, d);
    lsIter += 1;
  }

  // reached max number of iterations?
  if (lsIter === maxLs) {
    bracket = [0, t];
    bracketF = [f, fNew];
    bracketG[0].set(g);
    bracketG[1].set(gNew);
  }

  // zoom phase: we now have a point satisfying the criteria, or
  // a bracket around it. We refine the bracket until we find the
  // exact point satisfying the criteria
  let insufProgress = false;
  // find high and low points in bracket
  let lowPos = bracketF[0] <= bracketF[bracketF.length - 1] ? 0 : 1;
  let highPos = 1 - lowPos;
  while (!done && lsIter < maxLs) {
    // line-search bracket is so small
    if (Math.abs(bracket[1] - bracket[0]) * dNorm < toleranceChange) break;

    // compute new trial value
    t = cubicInterpolate(bracket[0], bracketF[0], bracketGtd[0], bracket[1], bracketF[1], bracketGtd[1]);

    // test that we are making sufficient progress:
    // in case `t` is so close to boundary, we mark that we are making
    // insufficient progress, and if
    //   + we have made insufficient progress in the last step, or
    //   + `t` is at one of the boundary,
    // we will move `t` to a position which is `0.1 * len(bracket)`
    // away from the nearest boundary point.
    const bMax = pyMax(bracket[0], bracket[1]);
    const bMin = pyMin(bracket[0], bracket[1]);
    const eps = 0.1 * (bMax - bMin);
    if (pyMin(bMax - t, t - bMin) < eps) {
      // interpolation close to boundary
      if (insufProgress || t >= bMax || t <= bMin) {
        // evaluate at 0.1 away from boundary
        t = Math.abs(t - bMax) < Math.abs(t - bMin) ? bMax - eps : bMin + eps;
        insufProgress = false;
      } else {
        insufProgress = true;
      }
    } else {
      insufProgress = false;
    }

    // Evaluate new point
    fNew = objFunc(t, gNew);
    lsFuncEvals += 1;
    gtdNew = dot(gNew, d);
    lsIter += 1;

    if (fNew > f + c1 * t * gtd || fNew >= bracketF[lowPos]) {
      // Armijo condition not satisfied or not lower than lowest point
      bracket[highPos] = t;
      bracketF[highPos] = fNew;
      bracketG[highPos].set(gNew);
      bracketGtd[highPos] = gtdNew;
      lowPos = bracketF[0] <= bracketF[1] ? 0 : 1;
      highPos = 1 - lowPos;
    } else {
      if (Math.abs(gtdNew) <= -c2 * gtd) {
        // Wolfe conditions satisfied
        done = true;
      } else if (gtdNew * (bracket[highPos] - bracket[lowPos]) >= 0) {
        // old high becomes new low
        bracket[highPos] = bracket[lowPos];
        bracketF[highPos] = bracketF[lowPos];
        bracketG[highPos].set(bracketG[lowPos]);
        bracketGtd[highPos] = bracketGtd[lowPos];
      }

      // new point becomes new low
      bracket[lowPos] = t;
      bracketF[lowPos] = fNew;
      bracketG[lowPos].set(gNew);
      bracketGtd[lowPos] = gtdNew;
    }
  }

  // A one-point bracket with a NaN loss gives lowPos 1 (NaN <= NaN is false); torch then fails
  // with an IndexError, we return the one point.
  if (lowPos >= bracket.length) lowPos = 0;
  // return stuff
  g.set(bracketG[lowPos]);
  return { f: bracketF[lowPos], t: bracket[lowPos], lsFuncEvals };
}

// ---------------------------------------------------------------------------------------------
// LBFGS
// ---------------------------------------------------------------------------------------------

const OPTION_NAMES = ['lr', 'maxIter', 'maxEval', 'toleranceGrad', 'toleranceChange', 'historySize', 'lineSearch', 'historyPrecision'];

function validateOptions(o: LbfgsOptions & { maxEval: number }): void {
  const isPositiveInt = (v: number) => Number.isInteger(v) && v >= 1;
  if (!(typeof o.lr === 'number' && o.lr > 0 && Number.isFinite(o.lr))) {
    throw new Error(`LBFGS option lr must be a finite number > 0, got ${o.lr}`);
  }
  if (!isPositiveInt(o.maxIter)) throw new Error(`LBFGS option maxIter must be an integer >= 1, got ${o.maxIter}`);
  if (!isPositiveInt(o.maxEval)) throw new Error(`LBFGS option maxEval must be an integer >= 1, got ${o.maxEval}`);
  if (!(o.toleranceGrad >= 0)) throw new Error(`LBFGS option toleranceGrad must be a number >= 0, got ${o.toleranceGrad}`);
  if (!(o.toleranceChange >= 0)) {
    throw new Error(`LBFGS option toleranceChange must be a number >= 0, got ${o.toleranceChange}`);
  }
  if (!isPositiveInt(o.historySize)) {
    throw new Error(`LBFGS option historySize must be an integer >= 1, got ${o.historySize}`);
  }
  if (o.lineSearch !== 'none' && o.lineSearch !== 'strong_wolfe') {
    throw new Error(`LBFGS option lineSearch must be 'none' or 'strong_wolfe', got ${JSON.stringify(o.lineSearch)}`);
  }
  if (o.historyPrecision !== undefined && o.historyPrecision !== 'float64' && o.historyPrecision !== 'float32') {
    throw new Error(`LBFGS option historyPrecision must be 'float64' or 'float32', got ${JSON.stringify(o.historyPrecision)}`);
  }
}

class LbfgsOptimizer implements Lbfgs {
  readonly x: Float64Array;
  funcEvals = 0; // state['func_evals']
  nIter = 0; //     state['n_iter']

  private readonly opts: Readonly<LbfgsOptions & { maxEval: number }>;
  // state carried between step() calls (torch's `state` dict)
  private readonly d: Float64Array; //          search direction
  private t = 0; //                              last step length
  private oldDirs: Vector[] = []; //            y = g_{k+1} - g_k
  private oldStps: Vector[] = []; //            s = x_{k+1} - x_k = t d
  private ro: number[] = []; //                 1 / (y . s)
  private hDiag = 1; //                         scale of the initial inverse Hessian
  private readonly prevFlatGrad: Float64Array;
  private readonly mem: TwoLoopMemory; //       where d, the gradient and the history live (two-loop.ts)
  // work buffers
  private readonly flatGrad: Float64Array;
  private readonly xTrial: Float64Array; //     x + t d during the line search
  private readonly wolfe: WolfeBuffers;
  private spareY: Vector; //                    next y and s to be written (recycled from history)
  private spareS: Vector;

  constructor(x0: ArrayLike<number>, options: Partial<LbfgsOptions>) {
    const merged: LbfgsOptions = { ...LBFGS_DEFAULTS };
    for (const [key, value] of Object.entries(options)) {
      if (!OPTION_NAMES.includes(key)) throw new Error(`Unknown LBFGS option ${key} (known: ${OPTION_NAMES.join(', ')})`);
      if (value !== undefined) (merged as unknown as Record<string, unknown>)[key] = value; // undefined = default
    }
    // torch: max_eval = max_iter * 5 // 4
    const opts = { ...merged, maxEval: merged.maxEval ?? Math.floor((merged.maxIter * 5) / 4) };
    validateOptions(opts);
    this.opts = opts;
    const n = x0.length;
    if (n < 1) throw new Error('LBFGS needs at least one parameter (x0 is empty)');
    this.mem = twoLoopMemory(n, opts.historySize, 'wasm', opts.historyPrecision ?? 'float64');
    const vec = this.mem.vec; // all VECTORS (two-loop.ts) of them
    this.x = vec();
    this.x.set(x0);
    this.d = vec();
    this.prevFlatGrad = vec();
    this.flatGrad = vec();
    this.xTrial = vec();
    this.wolfe = wolfeBuffers(n, vec);
    this.spareY = this.mem.pair();
    this.spareS = this.mem.pair();
  }

  /** Call the closure at `at`, copy its gradient into `gOut`, return float(loss). */
  private evaluate(closure: Closure, at: Float64Array, gOut: Float64Array): number {
    const { loss, grad } = closure(at);
    if (grad.length !== gOut.length) {
      throw new Error(`LBFGS closure returned a gradient of length ${grad.length}, expected ${gOut.length}`);
    }
    if (grad instanceof Float64Array) gOut.set(grad);
    else for (let i = 0; i < gOut.length; i++) gOut[i] = grad[i];
    return Number(loss);
  }

  step(closure: Closure): number {
    const { lr, maxIter, maxEval, toleranceGrad, toleranceChange, lineSearch, historySize } = this.opts;
    const { x, d, flatGrad, prevFlatGrad } = this;

    // evaluate initial f(x) and df/dx
    const origLoss = this.evaluate(closure, x, flatGrad);
    let loss = origLoss;
    let currentEvals = 1;
    this.funcEvals += 1;

    let optCond = maxAbs(flatGrad) <= toleranceGrad;

    // optimal condition
    if (optCond) return origLoss;

    // _directional_evaluate: the loss and gradient at x + t*d, x itself untouched
    const objFunc: DirectionalEvaluate = (t, gOut) => {
      addScaled(this.xTrial, x, t, d);
      return this.evaluate(closure, this.xTrial, gOut);
    };

    let nIter = 0;
    // optimize for a max of max_iter iterations
    while (nIter < maxIter) {
      // keep track of nb of iterations
      nIter += 1;
      this.nIter += 1;

      // ############################################################
      // compute gradient descent direction
      // ############################################################
      if (this.nIter === 1) {
        for (let i = 0; i < d.length; i++) d[i] = -flatGrad[i];
        this.oldDirs = [];
        this.oldStps = [];
        this.ro = [];
        this.hDiag = 1;
      } else {
        // do lbfgs update (update memory)
        const y = this.spareY;
        const s = this.spareS;
        // y = flatGrad - prevFlatGrad, s = d * t; ys = y*s, yy = y*y of the stored values (float32 pairs rounded)
        const { ys, yy } = this.mem.newPair(y, s, flatGrad, prevFlatGrad, d, this.t);
        if (ys > 1e-10) {
          // updating memory
          if (this.oldDirs.length === historySize) {
            // shift history by one (limited-memory); its arrays become the next spares
            this.spareY = this.oldDirs.shift()!;
            this.spareS = this.oldStps.shift()!;
            this.ro.shift();
          } else {
            this.spareY = this.mem.pair();
            this.spareS = this.mem.pair();
          }

          // store new direction/step
          this.oldDirs.push(y);
          this.oldStps.push(s);
          this.ro.push(1.0 / ys);

          // update scale of initial Hessian approximation
          this.hDiag = ys / yy; // (y*y)
        }

        // compute the approximate (L-BFGS) inverse Hessian
        // multiplied by the gradient (two-loop.ts: q, r and the new d all live in d's buffer,
        // the old d was consumed by s above)
        this.mem.direction(flatGrad, d, { oldDirs: this.oldDirs, oldStps: this.oldStps, ro: this.ro, hDiag: this.hDiag });
      }

      prevFlatGrad.set(flatGrad);
      const prevLoss = loss;

      // ############################################################
      // compute step length
      // ############################################################
      // reset initial guess for step size
      let t = this.nIter === 1 ? pyMin(1.0, 1.0 / sumAbs(flatGrad)) * lr : lr;
      this.t = t;

      // directional derivative
      const gtd = dot(flatGrad, d); // g * d

      // directional derivative is below tolerance
      if (gtd > -toleranceChange) break;

      // optional line search: user function
      let lsFuncEvals = 0;
      if (lineSearch === 'strong_wolfe') {
        // perform line search (writes the gradient at the new point into flatGrad)
        // (torch leaves c1, c2 and the search's tolerance_change at their defaults)
        const ls = strongWolfe(objFunc, t, d, loss, flatGrad, gtd, 1e-4, 0.9, 1e-9, maxEval - currentEvals, this.wolfe);
        loss = ls.f;
        t = this.t = ls.t;
        lsFuncEvals = ls.lsFuncEvals;
        axpy(t, d, x);
        optCond = maxAbs(flatGrad) <= toleranceGrad;
      } else {
        // no line search, simply move with fixed-step
        axpy(t, d, x);
        if (nIter !== maxIter) {
          // re-evaluate function only if not in last iteration
          // the reason we do this: in a stochastic setting,
          // no use to re-evaluate that function here
          loss = this.evaluate(closure, x, flatGrad);
          optCond = maxAbs(flatGrad) <= toleranceGrad;
          lsFuncEvals = 1;
        }
      }

      // update func eval
      currentEvals += lsFuncEvals;
      this.funcEvals += lsFuncEvals;

      // ############################################################
      // check conditions
      // ############################################################
      if (nIter === maxIter) break;

      if (currentEvals >= maxEval) break;

      // optimal condition
      if (optCond) break;

      // lack of progress
      if (maxAbs(d, t) <= toleranceChange) break;

      if (Math.abs(loss - prevLoss) < toleranceChange) break;
    }

    return origLoss;
  }
}

/**
 * Create an optimiser over a copy of `x0` (read the current parameters from `.x`).
 * Unset options take torch's defaults (`LBFGS_DEFAULTS`); invalid or unknown options throw.
 *
 * @example
 *   const opt = createLbfgs([-1.5, 2], { lineSearch: 'strong_wolfe' });
 *   for (let k = 0; k < 10; k++) opt.step((x) => ({ loss: f(x), grad: gradF(x) }));
 */
export function createLbfgs(x0: ArrayLike<number>, options: Partial<LbfgsOptions> = {}): Lbfgs {
  return new LbfgsOptimizer(x0, options);
}
