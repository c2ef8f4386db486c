#!/usr/bin/env python3
"""
Reference values for lib/analysis/privacy.ts (the RDP accountant of DP-SGD), computed with Google's
dp_accounting 0.6.0 (the accountant of TensorFlow Privacy, github.com/google/differential-privacy,
python/dp_accounting) and Opacus 1.6's RDP analysis (opacus/accountants/analysis/rdp.py).

    python3 -m venv /tmp/dpvenv && /tmp/dpvenv/bin/pip install numpy scipy absl-py attrs mpmath
    # dp_accounting: `pip install dp-accounting==0.6.0`, or a checkout of its source:
    DP_ACCOUNTING_SRC=.../differential-privacy/python/dp_accounting \
    OPACUS_SRC=.../opacus \
    /tmp/dpvenv/bin/python test/golden/privacy_golden.py

writes test/golden/privacy.json. Neither library is part of this repository. Opacus is optional
(only its rdp.py is loaded, by path, so torch is not needed); without OPACUS_SRC its entries are
left out and the test skips them.

What is recorded:
  rdp       per-order RDP of ONE step of the Poisson-subsampled Gaussian mechanism,
            dp_accounting's _compute_rdp_poisson_subsampled_gaussian, on its DEFAULT_RDP_ORDERS
            (integer orders: the exact binomial sum; fractional orders: the erfc series of
            Mironov, Talwar, Zhang 2019, Sec. 3.3, summed in absolute value as dp_accounting
            0.6.0 does), and Opacus's compute_rdp on the same orders where it is given;
  epsilon   (epsilon, optimal order) after `steps` steps at delta, with two conversions:
              improved  dp_accounting.rdp.compute_epsilon (Balle et al. 2020 / Canonne, Kamath,
                        Steinke 2020: eps = rdp + log1p(-1/a) - log(delta a)/(a - 1), a > 1.01,
                        and 0 where delta^2 + expm1(-rdp) > 0);
              classic   Mironov 2017, Prop. 3: eps = rdp + log(1/delta)/(a - 1) (what TensorFlow
                        Privacy and Opacus used when their READMEs were written);
            and Opacus's get_privacy_spent (the improved formula without the KL shortcut);
  gaussian  the exact epsilon of one Gaussian mechanism (Balle and Wang 2018, analytic Gaussian),
            dp_accounting.get_epsilon_gaussian.
"""
import importlib.util
import json
import math
import os
import sys

import numpy as np

if os.environ.get('DP_ACCOUNTING_SRC'):
    sys.path.insert(0, os.environ['DP_ACCOUNTING_SRC'])
import dp_accounting  # noqa: E402
from dp_accounting.rdp import rdp_privacy_accountant as rdp_acc  # noqa: E402
from dp_accounting import gaussian_mechanism  # noqa: E402

opacus_rdp = None
if os.environ.get('OPACUS_SRC'):
    path = os.path.join(os.environ['OPACUS_SRC'], 'opacus', 'accountants', 'analysis', 'rdp.py')
    spec = importlib.util.spec_from_file_location('opacus_rdp', path)
    opacus_rdp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(opacus_rdp)

DEFAULT_ORDERS = [float(a) for a in rdp_acc.DEFAULT_RDP_ORDERS]
# Opacus's RDPAccountant.DEFAULT_ALPHAS, and TensorFlow Privacy's compute_dp_sgd_privacy orders of 2019.
OPACUS_ORDERS = [1 + x / 10.0 for x in range(1, 100)] + [float(a) for a in range(12, 64)]


def dp_accounting_version():
    v = getattr(dp_accounting, '__version__', None)
    if v:
        return v
    version_file = os.path.join(os.path.dirname(os.path.dirname(dp_accounting.__file__)), 'VERSION')
    if not os.path.exists(version_file):
        return 'unknown'
    return [line.strip() for line in open(version_file) if line.strip()][-1]


def finite(x):
    x = float(x)
    return x if math.isfinite(x) else ('inf' if x > 0 else '-inf')


def classic(orders, rdp, delta):
    eps = [r - math.log(delta) / (a - 1) if a > 1 else math.inf for a, r in zip(orders, rdp)]
    i = int(np.argmin(eps))
    return max(0.0, eps[i]), orders[i]


RDP_CASES = [
    # (q, sigma): DP-SGD settings of the published examples, this toolkit's digits setting, corners
    (256 / 60000, 1.1),      # TensorFlow Privacy MNIST tutorial
    (240 / 60000, 1.3),      # Opacus MNIST example
    (0.01, 4.0),             # Abadi et al. 2016, Sec. 3.1 example
    (32 / 1437, 1.0),        # the digits of lib/experiments/dp-frontier.ts
    (32 / 1437, 0.3),
    (0.02, 0.1),             # tiny noise: huge RDP
    (0.1, 0.5),
    (0.5, 0.7),
    (0.999, 1.0),
    (1e-4, 10.0),            # tiny q, large sigma
    (1.0, 2.0),              # no subsampling: a / (2 sigma^2)
]

EPS_CASES = [
    # (q, sigma, steps, delta)
    (256 / 60000, 1.1, 60 * 60000 // 256, 1e-5),   # TF Privacy README: eps = 3.01 (60 epochs)
    (256 / 60000, 1.1, 60000 // 256, 1e-5),        # ... 1.03 after 1 epoch
    (256 / 60000, 1.1, 2 * 60000 // 256, 1e-5),    # ... 1.11 after 2 epochs
    (256 / 60000, 1.3, 15 * 60000 // 256, 1e-5),   # ... table: 1.19
    (256 / 60000, 0.7, 45 * 60000 // 256, 1e-5),   # ... table: 7.10
    (240 / 60000, 1.3, 15 * 250, 1e-5),            # Opacus MNIST README: 1.16
    (240 / 60000, 1.3, 250, 1e-5),                 # ... 0.71 after 1 epoch
    (240 / 60000, 1.1, 60 * 250, 1e-5),            # ... 2.91
    (240 / 60000, 0.7, 45 * 250, 1e-5),            # ... 6.86
    (0.01, 4.0, 10000, 1e-5),                      # Abadi et al.: moments accountant 1.26
    (32 / 1437, 1.0, 900, 1e-5),                   # digits, 20 epochs of 45 steps
    (32 / 1437, 3.0, 900, 1e-5),
    (32 / 1437, 0.3, 900, 1e-5),
    (32 / 1437, 0.1, 900, 1e-5),
    (1.0, 1.0, 1, 1e-5),                           # one shared step (q = 1, T = 1)
    (1.0, 0.1, 1, 1e-5),
    (1.0, 3.0, 1, 1e-5),
    (1.0, 10.0, 1, 1e-5),
    (1.0, 100.0, 1, 1e-5),                         # KL shortcut territory: epsilon 0 (improved)
    (0.5, 0.7, 10, 1e-3),
    (1e-4, 10.0, 1000, 1e-6),
]

GAUSSIAN_CASES = [(s, d) for s in [0.3, 1.0, 3.0, 10.0] for d in [1e-5, 1e-3]] + [(0.01, 1e-5), (0.1, 1e-5)]


def main():
    out = {
        'dp_accounting': dp_accounting_version(),
        'opacus': opacus_rdp is not None,
        'defaultOrders': DEFAULT_ORDERS,
        'opacusOrders': OPACUS_ORDERS,
        'rdp': [],
        'epsilon': [],
        'gaussian': [],
    }
    for q, sigma in RDP_CASES:
        rdp = rdp_acc._compute_rdp_poisson_subsampled_gaussian(q, sigma, DEFAULT_ORDERS)
        case = {'q': q, 'sigma': sigma, 'rdp': [finite(r) for r in rdp]}
        if opacus_rdp is not None:
            case['opacusRdp'] = [finite(r) for r in opacus_rdp.compute_rdp(q=q, noise_multiplier=sigma, steps=1, orders=OPACUS_ORDERS)]
        out['rdp'].append(case)
    for q, sigma, steps, delta in EPS_CASES:
        rdp = rdp_acc._compute_rdp_poisson_subsampled_gaussian(q, sigma, DEFAULT_ORDERS) * steps
        acc = rdp_acc.RdpAccountant()
        acc.compose(dp_accounting.SelfComposedDpEvent(dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma)), steps))
        eps, order = acc.get_epsilon_and_optimal_order(delta)
        c_eps, c_order = classic(DEFAULT_ORDERS, rdp, delta)
        rdp_o = rdp_acc._compute_rdp_poisson_subsampled_gaussian(q, sigma, OPACUS_ORDERS) * steps
        co_eps, co_order = classic(OPACUS_ORDERS, rdp_o, delta)
        case = {
            'q': q, 'sigma': sigma, 'steps': steps, 'delta': delta,
            'improved': {'epsilon': finite(eps), 'order': float(order)},
            'classic': {'epsilon': finite(c_eps), 'order': float(c_order)},
            'classicOpacusOrders': {'epsilon': finite(co_eps), 'order': float(co_order)},
        }
        if opacus_rdp is not None:
            o_rdp = opacus_rdp.compute_rdp(q=q, noise_multiplier=sigma, steps=steps, orders=OPACUS_ORDERS)
            o_eps, o_order = opacus_rdp.get_privacy_spent(orders=OPACUS_ORDERS, rdp=o_rdp, delta=delta)
            case['opacus'] = {'epsilon': finite(o_eps), 'order': float(o_order)}
        out['epsilon'].append(case)
    for sigma, delta in GAUSSIAN_CASES:
        out['gaussian'].append({'sigma': sigma, 'delta': delta, 'epsilon': finite(gaussian_mechanism.get_epsilon_gaussian(sigma, delta))})
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'privacy.json')
    with open(path, 'w') as f:
        json.dump(out, f, indent=1)
        f.write('\n')
    print(f'wrote {path}: {len(out["rdp"])} rdp cases, {len(out["epsilon"])} epsilon cases, {len(out["gaussian"])} gaussian cases')
    for c in out['epsilon']:
        o = c.get('opacus', {}).get('epsilon', '-')
        print(f"q={c['q']:.6g} sigma={c['sigma']} T={c['steps']} delta={c['delta']}: improved {c['improved']}, classic {c['classic']}, classic/opacus orders {c['classicOpacusOrders']}, opacus {o}")


if __name__ == '__main__':
    main()
