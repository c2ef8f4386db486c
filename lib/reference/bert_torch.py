"""The text attack's objective in PyTorch: the small BERT masked LM of lib/models/bert.ts and the DLG
gradient distance of lib/attacks/text.ts (textObjective), on the weights our side wrote.

  bench --state STATE [--threads N] [--blocks 5] [--block-seconds 0.5] [--check OUT]
  check --state STATE --check OUT      (the value and gradient at the start only, no timing)

STATE (lib/reference/text-state.ts writes it): the model's parameters in the toolkit's layout (dense
weights [in, out], applied as x @ W + b), the client's input embeddings, masked positions and label
tokens, and the dummies E' [seq, hidden] and Y' [masked, vocab]. The objective, as on our side:

  embeddings  x = LayerNorm(E + P[:seq])
  each layer  x = LayerNorm(x + SelfAttention(x));  x = LayerNorm(x + W2 GELU(W1 x + b1) + b2)
  MLM head    logits = Decoder(LayerNorm(GELU(Wt x[positions] + bt)))
  loss        mean over masked rows of sum(-target * log_softmax(logits)), target = softmax(Y')
              (the client: one-hot labels at the truth embeddings)
  D(E', Y')   = sum over parameters of ||dloss/dW - shared||^2, and its gradient w.r.t. E' and Y'

Prints one JSON line (ms per evaluation, median of the blocks; peak RSS); --check writes D and its
gradient at the start (safetensors) for our side to compare. Only a reference: the toolkit is TypeScript.
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import state_io  # noqa: E402
from dlg_torch import versions  # noqa: E402

FORMAT = 'dlg-text-state/1'


def gelu(x):
    return 0.5 * x * (1 + torch.erf(x * math.sqrt(0.5)))


def layer_norm(x, g, b, eps):
    return F.layer_norm(x, (x.shape[-1],), g, b, eps)


def mlm_loss(c, p, emb, target):
    """lib/models/bert.ts mlmLoss: p is the parameter list in the model's order."""
    it = iter(p)
    seq, h = emb.shape
    heads, d = c['heads'], h // c['heads']
    eps = c['layerNormEps']
    pos = next(it)
    x = layer_norm(emb + pos[:seq], next(it), next(it), eps)
    for _ in range(c['layers']):
        wq, bq, wk, bk, wv, bv, wo, bo, g1, b1 = [next(it) for _ in range(10)]

        def split(w, b):
            return (x @ w + b).reshape(seq, heads, d).transpose(0, 1)
        q, k, v = split(wq, bq), split(wk, bk), split(wv, bv)
        probs = torch.softmax(q @ k.transpose(1, 2) * (1 / math.sqrt(d)), dim=-1)
        context = (probs @ v).transpose(0, 1).reshape(seq, h)
        x = layer_norm(x + context @ wo + bo, g1, b1, eps)
        wi, bi, wout, bout, g2, b2 = [next(it) for _ in range(6)]
        x = layer_norm(x + gelu(x @ wi + bi) @ wout + bout, g2, b2, eps)
    wt, bt, gt, btn, wd, bd = [next(it) for _ in range(6)]
    rows = x[c['positions']]
    logits = layer_norm(gelu(rows @ wt + bt), gt, btn, eps) @ wd + bd
    return torch.mean(torch.sum(-target * F.log_softmax(logits, dim=-1), 1))


def main():
    p = argparse.ArgumentParser(description='The text attack objective (small BERT MLM) in PyTorch, timed.')
    sub = p.add_subparsers(dest='command', required=True)
    b = sub.add_parser('bench')
    b.add_argument('--state', required=True)
    b.add_argument('--threads', type=int, default=0)
    b.add_argument('--warmup', type=int, default=3)
    b.add_argument('--blocks', type=int, default=5)
    b.add_argument('--block-seconds', type=float, default=0.5)
    b.add_argument('--check')
    k = sub.add_parser('check')
    k.add_argument('--state', required=True)
    k.add_argument('--check', required=True)
    k.add_argument('--threads', type=int, default=0)
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    tensors, metadata = state_io.read(a.state)
    if metadata.get('format') != FORMAT:
        raise SystemExit(f'{a.state}: not a text start state (format {metadata.get("format")!r}, expected {FORMAT!r})')
    c = json.loads(metadata['config'])
    names = json.loads(metadata['paramNames'])
    params = [torch.from_numpy(tensors['param.' + n]).requires_grad_(True) for n in names]
    truth = torch.from_numpy(tensors['truth.embeddings'])
    onehot = F.one_hot(torch.tensor(c['labels']), c['vocabSize']).float()
    shared = [g.detach() for g in torch.autograd.grad(mlm_loss(c, params, truth, onehot), params)]
    emb = torch.from_numpy(tensors['start.embeddings'].copy()).requires_grad_(True)
    lab = torch.from_numpy(tensors['start.labels'].copy()).requires_grad_(True)

    def closure():
        emb.grad = None
        lab.grad = None
        loss = mlm_loss(c, params, emb, torch.softmax(lab, dim=-1))
        grads = torch.autograd.grad(loss, params, create_graph=True)
        diff = 0
        for gx, gy in zip(grads, shared):
            diff += ((gx - gy) ** 2).sum()
        diff.backward()
        return diff

    d0 = closure()
    if a.check:
        state_io.write(a.check, {'check.distance': np.array([d0.item()], dtype=np.float32),
                                 'check.grad.embeddings': emb.grad.numpy(), 'check.grad.labels': lab.grad.numpy()},
                       {'format': 'dlg-check/1'})
    if a.command == 'check':
        return
    t0 = time.perf_counter()
    for _ in range(a.warmup):
        closure()
    n = max(3, round(a.block_seconds / ((time.perf_counter() - t0) / a.warmup)))
    ms_all = []
    for _ in range(a.blocks):
        t0 = time.perf_counter()
        for _ in range(n):
            closure()
        ms_all.append((time.perf_counter() - t0) * 1000 / n)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({**versions(), 'msPerEvalAll': ms_all, 'evalsPerBlock': n, 'attacks': [], 'peakRssMB': peak}))


if __name__ == '__main__':
    main()
