/**
 * Images as plain numbers: loading (PNG, JPEG), resizing, saving, and tiling into grids.
 *
 * Everything here works on `Img`, a row-major height x width x channels (HWC) Float32Array with
 * values in [0, 1], the layout of one tfjs image tensor `[h, w, c]`. No TensorFlow.js: convert
 * with `fromTensorData(await t.data(), h, w, c)` and `tf.tensor3d(img.data, [h, w, c])`.
 *
 * Decoding uses pngjs (sync API) and jpeg-js. Their errors are wrapped so that bad input gives one
 * clear message naming the file (`cannot decode PNG photo.png: ...`), not a stack trace from inside
 * the decoder.
 */
import * as fs from 'fs';
import * as path from 'path';
import { PNG } from 'pngjs';
import * as jpeg from 'jpeg-js';

/** An image as plain numbers: row-major height x width x channels (HWC), values in [0,1]. */
export interface Img { height: number; width: number; channels: number; data: Float32Array; }

/** "HxWxC", e.g. "32x32x3", for messages. */
export function shapeOf(img: Img): string {
  return `${img.height}x${img.width}x${img.channels}`;
}

/** Throws unless `img` has positive integer dimensions and `data.length === height*width*channels`. */
export function checkImg(img: Img, what = 'image'): void {
  const { height, width, channels, data } = img;
  for (const [name, v] of [['height', height], ['width', width], ['channels', channels]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${what}: ${name} must be a positive integer, got ${v}`);
  }
  if (data.length !== height * width * channels) {
    throw new Error(`${what}: shape ${shapeOf(img)} needs ${height * width * channels} values, data has ${data.length}`);
  }
}

/** A copy of `data` (e.g. a tensor's `dataSync()`, HWC order) as an Img. */
export function fromTensorData(data: ArrayLike<number>, height: number, width: number, channels: number): Img {
  const img: Img = { height, width, channels, data: Float32Array.from(data) };
  checkImg(img, 'fromTensorData');
  return img;
}

// ---------------------------------------------------------------------------------------------
// Loading

/** Options of `loadImage`. */
export interface LoadOptions {
  /** Output size: one number for a square `size x size`, or `[height, width]`. Default: as stored. */
  size?: number | [number, number];
  /** 3 (RGB, the default) or 1 (grayscale, ITU-R 601 luma 0.299 R + 0.587 G + 0.114 B). */
  channels?: 1 | 3;
  /**
   * Told, in one line, when the image is resized ('photo.png: 512x384 resized to 32x32, aspect ratio
   * changed from 1.33 to 1'), so that a caller can say it; silent when the size already matches.
   */
  onResize?: (note: string) => void;
}

/** 8-bit RGBA pixels as both decoders return them. */
interface Rgba { width: number; height: number; data: Uint8Array; }

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_MAGIC = [0xff, 0xd8, 0xff];

function startsWith(buf: Uint8Array, magic: number[]): boolean {
  return buf.length >= magic.length && magic.every((b, i) => buf[i] === b);
}

/** The reason carried by whatever a decoder threw (jpeg-js has thrown plain strings in the past). */
function reason(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  // pngjs's wording for data that stops early.
  return /read requests waiting|read requests waitng/.test(msg) ? 'unexpected end of data (truncated file?)' : msg;
}

function readFile(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`cannot read image ${file}: no such file`);
    if (code === 'EISDIR') throw new Error(`cannot read image ${file}: it is a directory`);
    throw new Error(`cannot read image ${file}: ${code ?? reason(e)}`);
  }
}

/** Decode a PNG or JPEG file (recognised by its first bytes, not its extension) to 8-bit RGBA. */
function decodeFile(file: string): Rgba {
  const buf = readFile(file);
  if (startsWith(buf, PNG_MAGIC)) {
    try {
      // pngjs expands every PNG (gray, palette, 16-bit) to 8-bit RGBA.
      const png = PNG.sync.read(buf);
      return { width: png.width, height: png.height, data: png.data };
    } catch (e) {
      throw new Error(`cannot decode PNG ${file}: ${reason(e)}`);
    }
  }
  if (startsWith(buf, JPEG_MAGIC)) {
    try {
      const jpg = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true });
      return { width: jpg.width, height: jpg.height, data: jpg.data };
    } catch (e) {
      throw new Error(`cannot decode JPEG ${file}: ${reason(e)}`);
    }
  }
  const head = Array.from(buf.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new Error(`cannot load image ${file}: not a PNG or JPEG file (first bytes: ${head || 'none, the file is empty'})`);
}

/**
 * 8-bit RGBA -> Img with 3 (RGB) or 1 (luma) channels. Alpha is dropped, as PIL's
 * `convert('RGB')` does; gray pixels (R = G = B) stay exactly their value.
 */
function rgbaToImg(src: Rgba, channels: 1 | 3): Img {
  const n = src.width * src.height;
  const out = new Float32Array(n * channels);
  const d = src.data;
  for (let p = 0; p < n; p++) {
    const r = d[4 * p], g = d[4 * p + 1], b = d[4 * p + 2];
    if (channels === 3) {
      out[3 * p] = r / 255;
      out[3 * p + 1] = g / 255;
      out[3 * p + 2] = b / 255;
    } else {
      out[p] = (r === g && g === b ? r : 0.299 * r + 0.587 * g + 0.114 * b) / 255;
    }
  }
  return { height: src.height, width: src.width, channels, data: out };
}

/**
 * Load a PNG or JPEG file as an Img in [0, 1], optionally converted to grayscale and resized.
 *
 *   const x = loadImage('cat.png', { size: 32 });              // 32x32x3
 *   const m = loadImage('digit.jpg', { size: 28, channels: 1 }); // 28x28x1
 *
 * Resizing follows `resize`: area averaging when shrinking, bilinear when enlarging.
 * Throws an Error naming the file when it is missing, is neither PNG nor JPEG, or is corrupt.
 */
export function loadImage(file: string, opts: LoadOptions = {}): Img {
  const channels = opts.channels ?? 3;
  if (channels !== 1 && channels !== 3) throw new Error(`loadImage ${file}: channels must be 1 or 3, got ${channels}`);
  let img = rgbaToImg(decodeFile(file), channels);
  if (opts.size !== undefined) {
    const [h, w] = typeof opts.size === 'number' ? [opts.size, opts.size] : opts.size;
    if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) {
      throw new Error(`loadImage ${file}: size must be positive integers, got ${JSON.stringify(opts.size)}`);
    }
    if (img.height !== h || img.width !== w) {
      const ratio = (a: number, b: number) => String(Number((a / b).toFixed(2)));
      const aspect = Math.abs(img.width / img.height - w / h) > 0.01 ? `, aspect ratio changed from ${ratio(img.width, img.height)} to ${ratio(w, h)}` : '';
      opts.onResize?.(`${path.basename(file)}: ${img.width}x${img.height} resized to ${w}x${h}${aspect}`);
    }
    img = resize(img, h, w);
  }
  return img;
}

// ---------------------------------------------------------------------------------------------
// Resizing

/** For one output index: the source indices it reads and their weights (summing to 1). */
interface Taps { index: number[]; weight: number[]; }

/**
 * Resampling weights along one axis, `src` -> `dst` samples.
 * Shrinking: area averaging. Output i covers the source interval [i*s, (i+1)*s), s = src/dst, and
 *   each source pixel contributes in proportion to its overlap with it (OpenCV's INTER_AREA).
 * Enlarging: bilinear with pixel centres aligned (x = (i + 0.5)*s - 0.5, clamped to the edges),
 *   the convention of tf.image.resizeBilinear(halfPixelCenters=true) and PIL.
 */
function axisTaps(src: number, dst: number): Taps[] {
  const s = src / dst;
  const taps: Taps[] = [];
  for (let i = 0; i < dst; i++) {
    const t: Taps = { index: [], weight: [] };
    if (dst === src) {
      t.index.push(i);
      t.weight.push(1);
    } else if (dst < src) {
      const lo = i * s, hi = (i + 1) * s;
      for (let j = Math.floor(lo); j < Math.min(src, Math.ceil(hi)); j++) {
        const overlap = Math.min(hi, j + 1) - Math.max(lo, j);
        if (overlap > 0) { t.index.push(j); t.weight.push(overlap); }
      }
      const total = t.weight.reduce((u, v) => u + v, 0);
      t.weight = t.weight.map((v) => v / total);
    } else {
      const x = Math.min(src - 1, Math.max(0, (i + 0.5) * s - 0.5));
      const j0 = Math.floor(x), f = x - j0;
      t.index.push(j0, Math.min(j0 + 1, src - 1));
      t.weight.push(1 - f, f);
    }
    taps.push(t);
  }
  return taps;
}

/**
 * Resize to `height x width`, each axis on its own: area averaging when it shrinks, bilinear
 * when it grows (see `axisTaps`). A constant image stays constant; a 2x2-block image halves exactly.
 */
export function resize(img: Img, height: number, width: number): Img {
  checkImg(img, 'resize');
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new Error(`resize: target size must be positive integers, got ${height}x${width}`);
  }
  const { height: h0, width: w0, channels: c, data } = img;
  const rows = axisTaps(h0, height), cols = axisTaps(w0, width);
  // Rows first: h0 x w0 -> height x w0 (float64), then columns: -> height x width.
  const mid = new Float64Array(height * w0 * c);
  for (let y = 0; y < height; y++) {
    const { index, weight } = rows[y];
    for (let k = 0; k < index.length; k++) {
      const src = index[k] * w0 * c, dst = y * w0 * c, wt = weight[k];
      for (let q = 0; q < w0 * c; q++) mid[dst + q] += wt * data[src + q];
    }
  }
  const out = new Float32Array(height * width * c);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const { index, weight } = cols[x];
      for (let ch = 0; ch < c; ch++) {
        let v = 0;
        for (let k = 0; k < index.length; k++) v += weight[k] * mid[(y * w0 + index[k]) * c + ch];
        out[(y * width + x) * c + ch] = v;
      }
    }
  }
  return { height, width, channels: c, data: out };
}

// ---------------------------------------------------------------------------------------------
// Saving

/** [0, 1] -> 0..255, clamping out-of-range values; NaN becomes 0. */
function toByte(v: number): number {
  return Number.isNaN(v) ? 0 : Math.round(Math.min(1, Math.max(0, v)) * 255);
}

/** PNG bytes of `img`; errors start with `what` (the caller's name for itself). */
function encodePng(img: Img, what: string): Buffer {
  checkImg(img, what);
  if (img.channels !== 1 && img.channels !== 3) {
    throw new Error(`${what}: PNG needs 1 or 3 channels, got an image of shape ${shapeOf(img)}`);
  }
  const bytes = Buffer.alloc(img.data.length);
  for (let i = 0; i < bytes.length; i++) bytes[i] = toByte(img.data[i]);
  const png = new PNG({ width: img.width, height: img.height });
  png.data = bytes;
  // colorType 0 = grayscale, 2 = RGB; input and output types are equal so pngjs stores bytes as is.
  const colorType = img.channels === 1 ? 0 : 2;
  return PNG.sync.write(png, { colorType, inputColorType: colorType, inputHasAlpha: false, bitDepth: 8 });
}

/**
 * Encode a 1-channel (8-bit grayscale PNG) or 3-channel (8-bit RGB PNG) image, e.g. to display it
 * inline in a notebook. Values are clamped to [0, 1] (NaN becomes 0) and rounded to the nearest of
 * 256 levels, so values k/255 survive a save/load round trip exactly.
 */
export function toPngBuffer(img: Img): Buffer {
  return encodePng(img, 'toPngBuffer');
}

/** Write `img` as a PNG file (see `toPngBuffer`), creating the directory if needed. */
export function savePng(img: Img, file: string): void {
  const buf = encodePng(img, `cannot save PNG ${file}`);
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, buf);
}

// ---------------------------------------------------------------------------------------------
// Grids

/** Options of `makeGrid`. */
export interface GridOptions {
  /** Images per row. Default: ceil(sqrt(n)). */
  cols?: number;
  /** Pixels of padding around and between cells, in output pixels (after scaling). Default 2. */
  pad?: number;
  /** Value of padding and of empty cells, in [0, 1]. Default 1 (white). */
  padValue?: number;
  /** Integer nearest-neighbour upscaling of every image, for display. Default 1. */
  scale?: number;
}

/**
 * Tile images of one shape into a grid, row by row, like torchvision's make_grid: each cell is
 * `(height*scale) x (width*scale)`, with `pad` pixels around the whole grid and between cells, so
 * the result is `rows*(height*scale + pad) + pad` by `cols*(width*scale + pad) + pad`.
 */
export function makeGrid(images: Img[], opts: GridOptions = {}): Img {
  if (images.length === 0) throw new Error('makeGrid: no images');
  images.forEach((im, i) => checkImg(im, `makeGrid image ${i}`));
  const { height: h, width: w, channels: c } = images[0];
  images.forEach((im, i) => {
    if (im.height !== h || im.width !== w || im.channels !== c) {
      throw new Error(`makeGrid: image ${i} has shape ${shapeOf(im)}, image 0 has ${shapeOf(images[0])}`);
    }
  });
  const cols = opts.cols ?? Math.ceil(Math.sqrt(images.length));
  const pad = opts.pad ?? 2;
  const padValue = opts.padValue ?? 1;
  const scale = opts.scale ?? 1;
  if (!Number.isInteger(cols) || cols < 1) throw new Error(`makeGrid: cols must be a positive integer, got ${cols}`);
  if (!Number.isInteger(pad) || pad < 0) throw new Error(`makeGrid: pad must be a non-negative integer, got ${pad}`);
  if (!Number.isInteger(scale) || scale < 1) throw new Error(`makeGrid: scale must be a positive integer, got ${scale}`);

  const rows = Math.ceil(images.length / cols);
  const ch = h * scale, cw = w * scale;
  const H = rows * (ch + pad) + pad, W = cols * (cw + pad) + pad;
  const out = new Float32Array(H * W * c).fill(padValue);
  images.forEach((im, i) => {
    const top = pad + Math.floor(i / cols) * (ch + pad);
    const left = pad + (i % cols) * (cw + pad);
    for (let y = 0; y < ch; y++) {
      for (let x = 0; x < cw; x++) {
        const src = (Math.floor(y / scale) * w + Math.floor(x / scale)) * c;
        const dst = ((top + y) * W + left + x) * c;
        for (let k = 0; k < c; k++) out[dst + k] = im.data[src + k];
      }
    }
  });
  return { height: H, width: W, channels: c, data: out };
}
