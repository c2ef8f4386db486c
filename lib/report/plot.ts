/**
 * Figures for notebooks and papers, in nodeplotlib's (= plotly's) trace format, rendered to SVG
 * here so that they show inline in Jupyter and on GitHub without a browser or a server, and paste
 * into a paper (convert with `rsvg-convert -f pdf fig.svg > fig.pdf`). The same traces open
 * interactively with `import { plot } from 'nodeplotlib'; plot(traces, layout)`.
 *
 *   renderSvg(
 *     [{ x: its, y: distance, name: 'gradient distance' }, { x: its, y: mse, name: 'MSE', mode: 'lines+markers' }],
 *     { xaxis: { title: 'iteration' }, yaxis: { title: 'value', type: 'log' },
 *       refLines: [{ y: 1e-3, label: 'recovered below (MSE 1e-3)' }] },
 *   );
 *   renderPanels([
 *     { traces: distanceTraces, layout: { title: 'gradient distance', yaxis: { type: 'log' } } },
 *     { traces: mseTraces, layout: { title: 'MSE vs truth', yaxis: { type: 'log' }, refLines: [{ y: 1e-3 }] } },
 *   ]);  // side by side, one shared legend
 *
 * What is drawn: scatter traces (mode 'lines', 'markers', 'lines+markers' or 'none'; default
 * 'lines'), bar traces (grouped or overlaid, on category or numeric x), error bars (error_y of type
 * 'data'), linear, log and category axes (see axis.ts for ticks), axis and figure titles,
 * reference lines with labels, and a legend outside the plot area: right of it, or below it when
 * it would take more than 38% of the width or be taller than the plot, or when
 * `legend: { orientation: 'h' }`. Colours, dashes and markers come from style.ts. Any other
 * option is an error (plot-spec.ts), and values a log axis cannot show (<= 0) are dropped as
 * panel.ts describes.
 *
 * Structure of the SVG, for tests and post-processing: the plot area is `<rect class="plot-area">`,
 * tick labels are `<text class="xtick">` / `<text class="ytick">`, each trace is a
 * `<g class="trace" data-name data-dropped>` holding its line (one <path>), bars (<rect
 * class="bar">) and markers (<circle> for circles), reference lines are `<line class="refline">`,
 * and the legend is `<g class="legend">` whose first child `<rect class="legend-box">` bounds it.
 */
import type { Plot, Layout } from 'nodeplotlib';
import type { FigureLayout, FigureSpec, PanelSpec, RefLine, Series } from './plot-spec';
import { figureSpec, panelSpec } from './plot-spec';
import type { Box, Fonts } from './panel';
import { drawPanel, markerSvg, n2, strokeAttrs } from './panel';
import { FIGURE, INK } from './style';
import { RECOVERED_MSE } from '../config';
import { esc, svgTextWidth, wrapBalanced } from './svg-text';

export type { Plot, Layout, FigureLayout, RefLine };
export { PALETTE, DASHES, MARKERS, FONT, FIGURE, seriesStyle } from './style';

/** The recovery threshold as a reference line: `refLines: [RECOVERED_LINE]` on an MSE axis. */
export const RECOVERED_LINE: RefLine = Object.freeze({ y: RECOVERED_MSE, label: `recovered below (MSE ${RECOVERED_MSE.toExponential(0)})` });

/** The layout of one panel of `renderPanels`: its title, axes, bars and reference lines. */
export type PanelLayout = Pick<FigureLayout, 'title' | 'xaxis' | 'yaxis' | 'barmode' | 'bargap' | 'refLines'>;

/** One panel of `renderPanels`. */
export interface Panel {
  traces: Plot[];
  layout?: PanelLayout;
}

/** A legend entry: a series' name and look. */
type Entry = Pick<Series, 'name' | 'bar' | 'lines' | 'markers' | 'color' | 'dash' | 'lineWidth' | 'symbol' | 'markerSize'>;

const SWATCH = 28;

function entriesOf(panels: PanelSpec[]): Entry[] {
  const seen = new Map<string, Entry>();
  for (const p of panels) {
    for (const s of p.series) {
      if (!s.showInLegend) continue;
      const key = JSON.stringify([s.name, s.bar, s.lines, s.markers, s.color, s.dash, s.symbol]);
      if (!seen.has(key)) seen.set(key, s);
    }
  }
  return [...seen.values()];
}

function swatch(e: Entry, x: number, y: number): string {
  if (e.bar) return `<rect x="${n2(x + SWATCH / 2 - 6)}" y="${n2(y - 6)}" width="12" height="12" fill="${e.color}"/>`;
  const parts: string[] = [];
  if (e.lines) parts.push(`<line x1="${n2(x)}" x2="${n2(x + SWATCH)}" y1="${n2(y)}" y2="${n2(y)}" ${strokeAttrs(e.color, e.lineWidth, e.dash)}/>`);
  if (e.markers) parts.push(markerSvg(e.symbol, x + SWATCH / 2, y, e.markerSize, e.color, true));
  return parts.join('');
}

/** Legend geometry: size of the block, and where each entry's swatch starts (relative to its top-left). */
function legendLayout(entries: Entry[], F: number, placement: 'right' | 'below', maxWidth: number) {
  const rowH = Math.round(F * 1.45);
  const itemW = (e: Entry) => SWATCH + 6 + svgTextWidth(e.name, F);
  if (placement === 'right') {
    const w = Math.max(...entries.map(itemW));
    return { w, h: entries.length * rowH, at: entries.map((_, i) => [0, i * rowH + rowH / 2] as [number, number]) };
  }
  const at: [number, number][] = [];
  let x = 0, row = 0, w = 0;
  for (const e of entries) {
    const iw = itemW(e);
    if (x > 0 && x + iw > maxWidth) { x = 0; row++; }
    at.push([x, row * rowH + rowH / 2]);
    w = Math.max(w, x + iw);
    x += iw + 18;
  }
  return { w, h: (row + 1) * rowH, at };
}

/** Lay out and draw a figure of panels side by side, a title above and a legend right of or below them. */
function drawFigure(panels: PanelSpec[], fig: FigureSpec, width: number, height: number, where: (i: number) => string): string {
  const F = fig.fontSize;
  const fonts: Fonts = { tick: F, axisTitle: F + 1, panelTitle: F + 1, reference: Math.max(8, F - 1), family: fig.fontFamily };
  const titleSize = F + 3;
  const entries = entriesOf(panels);
  const showLegend = fig.showlegend ?? entries.length >= 2;
  const pad = 8;
  let placement: 'right' | 'below' | undefined;
  let legend: ReturnType<typeof legendLayout> | undefined;
  if (showLegend && entries.length > 0) {
    const right = legendLayout(entries, F, 'right', 0);
    const titleGuess = fig.title ? wrapBalanced(fig.title, titleSize, width - 2 * pad).length * Math.round(titleSize * 1.25) + 6 : 0;
    placement = fig.legend ?? (right.w + 14 + pad <= 0.38 * width && right.h <= height - titleGuess - 2 * F ? 'right' : 'below');
    legend = placement === 'right' ? right : legendLayout(entries, F, 'below', width - 2 * pad);
  }
  const titleLines = fig.title ? wrapBalanced(fig.title, titleSize, width - 2 * pad) : [];
  const titleH = titleLines.length ? titleLines.length * Math.round(titleSize * 1.25) + 6 : 0;
  const legendRight = legend && placement === 'right' ? legend.w + 14 + pad : 0;
  const legendBelow = legend && placement === 'below' ? legend.h + 6 : 0;
  const area: Box = { x: 0, y: titleH, w: width - legendRight, h: height - titleH - legendBelow };
  const panelW = area.w / panels.length;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${n2(width)}" height="${n2(height)}" viewBox="0 0 ${n2(width)} ${n2(height)}" font-family="${fig.fontFamily}" font-size="${F}" fill="${INK.text}">`);
  out.push(`<rect width="${n2(width)}" height="${n2(height)}" fill="white"/>`);
  const plots: Box[] = [];
  panels.forEach((p, i) => {
    const { svg, plot } = drawPanel(p, { x: area.x + i * panelW, y: area.y, w: panelW, h: area.h }, fonts, where(i));
    out.push(...svg);
    plots.push(plot);
  });
  titleLines.forEach((line, i) => {
    out.push(`<text class="title" x="${n2(width / 2)}" y="${n2(4 + (i + 0.85) * Math.round(titleSize * 1.25))}" text-anchor="middle" font-size="${titleSize}">${esc(line)}</text>`);
  });
  if (legend) {
    const top = Math.min(...plots.map((p) => p.y));
    const lx = placement === 'right' ? Math.max(...plots.map((p) => p.x + p.w)) + 14 : Math.max(pad, (width - legend.w) / 2);
    const ly = placement === 'right' ? top : height - legend.h - 4;
    out.push('<g class="legend">');
    out.push(`<rect class="legend-box" x="${n2(lx)}" y="${n2(ly)}" width="${n2(legend.w)}" height="${n2(legend.h)}" fill="none" stroke="none"/>`);
    entries.forEach((e, i) => {
      const [dx, dy] = legend!.at[i];
      out.push(swatch(e, lx + dx, ly + dy));
      out.push(`<text class="legend-label" x="${n2(lx + dx + SWATCH + 6)}" y="${n2(ly + dy + F * 0.35)}">${esc(e.name)}</text>`);
    });
    out.push('</g>');
  }
  out.push('</svg>');
  return out.join('\n');
}

/**
 * Render traces (plotly format) and a layout as an SVG string; see the file comment for what is
 * drawn. Default size 480 x 320 px, fonts from style.ts (`layout.font.size` scales them all).
 * Throws one clear error for an option it does not draw, mismatched x / y lengths, or no point to plot.
 */
export function renderSvg(traces: Plot[], layout: FigureLayout = {}): string {
  const fig = figureSpec(layout);
  const panel = { ...panelSpec(traces, layout), title: '' }; // layout.title is the figure's title
  return drawFigure([panel], fig, fig.width ?? FIGURE.width, fig.height ?? FIGURE.height, () => '');
}

/**
 * Several panels side by side in one SVG, e.g. gradient distance | MSE, with one legend for all
 * (entries of the same name and look are listed once: give a series the same name and style in
 * every panel). `layout` holds the figure's width (default 400 px per panel plus the legend),
 * height (320), title, font, showlegend and legend; each panel's layout its title, axes, bars and
 * reference lines.
 */
export function renderPanels(panels: Panel[], layout: Layout = {}): string {
  try {
    return panelsSvg(panels, layout);
  } catch (e) {
    // The checks are shared with renderSvg: name the function the caller called.
    throw new Error((e as Error).message.replace(/^renderSvg: /, 'renderPanels: '));
  }
}

function panelsSvg(panels: Panel[], layout: Layout): string {
  if (!Array.isArray(panels) || panels.length === 0) throw new Error('renderPanels: no panels');
  const fig = figureSpec(layout, 'layout', true);
  const specs = panels.map((p, i) => {
    if (!p || typeof p !== 'object' || !Array.isArray(p.traces)) throw new Error(`renderPanels: panel ${i} needs traces (an array)`);
    return panelSpec(p.traces, (p.layout ?? {}) as FigureLayout, `panel ${i} layout`, false);
  });
  let width = fig.width;
  if (width === undefined) {
    // Room for the legend on the right, if it goes there.
    const entries = entriesOf(specs);
    const legendW = (fig.showlegend ?? entries.length >= 2) && fig.legend !== 'below' && entries.length
      ? legendLayout(entries, fig.fontSize, 'right', 0).w + 22 : 0;
    width = FIGURE.panelWidth * panels.length + (legendW <= 0.3 * FIGURE.panelWidth * panels.length || fig.legend === 'right' ? legendW : 0);
  }
  return drawFigure(specs, fig, width, fig.height ?? FIGURE.height, (i) => `panel ${i}: `);
}
