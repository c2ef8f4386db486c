/**
 * The text attack's initial state shared with the PyTorch reference (lib/reference/bert_torch.py):
 * the BERT-MLM weights, the private step (input embeddings, masked positions, label tokens) and the
 * dummies, float32 bit for bit, in one safetensors file written by our side:
 *
 *   param.<name>       the model's parameters (lib/models/bert.ts names), OUR layout: dense weights
 *                      [in, out] (used as x @ W + b on both sides), position table [maxPositions, hidden]
 *   truth.embeddings   [seq, hidden]  E_word rows of the tokens the model read (the client's input)
 *   start.embeddings   [seq, hidden]  the dummy embeddings E' at the start
 *   start.labels       [masked, vocab] the dummy label logits Y' at the start
 *   metadata           format 'dlg-text-state/1'; config: JSON of TextStartConfig
 *
 * The reference answers with a check file (check.distance [1], check.grad.embeddings, check.grad.labels):
 * the objective and its gradient at the start, which `readTextCheck` returns in our flat order.
 */
import type { Bert, BertConfig } from '../models/bert';
import type { TextShape } from '../cases/text';
import type { Tensor } from '@tensorflow/tfjs';
import { readSafetensors, writeSafetensors, f32 } from './safetensors';
import type { SafeTensor } from './safetensors';

export const TEXT_START_FORMAT = 'dlg-text-state/1';

export interface TextStartConfig extends BertConfig {
  model: 'bert-mlm';
  /** Sequence length and masked positions of the step. */
  seqLength: number;
  positions: number[];
  /** The masked tokens (the MLM labels), one per position. */
  labels: number[];
  madeBy: string;
}

/**
 * Write the state of a text attack: `model` and the client's step (input embeddings `truth`
 * [seq, hidden] flat, `labels` at `shape.positions`), and x0 = [E' (seq*hidden), Y' (masked*vocab)].
 */
export function writeTextStart(path: string, model: Bert, truth: Tensor, shape: TextShape, labels: number[], start: ArrayLike<number>): void {
  const { hidden, vocabSize } = model.config;
  const seq = shape.seqLength;
  const m = shape.positions.length;
  if (labels.length !== m) throw new Error(`writeTextStart: ${labels.length} labels for ${m} masked positions`);
  if (truth.shape.join() !== [seq, hidden].join()) throw new Error(`writeTextStart: truth embeddings ${JSON.stringify(truth.shape)}, expected [${seq}, ${hidden}]`);
  if (start.length !== seq * hidden + m * vocabSize) throw new Error(`writeTextStart: start has ${start.length} values, expected ${seq * hidden + m * vocabSize}`);
  const x = Float32Array.from(start);
  const tensors: Record<string, SafeTensor> = {
    'truth.embeddings': f32(truth.dataSync(), [seq, hidden]),
    'start.embeddings': f32(x.subarray(0, seq * hidden), [seq, hidden]),
    'start.labels': f32(x.subarray(seq * hidden), [m, vocabSize]),
  };
  model.paramNames.forEach((name, i) => {
    tensors[`param.${name}`] = f32(model.params[i].dataSync(), model.params[i].shape);
  });
  const config: TextStartConfig = { model: 'bert-mlm', ...model.config, seqLength: seq, positions: [...shape.positions], labels: [...labels], madeBy: 'deep-leakage-ts (lib/reference/text-state.ts)' };
  writeSafetensors(path, { tensors, metadata: { format: TEXT_START_FORMAT, config: JSON.stringify(config), paramNames: JSON.stringify(model.paramNames) } });
}

/** The objective and gradient at the start that `bert_torch.py bench --check FILE` wrote, as one flat vector [E', Y']. */
export function readTextCheck(path: string): { distance: number; grad: Float64Array } {
  const file = readSafetensors(path);
  const get = (name: string) => {
    const t = file.tensors[name];
    if (t === undefined) throw new Error(`${path}: no tensor '${name}' in this check file`);
    return t.data;
  };
  const e = get('check.grad.embeddings');
  const y = get('check.grad.labels');
  const grad = new Float64Array(e.length + y.length);
  grad.set(e);
  grad.set(y, e.length);
  return { distance: get('check.distance')[0], grad };
}
