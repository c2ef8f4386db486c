/**
 * Drawing on an RGB `Img` (values in [0, 1]) for PNG figures: a blank canvas, filled rectangles,
 * nearest-neighbour upscaled copies of images, and text in the bitmap font of font.ts.
 * Plain loops over Float32Arrays; no TensorFlow.js.
 */
import type { Img } from '../data/image';
import { checkImg, shapeOf } from '../data/image';
import { ADVANCE, GLYPH_HEIGHT, GLYPH_WIDTH, LINE_HEIGHT, checkText, glyph, textLines, textWidth } from './font';

/** A colour: a gray level in [0, 1], or [r, g, b] in [0, 1]. */
export type Color = number | [number, number, number];

/** `color` as [r, g, b]; throws for values outside [0, 1]. */
export function rgb(color: Color, what = 'colour'): [number, number, number] {
  const c: number[] = typeof color === 'number' ? [color, color, color] : color;
  if (!Array.isArray(c) || c.length !== 3 || c.some((v) => typeof v !== 'number' || !(v >= 0 && v <= 1))) {
    throw new Error(`${what} must be a gray level in [0, 1] or [r, g, b] in [0, 1], got ${JSON.stringify(color)}`);
  }
  return [c[0], c[1], c[2]];
}

/** A `height x width` RGB image filled with `background`. */
export function canvas(height: number, width: number, background: Color = 1): Img {
  const [r, g, b] = rgb(background, 'background');
  const data = new Float32Array(height * width * 3);
  for (let p = 0; p < height * width; p++) {
    data[3 * p] = r;
    data[3 * p + 1] = g;
    data[3 * p + 2] = b;
  }
  return { height, width, channels: 3, data };
}

/** Fill the rectangle [x, x + w) x [y, y + h), clipped to the canvas. */
export function fillRect(img: Img, x: number, y: number, w: number, h: number, color: Color): void {
  const [r, g, b] = rgb(color);
  for (let yy = Math.max(0, y); yy < Math.min(img.height, y + h); yy++) {
    for (let xx = Math.max(0, x); xx < Math.min(img.width, x + w); xx++) {
      const o = (yy * img.width + xx) * 3;
      img.data[o] = r;
      img.data[o + 1] = g;
      img.data[o + 2] = b;
    }
  }
}

/**
 * Copy `src` (1 or 3 channels; gray is copied to r, g and b) onto the RGB canvas with its top-left
 * corner at (x, y), each pixel as a `scale x scale` block (nearest-neighbour upscaling). Values are
 * copied as they are (PNG encoding clamps them to [0, 1]).
 */
export function blit(img: Img, src: Img, x: number, y: number, scale = 1): void {
  checkImg(src, 'blit');
  if (src.channels !== 1 && src.channels !== 3) throw new Error(`blit: images need 1 or 3 channels, got one of shape ${shapeOf(src)}`);
  if (!Number.isInteger(scale) || scale < 1) throw new Error(`blit: scale must be a positive integer, got ${scale}`);
  const c = src.channels;
  for (let yy = 0; yy < src.height * scale; yy++) {
    const ty = y + yy;
    if (ty < 0 || ty >= img.height) continue;
    const row = Math.floor(yy / scale) * src.width;
    for (let xx = 0; xx < src.width * scale; xx++) {
      const tx = x + xx;
      if (tx < 0 || tx >= img.width) continue;
      const s = (row + Math.floor(xx / scale)) * c;
      const o = (ty * img.width + tx) * 3;
      img.data[o] = src.data[s];
      img.data[o + 1] = src.data[c === 3 ? s + 1 : s];
      img.data[o + 2] = src.data[c === 3 ? s + 2 : s];
    }
  }
}

/** Options of `drawText`. */
export interface TextOptions {
  /** Integer size factor of the 5 x 9 pixel font. Default 1. */
  scale?: number;
  /** Ink colour. Default 0 (black). */
  color?: Color;
  /** Horizontal alignment of each line relative to x: 'left' (x is the left edge), 'center' or 'right'. Default 'left'. */
  align?: 'left' | 'center' | 'right';
}

/**
 * Draw `text` ('\n' starts a new line) in the bitmap font with the top of its first line at y.
 * Throws for characters the font lacks (see font.ts `checkText`).
 */
export function drawText(img: Img, text: string, x: number, y: number, opts: TextOptions = {}): void {
  const scale = opts.scale ?? 1;
  if (!Number.isInteger(scale) || scale < 1) throw new Error(`drawText: scale must be a positive integer, got ${scale}`);
  checkText(text, 'drawText');
  const color = opts.color ?? 0;
  textLines(text).forEach((line, li) => {
    const w = textWidth(line, scale);
    const left = opts.align === 'center' ? x - Math.floor(w / 2) : opts.align === 'right' ? x - w : x;
    const top = y + li * LINE_HEIGHT * scale;
    [...line].forEach((ch, ci) => {
      const bm = glyph(ch);
      for (let gy = 0; gy < GLYPH_HEIGHT; gy++) {
        for (let gx = 0; gx < GLYPH_WIDTH; gx++) {
          if (bm[gy][gx]) fillRect(img, left + (ci * ADVANCE + gx) * scale, top + gy * scale, scale, scale, color);
        }
      }
    });
  });
}
