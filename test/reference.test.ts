import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf } from '../lib/engine';
import { encodeSafetensors, decodeSafetensors, readSafetensors } from '../lib/reference/safetensors';
import { readStart, writeStart, nchwToNhwc, nhwcToNchw } from '../lib/reference/start-state';
import { readTextCheck } from '../lib/reference/text-state';
import { probePython, runReference } from '../lib/reference/python';
import { makeCase, disposeCase } from '../lib/cases/case';
import { fusedObjective } from '../lib/engine/fused';
import { flatObjective, gradientDistance } from '../lib/attacks/objective';
import { parameterGradients } from '../lib/models/gradients';
import { softmax } from '../lib/models/nn';
import { disposeModel } from '../lib/models/model';
import { lenet } from '../lib/models/lenet';
import { dlg } from '../lib/attacks/dlg';
import { bert, disposeBert } from '../lib/models/bert';
import { mlmGradient } from '../lib/cases/text';
import { textObjective } from '../lib/attacks/text';
import { createRng } from '../lib/rng';
import { TINY_BERT } from './golden/make-start-fixtures';
import { relativeError } from './golden';
import type { Tensor2D, Tensor4D } from '@tensorflow/tfjs';

const GOLDEN = path.join(__dirname, '../../test/golden');
const LENET = path.join(GOLDEN, 'start-lenet16x2.safetensors');
const PYTHON = '/tmp/torchvenv/bin/python';

/** Objective value and gradient at the state's start: fused, or tfjs autodiff as dlg() builds it. */
function objectiveAt(file: string, engine: 'fused' | 'tfjs') {
  const st = readStart(file);
  const c = makeCase({ images: st.images, labels: st.labels, seed: 0, model: st.model });
  const B = st.labels.length;
  const [h, w, ch] = st.model.inputShape;
  const grad = new Float64Array(st.start.length);
  let d: number;
  if (engine === 'fused') {
    const f = fusedObjective(c.model, c.shared, { batchSize: B, label: 'joint' });
    assert.ok(f !== null);
    d = f.evaluate(Float64Array.from(st.start), grad);
  } else {
    const objective = (xd: Tensor4D, yd?: Tensor2D) => gradientDistance(parameterGradients(c.model, xd, softmax(yd as Tensor2D)), c.shared);
    d = flatObjective(objective, [B, h, w, ch], c.model.numClasses, grad)(Float64Array.from(st.start));
  }
  disposeCase(c);
  return { d, grad, check: st.check as NonNullable<typeof st.check> };
}

describe('safetensors (lib/reference/safetensors.ts)', () => {
  it('round-trips F32 (bit for bit), F64, I32, a scalar and the metadata; the header is 8-byte aligned', () => {
    const f32 = Float32Array.of(0.1, -2.5e-38, 3.4e38, 1 / 3);
    const file = {
      tensors: {
        b: { dtype: 'F64' as const, shape: [2], data: Float64Array.of(Math.PI, -0) },
        a: { dtype: 'F32' as const, shape: [2, 2], data: f32 },
        s: { dtype: 'I32' as const, shape: [], data: Int32Array.of(-7) },
      },
      metadata: { format: 'x', note: 'é' },
    };
    const buf = encodeSafetensors(file);
    const n = Number(buf.readBigUInt64LE(0));
    assert.equal(n % 8, 0);
    const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
    assert.deepEqual(header.a, { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] }); // sorted by name: a first
    const back = decodeSafetensors(buf);
    assert.deepEqual(back.metadata, file.metadata);
    assert.deepEqual(Array.from(back.tensors.a.data), Array.from(f32));
    assert.deepEqual(back.tensors.b.data, Float64Array.of(Math.PI, -0));
    assert.deepEqual(back.tensors.s, file.tensors.s);
  });

  it('bad files fail with one line naming the file', () => {
    const good = encodeSafetensors({ tensors: { a: { dtype: 'F32', shape: [3], data: Float32Array.of(1, 2, 3) } }, metadata: {} });
    assert.throws(() => decodeSafetensors(good.subarray(0, 5), 'x.safetensors'), /^Error: cannot read x.safetensors: not a safetensors file \(5 bytes/);
    assert.throws(() => decodeSafetensors(good.subarray(0, good.length - 4), 'x.safetensors'), /cannot read x.safetensors: tensor 'a' \(F32 \[3\]\) has data offsets \[0,12\] that do not fit/);
    const bad = Buffer.from(good);
    bad.write('!', 8);
    assert.throws(() => decodeSafetensors(bad, 'x.safetensors'), /cannot read x.safetensors: malformed JSON header/);
    assert.throws(() => readSafetensors('/nonexistent/y.safetensors'), /^Error: cannot read \/nonexistent\/y.safetensors: no such file$/);
  });
});

describe('shared initial state with the PyTorch reference (lib/reference/start-state.ts)', () => {
  it('layouts: NCHW <-> NHWC are inverse permutations', () => {
    const v = Float64Array.from({ length: 2 * 3 * 4 * 5 }, (_, i) => i);
    const nhwc = nchwToNhwc(v, 2, 3, 4, 5);
    assert.equal(nhwc[1], v[4 * 5]); // (n0, y0, x0, c1) = (n0, c1, y0, x0)
    assert.deepEqual(nhwcToNchw(nhwc, 2, 4, 5, 3), v);
  });

  it('ours loads exactly what PyTorch wrote: writing the loaded state back gives the same float32 tensors, bit for bit', () => {
    const st = readStart(LENET);
    assert.equal(st.config.madeBy?.startsWith('torch 2.'), true, st.config.madeBy);
    assert.deepEqual(st.model.inputShape, [16, 16, 3]);
    assert.deepEqual(st.labels, [3, 8]);
    assert.equal(st.start.length, 2 * 16 * 16 * 3 + 2 * 10);
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'start-')), 'back.safetensors');
    writeStart(out, { ...st, config: st.config });
    disposeModel(st.model);
    const a = readSafetensors(LENET).tensors;
    const b = readSafetensors(out).tensors;
    assert.deepEqual(Object.keys(b).sort(), Object.keys(a).sort());
    for (const name of Object.keys(a)) {
      assert.deepEqual(b[name].shape, a[name].shape, name);
      const bitsA = new Uint32Array(Float32Array.from(a[name].data).buffer);
      const bitsB = new Uint32Array(Float32Array.from(b[name].data).buffer);
      assert.deepEqual(bitsB, bitsA, `${name} differs after the round trip`);
    }
  });

  for (const engine of ['fused', 'tfjs'] as const) {
    it(`the objective at PyTorch's start (${engine}) = PyTorch's float32 value (rel. < 1e-6) and gradient (rel. < 1e-5)`, () => {
      const n0 = tf.memory().numTensors;
      const { d, grad, check } = objectiveAt(LENET, engine);
      const ed = Math.abs(d - check.distance) / check.distance;
      const eg = relativeError(grad, check.grad);
      assert.ok(check.distance > 1, `D = ${check.distance}`);
      assert.ok(ed < 1e-6, `D ${d} vs PyTorch ${check.distance}: rel ${ed}`);
      assert.ok(eg < 1e-5, `gradient rel ${eg}`);
      assert.equal(tf.memory().numTensors, n0, 'tensors leaked');
    });
  }

  it('dlg({ start }) starts from the given dummy: the first snapshot is the start, the first loss the objective there', () => {
    const st = readStart(LENET);
    const c = makeCase({ images: st.images, labels: st.labels, seed: 0, model: st.model });
    const n0 = tf.memory().numTensors;
    const r = dlg(c.model, c.shared, { preset: 'paper', iterations: 2, batchSize: 2, start: st.start });
    assert.deepEqual(Array.from(r.snapshots[0].data), Array.from(Float32Array.from(st.start.subarray(0, 2 * 16 * 16 * 3))));
    assert.ok(Math.abs(r.losses[0] - (st.check?.distance as number)) / (st.check?.distance as number) < 1e-6, `${r.losses[0]} vs ${st.check?.distance}`);
    assert.ok(r.losses[2] < r.losses[0] / 2, `losses ${r.losses}`);
    assert.throws(() => dlg(c.model, c.shared, { iterations: 1, batchSize: 2, start: st.start.subarray(1) }), /^Error: start has 1555 values, expected 1556 \(2 x 16x16x3 dummy images \+ 2 x 10 label logits\)$/);
    assert.equal(tf.memory().numTensors, n0, 'tensors leaked');
    disposeCase(c);
  });

  it('the tiny BERT objective at our start = PyTorch\'s (lib/reference/bert_torch.py) value (rel. < 2e-6) and gradient (rel. < 2e-5)', () => {
    const t = TINY_BERT;
    const model = bert(t.model);
    // the committed state holds exactly this model's weights
    const file = readSafetensors(path.join(GOLDEN, 'start-bert-tiny.safetensors'));
    model.paramNames.forEach((name, i) => assert.deepEqual(Array.from(file.tensors[`param.${name}`].data), Array.from(model.params[i].dataSync()), name));
    const shared = mlmGradient(model, t.inputIds, t.positions, t.labels);
    const n0 = tf.memory().numTensors;
    const objective = textObjective(model, shared, { seqLength: t.inputIds.length, positions: t.positions });
    const rng = createRng(t.startSeed);
    const x = Float64Array.from({ length: t.inputIds.length * t.model.hidden + t.positions.length * t.model.vocabSize }, () => rng.normal());
    const grad = new Float64Array(x.length);
    const d = objective(x, grad);
    const ref = readTextCheck(path.join(GOLDEN, 'start-bert-tiny.check.safetensors'));
    const ed = Math.abs(d - ref.distance) / ref.distance;
    const eg = relativeError(grad, ref.grad);
    assert.ok(ed < 2e-6, `D ${d} vs PyTorch ${ref.distance}: rel ${ed}`);
    assert.ok(eg < 2e-5, `gradient rel ${eg}`);
    assert.equal(tf.memory().numTensors, n0, 'tensors leaked');
    tf.dispose(shared);
    disposeBert(model);
  });

  it('live, with PyTorch: a state our side writes is what dlg_torch.py reads (its objective there = ours)', function () {
    if (!fs.existsSync(PYTHON) || probePython(PYTHON) === null) {
      console.log(`      skipped: no Python with torch at ${PYTHON} (the committed fixtures above cover the PyTorch -> ours direction)`);
      this.skip();
    }
    const st = readStart(LENET);
    const model = lenet({ inputShape: [16, 16, 3], numClasses: 10, seed: 77 });
    const rng = createRng(78);
    const start = Float64Array.from({ length: st.start.length }, () => rng.normal());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'start-live-'));
    writeStart(path.join(dir, 's.safetensors'), { model, images: st.images, labels: st.labels, start });
    runReference(PYTHON, 'dlg_torch.py', ['bench', '--state', path.join(dir, 's.safetensors'), '--threads', '1', '--line-search', '', '--warmup', '1', '--blocks', '1', '--block-seconds', '0.001', '--check', path.join(dir, 'c.safetensors')]);
    disposeModel(model);
    disposeModel(st.model);
    // ours at the same start, from the file we wrote
    const ours = objectiveAt(path.join(dir, 's.safetensors'), 'fused');
    const c = readSafetensors(path.join(dir, 'c.safetensors')).tensors;
    const torchD = c['check.distance'].data[0];
    const torchGrad = new Float64Array(start.length);
    nchwToNhwc(c['check.grad.images'].data, 2, 3, 16, 16, torchGrad);
    torchGrad.set(c['check.grad.labels'].data, 2 * 16 * 16 * 3);
    assert.ok(Math.abs(ours.d - torchD) / torchD < 1e-6, `D ${ours.d} vs PyTorch ${torchD}`);
    assert.ok(relativeError(ours.grad, torchGrad) < 1e-5, `gradient rel ${relativeError(ours.grad, torchGrad)}`);
  });
});
