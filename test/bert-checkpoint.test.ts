/**
 * BERT checkpoints: the safetensors format and bert-base-uncased's layout, on the tiny checkpoint
 * written by PyTorch (test/golden/bert_golden.py) and on round trips of our own models.
 * No pretrained weights are available offline: these are the same code paths on small files.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf } from '../lib/engine';
import { bert, disposeBert } from '../lib/models/bert';
import { loadBertCheckpoint, saveBertCheckpoint } from '../lib/models/bert-checkpoint';
import { readSafetensors, writeSafetensors } from '../lib/data/safetensors';
import { mlmGradient, mlmEmbeddingGradient, makeTextCase, disposeTextCase } from '../lib/cases/text';
import { relativeError as relErr } from './golden';

const GOLDEN = path.join(__dirname, '../../test/golden');

describe('safetensors', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'st-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes and reads float32 tensors and metadata (8-byte aligned header)', () => {
    const file = path.join(dir, 'a.safetensors');
    writeSafetensors(file, [{ name: 'b', shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 4, 5, 6e-8]) }, { name: 'a', shape: [1], data: Float32Array.from([7]) }], { k: 'v' });
    const bytes = fs.readFileSync(file);
    assert.equal(Number(bytes.readBigUInt64LE(0)) % 8, 0);
    const st = readSafetensors(file);
    assert.deepEqual(Array.from(st.tensors.get('b')!.data), Array.from(Float32Array.from([1, -2, 3.5, 4, 5, 6e-8])));
    assert.deepEqual(st.tensors.get('b')!.shape, [2, 3]);
    assert.deepEqual(st.metadata, { k: 'v' });
    assert.equal(st.dtypes.get('a'), 'F32');
  });

  it('reads F16, BF16, F64 and I64 as numbers', () => {
    const body = Buffer.alloc(2 * 2 + 2 * 2 + 8 + 8);
    body.writeUInt16LE(0x3c00, 0); // 1.0
    body.writeUInt16LE(0xc000, 2); // -2.0
    body.writeUInt16LE(0x3f80, 4); // bf16 1.0
    body.writeUInt16LE(0x4049, 6); // bf16 3.140625
    body.writeDoubleLE(0.1, 8);
    body.writeBigInt64LE(BigInt(-5), 16);
    const header = JSON.stringify({
      h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
      b: { dtype: 'BF16', shape: [2], data_offsets: [4, 8] },
      d: { dtype: 'F64', shape: [1], data_offsets: [8, 16] },
      i: { dtype: 'I64', shape: [1], data_offsets: [16, 24] },
    });
    const head = Buffer.alloc(8);
    head.writeBigUInt64LE(BigInt(header.length));
    const st = readSafetensors(Buffer.concat([head, Buffer.from(header), body]));
    assert.deepEqual(Array.from(st.tensors.get('h')!.data), [1, -2]);
    assert.deepEqual(Array.from(st.tensors.get('b')!.data), [1, 3.140625]);
    assert.equal(st.tensors.get('d')!.data[0], Math.fround(0.1));
    assert.equal(st.tensors.get('i')!.data[0], -5);
  });

  it('malformed files are one clear error', () => {
    assert.throws(() => readSafetensors(Buffer.from([1, 2, 3])), /not a safetensors file \(3 bytes/);
    const head = Buffer.alloc(8);
    head.writeBigUInt64LE(BigInt(1000));
    assert.throws(() => readSafetensors(Buffer.concat([head, Buffer.from('{}')])), /header length 1000/);
    const bad = JSON.stringify({ x: { dtype: 'F32', shape: [4], data_offsets: [0, 8] } });
    head.writeBigUInt64LE(BigInt(bad.length));
    assert.throws(() => readSafetensors(Buffer.concat([head, Buffer.from(bad), Buffer.alloc(8)])), /tensor x \(F32 \[4\]\) has data_offsets \[0, 8\]/);
    const odd = JSON.stringify({ x: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } });
    head.writeBigUInt64LE(BigInt(odd.length));
    assert.throws(() => readSafetensors(Buffer.concat([head, Buffer.from(odd), Buffer.alloc(8)])), /dtype "C64"/);
    assert.throws(() => readSafetensors(path.join(GOLDEN, 'missing.safetensors')), /cannot read checkpoint/);
  });
});

describe('BERT checkpoints in bert-base-uncased\'s layout', () => {
  const golden = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'bert.json'), 'utf8')) as {
    config: Record<string, number>; ids: number[]; positions: number[]; labels: number[]; logits: number[]; shared: number[][]; embedding_grad: number[];
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bert-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('loads the PyTorch-written tiny checkpoint: config from shapes and metadata, MLM logits and gradients as PyTorch', () => {
    const m = loadBertCheckpoint(path.join(GOLDEN, 'bert-tiny.safetensors'));
    const { seed, ...config } = m.config;
    assert.equal(seed, 0);
    assert.deepEqual(config, golden.config);
    assert.equal(m.name, 'BERT-MLM L2 H8 A2 V50 (checkpoint bert-tiny.safetensors)');
    const logits = tf.tidy(() => Array.from(m.mlmLogits(m.embed(golden.ids), golden.positions, m.params).dataSync()));
    assert.ok(relErr(logits, golden.logits) < 1e-6, `logits rel. err ${relErr(logits, golden.logits)}`);
    const g = mlmGradient(m, golden.ids, golden.positions, golden.labels);
    // float32 against float64, relative to each tensor's norm or 0.01 (the others' norms are 0.25-10; the key biases' gradient is 0: softmax ignores a per-row shift)
    const err = (a: ArrayLike<number>, b: number[]) => Math.sqrt(b.reduce((s, bi, i) => s + (a[i] - bi) ** 2, 0)) / Math.max(Math.sqrt(b.reduce((s, bi) => s + bi * bi, 0)), 1e-2);
    g.forEach((t, i) => assert.ok(err(t.dataSync(), golden.shared[i]) < 1e-5, `${m.paramNames[i]}: rel. err ${err(t.dataSync(), golden.shared[i])}`));
    const table = mlmEmbeddingGradient(m, golden.ids, golden.positions, golden.labels);
    const rows = table.arraySync() as number[][];
    const want = new Map<number, number[]>();
    golden.ids.forEach((id, i) => {
      const row = want.get(id) ?? new Array(8).fill(0);
      for (let c = 0; c < 8; c++) row[c] += golden.embedding_grad[i * 8 + c];
      want.set(id, row);
    });
    rows.forEach((row, id) => {
      if (want.has(id)) assert.ok(relErr(row, want.get(id)!) < 1e-5, `row ${id}`);
      else assert.ok(row.every((v) => v === 0), `row ${id} of a token not in the sentence is zero`);
    });
    tf.dispose([...g, table]);
    disposeBert(m);
  });

  it('save then load gives back the same model (names, transposes, untied decoder)', () => {
    const a = bert({ vocabSize: 30, hidden: 8, heads: 2, layers: 2, intermediate: 12, maxPositions: 6, seed: 9 });
    const file = path.join(dir, 'small.safetensors');
    saveBertCheckpoint(a, file);
    const st = readSafetensors(file);
    assert.deepEqual(st.tensors.get('bert.encoder.layer.1.intermediate.dense.weight')!.shape, [12, 8], "PyTorch's [out, in]");
    assert.deepEqual(st.tensors.get('cls.predictions.decoder.weight')!.shape, [30, 8]);
    assert.ok(st.tensors.has('cls.predictions.bias'));
    assert.equal(st.metadata.num_attention_heads, '2');
    const b = loadBertCheckpoint(file);
    assert.deepEqual({ ...b.config, seed: 9 }, a.config);
    assert.deepEqual(Array.from(b.wordEmbeddings.dataSync()), Array.from(a.wordEmbeddings.dataSync()));
    a.params.forEach((p, i) => assert.deepEqual(Array.from(b.params[i].dataSync()), Array.from(p.dataSync()), a.paramNames[i]));
    disposeBert(a);
    disposeBert(b);
  });

  it('a text case on a checkpoint: the full-size model saved and loaded gives the same shared gradient', () => {
    const file = path.join(dir, 'small-bert.safetensors');
    const m = bert({ seed: 1 });
    saveBertCheckpoint(m, file);
    disposeBert(m);
    const text = 'We invite submissions.';
    const a = makeTextCase(text, { seed: 1 });
    const b = makeTextCase(text, { seed: 1, checkpoint: file });
    assert.equal(b.model.name, 'BERT-MLM L2 H64 A4 V30522 (checkpoint small-bert.safetensors)');
    assert.deepEqual(b.shape, a.shape);
    a.shared.forEach((g, i) => assert.deepEqual(Array.from(b.shared[i].dataSync()), Array.from(g.dataSync()), a.model.paramNames[i]));
    disposeTextCase(a);
    disposeTextCase(b);
    assert.throws(() => makeTextCase(text, { checkpoint: path.join(GOLDEN, 'bert-tiny.safetensors') }), /model vocabulary \(50\) differs from bert-base-uncased's \(30522\)/);
  });

  it('a missing or mis-shaped tensor is one clear error', () => {
    const st = readSafetensors(path.join(GOLDEN, 'bert-tiny.safetensors'));
    const keep = [...st.tensors.values()].filter((t) => t.name !== 'bert.encoder.layer.1.output.dense.bias');
    const file = path.join(dir, 'broken.safetensors');
    writeSafetensors(file, keep, st.metadata);
    assert.throws(() => loadBertCheckpoint(file), /broken\.safetensors: no tensor encoder\.layer\.1\.output\.dense\.bias/);
    const wrong = [...st.tensors.values()].map((t) => (t.name === 'cls.predictions.bias' ? { ...t, shape: [49], data: t.data.subarray(0, 49) } : t));
    writeSafetensors(file, wrong, st.metadata);
    assert.throws(() => loadBertCheckpoint(file), /cls\.predictions\.bias has shape \[49\], expected \[50\]/);
    writeSafetensors(file, [...st.tensors.values(), { name: 'bert.extra.weight', shape: [1], data: new Float32Array(1) }], st.metadata);
    assert.throws(() => loadBertCheckpoint(file), /unexpected tensors extra\.weight/);
  });
});
