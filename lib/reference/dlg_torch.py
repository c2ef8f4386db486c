"""The PyTorch original (mit-han-lab/dlg, main.py), timed, for `npm run bench`.

    python3 lib/reference/dlg_torch.py PIXELS.json --label 7 --iterations 300 --seed 1 [--line-search none|strong_wolfe] [--evals 200] [--repeats 3]

Prints one JSON line: ms per gradient-distance evaluation (forward, gradient, second-order backward),
seconds and evaluations for the whole attack, final MSE. Only a reference: the toolkit is TypeScript.
Needs torch (CPU) and numpy. PIXELS.json: the 32x32x3 image as a flat JSON list (HWC, [0, 1]).
"""
import argparse
import json
import resource
import statistics
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_pixels(path):
    """A JSON list of 32*32*3 floats in [0, 1], HWC order (bench.ts writes it from the PNG)."""
    values = json.load(open(path))
    assert len(values) == 32 * 32 * 3, f'{path}: expected 3072 values, got {len(values)}'
    return np.asarray(values, dtype=np.float32).reshape(32, 32, 3)


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        act = nn.Sigmoid
        self.body = nn.Sequential(
            nn.Conv2d(3, 12, kernel_size=5, padding=2, stride=2), act(),
            nn.Conv2d(12, 12, kernel_size=5, padding=2, stride=2), act(),
            nn.Conv2d(12, 12, kernel_size=5, padding=2, stride=1), act())
        self.fc = nn.Sequential(nn.Linear(768, 100))

    def forward(self, x):
        out = self.body(x)
        return self.fc(out.view(out.size(0), -1))


def weights_init(m):
    if hasattr(m, 'weight'):
        m.weight.data.uniform_(-0.5, 0.5)
    if hasattr(m, 'bias'):
        m.bias.data.uniform_(-0.5, 0.5)


def cross_entropy_for_onehot(pred, target):
    return torch.mean(torch.sum(-target * F.log_softmax(pred, dim=-1), 1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument('pixels')
    p.add_argument('--label', type=int, default=7)
    p.add_argument('--iterations', type=int, default=300)
    p.add_argument('--seed', type=int, default=1234)
    p.add_argument('--line-search', default='none', choices=['none', 'strong_wolfe'])
    p.add_argument('--evals', type=int, default=200)
    p.add_argument('--repeats', type=int, default=1, help='timed blocks of evals and timed attacks (median reported)')
    p.add_argument('--threads', type=int, default=0, help='torch.set_num_threads (0: torch default, one per core)')
    a = p.parse_args()
    torch.backends.nnpack.set_flags(False)
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    net = LeNet()
    net.apply(weights_init)
    gt = torch.tensor(read_pixels(a.pixels)).permute(2, 0, 1).unsqueeze(0)
    onehot = F.one_hot(torch.tensor([a.label]), 100).float()
    loss = cross_entropy_for_onehot(net(gt), onehot)
    shared = [g.detach() for g in torch.autograd.grad(loss, net.parameters())]
    dummy = torch.randn(gt.size()).requires_grad_(True)
    dlabel = torch.randn(onehot.size()).requires_grad_(True)
    opt = torch.optim.LBFGS([dummy, dlabel], line_search_fn=None if a.line_search == 'none' else 'strong_wolfe')
    evals = [0]

    def closure():
        evals[0] += 1
        opt.zero_grad()
        dloss = cross_entropy_for_onehot(net(dummy), F.softmax(dlabel, dim=-1))
        dgrads = torch.autograd.grad(dloss, net.parameters(), create_graph=True)
        diff = sum(((gx - gy) ** 2).sum() for gx, gy in zip(dgrads, shared))
        diff.backward()
        return diff

    for _ in range(20):
        closure()
    ms_all = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        for _ in range(a.evals):
            closure()
        ms_all.append((time.perf_counter() - t0) * 1000 / a.evals)
    start = (torch.randn(gt.size()), torch.randn(onehot.size()))
    seconds_all = []
    for _ in range(a.repeats):
        # every repeat: the same start point, a fresh optimizer
        with torch.no_grad():
            dummy.copy_(start[0])
            dlabel.copy_(start[1])
        opt = torch.optim.LBFGS([dummy, dlabel], line_search_fn=None if a.line_search == 'none' else 'strong_wolfe')
        evals[0] = 0
        t0 = time.perf_counter()
        for _ in range(a.iterations):
            opt.step(closure)
        seconds_all.append(time.perf_counter() - t0)
    mse = float(((dummy.detach() - gt) ** 2).mean())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    print(json.dumps({'impl': 'pytorch', 'torch': torch.__version__, 'threads': torch.get_num_threads(),
                      'msPerEval': statistics.median(ms_all), 'msPerEvalAll': ms_all,
                      'attackSeconds': statistics.median(seconds_all), 'attackSecondsAll': seconds_all,
                      'attackEvals': evals[0], 'iterations': a.iterations,
                      'lineSearch': a.line_search, 'mse': mse, 'peakRssMB': peak}))


if __name__ == '__main__':
    main()
