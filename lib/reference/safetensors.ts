/**
 * safetensors files (https://huggingface.co/docs/safetensors), read and written with plain Buffers:
 *
 *   8 bytes   N, little-endian u64
 *   N bytes   JSON header, padded with spaces:
 *             {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
 *              "__metadata__": {"key": "string value"}}
 *   the rest  the tensors' bytes, little-endian, C order; offsets count from the end of the header
 *
 * The toolkit and the PyTorch reference (lib/reference/state_io.py) exchange their shared initial
 * states in this format (lib/reference/start-state.ts): float32 values travel bit for bit, and
 * numpy, torch and the `safetensors` package all read the files. Only F32, F64 and I32 are used.
 */
import * as fs from 'fs';

export type SafeDtype = 'F32' | 'F64' | 'I32';

/** One tensor: its values in C order and its shape ([] for a scalar). */
export interface SafeTensor {
  dtype: SafeDtype;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array;
}

/** A file's tensors by name, and its string metadata. */
export interface SafeFile {
  tensors: Record<string, SafeTensor>;
  metadata: Record<string, string>;
}

const SIZE: Record<SafeDtype, number> = { F32: 4, F64: 8, I32: 4 };

/** A float32 tensor (values rounded to float32) of the given shape. */
export function f32(data: ArrayLike<number>, shape: number[]): SafeTensor {
  return { dtype: 'F32', shape, data: Float32Array.from(data) };
}

/** The bytes of a safetensors file holding `tensors` (sorted by name) and `metadata`. */
export function encodeSafetensors(file: SafeFile): Buffer {
  const header: Record<string, unknown> = {};
  const names = Object.keys(file.tensors).sort();
  let offset = 0;
  for (const name of names) {
    const t = file.tensors[name];
    checkTensor(name, t);
    const bytes = t.data.length * SIZE[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  if (Object.keys(file.metadata).length > 0) header.__metadata__ = file.metadata;
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const head = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + head.length + offset);
  out.writeBigUInt64LE(BigInt(head.length), 0);
  head.copy(out, 8);
  let at = 8 + head.length;
  for (const name of names) {
    const t = file.tensors[name];
    for (let i = 0; i < t.data.length; i++, at += SIZE[t.dtype]) {
      if (t.dtype === 'F32') out.writeFloatLE(t.data[i], at);
      else if (t.dtype === 'F64') out.writeDoubleLE(t.data[i], at);
      else out.writeInt32LE(t.data[i], at);
    }
  }
  return out;
}

/** Write a safetensors file. */
export function writeSafetensors(path: string, file: SafeFile): void {
  fs.writeFileSync(path, encodeSafetensors(file));
}

/** Parse safetensors bytes; `name` labels error messages (one line each, naming the file). */
export function decodeSafetensors(buf: Buffer, name = 'safetensors data'): SafeFile {
  const fail = (why: string): never => {
    throw new Error(`cannot read ${name}: ${why}`);
  };
  if (buf.length < 8) fail(`not a safetensors file (${buf.length} bytes, no header length)`);
  const n = Number(buf.readBigUInt64LE(0));
  if (8 + n > buf.length) fail(`not a safetensors file (header length ${n} runs past the end of its ${buf.length} bytes)`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  } catch (e) {
    return fail(`malformed JSON header (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('the header is not a JSON object');
  const metadata: Record<string, string> = {};
  const tensors: Record<string, SafeTensor> = {};
  const base = 8 + n;
  for (const [key, value] of Object.entries(header)) {
    if (key === '__metadata__') {
      for (const [k, v] of Object.entries((value ?? {}) as Record<string, unknown>)) metadata[k] = String(v);
      continue;
    }
    const info = value as { dtype?: string; shape?: number[]; data_offsets?: number[] };
    const dtype = info?.dtype as SafeDtype;
    if (!(dtype in SIZE)) fail(`tensor '${key}' has dtype ${JSON.stringify(info?.dtype)} (read: F32, F64, I32)`);
    const shape = info.shape as number[];
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`tensor '${key}' has a malformed shape ${JSON.stringify(shape)}`);
    const [begin, end] = info.data_offsets ?? [];
    const count = shape.reduce((a, b) => a * b, 1);
    if (!Number.isInteger(begin) || !Number.isInteger(end) || end - begin !== count * SIZE[dtype] || base + end > buf.length) {
      fail(`tensor '${key}' (${dtype} ${JSON.stringify(shape)}) has data offsets ${JSON.stringify(info.data_offsets)} that do not fit its shape or the file (${buf.length - base} data bytes)`);
    }
    const data = dtype === 'F32' ? new Float32Array(count) : dtype === 'F64' ? new Float64Array(count) : new Int32Array(count);
    for (let i = 0, at = base + begin; i < count; i++, at += SIZE[dtype]) {
      data[i] = dtype === 'F32' ? buf.readFloatLE(at) : dtype === 'F64' ? buf.readDoubleLE(at) : buf.readInt32LE(at);
    }
    tensors[key] = { dtype, shape: [...shape], data };
  }
  return { tensors, metadata };
}

/** Read a safetensors file (errors name the file). */
export function readSafetensors(path: string): SafeFile {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : code ?? (e as Error).message}`);
  }
  return decodeSafetensors(buf, path);
}

function checkTensor(name: string, t: SafeTensor): void {
  if (!(t.dtype in SIZE)) throw new Error(`safetensors: tensor '${name}' has unsupported dtype '${t.dtype}'`);
  const count = t.shape.reduce((a, b) => a * b, 1);
  if (!t.shape.every((d) => Number.isInteger(d) && d >= 0) || count !== t.data.length) {
    throw new Error(`safetensors: tensor '${name}' has shape ${JSON.stringify(t.shape)} but ${t.data.length} values`);
  }
}
