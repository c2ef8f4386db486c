/**
 * SVHN "cropped digits" (format 2) MAT-files: train_32x32.mat, test_32x32.mat, extra_32x32.mat
 * (http://ufldl.stanford.edu/housenumbers/), read with the level 5 MAT-file reader of mat5.ts.
 *
 * Each file holds two variables:
 *   X  32 x 32 x 3 x N uint8, column-major: pixel (row i, column j, channel c) of image n is at
 *      i + 32*(j + 32*(c + 3*n))
 *   y  N x 1 (or 1 x N) labels 1..10, where 10 stands for the digit 0
 * They come out as 32x32x3 HWC images in [0, 1] and labels 0..9 (10 mapped to 0).
 */
import type { Img } from './image';
import { DIGIT_CLASSES } from './classes';
import type { Dataset, LimitOptions } from './dataset';
import { takeCount } from './dataset';
import { fail } from './files';
import { matVariable, readMat5 } from './mat5';

/** Options of `loadSvhnMat`. */
export type SvhnOptions = LimitOptions;

/**
 * Load an SVHN cropped-digits .mat file (uncompressed or compressed level 5 MAT-file).
 *
 *   const d = loadSvhnMat('datasets/svhn/test_32x32.mat', { limit: 64 });
 *
 * Throws an Error naming the file when it is missing, truncated or not a level 5 MAT-file, lacks
 * X or y, X is not uint8 of shape HxWx3xN, y does not hold N labels, or a label is not 1..10.
 */
export function loadSvhnMat(file: string, opts: SvhnOptions = {}): Dataset {
  const what = 'cannot load SVHN';
  const mat = readMat5(file, what);
  const X = matVariable(mat, 'X', file, what);
  const y = matVariable(mat, 'y', file, what);
  if (X.class !== 'uint8') fail(what, file, `unsupported dtype: variable 'X' has class ${X.class}, expected uint8`);
  if (X.dims.length < 3 || X.dims.length > 4 || X.dims[2] !== 3) {
    fail(what, file, `shape mismatch: variable 'X' is ${X.dims.join('x')}, expected HxWx3xN (32x32x3xN)`);
  }
  const [h, w] = X.dims;
  const n = X.dims.length === 4 ? X.dims[3] : 1;
  if (y.imag || X.imag) fail(what, file, 'complex X or y');
  if (y.dims.length !== 2 || Math.min(y.dims[0], y.dims[1]) !== 1 || y.data.length !== n) {
    fail(what, file, `shape mismatch: variable 'y' is ${y.dims.join('x')}, expected ${n}x1 (one label per image of X, ${X.dims.join('x')})`);
  }
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = y.data[i];
    if (!Number.isInteger(v) || v < 1 || v > 10) fail(what, file, `y(${i + 1}) = ${v}: SVHN labels are 1..10 (10 for the digit 0)`);
    labels.push(v === 10 ? 0 : v);
  }
  const take = takeCount(opts.limit, n, what, file);
  const images: Img[] = [];
  const hw = h * w, src = X.data;
  for (let k = 0; k < take; k++) {
    const data = new Float32Array(hw * 3);
    for (let c = 0; c < 3; c++) {
      const base = (k * 3 + c) * hw;
      for (let j = 0; j < w; j++) {
        for (let i = 0; i < h; i++) data[(i * w + j) * 3 + c] = src[base + j * h + i] / 255;
      }
    }
    images.push({ height: h, width: w, channels: 3, data });
  }
  return { images, labels: labels.slice(0, take), source: `SVHN cropped digits (MAT-file) ${file}`, classes: [...DIGIT_CLASSES] };
}
