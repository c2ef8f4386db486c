"""PyTorch's time per DLG objective evaluation for test/bench/fused.ts, at any input size and batch.

    python3 test/bench/fused_torch.py --size 32 --batch 1 [--classes 100] [--evals 200] [--repeats 3] [--threads 2]

The closure of the released code (mit-han-lab/dlg, main.py): LeNet (sigmoid, 12 channels, three 5x5
convolutions with padding 2 and strides 2, 2, 1, then one linear layer), cross-entropy against
softmax(dummy label), parameter gradients with create_graph=True, squared distance to the shared
gradient, backward to the dummy image and label. Random private data (fixed seed): the timing does not
depend on the values. Prints one JSON line: {"torch", "threads", "msPerEvalAll": [wall ms per evaluation, per
timed block], "cpuMsPerEvalAll": [process CPU ms, all threads]}.
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def lenet(size, classes):
    def out(n, stride):
        return (n + 4 - 5) // stride + 1
    side = out(out(out(size, 2), 2), 1)
    body = nn.Sequential(
        nn.Conv2d(3, 12, kernel_size=5, padding=2, stride=2), nn.Sigmoid(),
        nn.Conv2d(12, 12, kernel_size=5, padding=2, stride=2), nn.Sigmoid(),
        nn.Conv2d(12, 12, kernel_size=5, padding=2, stride=1), nn.Sigmoid())
    fc = nn.Linear(12 * side * side, classes)
    net = nn.ModuleDict({'body': body, 'fc': fc})
    for m in net.modules():
        if hasattr(m, 'weight'):
            m.weight.data.uniform_(-0.5, 0.5)
        if hasattr(m, 'bias'):
            m.bias.data.uniform_(-0.5, 0.5)

    def forward(x):
        z = body(x)
        return fc(z.view(z.size(0), -1))
    return net, forward


def cross_entropy_for_onehot(pred, target):
    return torch.mean(torch.sum(-target * F.log_softmax(pred, dim=-1), 1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--size', type=int, default=32)
    p.add_argument('--batch', type=int, default=1)
    p.add_argument('--classes', type=int, default=100)
    p.add_argument('--evals', type=int, default=200)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--threads', type=int, default=2)
    a = p.parse_args()
    torch.backends.nnpack.set_flags(False)
    torch.set_num_threads(a.threads)
    torch.manual_seed(1234)
    net, forward = lenet(a.size, a.classes)
    params = list(net.parameters())
    gt = torch.rand(a.batch, 3, a.size, a.size)
    onehot = F.one_hot(torch.arange(a.batch) * 7 % a.classes, a.classes).float()
    loss = cross_entropy_for_onehot(forward(gt), onehot)
    shared = [g.detach() for g in torch.autograd.grad(loss, params)]
    dummy = torch.randn(gt.size()).requires_grad_(True)
    dlabel = torch.randn(onehot.size()).requires_grad_(True)

    def closure():
        dummy.grad = None
        dlabel.grad = None
        dloss = cross_entropy_for_onehot(forward(dummy), F.softmax(dlabel, dim=-1))
        dgrads = torch.autograd.grad(dloss, params, create_graph=True)
        diff = sum(((gx - gy) ** 2).sum() for gx, gy in zip(dgrads, shared))
        diff.backward()
        return diff

    for _ in range(20):
        closure()
    ms, cpu = [], []
    for _ in range(a.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(a.evals):
            closure()
        ms.append((time.perf_counter() - t0) * 1000 / a.evals)
        cpu.append((time.process_time() - c0) * 1000 / a.evals)
    print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(), 'msPerEvalAll': ms, 'cpuMsPerEvalAll': cpu}))


if __name__ == '__main__':
    main()
