/**
 * A gallery of images side by side, each with a caption under it: reconstructions next to the
 * truth, one per defense or per method, with their scores.
 *
 *   savePng(gallery([
 *     { image: truth, caption: 'truth' },
 *     ...runs.map((r) => ({ image: r.image, caption: `${r.defense}\nMSE ${r.mse.toExponential(1)}` })),
 *   ], { gapBefore: [1], title: 'DLG against pruned gradients' }), 'out/pruning.png');
 *
 * Same layout and options as `tileGrid` (grid.ts): upscaled tiles, captions centred under them
 * ('\n' for a second line), a gap before chosen columns, optional row labels and title.
 */
import type { Img } from '../data/image';
import type { TileGridOptions } from './grid';
import { tileGrid } from './grid';

/** One image of a gallery and its caption. */
export interface GalleryItem {
  image: Img;
  /** Caption under the image, e.g. 'prune 10%' or 'MSE 3.1e-2'; '\n' starts a second line. */
  caption?: string;
}

/** Options of `gallery`: those of `tileGrid` (but its captions, drawn from the items) and `cols`. */
export interface GalleryOptions extends Omit<TileGridOptions, 'captions' | 'columnLabels'> {
  /** Images per row; the gallery wraps onto further rows. Default: all in one row. */
  cols?: number;
}

/** The items in rows of `cols`, captions under the images (see the file comment). */
export function gallery(items: GalleryItem[], opts: GalleryOptions = {}): Img {
  if (!Array.isArray(items) || items.length === 0) throw new Error('gallery: no items');
  items.forEach((it, i) => {
    if (!it || typeof it !== 'object' || !it.image) throw new Error(`gallery: item ${i} has no image`);
  });
  const { cols: colsOpt, ...grid } = opts;
  const cols = colsOpt ?? items.length;
  if (!Number.isInteger(cols) || cols < 1) throw new Error(`gallery: cols must be a positive integer, got ${cols}`);
  const rows: Img[][] = [];
  const captions: (string | undefined)[][] = [];
  for (let k = 0; k < items.length; k += cols) {
    rows.push(items.slice(k, k + cols).map((it) => it.image));
    captions.push(items.slice(k, k + cols).map((it) => it.caption));
  }
  return tileGrid(rows, { ...grid, captions });
}
