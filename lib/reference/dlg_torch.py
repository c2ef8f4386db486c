"""The PyTorch original of DLG (mit-han-lab/dlg, main.py) as a reference for the TypeScript toolkit.

Three commands, all on files that lib/reference/start-state.ts reads and writes (safetensors,
float32 values exactly, PyTorch layout: images NCHW, conv weights OIHW, linear weights [out, in]):

  state  --truth TRUTH --seed S --out STATE
      Draw the released code's initial state for the private images of TRUTH (written by our side,
      so both use the identical pixels): torch.manual_seed(S); LeNet with every weight and bias
      U(-0.5, 0.5); dummy image randn; dummy label logits randn. Writes STATE = TRUTH + the weights
      + the dummies + the objective's value and gradient at the dummies (`check.*`).

  bench  --state STATE [--threads N] [--blocks 5] [--block-seconds 0.5] [--iterations 300]
         [--line-search none,strong_wolfe] [--attack-repeats 1] [--check OUT]
      Time, from exactly the weights and dummies of STATE: the DLG objective (forward, parameter
      gradient, gradient distance, second-order backward; median of `blocks` timed blocks), and the
      whole attack (torch.optim.LBFGS, `iterations` steps, each line search). Prints one JSON line,
      with the loss and the evaluation count after every step so that the two implementations'
      trajectories can be compared. --check writes the objective's value and gradient at the start.

  runs   --runs RUNS --out RESULTS [--states DIR] [--threads N] [--shard K/N] [--resume]
      The released code on a list of runs (the runs of `npm run recovery-rate`, made by
      test/bench/baseline.ts): for each, `state` then a 300-step attack. RUNS (safetensors) holds
      the images (`image.<name>`, NCHW [1, 3, 32, 32]) and, in its metadata, the run list
      [{image, seed, label, lineSearch, iterations}]. RESULTS: one JSON object, rewritten after
      every run. --states DIR also writes each run's initial state (DIR/<image>-<seed>.safetensors)
      for a same-start comparison with the toolkit. --shard K/N runs every N-th run (N processes
      share the list); --resume keeps the runs RESULTS already holds.

The released settings: torch.optim.LBFGS defaults (lr 1, max_iter 20, history 100, tolerance_grad
1e-7, tolerance_change 1e-9) without line search, 300 steps, joint label (softmax of the dummy
logits), loss mean over the batch of sum(-target * log_softmax(logits)). Only a reference: the
toolkit is TypeScript. Needs torch (CPU) and numpy.
"""
import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import state_io  # noqa: E402

FORMAT = 'dlg-start-state/1'
PARAM_NAMES = ['conv1.weight', 'conv1.bias', 'conv2.weight', 'conv2.bias', 'conv3.weight', 'conv3.bias', 'fc.weight', 'fc.bias']


def conv_out(n, stride):
    return (n + 2 * 2 - 5) // stride + 1


class LeNet(nn.Module):
    """models/vision.py of the released code, for any input size (768 features at 32x32)."""

    def __init__(self, channel=3, size=(32, 32), num_classes=100):
        super().__init__()
        act = nn.Sigmoid
        self.body = nn.Sequential(
            nn.Conv2d(channel, 12, kernel_size=5, padding=5 // 2, stride=2), act(),
            nn.Conv2d(12, 12, kernel_size=5, padding=5 // 2, stride=2), act(),
            nn.Conv2d(12, 12, kernel_size=5, padding=5 // 2, stride=1), act())
        h, w = size
        for s in (2, 2, 1):
            h, w = conv_out(h, s), conv_out(w, s)
        self.fc = nn.Sequential(nn.Linear(12 * h * w, num_classes))

    def forward(self, x):
        out = self.body(x)
        out = out.view(out.size(0), -1)
        return self.fc(out)

    def named(self):
        """Parameters under the toolkit's names (lib/models/lenet.ts), in its order."""
        return dict(zip(PARAM_NAMES, [self.body[0].weight, self.body[0].bias, self.body[2].weight, self.body[2].bias,
                                      self.body[4].weight, self.body[4].bias, self.fc[0].weight, self.fc[0].bias]))


def weights_init(m):
    if hasattr(m, 'weight'):
        m.weight.data.uniform_(-0.5, 0.5)
    if hasattr(m, 'bias'):
        m.bias.data.uniform_(-0.5, 0.5)


def cross_entropy_for_onehot(pred, target):
    return torch.mean(torch.sum(-target * F.log_softmax(pred, dim=-1), 1))


def versions():
    return {'torch': torch.__version__, 'python': platform.python_version(), 'numpy': np.__version__,
            'threads': torch.get_num_threads()}


# ---------------------------------------------------------------------------------------------
# The initial state: weights, dummies, shared gradient


def read_config(metadata, path):
    if metadata.get('format') != FORMAT:
        raise SystemExit(f'{path}: not a DLG start state (metadata format {metadata.get("format")!r}, expected {FORMAT!r})')
    return json.loads(metadata['config'])


def draw_state(images, labels, num_classes, seed):
    """The released code's draws for private `images` [B, C, H, W] (float32) and integer labels."""
    torch.manual_seed(seed)
    b, c, h, w = images.shape
    net = LeNet(c, (h, w), num_classes)
    net.apply(weights_init)
    dummy = torch.randn((b, c, h, w))
    dlabel = torch.randn((b, num_classes))
    return net, dummy, dlabel


def net_from_state(tensors, config):
    h, w, c = config['inputShape']
    net = LeNet(c, (h, w), config['numClasses'])
    with torch.no_grad():
        for name, p in net.named().items():
            p.copy_(torch.from_numpy(tensors['param.' + name]))
    return net


def shared_gradient(net, images, labels, num_classes):
    gt = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    onehot = F.one_hot(torch.tensor(labels), num_classes).float()
    loss = cross_entropy_for_onehot(net(gt), onehot)
    return [g.detach() for g in torch.autograd.grad(loss, net.parameters())]


def make_objective(net, shared, dummy, dlabel, counter):
    """The released code's closure (with an evaluation counter); optimizer=None for plain evaluations."""
    def closure(opt=None):
        counter[0] += 1
        if opt is not None:
            opt.zero_grad()
        else:
            dummy.grad = None
            dlabel.grad = None
        dummy_loss = cross_entropy_for_onehot(net(dummy), F.softmax(dlabel, dim=-1))
        dummy_dy_dx = torch.autograd.grad(dummy_loss, net.parameters(), create_graph=True)
        grad_diff = 0
        for gx, gy in zip(dummy_dy_dx, shared):
            grad_diff += ((gx - gy) ** 2).sum()
        grad_diff.backward()
        return grad_diff
    return closure


def check_values(net, shared, start_images, start_labels):
    """The objective's value and gradient at the start (float32, as torch computes them)."""
    dummy = torch.from_numpy(start_images.copy()).requires_grad_(True)
    dlabel = torch.from_numpy(start_labels.copy()).requires_grad_(True)
    d = make_objective(net, shared, dummy, dlabel, [0])()
    return {'check.distance': np.array([d.item()], dtype=np.float32),
            'check.grad.images': dummy.grad.numpy().astype(np.float32),
            'check.grad.labels': dlabel.grad.numpy().astype(np.float32)}


def state_tensors(images, net, shared, dummy, dlabel):
    """Everything a start state holds: truth, weights, dummies, and the objective there (`check.*`)."""
    tensors = {'truth.images': images.astype(np.float32),
               'start.images': dummy.numpy(), 'start.labels': dlabel.numpy()}
    for name, p in net.named().items():
        tensors['param.' + name] = p.detach().numpy().copy()
    tensors.update(check_values(net, shared, tensors['start.images'], tensors['start.labels']))
    return tensors


def state_config(images, labels, num_classes, seed, extra=None):
    b, c, h, w = images.shape
    config = dict(extra or {})
    config.update({'model': 'lenet', 'inputShape': [h, w, c], 'numClasses': num_classes, 'activation': 'sigmoid',
                   'labels': [int(v) for v in labels], 'seed': seed,
                   'madeBy': f'torch {torch.__version__} (lib/reference/dlg_torch.py, the released code\'s draws)'})
    return config


def cmd_state(a):
    tensors, metadata = state_io.read(a.truth)
    config = read_config(metadata, a.truth)
    images, labels, k = tensors['truth.images'], config['labels'], config['numClasses']
    net, dummy, dlabel = draw_state(images, labels, k, a.seed)
    out = state_tensors(images, net, shared_gradient(net, images, labels, k), dummy, dlabel)
    state_io.write(a.out, out, {'format': FORMAT, 'config': json.dumps(state_config(images, config['labels'], config['numClasses'], a.seed, config))})


# ---------------------------------------------------------------------------------------------
# The attack


TRACE = 100


def attack(net, shared, start_images, start_labels, line_search, iterations):
    """`iterations` LBFGS steps from the given start, then one final evaluation (as the toolkit's dlg()).
    Also returns the objective at each of the first TRACE evaluations (`evalLosses`)."""
    dummy = torch.from_numpy(start_images.copy()).requires_grad_(True)
    dlabel = torch.from_numpy(start_labels.copy()).requires_grad_(True)
    counter = [0]
    objective = make_objective(net, shared, dummy, dlabel, counter)
    trace = []

    def closure():
        d = objective(opt)
        if len(trace) < TRACE:
            trace.append(d.item())
        return d
    t0 = time.perf_counter()
    opt = torch.optim.LBFGS([dummy, dlabel], line_search_fn=None if line_search == 'none' else 'strong_wolfe')
    losses, evals_at_step = [], []
    for _ in range(iterations):
        losses.append(opt.step(closure).detach().item())
        evals_at_step.append(counter[0])
    losses.append(objective(opt).detach().item())
    seconds = time.perf_counter() - t0
    return {'seconds': seconds, 'evals': counter[0], 'iterations': iterations, 'losses': losses, 'evalLosses': trace,
            'evalsAtStep': evals_at_step, 'distance': losses[-1],
            'dummy': dummy.detach().numpy(), 'labels': dlabel.detach().numpy()}


def cmd_bench(a):
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    tensors, metadata = state_io.read(a.state)
    config = read_config(metadata, a.state)
    net = net_from_state(tensors, config)
    truth = tensors['truth.images']
    shared = shared_gradient(net, truth, config['labels'], config['numClasses'])
    if a.check:
        state_io.write(a.check, check_values(net, shared, tensors['start.images'], tensors['start.labels']), {'format': 'dlg-check/1'})
    # per evaluation: the closure at the start point, blocks sized from a warm-up
    dummy = torch.from_numpy(tensors['start.images'].copy()).requires_grad_(True)
    dlabel = torch.from_numpy(tensors['start.labels'].copy()).requires_grad_(True)
    counter = [0]
    closure = make_objective(net, shared, dummy, dlabel, counter)
    t0 = time.perf_counter()
    for _ in range(a.warmup):
        closure()
    per = (time.perf_counter() - t0) / a.warmup
    n = max(3, round(a.block_seconds / per))
    ms_all = []
    for _ in range(a.blocks):
        t0 = time.perf_counter()
        for _ in range(n):
            closure()
        ms_all.append((time.perf_counter() - t0) * 1000 / n)
    attacks = []
    for ls in [s for s in a.line_search.split(',') if s]:
        seconds = []
        for _ in range(a.attack_repeats):
            r = attack(net, shared, tensors['start.images'], tensors['start.labels'], ls, a.iterations)
            seconds.append(r['seconds'])
        mse = float(((r['dummy'] - truth) ** 2).mean())
        attacks.append({'lineSearch': ls, 'secondsAll': seconds, 'evals': r['evals'], 'iterations': r['iterations'],
                        'losses': r['losses'], 'evalsAtStep': r['evalsAtStep'], 'evalLosses': r['evalLosses'],
                        'distance': r['distance'], 'mse': mse})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    print(json.dumps({**versions(), 'msPerEvalAll': ms_all, 'evalsPerBlock': n, 'attacks': attacks, 'peakRssMB': peak}))


# ---------------------------------------------------------------------------------------------
# Batch mode: the released code on a list of runs


def cmd_runs(a):
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    tensors, metadata = state_io.read(a.runs)
    runs = json.loads(metadata['runs'])
    if a.states:
        os.makedirs(a.states, exist_ok=True)
    shard, shards = (int(v) for v in a.shard.split('/'))
    done = {}
    if a.resume and os.path.exists(a.out):
        done = {r['index']: r for r in json.load(open(a.out))['runs']}
    out = {**versions(), 'runs': []}
    for k, run in enumerate(runs):
        if k % shards != shard:
            continue
        if k in done:
            out['runs'].append(done[k])
            continue
        images = tensors['image.' + run['image']]
        labels, seed = [run['label']], run['seed']
        net, dummy, dlabel = draw_state(images, labels, 100, seed)
        shared = shared_gradient(net, images, labels, 100)
        if a.states:
            st = state_tensors(images, net, shared, dummy, dlabel)
            state_io.write(os.path.join(a.states, f'{os.path.splitext(run["image"])[0]}-{seed}.safetensors'), st,
                           {'format': FORMAT, 'config': json.dumps(state_config(images, labels, 100, seed, {'images': [run['image']]}))})
        r = attack(net, shared, dummy.numpy(), dlabel.numpy(), run['lineSearch'], run['iterations'])
        mse = float(((r['dummy'] - images) ** 2).mean())
        result = {'index': k, **run, 'mse': mse, 'recovered': mse < 1e-3, 'recoveredLabel': int(np.argmax(r['labels'][0])),
                  'labelOk': int(np.argmax(r['labels'][0])) == run['label'], 'iterations': r['iterations'],
                  'evaluations': r['evals'], 'seconds': r['seconds'], 'distance': r['distance']}
        out['runs'].append(result)
        print(f'[{k + 1}/{len(runs)}] {run["image"]} seed {seed} {run["lineSearch"]}: MSE {mse:.2e} label '
              f'{"ok" if result["labelOk"] else "WRONG"} {r["evals"]} evals {r["seconds"]:.1f} s', file=sys.stderr, flush=True)
        with open(a.out, 'w') as f:
            json.dump(out, f, indent=1)


def main():
    p = argparse.ArgumentParser(description='The PyTorch original of DLG, as a reference (see the module docstring).')
    sub = p.add_subparsers(dest='command', required=True)
    s = sub.add_parser('state', help='draw the released code\'s initial state for the images of a truth file')
    s.add_argument('--truth', required=True)
    s.add_argument('--seed', type=int, required=True)
    s.add_argument('--out', required=True)
    b = sub.add_parser('bench', help='time the objective and the attack from a start state')
    b.add_argument('--state', required=True)
    b.add_argument('--threads', type=int, default=0, help='torch.set_num_threads (0: torch default, one per core)')
    b.add_argument('--warmup', type=int, default=10)
    b.add_argument('--blocks', type=int, default=5)
    b.add_argument('--block-seconds', type=float, default=0.5)
    b.add_argument('--iterations', type=int, default=300)
    b.add_argument('--line-search', default='none,strong_wolfe', help="comma-separated: none, strong_wolfe (empty: no attack)")
    b.add_argument('--attack-repeats', type=int, default=1)
    b.add_argument('--check', help='write the objective value and gradient at the start here')
    r = sub.add_parser('runs', help='the released code on a list of runs')
    r.add_argument('--runs', required=True)
    r.add_argument('--out', required=True)
    r.add_argument('--states', help='also write every run\'s initial state into this directory')
    r.add_argument('--threads', type=int, default=0)
    r.add_argument('--shard', default='0/1', help='K/N: only the runs with index %% N == K (several processes)')
    r.add_argument('--resume', action='store_true', help='keep the runs already in --out and skip them')
    a = p.parse_args()
    for ls in getattr(a, 'line_search', '').split(','):
        if ls not in ('', 'none', 'strong_wolfe'):
            p.error(f"--line-search: unknown '{ls}' (none, strong_wolfe)")
    {'state': cmd_state, 'bench': cmd_bench, 'runs': cmd_runs}[a.command](a)


if __name__ == '__main__':
    main()
