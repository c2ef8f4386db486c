/** Summary statistics of a sweep's numbers (no hand-written medians in notebooks). */

/** Median (the mean of the two middle values for an even count); NaN for no values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Arithmetic mean; NaN for no values. */
export function mean(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/** Smallest and largest value (NaN, NaN for none). */
export function range(values: readonly number[]): [number, number] {
  return values.length === 0 ? [NaN, NaN] : [Math.min(...values), Math.max(...values)];
}

/** How many items satisfy `test`, and the fraction. */
export function countOf<T>(items: readonly T[], test: (item: T) => boolean): { count: number; of: number; rate: number } {
  const count = items.filter(test).length;
  return { count, of: items.length, rate: items.length === 0 ? NaN : count / items.length };
}

/** Group items by a key, keys in first-seen order. */
export function groupBy<T, K>(items: readonly T[], key: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const g = groups.get(k);
    if (g) g.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}
