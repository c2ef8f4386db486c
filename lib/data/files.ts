/**
 * Reading dataset files: whole-file reads with clear errors, gzip recognised by its magic bytes
 * (not by the `.gz` extension), and the shared `DataError` whose message always names the file.
 */
import * as fs from 'fs';
import * as zlib from 'zlib';

/** An error about one data file; the message starts with `<what> <file>:` so it names the file. */
export class DataError extends Error {
  constructor(readonly file: string, message: string) {
    super(message);
    this.name = 'DataError';
  }
}

/** Throw a DataError `"<what> <file>: <reason>"`. */
export function fail(what: string, file: string, reason: string): never {
  throw new DataError(file, `${what} ${file}: ${reason}`);
}

const GZIP_MAGIC = [0x1f, 0x8b];

/** True when `buf` starts with the gzip magic bytes 1f 8b. */
export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === GZIP_MAGIC[0] && buf[1] === GZIP_MAGIC[1];
}

/**
 * The bytes of `file`, gunzipped when they start with the gzip magic (whatever the extension).
 * `what` names the reader in messages ("cannot load idx images", ...). Throws a DataError naming
 * the file when it is missing, a directory, unreadable, or a corrupt or truncated gzip stream.
 */
export function readBytes(file: string, what: string): Buffer {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') fail(what, file, 'no such file');
    if (code === 'EISDIR') fail(what, file, 'it is a directory, not a file');
    fail(what, file, `cannot read it (${code ?? (e instanceof Error ? e.message : String(e))})`);
  }
  if (!isGzip(buf)) return buf;
  try {
    return zlib.gunzipSync(buf);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    return fail(what, file, `corrupt gzip data (truncated file?): ${msg}`);
  }
}

/** The first bytes of `buf` in hex, for "wrong magic" messages. */
export function hexHead(buf: Uint8Array, n = 8): string {
  const head = Array.from(buf.subarray(0, n), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return head || 'none, the file is empty';
}
