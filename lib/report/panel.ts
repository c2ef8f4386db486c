/**
 * One panel of an SVG figure: its axes (frame, ticks, grid, titles), reference lines, bars, error
 * bars, lines and markers, laid out inside a box of the figure. plot.ts places the panels, the
 * title and the legend around them.
 *
 * Points that an axis cannot show are dropped, never moved: non-finite values, and values <= 0 on
 * a log axis. A line breaks where a point was dropped (plotly's default; `connectgaps: true` joins
 * its neighbours instead), and the trace's <g> element records how many points it lost in its
 * `data-dropped` attribute. Lines are clipped to the plot area; markers outside it are not drawn.
 */
import type { AxisKind, Tick } from './axis';
import { autoRange, formatDecade, formatLinear, linearTicks, logTicks, niceStep } from './axis';
import type { AxisSpec, PanelSpec, Series } from './plot-spec';
import type { MarkerSymbol } from './style';
import { INK, dashArray } from './style';
import { esc, svgTextWidth, wrapWords } from './svg-text';

/** A rectangle in SVG pixels. */
export interface Box { x: number; y: number; w: number; h: number }

/** Font sizes in pixels. */
export interface Fonts { tick: number; axisTitle: number; panelTitle: number; reference: number; family: string }

/** A number for an SVG attribute: at most two decimals. */
export function n2(v: number): string {
  return String(Math.round(v * 100) / 100);
}

/**
 * SVG of a marker centred at (x, y). `legend`: draw a circle as <ellipse>, so that the <circle>
 * elements of a figure are exactly its data markers.
 */
export function markerSvg(symbol: MarkerSymbol, x: number, y: number, size: number, color: string, legend = false): string {
  const open = symbol.endsWith('-open');
  const cls = legend ? 'legend-marker' : 'marker';
  const base = symbol.replace(/-open$/, '');
  const r = size / 2;
  const paint = open ? `fill="white" stroke="${color}" stroke-width="1.5"` : `fill="${color}"`;
  const stroke = `fill="none" stroke="${color}" stroke-width="${n2(Math.max(1.5, size / 4))}"`;
  const P = (pts: [number, number][]) => `M${pts.map(([a, b]) => `${n2(x + a)},${n2(y + b)}`).join('L')}Z`;
  switch (base) {
    case 'circle':
      return legend ? `<ellipse cx="${n2(x)}" cy="${n2(y)}" rx="${n2(r)}" ry="${n2(r)}" ${paint}/>` : `<circle cx="${n2(x)}" cy="${n2(y)}" r="${n2(r)}" ${paint}/>`;
    case 'square':
      return `<path class="${cls}" d="${P([[-r, -r], [r, -r], [r, r], [-r, r]])}" ${paint}/>`;
    case 'diamond': {
      const d = r * 1.3;
      return `<path class="${cls}" d="${P([[0, -d], [d, 0], [0, d], [-d, 0]])}" ${paint}/>`;
    }
    case 'triangle-up':
    case 'triangle-down': {
      const s = base === 'triangle-up' ? 1 : -1, d = r * 1.2;
      return `<path class="${cls}" d="${P([[0, -s * d], [d, s * d * 0.75], [-d, s * d * 0.75]])}" ${paint}/>`;
    }
    case 'x':
      return `<path class="${cls}" d="M${n2(x - r)},${n2(y - r)}L${n2(x + r)},${n2(y + r)}M${n2(x - r)},${n2(y + r)}L${n2(x + r)},${n2(y - r)}" ${stroke}/>`;
    default: // cross
      return `<path class="${cls}" d="M${n2(x - r)},${n2(y)}L${n2(x + r)},${n2(y)}M${n2(x)},${n2(y - r)}L${n2(x)},${n2(y + r)}" ${stroke}/>`;
  }
}

/** Attributes of a stroked line in a series' (or reference line's) colour and dash. */
export function strokeAttrs(color: string, width: number, dash: Parameters<typeof dashArray>[0]): string {
  const d = dashArray(dash, width);
  return `stroke="${color}" stroke-width="${n2(width)}"${d ? ` stroke-dasharray="${d}"` : ''}`;
}

/** [min, max] of many numbers (Math.min(...xs) overflows the stack for long series). */
function extent(values: number[]): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** Value -> axis units, or NaN when the axis cannot show it. */
function toUnits(v: number | string, axis: { kind: AxisKind; categories: string[] }): number {
  if (axis.kind === 'category') return axis.categories.indexOf(String(v));
  const x = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(x)) return NaN;
  if (axis.kind === 'log') return x > 0 ? Math.log10(x) : NaN;
  return x;
}

/** Ticks from tickvals / ticktext (values in data units). */
function explicitTicks(spec: AxisSpec, kind: AxisKind): Tick[] | undefined {
  if (!spec.tickvals) return undefined;
  const vals = spec.tickvals;
  const step = vals.length > 1 ? Math.min(...vals.slice(1).map((v, i) => Math.abs(v - vals[i])).filter((d) => d > 0)) : Math.abs(vals[0]) || 1;
  return vals.map((v, i) => ({ pos: kind === 'log' ? Math.log10(v) : v, label: spec.ticktext ? spec.ticktext[i] : kind === 'log' ? String(v) : formatLinear(v, step) }))
    .filter((t) => Number.isFinite(t.pos));
}

/** Draw one panel into `box`; returns the SVG elements and the plot area (inside the axes). */
export function drawPanel(spec: PanelSpec, box: Box, fonts: Fonts, where: string): { svg: string[]; plot: Box } {
  const F = fonts.tick;
  const series = spec.series;

  // Axis kinds and categories.
  const textX = series.some((s) => s.x.some((v) => typeof v === 'string' && !Number.isFinite(Number(v))));
  const xKind: AxisKind = spec.x.kind ?? (textX ? 'category' : 'linear');
  if (textX && xKind !== 'category') throw new Error(`renderSvg: ${where}x values are text; use xaxis: { type: 'category' } (or numbers)`);
  const categories = xKind === 'category' ? [...new Set(series.flatMap((s) => s.x.map(String)))] : [];
  const yKind: AxisKind = spec.y.kind ?? 'linear';
  const xa = { kind: xKind, categories }, ya = { kind: yKind, categories: [] as string[] };

  // Bar slots: category axes 1 wide; numeric axes the smallest gap between bar positions.
  const bars = series.filter((s) => s.bar);
  if (bars.length > 0 && xKind === 'log') throw new Error(`renderSvg: ${where}bars on a log x axis are not supported`);
  let unit = 1;
  if (bars.length > 0 && xKind === 'linear') {
    const xs = [...new Set(bars.flatMap((s) => s.x.map((v) => toUnits(v, xa)).filter(Number.isFinite)))].sort((a, b) => a - b);
    const gaps = xs.slice(1).map((v, i) => v - xs[i]).filter((d) => d > 0);
    if (gaps.length) unit = Math.min(...gaps);
  }
  const slot = unit * (1 - spec.bargap);
  const barWidth = spec.barmode === 'group' && bars.length > 0 ? slot / bars.length : slot;
  const barOffset = (s: Series) => (spec.barmode === 'group' ? -slot / 2 + barWidth * (bars.indexOf(s) + 0.5) : 0);

  // Points in axis units; null marks a dropped point.
  const pts = series.map((s) => s.x.map((xv, i) => {
    const x = toUnits(xv, xa), y = toUnits(s.y[i], ya);
    return Number.isFinite(x) && Number.isFinite(y) ? { x: s.bar ? x + barOffset(s) : x, y, i } : null;
  }));
  const valid = pts.flatMap((p) => p.filter((q): q is { x: number; y: number; i: number } => q !== null));
  if (valid.length === 0) {
    const why = [xKind, yKind].includes('log') ? ' (values <= 0 cannot be shown on a log axis)' : '';
    throw new Error(`renderSvg: ${where}no finite points to plot${why}`);
  }

  // Ranges.
  const refX = spec.refLines.filter((r) => r.x !== undefined).map((r) => ({ r, u: toUnits(r.x as number, xa) }));
  const refY = spec.refLines.filter((r) => r.y !== undefined).map((r) => ({ r, u: toUnits(r.y as number, ya) }));
  for (const { r, u } of [...refX, ...refY]) {
    if (!Number.isFinite(u)) throw new Error(`renderSvg: ${where}reference line at ${r.x ?? r.y} cannot be drawn on a ${r.x !== undefined ? xKind : yKind} axis`);
  }
  const xs = [...valid.map((p) => p.x), ...refX.map((r) => r.u)];
  if (bars.length) for (const p of valid) xs.push(p.x - barWidth / 2, p.x + barWidth / 2);
  const ys = [...valid.map((p) => p.y), ...refY.map((r) => r.u)];
  series.forEach((s, k) => {
    if (!s.errorPlus || !s.errorMinus) return;
    for (const p of pts[k]) {
      if (!p) continue;
      const v = s.y[p.i];
      for (const e of [v + (s.errorPlus[p.i] || 0), v - (s.errorMinus[p.i] || 0)]) {
        const u = toUnits(e, ya);
        if (Number.isFinite(u)) ys.push(u);
      }
    }
  });
  const barsOnLinearY = bars.length > 0 && yKind === 'linear';
  if (barsOnLinearY) ys.push(0);
  const [xMin, xMax] = extent(xs), [yMin, yMax] = extent(ys);
  let [x0, x1] = spec.x.range ?? (xKind === 'category' ? [-0.5, categories.length - 0.5] : autoRange(xMin, xMax, xKind));
  let [y0, y1] = spec.y.range ?? autoRange(yMin, yMax, yKind);
  if (!spec.y.range && barsOnLinearY) {
    if (yMin >= 0) y0 = 0;
    if (yMax <= 0) y1 = 0;
  }
  if (!spec.x.range && bars.length && xKind === 'linear') [x0, x1] = [xMin - unit * spec.bargap / 2, xMax + unit * spec.bargap / 2];

  // Margins: bottom and top from the fonts, left from the y tick labels, right fixed.
  const tickLen = 5;
  const titleBlock = spec.title ? Math.round(fonts.panelTitle * 1.4) + 4 : 0;
  const top = titleBlock + Math.round(F * 0.7);
  const right = Math.round(F * 1.4);
  let bottom = tickLen + 5 + F + (spec.x.title ? 8 + fonts.axisTitle : 0) + 4;
  // Category labels wider than their slot are wrapped at spaces onto up to 3 lines, or, when a
  // word alone is too wide, turned by 35 degrees (both need a taller bottom margin).
  let turn = false;
  let wrapped: string[][] | undefined;
  if (xKind === 'category' && !spec.x.tickvals) {
    const room = (box.w - 70 - right) / Math.max(1, x1 - x0) - 6;
    if (Math.max(...categories.map((c) => svgTextWidth(c, F))) > room) {
      const lines = categories.map((c) => wrapWords(c, F, room));
      if (lines.every((l) => l.length <= 3 && l.every((w) => svgTextWidth(w, F) <= room))) {
        wrapped = lines;
        bottom += (Math.max(...lines.map((l) => l.length)) - 1) * Math.round(F * 1.15);
      } else {
        turn = true;
        bottom += Math.round(Math.max(...categories.map((c) => svgTextWidth(c, F))) * Math.sin((35 * Math.PI) / 180));
      }
    }
  }
  const plotH = box.h - top - bottom;
  const yTicks = explicitTicks(spec.y, yKind) ?? (yKind === 'log'
    ? logTicks(y0, y1, plotH / (y1 - y0), F * 1.7)
    : linearTicks(y0, y1, Math.max(2, Math.round(plotH / (F * 3.4)))));
  const yLabelW = Math.max(0, ...yTicks.filter((t) => !t.minor).map((t) => svgTextWidth(t.label, F)));
  const left = 6 + (spec.y.title ? fonts.axisTitle + 10 : 0) + yLabelW + 5 + tickLen;
  const plotW = box.w - left - right;
  if (plotW < 40 || plotH < 40) throw new Error(`renderSvg: ${where}the figure is too small for its labels (plot area ${Math.round(plotW)} x ${Math.round(plotH)} px); make it larger or the font smaller`);
  let xTicks: Tick[];
  const explicitX = explicitTicks(spec.x, xKind);
  if (explicitX) xTicks = explicitX;
  else if (xKind === 'category') xTicks = categories.map((c, i) => ({ pos: i, label: c }));
  else if (xKind === 'log') {
    const widest = Math.max(...[Math.ceil(x0), Math.floor(x1)].map((k) => svgTextWidth(formatDecade(k), F)));
    xTicks = logTicks(x0, x1, plotW / (x1 - x0), widest + 14);
  } else {
    const guess = Math.max(...[x0, x1].map((v) => svgTextWidth(formatLinear(v, niceStep(x1 - x0, 5)), F)));
    xTicks = linearTicks(x0, x1, Math.max(2, Math.floor(plotW / Math.max(64, guess + 24))));
  }
  const plot: Box = { x: box.x + left, y: box.y + top, w: plotW, h: plotH };
  const px = (u: number) => plot.x + ((u - x0) / (x1 - x0)) * plot.w;
  const py = (u: number) => plot.y + plot.h - ((u - y0) / (y1 - y0)) * plot.h;
  const inX = (u: number) => u >= x0 - 1e-9 && u <= x1 + 1e-9;
  const inY = (u: number) => u >= y0 - 1e-9 && u <= y1 + 1e-9;

  const out: string[] = [];
  const clip = `clip-${n2(plot.x)}-${n2(plot.y)}-${n2(plot.w)}-${n2(plot.h)}`.replace(/\./g, '_');
  out.push(`<clipPath id="${clip}"><rect x="${n2(plot.x)}" y="${n2(plot.y)}" width="${n2(plot.w)}" height="${n2(plot.h)}"/></clipPath>`);

  // Grid lines at the labelled ticks.
  for (const t of xTicks.filter((t) => !t.minor && inX(t.pos) && spec.x.showgrid)) {
    out.push(`<line class="grid" x1="${n2(px(t.pos))}" x2="${n2(px(t.pos))}" y1="${n2(plot.y)}" y2="${n2(plot.y + plot.h)}" stroke="${INK.grid}"/>`);
  }
  for (const t of yTicks.filter((t) => !t.minor && inY(t.pos) && spec.y.showgrid)) {
    out.push(`<line class="grid" x1="${n2(plot.x)}" x2="${n2(plot.x + plot.w)}" y1="${n2(py(t.pos))}" y2="${n2(py(t.pos))}" stroke="${INK.grid}"/>`);
  }

  // Data, trace by trace in order.
  const base = yKind === 'log' ? y0 : Math.min(Math.max(0, y0), y1);
  series.forEach((s, k) => {
    const p = pts[k];
    const dropped = p.filter((q) => q === null).length;
    out.push(`<g class="trace" data-name="${esc(s.name)}" data-dropped="${dropped}">`);
    if (s.bar) {
      for (const q of p) {
        if (!q) continue;
        const yTop = Math.min(py(q.y), py(base)), h = Math.abs(py(q.y) - py(base));
        out.push(`<rect class="bar" x="${n2(px(q.x - barWidth / 2))}" y="${n2(yTop)}" width="${n2(px(q.x + barWidth / 2) - px(q.x - barWidth / 2))}" height="${n2(h)}" fill="${s.color}" clip-path="url(#${clip})"/>`);
      }
    }
    if (s.errorPlus && s.errorMinus) {
      const cap = Math.max(3, Math.min(6, s.bar ? (px(barWidth) - px(0)) / 4 : 4));
      const segs: string[] = [];
      for (const q of p) {
        if (!q || !inX(q.x)) continue;
        const v = s.y[q.i];
        const hi = toUnits(v + (s.errorPlus[q.i] || 0), ya), loRaw = toUnits(v - (s.errorMinus[q.i] || 0), ya);
        const lo = Number.isFinite(loRaw) ? loRaw : y0; // below zero on a log axis: to the bottom edge
        if (!Number.isFinite(hi)) continue;
        const x = n2(px(q.x));
        segs.push(`M${x},${n2(py(lo))}V${n2(py(hi))}M${n2(px(q.x) - cap)},${n2(py(hi))}h${n2(2 * cap)}`);
        if (Number.isFinite(loRaw)) segs.push(`M${n2(px(q.x) - cap)},${n2(py(lo))}h${n2(2 * cap)}`);
      }
      if (segs.length) out.push(`<path class="errorbars" d="${segs.join('')}" fill="none" stroke="${s.bar ? INK.frame : s.color}" stroke-width="1.5" clip-path="url(#${clip})"/>`);
    }
    if (!s.bar && s.lines) {
      let d = '', pen = false;
      for (const q of p) {
        if (!q) { if (!s.connectGaps) pen = false; continue; }
        d += `${pen ? 'L' : 'M'}${n2(px(q.x))},${n2(py(q.y))}`;
        pen = true;
      }
      out.push(`<path d="${d}" fill="none" ${strokeAttrs(s.color, s.lineWidth, s.dash)} stroke-linejoin="round" clip-path="url(#${clip})"/>`);
    }
    if (!s.bar && s.markers) {
      for (const q of p) if (q && inX(q.x) && inY(q.y)) out.push(markerSvg(s.symbol, px(q.x), py(q.y), s.markerSize, s.color));
    }
    out.push('</g>');
  });

  // Reference lines, over the data (a threshold stays visible over bars).
  for (const { r, u } of refY) {
    out.push(`<line class="refline" data-y="${r.y}" x1="${n2(plot.x)}" x2="${n2(plot.x + plot.w)}" y1="${n2(py(u))}" y2="${n2(py(u))}" ${strokeAttrs(r.color, r.width, r.dash)} clip-path="url(#${clip})"/>`);
  }
  for (const { r, u } of refX) {
    out.push(`<line class="refline" data-x="${r.x}" x1="${n2(px(u))}" x2="${n2(px(u))}" y1="${n2(plot.y)}" y2="${n2(plot.y + plot.h)}" ${strokeAttrs(r.color, r.width, r.dash)} clip-path="url(#${clip})"/>`);
  }

  // Frame, ticks and their labels.
  out.push(`<rect class="plot-area" x="${n2(plot.x)}" y="${n2(plot.y)}" width="${n2(plot.w)}" height="${n2(plot.h)}" fill="none" stroke="${INK.frame}"/>`);
  const yb = plot.y + plot.h;
  for (const t of xTicks) {
    if (!inX(t.pos)) continue;
    const x = n2(px(t.pos)), len = t.minor ? tickLen * 0.6 : tickLen;
    out.push(`<line class="xtick-mark" x1="${x}" x2="${x}" y1="${n2(yb)}" y2="${n2(yb + len)}" stroke="${INK.frame}"/>`);
    if (t.minor) continue;
    const ty = yb + tickLen + 4 + F * 0.8;
    const lines = wrapped?.[t.pos];
    if (lines && lines.length > 1) {
      const spans = lines.map((l, k) => `<tspan x="${x}" dy="${k ? Math.round(F * 1.15) : 0}">${esc(l)}</tspan>`).join('');
      out.push(`<text class="xtick" data-label="${esc(t.label)}" x="${x}" y="${n2(ty)}" text-anchor="middle">${spans}</text>`);
    } else if (turn) out.push(`<text class="xtick" x="${x}" y="${n2(ty)}" text-anchor="end" transform="rotate(-35 ${x} ${n2(ty)})">${esc(t.label)}</text>`);
    else out.push(`<text class="xtick" x="${x}" y="${n2(ty)}" text-anchor="middle">${esc(t.label)}</text>`);
  }
  for (const t of yTicks) {
    if (!inY(t.pos)) continue;
    const y = n2(py(t.pos)), len = t.minor ? tickLen * 0.6 : tickLen;
    out.push(`<line class="ytick-mark" x1="${n2(plot.x - len)}" x2="${n2(plot.x)}" y1="${y}" y2="${y}" stroke="${INK.frame}"/>`);
    if (!t.minor) out.push(`<text class="ytick" x="${n2(plot.x - tickLen - 4)}" y="${n2(py(t.pos) + F * 0.35)}" text-anchor="end">${esc(t.label)}</text>`);
  }

  // Labels of the reference lines, over the data, with a white halo.
  const halo = `stroke="white" stroke-width="3" stroke-linejoin="round" paint-order="stroke"`;
  const rf = fonts.reference;
  for (const { r, u } of refY) {
    if (!r.label) continue;
    const y = py(u);
    const ly = y - 4 - rf < plot.y ? y + 4 + rf * 0.8 : y - 4;
    out.push(`<text class="refline-label" x="${n2(plot.x + plot.w - 4)}" y="${n2(ly)}" text-anchor="end" font-size="${rf}" fill="${r.color}" ${halo}>${esc(r.label)}</text>`);
  }
  for (const { r, u } of refX) {
    if (!r.label) continue;
    const x = px(u);
    const fits = x + 4 + svgTextWidth(r.label, rf) <= plot.x + plot.w;
    out.push(`<text class="refline-label" x="${n2(fits ? x + 4 : x - 4)}" y="${n2(plot.y + 4 + rf * 0.8)}" text-anchor="${fits ? 'start' : 'end'}" font-size="${rf}" fill="${r.color}" ${halo}>${esc(r.label)}</text>`);
  }

  // Axis and panel titles.
  if (spec.x.title) out.push(`<text class="xtitle" x="${n2(plot.x + plot.w / 2)}" y="${n2(box.y + box.h - 6)}" text-anchor="middle" font-size="${fonts.axisTitle}">${esc(spec.x.title)}</text>`);
  if (spec.y.title) {
    const x = box.x + 6 + fonts.axisTitle * 0.8, y = plot.y + plot.h / 2;
    out.push(`<text class="ytitle" transform="translate(${n2(x)},${n2(y)}) rotate(-90)" text-anchor="middle" font-size="${fonts.axisTitle}">${esc(spec.y.title)}</text>`);
  }
  if (spec.title) out.push(`<text class="panel-title" x="${n2(plot.x + plot.w / 2)}" y="${n2(box.y + fonts.panelTitle * 1.1)}" text-anchor="middle" font-size="${fonts.panelTitle}">${esc(spec.title)}</text>`);
  return { svg: out, plot };
}
