/**
 * The notebook kit: what every notebook of the sequence does, in a few calls, so that a notebook reads
 * claim -> a few lines of lib -> figure -> check -> the paper beside our measurement.
 *
 *   setup({ iterations: pick(300, 100), seeds: [1, 2] });        // prints 'machine: ...' and the settings
 *   const runs = await sweep('defendedAttack', jobs);            // worker threads, 'progress: ...' lines
 *   table(summarize(runs, (r) => r.defense, { recovered: rate((r) => r.recovered) }));
 *   check([[runs[0].recovered, 'undefended: recovered']]);       // throws when a claim fails
 *   paperTable([{ claim, paper, ours, verdict: 'holds' }]);
 *
 * Output conventions (so that two executions of a notebook compare equal on results only; see
 * environment.md): lines starting with 'machine:' carry machine facts, lines starting with 'progress:'
 * carry progress and times; everything else is a result and must be the same on every run.
 * Quick mode (DLG_QUICK=1, what `npm run notebooks:quick` sets) shrinks the experiments; the claim
 * checks run in both modes, at thresholds that suit each.
 */
import * as os from 'os';
import * as path from 'path';
import { saveResults } from './results';
import { engineInfo } from '../engine';
import { runParallel } from '../experiments/parallel';
import { TASKS } from '../experiments';
import type { TaskName } from '../experiments';
import { groupBy, median, mean } from '../analysis/stats';
import { renderSvg } from './plot';
import type { Plot, FigureLayout } from './plot';
import { dataFrame, dataFrameMarkdown } from './table';
import type { Row } from './table';
import { makeGrid, toPngBuffer } from '../data/image';
import type { Img, GridOptions } from '../data/image';
import { progressLine, formatDuration } from './progress';

/** Quick mode: DLG_QUICK=1 in the kernel's environment. */
export const QUICK = process.env.DLG_QUICK === '1';

/** `full` normally, `quick` in quick mode. */
export function pick<T>(full: T, quick: T): T {
  return QUICK ? quick : full;
}

// ---- display: tslab's rich outputs inside a kernel, plain text elsewhere (scripts, tests)

interface TslabDisplay {
  markdown(s: string): void;
  svg(s: string): void;
  png(b: Uint8Array): void;
  html(s: string): void;
}

function tslabDisplay(): TslabDisplay | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const d = (require('tslab') as { display: TslabDisplay }).display;
    d.markdown(''); // throws outside a kernel
    return d;
  } catch {
    return null;
  }
}

let cachedDisplay: TslabDisplay | null | undefined;
function display(): TslabDisplay | null {
  if (cachedDisplay === undefined) cachedDisplay = tslabDisplay();
  return cachedDisplay;
}

/** Rich outputs: markdown, an SVG figure, a PNG image (or a grid of images). */
export const show = {
  markdown(text: string): void {
    const d = display();
    if (d) d.markdown(text);
    else console.log(text);
  },
  svg(svg: string): void {
    const d = display();
    if (d) d.svg(svg);
    else console.log(`[svg figure, ${svg.length} characters]`);
  },
  png(png: Uint8Array): void {
    const d = display();
    if (d) d.png(png);
    else console.log(`[png image, ${png.length} bytes]`);
  },
  /** A figure of traces (lib/report/plot.ts: lines, markers, bars; log axes; reference lines such as RECOVERED_LINE). */
  plot(traces: Plot[], layout: FigureLayout = {}): void {
    show.svg(renderSvg(traces, layout));
  },
  /** One image (a photo, a reconstruction, a labelled grid or gallery from lib/report), upscaled by `scale`. */
  image(img: Img, scale = 1): void {
    show.png(toPngBuffer(scale === 1 ? img : makeGrid([img], { scale, pad: 0 })));
  },
  /** Images side by side (a grid, `cols` per row, upscaled by `scale`). */
  images(images: Img[], options: GridOptions = {}): void {
    show.png(toPngBuffer(makeGrid(images, { scale: 3, ...options })));
  },
};

// ---- setup and sweeps

/** Print the machine facts ('machine:' line) and the notebook's settings (a result line: they must not change). */
export function setup(settings: Record<string, unknown> = {}): void {
  console.log(`machine: ${engineInfo()}; ${os.cpus().length} cores; node ${process.version}`);
  const parts = Object.entries({ quick: QUICK, ...settings }).map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(', ') : String(v)}`);
  console.log(`settings: ${parts.join(' | ')}`);
}

export interface SweepKitOptions<J = unknown> {
  /** Worker threads (default: all cores). Results never depend on it. */
  workers?: number;
  /** Progress lines over the run (default 10). */
  lines?: number;
  /** An estimate of a job's cost: the costliest start first, so none starts last on an idle machine (results unchanged). */
  cost?: (job: J) => number;
}

/**
 * Run `jobs` through an experiment task (lib/experiments TASKS) on all cores and return the results in
 * job order. Prints 'progress:' lines (done of total, time left) and a final one with the wall time.
 */
export async function sweep<J, R>(task: TaskName, jobs: J[], options: SweepKitOptions<J> = {}): Promise<R[]> {
  const start = Date.now();
  const every = Math.max(1, Math.round(jobs.length / (options.lines ?? 10)));
  const results = await runParallel<J, R>(TASKS[task], jobs, {
    workers: options.workers,
    cost: options.cost,
    onProgress: (done, total) => {
      if (done % every === 0 && done < total) console.log(progressLine('run', done, total, start));
    },
  });
  console.log(`progress: ${jobs.length} runs of ${task} in ${formatDuration((Date.now() - start) / 1000)}`);
  return results;
}

// ---- summaries and tables

/** A column of a summary: computed from the items of one group. */
export type Column<T> = (items: T[]) => string | number | boolean | null;

/** 'k / n' of the items that pass `test`. */
export function countCol<T>(test: (item: T) => boolean): Column<T> {
  return (items) => `${items.filter(test).length} / ${items.length}`;
}

/** The median of a number per item. */
export function medianCol<T>(value: (item: T) => number): Column<T> {
  return (items) => median(items.map(value));
}

/** The mean of a number per item. */
export function meanCol<T>(value: (item: T) => number): Column<T> {
  return (items) => mean(items.map(value));
}

/**
 * One row per group (groups in first-seen order): `{ [groupName]: key, ...columns }`.
 *   summarize(runs, 'defense', (r) => r.defense, { recovered: countCol((r) => r.recovered), 'median MSE': medianCol((r) => r.mse) })
 */
export function summarize<T, K extends string | number>(items: T[], groupName: string, key: (item: T) => K, columns: Record<string, Column<T>>): Row[] {
  return [...groupBy(items, key).entries()].map(([k, group]) => {
    const row: Row = { [groupName]: k };
    for (const [name, col] of Object.entries(columns)) row[name] = col(group);
    return row;
  });
}

export interface TableOptions {
  /**
   * Also save the rows as notebooks/results/NAME.json (lib/report/results.ts): README's tables are
   * rendered from these files (`npm run readme`), so they carry the notebook's numbers.
   */
  results?: string;
}

/** Show rows as a table (a danfojs DataFrame, rendered as markdown; numbers to 3 significant places). */
export function table(rows: Row[], caption?: string, options: TableOptions = {}): void {
  const md = dataFrameMarkdown(dataFrame(rows));
  show.markdown(caption ? `${caption}\n\n${md}` : md);
  if (options.results !== undefined) saveResults(options.results, rows);
}

const REPO = path.resolve(__dirname, '../../..');

/** `text` with this repository's absolute path removed (paths print the same on every machine). */
export function repoPath(text: string): string {
  return text.split(REPO + path.sep).join('').split(REPO).join('.');
}

/** Number formats for text and tables. */
export const fmt = {
  /** 3.10e-3 */
  e: (v: number, digits = 2): string => (Number.isFinite(v) ? v.toExponential(digits) : String(v)),
  /** 12% */
  pct: (v: number): string => `${Math.round(100 * v)}%`,
  /** 0.123 */
  f: (v: number, digits = 3): string => (Number.isFinite(v) ? v.toFixed(digits) : String(v)),
  /** "3 / 10" */
  of: (k: number, n: number): string => `${k} / ${n}`,
};

// ---- claims

/**
 * Check the notebook's claims: prints 'holds: ...' or 'FAILS: ...' per claim and throws when any
 * fails, so that a notebook whose claim stops holding fails to execute (and CI fails).
 */
export function check(claims: [boolean, string][]): void {
  const failed = claims.filter(([ok]) => !ok).map(([, what]) => what);
  for (const [ok, what] of claims) console.log(`${ok ? 'holds' : 'FAILS'}: ${what}`);
  if (failed.length > 0) throw new Error(`claim fails as measured: ${failed.join('; ')}`);
}

export type Verdict = 'holds' | 'partly' | 'contradicts' | 'not comparable';

export interface PaperRow {
  /** What the paper claims, in a few words. */
  claim: string;
  /** The paper's words or numbers. */
  paper: string;
  /** Our measurement (made by the code in this notebook). */
  ours: string;
  verdict: Verdict;
}

/** The paper beside our measurements: one row per claim, with a verdict. */
export function paperTable(rows: PaperRow[]): void {
  const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  show.markdown([
    '| claim | paper | this toolkit | verdict |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${esc(r.claim)} | ${esc(r.paper)} | ${esc(r.ours)} | **${r.verdict}** |`),
  ].join('\n'));
}
