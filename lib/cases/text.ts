/**
 * The client's side of DLG on text: one masked-LM step on a private sentence. The sentence is
 * WordPiece-tokenised (bert-base-uncased), masked BERT-style (15%), embedded, and the gradient of
 * the MLM loss with respect to the model's parameters (all but the word-embedding table, see
 * lib/models/bert.ts) is what the client shares.
 */
import { tf } from '../engine';
import { bert, disposeBert, SMALL_BERT } from '../models/bert';
import { loadBertCheckpoint } from '../models/bert-checkpoint';
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

/**
 * The threat model of the text attack: what the client shares and what the attacker is handed
 * besides the model and the parameter gradient.
 */
export interface TextThreat {
  /**
   * The client also shares the word-embedding table's gradient (federated learning shares every
   * parameter's): its non-zero rows give away the set of tokens the model read (the bag of words).
   */
  embeddingGradient: boolean;
  /**
   * 'known': the attacker is handed the sequence length and the masked positions (the shape of the
   * step, as notebook 07 and DLG on images assume); 'gradient': neither, both are read off the
   * position-embedding gradient (lib/attacks/text-leaks.ts).
   */
  positions: 'known' | 'gradient';
}

/** The default: only the parameters' gradient (no word-embedding table), nothing handed over. */
export const DEFAULT_TEXT_THREAT: Readonly<TextThreat> = Object.freeze({ embeddingGradient: false, positions: 'gradient' as const });

/** What the attacker is handed besides the model and the gradient (each: read off the gradient when absent). */
export interface TextKnowledge {
  /** Tokens in the sequence, [CLS] and [SEP] included. */
  seqLength?: number;
  /** Positions the MLM loss is computed at. */
  positions?: readonly number[];
  /** The word-embedding table's gradient [vocab, hidden], when the client shares it. */
  embeddingGradient?: Tensor;
}

export interface TextCase {
  model: Bert;
  vocab: Vocab;
  text: string;
  encoding: Encoding;
  masked: MaskedExample;
  /** The shared gradient, one tensor per model parameter. */
  shared: Tensor[];
  /** The step's shape (the truth; what a 'known' threat model hands over). */
  shape: TextShape;
  /** The word-embedding table's gradient [vocab, hidden], when the client shares it (option shareEmbeddingGradient). */
  embeddingGradient?: Tensor2D;
}

export interface TextCaseOptions {
  /** Seeds the model's initialisation and the masking (one seed drives everything). Default 1234. */
  seed?: number;
  /** Model options over SMALL_BERT (its seed defaults to `seed`). */
  model?: Partial<BertConfig>;
  /** Fraction masked (BERT: 0.15). */
  maskRate?: number;
  /** Also compute the word-embedding table's gradient (see TextThreat). Default false. */
  shareEmbeddingGradient?: boolean;
  /** A BERT checkpoint (safetensors, bert-base-uncased's layout; lib/models/bert-checkpoint.ts) instead of a random model. */
  checkpoint?: string;
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
  const model = options.checkpoint !== undefined ? loadBertCheckpoint(options.checkpoint) : bert({ seed, ...(options.model ?? {}) });
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
  const embeddingGradient = options.shareEmbeddingGradient ? mlmEmbeddingGradient(model, masked.inputIds, masked.positions, masked.labels) : undefined;
  return { model, vocab, text, encoding, masked, shared, shape: { seqLength: encoding.ids.length, positions: [...masked.positions] }, ...(embeddingGradient ? { embeddingGradient } : {}) };
}

/** What the attacker receives under `threat` besides the model and `c.shared`. */
export function observe(c: TextCase, threat: TextThreat = DEFAULT_TEXT_THREAT): TextKnowledge {
  if (threat.embeddingGradient && c.embeddingGradient === undefined) throw new Error('the threat model shares the word-embedding gradient: make the case with shareEmbeddingGradient: true');
  return {
    ...(threat.positions === 'known' ? { seqLength: c.shape.seqLength, positions: [...c.shape.positions] } : {}),
    ...(threat.embeddingGradient ? { embeddingGradient: c.embeddingGradient } : {}),
  };
}

/** Free the model and the shared gradient. */
export function disposeTextCase(c: TextCase): void {
  tf.dispose(c.shared);
  if (c.embeddingGradient) c.embeddingGradient.dispose();
  disposeBert(c.model);
}
