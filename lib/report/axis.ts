/**
 * Axes of SVG figures: the range an axis shows, where its ticks go and how they are labelled.
 *
 * Positions are in "axis units": the value itself on a linear axis, log10(value) on a log axis,
 * the index of the category on a category axis. A range [lo, hi] is in axis units, as in plotly
 * (a log axis from 1e-6 to 1 has range [-6, 0]).
 *
 * Ticks: linear axes get "nice" steps (1, 2 or 5 times a power of ten); log axes get decades
 * labelled 1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 1, 10, 100, 1000, 1e4 (when they would crowd,
 * only the decades that are multiples of k, the others as minor ticks; when a decade has room,
 * unlabelled minor ticks at 2..9 times it), or the 2x and 5x multiples too when the range spans
 * less than two decades.
 */

export type AxisKind = 'linear' | 'log' | 'category';

/** One tick: its position in axis units, and its label ('' for a minor tick). */
export interface Tick { pos: number; label: string; minor?: boolean }

/** `v` rounded to 12 significant digits (removes float noise such as 0.30000000000000004). */
function clean(v: number): number {
  return Number(v.toPrecision(12));
}

/**
 * The nice step (1, 2 or 5 times a power of ten) closest to span / count, on a log scale (the
 * rule of d3's ticks: a step of 10^k times 5 covers raw steps from sqrt(10) to sqrt(50) times 10^k).
 */
export function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const r = raw / mag;
  return (r >= Math.sqrt(50) ? 10 : r >= Math.sqrt(10) ? 5 : r >= Math.sqrt(2) ? 2 : 1) * mag;
}

/** A label for value v on a linear axis whose ticks are `step` apart: as many decimals as the step needs, exponent form for large or tiny magnitudes. */
export function formatLinear(v: number, step: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-4) {
    const digits = Math.max(0, Math.floor(Math.log10(a)) - Math.floor(Math.log10(step)));
    return v.toExponential(Math.min(digits, 6)).replace(/\.?0+e/, 'e').replace('e+', 'e');
  }
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return v.toFixed(Math.min(decimals, 10));
}

/** The label of 10^k: plain from 0.01 to 1000, else 1eK (1e-4, 1e-3, 1e4). */
export function formatDecade(k: number): string {
  return k >= -2 && k <= 3 ? String(clean(10 ** k)) : `1e${k}`;
}

/** The label of m * 10^k (m = 1..9) on a log axis: plain from 0.01 to 1000, else mEk (2e-4, 5e5). */
function formatMultiple(m: number, k: number): string {
  return k >= -2 && k <= 3 ? String(clean(m * 10 ** k)) : `${m}e${k}`;
}

/**
 * Ticks of a linear axis over [lo, hi] with about `count` labelled ticks.
 */
export function linearTicks(lo: number, hi: number, count: number): Tick[] {
  const step = niceStep(hi - lo, count);
  const ticks: Tick[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + 1e-9 * step; k++) {
    const v = clean(k * step);
    ticks.push({ pos: v, label: formatLinear(v, step) });
  }
  return ticks;
}

/**
 * Ticks of a log axis over [lo, hi] (in log10 units) where labels need `minGap` pixels and one
 * decade is `pxPerDecade` pixels long.
 */
export function logTicks(lo: number, hi: number, pxPerDecade: number, minGap: number): Tick[] {
  const first = Math.ceil(lo - 1e-9), last = Math.floor(hi + 1e-9);
  const decades = last - first + 1;
  if (decades < 2) {
    // Less than two decades: label 1x, 2x and 5x (or, if still fewer than two, linear ticks).
    const ticks: Tick[] = [];
    for (let k = Math.floor(lo) - 1; k <= Math.ceil(hi); k++) {
      for (const m of [1, 2, 5]) {
        const p = Math.log10(m) + k;
        if (p >= lo - 1e-9 && p <= hi + 1e-9) ticks.push({ pos: p, label: formatMultiple(m, k) });
      }
    }
    if (ticks.length >= 2) return ticks;
    const a = 10 ** lo, b = 10 ** hi;
    return linearTicks(a, b, 4).filter((t) => t.pos > 0).map((t) => ({ pos: Math.log10(t.pos), label: t.label }));
  }
  // Every stride-th decade is labelled (multiples of the stride, so 1 = 10^0 is among them); the
  // decades between get minor ticks.
  const stride = Math.max(1, Math.ceil(minGap / pxPerDecade));
  const ticks: Tick[] = [];
  for (let k = first; k <= last; k++) {
    if (((k % stride) + stride) % stride === 0) ticks.push({ pos: k, label: formatDecade(k) });
    else ticks.push({ pos: k, label: '', minor: true });
  }
  if (stride === 1 && pxPerDecade >= 24) {
    for (let k = Math.floor(lo); k <= Math.ceil(hi); k++) {
      for (let m = 2; m <= 9; m++) {
        const p = k + Math.log10(m);
        if (p > lo && p < hi) ticks.push({ pos: p, label: '', minor: true });
      }
    }
  }
  return ticks;
}

/** Automatic range of data spanning [min, max] in axis units: 4% padding on each side (a single value gets +-1 decade on log axes, +-1 or 10% on linear ones). */
export function autoRange(min: number, max: number, kind: AxisKind): [number, number] {
  if (min === max) {
    const d = kind === 'log' ? 1 : Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
    return [min - d, max + d];
  }
  const pad = 0.04 * (max - min);
  return [min - pad, max + pad];
}
