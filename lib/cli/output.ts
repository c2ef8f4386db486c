/**
 * Where a command writes its files, checked before any work starts, and how: each file atomically
 * (a temporary file in the same folder, then a rename), so that a reader never sees half a file and an
 * interrupted run leaves the previous file intact.
 *
 *   const out = prepareOutDir(args.out, ['progress.png', 'reconstruction.png', 'result.json']);  // before the attack
 *   ... attack ...; print the JSON line ...
 *   out.write('result.json', json);
 *
 * Every problem is a UsageError naming --out: an existing file where the folder should be, a parent
 * that is a file, a folder we cannot write, a planned file name taken by a folder, and pseudo
 * filesystems (/proc, /sys, /dev), where Node's recursive mkdir can hang.
 */
import * as fs from 'fs';
import * as path from 'path';
import { UsageError } from './args';

export interface OutDir {
  /** The folder (absolute). */
  readonly dir: string;
  /** Write `name` in the folder atomically; returns its path. */
  write(name: string, data: string | Uint8Array): string;
}

const PSEUDO = ['/proc', '/sys', '/dev'];

function errnoText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const why: Record<string, string> = {
    EACCES: 'permission denied', EPERM: 'permission denied', EROFS: 'read-only file system', ENOSPC: 'no space left on the device',
    ENOTDIR: 'a parent is not a directory', EEXIST: 'exists and is not a directory', ENAMETOOLONG: 'name too long', ENOENT: 'no such directory',
  };
  return (err.code && why[err.code]) ?? err.message ?? String(e);
}

/** Create `dir` one level at a time (Node's recursive mkdir can loop forever on pseudo filesystems). */
function makeDirs(dir: string, flag: string): void {
  const missing: string[] = [];
  let d = dir;
  for (;;) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(d);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new UsageError(`${flag} ${dir}: ${errnoText(e)}`);
    }
    if (st !== undefined) {
      if (!st.isDirectory()) throw new UsageError(`${flag} ${dir}: ${d === dir ? 'exists and is not a directory' : `${d} is not a directory`}`);
      break;
    }
    missing.push(d);
    const up = path.dirname(d);
    if (up === d) break;
    d = up;
  }
  for (const m of missing.reverse()) {
    try {
      fs.mkdirSync(m);
    } catch (e) {
      throw new UsageError(`${flag} ${dir}: cannot create ${m}: ${errnoText(e)}`);
    }
  }
}

/** Write `data` to `file` through a temporary file in the same folder and a rename. */
export function writeAtomic(file: string, data: string | Uint8Array): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    try { fs.unlinkSync(tmp); } catch { /* nothing to clean */ }
    throw new Error(`cannot write ${file}: ${errnoText(e)}`);
  }
}

/** Refuse pseudo filesystems, where writes can block or mean something else. */
export function checkNotPseudo(target: string, flag: string): void {
  const abs = path.resolve(target);
  if (PSEUDO.some((p) => abs === p || abs.startsWith(p + '/'))) throw new UsageError(`${flag} ${target}: ${abs.split('/').slice(0, 2).join('/')} is a pseudo filesystem, not a place for results`);
}

/**
 * Check and create the output folder and make sure `files` can be written there, before any work.
 * `flag` names the option in messages (default '--out').
 */
export function prepareOutDir(dir: string, files: string[], flag = '--out'): OutDir {
  checkNotPseudo(dir, flag);
  const abs = path.resolve(dir);
  makeDirs(abs, flag);
  const probe = path.join(abs, `.dlg-write-test.${process.pid}`);
  try {
    fs.writeFileSync(probe, '');
    fs.unlinkSync(probe);
  } catch (e) {
    throw new UsageError(`${flag} ${dir}: cannot write there: ${errnoText(e)}`);
  }
  for (const f of files) {
    const p = path.join(abs, f);
    if (fs.existsSync(p) && !fs.statSync(p).isFile()) throw new UsageError(`${flag} ${dir}: ${f} exists there and is not a file`);
  }
  return {
    dir: abs,
    write(name: string, data: string | Uint8Array): string {
      const p = path.join(abs, name);
      writeAtomic(p, data);
      return p;
    },
  };
}

/**
 * Check that `file` can be created or appended to (a results file of a sweep), before any work:
 * its folder is created; an existing folder of that name, or a pseudo filesystem, is a UsageError.
 */
export function prepareOutFile(file: string, flag = '--out'): string {
  checkNotPseudo(file, flag);
  const abs = path.resolve(file);
  if (fs.existsSync(abs) && !fs.statSync(abs).isFile()) throw new UsageError(`${flag} ${file}: exists and is not a file`);
  makeDirs(path.dirname(abs), flag);
  try {
    fs.appendFileSync(abs, '');
  } catch (e) {
    throw new UsageError(`${flag} ${file}: cannot write there: ${errnoText(e)}`);
  }
  return abs;
}
