"""PyTorch reference for the 'cost' part of test/bench/resnet.ts: seconds per DLG objective evaluation
(forward, parameter gradient with create_graph, gradient distance, backward to the dummy image and
label) of the same ResNets in float32 on this machine's CPU.

Run:  /tmp/torchvenv/bin/python test/bench/resnet_torch.py [--size 32] [--repeats 3] [--evals 2]
Writes test/bench/results/resnet-cost-torch.json. The modules are those of
test/golden/resnet_golden.py (PyTorch's default initialisation, training mode: batch statistics).
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'golden'))
from resnet_golden import cifar_resnet, cross_entropy_for_onehot  # noqa: E402


def seconds_per_eval(net, size, classes, evals, repeats):
    torch.manual_seed(1)
    x = torch.rand(1, 3, size, size)
    onehot = F.one_hot(torch.tensor([0]), classes).float()
    params = list(net.parameters())
    shared = [g.detach() for g in torch.autograd.grad(cross_entropy_for_onehot(net(x), onehot), params)]
    xd = torch.randn(1, 3, size, size, requires_grad=True)
    yd = torch.randn(1, classes, requires_grad=True)

    def evaluate():
        dloss = cross_entropy_for_onehot(net(xd), F.softmax(yd, dim=-1))
        dgrads = torch.autograd.grad(dloss, params, create_graph=True)
        distance = sum(((a - b) ** 2).sum() for a, b in zip(dgrads, shared))
        gx, gy = torch.autograd.grad(distance, (xd, yd))
        return float(distance)

    evaluate()  # warm-up
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(evals):
            evaluate()
        runs.append((time.perf_counter() - start) / evals)
    return runs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--size', type=int, default=32)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--evals', type=int, default=2)
    args = parser.parse_args()
    loadavg = list(os.getloadavg())
    torch.set_default_dtype(torch.float32)
    torch.backends.nnpack.set_flags(False)
    results = []
    for depth in (20, 32, 56):
        for strides in ('removed', 'kept'):
            net = cifar_resnet(depth, 3, args.size, 100, 'sigmoid', True, 'identity', strides)
            net.train()
            runs = seconds_per_eval(net, args.size, 100, args.evals, args.repeats)
            row = {'model': f'resnet{depth}', 'strides': strides, 'size': args.size, 'runs': runs,
                   'secondsPerEval': min(runs), 'secondsPerEvalMedian': sorted(runs)[(len(runs) - 1) // 2]}
            results.append(row)
            print(f"ResNet-{depth} strides {strides} {args.size}x{args.size}: {1000 * row['secondsPerEval']:.0f} ms/eval min, "
                  f"{1000 * row['secondsPerEvalMedian']:.0f} median", flush=True)
    out = {
        'command': 'test/bench/resnet_torch.py ' + ' '.join(sys.argv[1:]),
        'torch': torch.__version__,
        'threads': torch.get_num_threads(),
        'loadavgStart': loadavg,
        'loadavgEnd': list(os.getloadavg()),
        'results': results,
    }
    path = os.path.join(HERE, 'results', 'resnet-cost-torch.json')
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(out, f, indent=1)
    print(f'wrote {path}')


if __name__ == '__main__':
    main()
