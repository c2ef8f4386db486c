/**
 * Results files: a notebook saves the rows of a result table as notebooks/results/NAME.json, and
 * README's tables are rendered from those files (`npm run readme`), so README's numbers are the
 * notebooks' numbers and cannot drift from them.
 *
 *   import { saveResults } from '../dist/lib/report/results';
 *   saveResults('recovery-rate', rows);    // rows: plain objects, one per table row
 *
 * Where it writes: $DLG_RESULTS_DIR when set (the notebook runner sets it, keeps the files of a
 * notebook that succeeds, and records their hashes in the notebook's provenance), else
 * notebooks/results/ of this repository (an interactive session writes there directly).
 *
 * The file holds the name, the run mode (full, or quick under DLG_QUICK=1: README tables refuse
 * quick results), the columns in order and the rows, one per line. No date or machine facts: the
 * file only changes when a result does. Numbers that JSON cannot hold (NaN, Infinity) are stored
 * as the strings "NaN", "Infinity", "-Infinity".
 */
import * as fs from 'fs';
import * as path from 'path';

/** One table row: column name -> value. */
export type ResultValue = string | number | boolean | null;
export type ResultRow = Record<string, ResultValue>;

export interface Results {
  name: string;
  mode: 'full' | 'quick';
  columns: string[];
  rows: ResultRow[];
}

export interface SaveResultsOptions {
  /** Folder to write into (default: $DLG_RESULTS_DIR, else <repo>/notebooks/results). */
  dir?: string;
  /** Column order (default: the keys of the rows in first-seen order). Every row key must be listed. */
  columns?: string[];
  /** Run mode to record (default: 'quick' when DLG_QUICK=1, else 'full'). */
  mode?: 'full' | 'quick';
}

const NAME = /^[a-z0-9][a-z0-9._-]*$/;

/** The default results folder: $DLG_RESULTS_DIR, else notebooks/results/ of this repository. */
export function resultsDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DLG_RESULTS_DIR) return path.resolve(env.DLG_RESULTS_DIR);
  // dist/lib/report -> the repository root is three levels up; lib/report (ts-node) two.
  const candidates = [path.resolve(__dirname, '../../..'), path.resolve(__dirname, '../..')];
  const root = candidates.find((d) => fs.existsSync(path.join(d, 'package.json'))) ?? candidates[0];
  return path.join(root, 'notebooks', 'results');
}

/**
 * Save a figure (a PNG of an image, e.g. a labelled progress grid) as results/NAME.png beside the
 * notebook, where README shows it; written, moved and checked like the tables. Returns the path.
 */
export function saveFigure(name: string, png: Uint8Array, opts: Pick<SaveResultsOptions, 'dir'> = {}): string {
  if (!NAME.test(name)) throw new Error(`saveFigure: name ${JSON.stringify(name)} must be lower-case letters, digits, '.', '_' or '-' (it names the file)`);
  const dir = opts.dir ?? resultsDir();
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  fs.writeFileSync(file, png);
  return file;
}

/** Checks rows and returns the Results object a file holds (no writing). */
export function makeResults(name: string, rows: ResultRow[], opts: Omit<SaveResultsOptions, 'dir'> = {}): Results {
  if (!NAME.test(name)) throw new Error(`saveResults: name ${JSON.stringify(name)} must be lower-case letters, digits, '.', '_' or '-' (it names the file)`);
  if (!Array.isArray(rows) || rows.length === 0) throw new Error(`saveResults('${name}'): no rows`);
  const seen: string[] = [];
  rows.forEach((r, i) => {
    if (!r || typeof r !== 'object' || Array.isArray(r)) throw new Error(`saveResults('${name}'): row ${i + 1} is not an object`);
    for (const k of Object.keys(r)) if (!seen.includes(k)) seen.push(k);
  });
  const columns = opts.columns ?? seen;
  const unknown = seen.filter((k) => !columns.includes(k));
  if (unknown.length) throw new Error(`saveResults('${name}'): columns ${unknown.join(', ')} are in the rows but not in options.columns`);
  const clean = rows.map((r, i) => {
    const out: ResultRow = {};
    for (const c of columns) {
      const v = r[c] === undefined ? null : r[c];
      if (typeof v === 'number' && !Number.isFinite(v)) out[c] = String(v);
      else if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[c] = v;
      else throw new Error(`saveResults('${name}'): row ${i + 1}, column '${c}' is ${typeof v}; values are strings, numbers, booleans or null`);
    }
    return out;
  });
  const mode = opts.mode ?? (process.env.DLG_QUICK === '1' ? 'quick' : 'full');
  return { name, mode, columns, rows: clean };
}

/** The file text: one row per line, so a diff shows which rows changed. */
export function resultsText(r: Results): string {
  const rows = r.rows.map((row) => `  ${JSON.stringify(row)}`).join(',\n');
  return `{\n "name": ${JSON.stringify(r.name)},\n "mode": ${JSON.stringify(r.mode)},\n "columns": ${JSON.stringify(r.columns)},\n "rows": [\n${rows}\n ]\n}\n`;
}

/** Writes DIR/NAME.json (see the file comment) and returns its path. */
export function saveResults(name: string, rows: ResultRow[], opts: SaveResultsOptions = {}): string {
  const r = makeResults(name, rows, opts);
  const dir = opts.dir ? path.resolve(opts.dir) : resultsDir();
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, resultsText(r));
  fs.renameSync(tmp, file);
  return file;
}

/** Reads and checks a results file. */
export function loadResults(file: string): Results {
  let o: Partial<Results>;
  try {
    o = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Results>;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${file}: ${code === 'ENOENT' ? 'no such results file' : (e as Error).message}`);
  }
  if (!o || typeof o.name !== 'string' || !Array.isArray(o.columns) || !Array.isArray(o.rows) || (o.mode !== 'full' && o.mode !== 'quick')) {
    throw new Error(`${file} is not a results file (name, mode, columns, rows)`);
  }
  return o as Results;
}

/** A value as a table cell: integers as they are, other numbers to 3 decimals or 3 significant digits (as report/table.ts). */
export function formatValue(v: ResultValue): string {
  if (v === null) return '';
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-2 || a >= 1e5) ? v.toExponential(2) : v.toFixed(3);
  }
  return String(v);
}

/** A markdown table of the results (pipes in values escaped). */
export function resultsMarkdown(r: Results): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [
    `| ${r.columns.map(esc).join(' | ')} |`,
    `|${r.columns.map(() => '---').join('|')}|`,
    ...r.rows.map((row) => `| ${r.columns.map((c) => esc(formatValue(row[c] ?? null))).join(' | ')} |`),
  ].join('\n');
}
