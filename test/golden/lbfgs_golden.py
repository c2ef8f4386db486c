"""Golden iterates of torch.optim.LBFGS for test/lbfgs.test.ts (the TypeScript port in lib/lbfgs.ts).

Run:  /tmp/torchvenv/bin/python test/golden/lbfgs_golden.py   (any Python >= 3.9 with torch 2.x)
Writes test/golden/lbfgs.json.

The objectives are computed in plain Python floats with exactly the same operation order as the
TypeScript closures in test/lbfgs.test.ts, and the gradient is written into p.grad by hand (no
autograd), so the closures agree bit for bit and any difference comes from the optimiser itself.
Computed in float64. Non-finite numbers are written as null (JSON has no NaN).

Each case also records `sensitivity`: how far torch's own iterates move (max over steps and
coordinates of |dx| / max(1, |x|)) when every coordinate of the start point is nudged by one ulp
up or down. Rounding differences between torch and the port (torch's dot is MKL ddot, its add_ is
fused multiply-add) are perturbations of that size, so the test allows deviations of that order.
"""
import json
import math
import os

import torch
from torch.optim.lbfgs import _strong_wolfe

torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))


def rosenbrock(x):
    """sum_i 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2 and its gradient."""
    n = len(x)
    f = 0.0
    g = [0.0] * n
    for i in range(n - 1):
        a = x[i + 1] - x[i] * x[i]
        b = 1.0 - x[i]
        f += 100.0 * a * a + b * b
        g[i] += -400.0 * x[i] * a - 2.0 * b
        g[i + 1] += 200.0 * a
    return f, g


def quadratic(x, diag, centre):
    """0.5 sum_i diag[i] (x[i] - centre[i])^2 and its gradient."""
    f = 0.0
    g = [0.0] * len(x)
    for i in range(len(x)):
        r = x[i] - centre[i]
        f += 0.5 * diag[i] * r * r
        g[i] = diag[i] * r
    return f, g


def nan_everywhere(x):
    """A broken objective: NaN loss and NaN gradient wherever it is evaluated."""
    return math.nan, [math.nan] * len(x)


def rosenbrock_nan_outside(x):
    """Rosenbrock where x[0] <= 0.5, NaN loss and gradient beyond: the path to the minimum runs into NaN."""
    return rosenbrock(x) if x[0] <= 0.5 else nan_everywhere(x)


QUAD = {'diag': [1.0, 3.0, 10.0, 100.0, 1000.0, 10000.0], 'centre': [1.0, -2.0, 0.5, 3.0, -1.0, 0.25]}
FUNCS = {
    'rosenbrock': rosenbrock,
    'quadratic': lambda x: quadratic(x, QUAD['diag'], QUAD['centre']),
    'nan': nan_everywhere,
    'rosenbrock_nan_outside': rosenbrock_nan_outside,
}

ROSEN10_X0 = [-1.2 + 0.1 * i for i in range(10)]

# name, objective, x0, options (TypeScript names), number of step() calls
CASES = [
    ('rosen2d_none', 'rosenbrock', [-1.5, 2.0], {'lr': 0.5, 'maxIter': 5, 'lineSearch': 'none'}, 15),
    ('rosen2d_wolfe', 'rosenbrock', [-1.5, 2.0], {'maxIter': 3, 'lineSearch': 'strong_wolfe'}, 15),
    # lr 10 overshoots: most searches bracket at once and zoom (high updates, swaps, insufficient progress)
    ('rosen2d_wolfe_lr10', 'rosenbrock', [-1.5, 2.0], {'lr': 10.0, 'maxIter': 5, 'lineSearch': 'strong_wolfe'}, 15),
    ('rosen10d_none', 'rosenbrock', ROSEN10_X0, {'lr': 0.5, 'maxIter': 10, 'lineSearch': 'none'}, 12),
    ('rosen10d_wolfe', 'rosenbrock', ROSEN10_X0, {'maxIter': 5, 'lineSearch': 'strong_wolfe'}, 15),
    ('quad6_none', 'quadratic', [0.0] * 6, {'lr': 1.0, 'maxIter': 4, 'lineSearch': 'none'}, 15),
    ('quad6_wolfe', 'quadratic', [0.0] * 6, {'maxIter': 2, 'lineSearch': 'strong_wolfe'}, 15),
    ('rosen10d_wolfe_hist3', 'rosenbrock', ROSEN10_X0,
     {'maxIter': 6, 'historySize': 3, 'lineSearch': 'strong_wolfe'}, 15),
    ('quad6_none_hist2', 'quadratic', [0.0] * 6, {'maxIter': 3, 'historySize': 2, 'lineSearch': 'none'}, 15),
    # maxIter 1: no re-evaluation after the step without line search; max_eval = 1 gives the
    # strong-Wolfe search max_ls = 0 (one evaluation, bracket [0, t], no zoom).
    # steps of ~1e-9 while the loss still changes by ~1e-6: the step-size lack-of-progress exit
    ('quad6_tiny_lr', 'quadratic', [0.0] * 6, {'lr': 1e-9, 'maxIter': 10, 'lineSearch': 'none'}, 5),
    ('rosen2d_none_maxiter1', 'rosenbrock', [-1.5, 2.0], {'lr': 0.25, 'maxIter': 1, 'lineSearch': 'none'}, 15),
    ('rosen2d_wolfe_maxiter1', 'rosenbrock', [-1.5, 2.0], {'maxIter': 1, 'lineSearch': 'strong_wolfe'}, 15),
    ('rosen2d_wolfe_maxeval', 'rosenbrock', [-1.5, 2.0],
     {'maxIter': 20, 'maxEval': 7, 'lineSearch': 'strong_wolfe'}, 15),
    ('rosen2d_defaults', 'rosenbrock', [-1.5, 2.0], {'lineSearch': 'strong_wolfe'}, 4),
    ('nan_none', 'nan', [0.5, -0.5, 1.0], {'lineSearch': 'none'}, 3),
    ('nan_wolfe', 'nan', [0.5, -0.5, 1.0], {'lineSearch': 'strong_wolfe'}, 3),
    ('rosen2d_nan_outside_wolfe', 'rosenbrock_nan_outside', [-1.5, 2.0], {'lineSearch': 'strong_wolfe'}, 4),
    ('rosen2d_nan_outside_none', 'rosenbrock_nan_outside', [-1.5, 2.0], {'maxIter': 5, 'lineSearch': 'none'}, 4),
]

# Line-search cases: torch's _strong_wolfe called directly on a 1-D profile phi(t) = F(t * d0) with
# F(x) = s x^2 / 2 - x + A relu(x - a)^3 + B relu(w - |x - c|)^2 (a slope, a cubic wall, a bump).
# Only scalar arithmetic is involved, so the port must reproduce these bit for bit. Chosen to reach
# every branch: extrapolation, all three bracket exits, max_ls, and in the zoom the Armijo/high
# update, the old-high-becomes-low swap, insufficient progress, the move away from the boundary,
# and the bracket-too-small exit.
LS_CASES = [
    # name, profile, t0, d0, max_ls
    ('wall_zoom', {'s': 0.0, 'A': 1.0, 'a': 2.0, 'B': 1000.0, 'c': 3.0, 'w': 5.0}, 100.0, 1.0, 25),
    ('bump_gtd_positive', {'s': 0.0, 'A': 0.0, 'a': 0.5, 'B': 10.0, 'c': 3.0, 'w': 0.5}, 0.01, 1e-9, 25),
    ('linear_max_ls', {'s': 0.0, 'A': 0.0, 'a': 0.5, 'B': 0.0, 'c': 3.0, 'w': 0.5}, 0.01, 1.0, 25),
    ('cubic_wall_done', {'s': 0.0, 'A': 1.0, 'a': 0.5, 'B': 0.0, 'c': 3.0, 'w': 0.5}, 0.01, 1.0, 25),
    ('not_lower_than_prev', {'s': 0.01, 'A': 1.0, 'a': 0.5, 'B': 0.0, 'c': 3.0, 'w': 0.5}, 0.01, 1e-9, 25),
    ('bump_zoom', {'s': 0.0, 'A': 0.0, 'a': 0.5, 'B': 10.0, 'c': 3.0, 'w': 5.0}, 1.0, 1.0, 25),
    ('quadratic_overshoot', {'s': 1.0, 'A': 0.0, 'a': 0.5, 'B': 0.0, 'c': 3.0, 'w': 0.5}, 100.0, 1.0, 25),
    # the first extrapolated point lies beyond a bump: f rose but the slope is negative again
    ('bump_passed_over', {'s': 0.001, 'A': 0.0, 'a': 0.5, 'B': 14.8, 'c': 9.8, 'w': 1.0}, 1.0, 1.0, 25),
    # bracket [1, 10] after extrapolating, the budget allows one zoom trial and it is not lower:
    # the earlier point t = 1 is returned with the gradient saved for it (g_prev)
    ('slope_max_ls_4', {'s': 0.001, 'A': 1.0, 'a': 2.0, 'B': 10.0, 'c': 3.0, 'w': 1.0}, 0.01, 1.0, 4),
    ('wall_zoom_max_ls_6', {'s': 0.0, 'A': 1.0, 'a': 2.0, 'B': 1000.0, 'c': 3.0, 'w': 5.0}, 100.0, 1.0, 6),
]


def profile(p, x):
    """F(x) and F'(x) of a line-search case (same operation order as the TypeScript test)."""
    r = x - p['a'] if x - p['a'] > 0 else 0.0
    q = p['w'] - abs(x - p['c']) if p['w'] - abs(x - p['c']) > 0 else 0.0
    f = 0.5 * p['s'] * x * x - x + p['A'] * r * r * r + p['B'] * q * q
    g = p['s'] * x - 1 + 3 * p['A'] * r * r + (-2.0 if x > p['c'] else 2.0) * p['B'] * q
    return f, g


def run_line_search(name, prof, t0, d0, max_ls):
    trials = []

    def obj_func(x, t, d):
        t = float(t)
        trials.append(t)
        f, g = profile(prof, t * d0)
        return f, torch.tensor([g])

    d = torch.tensor([d0])
    f0, g0 = profile(prof, 0.0)
    g = torch.tensor([g0])
    f_new, g_new, t, evals = _strong_wolfe(obj_func, None, t0, d, f0, g, g.dot(d), max_ls=max_ls)
    return {'name': name, 'profile': prof, 't0': t0, 'd0': d0, 'maxLs': max_ls, 'trials': trials,
            'f': float(f_new), 'g': float(g_new[0]), 't': float(t), 'lsFuncEvals': evals}


TORCH_NAMES = {'lr': 'lr', 'maxIter': 'max_iter', 'maxEval': 'max_eval', 'toleranceGrad': 'tolerance_grad',
               'toleranceChange': 'tolerance_change', 'historySize': 'history_size'}


def finite_or_none(v):
    v = float(v)
    return v if math.isfinite(v) else None


def run_case(name, func, x0, options, steps):
    kwargs = {TORCH_NAMES[k]: v for k, v in options.items() if k != 'lineSearch'}
    kwargs['line_search_fn'] = None if options['lineSearch'] == 'none' else options['lineSearch']
    p = torch.tensor(x0, requires_grad=True)
    opt = torch.optim.LBFGS([p], **kwargs)
    objective = FUNCS[func]

    def closure():
        loss, grad = objective(p.detach().tolist())
        p.grad = torch.tensor(grad)
        return loss

    records = []
    for _ in range(steps):
        loss = opt.step(closure)
        state = opt.state[p]
        records.append({
            'x': [finite_or_none(v) for v in p.detach().tolist()],
            'loss': finite_or_none(loss),
            'funcEvals': state['func_evals'],
            'nIter': state['n_iter'],
        })
    return {'name': name, 'func': func, 'x0': x0, 'options': options, 'steps': records}


def deviation(a, b):
    if a is None or b is None:
        return 0.0 if a is None and b is None else math.inf
    return abs(a - b) / max(1.0, abs(b))


def sensitivity(case, record):
    """Max deviation of torch from itself when the start point moves by one ulp (see docstring)."""
    name, func, x0, options, steps = case
    worst = 0.0
    for direction in (math.inf, -math.inf):
        nudged = run_case(name, func, [math.nextafter(v, direction) for v in x0], options, steps)
        for a, b in zip(nudged['steps'], record['steps']):
            worst = max([worst] + [deviation(u, v) for u, v in zip(a['x'], b['x'])])
    return float(f'{worst:.3g}')


def main():
    cases = []
    for case in CASES:
        record = run_case(*case)
        record['sensitivity'] = sensitivity(case, record)
        cases.append(record)
    line_searches = [run_line_search(*c) for c in LS_CASES]
    out = {'torch': torch.__version__, 'quadratic': QUAD, 'cases': cases, 'lineSearches': line_searches}
    path = os.path.join(HERE, 'lbfgs.json')
    with open(path, 'w') as f:
        json.dump(out, f, separators=(',', ':'))
        f.write('\n')
    for c in out['cases']:
        last = c['steps'][-1]
        print(f"{c['name']:24s} loss {last['loss']!s:24s} funcEvals {last['funcEvals']:4d} nIter {last['nIter']:4d}"
              f"  sensitivity {c['sensitivity']:.2e}")
    for ls in out['lineSearches']:
        print(f"{ls['name']:24s} t {ls['t']:<24.17g} f {ls['f']:<24.17g} evals {ls['lsFuncEvals']}")
    print(f'wrote {path} ({os.path.getsize(path)} bytes)')


if __name__ == '__main__':
    main()
