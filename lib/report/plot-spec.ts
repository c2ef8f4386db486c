/**
 * Reads nodeplotlib / plotly traces and layouts into the plain description that plot.ts draws,
 * checking every option on the way: an option renderSvg does not draw (an unknown axis type or
 * trace mode, a layout key such as `shapes`) is an error naming it and what is supported, never
 * silently ignored. The few keys that only matter interactively (hover settings) are accepted and
 * have no effect on the SVG.
 */
import type { Plot, Layout } from 'nodeplotlib';
import type { AxisKind } from './axis';
import type { Dash, MarkerSymbol } from './style';
import { DASHES, MARKERS, PALETTE, FONT, INK } from './style';

/** A horizontal (`y`) or vertical (`x`) reference line across a panel, with an optional label. */
export interface RefLine {
  /** Draw a horizontal line at this y value (data units; > 0 on a log axis). */
  y?: number;
  /** Draw a vertical line at this x value (data units; > 0 on a log axis). */
  x?: number;
  /** Text written along the line, e.g. 'recovered below (MSE 1e-3)'. */
  label?: string;
  /** Line and label colour. Default '#555'. */
  color?: string;
  /** Dash style. Default 'dash'. */
  dash?: Dash;
  /** Line width in pixels. Default 1.5. */
  width?: number;
}

/**
 * A nodeplotlib / plotly layout and the options renderSvg adds: `refLines`. The SVG honours width,
 * height, title, xaxis / yaxis (title, type 'linear' | 'log' | 'category' | '-', range, showgrid,
 * tickvals, ticktext), showlegend, legend.orientation ('v': right of the plot, 'h': below it),
 * font (size, family), barmode ('group' | 'overlay') and bargap.
 */
export type FigureLayout = Layout & {
  /** Reference lines, e.g. `[{ y: 1e-3, label: 'recovered below (MSE 1e-3)' }]` (not drawn by plotly). */
  refLines?: RefLine[];
};

/** A reference line with its style filled in. */
export type ResolvedRefLine = RefLine & { color: string; dash: Dash; width: number };

/** An axis as plot.ts needs it. */
export interface AxisSpec {
  /** undefined: decided from the data (category when x values are text, else linear). */
  kind?: AxisKind;
  title: string;
  /** Shown range in axis units (log axes: exponents, as plotly). */
  range?: [number, number];
  showgrid: boolean;
  tickvals?: number[];
  ticktext?: string[];
}

/** A trace as plot.ts needs it. */
export interface Series {
  name: string;
  bar: boolean;
  lines: boolean;
  markers: boolean;
  showInLegend: boolean;
  color: string;
  dash: Dash;
  lineWidth: number;
  symbol: MarkerSymbol;
  markerSize: number;
  connectGaps: boolean;
  x: (number | string)[];
  y: number[];
  /** Error bar lengths above and below each point (error_y of type 'data'). */
  errorPlus?: number[];
  errorMinus?: number[];
}

/** One panel: its traces, axes, title and reference lines. */
export interface PanelSpec {
  series: Series[];
  title: string;
  x: AxisSpec;
  y: AxisSpec;
  refLines: ResolvedRefLine[];
  barmode: 'group' | 'overlay';
  bargap: number;
}

/** Figure-wide settings. */
export interface FigureSpec {
  width?: number;
  height?: number;
  title: string;
  fontSize: number;
  fontFamily: string;
  /** undefined: right of the plot unless the legend is too wide, then below. */
  legend?: 'right' | 'below';
  /** undefined: shown when there are two or more entries (plotly's rule). */
  showlegend?: boolean;
}

const INTERACTIVE_ONLY = ['hovermode', 'hoverinfo', 'hovertemplate', 'hoverlabel', 'dragmode', 'autosize'];

function fail(where: string, message: string): never {
  throw new Error(`renderSvg: ${where}${message}`);
}

/** Throws for keys of `obj` outside `allowed` (keys whose value is undefined are ignored). */
function checkKeys(obj: object, allowed: string[], where: string): void {
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined || allowed.includes(k) || INTERACTIVE_ONLY.includes(k)) continue;
    fail(where, `option '${k}' is not supported by the SVG renderer (supported: ${allowed.join(', ')})`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Text of a plotly title: a string or { text }. */
function titleText(t: unknown, where: string): string {
  if (t === undefined || t === null) return '';
  if (typeof t === 'string') return t;
  if (isObject(t)) {
    checkKeys(t, ['text'], `${where}title: `);
    return typeof t.text === 'string' ? t.text : '';
  }
  return fail(where, `title must be a string or { text }, got ${JSON.stringify(t)}`);
}

function positive(v: unknown, where: string, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) fail(where, `${name} must be a positive number, got ${JSON.stringify(v)}`);
  return v as number;
}

function dashOf(v: unknown, where: string, fallback: Dash): Dash {
  if (v === undefined) return fallback;
  if (typeof v === 'string' && (DASHES as readonly string[]).includes(v)) return v as Dash;
  return fail(where, `dash '${String(v)}' is not supported (supported: ${DASHES.join(', ')})`);
}

function colorOf(v: unknown, where: string, fallback: string): string {
  if (v === undefined) return fallback;
  if (typeof v === 'string' && v.length > 0 && !/["<>&]/.test(v)) return v;
  return fail(where, `color must be one CSS colour string (per-point colours are not supported), got ${JSON.stringify(v)}`);
}

function axisSpec(a: unknown, name: string): AxisSpec {
  const where = `layout.${name}: `;
  if (a === undefined) return { title: '', showgrid: true };
  if (!isObject(a)) return fail(where, `must be an object, got ${JSON.stringify(a)}`);
  checkKeys(a, ['title', 'type', 'range', 'showgrid', 'tickvals', 'ticktext'], where);
  let kind: AxisKind | undefined;
  if (a.type === undefined || a.type === '-') kind = undefined;
  else if (a.type === 'linear' || a.type === 'log' || a.type === 'category') kind = a.type;
  else fail(where, `axis type '${String(a.type)}' is not supported (supported: linear, log, category, '-')`);
  if (kind === 'category' && name === 'yaxis') fail(where, `axis type 'category' is supported on the x axis only (bars are vertical)`);
  let range: [number, number] | undefined;
  if (a.range !== undefined) {
    const r = a.range;
    if (!Array.isArray(r) || r.length !== 2 || !r.every((v) => typeof v === 'number' && Number.isFinite(v)) || !(r[1] > r[0])) {
      fail(where, `range must be [lo, hi] with finite numbers lo < hi (on a log axis in powers of ten, as plotly: [-6, 0] for 1e-6..1), got ${JSON.stringify(r)}`);
    }
    range = [r[0], r[1]];
  }
  let tickvals: number[] | undefined;
  let ticktext: string[] | undefined;
  if (a.tickvals !== undefined) {
    if (!Array.isArray(a.tickvals) || !a.tickvals.every((v) => typeof v === 'number' && Number.isFinite(v))) fail(where, 'tickvals must be an array of finite numbers');
    tickvals = a.tickvals as number[];
  }
  if (a.ticktext !== undefined) {
    if (!Array.isArray(a.ticktext) || !tickvals || a.ticktext.length !== tickvals.length) fail(where, 'ticktext needs tickvals of the same length');
    ticktext = (a.ticktext as unknown[]).map(String);
  }
  if (a.showgrid !== undefined && typeof a.showgrid !== 'boolean') fail(where, `showgrid must be true or false`);
  return { kind, title: titleText(a.title, where), range, showgrid: a.showgrid !== false, tickvals, ticktext };
}

function numbers(v: unknown, where: string, name: string): number[] {
  if (!Array.isArray(v) && !ArrayBuffer.isView(v)) fail(where, `${name} must be an array of numbers`);
  return Array.from(v as ArrayLike<unknown>, (e) => (e === null || e === undefined || e === '' ? NaN : Number(e)));
}

function seriesOf(t: Plot, i: number): Series {
  if (!isObject(t)) fail(`trace ${i}: `, `must be an object, got ${JSON.stringify(t)}`);
  const name = t.name !== undefined ? String(t.name) : `trace ${i}`;
  const where = `trace ${i} ('${name}'): `;
  checkKeys(t, ['x', 'y', 'name', 'type', 'mode', 'line', 'marker', 'showlegend', 'connectgaps', 'error_y'], where);
  const type = t.type ?? 'scatter';
  if (type !== 'scatter' && type !== 'scattergl' && type !== 'bar') fail(where, `trace type '${String(type)}' is not supported (supported: scatter, scattergl, bar)`);
  const bar = type === 'bar';
  let lines = !bar, markers = false;
  if (t.mode !== undefined) {
    if (bar) fail(where, `mode applies to scatter traces, not bars`);
    const parts = String(t.mode).split('+');
    if (!(t.mode === 'none' || parts.every((p) => p === 'lines' || p === 'markers'))) {
      fail(where, `trace mode '${String(t.mode)}' is not supported (supported: lines, markers, lines+markers, none)`);
    }
    lines = parts.includes('lines');
    markers = parts.includes('markers');
  }
  const y = numbers(t.y ?? [], where, 'y');
  let x: (number | string)[];
  if (t.x === undefined) x = y.map((_, j) => j);
  else {
    if (!Array.isArray(t.x) && !ArrayBuffer.isView(t.x)) fail(where, 'x must be an array');
    x = Array.from(t.x as ArrayLike<unknown>, (v) => {
      if (v instanceof Date) return fail(where, 'dates are not supported on the x axis (give numbers or category names)');
      return typeof v === 'string' ? v : v === null || v === undefined ? NaN : Number(v);
    });
  }
  if (x.length !== y.length) fail(where, `x has ${x.length} values and y has ${y.length}`);

  const line = t.line ?? {};
  if (!isObject(line)) fail(where, 'line must be an object');
  checkKeys(line, ['color', 'dash', 'width'], `${where}line: `);
  const marker = t.marker ?? {};
  if (!isObject(marker)) fail(where, 'marker must be an object');
  checkKeys(marker, ['color', 'symbol', 'size'], `${where}marker: `);
  const fallback = PALETTE[i % PALETTE.length];
  const color = bar ? colorOf(marker.color ?? line.color, where, fallback) : colorOf(line.color ?? marker.color, where, fallback);
  let symbol: MarkerSymbol = 'circle';
  if (marker.symbol !== undefined) {
    const s = String(marker.symbol);
    const base = s.replace(/-open$/, '');
    if (!(MARKERS as readonly string[]).includes(base)) fail(where, `marker symbol '${s}' is not supported (supported: ${MARKERS.join(', ')}, each also as <name>-open)`);
    symbol = s as MarkerSymbol;
  }
  if (t.showlegend !== undefined && typeof t.showlegend !== 'boolean') fail(where, 'showlegend must be true or false');
  if (t.connectgaps !== undefined && typeof t.connectgaps !== 'boolean') fail(where, 'connectgaps must be true or false');

  let errorPlus: number[] | undefined, errorMinus: number[] | undefined;
  if (t.error_y !== undefined) {
    const e = t.error_y as unknown;
    if (!isObject(e)) fail(where, 'error_y must be an object');
    checkKeys(e, ['type', 'array', 'arrayminus', 'symmetric', 'visible'], `${where}error_y: `);
    if (e.type !== undefined && e.type !== 'data') fail(where, `error_y type '${String(e.type)}' is not supported (supported: data, with array and optional arrayminus)`);
    if (e.visible !== false) {
      errorPlus = numbers(e.array, `${where}error_y: `, 'array');
      errorMinus = e.arrayminus !== undefined && e.symmetric !== true ? numbers(e.arrayminus, `${where}error_y: `, 'arrayminus') : errorPlus;
      if (errorPlus.length !== y.length || errorMinus.length !== y.length) fail(where, `error_y arrays need ${y.length} values, one per point`);
    }
  }
  return {
    name,
    bar,
    lines,
    markers,
    showInLegend: t.showlegend !== false,
    color,
    dash: dashOf(line.dash, where, 'solid'),
    lineWidth: positive(line.width, where, 'line.width') ?? 2,
    symbol,
    markerSize: positive(marker.size, where, 'marker.size') ?? 6,
    connectGaps: t.connectgaps === true,
    x,
    y,
    errorPlus,
    errorMinus,
  };
}

function refLineOf(r: unknown, i: number): ResolvedRefLine {
  const where = `refLines[${i}]: `;
  if (!isObject(r)) return fail(where, 'must be an object like { y: 1e-3, label: "..." }');
  checkKeys(r, ['x', 'y', 'label', 'color', 'dash', 'width'], where);
  if ((r.x === undefined) === (r.y === undefined)) fail(where, 'needs exactly one of x (a vertical line) or y (a horizontal line)');
  const v = r.x ?? r.y;
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(where, `the value must be a finite number, got ${JSON.stringify(v)}`);
  if (r.label !== undefined && typeof r.label !== 'string') fail(where, 'label must be a string');
  return {
    x: r.x as number | undefined,
    y: r.y as number | undefined,
    label: r.label as string | undefined,
    color: colorOf(r.color, where, INK.reference),
    dash: dashOf(r.dash, where, 'dash'),
    width: positive(r.width, where, 'width') ?? 1.5,
  };
}

const PANEL_KEYS = ['title', 'xaxis', 'yaxis', 'barmode', 'bargap', 'refLines'];
const FIGURE_KEYS = ['width', 'height', 'title', 'showlegend', 'legend', 'font'];

/** The panel part of a layout (axes, title, bars, reference lines) and its traces. */
export function panelSpec(traces: Plot[], layout: FigureLayout, where = 'layout', allowFigureKeys = true): PanelSpec {
  if (!Array.isArray(traces)) fail('', `traces must be an array, got ${typeof traces}`);
  if (!isObject(layout)) fail('', `${where} must be an object`);
  checkKeys(layout, allowFigureKeys ? [...PANEL_KEYS, ...FIGURE_KEYS] : PANEL_KEYS, `${where}: `);
  const barmode = layout.barmode ?? 'group';
  if (barmode !== 'group' && barmode !== 'overlay') fail(`${where}: `, `barmode '${String(barmode)}' is not supported (supported: group, overlay)`);
  const bargap = layout.bargap ?? 0.2;
  if (typeof bargap !== 'number' || !(bargap >= 0 && bargap < 1)) fail(`${where}: `, `bargap must be in [0, 1), got ${JSON.stringify(bargap)}`);
  const refs = layout.refLines ?? [];
  if (!Array.isArray(refs)) fail(`${where}: `, 'refLines must be an array');
  return {
    series: traces.map(seriesOf),
    title: titleText(layout.title, `${where}: `),
    x: axisSpec(layout.xaxis, 'xaxis'),
    y: axisSpec(layout.yaxis, 'yaxis'),
    refLines: refs.map(refLineOf),
    barmode,
    bargap,
  };
}

/** The figure part of a layout: size, title, font, legend (`onlyFigureKeys`: refuse panel keys such as xaxis too). */
export function figureSpec(layout: Layout, where = 'layout', onlyFigureKeys = false): FigureSpec {
  const w = `${where}: `;
  if (!isObject(layout)) fail('', `${where} must be an object`);
  if (onlyFigureKeys) checkKeys(layout, FIGURE_KEYS, w);
  const legend = layout.legend;
  let placement: FigureSpec['legend'];
  if (legend !== undefined) {
    if (!isObject(legend)) fail(w, 'legend must be an object');
    checkKeys(legend, ['orientation'], `${w}legend: `);
    if (legend.orientation === 'v') placement = 'right';
    else if (legend.orientation === 'h') placement = 'below';
    else if (legend.orientation !== undefined) fail(w, `legend.orientation must be 'v' (right of the plot) or 'h' (below it), got ${JSON.stringify(legend.orientation)}`);
  }
  const font = layout.font ?? {};
  if (!isObject(font)) fail(w, 'font must be an object');
  checkKeys(font, ['size', 'family'], `${w}font: `);
  if (font.family !== undefined && (typeof font.family !== 'string' || /["<>&]/.test(font.family))) fail(w, 'font.family must be a CSS font-family string');
  if (layout.showlegend !== undefined && typeof layout.showlegend !== 'boolean') fail(w, 'showlegend must be true or false');
  return {
    width: positive(layout.width, w, 'width'),
    height: positive(layout.height, w, 'height'),
    title: titleText(layout.title, w),
    fontSize: positive(font.size, w, 'font.size') ?? FONT.size,
    fontFamily: (font.family as string | undefined) ?? FONT.family,
    legend: placement,
    showlegend: layout.showlegend,
  };
}
