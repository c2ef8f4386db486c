"""Golden values from PyTorch (float64) for the ResNets of lib/models/resnet.ts.

Run:  /tmp/torchvenv/bin/python test/golden/resnet_golden.py   (torch 2.13, numpy)
Writes test/golden/resnet.json (read by test/resnet.test.ts). PyTorch is only a reference here.

The PyTorch modules below are written for this test from the architecture descriptions (He et al.
2016, section 4.2; the released DLG code's models/vision.py ResNet-18, with torch.sigmoid for its
F.Sigmoid and its Linear sized to the flattened 4x4-pooled map). Weights, images and dummies come
from closed-form formulas (the ones of make_golden.py) so that test/golden.ts rebuilds the same
tensors without shipping them. BatchNorm in training mode (batch statistics), as the DLG client.

Per case: logits, loss, every parameter gradient (tensors of more than SAMPLE_MAX entries sampled
every p-th entry (p prime, about n / SAMPLE_MAX) in PyTorch layout, plus the norm and the dot product with a
closed-form probe over all entries), the gradient distance of a dummy against the shared gradient,
and its gradient with respect to the dummy image (NCHW) and the dummy label logits.
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE_MAX = 64
ACTS = {'sigmoid': torch.sigmoid, 'relu': torch.relu, 'tanh': torch.tanh}


def wave(numel, salt):
    """0.5 sin(0.7 n + salt) cos(0.31 n): the deterministic stand-in for U(-0.5, 0.5) of make_golden.py."""
    n = np.arange(numel, dtype=np.float64)
    return 0.5 * np.sin(0.7 * n + salt) * np.cos(0.31 * n)


def probe(numel):
    """The probe the gradients are dotted with: sin(0.37 n + 0.2)."""
    n = np.arange(numel, dtype=np.float64)
    return np.sin(0.37 * n + 0.2)


def image(batch, c, h, w, salt):
    n = np.arange(batch * c * h * w, dtype=np.float64)
    return torch.from_numpy(0.5 + 0.5 * np.sin(0.05 * n * (salt + 1) + salt)).reshape(batch, c, h, w)


def dummy(shape, salt):
    n = np.arange(math.prod(shape), dtype=np.float64)
    return torch.from_numpy(1.3 * np.sin(1.9 * n + salt) + 0.4 * np.cos(0.37 * n)).reshape(shape)


class Block(nn.Module):
    """act(BN(conv3x3(act(BN(conv3x3(x))))) + shortcut(x)); BN off: convs with bias."""

    def __init__(self, cin, cout, stride, act, bn, shortcut):
        super().__init__()
        self.act = ACTS[act]
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=not bn)
        self.bn1 = nn.BatchNorm2d(cout) if bn else nn.Identity()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=not bn)
        self.bn2 = nn.BatchNorm2d(cout) if bn else nn.Identity()
        self.kind = 'none'
        if stride != 1 or cin != cout:
            self.kind = shortcut
            if shortcut == 'projection':
                layers = [nn.Conv2d(cin, cout, 1, stride, bias=not bn)] + ([nn.BatchNorm2d(cout)] if bn else [])
                self.shortcut = nn.Sequential(*layers)
            else:  # option A: x[:, :, ::s, ::s], zero channels around
                self.stride, self.before, self.after = stride, (cout - cin) // 2, cout - cin - (cout - cin) // 2

    def forward(self, x):
        out = self.act(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.kind == 'none':
            skip = x
        elif self.kind == 'projection':
            skip = self.shortcut(x)
        else:
            skip = F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, self.before, self.after))
        return self.act(out + skip)


class ResNet(nn.Module):
    def __init__(self, cin, num_classes, act, bn, shortcut, stem, stages, pool, side):
        super().__init__()
        self.act, self.pool = ACTS[act], pool
        self.conv1 = nn.Conv2d(cin, stem, 3, 1, 1, bias=not bn)
        self.bn1 = nn.BatchNorm2d(stem) if bn else nn.Identity()
        c = stem
        for s, (channels, blocks, stride) in enumerate(stages):
            layer = []
            for b in range(blocks):
                layer.append(Block(c, channels, stride if b == 0 else 1, act, bn, shortcut))
                c = channels
                side = (side - 1) // (stride if b == 0 else 1) + 1
            setattr(self, f'layer{s + 1}', nn.Sequential(*layer))
        self.nstages = len(stages)
        features = c if pool == 'global' else c * (side // pool) ** 2
        self.linear = nn.Linear(features, num_classes)

    def forward(self, x):
        out = self.act(self.bn1(self.conv1(x)))
        for s in range(self.nstages):
            out = getattr(self, f'layer{s + 1}')(out)
        if self.pool == 'global':
            out = out.mean(dim=(2, 3))
        else:
            out = F.avg_pool2d(out, self.pool)
        return self.linear(out.reshape(out.size(0), -1))


def cifar_resnet(depth, cin, size, num_classes, act='sigmoid', bn=True, shortcut='identity', strides='removed'):
    n = (depth - 2) // 6
    s = 2 if strides == 'kept' else 1
    return ResNet(cin, num_classes, act, bn, shortcut, 16, [(16, n, 1), (32, n, s), (64, n, s)], 'global', size)


def released_resnet18(cin, size, num_classes):
    return ResNet(cin, num_classes, 'sigmoid', True, 'projection', 64, [(c, 2, 1) for c in (64, 128, 256, 512)], 4, size)


def sample_every(numel):
    """1 for small tensors, else the smallest prime >= numel / SAMPLE_MAX: coprime with the tensor's
    dims, so the samples spread over every axis (a stride of 9 * 64 would only see one input channel)."""
    if numel <= SAMPLE_MAX:
        return 1
    p = math.ceil(numel / SAMPLE_MAX)
    while p < 2 or any(p % d == 0 for d in range(2, int(p ** 0.5) + 1)):
        p += 1
    return p


def cross_entropy_for_onehot(pred, target):
    return torch.mean(torch.sum(-target * F.log_softmax(pred, dim=-1), 1))


def flat(t):
    return [float('%.9g' % v) for v in t.detach().reshape(-1).tolist()]


def case(name, model, options, channels, size, num_classes, labels):
    net = model()
    net.train()
    with torch.no_grad():
        for k, p in enumerate(net.parameters()):
            p.copy_(torch.from_numpy(wave(p.numel(), k + 1)).reshape(p.shape))
    batch = len(labels)
    x = image(batch, channels, size, size, 0.3)
    onehot = F.one_hot(torch.tensor(labels), num_classes).double()
    logits = net(x)
    loss = cross_entropy_for_onehot(logits, onehot)
    shared = [g.detach() for g in torch.autograd.grad(loss, list(net.parameters()))]

    xd = dummy((batch, channels, size, size), 0.1).requires_grad_(True)
    yd = dummy((batch, num_classes), 2.0).requires_grad_(True)
    dloss = cross_entropy_for_onehot(net(xd), F.softmax(yd, dim=-1))
    dgrads = torch.autograd.grad(dloss, list(net.parameters()), create_graph=True)
    distance = sum(((gx - gy) ** 2).sum() for gx, gy in zip(dgrads, shared))
    gx, gy = torch.autograd.grad(distance, (xd, yd))

    grads = []
    for g in shared:
        v = g.reshape(-1)
        every = sample_every(v.numel())
        grads.append({
            'every': every,
            'values': flat(v[::every]),
            'norm': float(v.norm()),
            'probe': float(v @ torch.from_numpy(probe(v.numel()))),
        })
    return {
        'name': name,
        'model': options,
        'channels': channels,
        'size': size,
        'numClasses': num_classes,
        'labels': labels,
        'paramCount': sum(p.numel() for p in net.parameters()),
        'paramNames': [n for n, _ in net.named_parameters()],
        'paramShapes': [list(p.shape) for p in net.parameters()],
        'logits': flat(logits),
        'loss': float(loss.detach()),
        'sharedGrads': grads,
        'distance': float(distance.detach()),
        'dDistance_dDummyImage': flat(gx),  # NCHW order
        'dDistance_dDummyLabel': flat(gy),
    }


def resnet_case(name, depth, size, labels, num_classes=10, **options):
    opts = {'kind': 'resnet', 'depth': depth, 'activation': 'sigmoid', 'batchNorm': True, 'shortcut': 'identity', 'strides': 'removed'}
    opts.update({k: v for k, v in {'activation': options.get('act'), 'batchNorm': options.get('bn'),
                                     'shortcut': options.get('shortcut'), 'strides': options.get('strides')}.items() if v is not None})
    model = lambda: cifar_resnet(depth, 3, size, num_classes, opts['activation'], opts['batchNorm'], opts['shortcut'], opts['strides'])
    return case(name, model, opts, 3, size, num_classes, labels)


def main():
    torch.backends.nnpack.set_flags(False)
    cases = [
        resnet_case('resnet20_removed_bn_b1', 20, 16, [3]),
        resnet_case('resnet20_removed_bn_b2', 20, 16, [3, 7]),
        resnet_case('resnet20_kept_bn_b1', 20, 16, [5], strides='kept'),
        resnet_case('resnet20_kept_bn_b2', 20, 16, [5, 1], strides='kept'),
        resnet_case('resnet20_removed_nobn_b1', 20, 16, [2], bn=False),
        resnet_case('resnet20_kept_nobn_b2', 20, 9, [2, 2], bn=False, strides='kept'),
        resnet_case('resnet20_kept_projection_b2', 20, 16, [8, 0], shortcut='projection', strides='kept'),
        resnet_case('resnet20_removed_nobn_projection_b1', 20, 8, [4], bn=False, shortcut='projection'),
        resnet_case('resnet20_kept_tanh_b1', 20, 16, [6], act='tanh', strides='kept'),
        resnet_case('resnet20_kept_relu_b2', 20, 16, [6, 9], act='relu', strides='kept'),
        case('resnet18released_4x4_b1', lambda: released_resnet18(3, 4, 10), {'kind': 'resnet18-released'}, 3, 4, 10, [1]),
        case('resnet18released_9x9_b1', lambda: released_resnet18(3, 9, 10), {'kind': 'resnet18-released'}, 3, 9, 10, [4]),
    ]
    out = {
        'generator': 'test/golden/resnet_golden.py',
        'torch': torch.__version__,
        'dtype': 'float64',
        'sampleMax': SAMPLE_MAX,
        'cases': cases,
    }
    path = os.path.join(HERE, 'resnet.json')
    with open(path, 'w') as f:
        json.dump(out, f, separators=(',', ':'))
    print(f'wrote {path} ({os.path.getsize(path) // 1024} KiB, {len(cases)} cases)')


if __name__ == '__main__':
    main()
