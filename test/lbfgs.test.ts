import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { createLbfgs, cubicInterpolate, strongWolfe, Closure, LbfgsOptions, LBFGS_DEFAULTS } from '../lib/attacks/optim/lbfgs';

// Golden iterates of torch.optim.LBFGS written by test/golden/lbfgs_golden.py (float64, torch 2.13).
interface GoldenStep { x: (number | null)[]; loss: number | null; funcEvals: number; nIter: number }
interface GoldenCase {
  name: string;
  func: 'rosenbrock' | 'quadratic' | 'nan' | 'rosenbrock_nan_outside';
  x0: number[];
  options: Partial<LbfgsOptions>;
  steps: GoldenStep[];
  /** How far torch's own iterates move when x0 is nudged by one ulp (see lbfgs_golden.py). */
  sensitivity: number;
}
interface Profile { s: number; A: number; a: number; B: number; c: number; w: number }
interface GoldenLineSearch {
  name: string;
  profile: Profile;
  t0: number;
  d0: number;
  maxLs: number;
  trials: number[]; // every t torch evaluated, in order
  f: number;
  g: number;
  t: number;
  lsFuncEvals: number;
}
interface Golden {
  torch: string;
  quadratic: { diag: number[]; centre: number[] };
  cases: GoldenCase[];
  lineSearches: GoldenLineSearch[];
}

const golden: Golden = JSON.parse(fs.readFileSync(path.join(__dirname, '../../test/golden/lbfgs.json'), 'utf8'));
const num = (v: number | null): number => (v === null ? NaN : v);

// The objectives, with the same operation order as the Python script so that they agree bit for bit.
// They write into one reused gradient array, which also checks that the optimiser copies it.
function rosenbrock(n: number): Closure {
  const g = new Float64Array(n);
  return (x) => {
    let f = 0;
    g.fill(0);
    for (let i = 0; i < n - 1; i++) {
      const a = x[i + 1] - x[i] * x[i];
      const b = 1.0 - x[i];
      f += 100.0 * a * a + b * b;
      g[i] += -400.0 * x[i] * a - 2.0 * b;
      g[i + 1] += 200.0 * a;
    }
    return { loss: f, grad: g };
  };
}

function quadratic(diag: number[], centre: number[]): Closure {
  const g = new Float64Array(diag.length);
  return (x) => {
    let f = 0;
    for (let i = 0; i < x.length; i++) {
      const r = x[i] - centre[i];
      f += 0.5 * diag[i] * r * r;
      g[i] = diag[i] * r;
    }
    return { loss: f, grad: g };
  };
}

const nanEverywhere: Closure = (x) => ({ loss: NaN, grad: new Array<number>(x.length).fill(NaN) });

function closureFor(c: GoldenCase): Closure {
  switch (c.func) {
    case 'rosenbrock': return rosenbrock(c.x0.length);
    case 'quadratic': return quadratic(golden.quadratic.diag, golden.quadratic.centre);
    case 'nan': return nanEverywhere;
    case 'rosenbrock_nan_outside': {
      // Rosenbrock where x[0] <= 0.5, NaN beyond: the path to the minimum runs into NaN
      const f = rosenbrock(c.x0.length);
      return (x) => (x[0] <= 0.5 ? f(x) : nanEverywhere(x));
    }
  }
}

/** |a - b| / max(1, |b|): relative error, absolute near zero; 0 when both are NaN, Infinity when only one is. */
function deviation(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity;
  return Math.abs(a - b) / Math.max(1, Math.abs(b));
}

/**
 * Allowed deviation of x and loss from torch. The port performs the same IEEE operations in the same
 * order except where torch's tensor machinery rounds differently (header of lib/lbfgs.ts): its
 * `dot` is MKL `ddot` (for n >= 3 it sums in another order), its `add_(v, alpha)` is a fused
 * multiply-add, which JavaScript does not have, and `float / tensor` is a reciprocal multiply.
 * Checked once by hand: with an exact FMA substituted for the axpy here and plain division patched
 * into torch's `_cubic_interpolate`, all 2-D cases (where ddot sums like the loop here) agreed
 * with torch 2.13 bit for bit, losses included. So the port's logic is exact, and what remains is
 * rounding noise, which a long Rosenbrock run amplifies just as it amplifies a
 * one-ulp change of the start point in torch itself; so the bound is 1e-9, or 10x that measured
 * self-sensitivity where it is larger (rosen2d_none, rosen10d_*).
 * The counters funcEvals and nIter follow the branch decisions and must match exactly.
 */
const tolerance = (c: GoldenCase): number => Math.max(1e-9, 10 * c.sensitivity);

describe('lbfgs: torch.optim.LBFGS golden iterates', () => {
  it('golden file has the expected cases', () => {
    assert.ok(golden.cases.length >= 12, `only ${golden.cases.length} cases`);
    assert.ok(golden.lineSearches.length >= 6, `only ${golden.lineSearches.length} line searches`);
    const lineSearches = new Set(golden.cases.map((c) => c.options.lineSearch));
    assert.deepEqual([...lineSearches].sort(), ['none', 'strong_wolfe']);
    for (const c of golden.cases) assert.ok(c.sensitivity >= 0 && c.sensitivity < 1e-6, c.name);
  });

  for (const c of golden.cases) {
    it(`${c.name}: x, loss, funcEvals, nIter match torch after each of ${c.steps.length} steps`, () => {
      const opt = createLbfgs(c.x0, c.options);
      const closure = closureFor(c);
      const tol = tolerance(c);
      c.steps.forEach((want, k) => {
        const loss = opt.step(closure);
        const where = `${c.name} step ${k + 1}`;
        // Counters are integers driven by the branch decisions: they must agree exactly.
        assert.equal(opt.funcEvals, want.funcEvals, `${where}: funcEvals`);
        assert.equal(opt.nIter, want.nIter, `${where}: nIter`);
        // Iterates and losses agree to rounding (see `tolerance`).
        assert.equal(opt.x.length, want.x.length);
        want.x.forEach((w, i) => {
          const dev = deviation(opt.x[i], num(w));
          assert.ok(dev < tol, `${where}: x[${i}] = ${opt.x[i]}, torch ${w} (deviation ${dev}, allowed ${tol})`);
        });
        const dev = deviation(loss, num(want.loss));
        assert.ok(dev < tol, `${where}: loss ${loss}, torch ${want.loss} (deviation ${dev}, allowed ${tol})`);
      });
    });
  }
});

/** F(x) = s x^2 / 2 - x + A relu(x - a)^3 + B relu(w - |x - c|)^2 and F'(x), as in lbfgs_golden.py. */
function profile(p: Profile, x: number): [number, number] {
  const r = x - p.a > 0 ? x - p.a : 0.0;
  const q = p.w - Math.abs(x - p.c) > 0 ? p.w - Math.abs(x - p.c) : 0.0;
  const f = 0.5 * p.s * x * x - x + p.A * r * r * r + p.B * q * q;
  const g = p.s * x - 1 + 3 * p.A * r * r + (x > p.c ? -2.0 : 2.0) * p.B * q;
  return [f, g];
}

describe('lbfgs: strongWolfe against torch _strong_wolfe (1-D profiles, bit for bit)', () => {
  for (const ls of golden.lineSearches) {
    it(`${ls.name}: same trial steps, result and evaluation count`, () => {
      const trials: number[] = [];
      const [f0, g0] = profile(ls.profile, 0);
      const d = new Float64Array([ls.d0]);
      const g = new Float64Array([g0]);
      const r = strongWolfe((t, gOut) => {
        trials.push(t);
        const [f, gt] = profile(ls.profile, t * ls.d0);
        gOut[0] = gt;
        return f;
      }, ls.t0, d, f0, g, g0 * ls.d0, 1e-4, 0.9, 1e-9, ls.maxLs);
      // Only scalar IEEE arithmetic here, in torch's order: exact equality. (torch's one rounding
      // quirk in this code, `float / tensor` as a reciprocal multiply, leaves these profiles alone.)
      assert.deepEqual(trials, ls.trials);
      assert.deepEqual([r.t, r.f, g[0], r.lsFuncEvals], [ls.t, ls.f, ls.g, ls.lsFuncEvals]);
    });
  }
});

describe('lbfgs: behaviour', () => {
  it('minimises the 2-D Rosenbrock function with strong Wolfe and default options', () => {
    const opt = createLbfgs([-1.5, 2], { lineSearch: 'strong_wolfe' });
    const f = rosenbrock(2);
    for (let k = 0; k < 5; k++) opt.step(f);
    assert.ok(Math.abs(opt.x[0] - 1) < 1e-4 && Math.abs(opt.x[1] - 1) < 1e-4, `x = ${Array.from(opt.x)}`);
  });

  it('returns at once without iterating when the gradient is already below toleranceGrad', () => {
    const opt = createLbfgs([1, 1]);
    assert.equal(opt.step(rosenbrock(2)), 0);
    assert.equal(opt.funcEvals, 1);
    assert.equal(opt.nIter, 0);
    assert.deepEqual(Array.from(opt.x), [1, 1]);
  });

  it('calls the closure with x itself, and with a scratch vector during the line search', () => {
    // One iteration, 10 evaluations allowed: the search starts at t = 1/|g|_1 and extrapolates.
    const x0 = [-1.5, 2];
    const opt = createLbfgs(x0, { lineSearch: 'strong_wolfe', maxIter: 1, maxEval: 10 });
    const f = rosenbrock(2);
    const seen: ('x' | 'trial')[] = [];
    opt.step((x) => {
      seen.push(x === opt.x ? 'x' : 'trial');
      // torch moves the parameters to x + t d and back; here x stays put during the search
      assert.deepEqual(Array.from(opt.x), x0);
      return f(x);
    });
    assert.equal(seen[0], 'x');
    assert.ok(seen.length > 2 && seen.slice(1).every((s) => s === 'trial'), seen.join(','));
    assert.equal(opt.funcEvals, seen.length);
    assert.notDeepEqual(Array.from(opt.x), x0);
  });

  it('cubicInterpolate finds the minimiser of an exact cubic and clamps to bounds', () => {
    // f = x^3 - 3x: f(0) = 0, f'(0) = -3, f(2) = 2, f'(2) = 9, minimum at x = 1
    assert.equal(cubicInterpolate(0, 0, -3, 2, 2, 9), 1);
    assert.equal(cubicInterpolate(2, 2, 9, 0, 0, -3), 1);
    assert.equal(cubicInterpolate(0, 0, -3, 2, 2, 9, [1.5, 3]), 1.5);
    // no real minimiser (d1 = 3 + 3 - 6 = 0, d1^2 < g1 g2): midpoint of the bounds
    assert.equal(cubicInterpolate(0, 0, 3, 1, 2, 3, [0, 4]), 2);
  });

  it('rejects the wrong gradient length', () => {
    const opt = createLbfgs([0, 0, 0]);
    assert.throws(() => opt.step(() => ({ loss: 1, grad: [1, 2] })), /gradient of length 2, expected 3/);
  });
});

describe('lbfgs: non-finite losses', () => {
  for (const lineSearch of ['none', 'strong_wolfe'] as const) {
    it(`terminates on a NaN closure (${lineSearch}) after spending its budget, x turns NaN`, () => {
      const maxIter = 50;
      const maxEval = 60;
      const opt = createLbfgs([1, 2, 3], { lineSearch, maxIter, maxEval });
      const loss = opt.step(nanEverywhere);
      assert.ok(Number.isNaN(loss));
      assert.ok(opt.funcEvals <= maxEval + 1, `funcEvals ${opt.funcEvals}`);
      assert.ok(opt.nIter >= 1 && opt.nIter <= maxIter, `nIter ${opt.nIter}`);
      assert.ok(Array.from(opt.x).every(Number.isNaN));
      // no tolerance check fires on NaN, so the whole budget is used
      if (lineSearch === 'none') assert.equal(opt.nIter, maxIter);
      else assert.equal(opt.funcEvals, maxEval + 1); // max_ls = maxEval - 1 loops + the search's first evaluation
    });
  }

  // A loss that turns NaN part-way is checked against torch by the golden cases
  // rosen2d_nan_outside_*: the failed search accepts a point in the NaN region, as torch does.

  it('strongWolfe rejects a negative maxLs (torch fails with a NameError)', () => {
    const d = new Float64Array([1]);
    assert.throws(() => strongWolfe(() => 0, 1, d, 0, new Float64Array([-1]), -1, 1e-4, 0.9, 1e-9, -1), /maxLs/);
  });
});

describe('lbfgs: options', () => {
  it('has torch defaults', () => {
    assert.deepEqual({ ...LBFGS_DEFAULTS }, {
      lr: 1, maxIter: 20, toleranceGrad: 1e-7, toleranceChange: 1e-9, historySize: 100, lineSearch: 'none', historyPrecision: 'float64',
    });
    assert.ok(Object.isFrozen(LBFGS_DEFAULTS));
  });

  const bad: [Partial<LbfgsOptions>, RegExp][] = [
    [{ lr: 0 }, /lr must be/],
    [{ lr: -1 }, /lr must be/],
    [{ lr: NaN }, /lr must be/],
    [{ maxIter: 0 }, /maxIter must be/],
    [{ maxIter: 2.5 }, /maxIter must be/],
    [{ maxIter: Infinity }, /maxIter must be/],
    [{ maxEval: 0 }, /maxEval must be/],
    [{ historySize: 0 }, /historySize must be/],
    [{ toleranceGrad: -1 }, /toleranceGrad must be/],
    [{ toleranceChange: NaN }, /toleranceChange must be/],
    [{ lineSearch: 'backtracking' as 'none' }, /lineSearch must be 'none' or 'strong_wolfe'/],
    [{ historyPrecision: 'float16' as 'float32' }, /historyPrecision must be 'float64' or 'float32'/],
    [{ max_iter: 5 } as Partial<LbfgsOptions>, /Unknown LBFGS option max_iter/],
  ];
  for (const [options, message] of bad) {
    it(`rejects ${JSON.stringify(options, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v))}`, () => {
      assert.throws(() => createLbfgs([0, 0], options), message);
    });
  }

  it('treats an option given as undefined as unset', () => {
    const opt = createLbfgs([-1.5, 2], { lr: undefined, maxIter: 2, maxEval: undefined });
    opt.step(rosenbrock(2));
    // lr 1, maxEval = floor(2.5) = 2: one iteration spends the budget (torch 2.13 gives the same)
    assert.deepEqual([opt.funcEvals, opt.nIter], [2, 1]);
  });

  it('rejects an empty x0', () => {
    assert.throws(() => createLbfgs([]), /at least one parameter/);
  });

  it('derives maxEval = floor(maxIter * 5 / 4) as torch does', () => {
    // With fixed steps, 4 iterations take 1 + 3 evaluations (the last iteration does not evaluate):
    // maxEval = floor(5) = 5 lets all 4 run; maxEval = 3 stops once the 3rd evaluation is spent.
    // (Counts checked against torch 2.13.)
    const run = (options: Partial<LbfgsOptions>) => {
      const opt = createLbfgs([-1.5, 2], { lr: 0.01, ...options });
      opt.step(rosenbrock(2));
      return [opt.funcEvals, opt.nIter];
    };
    assert.deepEqual(run({ maxIter: 4 }), [4, 4]);
    assert.deepEqual(run({ maxIter: 4, maxEval: 3 }), [3, 2]);
    assert.deepEqual(run({ maxIter: 3 }), [3, 2]); // maxEval = floor(3.75) = 3
  });
});
