/**
 * lib/report/plot.ts: SVG figures. The SVG is parsed and its geometry checked: where points,
 * ticks and reference lines land in pixels, that the legend stays off the plot area, which ticks a
 * log axis gets, and that options the renderer does not draw are refused.
 */
import { strict as assert } from 'assert';
import { renderSvg, renderPanels, PALETTE, seriesStyle, RECOVERED_LINE } from '../lib/report/plot';
import type { Plot, FigureLayout } from '../lib/report/plot';
import { parseSvg, select, rectOf, num, pathPoints } from './helpers/svg';
import { svgTextWidth } from '../lib/report/svg-text';
import type { SvgNode } from './helpers/svg';

type Rect = { x: number; y: number; w: number; h: number };

const plotArea = (root: SvgNode): Rect => rectOf(select(root, 'rect', 'plot-area')[0]);
const legendBox = (root: SvgNode): Rect => rectOf(select(root, 'rect', 'legend-box')[0]);
const overlaps = (a: Rect, b: Rect) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
const labels = (root: SvgNode, cls: string) => select(root, 'text', cls).map((t) => t.text);
const close = (a: number, b: number, tol = 0.02) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);
/** Pixel of a value on a plot area's x or y axis, given the axis range in axis units. */
const xPixel = (p: Rect, lo: number, hi: number, u: number) => p.x + ((u - lo) / (hi - lo)) * p.w;
const yPixel = (p: Rect, lo: number, hi: number, u: number) => p.y + p.h - ((u - lo) / (hi - lo)) * p.h;

describe('SVG figures (renderSvg)', () => {
  describe('log axes', () => {
    it('puts x = 10 in the middle of a log axis from 1 to 100, on x and on y', () => {
      const root = parseSvg(renderSvg([{ x: [1, 10, 100], y: [1e-4, 1e-2, 1], mode: 'markers' }], { xaxis: { type: 'log', range: [0, 2] }, yaxis: { type: 'log', range: [-4, 0] } }));
      const p = plotArea(root);
      const pts = select(root, 'circle').map((c) => [num(c, 'cx'), num(c, 'cy')]);
      assert.equal(pts.length, 3);
      close(pts[0][0], p.x);
      close(pts[1][0], p.x + p.w / 2);
      close(pts[2][0], p.x + p.w);
      close(pts[0][1], p.y + p.h);
      close(pts[1][1], p.y + p.h / 2);
      close(pts[2][1], p.y);
    });

    it('labels the decades 1e-6 ... 1 at their pixels, with minor ticks between', () => {
      const root = parseSvg(renderSvg([{ x: [0, 1, 2, 3], y: [1, 1e-2, 1e-4, 1e-6] }], { height: 420, yaxis: { type: 'log', range: [-6, 0] } }));
      const p = plotArea(root);
      const ticks = select(root, 'text', 'ytick');
      assert.deepEqual(ticks.map((t) => t.text), ['1e-6', '1e-5', '1e-4', '1e-3', '0.01', '0.1', '1']);
      ticks.forEach((t, k) => close(num(t, 'y'), yPixel(p, -6, 0, k - 6) + 14 * 0.35)); // baseline = tick pixel + 0.35 em
      const marks = select(root, 'line', 'ytick-mark');
      assert.equal(marks.length, 7 + 6 * 8); // 7 decades and 2..9 in each of the 6 decades between
      // the minor tick of 2e-6 sits at log10(2) of the first decade
      const minor = marks.map((m) => num(m, 'y1')).sort((a, b) => b - a)[1];
      close(minor, yPixel(p, -6, 0, -6 + Math.log10(2)));
    });

    it('labels every other decade when they would crowd, and 2x / 5x within a narrow range', () => {
      const wide = parseSvg(renderSvg([{ y: [1e-11, 1] }], { height: 240, yaxis: { type: 'log', range: [-11, 0] } }));
      assert.deepEqual(labels(wide, 'ytick'), ['1e-10', '1e-8', '1e-6', '1e-4', '0.01', '1']);
      assert.equal(select(wide, 'line', 'ytick-mark').length, 12); // the other decades as minor ticks
      const narrow = parseSvg(renderSvg([{ y: [0.15, 0.6] }], { yaxis: { type: 'log', range: [Math.log10(0.15), Math.log10(0.6)] } }));
      assert.deepEqual(labels(narrow, 'ytick'), ['0.2', '0.5']);
    });

    it('honours xaxis.type log (it used to be ignored)', () => {
      const root = parseSvg(renderSvg([{ x: [1, 10, 100, 1000], y: [4, 3, 2, 1] }], { xaxis: { type: 'log' } }));
      assert.deepEqual(labels(root, 'xtick'), ['1', '10', '100', '1000']);
      const p = plotArea(root);
      const pts = pathPoints(select(root, 'path')[0].attrs.d);
      // equal ratios are equal distances on a log axis
      close(pts[1].x - pts[0].x, pts[3].x - pts[2].x);
      assert.ok(pts[0].x > p.x && pts[3].x < p.x + p.w);
    });

    it('drops values <= 0 on a log axis, breaks the line there and counts them', () => {
      const root = parseSvg(renderSvg([
        { x: [0, 1, 2, 3, 4], y: [1, 0.1, 0, 0.01, 1e-3], name: 'gap' },
        { x: [0, 1, 2, 3, 4], y: [1, 0.1, -1, 0.01, 1e-3], name: 'joined', connectgaps: true },
      ], { yaxis: { type: 'log' } }));
      const [gap, joined] = select(root, 'g', 'trace');
      assert.equal(gap.attrs['data-dropped'], '1');
      assert.equal(joined.attrs['data-dropped'], '1');
      assert.deepEqual(pathPoints(gap.children[0].attrs.d).map((q) => q.cmd), ['M', 'L', 'M', 'L']);
      assert.deepEqual(pathPoints(joined.children[0].attrs.d).map((q) => q.cmd), ['M', 'L', 'L', 'L']);
      // iteration 0 on a log x axis is dropped too
      const logX = parseSvg(renderSvg([{ x: [0, 10, 100], y: [3, 2, 1] }], { xaxis: { type: 'log' } }));
      assert.equal(select(logX, 'g', 'trace')[0].attrs['data-dropped'], '1');
      assert.throws(() => renderSvg([{ y: [0, -1] }], { yaxis: { type: 'log' } }), /no finite points to plot \(values <= 0 cannot be shown on a log axis\)/);
    });
  });

  describe('linear axes', () => {
    it('gets nice ticks: equal steps of 1, 2 or 5 times a power of ten, at their pixels', () => {
      for (const [lo, hi] of [[0, 300], [0.013, 0.92], [-3.7, 12.2], [1000, 1001]]) {
        const root = parseSvg(renderSvg([{ x: [lo, hi], y: [lo, hi] }]));
        for (const axis of ['xtick', 'ytick']) {
          const vals = labels(root, axis).map(Number);
          assert.ok(vals.length >= 2, `${axis} ${lo}..${hi}: ${vals}`);
          const step = vals[1] - vals[0];
          const mant = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
          assert.ok([1, 2, 5].some((m) => Math.abs(mant - m) < 1e-6), `${axis} step ${step}`);
          vals.forEach((v, i) => close(v, vals[0] + i * step, 1e-9 * Math.max(1, Math.abs(v))));
          assert.ok(vals[0] >= lo - 0.04 * (hi - lo) - 1e-9 && vals[vals.length - 1] <= hi + 0.04 * (hi - lo) + 1e-9);
        }
        // x labels centred on their tick pixel: the 4% padding maps lo..hi to [p.x + w/27, ...]
        const p = plotArea(root);
        const span = hi - lo, x0 = lo - 0.04 * span, x1 = hi + 0.04 * span;
        for (const t of select(root, 'text', 'xtick')) close(num(t, 'x'), xPixel(p, x0, x1, Number(t.text)));
      }
      assert.deepEqual(labels(parseSvg(renderSvg([{ x: [0, 300], y: [0, 1] }])), 'xtick'), ['0', '50', '100', '150', '200', '250', '300']);
    });
  });

  describe('legend, titles and size', () => {
    const traces: Plot[] = [{ x: [0, 1, 2], y: [3, 1, 2], name: 'gradient distance' }, { x: [0, 1, 2], y: [1, 2, 3], name: 'MSE' }];

    it('puts the legend right of the plot area, never on it', () => {
      const root = parseSvg(renderSvg(traces, { width: 640 }));
      const p = plotArea(root), l = legendBox(root);
      assert.ok(!overlaps(p, l), JSON.stringify({ p, l }));
      assert.ok(l.x >= p.x + p.w + 10 && l.x + l.w <= 640, JSON.stringify({ p, l }));
      assert.deepEqual(select(root, 'g', 'legend')[0].children.filter((c) => c.tag === 'text').map((t) => t.text), ['gradient distance', 'MSE']);
    });

    it('puts it below when asked or when it would take too much width', () => {
      for (const layout of [{ legend: { orientation: 'h' as const } }, { width: 300 }]) {
        const root = parseSvg(renderSvg(traces, layout));
        const p = plotArea(root), l = legendBox(root);
        assert.ok(l.y >= p.y + p.h + 14, JSON.stringify({ layout, p, l })); // under the tick labels too
        assert.ok(l.y + l.h <= num(root, 'height'));
      }
    });

    it('shows no legend for one trace unless asked (plotly\'s rule)', () => {
      assert.equal(select(parseSvg(renderSvg([traces[0]])), 'g', 'legend').length, 0);
      assert.equal(select(parseSvg(renderSvg([traces[0]], { showlegend: true })), 'g', 'legend').length, 1);
      assert.equal(select(parseSvg(renderSvg(traces, { showlegend: false })), 'g', 'legend').length, 0);
    });

    it('writes axis titles beside the axes and wraps a long title', () => {
      const title = 'Held-out accuracy while training on defended gradients (mean of 3 seeds)';
      const root = parseSvg(renderSvg(traces, { title, xaxis: { title: 'epoch' }, yaxis: { title: 'accuracy' } }));
      const p = plotArea(root);
      const [xt] = select(root, 'text', 'xtitle'), [yt] = select(root, 'text', 'ytitle');
      assert.equal(xt.text, 'epoch');
      assert.ok(num(xt, 'y') > p.y + p.h + 20);
      assert.equal(yt.text, 'accuracy');
      assert.match(yt.attrs.transform, /rotate\(-90\)/);
      const lines = labels(root, 'title');
      assert.ok(lines.length >= 2, String(lines));
      assert.equal(lines.join(' '), title);
      assert.ok(num(select(root, 'text', 'title')[lines.length - 1], 'y') < p.y);
    });

    it('breaks a title into lines of even length', () => {
      const lines = labels(parseSvg(renderSvg(traces, { title: 'Largest per-image MSE after matching vs iteration (seed 1)' })), 'title');
      assert.equal(lines.length, 2);
      const [a, b] = lines.map((l) => svgTextWidth(l, 17));
      assert.ok(Math.abs(a - b) < 0.25 * Math.max(a, b), `${lines.join(' | ')}: ${a} vs ${b}`);
    });

    it('defaults to 480 x 320 and honours width, height and font size', () => {
      const root = parseSvg(renderSvg(traces));
      assert.deepEqual([root.attrs.width, root.attrs.height, root.attrs['font-size']], ['480', '320', '14']);
      const big = parseSvg(renderSvg(traces, { width: 700, height: 500, font: { size: 20 } }));
      assert.deepEqual([big.attrs.width, big.attrs.height, big.attrs['font-size']], ['700', '500', '20']);
    });
  });

  describe('reference lines', () => {
    it('draws y = 1e-3 at its pixel on a log axis, with its label above it', () => {
      const label = 'recovered below (MSE 1e-3)';
      const root = parseSvg(renderSvg([{ x: [0, 100], y: [1, 1e-6] }], { yaxis: { type: 'log', range: [-6, 0] }, refLines: [{ y: 1e-3, label }] }));
      const p = plotArea(root);
      const [line] = select(root, 'line', 'refline');
      const y = yPixel(p, -6, 0, -3);
      close(num(line, 'y1'), y);
      close(num(line, 'y2'), y);
      close(num(line, 'x1'), p.x);
      close(num(line, 'x2'), p.x + p.w);
      assert.ok(line.attrs['stroke-dasharray']);
      const [text] = select(root, 'text', 'refline-label');
      assert.equal(text.text, label);
      assert.ok(num(text, 'y') < y && num(text, 'y') > y - 10);
    });

    it('has the recovery threshold ready as RECOVERED_LINE', () => {
      assert.deepEqual(RECOVERED_LINE, { y: 1e-3, label: 'recovered below (MSE 1e-3)' });
      const root = parseSvg(renderSvg([{ y: [1, 0.1] }], { yaxis: { type: 'log' }, refLines: [RECOVERED_LINE] }));
      assert.equal(select(root, 'line', 'refline')[0].attrs['data-y'], '0.001');
    });

    it('draws a vertical line, and the axis range grows to show a line beyond the data', () => {
      const root = parseSvg(renderSvg([{ x: [0, 10], y: [0.5, 0.9] }], { refLines: [{ x: 5, label: 'switch' }, { y: 0.1, label: 'chance' }] }));
      const p = plotArea(root);
      const [h, v] = select(root, 'line', 'refline');
      assert.equal(v.attrs['data-x'], '5');
      close(num(v, 'x1'), p.x + p.w / 2);
      // y range covers 0.1 .. 0.9 plus 4%: the line at 0.1 is inside the plot area
      assert.ok(num(h, 'y1') < p.y + p.h && num(h, 'y1') > p.y + p.h - 0.1 * p.h);
    });

    it('refuses a line that the axis cannot show, or one without x or y', () => {
      assert.throws(() => renderSvg([{ y: [1, 2] }], { yaxis: { type: 'log' }, refLines: [{ y: 0 }] }), /reference line at 0 cannot be drawn on a log axis/);
      assert.throws(() => renderSvg([{ y: [1, 2] }], { refLines: [{ label: 'x' }] }), /refLines\[0\]: needs exactly one of x .* or y/);
    });
  });

  describe('styles', () => {
    it('cycles the palette, honours colours and dashes, and draws marker symbols', () => {
      const traces: Plot[] = [0, 1, 2].map((i) => ({ y: [i, i + 1], name: `t${i}`, mode: 'lines+markers', ...seriesStyle(i) }));
      traces.push({ y: [1, 2], name: 'default', line: { color: '#123456', width: 3 } });
      const root = parseSvg(renderSvg(traces));
      const paths = select(root, 'g', 'trace').map((g) => g.children[0]);
      assert.deepEqual(paths.map((p) => p.attrs.stroke), [PALETTE[0], PALETTE[1], PALETTE[2], '#123456']);
      assert.deepEqual(paths.map((p) => p.attrs['stroke-dasharray']), [undefined, '9,9', '3,3', undefined]);
      assert.equal(paths[3].attrs['stroke-width'], '3');
      assert.equal(select(root, 'circle').length, 2); // trace 0: circles; trace 1: squares; trace 2: diamonds
      assert.equal(select(root, 'path', 'marker').length, 4);
      // the legend repeats each style, its circle as an <ellipse>
      assert.equal(select(select(root, 'g', 'legend')[0], 'ellipse').length, 1);
    });

    it('draws grouped bars on a category axis, from zero, with error bars', () => {
      const root = parseSvg(renderSvg([
        { type: 'bar', x: ['none', 'prune 10%', 'noise'], y: [0.9, 0.8, 0.4], name: 'DLG', error_y: { type: 'data', array: [0.05, 0.05, 0.05] } },
        { type: 'bar', x: ['none', 'prune 10%', 'noise'], y: [0.6, 0.5, 0.2], name: 'iDLG' },
      ], { width: 640 }));
      const p = plotArea(root);
      const bars = select(root, 'rect', 'bar').map(rectOf);
      assert.equal(bars.length, 6);
      const ticks = select(root, 'text', 'xtick');
      assert.deepEqual(ticks.map((t) => t.text), ['none', 'prune 10%', 'noise']);
      const ys = labels(root, 'ytick').map(Number);
      assert.equal(ys[0], 0);
      const zero = p.y + p.h; // range starts at 0: bars stand on the frame
      for (let c = 0; c < 3; c++) {
        const a = bars[c], b = bars[3 + c];
        close(a.x + a.w, b.x); // side by side
        close((a.x + b.x + b.w) / 2, num(ticks[c], 'x')); // centred on the category
        close(a.y + a.h, zero);
        close(b.y + b.h, zero);
      }
      close(bars[0].h / bars[3].h, 0.9 / 0.6, 1e-3);
      assert.equal(select(root, 'path', 'errorbars').length, 1);
    });

    it('wraps category labels wider than their slot, or turns them when a word alone is too wide', () => {
      const cats = ['none', 'prune 10%', 'prune 50%', 'gaussian 1e-2', 'laplacian 1e-1'];
      const root = parseSvg(renderSvg([{ type: 'bar', x: cats, y: [1, 2, 3, 4, 5] }]));
      const ticks = select(root, 'text', 'xtick');
      assert.deepEqual(ticks.map((t) => t.attrs['data-label'] ?? t.text), cats);
      assert.deepEqual(select(ticks[3], 'tspan').map((t) => t.text), ['gaussian', '1e-2']);
      assert.ok(ticks.every((t) => !t.attrs.transform));
      const turned = parseSvg(renderSvg([{ type: 'bar', x: ['a-very-long-defense-name', 'b'], y: [1, 2] }], { width: 300 }));
      assert.match(select(turned, 'text', 'xtick')[0].attrs.transform, /^rotate\(-35 /);
    });

    it('refuses what it cannot draw instead of ignoring it', () => {
      const t: Plot[] = [{ y: [1, 2] }];
      const bad: [Plot[], FigureLayout, RegExp][] = [
        [t, { xaxis: { type: 'date' } }, /layout.xaxis: axis type 'date' is not supported \(supported: linear, log, category/],
        [[{ y: [1, 2], mode: 'text' }], {}, /trace 0 \('trace 0'\): trace mode 'text' is not supported/],
        [[{ y: [1, 2], type: 'pie' }], {}, /trace type 'pie' is not supported/],
        [t, { shapes: [] }, /option 'shapes' is not supported by the SVG renderer/],
        [[{ y: [1, 2], fill: 'tozeroy' }], {}, /option 'fill' is not supported/],
        [[{ y: [1, 2], line: { dash: 'wiggly' as 'dot' } }], {}, /dash 'wiggly' is not supported/],
        [[{ y: [1, 2], marker: { symbol: 'star' } }], {}, /marker symbol 'star' is not supported/],
        [[{ x: [1, 2, 3], y: [1, 2] }], {}, /x has 3 values and y has 2/],
        [[{ x: ['a', 'b'], y: [1, 2] }], { xaxis: { type: 'log' } }, /x values are text; use xaxis: \{ type: 'category' \}/],
        [t, { yaxis: { type: 'category' } }, /category' is supported on the x axis only/],
        [t, { legend: { x: 1.1 } }, /legend: option 'x' is not supported/],
        [[{ x: [new Date(0), new Date(1)], y: [1, 2] }], {}, /dates are not supported/],
      ];
      for (const [traces, layout, re] of bad) assert.throws(() => renderSvg(traces, layout), re);
      // hover settings only matter interactively: accepted
      assert.doesNotThrow(() => renderSvg([{ y: [1, 2], hoverinfo: 'skip' }], { hovermode: 'closest' }));
    });
  });

  describe('panels (renderPanels)', () => {
    it('puts panels side by side with one legend right of them all', () => {
      const names = ['none', 'prune 10%', 'gaussian 1e-3'];
      const panel = (scale: number) => names.map((name, i) => ({ x: [1, 2, 3], y: [1, 0.1 * scale, 0.01 / (i + 1)], name, line: { color: PALETTE[i] } }));
      const root = parseSvg(renderPanels([
        { traces: panel(1), layout: { title: 'gradient distance', yaxis: { type: 'log' } } },
        { traces: panel(2), layout: { title: 'MSE', yaxis: { type: 'log' }, refLines: [{ y: 1e-3, label: 'recovered' }] } },
      ], { title: 'pruning' }));
      const [a, b] = select(root, 'rect', 'plot-area').map(rectOf);
      const l = legendBox(root);
      assert.ok(a.x + a.w < b.x, 'panels side by side');
      close(a.w, b.w, 1);
      assert.ok(!overlaps(a, l) && !overlaps(b, l) && l.x > b.x + b.w);
      assert.deepEqual(select(select(root, 'g', 'legend')[0], 'text').map((t) => t.text), names);
      assert.deepEqual(labels(root, 'panel-title'), ['gradient distance', 'MSE']);
      assert.equal(select(root, 'line', 'refline').length, 1);
      const width = num(root, 'width'); // 400 per panel, and room for the legend
      assert.ok(width > 800 + l.w && width < 800 + l.w + 40, String(width));
    });

    it('refuses figure options in a panel and panel options on the figure', () => {
      assert.throws(() => renderPanels([{ traces: [{ y: [1, 2] }], layout: { width: 3 } as never }]), /^Error: renderPanels: panel 0 layout: option 'width' is not supported/);
      assert.throws(() => renderPanels([{ traces: [{ y: [1, 2] }] }], { xaxis: { type: 'log' } }), /^Error: renderPanels: layout: option 'xaxis' is not supported/);
      assert.throws(() => renderPanels([]), /renderPanels: no panels/);
    });
  });

  it("still draws the option shapes today's notebooks pass", () => {
    const its = Array.from({ length: 31 }, (_, i) => 10 * i);
    const curve = its.map((i) => Math.exp(-i / 50));
    const calls: [Plot[], FigureLayout][] = [
      // 01: distance and MSE on a log y axis
      [[{ x: its, y: curve, name: 'gradient distance D' }, { x: its, y: curve.map((v) => v / 3), name: 'MSE vs truth', mode: 'lines+markers' }],
        { title: 'DLG on one 32x32 photo', xaxis: { title: 'L-BFGS iteration' }, yaxis: { title: 'value (log scale)', type: 'log' } }],
      // 03: log x from iteration 0 (dropped), dotted round-robin curves
      [[{ x: its, y: curve, mode: 'lines', name: 'batch 2, joint', line: { dash: 'solid' } }, { x: its, y: curve, mode: 'lines', name: 'batch 2, round-robin', line: { dash: 'dot' } }],
        { title: 'Largest per-image MSE after matching vs iteration (seed 1)', xaxis: { title: 'iteration (L-BFGS step)', type: 'log' }, yaxis: { title: 'max MSE (log scale)', type: 'log' } }],
      // 04: own colours, 560 x 380
      [['none', 'gaussian:1e-4', 'gaussian:1e-1'].map((n, k) => ({ x: its, y: curve.map((v) => v + k), name: n, line: { color: ['#000000', '#9ecae1', '#08306b'][k] } })),
        { width: 560, height: 380, title: 'Gaussian noise: gradient distance', xaxis: { title: 'L-BFGS iteration' }, yaxis: { title: 'distance to the shared gradient', type: 'log' } }],
      // 06: accuracy per epoch, linear axes, 8 traces
      [Array.from({ length: 8 }, (_, k) => ({ x: [1, 2, 3], y: [0.1, 0.5 + k / 20, 0.6 + k / 20], name: `laplacian:1e-${k}`, mode: 'lines+markers' })),
        { title: 'Held-out accuracy while training on defended gradients (mean of 3 seed(s))', xaxis: { title: 'epoch' }, yaxis: { title: 'held-out accuracy' } }],
    ];
    for (const [traces, layout] of calls) {
      const root = parseSvg(renderSvg(traces, layout));
      assert.equal(select(root, 'g', 'trace').length, traces.length);
      const p = plotArea(root), l = legendBox(root);
      assert.ok(!overlaps(p, l));
      assert.ok(l.y + l.h <= num(root, 'height') && l.x + l.w <= num(root, 'width'), JSON.stringify(l));
    }
  });

  it('draws a series of 150000 points (no Math.min(...xs) stack overflow)', () => {
    const y = Float32Array.from({ length: 150000 }, (_, i) => Math.exp(-i / 30000));
    const svg = renderSvg([{ y }], { yaxis: { type: 'log' } });
    const d = /<path d="([^"]*)"/.exec(svg)![1];
    assert.equal((d.match(/[ML]/g) ?? []).length, 150000);
  });

  it('writes well-formed SVG for every kind of figure, escaping names', () => {
    const svg = renderSvg([{ y: [1, 2], name: 'a < b & "c"' }, { y: [2, 1], name: 'd' }], { title: 'x > y' });
    const root = parseSvg(svg);
    assert.equal(select(root, 'g', 'trace')[0].attrs['data-name'], 'a < b & "c"');
    assert.ok(labels(root, 'title').includes('x > y'));
  });
});
