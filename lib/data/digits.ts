/**
 * scikit-learn's handwritten digits (`sklearn.datasets.load_digits`, file
 * sklearn/datasets/data/digits.csv.gz): the test set of the UCI "Optical Recognition of Handwritten
 * Digits" data, 1797 rows. Each row is 65 comma-separated numbers: 64 pixel counts 0..16 of an
 * 8x8 image, row by row, then the digit 0..9. Plain or gzipped CSV (recognised by magic bytes).
 * Images come out 8x8x1 in [0, 1] (count / 16).
 */
import type { Img } from './image';
import { DIGIT_CLASSES } from './classes';
import type { Dataset, LimitOptions } from './dataset';
import { takeCount } from './dataset';
import { fail, readBytes } from './files';

export const DIGITS_SIDE = 8;
/** Largest pixel value: each pixel counts the on pixels of a 4x4 block. */
export const DIGITS_MAX = 16;

/** Options of `loadDigitsCsv`. */
export type DigitsOptions = LimitOptions;

/**
 * Load digits.csv(.gz) as 8x8x1 images in [0, 1] and labels 0..9.
 *
 * Throws an Error naming the file (and the line) when it is missing or a corrupt gzip, a row does
 * not have 65 values, a pixel is not an integer 0..16, a label is not 0..9, or there are no rows.
 */
export function loadDigitsCsv(file: string, opts: DigitsOptions = {}): Dataset {
  const what = 'cannot load digits';
  const text = readBytes(file, what).toString('utf8');
  const lines = text.split(/\r?\n/);
  const rows: { line: number; values: number[] }[] = [];
  lines.forEach((s, i) => {
    if (s.trim().length > 0) rows.push({ line: i + 1, values: s.split(',').map((v) => Number(v.trim())) });
  });
  if (rows.length === 0) fail(what, file, 'no rows (empty file?)');
  const size = DIGITS_SIDE * DIGITS_SIDE;
  for (const { line, values } of rows) {
    if (values.length !== size + 1) {
      fail(what, file, `shape mismatch at line ${line}: ${values.length} values, expected ${size + 1} (64 pixels and the label)`);
    }
    for (let p = 0; p < size; p++) {
      const v = values[p];
      if (!Number.isInteger(v) || v < 0 || v > DIGITS_MAX) fail(what, file, `line ${line}: pixel ${p} is ${v}, expected an integer 0..${DIGITS_MAX}`);
    }
    const label = values[size];
    if (!Number.isInteger(label) || label < 0 || label > 9) fail(what, file, `line ${line}: label ${label}, expected 0..9`);
  }
  const take = takeCount(opts.limit, rows.length, what, file);
  const images: Img[] = [];
  const labels: number[] = [];
  for (let k = 0; k < take; k++) {
    const values = rows[k].values;
    const data = new Float32Array(size);
    for (let p = 0; p < size; p++) data[p] = values[p] / DIGITS_MAX;
    images.push({ height: DIGITS_SIDE, width: DIGITS_SIDE, channels: 1, data });
    labels.push(values[size]);
  }
  return { images, labels, source: `scikit-learn digits (CSV) ${file}`, classes: [...DIGIT_CLASSES] };
}
