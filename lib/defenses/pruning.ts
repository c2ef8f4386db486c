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

/** Tensors up to this many entries select among packed keys (magnitude bits, index); larger ones sort indices (pruneBySort). */
const INDEX_SPAN = 2 ** 21;

/**
 * Reorder distinct `keys` so that the k smallest come first (in some order): quickselect with the
 * median of three as pivot, O(n) on average.
 */
function selectSmallest(keys: Float64Array, k: number): void {
  let lo = 0, hi = keys.length - 1;
  while (hi > lo) {
    const mid = (lo + hi) >> 1;
    const a = keys[lo], b = keys[mid], c = keys[hi];
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    let i = lo, j = hi;
    while (i <= j) {
      while (keys[i] < pivot) i++;
      while (keys[j] > pivot) j--;
      if (i <= j) {
        const t = keys[i];
        keys[i] = keys[j];
        keys[j] = t;
        i++;
        j--;
      }
    }
    // now keys[lo..j] <= pivot <= keys[i..hi], and j < i
    if (k - 1 <= j) hi = j;
    else if (k - 1 >= i) lo = i;
    else return;
  }
}

/**
 * The definition of pruneArray, O(n log n): sort the indices by magnitude (ties by index) and zero the
 * first round(ratio * n). pruneArray runs it for tensors over 2^21 entries; tests and benches check
 * the selection against it.
 */
export function pruneBySort(values: Float32Array, ratio: number): Float32Array {
  const n = values.length;
  const k = prunedCount(ratio, n);
  const out = Float32Array.from(values);
  const order = new Uint32Array(n);
  for (let j = 0; j < n; j++) order[j] = j;
  order.sort((a, b) => Math.abs(values[a]) - Math.abs(values[b]) || a - b);
  for (let j = 0; j < k; j++) out[order[j]] = 0;
  return out;
}

/** A new array: `values` with its `ratio` fraction of smallest-magnitude entries set to zero. */
export function pruneArray(values: Float32Array, ratio: number): Float32Array {
  const n = values.length;
  if (n > INDEX_SPAN) return pruneBySort(values, ratio);
  const k = prunedCount(ratio, n);
  const out = Float32Array.from(values);
  if (k === 0) return out;
  if (k === n) return out.fill(0);
  // One number per entry orders by magnitude, then index: a float32 >= 0's bits (31 of them) grow with
  // its value, so bits * 2^21 + index (< 2^52) is exact in a float64, and the k smallest keys are the entries to prune.
  const mag = new Float32Array(n);
  for (let j = 0; j < n; j++) mag[j] = Math.abs(values[j]);
  const bits = new Uint32Array(mag.buffer);
  const keys = new Float64Array(n);
  for (let j = 0; j < n; j++) keys[j] = bits[j] * INDEX_SPAN + j;
  selectSmallest(keys, k);
  for (let j = 0; j < k; j++) out[keys[j] % INDEX_SPAN] = 0;
  return out;
}

/** Per tensor, zero the `ratio` fraction (0..1) of entries with the smallest magnitude. */
export function prune(ratio: number): Defense {
  checkRatio(ratio);
  return (grads) => mapGradients(grads, (g) => pruneArray(g, ratio));
}
