/**
 * Gradient pruning (paper, "Defenses": small-magnitude entries set to zero, ratios from 1% upward;
 * pruning above about 20% defends). As in deep gradient compression, which prunes per layer, the
 * ratio applies PER TENSOR (per parameter): in each gradient tensor of n entries, the
 * round(ratio * n) entries of smallest magnitude are set to zero, the rest are kept unchanged.
 * Equal magnitudes are ordered by index (the lower flat row-major index is pruned first), so the
 * result is deterministic and exactly round(ratio * n) entries per tensor are pruned
 * (entries that were already zero count among them).
 */
import { mapGradients } from './types';
import type { Defense } from './types';

function checkRatio(ratio: number): void {
  if (!(Number.isFinite(ratio) && ratio >= 0 && ratio <= 1)) throw new Error(`prune ratio must be a number in [0, 1], got ${ratio}`);
}

/** How many of n entries prune(ratio) sets to zero: round(ratio * n), ties up. */
export function prunedCount(ratio: number, n: number): number {
  checkRatio(ratio);
  return Math.min(n, Math.round(ratio * n));
}

/** A new array: `values` with its `ratio` fraction of smallest-magnitude entries set to zero. */
export function pruneArray(values: Float32Array, ratio: number): Float32Array {
  const n = values.length;
  const k = prunedCount(ratio, n);
  const out = Float32Array.from(values);
  if (k === 0) return out;
  if (k === n) return out.fill(0);
  const mag = new Float32Array(n);
  for (let j = 0; j < n; j++) mag[j] = Math.abs(values[j]);
  const order = new Uint32Array(n);
  for (let j = 0; j < n; j++) order[j] = j;
  order.sort((a, b) => mag[a] - mag[b] || a - b); // O(n log n); ties by index
  for (let j = 0; j < k; j++) out[order[j]] = 0;
  return out;
}

/** Per tensor, zero the `ratio` fraction (0..1) of entries with the smallest magnitude. */
export function prune(ratio: number): Defense {
  checkRatio(ratio);
  return (grads) => mapGradients(grads, (g) => pruneArray(g, ratio));
}
