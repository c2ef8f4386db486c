/**
 * A small BERT encoder with a masked-language-model head (Devlin et al. 2019), twice
 * differentiable, for DLG on text (paper, section 4.2). Randomly initialised from a seed: no
 * pretrained weights are available offline, so this is BERT's architecture, not its training.
 *
 *   embeddings  = LayerNorm(E_word[ids] + E_pos[0..seq))            (one segment: no segment table)
 *   each layer:   x = LayerNorm(x + MultiHeadSelfAttention(x))
 *                 x = LayerNorm(x + W2 GELU(W1 x + b1) + b2)         (GELU, erf form as in BERT)
 *   MLM head    = Decoder(LayerNorm(GELU(W_t h + b_t)))  at the masked positions only
 *
 * The attack works in embedding space: the model's input is the word-embedding matrix
 * [seq, hidden] (the rows E_word[ids]), so the table E_word is not one of `params` (it is not on
 * the attack path). Its gradient, non-zero exactly on the rows of the sentence's tokens, is shared
 * only when the threat model says so (lib/cases/text.ts, TextThreat.embeddingGradient). The decoder
 * is untied from E_word (BERT ties them; lib/models/bert-checkpoint.ts copies a tied checkpoint's
 * word embeddings into the decoder), so that the two gradients stay apart.
 *
 * Every op is twice differentiable with tfjs + lib/engine/twice.ts (checked against finite differences
 * in test/bert.test.ts): matMul / batchMatMul, transpose, reshape, slice, mean, rsqrt, erf, exp,
 * tf.softmax (fixed in twice.ts) and nn.crossEntropy. The masked rows are picked with a constant
 * 0/1 selection matrix (a matMul), not tf.gather, whose gradient (unsortedSegmentSum) we do not
 * need on the attack path.
 */
import { tf, useEngine } from '../engine';
import { createRng, normalArray } from '../rng';
import type { Rng } from '../rng';
import { crossEntropy } from './nn';
import type { Tensor, Tensor2D, Tensor3D } from '@tensorflow/tfjs';

export interface BertConfig {
  /** Vocabulary size (bert-base-uncased: 30,522). */
  vocabSize: number;
  /** Hidden size (bert-base: 768). */
  hidden: number;
  /** Encoder layers (bert-base: 12). */
  layers: number;
  /** Attention heads; must divide `hidden`. */
  heads: number;
  /** FFN inner size (bert-base: 3072 = 4 x hidden). */
  intermediate: number;
  /** Maximal sequence length, [CLS] and [SEP] included (bert-base: 512). */
  maxPositions: number;
  /** LayerNorm epsilon (BERT: 1e-12; we use 1e-5, kinder to float32 finite differences). */
  layerNormEps: number;
  /** Seed of the random initialisation. */
  seed: number;
}

/** The toolkit's default: small enough for 2 CPU cores, long enough for the paper's three sentences (<= 24 tokens). */
export const SMALL_BERT: Readonly<BertConfig> = Object.freeze({
  vocabSize: 30522,
  hidden: 64,
  layers: 2,
  heads: 4,
  intermediate: 256,
  maxPositions: 32,
  layerNormEps: 1e-5,
  seed: 1234,
});

export interface Bert {
  /** e.g. "BERT-MLM L2 H64 A4 V30522 (random init, seed 1234)" */
  readonly name: string;
  readonly config: BertConfig;
  /** Word embeddings [vocab, hidden]: the client's lookup table and the attacker's decoding table; not in `params`. */
  readonly wordEmbeddings: Tensor2D;
  /** Names of the parameters behind the shared gradient, in order. */
  readonly paramNames: string[];
  readonly params: Tensor[];
  /** E_word rows of `ids`: [ids.length, hidden]. */
  embed(ids: readonly number[]): Tensor2D;
  /** Final hidden states [seq, hidden] for input word embeddings [seq, hidden] under parameters p. */
  encode(embeddings: Tensor2D, p: Tensor[]): Tensor2D;
  /** MLM logits [positions.length, vocab] at `positions` for input embeddings [seq, hidden]. */
  mlmLogits(embeddings: Tensor2D, positions: readonly number[], p: Tensor[]): Tensor2D;
  /** Mean soft-label cross-entropy of the MLM head at `positions`; target [positions.length, vocab]. */
  mlmLoss(embeddings: Tensor2D, positions: readonly number[], target: Tensor2D, p: Tensor[]): Tensor;
}

/** Validate a partial config over SMALL_BERT with clear messages. */
export function bertConfig(overrides: Partial<BertConfig> = {}): BertConfig {
  const known = new Set(Object.keys(SMALL_BERT));
  for (const k of Object.keys(overrides)) if (!known.has(k)) throw new Error(`unknown BERT option '${k}' (known: ${[...known].join(', ')})`);
  const c: BertConfig = { ...SMALL_BERT, ...overrides };
  for (const k of ['vocabSize', 'hidden', 'layers', 'heads', 'intermediate', 'maxPositions'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) throw new Error(`BERT option ${k} must be a positive integer, got ${c[k]}`);
  }
  if (c.hidden % c.heads !== 0) throw new Error(`BERT option heads (${c.heads}) must divide hidden (${c.hidden})`);
  if (!(c.layerNormEps > 0)) throw new Error(`BERT option layerNormEps must be > 0, got ${c.layerNormEps}`);
  if (!Number.isInteger(c.seed)) throw new Error(`BERT option seed must be an integer, got ${c.seed}`);
  return c;
}

/** LayerNorm over the last axis: (x - mean) * rsqrt(var + eps) * gamma + beta. */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps: number): Tensor {
  const mean = tf.mean(x, -1, true);
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), -1, true);
  return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), gamma), beta);
}

/** GELU, erf form (BERT's): 0.5 x (1 + erf(x / sqrt 2)). */
export function gelu(x: Tensor): Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
}

/** Multi-head self-attention of x [seq, hidden], no mask (one unpadded sequence). */
export function selfAttention(x: Tensor2D, wq: Tensor, bq: Tensor, wk: Tensor, bk: Tensor, wv: Tensor, bv: Tensor, wo: Tensor, bo: Tensor, heads: number): Tensor2D {
  const [seq, hidden] = x.shape;
  const d = hidden / heads;
  const split = (w: Tensor, b: Tensor) => tf.transpose(tf.reshape(tf.add(tf.matMul(x, w as Tensor2D), b), [seq, heads, d]), [1, 0, 2]) as Tensor3D;
  const q = split(wq, bq);
  const k = split(wk, bk);
  const v = split(wv, bv);
  const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(d));
  const probs = tf.softmax(scores, -1) as Tensor3D;
  const context = tf.reshape(tf.transpose(tf.matMul(probs, v), [1, 0, 2]), [seq, hidden]) as Tensor2D;
  return tf.add(tf.matMul(context, wo as Tensor2D), bo) as Tensor2D;
}

/** [name, shape, init] of every parameter, in the order of `params`: 'normal' N(0, 1), 'dense' N(0, 1/fan_in), 'one', 'zero'. */
export function bertParameterSpec(c: BertConfig): [string, number[], 'normal' | 'dense' | 'one' | 'zero'][] {
  const { hidden: h, intermediate: inner, vocabSize: vocab } = c;
  const spec: [string, number[], 'normal' | 'dense' | 'one' | 'zero'][] = [
    ['embeddings.position_embeddings', [c.maxPositions, h], 'normal'],
    ['embeddings.LayerNorm.weight', [h], 'one'],
    ['embeddings.LayerNorm.bias', [h], 'zero'],
  ];
  for (let l = 0; l < c.layers; l++) {
    const p = `encoder.layer.${l}.`;
    for (const m of ['query', 'key', 'value']) {
      spec.push([`${p}attention.self.${m}.weight`, [h, h], 'dense'], [`${p}attention.self.${m}.bias`, [h], 'zero']);
    }
    spec.push(
      [`${p}attention.output.dense.weight`, [h, h], 'dense'],
      [`${p}attention.output.dense.bias`, [h], 'zero'],
      [`${p}attention.output.LayerNorm.weight`, [h], 'one'],
      [`${p}attention.output.LayerNorm.bias`, [h], 'zero'],
      [`${p}intermediate.dense.weight`, [h, inner], 'dense'],
      [`${p}intermediate.dense.bias`, [inner], 'zero'],
      [`${p}output.dense.weight`, [inner, h], 'dense'],
      [`${p}output.dense.bias`, [h], 'zero'],
      [`${p}output.LayerNorm.weight`, [h], 'one'],
      [`${p}output.LayerNorm.bias`, [h], 'zero'],
    );
  }
  spec.push(
    ['cls.predictions.transform.dense.weight', [h, h], 'dense'],
    ['cls.predictions.transform.dense.bias', [h], 'zero'],
    ['cls.predictions.transform.LayerNorm.weight', [h], 'one'],
    ['cls.predictions.transform.LayerNorm.bias', [h], 'zero'],
    ['cls.predictions.decoder.weight', [h, vocab], 'dense'],
    ['cls.predictions.decoder.bias', [vocab], 'zero'],
  );
  return spec;
}

/** A BERT-MLM with freshly initialised parameters (see SMALL_BERT). */
export function bert(overrides: Partial<BertConfig> = {}): Bert {
  useEngine();
  const c = bertConfig(overrides);
  const rng = createRng(c.seed);
  const spec = bertParameterSpec(c);
  const wordEmbeddings = tf.tensor2d(normalArray(rng, c.vocabSize * c.hidden), [c.vocabSize, c.hidden]);
  const params = spec.map(([, shape, init]) => initTensor(rng, shape, init));
  return assembleBert(c, wordEmbeddings, params, `random init, seed ${c.seed}`);
}

/**
 * A BERT-MLM from given tensors (the model takes them over: disposeBert frees them): the word
 * embeddings [vocab, hidden] and `params` in the order and shapes of bertParameterSpec(config).
 * `origin` goes into the name, e.g. "random init, seed 1" or "checkpoint bert.safetensors".
 */
export function assembleBert(c: BertConfig, wordEmbeddings: Tensor2D, params: Tensor[], origin: string): Bert {
  useEngine();
  const { hidden: h, vocabSize: vocab } = c;
  const spec = bertParameterSpec(c);
  if (wordEmbeddings.shape.join() !== [vocab, h].join()) throw new Error(`word embeddings have shape ${JSON.stringify(wordEmbeddings.shape)}, expected [${vocab}, ${h}]`);
  if (params.length !== spec.length) throw new Error(`${params.length} parameter tensors for a BERT with ${spec.length}`);
  spec.forEach(([name, shape], i) => {
    if (params[i].shape.join() !== shape.join()) throw new Error(`parameter ${name} has shape ${JSON.stringify(params[i].shape)}, expected ${JSON.stringify(shape)}`);
  });


  const encode = (embeddings: Tensor2D, p: Tensor[]): Tensor2D => {
    if (embeddings.rank !== 2 || embeddings.shape[1] !== h || embeddings.shape[0] < 1 || embeddings.shape[0] > c.maxPositions) {
      throw new Error(`BERT expects input embeddings [seq <= ${c.maxPositions}, ${h}], got ${JSON.stringify(embeddings.shape)}`);
    }
    const seq = embeddings.shape[0];
    let i = 0;
    const next = () => p[i++];
    const positions = tf.slice(next(), [0, 0], [seq, h]);
    let x = layerNorm(tf.add(embeddings, positions), next(), next(), c.layerNormEps) as Tensor2D;
    for (let l = 0; l < c.layers; l++) {
      const [wq, bq, wk, bk, wv, bv, wo, bo, g1, b1] = [next(), next(), next(), next(), next(), next(), next(), next(), next(), next()];
      x = layerNorm(tf.add(x, selfAttention(x, wq, bq, wk, bk, wv, bv, wo, bo, c.heads)), g1, b1, c.layerNormEps) as Tensor2D;
      const [wi, bi, wout, bout, g2, b2] = [next(), next(), next(), next(), next(), next()];
      const ffn = tf.add(tf.matMul(gelu(tf.add(tf.matMul(x, wi as Tensor2D), bi)) as Tensor2D, wout as Tensor2D), bout);
      x = layerNorm(tf.add(x, ffn), g2, b2, c.layerNormEps) as Tensor2D;
    }
    return x;
  };

  const mlmLogits = (embeddings: Tensor2D, positions: readonly number[], p: Tensor[]): Tensor2D => {
    const seq = embeddings.shape[0];
    checkPositions(positions, seq);
    const x = encode(embeddings, p);
    const k = p.length - 6;
    const select = selectionMatrix(positions, seq);
    const rows = tf.matMul(select, x);
    const t = layerNorm(gelu(tf.add(tf.matMul(rows, p[k] as Tensor2D), p[k + 1])), p[k + 2], p[k + 3], c.layerNormEps) as Tensor2D;
    return tf.add(tf.matMul(t, p[k + 4] as Tensor2D), p[k + 5]) as Tensor2D;
  };

  return {
    name: `BERT-MLM L${c.layers} H${h} A${c.heads} V${vocab} (${origin})`,
    config: c,
    wordEmbeddings,
    paramNames: spec.map(([name]) => name),
    params,
    embed: (ids) => {
      for (const id of ids) if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new Error(`token id ${id} is outside the vocabulary (0..${vocab - 1})`);
      return tf.tidy(() => tf.gather(wordEmbeddings, tf.tensor1d(ids as number[], 'int32')) as Tensor2D);
    },
    encode,
    mlmLogits,
    mlmLoss: (embeddings, positions, target, p) => crossEntropy(mlmLogits(embeddings, positions, p), target),
  };
}

/** Free a BERT's tensors. */
export function disposeBert(model: Bert): void {
  tf.dispose([model.wordEmbeddings, ...model.params]);
}

/** Masked positions must be distinct integers inside the sequence. */
function checkPositions(positions: readonly number[], seq: number): void {
  if (positions.length === 0) throw new Error('no masked positions: the MLM loss needs at least one');
  const seen = new Set<number>();
  for (const q of positions) {
    if (!Number.isInteger(q) || q < 0 || q >= seq) throw new Error(`masked position ${q} is outside the sequence (0..${seq - 1})`);
    if (seen.has(q)) throw new Error(`masked position ${q} is repeated`);
    seen.add(q);
  }
}

/** 0/1 matrix [m, seq] picking rows `positions` (a constant). */
function selectionMatrix(positions: readonly number[], seq: number): Tensor2D {
  const m = new Float32Array(positions.length * seq);
  positions.forEach((q, r) => {
    m[r * seq + q] = 1;
  });
  return tf.tensor2d(m, [positions.length, seq]);
}

function initTensor(rng: Rng, shape: number[], init: 'normal' | 'dense' | 'one' | 'zero'): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (init === 'one') return tf.ones(shape);
  if (init === 'zero') return tf.zeros(shape);
  const v = normalArray(rng, n);
  if (init === 'dense') {
    const s = 1 / Math.sqrt(shape[0]);
    for (let i = 0; i < n; i++) v[i] *= s;
  }
  return tf.tensor(v, shape);
}
