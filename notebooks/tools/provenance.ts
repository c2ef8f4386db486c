/**
 * Provenance of an executed notebook: what produced its outputs, recorded by the runner in the
 * notebook's metadata (`metadata.dlg`), and checked against the tree.
 *
 * The fingerprint has four components, each a sha256:
 *   notebook  the cells' types and sources (code and markdown), not their outputs or metadata;
 *   lib       every file under lib/ (.ts, .py, the tfjs-node shim's .js and package.json, ...) and
 *             tsconfig.json (how lib/ is compiled): sha256 of the sorted list of path + content sha256;
 *   lockfile  package-lock.json (every dependency, exactly);
 *   datasets  every file under the datasets folder ($DLG_DATASETS, else datasets/), except its
 *             documentation and scripts (*.md, *.py), hashed like lib.
 * Why all of datasets/ rather than a per-notebook list: notebooks reach data through loaders that
 * pick files at run time (loadDataset(name), `available` datasets in notebook 02, files a user adds),
 * so a declared list can silently miss a file a notebook reads; the whole folder cannot. It is small
 * (1.1 MB, hashed in milliseconds) and rarely changes, so marking every notebook stale when it does
 * costs a re-run, never a wrong "fresh".
 *
 * Kept beside the fingerprint, not part of it: hashes of the outputs as the runner wrote them (so a
 * notebook re-run or edited in Jupyter afterwards is not taken for the runner's), of the results
 * files it wrote (notebooks/results/*.json, see lib/report/results.ts), per-file hashes (to name
 * what changed), and the run's facts: mode, date, duration, Node, cores, ...
 */
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { joinText, Notebook, NotebookOutput, readNotebook, sortKeys } from './notebook';

export const PROVENANCE_VERSION = 1;

/** The files a notebook writes beside itself in results/: tables (JSON) and figures (PNG) for README. */
export const RESULT_FILE = /\.(json|png)$/;

export type Mode = 'full' | 'quick';

/** What a notebook's freshness can fail on. */
export type Component = 'provenance' | 'notebook' | 'lib' | 'lockfile' | 'datasets' | 'outputs' | 'results' | 'mode';

/** The four hashes that decide whether a notebook's outputs belong to the tree. */
export interface Fingerprint {
  notebook: string;
  lib: string;
  lockfile: string;
  datasets: string;
}

/** The tree's side of the fingerprint (all but the notebook itself), with per-file hashes. */
export interface TreeState {
  lib: string;
  lockfile: string;
  datasets: string;
  /** path (relative to the repository root) -> first 16 hex digits of its sha256. */
  libFiles: Record<string, string>;
  /** path (relative to the datasets folder) -> first 16 hex digits of its sha256. */
  datasetFiles: Record<string, string>;
}

/** Facts about a run: not part of the fingerprint (they do not change what a notebook computes). */
export interface RunFacts {
  mode: Mode;
  /** When the notebook finished (ISO 8601, UTC). */
  date: string;
  /** Wall-clock seconds of the notebook's execution. */
  seconds: number;
  node: string;
  /** e.g. "linux x64". */
  platform: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  /** Notebooks the runner executed at the same time. */
  jobs: number;
  /** nbconvert's version. */
  nbconvert?: string;
  /** git HEAD (12 hex digits), "+dirty" when tracked files had changes. */
  commit?: string;
  /** The DLG_* settings of the run that select engines or data (DLG_BACKEND, DLG_FAST_KERNELS, DLG_DATASETS), when set. */
  env: Record<string, string>;
}

/** metadata.dlg of an executed notebook. */
export interface Provenance {
  version: number;
  fingerprint: Fingerprint;
  /** Per-file and per-cell hashes (16 hex digits) to say what changed. */
  files: { lib: Record<string, string>; datasets: Record<string, string> };
  cells: string[];
  /** Hash of the outputs as the runner wrote them; per cell ('' for cells without outputs). */
  outputs: { digest: string; cells: string[] };
  /** Results files the notebook wrote: path relative to the notebook's folder -> sha256. */
  results: Record<string, string>;
  run: RunFacts;
}

export interface Finding {
  component: Component;
  detail: string;
}

export interface NotebookStatus {
  file: string;
  fresh: boolean;
  findings: Finding[];
  provenance?: Provenance;
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

const short = (h: string): string => h.slice(0, 16);

/** Entries no fingerprint looks at: hidden files, caches, compiled Python. */
function ignored(name: string): boolean {
  return name.startsWith('.') || name === 'node_modules' || name === '__pycache__' || name.endsWith('.pyc');
}

/** Every regular file under `dir`, relative to it with '/' separators, sorted; [] when dir is missing. */
export function listFiles(dir: string, keep: (rel: string) => boolean = () => true): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    const abs = path.join(dir, rel);
    for (const e of fs.readdirSync(abs, { withFileTypes: true })) {
      if (ignored(e.name)) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      const isDir = e.isDirectory() || (e.isSymbolicLink() && fs.statSync(path.join(abs, e.name)).isDirectory());
      if (isDir) walk(r);
      else if ((e.isFile() || e.isSymbolicLink()) && keep(r)) out.push(r);
    }
  };
  if (fs.existsSync(dir) && fs.statSync(dir).isDirectory()) walk('');
  return out.sort();
}

/** sha256 of "path\0sha256(content)\n" over the files, in order, and each file's short hash. */
export function hashFiles(base: string, files: string[], prefix = ''): { digest: string; files: Record<string, string> } {
  const map: Record<string, string> = {};
  const lines = files.map((f) => {
    const h = sha256(fs.readFileSync(path.join(base, f)));
    map[prefix + f] = short(h);
    return `${prefix}${f}\0${h}\n`;
  });
  return { digest: sha256(lines.join('')), files: map };
}

/** The datasets folder the notebooks read: $DLG_DATASETS, else datasets/ (as lib/data/index.ts). */
export function datasetsDir(root: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.DLG_DATASETS ? path.resolve(env.DLG_DATASETS) : path.join(root, 'datasets');
}

/** The tree's half of the fingerprint: lib/ + tsconfig.json, package-lock.json, the datasets folder. */
export function treeState(root: string, env: NodeJS.ProcessEnv = process.env): TreeState {
  const libList = listFiles(path.join(root, 'lib')).map((f) => `lib/${f}`);
  if (fs.existsSync(path.join(root, 'tsconfig.json'))) libList.push('tsconfig.json');
  const lib = hashFiles(root, libList.sort());
  const lockPath = path.join(root, 'package-lock.json');
  const lockfile = fs.existsSync(lockPath) ? sha256(fs.readFileSync(lockPath)) : 'missing';
  const dd = datasetsDir(root, env);
  const data = hashFiles(dd, listFiles(dd, (f) => !/\.(md|py)$/i.test(f)));
  return { lib: lib.digest, lockfile, datasets: data.digest, libFiles: lib.files, datasetFiles: data.files };
}

/** Hash of one cell's type and source. */
function cellSourceHash(c: Notebook['cells'][number]): string {
  return sha256(JSON.stringify([c.cell_type, joinText(c.source)]));
}

/** The notebook component: sha256 over the cells' types and sources, and each cell's short hash. */
export function notebookSource(nb: Notebook): { digest: string; cells: string[] } {
  const cells = nb.cells.map(cellSourceHash);
  return { digest: sha256(cells.join('\n')), cells: cells.map(short) };
}

/**
 * An output in a canonical form for hashing: text joined, base64 images without line breaks, no
 * execution count, and consecutive stream outputs of one name merged (Jupyter's frontends merge
 * them when they load a notebook, so opening and saving one must not change its hash).
 */
function canonicalOutputs(outputs: NotebookOutput[]): unknown[] {
  const out: Record<string, unknown>[] = [];
  for (const o of outputs) {
    if (o.output_type === 'stream') {
      const last = out[out.length - 1];
      if (last && last.output_type === 'stream' && last.name === o.name) {
        last.text = (last.text as string) + joinText(o.text);
        continue;
      }
      out.push({ output_type: 'stream', name: o.name, text: joinText(o.text) });
      continue;
    }
    const c: Record<string, unknown> = { output_type: o.output_type };
    if (o.data) {
      const data: Record<string, unknown> = {};
      for (const [mime, v] of Object.entries(o.data)) {
        const text = typeof v === 'string' || Array.isArray(v) ? joinText(v as string[]) : v;
        data[mime] = typeof text === 'string' && mime.startsWith('image/') && mime !== 'image/svg+xml' ? text.replace(/\s+/g, '') : text;
      }
      c.data = data;
    }
    if (o.metadata && Object.keys(o.metadata).length) c.metadata = o.metadata;
    for (const k of ['ename', 'evalue', 'traceback'] as const) if (o[k] !== undefined) c[k] = o[k];
    out.push(c);
  }
  return out.filter((o) => !(o.output_type === 'stream' && o.text === ''));
}

/** Hash of the notebook's outputs, and each cell's short hash ('' for a cell without outputs). */
export function outputsHash(nb: Notebook): { digest: string; cells: string[] } {
  const full = nb.cells.map((c) => (c.outputs && c.outputs.length ? sha256(JSON.stringify(sortKeys(canonicalOutputs(c.outputs)))) : ''));
  return { digest: sha256(full.join('\n')), cells: full.map(short) };
}

/** git HEAD (12 hex digits, "+dirty" with uncommitted changes to tracked files), or undefined without git. */
export function gitCommit(root: string): string | undefined {
  const head = spawnSync('git', ['-C', root, 'rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8', timeout: 10_000 });
  if (head.status !== 0) return undefined;
  const dirty = spawnSync('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', timeout: 30_000 });
  return head.stdout.trim() + (dirty.status === 0 && dirty.stdout.trim() ? '+dirty' : '');
}

/** This machine and process's facts for a run. */
export function runFacts(o: { mode: Mode; seconds: number; jobs: number; nbconvert?: string; commit?: string; env?: NodeJS.ProcessEnv }): RunFacts {
  const env = o.env ?? process.env;
  const cpus = os.cpus();
  const picked: Record<string, string> = {};
  for (const k of ['DLG_BACKEND', 'DLG_FAST_KERNELS', 'DLG_DATASETS']) if (env[k] !== undefined) picked[k] = env[k] as string;
  return {
    mode: o.mode,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    seconds: Math.round(o.seconds * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    cpus: cpus.length,
    cpuModel: (cpus[0]?.model ?? 'unknown').trim(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    jobs: o.jobs,
    ...(o.nbconvert ? { nbconvert: o.nbconvert } : {}),
    ...(o.commit ? { commit: o.commit } : {}),
    env: picked,
  };
}

/** Records provenance in nb.metadata.dlg (replacing any earlier record) and returns it. */
export function stamp(nb: Notebook, tree: TreeState, run: RunFacts, results: Record<string, string> = {}): Provenance {
  const src = notebookSource(nb);
  const p: Provenance = {
    version: PROVENANCE_VERSION,
    fingerprint: { notebook: src.digest, lib: tree.lib, lockfile: tree.lockfile, datasets: tree.datasets },
    files: { lib: tree.libFiles, datasets: tree.datasetFiles },
    cells: src.cells,
    outputs: outputsHash(nb),
    results,
    run,
  };
  nb.metadata.dlg = p;
  return p;
}

/** The provenance recorded in a notebook, or null. */
export function provenanceOf(nb: Notebook): Provenance | null {
  const p = nb.metadata.dlg as Provenance | undefined;
  return p && typeof p === 'object' && p.fingerprint ? p : null;
}

/** "a changed, b added, c removed" between two per-file hash maps (at most `max` names). */
export function fileChanges(before: Record<string, string>, now: Record<string, string>, max = 6): string {
  const changes: string[] = [];
  for (const f of Object.keys(now).sort()) {
    if (!(f in before)) changes.push(`${f} added`);
    else if (before[f] !== now[f]) changes.push(`${f} changed`);
  }
  for (const f of Object.keys(before).sort()) if (!(f in now)) changes.push(`${f} removed`);
  if (changes.length === 0) return 'the same files, a different hash (recorded by another version of the tools?)';
  return changes.length > max ? `${changes.slice(0, max).join(', ')} and ${changes.length - max} more` : changes.join(', ');
}

function cellList(idx: number[], max = 8): string {
  const names = idx.slice(0, max).map((i) => String(i + 1));
  return (idx.length === 1 ? 'cell ' : 'cells ') + names.join(', ') + (idx.length > max ? ` and ${idx.length - max} more` : '');
}

/** Indices where two per-cell hash lists differ (cells added or removed count from where the lists part). */
function changedCells(before: string[], now: string[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < Math.max(before.length, now.length); i++) if (before[i] !== now[i]) out.push(i);
  return out;
}

export interface StatusOptions {
  /** The mode a committed notebook must have been run in (default 'full'); null accepts any. */
  requireMode?: Mode | null;
}

/**
 * Whether a notebook's recorded provenance matches the tree: fresh, or the findings that say why
 * not, one per component that differs. Throws NotebookError for a missing or malformed file.
 */
export function notebookStatus(file: string, tree: TreeState, opts: StatusOptions = {}): NotebookStatus {
  const nb = readNotebook(file);
  const p = provenanceOf(nb);
  const findings: Finding[] = [];
  if (!p) {
    findings.push({ component: 'provenance', detail: 'no provenance (metadata.dlg): not executed by the runner since provenance was recorded' });
    return { file, fresh: false, findings };
  }
  if (p.version !== PROVENANCE_VERSION) {
    findings.push({ component: 'provenance', detail: `provenance version ${p.version}, the tools write ${PROVENANCE_VERSION}` });
  }
  const src = notebookSource(nb);
  if (src.digest !== p.fingerprint.notebook) {
    const cells = changedCells(p.cells ?? [], src.cells);
    const count = (p.cells ?? []).length !== src.cells.length ? ` (${src.cells.length} cells now, ${(p.cells ?? []).length} at the run)` : '';
    findings.push({ component: 'notebook', detail: `the notebook's source changed since the run: ${cellList(cells)}${count}` });
  }
  if (tree.lib !== p.fingerprint.lib) findings.push({ component: 'lib', detail: `lib changed since the run: ${fileChanges(p.files?.lib ?? {}, tree.libFiles)}` });
  if (tree.lockfile !== p.fingerprint.lockfile) findings.push({ component: 'lockfile', detail: 'package-lock.json changed since the run' });
  if (tree.datasets !== p.fingerprint.datasets) {
    findings.push({ component: 'datasets', detail: `datasets changed since the run: ${fileChanges(p.files?.datasets ?? {}, tree.datasetFiles)}` });
  }
  const outs = outputsHash(nb);
  if (outs.digest !== p.outputs?.digest) {
    findings.push({
      component: 'outputs',
      detail: `outputs of ${cellList(changedCells(p.outputs?.cells ?? [], outs.cells))} differ from what the runner wrote (re-run or edited outside the runner?)`,
    });
  }
  const dir = path.dirname(file);
  for (const [rel, h] of Object.entries(p.results ?? {})) {
    const abs = path.join(dir, rel);
    if (!fs.existsSync(abs)) findings.push({ component: 'results', detail: `${rel} is missing (the run wrote it)` });
    else if (sha256(fs.readFileSync(abs)) !== h) findings.push({ component: 'results', detail: `${rel} changed since the run wrote it` });
  }
  const want = opts.requireMode === undefined ? 'full' : opts.requireMode;
  if (want && p.run?.mode !== want) findings.push({ component: 'mode', detail: `ran in ${p.run?.mode ?? 'an unknown'} mode; committed notebooks are ${want} runs` });
  return { file, fresh: findings.length === 0, findings, provenance: p };
}

/** Results files (DIR/results/*.json) that no notebook's provenance claims. */
export function orphanResults(dir: string, statuses: NotebookStatus[]): string[] {
  const claimed = new Set<string>();
  for (const s of statuses) for (const rel of Object.keys(s.provenance?.results ?? {})) claimed.add(path.resolve(path.dirname(s.file), rel));
  const rdir = path.join(dir, 'results');
  return listFiles(rdir, (f) => RESULT_FILE.test(f))
    .map((f) => path.join(rdir, f))
    .filter((f) => !claimed.has(path.resolve(f)))
    .map((f) => path.relative(dir, f).split(path.sep).join('/'));
}

/** One line: "fresh" or "stale: lib (lib/x.ts changed); outputs (...)". */
export function describeStatus(s: NotebookStatus): string {
  if (s.fresh) return 'fresh';
  return `stale: ${s.findings.map((f) => `${f.component} (${f.detail})`).join('; ')}`;
}
