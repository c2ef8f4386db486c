/** Label accuracy of an attack against the true labels (analysis: sees the truth). */
/** Labels recovered correctly, as multisets (the order of a batch is unknowable): |recovered ∩ truth| / n. */
export function labelAccuracy(recovered: number[], truth: number[]): number {
  if (recovered.length !== truth.length) throw new Error(`labelAccuracy: ${recovered.length} recovered labels for ${truth.length} true ones`);
  const left = new Map<number, number>();
  for (const t of truth) left.set(t, (left.get(t) ?? 0) + 1);
  let hit = 0;
  for (const r of recovered) {
    const m = left.get(r) ?? 0;
    if (m > 0) { hit++; left.set(r, m - 1); }
  }
  return truth.length === 0 ? 1 : hit / truth.length;
}
