/**
 * Labelled image grids for papers and notebooks: tiles upscaled (nearest neighbour) to a readable
 * size, a caption under each tile, labels at the left of rows, a title, and a visible gap before
 * chosen columns (e.g. before the ground truth). Text is drawn with the bitmap font of font.ts, so
 * the result is a plain RGB `Img`: save it with `savePng`, show it with `toPngBuffer`.
 *
 *   // DLG progress of one image: 'it 0', 'it 10', ... under the dummies, a gap, then 'truth'
 *   savePng(progressGrid({ frames, iterations, truth }), 'out/progress.png');
 *   savePng(progressGrid(progressRow(result, { truth })), 'out/progress.png');   // the same, from a DlgResult (progress-row.ts)
 *   // one row per defense, iterations labelled once under the last row
 *   progressGrid(runs.map((r) => ({ label: r.defense, frames: r.frames, iterations: r.iterations, truth })));
 *   // the general form: any tiles, captions, row labels and gaps
 *   tileGrid([[a, b, c]], { captions: [['x', 'y', 'z']], gapBefore: [2], title: 'three' });
 *
 * Layout of `tileGrid` (all in output pixels): a margin of 2*pad around everything; the title
 * (wrapped to the grid's width) at the top; row labels right-aligned in a column at the left; cells
 * of one size (the largest upscaled tile, or the widest caption plus 10 font pixels) with pad pixels between
 * them and `gap` more before each column listed in gapBefore; captions centred under their tile;
 * column labels once under the last row.
 */
import type { Img } from '../data/image';
import { checkImg, shapeOf } from '../data/image';
import { checkText, textHeight, textLines, textWidth } from './font';
import type { Color } from './raster';
import { blit, canvas, drawText, rgb } from './raster';

/** Options of `tileGrid` (and, through it, of `progressGrid` and `gallery`). */
export interface TileGridOptions {
  /**
   * Target size in pixels of a tile's longest side: each tile is upscaled by the integer
   * max(1, round(tileSize / longest side)), so 32x32 images become 96x96. Default 96.
   */
  tileSize?: number;
  /** Integer upscaling factor of every tile; overrides tileSize. */
  scale?: number;
  /** Caption under each tile, captions[row][col] ('\n' for a second line); undefined or '' for none. */
  captions?: (string | undefined)[][];
  /** Labels under the columns, drawn once under the last row. */
  columnLabels?: (string | undefined)[];
  /** Labels at the left of the rows (right-aligned, centred on the tiles). */
  rowLabels?: (string | undefined)[];
  /** Title above the grid, wrapped at spaces to the grid's width. */
  title?: string;
  /** Columns preceded by a separator gap (indices 1 .. cols-1), e.g. [cols - 1] to set the last column (the truth) apart. */
  gapBefore?: number[];
  /** Width in pixels of each separator gap. Default max(12, round(cell width / 6)). */
  gap?: number;
  /** Pixels between cells; the outer margin is 2 * pad. Default 4. */
  pad?: number;
  /** Integer size factor of the 5x9 pixel font of captions and labels. Default 2 for cells at least 40 px tall, else 1. */
  textScale?: number;
  /** Integer size factor of the title's font. Default textScale + 1. */
  titleScale?: number;
  /** Background (margins, gaps, empty cells). Default 1 (white). */
  background?: Color;
  /** Text colour. Default 0 (black). */
  textColor?: Color;
}

function positiveInt(v: number | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`tileGrid: ${name} must be a positive integer, got ${v}`);
  return v;
}

/** Wrap one line at spaces into lines of at most `width` pixels at `scale` (a longer word keeps its own line). */
function greedy(line: string, width: number, scale: number): string[] {
  const out: string[] = [];
  for (const word of line.split(' ')) {
    const last = out.length - 1;
    if (last >= 0 && textWidth(`${out[last]} ${word}`, scale) <= width) out[last] = `${out[last]} ${word}`;
    else out.push(word);
  }
  return out;
}

/** Wrap `text` to `width` pixels at `scale`, each line of it into as few lines as fit, of even length. */
function wrap(text: string, width: number, scale: number): string {
  return textLines(text).map((line) => {
    const n = greedy(line, width, scale).length;
    for (let w = textWidth(line, scale) / n; n > 1 && w < width; w += scale) {
      const lines = greedy(line, w, scale);
      if (lines.length <= n) return lines.join('\n');
    }
    return greedy(line, width, scale).join('\n');
  }).join('\n');
}

/**
 * Tile images (rows[r][c]; null or undefined for an empty cell) into one labelled RGB image.
 * Images may differ in size and may have 1 (gray) or 3 channels; values are copied as they are
 * (PNG encoding clamps them to [0, 1]). Every label is checked against the font before drawing.
 */
export function tileGrid(rows: (Img | null | undefined)[][], opts: TileGridOptions = {}): Img {
  if (!Array.isArray(rows) || rows.length === 0 || rows.some((r) => !Array.isArray(r))) throw new Error('tileGrid: rows must be a non-empty array of arrays of images');
  const nCols = Math.max(...rows.map((r) => r.length));
  const tiles = rows.flatMap((r, i) => r.map((im, j) => ({ im, i, j }))).filter((t) => t.im) as { im: Img; i: number; j: number }[];
  if (tiles.length === 0) throw new Error('tileGrid: no images');
  for (const { im, i, j } of tiles) {
    checkImg(im, `tileGrid image [${i}][${j}]`);
    if (im.channels !== 1 && im.channels !== 3) throw new Error(`tileGrid: image [${i}][${j}] has shape ${shapeOf(im)}; tiles need 1 or 3 channels`);
  }
  const pad = opts.pad ?? 4;
  if (!Number.isInteger(pad) || pad < 0) throw new Error(`tileGrid: pad must be a non-negative integer, got ${pad}`);
  const tileSize = positiveInt(opts.tileSize, 'tileSize', 96);
  const scaleOf = (im: Img) => opts.scale !== undefined ? positiveInt(opts.scale, 'scale', 1) : Math.max(1, Math.round(tileSize / Math.max(im.height, im.width)));
  const cellH = Math.max(...tiles.map((t) => t.im.height * scaleOf(t.im)));
  const tileW = Math.max(...tiles.map((t) => t.im.width * scaleOf(t.im)));
  const ts = positiveInt(opts.textScale, 'textScale', cellH >= 40 ? 2 : 1);
  const titleScale = positiveInt(opts.titleScale, 'titleScale', ts + 1);
  const background = rgb(opts.background ?? 1, 'tileGrid background');
  const textColor = rgb(opts.textColor ?? 0, 'tileGrid textColor');

  // Labels: shapes and glyphs checked before any drawing.
  const captions = opts.captions ?? [];
  if (captions.length > rows.length) throw new Error(`tileGrid: ${captions.length} rows of captions for ${rows.length} rows of images`);
  captions.forEach((cr, i) => {
    if (cr.length > rows[i].length) throw new Error(`tileGrid: row ${i} has ${cr.length} captions for ${rows[i].length} cells`);
    cr.forEach((c, j) => c && checkText(c, `tileGrid caption [${i}][${j}]`));
  });
  const columnLabels = opts.columnLabels ?? [];
  if (columnLabels.length > nCols) throw new Error(`tileGrid: ${columnLabels.length} column labels for ${nCols} columns`);
  columnLabels.forEach((c, j) => c && checkText(c, `tileGrid column label ${j}`));
  const rowLabels = opts.rowLabels ?? [];
  if (rowLabels.length > rows.length) throw new Error(`tileGrid: ${rowLabels.length} row labels for ${rows.length} rows`);
  rowLabels.forEach((c, i) => c && checkText(c, `tileGrid row label ${i}`));
  if (opts.title !== undefined) checkText(opts.title, 'tileGrid title');
  const gapBefore = [...new Set(opts.gapBefore ?? [])];
  for (const g of gapBefore) {
    if (!Number.isInteger(g) || g < 1 || g >= nCols) throw new Error(`tileGrid: gapBefore entries must be column indices 1..${nCols - 1}, got ${g}`);
  }

  const lines = (texts: (string | undefined)[]) => Math.max(0, ...texts.filter((t) => t).map((t) => textLines(t as string).length));
  const words = (texts: (string | undefined)[]) => Math.max(0, ...texts.filter((t) => t).map((t) => textWidth(t as string, ts)));
  const captionTexts = captions.flat();
  const captionLines = lines(captionTexts);
  const captionH = captionLines ? 3 * ts + textHeight('\n'.repeat(captionLines - 1), ts) : 0;
  const labelLines = lines(columnLabels);
  const labelH = labelLines ? 3 * ts + textHeight('\n'.repeat(labelLines - 1), ts) : 0;
  // Captions wider than the tiles widen every column, keeping 10 font pixels (with pad, at least
  // two spaces) between neighbours so that two captions never read as one.
  const widest = Math.max(words(captionTexts), words(columnLabels));
  const colW = Math.max(tileW, widest ? widest + 10 * ts : 0);
  const gap = opts.gap ?? Math.max(12, Math.round(colW / 6));
  if (!Number.isInteger(gap) || gap < 0) throw new Error(`tileGrid: gap must be a non-negative integer, got ${gap}`);
  const rowLabelW = rowLabels.some((l) => l) ? words(rowLabels) + 4 * ts : 0;

  const margin = 2 * pad;
  const gridW = nCols * colW + (nCols - 1) * pad + gapBefore.length * gap;
  const title = opts.title ? wrap(opts.title, rowLabelW + gridW, titleScale) : '';
  const titleH = title ? textHeight(title, titleScale) + 4 * ts : 0;
  const width = Math.max(margin + rowLabelW + gridW + margin, margin + textWidth(title, titleScale) + margin);
  const rowH = cellH + captionH;
  const height = margin + titleH + rows.length * rowH + (rows.length - 1) * pad + labelH + margin;

  const out = canvas(height, width, background);
  const x0 = margin + rowLabelW + Math.floor((width - 2 * margin - rowLabelW - gridW) / 2);
  const colLeft = (j: number) => x0 + j * (colW + pad) + gapBefore.filter((g) => g <= j).length * gap;
  const rowTop = (i: number) => margin + titleH + i * (rowH + pad);
  const text = { color: textColor, scale: ts };
  if (title) drawText(out, title, Math.floor(width / 2), margin, { color: textColor, scale: titleScale, align: 'center' });
  for (const { im, i, j } of tiles) {
    const s = scaleOf(im);
    const left = colLeft(j) + Math.floor((colW - im.width * s) / 2);
    const top = rowTop(i) + Math.floor((cellH - im.height * s) / 2);
    blit(out, im, left, top, s);
  }
  captions.forEach((cr, i) => cr.forEach((c, j) => {
    if (c) drawText(out, c, colLeft(j) + Math.floor(colW / 2), rowTop(i) + cellH + 3 * ts, { ...text, align: 'center' });
  }));
  columnLabels.forEach((c, j) => {
    if (c) drawText(out, c, colLeft(j) + Math.floor(colW / 2), rowTop(rows.length - 1) + rowH + 3 * ts, { ...text, align: 'center' });
  });
  rowLabels.forEach((c, i) => {
    if (c) drawText(out, c, x0 - 4 * ts, rowTop(i) + Math.floor((cellH - textHeight(c, ts)) / 2), { ...text, align: 'right' });
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Progress of an attack

/** One row of a progress grid: an attack's dummy at its snapshots, and optionally the truth. */
export interface ProgressRow {
  /** The dummy at each snapshot (e.g. `result.snapshots.map((s) => clip01(imageAt(s.data, result.shape, 0)))`). */
  frames: Img[];
  /** The iteration of each frame (e.g. `result.snapshots.map((s) => s.iteration)`). */
  iterations: number[];
  /** The ground truth, drawn last after a gap. */
  truth?: Img;
  /** Row label at the left, e.g. 'image 2' or 'prune 10%'. */
  label?: string;
}

/** Options of `progressGrid`: those of `tileGrid` (but its labels and gaps) and these. */
export interface ProgressGridOptions extends Omit<TileGridOptions, 'captions' | 'columnLabels' | 'rowLabels' | 'gapBefore'> {
  /** Keep at most this many frames per row, evenly spaced, the first and the last always kept. Default: all. */
  maxFrames?: number;
  /**
   * A single row only: at most this many frames per line; more wrap onto lines of equal length
   * (the truth ends the first line). Default 10.
   */
  cols?: number;
  /** Caption of a frame. Default `it ${iteration}`. */
  iterationLabel?: (iteration: number) => string;
  /** Caption of the truth. Default 'truth'. */
  truthLabel?: string;
}

/** Indices of at most k of n items, evenly spaced, first and last included. */
export function evenlySpaced(n: number, k: number): number[] {
  if (k >= n) return Array.from({ length: n }, (_, i) => i);
  if (k === 1) return [n - 1];
  return [...new Set(Array.from({ length: k }, (_, i) => Math.round((i * (n - 1)) / (k - 1))))];
}

/**
 * A grid of an attack's progress: the dummy at each snapshot captioned with its iteration ('it 0',
 * 'it 10', ...), then a gap and the truth captioned 'truth'.
 *
 * One row (a single image): a caption under every tile; more than `cols` frames wrap onto further
 * lines, and the truth ends the first line. Several rows (one per image of a batch, or one per
 * defense, each with its `label`): when all rows share the same iterations the iterations are
 * written once under the last row, else under every tile.
 */
export function progressGrid(rows: ProgressRow | ProgressRow[], opts: ProgressGridOptions = {}): Img {
  const list = Array.isArray(rows) ? rows : [rows];
  if (list.length === 0) throw new Error('progressGrid: no rows');
  const itLabel = opts.iterationLabel ?? ((it: number) => `it ${it}`);
  const truthLabel = opts.truthLabel ?? 'truth';
  const picked = list.map((r, i) => {
    if (!Array.isArray(r.frames) || r.frames.length === 0) throw new Error(`progressGrid: row ${i} has no frames`);
    if (!Array.isArray(r.iterations) || r.iterations.length !== r.frames.length) {
      throw new Error(`progressGrid: row ${i} has ${r.frames.length} frames and ${Array.isArray(r.iterations) ? r.iterations.length : 'no'} iterations`);
    }
    const keep = opts.maxFrames === undefined ? r.frames.map((_, k) => k) : evenlySpaced(r.frames.length, positiveInt(opts.maxFrames, 'maxFrames', 1));
    return { frames: keep.map((k) => r.frames[k]), captions: keep.map((k) => itLabel(r.iterations[k])) };
  });
  const hasTruth = list.some((r) => r.truth);
  const { maxFrames: _m, cols: _c, iterationLabel: _i, truthLabel: _t, ...grid } = opts;

  if (list.length === 1) {
    const cols = positiveInt(opts.cols, 'cols', 10);
    const { frames, captions } = picked[0];
    // Lines of equal length (11 frames at cols 10: 6 and 5, not 10 and 1).
    const lines = Math.ceil(frames.length / cols);
    const width = Math.ceil(frames.length / lines);
    const cells: (Img | undefined)[][] = [];
    const caps: (string | undefined)[][] = [];
    for (let l = 0; l < lines; l++) {
      cells.push(frames.slice(l * width, (l + 1) * width));
      caps.push(captions.slice(l * width, (l + 1) * width));
    }
    if (hasTruth) {
      cells[0][width] = list[0].truth;
      caps[0][width] = truthLabel;
    }
    return tileGrid(cells, { ...grid, captions: caps, rowLabels: list[0].label ? [list[0].label] : undefined, gapBefore: hasTruth ? [width] : undefined });
  }

  const width = Math.max(...picked.map((p) => p.frames.length));
  const cells = picked.map((p, i) => {
    const row: (Img | undefined)[] = [...p.frames];
    if (hasTruth) row[width] = list[i].truth;
    return row;
  });
  const shared = picked.every((p) => p.captions.length === width && p.captions.every((c, k) => c === picked[0].captions[k]));
  const truthCaption = hasTruth ? [truthLabel] : [];
  const rowLabels = list.some((r) => r.label) ? list.map((r) => r.label) : undefined;
  const gapBefore = hasTruth ? [width] : undefined;
  if (shared) return tileGrid(cells, { ...grid, columnLabels: [...picked[0].captions, ...truthCaption], rowLabels, gapBefore });
  const captions = picked.map((p, i) => {
    const row: (string | undefined)[] = [...p.captions];
    if (list[i].truth) row[width] = truthLabel;
    return row;
  });
  return tileGrid(cells, { ...grid, captions, rowLabels, gapBefore });
}
