/**
 * The safetensors format (Hugging Face): the file layout of today's published checkpoints,
 * bert-base-uncased's model.safetensors among them. A file is
 *   8 bytes   N, little-endian unsigned 64-bit
 *   N bytes   a JSON header: { "<tensor name>": { "dtype": "F32", "shape": [rows, cols],
 *             "data_offsets": [begin, end] }, ..., "__metadata__": { string: string } (optional) }
 *   the rest  the tensors' bytes, little-endian, row-major, at [begin, end) from the end of the header.
 * Read here: F64, F32, F16, BF16 (as float32), I64, I32, I16, I8, U8 (as float32, for buffers such as
 * position_ids). Written: F32. Every malformed file is one clear error.
 */
import * as fs from 'fs';

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface Safetensors {
  tensors: Map<string, NamedTensor>;
  /** dtype of each tensor as stored */
  dtypes: Map<string, string>;
  metadata: Record<string, string>;
}

const BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1 };

/** IEEE half precision to a number. */
function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f === 0 ? s * Infinity : NaN;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

function decode(bytes: Buffer, dtype: string, count: number): Float32Array {
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < count; i++) {
    switch (dtype) {
      case 'F64': out[i] = view.getFloat64(8 * i, true); break;
      case 'F32': out[i] = view.getFloat32(4 * i, true); break;
      case 'F16': out[i] = halfToFloat(view.getUint16(2 * i, true)); break;
      case 'BF16': {
        const b = new DataView(new ArrayBuffer(4));
        b.setUint32(0, view.getUint16(2 * i, true) << 16, true);
        out[i] = b.getFloat32(0, true);
        break;
      }
      case 'I64': out[i] = Number(view.getBigInt64(8 * i, true)); break;
      case 'I32': out[i] = view.getInt32(4 * i, true); break;
      case 'I16': out[i] = view.getInt16(2 * i, true); break;
      case 'I8': out[i] = view.getInt8(i); break;
      default: out[i] = view.getUint8(i);
    }
  }
  return out;
}

/** Parse a safetensors file (path or bytes). */
export function readSafetensors(source: string | Buffer): Safetensors {
  const where = typeof source === 'string' ? source : 'safetensors data';
  let bytes: Buffer;
  if (typeof source === 'string') {
    try {
      bytes = fs.readFileSync(source);
    } catch (e) {
      throw new Error(`cannot read checkpoint ${source}: ${(e as Error).message}`);
    }
  } else bytes = source;
  if (bytes.length < 8) throw new Error(`${where}: not a safetensors file (${bytes.length} bytes, no header length)`);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  if (headerLength < 2 || 8 + headerLength > bytes.length) throw new Error(`${where}: not a safetensors file (header length ${headerLength} for ${bytes.length} bytes)`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${where}: the safetensors header is not JSON (${(e as Error).message})`);
  }
  const body = bytes.subarray(8 + headerLength);
  const tensors = new Map<string, NamedTensor>();
  const dtypes = new Map<string, string>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (entry ?? {}) as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = (entry ?? {}) as { dtype?: string; shape?: number[]; data_offsets?: number[] };
    if (typeof dtype !== 'string' || !(dtype in BYTES)) throw new Error(`${where}: tensor ${name} has dtype ${JSON.stringify(dtype)} (readable: ${Object.keys(BYTES).join(', ')})`);
    if (!Array.isArray(shape) || !shape.every((k) => Number.isInteger(k) && k >= 0)) throw new Error(`${where}: tensor ${name} has no valid shape`);
    if (!Array.isArray(offsets) || offsets.length !== 2) throw new Error(`${where}: tensor ${name} has no data_offsets`);
    const count = shape.reduce((a, b) => a * b, 1);
    const [begin, end] = offsets;
    if (!(Number.isInteger(begin) && Number.isInteger(end) && begin >= 0 && end - begin === count * BYTES[dtype] && end <= body.length)) {
      throw new Error(`${where}: tensor ${name} (${dtype} ${JSON.stringify(shape)}) has data_offsets [${begin}, ${end}] that do not fit its size or the file`);
    }
    tensors.set(name, { name, shape, data: decode(body.subarray(begin, end), dtype, count) });
    dtypes.set(name, dtype);
  }
  return { tensors, dtypes, metadata };
}

/** Write float32 tensors as a safetensors file (names sorted, as the reference writer does). */
export function writeSafetensors(file: string, tensors: readonly NamedTensor[], metadata: Record<string, string> = {}): void {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of sorted) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`writeSafetensors: ${t.name} has ${t.data.length} values for shape ${JSON.stringify(t.shape)}`);
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * count] };
    offset += 4 * count;
  }
  let json = JSON.stringify(header);
  // pad the header with spaces to a multiple of 8 bytes (as the reference writer does)
  json += ' '.repeat((8 - ((Buffer.byteLength(json) + 8) % 8)) % 8);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const body = Buffer.alloc(offset);
  let at = 0;
  for (const t of sorted) {
    for (let i = 0; i < t.data.length; i++) body.writeFloatLE(t.data[i], at + 4 * i);
    at += 4 * t.data.length;
  }
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(json, 'utf8'), body]));
}
