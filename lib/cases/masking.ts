/**
 * BERT's masked-LM input (Devlin et al. 2019; create_pretraining_data.py): 15% of the tokens
 * ([CLS]/[SEP] excluded; at least one) are chosen for prediction; of those, 80% become [MASK],
 * 10% a random token and 10% stay unchanged. The labels are the original tokens at the chosen
 * positions. Seeded: the same seed chooses the same positions.
 */
import { createRng } from '../rng';
import type { Vocab } from '../data/wordpiece';

export interface MaskedExample {
  /** The original ids, [CLS] ... [SEP]. */
  ids: number[];
  /** What the model reads: ids with the chosen positions masked / replaced. */
  inputIds: number[];
  /** Chosen positions, ascending. */
  positions: number[];
  /** Original ids at `positions` (the MLM labels). */
  labels: number[];
}

/** Fraction of tokens predicted, as in BERT. */
export const MASK_RATE = 0.15;
/** First regular (non-special, non-unused) id of bert-base-uncased; random replacements come from [this, vocab). */
const FIRST_REGULAR_ID = 999;

/** Mask `ids` ([CLS] first, [SEP] last) BERT-style: round(15%) positions (at least 1). */
export function maskTokens(ids: readonly number[], vocab: Vocab, seed: number, rate = MASK_RATE): MaskedExample {
  if (!(rate > 0 && rate <= 1)) throw new Error(`mask rate must be in (0, 1], got ${rate}`);
  const candidates: number[] = [];
  ids.forEach((id, i) => {
    if (id !== vocab.clsId && id !== vocab.sepId && id !== vocab.padId) candidates.push(i);
  });
  if (candidates.length === 0) throw new Error('nothing to mask: the sequence has no tokens besides [CLS]/[SEP]');
  const rng = createRng(seed);
  for (let i = candidates.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [candidates[i], candidates[j]] = [candidates[j], candidates[i]];
  }
  const count = Math.min(candidates.length, Math.max(1, Math.round(candidates.length * rate)));
  const positions = candidates.slice(0, count).sort((a, b) => a - b);
  const inputIds = [...ids];
  for (const q of positions) {
    const r = rng.next();
    if (r < 0.8) inputIds[q] = vocab.maskId;
    else if (r >= 0.9) inputIds[q] = FIRST_REGULAR_ID + Math.floor(rng.next() * (vocab.size - FIRST_REGULAR_ID));
  }
  return { ids: [...ids], inputIds, positions, labels: positions.map((q) => ids[q]) };
}
