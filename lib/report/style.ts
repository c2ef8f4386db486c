/**
 * The look of the project's SVG figures, in one place so that every figure matches: the colour
 * palette, dash styles and marker symbols (cycled by trace index), font and default size.
 *
 * Sizes are chosen to paste into a paper: a 480 x 320 figure scaled to a 3.3 inch column puts
 * the 14 px tick labels at about 7 pt; two panels side by side (960 px) at a 7 inch text width
 * keep the same size.
 *
 *   // a trace style that stays distinct in grayscale print: colour, dash and marker all cycle
 *   traces.map((t, i) => ({ ...t, ...seriesStyle(i) }))
 */

/** Trace colours in order (Tableau 10, matplotlib's and plotly's default cycle). */
export const PALETTE: readonly string[] = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** Line dash styles (plotly's names). */
export type Dash = 'solid' | 'dot' | 'dash' | 'longdash' | 'dashdot' | 'longdashdot';

/** Dash styles in the order `seriesStyle` cycles them. */
export const DASHES: readonly Dash[] = ['solid', 'dash', 'dot', 'dashdot', 'longdash', 'longdashdot'];

/** Marker symbols (plotly's names); each also as '<name>-open' (outline only). */
export const MARKERS = ['circle', 'square', 'diamond', 'triangle-up', 'triangle-down', 'x', 'cross'] as const;
export type MarkerSymbol = (typeof MARKERS)[number] | `${(typeof MARKERS)[number]}-open`;

/** Fonts: family, and sizes in pixels of tick labels (base), axis titles, the figure title and reference-line labels. */
export const FONT = { family: 'Helvetica, Arial, sans-serif', size: 14 } as const;

/** Default figure size in pixels (one panel; `renderPanels` defaults to 400 px per panel). */
export const FIGURE = { width: 480, height: 320, panelWidth: 400 } as const;

/** Text and frame colours, grid lines, reference lines. */
export const INK = { text: '#222', frame: '#444', grid: '#e6e6e6', reference: '#555' } as const;

/**
 * The SVG stroke-dasharray of a dash style at line width `width` (plotly's lengths: dot 1, dash 3,
 * longdash 5 times max(width, 3) pixels), or undefined for 'solid'.
 */
export function dashArray(dash: Dash, width: number): string | undefined {
  const u = Math.max(width, 3);
  switch (dash) {
    case 'solid': return undefined;
    case 'dot': return `${u},${u}`;
    case 'dash': return `${3 * u},${3 * u}`;
    case 'longdash': return `${5 * u},${5 * u}`;
    case 'dashdot': return `${3 * u},${u},${u},${u}`;
    case 'longdashdot': return `${5 * u},${u},${u},${u}`;
  }
}

/**
 * Style of trace i for figures that must read in grayscale: colour, dash and marker symbol all
 * cycle (PALETTE, DASHES, MARKERS). Spread it into a trace: `{ ...trace, ...seriesStyle(i) }`.
 */
export function seriesStyle(i: number): { line: { color: string; dash: Dash }; marker: { color: string; symbol: MarkerSymbol } } {
  const color = PALETTE[i % PALETTE.length];
  return { line: { color, dash: DASHES[i % DASHES.length] }, marker: { color, symbol: MARKERS[i % MARKERS.length] } };
}
