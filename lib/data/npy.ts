/**
 * A minimal reader of NumPy .npy files (format versions 1.0, 2.0 and 3.0,
 * https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
 *
 *   magic "\x93NUMPY", major and minor version bytes, header length (uint16 little-endian in
 *   version 1, uint32 in versions 2 and 3), then the header: a Python dict literal such as
 *   {'descr': '<f8', 'fortran_order': False, 'shape': (200, 25, 25), }   padded with spaces and '\n'
 *   then the values in C order.
 *
 * dtypes: |u1 |i1 |b1, u2 i2 u4 i4 f4 f8 in either byte order (< or >). C order only; structured
 * and object arrays are refused. Gzipped files are accepted (recognised by the magic bytes).
 */
import { fail, hexHead, readBytes } from './files';

/** Values of a supported dtype (bool as Uint8Array). */
export type NpyData = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array;

/** A parsed .npy array. */
export interface NpyArray {
  /** The dtype as written in the header, e.g. '|u1', '<f8'. */
  descr: string;
  shape: number[];
  /** The values in C (row-major) order. */
  data: NpyData;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** kind+size -> typed array constructor and DataView getter. */
const DTYPES: Record<string, { size: number; make: (n: number) => NpyData; get: (v: DataView, off: number, le: boolean) => number }> = {
  u1: { size: 1, make: (n) => new Uint8Array(n), get: (v, o) => v.getUint8(o) },
  b1: { size: 1, make: (n) => new Uint8Array(n), get: (v, o) => v.getUint8(o) },
  i1: { size: 1, make: (n) => new Int8Array(n), get: (v, o) => v.getInt8(o) },
  u2: { size: 2, make: (n) => new Uint16Array(n), get: (v, o, le) => v.getUint16(o, le) },
  i2: { size: 2, make: (n) => new Int16Array(n), get: (v, o, le) => v.getInt16(o, le) },
  u4: { size: 4, make: (n) => new Uint32Array(n), get: (v, o, le) => v.getUint32(o, le) },
  i4: { size: 4, make: (n) => new Int32Array(n), get: (v, o, le) => v.getInt32(o, le) },
  f4: { size: 4, make: (n) => new Float32Array(n), get: (v, o, le) => v.getFloat32(o, le) },
  f8: { size: 8, make: (n) => new Float64Array(n), get: (v, o, le) => v.getFloat64(o, le) },
};

/**
 * Parse the bytes of a .npy file; `file` names it in messages. Throws a DataError naming the file
 * on a wrong magic, an unknown format version, a malformed header, an unsupported dtype or
 * Fortran order, or a data size that does not match the shape (truncated or trailing bytes).
 */
export function parseNpy(buf: Uint8Array, file: string, what = 'cannot read .npy'): NpyArray {
  if (buf.length < 10) fail(what, file, `truncated file: ${buf.length} bytes, too short for a .npy header`);
  if (!MAGIC.every((b, i) => buf[i] === b)) fail(what, file, `wrong magic: not a .npy file (first bytes ${hexHead(buf)}, expected 93 4e 55 4d 50 59 = \\x93NUMPY)`);
  const major = buf[6];
  if (major < 1 || major > 3) fail(what, file, `unsupported .npy format version ${major}.${buf[7]} (1.0, 2.0 and 3.0 are read)`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (buf.length < 8 + lenBytes) fail(what, file, 'truncated file: no header length');
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lenBytes + headerLen;
  if (buf.length < start) fail(what, file, `truncated file: header of ${headerLen} bytes, ${buf.length - 8 - lenBytes} present`);
  const header = Buffer.from(buf.subarray(8 + lenBytes, start)).toString(major === 3 ? 'utf8' : 'latin1');

  const descrM = /['"]descr['"]\s*:\s*(['"])([^'"]*)\1/.exec(header);
  const fortranM = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header);
  const shapeM = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descrM) {
    if (/['"]descr['"]\s*:\s*\[/.test(header)) fail(what, file, `unsupported dtype: structured array (header ${header.trim()})`);
    fail(what, file, `malformed header, no 'descr': ${header.trim()}`);
  }
  if (!fortranM || !shapeM) fail(what, file, `malformed header: ${header.trim()}`);
  const descr = descrM[2];
  if (fortranM[1] === 'True') fail(what, file, `unsupported layout: fortran_order is True (only C order is read)`);
  const shape = shapeM[1].split(',').map((s) => s.trim()).filter((s) => s.length > 0).map((s) => Number(s.replace(/L$/, '')));
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) fail(what, file, `malformed shape (${shapeM[1]})`);

  const m = /^([<>|=])([a-z])(\d+)$/.exec(descr);
  const dt = m ? DTYPES[m[2] + m[3]] : undefined;
  if (!m || !dt) fail(what, file, `unsupported dtype '${descr}' (supported: |u1 |i1 |b1 and u2 i2 u4 i4 f4 f8, < or >)`);
  const le = m[1] !== '>';
  const count = shape.reduce((a, b) => a * b, 1);
  const need = count * dt.size, have = buf.length - start;
  if (have < need) fail(what, file, `truncated file: shape (${shape.join(', ')}) of ${descr} needs ${need} data bytes, the file has ${have}`);
  if (have > need) fail(what, file, `size mismatch: shape (${shape.join(', ')}) of ${descr} needs ${need} data bytes, the file has ${have}`);
  const data = dt.make(count);
  const dv = new DataView(buf.buffer, buf.byteOffset + start, need);
  for (let i = 0; i < count; i++) data[i] = dt.get(dv, i * dt.size, le);
  return { descr, shape, data };
}

/** Read and parse a .npy file (gzipped too); see `parseNpy`. */
export function readNpy(file: string, what = 'cannot read .npy'): NpyArray {
  return parseNpy(readBytes(file, what), file, what);
}
