/**
 * A small reader of MATLAB level 5 MAT-files (what `save -v6` / `save -v7` and scipy.io.savemat
 * write), for numeric arrays. Follows "MAT-File Format" (MathWorks), chapter 1:
 *
 *   header   128 bytes: 116 bytes of text ("MATLAB 5.0 MAT-file, ..."), 8 bytes subsystem data
 *            offset, version 0x0100 (int16), endian indicator 'IM' (bytes 'I','M' in a
 *            little-endian file, 'M','I' in a big-endian one)
 *   elements each an 8-byte tag (uint32 data type, uint32 byte count) and its data, padded to a
 *            multiple of 8 bytes. A "small data element" packs a count < 5 bytes into the tag's
 *            upper 16 bits and its data into the tag's last 4 bytes.
 *            Top-level elements are miMATRIX (14), or miCOMPRESSED (15): a zlib stream holding one
 *            miMATRIX element (not padded, as MATLAB and scipy write it).
 *   miMATRIX sub-elements: array flags (miUINT32 x 2: class in the low byte, complex 0x0800,
 *            global 0x0400, logical 0x0200), dimensions (miINT32), array name (miINT8), real part,
 *            imaginary part when complex. The stored data type of a part may be narrower than the
 *            class (MATLAB stores a double array of small integers as miUINT8): values are
 *            converted to the class.
 *
 * Numeric classes (double, single, int8..uint64) are read, column-major as stored; other classes
 * (cell, struct, object, char, sparse, ...) are listed in `skipped`. MATLAB v7.3 files are HDF5
 * and v4 files have no 128-byte header: both are refused with a clear message.
 */
import * as zlib from 'zlib';
import { fail, hexHead, readBytes } from './files';

/** The numeric MATLAB classes this reader returns. */
export type MatClass = 'double' | 'single' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64';

/** Values of a numeric class; int64 and uint64 come as float64 (exact up to 2^53). */
export type MatData = Float64Array | Float32Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;

/** One numeric variable. `data` is column-major (MATLAB order): element (i, j, k) is at i + d0*(j + d1*k). */
export interface MatArray {
  name: string;
  class: MatClass;
  dims: number[];
  data: MatData;
  /** Imaginary part of a complex array. */
  imag?: MatData;
  /** MATLAB's logical flag (stored as uint8). */
  logical: boolean;
  global: boolean;
}

/** A parsed MAT-file. */
export interface MatFile {
  /** The header text, trailing spaces removed. */
  header: string;
  littleEndian: boolean;
  /** Numeric variables by name, in file order. */
  arrays: Map<string, MatArray>;
  /** Variables of classes this reader does not decode (cell, struct, char, sparse, ...). */
  skipped: { name: string; class: string }[];
}

// Data types (table 1-1 of the format description).
const MI = {
  INT8: 1, UINT8: 2, INT16: 3, UINT16: 4, INT32: 5, UINT32: 6, SINGLE: 7, DOUBLE: 9,
  INT64: 12, UINT64: 13, MATRIX: 14, COMPRESSED: 15, UTF8: 16, UTF16: 17, UTF32: 18,
} as const;

const MI_NAMES: Record<number, string> = {
  1: 'miINT8', 2: 'miUINT8', 3: 'miINT16', 4: 'miUINT16', 5: 'miINT32', 6: 'miUINT32', 7: 'miSINGLE',
  9: 'miDOUBLE', 12: 'miINT64', 13: 'miUINT64', 14: 'miMATRIX', 15: 'miCOMPRESSED', 16: 'miUTF8',
  17: 'miUTF16', 18: 'miUTF32',
};

const MI_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8 };

// Array classes (table 1-3). Numeric ones map to their MatClass.
const MX_NUMERIC: Record<number, MatClass> = {
  6: 'double', 7: 'single', 8: 'int8', 9: 'uint8', 10: 'int16', 11: 'uint16', 12: 'int32', 13: 'uint32', 14: 'int64', 15: 'uint64',
};
const MX_OTHER: Record<number, string> = { 1: 'cell', 2: 'struct', 3: 'object', 4: 'char', 5: 'sparse', 16: 'function', 17: 'opaque' };

const miName = (t: number) => MI_NAMES[t] ?? `unknown data type ${t}`;

/** Parsing state for one file: its name (for messages) and byte order. */
interface Ctx { file: string; le: boolean; what: string; }

/** A data element: its type, its data bytes, where it started and where the next one starts. */
interface Element { type: number; data: Uint8Array; at: number; next: number; }

/**
 * The element whose tag starts at `pos` in `buf` (which ends at buf.length). `where` describes
 * `buf` for messages ("the file", "the compressed element at byte 128", ...).
 */
function readElement(buf: Uint8Array, pos: number, ctx: Ctx, where: string, padded: boolean): Element {
  if (pos + 8 > buf.length) {
    fail(ctx.what, ctx.file, `truncated file: element tag at byte ${pos} of ${where} needs 8 bytes, ${buf.length - pos} left`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset + pos, 8);
  const w0 = view.getUint32(0, ctx.le);
  if (w0 >>> 16 !== 0) {
    // Small data element: type in the low 16 bits, byte count (at most 4) in the high 16 bits.
    const type = w0 & 0xffff, n = w0 >>> 16;
    if (n > 4) fail(ctx.what, ctx.file, `corrupt element tag at byte ${pos} of ${where}: small element of ${n} bytes (at most 4)`);
    return { type, data: buf.subarray(pos + 4, pos + 4 + n), at: pos, next: pos + 8 };
  }
  const type = w0, n = view.getUint32(4, ctx.le);
  const start = pos + 8;
  if (start + n > buf.length) {
    fail(ctx.what, ctx.file, `truncated file: ${miName(type)} element at byte ${pos} of ${where} needs ${n} bytes, ${buf.length - start} left`);
  }
  const next = padded && type !== MI.COMPRESSED ? start + Math.ceil(n / 8) * 8 : start + n;
  return { type, data: buf.subarray(start, start + n), at: pos, next: Math.min(next, buf.length) };
}

/** `count` values of data type `type` from `bytes`, converted into a new array of class `cls`. */
function decodeNumeric(bytes: Uint8Array, type: number, count: number, cls: MatClass, ctx: Ctx, what: string): MatData {
  const size = MI_SIZE[type];
  if (size === undefined) fail(ctx.what, ctx.file, `${what}: unsupported dtype ${miName(type)} for numeric data`);
  if (bytes.length !== count * size) {
    fail(ctx.what, ctx.file, `${what}: shape mismatch: ${bytes.length} bytes of ${miName(type)} hold ${bytes.length / size} values, the dimensions need ${count}`);
  }
  const out = newArray(cls, count);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = ctx.le;
  const get: (i: number) => number =
    type === MI.INT8 ? (i) => v.getInt8(i)
    : type === MI.UINT8 ? (i) => v.getUint8(i)
    : type === MI.INT16 ? (i) => v.getInt16(2 * i, le)
    : type === MI.UINT16 ? (i) => v.getUint16(2 * i, le)
    : type === MI.INT32 ? (i) => v.getInt32(4 * i, le)
    : type === MI.UINT32 ? (i) => v.getUint32(4 * i, le)
    : type === MI.SINGLE ? (i) => v.getFloat32(4 * i, le)
    : type === MI.DOUBLE ? (i) => v.getFloat64(8 * i, le)
    : type === MI.INT64 ? (i) => Number(v.getBigInt64(8 * i, le))
    : (i) => Number(v.getBigUint64(8 * i, le));
  if (type === MI.UINT8 && out instanceof Uint8Array) out.set(bytes);
  else for (let i = 0; i < count; i++) out[i] = get(i);
  return out;
}

function newArray(cls: MatClass, n: number): MatData {
  switch (cls) {
    case 'double': case 'int64': case 'uint64': return new Float64Array(n);
    case 'single': return new Float32Array(n);
    case 'int8': return new Int8Array(n);
    case 'uint8': return new Uint8Array(n);
    case 'int16': return new Int16Array(n);
    case 'uint16': return new Uint16Array(n);
    case 'int32': return new Int32Array(n);
    case 'uint32': return new Uint32Array(n);
  }
}

/** Decode one miMATRIX element's data into `out`. */
function readMatrix(el: Element, ctx: Ctx, out: MatFile): void {
  const buf = el.data;
  if (buf.length === 0) return; // an empty matrix element, allowed by the format
  const where = `the miMATRIX element at byte ${el.at}`;
  const flags = readElement(buf, 0, ctx, where, true);
  if (flags.type !== MI.UINT32 || flags.data.length < 8) {
    fail(ctx.what, ctx.file, `corrupt ${where}: array flags must be 8 bytes of miUINT32, got ${flags.data.length} bytes of ${miName(flags.type)}`);
  }
  const w = new DataView(flags.data.buffer, flags.data.byteOffset, 8).getUint32(0, ctx.le);
  const classCode = w & 0xff;
  const flagBits = (w >>> 8) & 0xff;
  const dimsEl = readElement(buf, flags.next, ctx, where, true);
  if (dimsEl.type !== MI.INT32 || dimsEl.data.length % 4 !== 0 || dimsEl.data.length < 8) {
    fail(ctx.what, ctx.file, `corrupt ${where}: dimensions must be at least 2 miINT32 values, got ${dimsEl.data.length} bytes of ${miName(dimsEl.type)}`);
  }
  const dv = new DataView(dimsEl.data.buffer, dimsEl.data.byteOffset, dimsEl.data.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < dimsEl.data.length / 4; i++) dims.push(dv.getInt32(4 * i, ctx.le));
  if (dims.some((d) => d < 0)) fail(ctx.what, ctx.file, `corrupt ${where}: negative dimension in ${dims.join('x')}`);
  const nameEl = readElement(buf, dimsEl.next, ctx, where, true);
  if (nameEl.type !== MI.INT8 && nameEl.type !== MI.UINT8 && nameEl.type !== MI.UTF8) {
    fail(ctx.what, ctx.file, `corrupt ${where}: array name must be miINT8, got ${miName(nameEl.type)}`);
  }
  const name = Buffer.from(nameEl.data).toString('latin1');
  const cls = MX_NUMERIC[classCode];
  if (cls === undefined) {
    out.skipped.push({ name, class: MX_OTHER[classCode] ?? `class ${classCode}` });
    return;
  }
  const count = dims.reduce((a, b) => a * b, 1);
  const label = `variable '${name}' (${cls} ${dims.join('x')})`;
  const real = readElement(buf, nameEl.next, ctx, where, true);
  const arr: MatArray = {
    name, class: cls, dims, data: decodeNumeric(real.data, real.type, count, cls, ctx, `${label} real part`),
    logical: (flagBits & 0x02) !== 0, global: (flagBits & 0x04) !== 0,
  };
  if (flagBits & 0x08) {
    const imag = readElement(buf, real.next, ctx, where, true);
    arr.imag = decodeNumeric(imag.data, imag.type, count, cls, ctx, `${label} imaginary part`);
  }
  if (out.arrays.has(name)) fail(ctx.what, ctx.file, `variable '${name}' appears twice`);
  out.arrays.set(name, arr);
}

/**
 * Parse the bytes of a level 5 MAT-file. `file` names it in messages.
 * Throws a DataError naming the file on a short or non-v5 header (wrong magic), a v7.3 (HDF5)
 * file, a truncated or corrupt element, or numeric data whose size does not match its dimensions.
 */
export function parseMat5(buf: Uint8Array, file: string, what = 'cannot read MAT-file'): MatFile {
  if (buf.length >= 520 && Buffer.from(buf.subarray(512, 520)).equals(Buffer.from('\x89HDF\r\n\x1a\n', 'latin1'))) {
    fail(what, file, 'this is a MATLAB v7.3 (HDF5) file; only level 5 files (save -v7 or -v6, scipy.io.savemat) are supported');
  }
  if (buf.length < 128) fail(what, file, `truncated file: ${buf.length} bytes, a MAT-file header has 128`);
  const ind = String.fromCharCode(buf[126], buf[127]);
  if (ind !== 'IM' && ind !== 'MI') {
    fail(what, file, `wrong magic: not a MATLAB level 5 MAT-file (endian indicator at bytes 126-127 is ${hexHead(buf.subarray(126, 128), 2)}, ` +
      `expected 'IM' or 'MI'; first bytes ${hexHead(buf)})`);
  }
  const le = ind === 'IM';
  const version = new DataView(buf.buffer, buf.byteOffset + 124, 2).getUint16(0, le);
  const header = Buffer.from(buf.subarray(0, 116)).toString('latin1').replace(/[\s\0]+$/, '');
  if (version !== 0x0100) {
    const hdf = version === 0x0200 ? ' (MATLAB v7.3 HDF5 files are not supported; save with -v7)' : '';
    fail(what, file, `unsupported MAT-file version 0x${version.toString(16).padStart(4, '0')}, expected 0x0100${hdf}`);
  }
  const ctx: Ctx = { file, le, what };
  const out: MatFile = { header, littleEndian: le, arrays: new Map(), skipped: [] };
  let pos = 128;
  while (pos < buf.length) {
    const el = readElement(buf, pos, ctx, 'the file', true);
    if (el.type === MI.MATRIX) {
      readMatrix(el, ctx, out);
    } else if (el.type === MI.COMPRESSED) {
      let inner: Buffer;
      try {
        inner = zlib.inflateSync(el.data);
      } catch (e) {
        return fail(what, file, `corrupt miCOMPRESSED element at byte ${el.at} (truncated file?): ${e instanceof Error ? e.message : String(e)}`);
      }
      const where = `the miCOMPRESSED element at byte ${el.at}`;
      let p = 0;
      while (p < inner.length) {
        const sub = readElement(inner, p, ctx, where, true);
        if (sub.type === MI.MATRIX) readMatrix({ ...sub, at: el.at }, ctx, out);
        else fail(what, file, `corrupt ${where}: it holds ${miName(sub.type)}, expected miMATRIX`);
        p = sub.next;
      }
    } else if (MI_NAMES[el.type] === undefined) {
      fail(what, file, `corrupt file: unknown data type ${el.type} in the element tag at byte ${el.at}`);
    }
    // Other known top-level types carry no variable; skip them.
    pos = el.next;
  }
  return out;
}

/** Read and parse a level 5 MAT-file (gzipped ones too); see `parseMat5`. */
export function readMat5(file: string, what = 'cannot read MAT-file'): MatFile {
  return parseMat5(readBytes(file, what), file, what);
}

/**
 * The numeric variable `name` of `mat`, or a DataError naming `file` and listing what it holds.
 */
export function matVariable(mat: MatFile, name: string, file: string, what = 'cannot read MAT-file'): MatArray {
  const arr = mat.arrays.get(name);
  if (arr) return arr;
  const skipped = mat.skipped.find((s) => s.name === name);
  if (skipped) fail(what, file, `variable '${name}' has class ${skipped.class}, unsupported (numeric arrays only)`);
  const have = [...mat.arrays.keys(), ...mat.skipped.map((s) => s.name)];
  return fail(what, file, `no variable '${name}' (the file holds ${have.length ? have.map((n) => `'${n}'`).join(', ') : 'no variables'})`);
}
