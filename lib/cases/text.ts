/**
 * The client's side of DLG on text: one masked-LM step on a private sentence. The sentence is
 * WordPiece-tokenised (bert-base-uncased), masked BERT-style (15%), embedded, and the gradient of
 * the MLM loss with respect to the model's parameters (all but the word-embedding table, see
 * lib/models/bert.ts) is what the client shares.
 */
import { tf } from '../engine';
import { bert, disposeBert, SMALL_BERT } from '../models/bert';
import type { Bert, BertConfig } from '../models/bert';
import { oneHot } from '../models/nn';
import { bertVocab, encode } from '../data/wordpiece';
import type { Encoding, Vocab } from '../data/wordpiece';
import { maskTokens, MASK_RATE } from './masking';
import type { MaskedExample } from './masking';
import type { Tensor, Tensor2D } from '@tensorflow/tfjs';

/** What the attacker is assumed to know besides the model: the shape of the MLM step. */
export interface TextShape {
  /** Sequence length, [CLS] and [SEP] included (the shape of the input). */
  seqLength: number;
  /** Which positions the MLM loss is computed at (the label mask of the step). */
  positions: number[];
}

export interface TextCase {
  model: Bert;
  vocab: Vocab;
  text: string;
  encoding: Encoding;
  masked: MaskedExample;
  /** The shared gradient, one tensor per model parameter. */
  shared: Tensor[];
  /** What the attacker gets besides `shared` and the model. */
  shape: TextShape;
}

export interface TextCaseOptions {
  /** Seeds the model's initialisation and the masking (one seed drives everything). Default 1234. */
  seed?: number;
  /** Model options over SMALL_BERT (its seed defaults to `seed`). */
  model?: Partial<BertConfig>;
  /** Fraction masked (BERT: 0.15). */
  maskRate?: number;
}

/** Parameter gradients of the MLM loss for token ids `inputIds` with one-hot labels at `positions`. */
export function mlmGradient(model: Bert, inputIds: readonly number[], positions: readonly number[], labels: readonly number[]): Tensor[] {
  if (labels.length !== positions.length) throw new Error(`${labels.length} labels for ${positions.length} masked positions`);
  return tf.tidy(() => {
    const x = model.embed(inputIds);
    const target = oneHot(labels as number[], model.config.vocabSize);
    return tf.grads((...p: Tensor[]) => model.mlmLoss(x, positions, target, p))(model.params);
  });
}

/**
 * Gradient of the same MLM loss with respect to the word-embedding table [vocab, hidden]: the
 * gradient of each input row, scatter-added to the row of its token id. Non-zero exactly on the
 * rows of the tokens the model read (the sentence's tokens, [CLS], [SEP], [MASK] or a replacement).
 */
export function mlmEmbeddingGradient(model: Bert, inputIds: readonly number[], positions: readonly number[], labels: readonly number[]): Tensor2D {
  if (labels.length !== positions.length) throw new Error(`${labels.length} labels for ${positions.length} masked positions`);
  const { vocabSize, hidden } = model.config;
  const rows = tf.tidy(() => {
    const x = model.embed(inputIds);
    const target = oneHot(labels as number[], vocabSize);
    return tf.grad((e: Tensor) => model.mlmLoss(e as Tensor2D, positions, target, model.params))(x).dataSync();
  });
  const table = new Float32Array(vocabSize * hidden);
  inputIds.forEach((id, i) => {
    for (let c = 0; c < hidden; c++) table[id * hidden + c] += rows[i * hidden + c];
  });
  return tf.tensor2d(table, [vocabSize, hidden]);
}

/** Tokenise, mask, and compute the shared gradient of one MLM step on `text`. */
export function makeTextCase(text: string, options: TextCaseOptions = {}): TextCase {
  const seed = options.seed ?? SMALL_BERT.seed;
  const vocab = bertVocab();
  const model = bert({ seed, ...(options.model ?? {}) });
  if (model.config.vocabSize !== vocab.size) {
    disposeBert(model);
    throw new Error(`model vocabulary (${model.config.vocabSize}) differs from bert-base-uncased's (${vocab.size})`);
  }
  let encoding: Encoding;
  try {
    encoding = encode(text, model.config.maxPositions, vocab);
  } catch (e) {
    disposeBert(model);
    throw e;
  }
  const masked = maskTokens(encoding.ids, vocab, seed, options.maskRate ?? MASK_RATE);
  const shared = mlmGradient(model, masked.inputIds, masked.positions, masked.labels);
  return { model, vocab, text, encoding, masked, shared, shape: { seqLength: encoding.ids.length, positions: [...masked.positions] } };
}

/** Free the model and the shared gradient. */
export function disposeTextCase(c: TextCase): void {
  tf.dispose(c.shared);
  disposeBert(c.model);
}
