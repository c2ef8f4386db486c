/**
 * Compares the outputs of two executions of a notebook on everything except wall-clock times and
 * machine facts.
 *
 *   node dist/notebooks/tools/compare.js A.ipynb B.ipynb
 *   node dist/notebooks/tools/compare.js DIR_A DIR_B      every DIR_A/*.ipynb with DIR_B/ of the same name,
 *                                                         and DIR_A/results/*.json with DIR_B/results/
 *   node dist/notebooks/tools/compare.js                  out/notebooks against notebooks (npm run notebooks:compare)
 *
 * The convention (environment.md, "Comparing two runs"; notebooks follow it):
 *   - output lines beginning with `machine:` or `progress:` are ignored;
 *   - durations, a number followed by the unit ms, s, min or h (`12.3 s`, `2.1 min`, `45 ms`,
 *     `(3.0 s)`), are masked;
 *   - in markdown and HTML tables, columns whose header contains 'seconds', 'time', '(s)' or '(ms)'
 *     are masked (and, in results files, such columns);
 *   - everything else must be identical: stream text, markdown / HTML / plain displays, errors,
 *     PNG and SVG (and any other image) outputs by hash, the cells' sources.
 * Consecutive stream outputs of one name are compared as one (how a kernel splits its output into
 * messages is timing); execution counts and output metadata are ignored.
 *
 * Prints per notebook `identical` or the differences (cell and output numbers, 1-based, counting
 * every cell as the runner does, with a short text diff). Exit status: 0 all identical, 1 any
 * difference, 2 bad input (a missing file, a file that is not a notebook, an empty folder).
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { firstLine, joinText, Notebook, NotebookCell, NotebookError, NotebookOutput, readNotebook, sortKeys } from './notebook';
import { provenanceOf, RESULT_FILE } from './provenance';

/** Output lines that carry machine facts or progress: not compared. */
export const IGNORED_LINE = /^\s*(machine|progress):/;

/** A duration: a number and the unit ms, s, min or h, as a whole word. */
export const DURATION = /(?<![\w.])\d+(?:\.\d+)?(?:[eE][-+]?\d+)?[ \u00a0]?(?:ms|s|min|h)\b/g;

/** Table headers whose columns are times. */
export const TIME_HEADER = /seconds|time|\(s\)|\(ms\)/i;

export const MASK = '<masked>';
export const DURATION_MASK = '<duration>';

const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;

export function maskDurations(s: string): string {
  return s.replace(DURATION, DURATION_MASK);
}

/** Cells of a markdown table row: outer pipes dropped, split on unescaped pipes, trimmed. */
function splitRow(line: string): string[] {
  let s = line.trim();
  if (s.startsWith('|')) s = s.slice(1);
  if (s.endsWith('|') && !s.endsWith('\\|')) s = s.slice(0, -1);
  return s.split(/(?<!\\)\|/).map((c) => c.trim());
}

const SEPARATOR = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

/** Masks the time columns of every markdown table (a header row, a --- row, body rows) in `lines`. */
export function maskMarkdownTables(lines: string[]): string[] {
  const out = lines.slice();
  for (let i = 0; i + 1 < out.length; i++) {
    if (!out[i].includes('|') || !SEPARATOR.test(out[i + 1]) || !out[i + 1].includes('-')) continue;
    const header = splitRow(out[i]);
    const masked = header.map((h, k) => (TIME_HEADER.test(h) ? k : -1)).filter((k) => k >= 0);
    let j = i + 2;
    for (; j < out.length && out[j].includes('|') && out[j].trim() !== ''; j++) {
      if (masked.length === 0) continue;
      const cells = splitRow(out[j]);
      for (const k of masked) if (k < cells.length) cells[k] = MASK;
      out[j] = `| ${cells.join(' | ')} |`;
    }
    i = j - 1;
  }
  return out;
}

function htmlText(s: string): string {
  return s
    .replace(/<[^>]*>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&');
}

const colspan = (attrs: string): number => {
  const m = /colspan\s*=\s*["']?(\d+)/i.exec(attrs);
  return m ? Math.max(1, Number(m[1])) : 1;
};

const CELL = /<(t[hd])\b([^>]*)>([\s\S]*?)<\/\1\s*>/gi;

/** Masks the time columns of every HTML table: the header is the first row with <th> cells. */
export function maskHtmlTables(html: string): string {
  return html.replace(/<table\b[\s\S]*?<\/table\s*>/gi, (table) => {
    const state: { masked: Set<number> | null } = { masked: null };
    return table.replace(/<tr\b[^>]*>[\s\S]*?<\/tr\s*>/gi, (row) => {
      if (state.masked === null) {
        const cells = [...row.matchAll(CELL)];
        if (!cells.some((c) => c[1].toLowerCase() === 'th')) return row;
        const masked = new Set<number>();
        let col = 0;
        for (const c of cells) {
          const span = colspan(c[2]);
          if (TIME_HEADER.test(htmlText(c[3]))) for (let k = 0; k < span; k++) masked.add(col + k);
          col += span;
        }
        state.masked = masked;
        return row;
      }
      const masked = state.masked;
      if (masked.size === 0) return row;
      let col = 0;
      return row.replace(CELL, (m, tag: string, attrs: string) => {
        const span = colspan(attrs);
        let hit = false;
        for (let k = 0; k < span; k++) hit = hit || masked.has(col + k);
        col += span;
        return hit ? `<${tag}${attrs}>${MASK}</${tag}>` : m;
      });
    });
  });
}

/** Lines of a text output as compared: ANSI codes gone, \r and \n both end a line, ignored lines dropped, times masked. */
export function normalizeText(text: string, kind: 'plain' | 'html' = 'plain'): string[] {
  let t = text.replace(ANSI, '');
  if (kind === 'html' || /<table\b/i.test(t)) t = maskHtmlTables(t);
  let lines = t.split(/\r\n|\r|\n/);
  lines = maskMarkdownTables(lines);
  return lines.filter((l) => !IGNORED_LINE.test(l)).map(maskDurations);
}

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** "sha256 <12 hex>" of an image output, with a PNG's size. */
function imageLine(mime: string, value: unknown): string {
  const text = typeof value === 'string' || Array.isArray(value) ? joinText(value as string[]) : JSON.stringify(value);
  if (mime === 'image/svg+xml') return `sha256 ${sha(text).slice(0, 16)} (${text.length} characters)`;
  const bytes = Buffer.from(text.replace(/\s+/g, ''), 'base64');
  let size = `${bytes.length} bytes`;
  if (mime === 'image/png' && bytes.length >= 24 && bytes.toString('latin1', 12, 16) === 'IHDR') {
    size = `${bytes.readUInt32BE(16)}x${bytes.readUInt32BE(20)} PNG, ${size}`;
  }
  return `sha256 ${sha(bytes).slice(0, 16)} (${size})`;
}

/** One compared unit of a cell's outputs: a merged stream, one mime type of a display, an error. */
export interface Item {
  /** 1-based index of the (first) raw output it comes from. */
  output: number;
  /** e.g. "stream stdout", "display_data image/png", "error". */
  label: string;
  lines: string[];
}

/** A cell's outputs as compared (see the file comment). */
export function normalizeOutputs(outputs: NotebookOutput[]): Item[] {
  const items: Item[] = [];
  let stream: { name: string; text: string; output: number } | null = null;
  const flush = (): void => {
    if (!stream) return;
    const lines = normalizeText(stream.text);
    if (lines.length && lines[lines.length - 1] === '') lines.pop();
    if (lines.length) items.push({ output: stream.output, label: `stream ${stream.name}`, lines });
    stream = null;
  };
  outputs.forEach((o, i) => {
    if (o.output_type === 'stream') {
      const name = o.name ?? 'stdout';
      if (stream && stream.name === name) stream.text += joinText(o.text);
      else {
        flush();
        stream = { name, text: joinText(o.text), output: i + 1 };
      }
      return;
    }
    flush();
    if (o.output_type === 'error') {
      items.push({ output: i + 1, label: 'error', lines: normalizeText(`${o.ename ?? ''}: ${o.evalue ?? ''}`) });
      return;
    }
    const data = o.data ?? {};
    for (const mime of Object.keys(data).sort()) {
      const v = data[mime];
      let lines: string[];
      if (mime.startsWith('image/')) lines = [imageLine(mime, v)];
      else if (typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'))) {
        lines = normalizeText(joinText(v as string[]), mime === 'text/html' ? 'html' : 'plain');
      } else lines = JSON.stringify(sortKeys(v), null, 1).split('\n');
      items.push({ output: i + 1, label: `${o.output_type} ${mime}`, lines });
    }
    if (Object.keys(data).length === 0) items.push({ output: i + 1, label: o.output_type, lines: [] });
  });
  flush();
  return items;
}

/** Longest common subsequence alignment of two sequences: matched index pairs, in order. */
function lcs<T>(a: T[], b: T[], eq: (x: T, y: T) => boolean): [number, number][] {
  // Trim the common prefix and suffix first: outputs usually differ in a few lines.
  let p = 0;
  while (p < a.length && p < b.length && eq(a[p], b[p])) p++;
  let s = 0;
  while (s < a.length - p && s < b.length - p && eq(a[a.length - 1 - s], b[b.length - 1 - s])) s++;
  const pairs: [number, number][] = [];
  for (let k = 0; k < p; k++) pairs.push([k, k]);
  const n = a.length - p - s;
  const m = b.length - p - s;
  if (n > 0 && m > 0 && n * m <= 4_000_000) {
    const dp = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        dp[i][j] = eq(a[p + i], b[p + j]) ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n && j < m) {
      if (eq(a[p + i], b[p + j])) {
        pairs.push([p + i, p + j]);
        i++;
        j++;
      } else if (dp[i + 1][j] >= dp[i][j + 1]) i++;
      else j++;
    }
  }
  for (let k = 0; k < s; k++) pairs.push([a.length - s + k, b.length - s + k]);
  return pairs;
}

/** Shortens a line to ~`width` characters around column `at`. */
function clip(line: string, at: number, width = 110): string {
  if (line.length <= width) return line;
  const start = Math.max(0, Math.min(at - 30, line.length - width));
  return (start > 0 ? '…' : '') + line.slice(start, start + width) + (start + width < line.length ? '…' : '');
}

/** A short line diff: "line N: - old" / "line N: + new", at most `max` lines. */
export function lineDiff(a: string[], b: string[], max = 10): string[] {
  const pairs = lcs(a, b, (x, y) => x === y);
  const out: string[] = [];
  let ia = 0;
  let ib = 0;
  const hunk = (ea: number, eb: number): void => {
    const removed = a.slice(ia, ea).map((l, k) => ({ n: ia + k + 1, l }));
    const added = b.slice(ib, eb).map((l, k) => ({ n: ib + k + 1, l }));
    for (let k = 0; k < Math.max(removed.length, added.length); k++) {
      const r = removed[k];
      const d = added[k];
      let at = 0;
      if (r && d) while (at < r.l.length && at < d.l.length && r.l[at] === d.l[at]) at++;
      if (r) out.push(`line ${r.n}: - ${clip(r.l, at)}`);
      if (d) out.push(`line ${d.n}: + ${clip(d.l, at)}`);
    }
  };
  for (const [pa, pb] of pairs) {
    if (pa > ia || pb > ib) hunk(pa, pb);
    ia = pa + 1;
    ib = pb + 1;
  }
  if (ia < a.length || ib < b.length) hunk(a.length, b.length);
  return out.length > max ? [...out.slice(0, max), `... ${out.length - max} more changed lines`] : out;
}

/** One difference between two executions. */
export interface Difference {
  /** 1-based cell number (every cell counts, markdown too). */
  cell: number;
  /** 1-based output number in A (or in B for an output only B has). */
  output?: number;
  /** What differs, e.g. "stream stdout" or "image/png". */
  what: string;
  /** The short diff. */
  lines: string[];
}

function compareCell(ca: NotebookCell, cb: NotebookCell, cell: number): Difference[] {
  const diffs: Difference[] = [];
  if (ca.cell_type !== cb.cell_type || joinText(ca.source) !== joinText(cb.source)) {
    diffs.push({ cell, what: 'source (not two runs of the same notebook?)', lines: lineDiff(joinText(ca.source).split('\n'), joinText(cb.source).split('\n'), 6) });
  }
  const ia = normalizeOutputs(ca.outputs ?? []);
  const ib = normalizeOutputs(cb.outputs ?? []);
  const pairs = lcs(ia, ib, (x, y) => x.label === y.label);
  let na = 0;
  let nb = 0;
  const unmatched = (ea: number, eb: number): void => {
    for (; na < ea; na++) diffs.push({ cell, output: ia[na].output, what: `${ia[na].label} only in A`, lines: ia[na].lines.slice(0, 3).map((l) => `- ${clip(l, 0)}`) });
    for (; nb < eb; nb++) diffs.push({ cell, output: ib[nb].output, what: `${ib[nb].label} only in B`, lines: ib[nb].lines.slice(0, 3).map((l) => `+ ${clip(l, 0)}`) });
  };
  for (const [pa, pb] of pairs) {
    unmatched(pa, pb);
    const x = ia[pa];
    const y = ib[pb];
    if (x.lines.length !== y.lines.length || x.lines.some((l, k) => l !== y.lines[k])) {
      const image = x.label.includes(' image/');
      diffs.push({ cell, output: x.output, what: x.label, lines: image ? [`A: ${x.lines[0]}`, `B: ${y.lines[0]}`] : lineDiff(x.lines, y.lines) });
    }
    na = pa + 1;
    nb = pb + 1;
  }
  unmatched(ia.length, ib.length);
  return diffs;
}

/** The differences between the outputs of two executions of a notebook ([] when identical). */
export function compareNotebooks(a: Notebook, b: Notebook): Difference[] {
  const diffs: Difference[] = [];
  const n = Math.min(a.cells.length, b.cells.length);
  for (let i = 0; i < n; i++) diffs.push(...compareCell(a.cells[i], b.cells[i], i + 1));
  for (let i = n; i < a.cells.length; i++) diffs.push({ cell: i + 1, what: 'cell only in A', lines: [`- ${firstLine(a.cells[i].source)}`] });
  for (let i = n; i < b.cells.length; i++) diffs.push({ cell: i + 1, what: 'cell only in B', lines: [`+ ${firstLine(b.cells[i].source)}`] });
  return diffs;
}

/** Notes that explain differences without being any: run modes, fingerprints. */
export function provenanceNotes(a: Notebook, b: Notebook): string[] {
  const pa = provenanceOf(a);
  const pb = provenanceOf(b);
  if (!pa || !pb) return [];
  const notes: string[] = [];
  if (pa.run?.mode !== pb.run?.mode) notes.push(`A is a ${pa.run?.mode} run, B a ${pb.run?.mode} run`);
  const comps = (['notebook', 'lib', 'lockfile', 'datasets'] as const).filter((k) => pa.fingerprint[k] !== pb.fingerprint[k]);
  if (comps.length) notes.push(`the runs' fingerprints differ in ${comps.join(', ')}`);
  return notes;
}

/** A results file (lib/report/results.ts) as compared: time columns masked, durations in strings masked. */
function normalizeResults(r: unknown, file: string): { mode: unknown; columns: string[]; rows: Record<string, unknown>[] } {
  const o = r as { mode?: unknown; columns?: unknown; rows?: unknown };
  if (!o || typeof o !== 'object' || !Array.isArray(o.columns) || !Array.isArray(o.rows)) {
    throw new NotebookError(`${file} is not a results file (no "columns" and "rows")`);
  }
  const columns = o.columns.map(String);
  const rows = (o.rows as Record<string, unknown>[]).map((row) => {
    const out: Record<string, unknown> = {};
    for (const c of columns) {
      const v = row?.[c];
      out[c] = TIME_HEADER.test(c) ? MASK : typeof v === 'string' ? maskDurations(v) : v ?? null;
    }
    return out;
  });
  return { mode: o.mode, columns, rows };
}

/** The differences between two results files, one line each ([] when identical). */
export function compareResults(a: unknown, b: unknown, fileA = 'A', fileB = 'B'): string[] {
  const x = normalizeResults(a, fileA);
  const y = normalizeResults(b, fileB);
  const out: string[] = [];
  if (x.mode !== y.mode) out.push(`mode: ${String(x.mode)} vs ${String(y.mode)}`);
  if (JSON.stringify(x.columns) !== JSON.stringify(y.columns)) out.push(`columns: ${x.columns.join(', ')} vs ${y.columns.join(', ')}`);
  if (x.rows.length !== y.rows.length) out.push(`${x.rows.length} rows vs ${y.rows.length}`);
  for (let i = 0; i < Math.min(x.rows.length, y.rows.length); i++) {
    for (const c of x.columns) {
      const va = JSON.stringify(x.rows[i][c]);
      const vb = JSON.stringify(y.rows[i][c] ?? null);
      if (va !== vb) out.push(`row ${i + 1}, ${c}: ${va} vs ${vb}`);
    }
  }
  return out;
}

/** The report on one pair: a name, its differences (as printed lines) and notes. */
export interface PairReport {
  name: string;
  identical: boolean;
  /** Number of differences. */
  count: number;
  lines: string[];
}

/** Formats a notebook comparison as the lines `compare` prints under its name. */
export function formatDifferences(diffs: Difference[], notes: string[] = []): string[] {
  const lines: string[] = [];
  for (const d of diffs) {
    lines.push(`  cell ${d.cell}${d.output !== undefined ? `, output ${d.output}` : ''}: ${d.what}`);
    for (const l of d.lines) lines.push(`      ${l}`);
  }
  for (const n of notes) lines.push(`  (note: ${n})`);
  return lines;
}

/** Compares two notebook files. Throws NotebookError on bad input. */
export function compareFiles(fileA: string, fileB: string, name = path.basename(fileA)): PairReport {
  const a = readNotebook(fileA);
  const b = readNotebook(fileB);
  const diffs = compareNotebooks(a, b);
  const notes = provenanceNotes(a, b);
  return { name, identical: diffs.length === 0, count: diffs.length, lines: formatDifferences(diffs, notes) };
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new NotebookError(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

/** Compares two results files. */
export function compareResultsFiles(fileA: string, fileB: string, name: string): PairReport {
  if (!fs.existsSync(fileB)) return { name, identical: false, count: 1, lines: [`  only in A: ${fileB} does not exist`] };
  if (!fileA.endsWith('.json')) {
    // a figure (PNG): the same bytes or not
    const [a, b] = [fs.readFileSync(fileA), fs.readFileSync(fileB)];
    return a.equals(b) ? { name, identical: true, count: 0, lines: [] } : { name, identical: false, count: 1, lines: [`  figure differs: ${a.length} vs ${b.length} bytes`] };
  }
  const d = compareResults(readJson(fileA), readJson(fileB), fileA, fileB);
  const shown = d.length > 10 ? [...d.slice(0, 10), `... ${d.length - 10} more`] : d;
  return { name, identical: d.length === 0, count: d.length, lines: shown.map((l) => `  ${l}`) };
}

/**
 * Every DIR_A/*.ipynb against DIR_B/ of the same name, and DIR_A/results/*.json against
 * DIR_B/results/. A notebook or results file only in A is a difference; files only in B are not
 * looked at (A is usually a partial re-run). Throws NotebookError when DIR_A holds no notebook.
 */
export function compareFolders(dirA: string, dirB: string): PairReport[] {
  for (const d of [dirA, dirB]) if (!fs.existsSync(d) || !fs.statSync(d).isDirectory()) throw new NotebookError(`${d}: no such folder`);
  const names = fs.readdirSync(dirA).filter((f) => f.endsWith('.ipynb') && !f.startsWith('.')).sort();
  if (names.length === 0) throw new NotebookError(`no notebooks (*.ipynb) in ${dirA}`);
  const reports: PairReport[] = [];
  for (const n of names) {
    const b = path.join(dirB, n);
    if (!fs.existsSync(b)) reports.push({ name: n, identical: false, count: 1, lines: [`  only in A: ${b} does not exist`] });
    else reports.push(compareFiles(path.join(dirA, n), b, n));
  }
  const ra = path.join(dirA, 'results');
  if (fs.existsSync(ra)) {
    for (const f of fs.readdirSync(ra).filter((x) => RESULT_FILE.test(x)).sort()) {
      reports.push(compareResultsFiles(path.join(ra, f), path.join(dirB, 'results', f), `results/${f}`));
    }
  }
  return reports;
}

/** Prints reports; returns the exit status (0 all identical, 1 some difference). */
export function printReports(reports: PairReport[], log: (s: string) => void): number {
  for (const r of reports) {
    log(`${r.name}: ${r.identical ? 'identical' : `${r.count} difference(s)`}`);
    for (const l of r.lines) log(l);
  }
  const same = reports.filter((r) => r.identical).length;
  log(`compare: ${same} identical, ${reports.length - same} different`);
  return same === reports.length ? 0 : 1;
}

export function main(argv: string[] = process.argv.slice(2)): number {
  const log = (s: string): void => void process.stdout.write(s + '\n');
  const usage = 'usage: compare A.ipynb B.ipynb | compare DIR_A DIR_B | compare (out/notebooks against notebooks)';
  if (argv.some((a) => a === '-h' || a === '--help')) {
    log(usage);
    return 0;
  }
  try {
    let [a, b] = argv;
    if (argv.length === 0) {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const root = (require('./jupyter') as typeof import('./jupyter')).repoRoot();
      a = path.join(root, 'out', 'notebooks');
      b = path.join(root, 'notebooks');
    } else if (argv.length !== 2 || argv.some((x) => x.startsWith('-'))) {
      process.stderr.write(`compare: expected two notebooks or two folders\n${usage}\n`);
      return 2;
    }
    const dirs = [a, b].map((p) => fs.existsSync(p) && fs.statSync(p).isDirectory());
    if (dirs[0] !== dirs[1]) throw new NotebookError(`compare a notebook with a notebook or a folder with a folder, not ${a} with ${b}`);
    const reports = dirs[0] ? compareFolders(a, b) : [compareFiles(a, b)];
    return printReports(reports, log);
  } catch (e) {
    process.stderr.write(`compare: ${(e as Error).message}\n`);
    return 2;
  }
}

if (require.main === module) {
  // A closed pipe (`... | head`) ends the output quietly.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' ? process.exit() : undefined));
  process.exitCode = main();
}
