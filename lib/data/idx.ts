/**
 * MNIST / Fashion-MNIST files in the idx format (http://yann.lecun.com/exdb/mnist/), plain or
 * gzipped (recognised by the gzip magic bytes, not the extension).
 *
 * An idx file is a big-endian header, then the values in C (row-major) order:
 *   bytes 0-1  zero
 *   byte  2    dtype code: 0x08 unsigned byte, 0x09 signed byte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
 *   byte  3    number of dimensions d
 *   d x uint32 the dimensions
 * So the images file (N x rows x cols unsigned bytes) starts with the magic number 2051 = 0x00000803
 * and the labels file (N unsigned bytes) with 2049 = 0x00000801. Those are the only two kinds read here.
 */
import type { Img } from './image';
import type { Dataset, LimitOptions } from './dataset';
import { takeCount } from './dataset';
import { fail, hexHead, readBytes } from './files';

/** Magic number of an idx images file: unsigned bytes, 3 dimensions (N, rows, cols). */
export const IDX_IMAGES_MAGIC = 2051;
/** Magic number of an idx labels file: unsigned bytes, 1 dimension (N). */
export const IDX_LABELS_MAGIC = 2049;

const IDX_DTYPES: Record<number, { name: string; size: number }> = {
  0x08: { name: 'unsigned byte', size: 1 },
  0x09: { name: 'signed byte', size: 1 },
  0x0b: { name: 'int16', size: 2 },
  0x0c: { name: 'int32', size: 4 },
  0x0d: { name: 'float32', size: 4 },
  0x0e: { name: 'float64', size: 8 },
};

/** A parsed idx file: its dtype code, dimensions and the raw (unsigned byte) values. */
export interface IdxArray { dtype: number; dims: number[]; data: Uint8Array; }

/**
 * Parse an idx file holding unsigned bytes with `ndim` dimensions (magic `expectMagic`).
 * Errors (a DataError naming `file`): wrong magic, unsupported dtype, wrong number of
 * dimensions, truncated header or data, trailing bytes after the data.
 */
export function parseIdx(buf: Uint8Array, file: string, expectMagic: number, what: string): IdxArray {
  const kind = expectMagic === IDX_IMAGES_MAGIC ? 'images' : 'labels';
  if (buf.length < 4) fail(what, file, `truncated file: ${buf.length} bytes, too short for an idx header`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== expectMagic) {
    const other = magic === IDX_IMAGES_MAGIC ? ' (that of an idx images file)' : magic === IDX_LABELS_MAGIC ? ' (that of an idx labels file)' : '';
    if (buf[0] === 0 && buf[1] === 0 && IDX_DTYPES[buf[2]] && buf[2] !== 0x08) {
      fail(what, file, `unsupported dtype ${IDX_DTYPES[buf[2]].name} (idx code 0x${buf[2].toString(16).padStart(2, '0')}); ` +
        `idx ${kind} must hold unsigned bytes (magic ${expectMagic})`);
    }
    fail(what, file, `wrong magic number ${magic}${other} (first bytes ${hexHead(buf)}); an idx ${kind} file starts with ${expectMagic}`);
  }
  const ndim = buf[3];
  const headerBytes = 4 + 4 * ndim;
  if (buf.length < headerBytes) fail(what, file, `truncated file: ${buf.length} bytes, the idx header needs ${headerBytes}`);
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const have = buf.length - headerBytes;
  if (have < count) {
    fail(what, file, `truncated file: header says ${dims.join('x')} = ${count} values, the file holds ${have}`);
  }
  if (have > count) {
    fail(what, file, `size mismatch: header says ${dims.join('x')} = ${count} values, the file holds ${have} (${have - count} extra bytes)`);
  }
  return { dtype: buf[2], dims, data: buf.subarray(headerBytes) };
}

/** Options of `loadIdx`. */
export type IdxOptions = LimitOptions;

/**
 * Load an idx images file and its labels file (MNIST, Fashion-MNIST, plain or gzipped) as
 * `rows x cols x 1` images in [0, 1] (byte / 255) and integer labels.
 *
 *   const d = loadIdx('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz', { limit: 16 });
 *
 * Throws an Error naming the file on a missing or truncated file, a wrong magic number, an
 * unsupported dtype, trailing bytes, or images and labels of different counts.
 */
export function loadIdx(imagesPath: string, labelsPath: string, opts: IdxOptions = {}): Dataset {
  const what = 'cannot load idx';
  const images = parseIdx(readBytes(imagesPath, `${what} images`), imagesPath, IDX_IMAGES_MAGIC, `${what} images`);
  if (images.dims.length !== 3) {
    fail(`${what} images`, imagesPath, `expected 3 dimensions (N, rows, cols), the header has ${images.dims.length}`);
  }
  const labels = parseIdx(readBytes(labelsPath, `${what} labels`), labelsPath, IDX_LABELS_MAGIC, `${what} labels`);
  if (labels.dims.length !== 1) {
    fail(`${what} labels`, labelsPath, `expected 1 dimension (N), the header has ${labels.dims.length}`);
  }
  const [n, rows, cols] = images.dims;
  if (labels.dims[0] !== n) {
    fail(`${what} labels`, labelsPath, `shape mismatch: ${labels.dims[0]} labels for ${n} images in ${imagesPath}`);
  }
  if (rows < 1 || cols < 1) fail(`${what} images`, imagesPath, `shape mismatch: images of ${rows}x${cols} pixels`);
  const take = takeCount(opts.limit, n, `${what} images`, imagesPath);
  const size = rows * cols;
  const out: Img[] = [];
  for (let i = 0; i < take; i++) {
    const data = new Float32Array(size);
    const src = images.data.subarray(i * size, (i + 1) * size);
    for (let p = 0; p < size; p++) data[p] = src[p] / 255;
    out.push({ height: rows, width: cols, channels: 1, data });
  }
  return {
    images: out,
    labels: Array.from(labels.data.subarray(0, take)),
    source: `idx ${imagesPath} + ${labelsPath}`,
  };
}
