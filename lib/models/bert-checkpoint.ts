/**
 * BERT checkpoints in Hugging Face's layout: a safetensors file (lib/data/safetensors.ts) with
 * bert-base-uncased's parameter names, read into the toolkit's BERT-MLM (lib/models/bert.ts), and
 * our models written the same way (so that PyTorch / transformers code reads them too).
 *
 * Pretrained weights are NOT available offline here: no bert-base-uncased file ships with the
 * toolkit and nothing is downloaded. With network access one would fetch bert-base-uncased's
 * model.safetensors (440 MB) and call loadBertCheckpoint(file). The tests run this code on small
 * checkpoints in the same layout written by test/golden/bert_golden.py (PyTorch) and by
 * saveBertCheckpoint.
 *
 * Names (an optional "bert." prefix is accepted on the encoder's names; "LayerNorm.gamma/beta", the
 * original TF-converted spelling, as well as "LayerNorm.weight/bias"):
 *   bert.embeddings.word_embeddings.weight                [vocab, hidden]
 *   bert.embeddings.position_embeddings.weight            [maxPositions, hidden]
 *   bert.embeddings.token_type_embeddings.weight          [types, hidden]   optional: row 0 (one segment)
 *                                                          is added to every position embedding
 *   bert.embeddings.LayerNorm.weight / .bias              [hidden]
 *   bert.encoder.layer.L.attention.self.{query,key,value}.weight / .bias
 *   bert.encoder.layer.L.attention.output.dense.weight / .bias, ...output.LayerNorm.weight / .bias
 *   bert.encoder.layer.L.intermediate.dense.weight / .bias, bert.encoder.layer.L.output.dense.weight / .bias,
 *   bert.encoder.layer.L.output.LayerNorm.weight / .bias
 *   cls.predictions.transform.dense.weight / .bias, cls.predictions.transform.LayerNorm.weight / .bias
 *   cls.predictions.decoder.weight                        [vocab, hidden]   optional: tied to the word
 *                                                          embeddings when absent (as in BERT)
 *   cls.predictions.bias  (or cls.predictions.decoder.bias)  [vocab]
 * Linear weights are PyTorch's [out, in]; the toolkit's are [in, out] (x W): transposed on load and
 * on save. Ignored: bert.pooler.*, cls.seq_relationship.* (next-sentence head), *.position_ids.
 * The number of heads and LayerNorm's epsilon are not in the tensors: from the file's metadata
 * ("num_attention_heads", "layer_norm_eps", as in config.json) or the options (BERT's defaults:
 * head size 64, eps 1e-12).
 */
import { tf } from '../engine';
import { readSafetensors, writeSafetensors } from '../data/safetensors';
import type { NamedTensor } from '../data/safetensors';
import { assembleBert, bertConfig, bertParameterSpec } from './bert';
import type { Bert, BertConfig } from './bert';
import * as path from 'path';

export interface BertCheckpointOptions {
  /** Attention heads (default: the file's metadata num_attention_heads, else hidden / 64). */
  heads?: number;
  /** LayerNorm epsilon (default: the file's metadata layer_norm_eps, else 1e-12 as BERT). */
  layerNormEps?: number;
}

const IGNORED = [/^(bert\.)?pooler\./, /^cls\.seq_relationship\./, /position_ids$/];

/** Load a BERT masked LM from a safetensors checkpoint in bert-base-uncased's layout. */
export function loadBertCheckpoint(file: string, options: BertCheckpointOptions = {}): Bert {
  const st = readSafetensors(file);
  const where = path.basename(file);
  const names = new Map<string, NamedTensor>();
  for (const [name, t] of st.tensors) {
    if (IGNORED.some((re) => re.test(name))) continue;
    const key = name.replace(/^bert\./, '').replace(/LayerNorm\.gamma$/, 'LayerNorm.weight').replace(/LayerNorm\.beta$/, 'LayerNorm.bias');
    names.set(key, t);
  }
  const take = (key: string): NamedTensor => {
    const t = names.get(key);
    if (t === undefined) throw new Error(`${where}: no tensor ${key} (nor bert.${key}) in the checkpoint`);
    names.delete(key);
    return t;
  };
  const word = take('embeddings.word_embeddings.weight');
  const pos = take('embeddings.position_embeddings.weight');
  if (word.shape.length !== 2 || pos.shape.length !== 2) throw new Error(`${where}: embeddings must be matrices`);
  const [vocabSize, hidden] = word.shape;
  let layers = 0;
  while (names.has(`encoder.layer.${layers}.attention.self.query.weight`)) layers++;
  if (layers === 0) throw new Error(`${where}: no encoder layer (encoder.layer.0.attention.self.query.weight)`);
  const inter = names.get('encoder.layer.0.intermediate.dense.weight');
  if (inter === undefined) throw new Error(`${where}: no tensor encoder.layer.0.intermediate.dense.weight`);
  const metaNumber = (k: string) => (st.metadata[k] !== undefined ? Number(st.metadata[k]) : undefined);
  const config: BertConfig = bertConfig({
    vocabSize,
    hidden,
    layers,
    heads: options.heads ?? metaNumber('num_attention_heads') ?? Math.max(1, Math.round(hidden / 64)),
    intermediate: inter.shape[0],
    maxPositions: pos.shape[0],
    layerNormEps: options.layerNormEps ?? metaNumber('layer_norm_eps') ?? 1e-12,
    seed: 0,
  });
  const positions = Float32Array.from(pos.data);
  const types = names.get('embeddings.token_type_embeddings.weight');
  if (types !== undefined) {
    names.delete('embeddings.token_type_embeddings.weight');
    for (let i = 0; i < positions.length; i++) positions[i] += types.data[i % hidden];
  }
  const decoder = names.get('cls.predictions.decoder.weight') ?? word;
  names.delete('cls.predictions.decoder.weight');
  const bias = names.get('cls.predictions.bias') ?? names.get('cls.predictions.decoder.bias');
  if (bias === undefined) throw new Error(`${where}: no tensor cls.predictions.bias`);
  names.delete('cls.predictions.bias');
  names.delete('cls.predictions.decoder.bias');

  const spec = bertParameterSpec(config);
  const values: Float32Array[] = spec.map(([name, shape]) => {
    if (name === 'embeddings.position_embeddings') return positions;
    if (name === 'cls.predictions.decoder.weight') return transpose(decoder, where, [vocabSize, hidden]);
    if (name === 'cls.predictions.decoder.bias') return checkShape(bias, where, [vocabSize]);
    const t = take(name);
    return shape.length === 2 ? transpose(t, where, [shape[1], shape[0]]) : checkShape(t, where, shape);
  });
  if (names.size > 0) throw new Error(`${where}: unexpected tensors ${[...names.keys()].slice(0, 5).join(', ')}${names.size > 5 ? ', ...' : ''}`);
  const params = values.map((v, i) => tf.tensor(v, spec[i][1]));
  return assembleBert(config, tf.tensor2d(word.data, [vocabSize, hidden]), params, `checkpoint ${where}`);
}

/** Write `model` as a safetensors checkpoint in bert-base-uncased's layout (decoder weight stored, untied). */
export function saveBertCheckpoint(model: Bert, file: string): void {
  const c = model.config;
  const spec = bertParameterSpec(c);
  const out: NamedTensor[] = [{ name: 'bert.embeddings.word_embeddings.weight', shape: [c.vocabSize, c.hidden], data: Float32Array.from(model.wordEmbeddings.dataSync()) }];
  spec.forEach(([name, shape], i) => {
    const data = Float32Array.from(model.params[i].dataSync());
    if (name === 'embeddings.position_embeddings') out.push({ name: `bert.${name}.weight`, shape, data });
    else if (name === 'cls.predictions.decoder.bias') out.push({ name: 'cls.predictions.bias', shape, data });
    else if (shape.length === 2) out.push({ name: name.startsWith('cls.') ? name : `bert.${name}`, shape: [shape[1], shape[0]], data: transposeData(data, shape[0], shape[1]) });
    else out.push({ name: name.startsWith('cls.') ? name : `bert.${name}`, shape, data });
  });
  writeSafetensors(file, out, { format: 'pt', num_attention_heads: String(c.heads), layer_norm_eps: String(c.layerNormEps) });
}

function checkShape(t: NamedTensor, where: string, shape: number[]): Float32Array {
  if (t.shape.join() !== shape.join()) throw new Error(`${where}: ${t.name} has shape ${JSON.stringify(t.shape)}, expected ${JSON.stringify(shape)}`);
  return t.data;
}

/** [rows, cols] as stored (PyTorch [out, in]) to [cols, rows] (the toolkit's [in, out]). */
function transpose(t: NamedTensor, where: string, stored: number[]): Float32Array {
  return transposeData(checkShape(t, where, stored), stored[0], stored[1]);
}

function transposeData(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j];
  return out;
}
