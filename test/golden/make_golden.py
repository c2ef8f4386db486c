"""Golden values from the PyTorch original (mit-han-lab/dlg) for the TypeScript tests.

Run:  python3 -m venv .venv && .venv/bin/pip install torch==2.13.0 && .venv/bin/python test/golden/make_golden.py
Writes test/golden/lenet.json. PyTorch is only a reference here; the toolkit itself is TypeScript.

Weights and inputs come from closed-form formulas (no RNG), so the TypeScript side rebuilds the
exact same tensors without shipping 85k weights: see test/golden.ts. Computed in float64.
"""
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))


class LeNet(nn.Module):
    """models/vision.py of the original code, with the input shape and class count as arguments."""

    def __init__(self, channel=3, hideen=768, num_classes=100, act=nn.Sigmoid):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channel, 12, kernel_size=5, padding=5 // 2, stride=2), act(),
            nn.Conv2d(12, 12, kernel_size=5, padding=5 // 2, stride=2), act(),
            nn.Conv2d(12, 12, kernel_size=5, padding=5 // 2, stride=1), act(),
        )
        self.fc = nn.Sequential(nn.Linear(hideen, num_classes))

    def forward(self, x):
        out = self.body(x)
        out = out.view(out.size(0), -1)
        return self.fc(out)


def wave(n, salt):
    """Deterministic stand-in for Uniform(-0.5, 0.5): 0.5*sin(0.7 n + salt) cos(0.31 n)."""
    return 0.5 * math.sin(0.7 * n + salt) * math.cos(0.31 * n)


def fill(shape, salt):
    numel = math.prod(shape)
    return torch.tensor([wave(i, salt) for i in range(numel)]).reshape(shape)


def image(batch, c, h, w, salt):
    """Values in [0, 1] indexed in NCHW order: 0.5 + 0.5 sin(0.05 * (n * (salt+1)) + salt)."""
    n = batch * c * h * w
    return torch.tensor([0.5 + 0.5 * math.sin(0.05 * i * (salt + 1) + salt) for i in range(n)]).reshape(batch, c, h, w)


def dummy(shape, salt):
    """A normal-looking dummy: 1.3 sin(1.9 n + salt) + 0.4 cos(0.37 n)."""
    numel = math.prod(shape)
    return torch.tensor([1.3 * math.sin(1.9 * i + salt) + 0.4 * math.cos(0.37 * i) for i in range(numel)]).reshape(shape)


def cross_entropy_for_onehot(pred, target):
    """utils.py of the original code."""
    return torch.mean(torch.sum(-target * F.log_softmax(pred, dim=-1), 1))


def case(name, channel, size, num_classes, labels, act=nn.Sigmoid):
    batch = len(labels)
    side = size
    for s in (2, 2, 1):
        side = (side + 4 - 5) // s + 1
    net = LeNet(channel, 12 * side * side, num_classes, act)
    with torch.no_grad():
        for k, p in enumerate(net.parameters()):
            p.copy_(fill(p.shape, k + 1))
    x = image(batch, channel, size, size, 0.3)
    onehot = F.one_hot(torch.tensor(labels), num_classes).double()
    logits = net(x)
    loss = cross_entropy_for_onehot(logits, onehot)
    shared = [g.detach() for g in torch.autograd.grad(loss, net.parameters())]

    xd = dummy((batch, channel, size, size), 0.1).requires_grad_(True)
    yd = dummy((batch, num_classes), 2.0).requires_grad_(True)
    dloss = cross_entropy_for_onehot(net(xd), F.softmax(yd, dim=-1))
    dgrads = torch.autograd.grad(dloss, net.parameters(), create_graph=True)
    distance = sum(((gx - gy) ** 2).sum() for gx, gy in zip(dgrads, shared))
    gx, gy = torch.autograd.grad(distance, (xd, yd))

    def flat(t):
        return [float('%.9g' % v) for v in t.detach().reshape(-1)]

    names = [n for n, _ in net.named_parameters()]
    return {
        'name': name,
        'activation': act.__name__.lower(),
        'channels': channel,
        'size': size,
        'numClasses': num_classes,
        'labels': labels,
        'paramNames': names,
        'paramShapes': [list(p.shape) for p in net.parameters()],
        'logits': flat(logits),
        'loss': float(loss.detach()),
        # every gradient in PyTorch layout (OIHW filters, [out, in] linear), the big linear weight
        # sampled every 13th entry to keep the file small
        'sharedGrads': [flat(g) if g.numel() <= 4000 else None for g in shared],
        'fcWeightGradEvery13': flat(shared[6].reshape(-1)[::13]),
        'sharedGradNorms': [float(g.norm()) for g in shared],
        'distance': float(distance.detach()),
        'dDistance_dDummyImage': flat(gx),   # NCHW order
        'dDistance_dDummyLabel': flat(gy),
    }


def main():
    torch.backends.nnpack.set_flags(False)  # silence "Could not initialize NNPACK" on CPUs without it
    cases = [
        case('lenet32_rgb_b1', 3, 32, 100, [7]),
        case('lenet32_rgb_b2', 3, 32, 100, [7, 42]),
        case('lenet28_gray_b1', 1, 28, 10, [3]),
        case('lenet32_rgb_relu_b1', 3, 32, 100, [11], nn.ReLU),
        case('lenet32_rgb_tanh_b1', 3, 32, 100, [5], nn.Tanh),
    ]
    out = {
        'generator': 'test/golden/make_golden.py',
        'torch': torch.__version__,
        'dtype': 'float64',
        'cases': cases,
    }
    path = os.path.join(HERE, 'lenet.json')
    with open(path, 'w') as f:
        json.dump(out, f, separators=(',', ':'))
    print(f'wrote {path} ({os.path.getsize(path) // 1024} KiB, {len(cases)} cases)')


if __name__ == '__main__':
    main()
