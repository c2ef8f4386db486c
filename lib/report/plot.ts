/**
 * Figures for notebooks, in nodeplotlib's (= plotly's) trace format, rendered to SVG here so that
 * they show inline in Jupyter and on GitHub without a browser or a server. The same traces open
 * interactively with `import { plot } from 'nodeplotlib'; plot(traces, layout)`.
 * Supports what the paper's figures need: line/marker scatter traces, linear or log y axis.
 */
import type { Plot, Layout } from 'nodeplotlib';

export type { Plot, Layout };

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function titleOf(t: unknown): string {
  if (typeof t === 'string') return t;
  if (t && typeof t === 'object' && typeof (t as { text?: unknown }).text === 'string') return (t as { text: string }).text;
  return '';
}

function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-12 * Math.abs(hi); v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(0).replace('e+', 'e') : String(Number(v.toPrecision(4)));
}

/** Render scatter traces (x, y numeric arrays) as an SVG string. Log y when layout.yaxis.type is 'log'. */
export function renderSvg(traces: Plot[], layout: Layout = {}): string {
  const width = layout.width ?? 640;
  const height = layout.height ?? 360;
  const m = { left: 70, right: 20, top: layout.title ? 40 : 20, bottom: 50 };
  const logY = layout.yaxis?.type === 'log';
  const series = traces.map((t, i) => {
    const ys = (t.y ?? []) as number[];
    const xs = ((t.x ?? ys.map((_, j) => j)) as number[]).map(Number);
    const pts = xs.map((x, j) => [x, Number(ys[j])] as [number, number]).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!logY || y > 0));
    return { name: t.name ?? `trace ${i}`, pts, color: (t.line?.color as string) ?? COLORS[i % COLORS.length], markers: (t.mode ?? 'lines').includes('markers') };
  });
  const all = series.flatMap((s) => s.pts);
  if (all.length === 0) throw new Error('renderSvg: no finite points to plot');
  const tx = (v: number) => v;
  const ty = (v: number) => (logY ? Math.log10(v) : v);
  let [x0, x1] = [Math.min(...all.map((p) => tx(p[0]))), Math.max(...all.map((p) => tx(p[0])))];
  let [y0, y1] = [Math.min(...all.map((p) => ty(p[1]))), Math.max(...all.map((p) => ty(p[1])))];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = [y0 - 1, y1 + 1];
  if (logY) [y0, y1] = [Math.floor(y0), Math.ceil(y1)];
  const px = (v: number) => m.left + ((tx(v) - x0) / (x1 - x0)) * (width - m.left - m.right);
  const py = (v: number) => height - m.bottom - ((ty(v) - y0) / (y1 - y0)) * (height - m.top - m.bottom);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  const xTicks = niceTicks(x0, x1);
  const yTicks = logY ? Array.from({ length: y1 - y0 + 1 }, (_, i) => 10 ** (y0 + i)).filter((_, i, a) => a.length <= 9 || i % Math.ceil(a.length / 8) === 0) : niceTicks(y0, y1);
  for (const t of xTicks) {
    out.push(`<line x1="${px(t)}" x2="${px(t)}" y1="${m.top}" y2="${height - m.bottom}" stroke="#eee"/>`);
    out.push(`<text x="${px(t)}" y="${height - m.bottom + 15}" text-anchor="middle">${fmt(t)}</text>`);
  }
  for (const t of yTicks) {
    out.push(`<line x1="${m.left}" x2="${width - m.right}" y1="${py(t)}" y2="${py(t)}" stroke="#eee"/>`);
    out.push(`<text x="${m.left - 6}" y="${py(t) + 4}" text-anchor="end">${fmt(t)}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${width - m.left - m.right}" height="${height - m.top - m.bottom}" fill="none" stroke="#444"/>`);
  for (const s of series) {
    if (s.pts.length === 0) continue;
    const d = s.pts.map(([x, y], i) => `${i ? 'L' : 'M'}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join('');
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.8"/>`);
    if (s.markers) for (const [x, y] of s.pts) out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="2.5" fill="${s.color}"/>`);
  }
  series.forEach((s, i) => {
    const y = m.top + 14 + i * 16;
    out.push(`<line x1="${width - m.right - 150}" x2="${width - m.right - 130}" y1="${y - 4}" y2="${y - 4}" stroke="${s.color}" stroke-width="2"/>`);
    out.push(`<text x="${width - m.right - 125}" y="${y}">${esc(String(s.name))}</text>`);
  });
  const title = titleOf(layout.title);
  if (title) out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="14">${esc(title)}</text>`);
  const xt = titleOf(layout.xaxis?.title);
  const yt = titleOf(layout.yaxis?.title);
  if (xt) out.push(`<text x="${(m.left + width - m.right) / 2}" y="${height - 12}" text-anchor="middle">${esc(xt)}</text>`);
  if (yt) out.push(`<text transform="translate(16,${(m.top + height - m.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(yt)}</text>`);
  out.push('</svg>');
  return out.join('\n');
}
