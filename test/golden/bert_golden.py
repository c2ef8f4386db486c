"""Golden values for the BERT-MLM text attack (test/bert-fused.test.ts, test/bert-checkpoint.test.ts).

Run:  .venv/bin/python test/golden/bert_golden.py   (any Python with torch; numpy not needed)
Writes test/golden/bert-tiny.safetensors (a tiny BERT masked LM in bert-base-uncased's layout) and
test/golden/bert.json. PyTorch is only a reference here; the toolkit itself is TypeScript.

The checkpoint exercises the loader (lib/models/bert-checkpoint.ts): "bert." names, PyTorch's
[out, in] linear weights, the original "LayerNorm.gamma/beta" spelling on the embeddings,
token_type_embeddings (row 0 folds into the position embeddings), a pooler and a next-sentence head
(ignored), no decoder weight (tied to the word embeddings, as in BERT), num_attention_heads and
layer_norm_eps in the metadata. Weights are float32 (as the file stores them); every computation
below is float64 from those values.

GELU uses tfjs's erf (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7) with the exact derivative, as the
toolkit's model does, so the golden values test the implementation rather than the approximation.

Values (the toolkit's layout: linear weights [in, out], the decoder [hidden, vocab]):
  logits       MLM logits at the masked positions for the client's input ids
  shared       the client's parameter gradient (one-hot labels), rounded to float32, in model.params order
  embedding_grad  rows of the word-embedding table's gradient at the input ids (scatter-added)
  objective    for a dummy (E', Y'): D and dD/dE', dD/dY' for distances l2, cosine, l1l2 (L1 weight 0.01),
               against `shared` as float32 (what the TypeScript side holds), and for labels 'fixed'
               (one-hot targets) with l2.
"""
import json
import math
import os
import struct

import torch

torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))

VOCAB, HIDDEN, HEADS, LAYERS, INTER, MAXPOS, EPS = 50, 8, 2, 2, 16, 10, 1e-5
IDS = [1, 7, 3, 12, 3, 2]          # [CLS] ... [SEP]; 3 plays [MASK]
POSITIONS = [2, 4]
LABELS = [9, 13]
L1_WEIGHT = 0.01


def erf_tfjs(x):
    p, a = 0.3275911, [0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429]
    v = x.abs()
    t = 1 / (1 + p * v)
    y = 1 - ((((a[4] * t + a[3]) * t + a[2]) * t + a[1]) * t + a[0]) * t * torch.exp(-v * v)
    return torch.sign(x) * y


class Erf(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return erf_tfjs(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return gy * 2 / math.sqrt(math.pi) * torch.exp(-x * x)


def gelu(u):
    return u * 0.5 * (1 + Erf.apply(u / math.sqrt(2)))


def layer_norm(x, g, b):
    mu = x.mean(-1, keepdim=True)
    c = x - mu
    var = (c * c).mean(-1, keepdim=True)
    return c / torch.sqrt(var + EPS) * g + b


def hf_weights():
    """float32 weights with Hugging Face names and layouts, from a seeded generator."""
    gen = torch.Generator().manual_seed(7)

    def rnd(*shape, scale=1.0):
        return (torch.randn(*shape, generator=gen, dtype=torch.float64) * scale).float()

    w = {
        'bert.embeddings.word_embeddings.weight': rnd(VOCAB, HIDDEN),
        'bert.embeddings.position_embeddings.weight': rnd(MAXPOS, HIDDEN),
        'bert.embeddings.token_type_embeddings.weight': rnd(2, HIDDEN, scale=0.5),
        'bert.embeddings.LayerNorm.gamma': (1 + rnd(HIDDEN, scale=0.1)),
        'bert.embeddings.LayerNorm.beta': rnd(HIDDEN, scale=0.1),
        'bert.embeddings.position_ids': torch.arange(MAXPOS).reshape(1, MAXPOS),
    }
    s = 1 / math.sqrt(HIDDEN)
    for l in range(LAYERS):
        p = f'bert.encoder.layer.{l}.'
        for m in ['query', 'key', 'value']:
            w[p + f'attention.self.{m}.weight'] = rnd(HIDDEN, HIDDEN, scale=s)
            w[p + f'attention.self.{m}.bias'] = rnd(HIDDEN, scale=0.1)
        w[p + 'attention.output.dense.weight'] = rnd(HIDDEN, HIDDEN, scale=s)
        w[p + 'attention.output.dense.bias'] = rnd(HIDDEN, scale=0.1)
        w[p + 'attention.output.LayerNorm.weight'] = 1 + rnd(HIDDEN, scale=0.1)
        w[p + 'attention.output.LayerNorm.bias'] = rnd(HIDDEN, scale=0.1)
        w[p + 'intermediate.dense.weight'] = rnd(INTER, HIDDEN, scale=s)
        w[p + 'intermediate.dense.bias'] = rnd(INTER, scale=0.1)
        w[p + 'output.dense.weight'] = rnd(HIDDEN, INTER, scale=1 / math.sqrt(INTER))
        w[p + 'output.dense.bias'] = rnd(HIDDEN, scale=0.1)
        w[p + 'output.LayerNorm.weight'] = 1 + rnd(HIDDEN, scale=0.1)
        w[p + 'output.LayerNorm.bias'] = rnd(HIDDEN, scale=0.1)
    w['bert.pooler.dense.weight'] = rnd(HIDDEN, HIDDEN, scale=s)
    w['bert.pooler.dense.bias'] = rnd(HIDDEN)
    w['cls.predictions.transform.dense.weight'] = rnd(HIDDEN, HIDDEN, scale=s)
    w['cls.predictions.transform.dense.bias'] = rnd(HIDDEN, scale=0.1)
    w['cls.predictions.transform.LayerNorm.weight'] = 1 + rnd(HIDDEN, scale=0.1)
    w['cls.predictions.transform.LayerNorm.bias'] = rnd(HIDDEN, scale=0.1)
    w['cls.predictions.bias'] = rnd(VOCAB, scale=0.1)
    w['cls.seq_relationship.weight'] = rnd(2, HIDDEN)
    w['cls.seq_relationship.bias'] = rnd(2)
    return w


def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {'__metadata__': metadata}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        dtype, fmt = ('I64', 'q') if t.dtype == torch.int64 else ('F32', 'f')
        data = struct.pack('<%d%s' % (t.numel(), fmt), *t.flatten().tolist())
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    js = json.dumps(header, separators=(',', ':'))
    js += ' ' * ((8 - (len(js) + 8) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(js)))
        f.write(js.encode())
        for b in blobs:
            f.write(b)


def toolkit_params(w):
    """The toolkit's parameter list (lib/models/bert.ts, bertParameterSpec) in float64."""
    d = lambda k: w[k].double()
    lin = lambda k: w[k].double().t().contiguous()
    # the loader folds token type 0 into the position embeddings in float32 (the model's precision)
    ps = [(w['bert.embeddings.position_embeddings.weight'] + w['bert.embeddings.token_type_embeddings.weight'][0]).double(),
          d('bert.embeddings.LayerNorm.gamma'), d('bert.embeddings.LayerNorm.beta')]
    for l in range(LAYERS):
        p = f'bert.encoder.layer.{l}.'
        for m in ['query', 'key', 'value']:
            ps += [lin(p + f'attention.self.{m}.weight'), d(p + f'attention.self.{m}.bias')]
        ps += [lin(p + 'attention.output.dense.weight'), d(p + 'attention.output.dense.bias'),
               d(p + 'attention.output.LayerNorm.weight'), d(p + 'attention.output.LayerNorm.bias'),
               lin(p + 'intermediate.dense.weight'), d(p + 'intermediate.dense.bias'),
               lin(p + 'output.dense.weight'), d(p + 'output.dense.bias'),
               d(p + 'output.LayerNorm.weight'), d(p + 'output.LayerNorm.bias')]
    ps += [lin('cls.predictions.transform.dense.weight'), d('cls.predictions.transform.dense.bias'),
           d('cls.predictions.transform.LayerNorm.weight'), d('cls.predictions.transform.LayerNorm.bias'),
           d('bert.embeddings.word_embeddings.weight').t().contiguous(), d('cls.predictions.bias')]
    return ps


def mlm_logits(E, ps):
    n = E.shape[0]
    it = iter(ps)
    pos, g0, b0 = next(it), next(it), next(it)
    x = layer_norm(E + pos[:n], g0, b0)
    e = HIDDEN // HEADS
    for _ in range(LAYERS):
        wq, bq, wk, bk, wv, bv, wo, bo, g1, b1 = [next(it) for _ in range(10)]
        split = lambda wt, b: (x @ wt + b).reshape(n, HEADS, e).transpose(0, 1)
        q, k, v = split(wq, bq), split(wk, bk), split(wv, bv)
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(e), -1)
        c = (a @ v).transpose(0, 1).reshape(n, HIDDEN)
        x = layer_norm(x + c @ wo + bo, g1, b1)
        wi, bi, wout, bout, g2, b2 = [next(it) for _ in range(6)]
        x = layer_norm(x + gelu(x @ wi + bi) @ wout + bout, g2, b2)
    wt, bt, gt, btt, wd, bd = [next(it) for _ in range(6)]
    t = layer_norm(gelu(x[POSITIONS] @ wt + bt), gt, btt)
    return t @ wd + bd


def loss(E, ps, target):
    return -(target * torch.log_softmax(mlm_logits(E, ps), -1)).sum() / len(POSITIONS)


def main():
    w = hf_weights()
    write_safetensors(os.path.join(HERE, 'bert-tiny.safetensors'), w,
                      {'format': 'pt', 'num_attention_heads': str(HEADS), 'layer_norm_eps': str(EPS)})
    ps = [p.clone().requires_grad_(True) for p in toolkit_params(w)]
    table = w['bert.embeddings.word_embeddings.weight'].double()
    E = table[IDS].clone().requires_grad_(True)
    onehot = torch.zeros(len(POSITIONS), VOCAB)
    for r, lab in enumerate(LABELS):
        onehot[r, lab] = 1
    logits = mlm_logits(E, ps)
    grads = torch.autograd.grad(loss(E, ps, onehot), ps + [E])
    shared = [g.float().double() for g in grads[:-1]]
    emb_grad = grads[-1]

    gen = torch.Generator().manual_seed(11)
    E0 = torch.randn(len(IDS), HIDDEN, generator=gen)
    Y0 = torch.randn(len(POSITIONS), VOCAB, generator=gen)
    objective = {}
    for name, label in [('l2', 'joint'), ('cosine', 'joint'), ('l1l2', 'joint'), ('l2_fixed', 'fixed')]:
        Ed = E0.clone().requires_grad_(True)
        Yd = Y0.clone().requires_grad_(True)
        target = torch.softmax(Yd, -1) if label == 'joint' else onehot
        g = torch.autograd.grad(loss(Ed, ps, target), ps, create_graph=True)
        dist = name.replace('_fixed', '')
        if dist == 'l2':
            D = sum(((a - b) ** 2).sum() for a, b in zip(g, shared))
        elif dist == 'cosine':
            dot = sum((a * b).sum() for a, b in zip(g, shared))
            gg = sum((a * a).sum() for a in g)
            ss = sum((b * b).sum() for b in shared)
            D = 1 - dot / torch.sqrt(gg * ss)
        else:
            D = sum(((a - b) ** 2).sum() + L1_WEIGHT * (a - b).abs().sum() for a, b in zip(g, shared))
        if label == 'joint':
            dE, dY = torch.autograd.grad(D, [Ed, Yd])
            objective[name] = {'value': D.item(), 'dE': dE.flatten().tolist(), 'dY': dY.flatten().tolist()}
        else:
            (dE,) = torch.autograd.grad(D, [Ed])
            objective[name] = {'value': D.item(), 'dE': dE.flatten().tolist()}

    out = {
        'config': {'vocabSize': VOCAB, 'hidden': HIDDEN, 'heads': HEADS, 'layers': LAYERS, 'intermediate': INTER,
                   'maxPositions': MAXPOS, 'layerNormEps': EPS},
        'ids': IDS, 'positions': POSITIONS, 'labels': LABELS, 'l1Weight': L1_WEIGHT,
        'logits': logits.flatten().tolist(),
        'shared': [s.flatten().tolist() for s in shared],
        'embedding_grad': emb_grad.flatten().tolist(),
        'dummyE': E0.flatten().tolist(), 'dummyY': Y0.flatten().tolist(),
        'objective': objective,
    }
    with open(os.path.join(HERE, 'bert.json'), 'w') as f:
        json.dump(out, f)
    print('wrote bert-tiny.safetensors and bert.json; D(l2) =', objective['l2']['value'])


if __name__ == '__main__':
    main()
