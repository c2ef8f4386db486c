/**
 * Executes the project's notebooks headless with Jupyter (`jupyter nbconvert --execute`) on the
 * `tslab` TypeScript kernel, records what produced each one (provenance), and says which ones fail
 * and why; `--check` also compares the outputs with the committed notebooks.
 *
 *   node dist/notebooks/tools/run.js [options] [PREFIX ...]
 *
 *   PREFIX ...        run only the notebooks whose file name starts with one of these (e.g. `01`)
 *   (no option)       full run: DLG_QUICK is removed from the kernel's environment and each executed
 *                     notebook replaces the original (only when all its cells ran without error);
 *                     its results files go to notebooks/results/
 *   --quick           DLG_QUICK=1 for the kernel (notebooks use fewer iterations); the executed
 *                     copies go to out/notebooks/ and the notebooks themselves are never touched
 *   --check           execute each notebook as .ci/notebooks.conf says (full unless it says quick or
 *                     skip) into out/notebooks/, never touching notebooks/, then compare each full
 *                     run's outputs and results files with the committed ones (compare.ts); exit 1 on
 *                     a failing cell (a claim check that throws) or on any difference. What CI runs.
 *   --conf FILE       the mode file for --check (default: <repo>/.ci/notebooks.conf)
 *   --list            print the notebooks that would run (and their --check modes), and exit
 *   --kernelspec      only write the project-local tslab kernelspec and print its JUPYTER_PATH folder
 *   --install-jupyter when no Jupyter is found, install Debian's packages (root + apt-get only)
 *   --dir DIR         notebook folder (default: <repo>/notebooks)
 *   --out DIR         where --quick and --check write the executed copies (default: <repo>/out/notebooks)
 *   --timeout S       per-cell time limit in seconds (default 900 for a quick run, 7200 for a full one)
 *   --jobs N          notebooks executed at the same time (default 1). Results do not depend on it:
 *                     every notebook runs in its own kernel with the same environment and writes its
 *                     results files into its own staging folder; only timings do (they are not compared)
 *
 * Every executed notebook gets metadata.dlg (provenance.ts): the fingerprint of its source, lib/,
 * package-lock.json and the datasets, hashes of its outputs and results files, and the run's facts
 * (mode, date, seconds, Node, cores). `node dist/notebooks/tools/status.js` says which are stale.
 *
 * Results files: the kernel gets DLG_RESULTS_DIR = a staging folder; saveResults() (lib/report/
 * results.ts) writes there; when the notebook succeeds the files move to results/ beside the
 * executed notebook (notebooks/results/ for a full run, out/notebooks/results/ otherwise).
 *
 * Jupyter: $DLG_JUPYTER if set, else `jupyter` on PATH, else /usr/bin/jupyter (see jupyter.ts).
 *
 * Each notebook's line gives its wall time and, on Linux, its CPU time (nbconvert, the kernel and its
 * worker threads, from /proc/self/stat: child-cpu.ts) and how many cores it kept busy on average; the
 * total line sums them. Exact per notebook with --jobs 1; with more, a notebook's figure may include
 * another's that exited at the same moment.
 *
 * Exit status: 0 all notebooks ran (and, with --check, all compared identical), 1 some notebook
 * failed or differed, 2 usage or environment error (no Jupyter, no notebooks, a prefix that selects
 * nothing, a malformed conf file, dist/ older than lib/).
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { childCpuSeconds, formatCpu } from './child-cpu';
import { CellError, describeCellError, describeNbconvertFailure, writeHooks } from './cell-errors';
import { compareNotebooks, compareResultsFiles, Difference, formatDifferences } from './compare';
import { CheckMode, modesFor, readConf } from './conf';
import { aptInstall, checkJupyter, JUPYTER_DEBS, jupyterPathEnv, KERNEL_NAME, repoRoot, writeKernelSpec } from './jupyter';
import { readNotebook, writeNotebook } from './notebook';
import { gitCommit, listFiles, provenanceOf, RESULT_FILE, runFacts, sha256, stamp, TreeState, treeState } from './provenance';

// Kept exported from here for callers of the runner's API (test/notebooks.test.ts and others).
export { checkJupyter, findJupyter, INSTALL_HINT, JUPYTER_DEBS, KERNEL_NAME, kernelDir, repoRoot, writeKernelSpec } from './jupyter';
export { describeCellError } from './cell-errors';

export interface Options {
  quick: boolean;
  /** Execute into --out and compare with the committed notebooks, each in its .ci/notebooks.conf mode. */
  check: boolean;
  conf: string;
  /** When no Jupyter is found: install Debian's packages (root + apt-get only), then go on. */
  installJupyter: boolean;
  list: boolean;
  kernelspec: boolean;
  dir: string;
  out: string;
  /** Per-cell limit in seconds; NaN: 900 for quick runs, 7200 for full ones. */
  timeout: number;
  jobs: number;
  prefixes: string[];
}

class UsageError extends Error {
  constructor(message: string, readonly showUsage = true) {
    super(message);
  }
}

export function parseArgs(argv: string[], root: string): Options {
  const o: Options = {
    quick: false,
    check: false,
    conf: path.join(root, '.ci', 'notebooks.conf'),
    list: false,
    kernelspec: false,
    installJupyter: false,
    dir: path.join(root, 'notebooks'),
    out: path.join(root, 'out', 'notebooks'),
    timeout: NaN,
    jobs: 1,
    prefixes: [],
  };
  const value = (i: number, name: string): string => {
    if (i + 1 >= argv.length) throw new UsageError(`${name} needs a value`);
    return argv[i + 1];
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const [flag, inline] = a.startsWith('--') && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const take = (): string => (inline !== undefined ? inline : value(i++, flag));
    switch (flag) {
      case '--quick':
        o.quick = true;
        break;
      case '--check':
        o.check = true;
        break;
      case '--conf':
        o.conf = path.resolve(take());
        break;
      case '--list':
        o.list = true;
        break;
      case '--kernelspec':
        o.kernelspec = true;
        break;
      case '--install-jupyter':
        o.installJupyter = true;
        break;
      case '--dir':
        o.dir = path.resolve(take());
        break;
      case '--out':
        o.out = path.resolve(take());
        break;
      case '--timeout': {
        const v = take();
        o.timeout = Number(v);
        if (!(o.timeout > 0)) throw new UsageError(`--timeout must be a positive number of seconds, got ${v}`);
        break;
      }
      case '--jobs': {
        const v = take();
        o.jobs = Number(v);
        if (!Number.isInteger(o.jobs) || o.jobs < 1) throw new UsageError(`--jobs must be a positive integer, got ${v}`);
        break;
      }
      case '-h':
      case '--help':
        throw new UsageError('');
      default:
        if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
        o.prefixes.push(a);
    }
  }
  if (path.resolve(o.out) === path.resolve(o.dir) && (o.quick || o.check)) {
    throw new UsageError(`--out ${o.out} is the notebook folder: quick and check runs must not overwrite the notebooks`, false);
  }
  return o;
}

/** Every notebook of DIR: DIR/*.ipynb sorted by name. */
export function allNotebooks(dir: string): string[] {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new UsageError(`notebook folder ${dir} does not exist`, false);
  }
  const all = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ipynb') && !f.startsWith('.') && fs.statSync(path.join(dir, f)).isFile())
    .sort();
  if (all.length === 0) throw new UsageError(`no notebooks (*.ipynb) in ${dir}: nothing to run`, false);
  return all.map((f) => path.join(dir, f));
}

/** The notebooks to run: DIR/*.ipynb sorted by name, filtered by the name prefixes if any. */
export function selectNotebooks(dir: string, prefixes: string[]): string[] {
  const all = allNotebooks(dir);
  if (prefixes.length === 0) return all;
  const names = all.map((f) => path.basename(f));
  const unmatched = prefixes.filter((p) => !names.some((f) => f.startsWith(p)));
  if (unmatched.length > 0) {
    throw new UsageError(`no notebook in ${dir} starts with ${unmatched.map((p) => `"${p}"`).join(', ')} (have: ${names.join(', ')})`, false);
  }
  return all.filter((f) => prefixes.some((p) => path.basename(f).startsWith(p)));
}

/**
 * Why dist/ may not be built from the current sources under lib/ and notebooks/tools/ (so the kernel
 * would run other code than the fingerprint describes), or null when it is. Fresh when either the
 * build stamp of `npm run build` (dist/.build-stamp, written by lib/cli/build.js after a successful
 * incremental tsc, which leaves the outputs of unchanged sources as they were) is newer than every
 * source, or every source's .js is newer than it (a plain `tsc -p tsconfig.json` rewrites them all).
 */
export function staleBuild(root: string): string | null {
  const sources: { src: string; out: string; mtime: number }[] = [];
  for (const dir of ['lib', path.join('notebooks', 'tools')]) {
    for (const f of listFiles(path.join(root, dir), (r) => r.endsWith('.ts') && !r.endsWith('.d.ts'))) {
      const src = path.join(dir, f);
      // AssemblyScript sources compile into one module (lib/engine/assembly/build.js), not one .js each
      const out = src.startsWith(path.join('lib', 'engine', 'assembly') + path.sep) ? path.join('dist', 'lib', 'engine', 'kernels.wasm') : path.join('dist', dir, f.replace(/\.ts$/, '.js'));
      sources.push({ src, out, mtime: fs.statSync(path.join(root, src)).mtimeMs });
    }
  }
  const missing = sources.find((s) => !fs.existsSync(path.join(root, s.out)));
  if (missing) return `${missing.out} is missing`;
  const stamp = path.join(root, 'dist', '.build-stamp');
  if (fs.existsSync(stamp) && sources.every((s) => s.mtime <= fs.statSync(stamp).mtimeMs + 1)) return null;
  const older = sources.find((s) => fs.statSync(path.join(root, s.out)).mtimeMs + 1 < s.mtime);
  return older ? `${older.out} is older than ${older.src}` : null;
}

export interface Result {
  notebook: string;
  mode: CheckMode;
  ok: boolean;
  seconds: number;
  /** CPU seconds of nbconvert, the kernel and its worker threads (child-cpu.ts); absent without /proc. */
  cpu?: number;
  written?: string;
  error: string[]; // lines describing the failure (empty when ok)
  /** --check, full mode: the differences from the committed notebook and its results files (as printed lines). */
  compared?: { differences: number; lines: string[] };
}

function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

export interface RunContext {
  jupyter: string;
  nbconvert: string;
  jupyterPath: string;
  hooks: string;
  root: string;
  opts: Options;
  /** The tree's fingerprint when the run started. */
  tree: TreeState;
  commit?: string;
  /** Results file name -> the notebook that wrote it in this run. */
  resultsOwners: Map<string, string>;
  /** The children's CPU seconds at the last child's exit (child-cpu.ts); null without /proc. */
  cpuMark: number | null;
  log: (s: string) => void;
}

/** The environment of nbconvert and, through it, of the tslab kernel. */
export function childEnv(base: NodeJS.ProcessEnv, jupyterPath: string, quick: boolean, extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, ...extra };
  env.JUPYTER_PATH = jupyterPathEnv(base, jupyterPath);
  if (quick) env.DLG_QUICK = '1';
  else delete env.DLG_QUICK; // a full run must never inherit quick mode from the shell
  env.PYTHONUNBUFFERED = '1';
  return env;
}

/** Where a notebook's executed copy goes: in place for a plain full run, else the --out folder. */
function destination(nb: string, opts: Options): string {
  return opts.check || opts.quick ? path.join(opts.out, path.basename(nb)) : nb;
}

/** Deletes the results files an earlier executed copy at `file` recorded, unless `keep` has them. */
function dropOldResults(file: string, keep: Set<string>, log: (s: string) => void): void {
  if (!fs.existsSync(file)) return;
  let old: Record<string, string> = {};
  try {
    old = provenanceOf(readNotebook(file))?.results ?? {};
  } catch {
    return;
  }
  for (const rel of Object.keys(old)) {
    if (keep.has(rel)) continue;
    const abs = path.join(path.dirname(file), rel);
    if (fs.existsSync(abs)) {
      fs.rmSync(abs);
      log(`    (removed ${path.relative(process.cwd(), abs)}: the notebook no longer writes it)`);
    }
  }
}

/** Executes one notebook with `jupyter nbconvert --execute`, in the given mode. */
export async function runNotebook(nb: string, mode: 'full' | 'quick', ctx: RunContext): Promise<Result> {
  const { opts } = ctx;
  const name = path.basename(nb);
  const quick = mode === 'quick';
  const timeout = Number.isNaN(opts.timeout) ? (quick ? 900 : 7200) : opts.timeout;
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'dlg-nb-'));
  const errorFile = path.join(stage, 'error.json');
  const currentFile = path.join(stage, 'current.json');
  const stagedResults = path.join(stage, 'results');
  const executed = path.join(stage, 'executed');
  fs.mkdirSync(stagedResults);
  fs.mkdirSync(executed);
  const dest = destination(nb, opts);
  if (dest !== nb) {
    // No stale copy from an earlier run may pass for this one's.
    dropOldResults(dest, new Set(), () => undefined);
    fs.rmSync(dest, { force: true });
  }
  const args = [
    'nbconvert',
    '--to', 'notebook',
    '--execute',
    `--config=${ctx.hooks}`,
    `--ExecutePreprocessor.kernel_name=${KERNEL_NAME}`,
    `--ExecutePreprocessor.timeout=${timeout}`,
    '--ExecutePreprocessor.startup_timeout=180',
    '--output-dir', executed,
    '--output', name,
    nb,
  ];
  const env = childEnv(process.env, ctx.jupyterPath, quick, {
    DLG_NB_ERROR_FILE: errorFile,
    DLG_NB_CURRENT_FILE: currentFile,
    DLG_RESULTS_DIR: stagedResults,
  });
  const t0 = Date.now();
  const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
    const child = spawn(ctx.jupyter, args, { cwd: ctx.root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stdout.on('data', (d: Buffer) => (err += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.length > 4_000_000) err = err.slice(-2_000_000);
    });
    child.on('error', (e) => resolve({ code: 127, stderr: `${err}\n${e.message}` }));
    child.on('close', (c, sig) => resolve({ code: c ?? 128, stderr: sig ? `${err}\nkilled by ${sig}` : err }));
  });
  const seconds = (Date.now() - t0) / 1000;
  const result: Result = { notebook: name, mode, ok: false, seconds, error: [] };
  const cpuNow = ctx.cpuMark === null ? null : childCpuSeconds();
  if (cpuNow !== null && ctx.cpuMark !== null) {
    result.cpu = cpuNow - ctx.cpuMark;
    ctx.cpuMark = cpuNow;
  }
  try {
    const cellError = readJson<CellError>(errorFile);
    const out = path.join(executed, name);
    if (code === 0 && !cellError && fs.existsSync(out)) {
      result.error = finish(nb, out, dest, stagedResults, mode, seconds, ctx);
      result.ok = result.error.length === 0;
      if (result.ok) result.written = dest;
    } else if (cellError) {
      result.error = describeCellError(cellError);
    } else {
      result.error = [`nbconvert exited with status ${code}`, ...describeNbconvertFailure(stderr, readJson(currentFile))];
    }
    if (!result.ok) result.error.push(...keepFailedResults(name, stagedResults, opts));
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
  if (result.ok && opts.check && mode === 'full') result.compared = compareWithCommitted(nb, dest);
  return result;
}

/**
 * A notebook that failed still wrote the results files of the cells before the failing one (a
 * table, a figure): they are kept under <out>/failed/<notebook>/ so no finished result is lost.
 * Returns the line that says where (none when there were none).
 */
function keepFailedResults(name: string, stagedResults: string, opts: Options): string[] {
  const staged = listFiles(stagedResults, (f) => RESULT_FILE.test(f));
  if (staged.length === 0) return [];
  const dir = path.join(opts.out, 'failed', name.replace(/\.ipynb$/, ''));
  fs.rmSync(dir, { recursive: true, force: true });
  for (const f of staged) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.copyFileSync(path.join(stagedResults, f), path.join(dir, f));
  }
  return [`results written before the failure: ${staged.join(', ')} kept in ${path.relative(process.cwd(), dir) || dir}`];
}

/**
 * After a successful execution: moves the staged results files beside the destination, stamps the
 * provenance and writes the executed notebook to its destination. Returns error lines ([] on success).
 */
function finish(nb: string, executed: string, dest: string, stagedResults: string, mode: 'full' | 'quick', seconds: number, ctx: RunContext): string[] {
  const staged = listFiles(stagedResults, (f) => RESULT_FILE.test(f));
  for (const f of staged) {
    const owner = ctx.resultsOwners.get(f);
    if (owner && owner !== path.basename(nb)) return [`results/${f} was written by ${owner} too in this run: each results file belongs to one notebook`];
    ctx.resultsOwners.set(f, path.basename(nb));
  }
  const results: Record<string, string> = {};
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const resultsDir = path.join(path.dirname(dest), 'results');
  if (dest === nb) dropOldResults(nb, new Set(staged.map((f) => `results/${f}`)), ctx.log);
  for (const f of staged) {
    const data = fs.readFileSync(path.join(stagedResults, f));
    fs.mkdirSync(path.dirname(path.join(resultsDir, f)), { recursive: true });
    fs.writeFileSync(path.join(resultsDir, f), data);
    results[`results/${f}`] = sha256(data);
  }
  const now = treeState(ctx.root);
  const moved = (['lib', 'lockfile', 'datasets'] as const).filter((k) => now[k] !== ctx.tree[k]);
  if (moved.length) {
    ctx.log(`    warning: ${moved.join(', ')} changed while ${path.basename(nb)} ran; its provenance records the tree at the start, so it will show as stale`);
  }
  const doc = readNotebook(executed);
  stamp(doc, ctx.tree, runFacts({ mode, seconds, jobs: ctx.opts.jobs, nbconvert: ctx.nbconvert, commit: ctx.commit }), results);
  writeNotebook(dest, doc);
  return [];
}

/** --check: the executed copy against the committed notebook, and its results files against the committed ones. */
function compareWithCommitted(committed: string, executed: string): { differences: number; lines: string[] } {
  const a = readNotebook(executed);
  const diffs: Difference[] = compareNotebooks(a, readNotebook(committed));
  const lines = formatDifferences(diffs);
  let differences = diffs.length;
  for (const rel of Object.keys(provenanceOf(a)?.results ?? {})) {
    const r = compareResultsFiles(path.join(path.dirname(executed), rel), path.join(path.dirname(committed), rel), rel);
    if (!r.identical) {
      differences += r.count;
      lines.push(`  ${rel}:`, ...r.lines.map((l) => `    ${l.trim()}`));
    }
  }
  return { differences, lines };
}

function fmtResult(r: Result, width: number, check: boolean): string {
  const status = r.mode === 'skip' ? 'skipped' : r.ok ? 'ok    ' : 'FAILED';
  const time = r.mode === 'skip' ? '' : `${r.seconds.toFixed(1).padStart(7)} s${formatCpu(r.cpu, r.seconds)}`;
  let note = '';
  if (check && r.ok && r.mode !== 'skip') {
    note = r.compared ? (r.compared.differences ? `  ${r.compared.differences} difference(s) from the committed notebook` : '  identical to the committed notebook') : '  quick: not compared';
  }
  return `${r.notebook.padEnd(width)}  ${status}  ${time}${note}`.trimEnd();
}

/** Runs the notebooks, `jobs` at a time, printing results in notebook order as they complete. */
export async function runAll(notebooks: string[], modes: Map<string, CheckMode>, ctx: RunContext): Promise<Result[]> {
  const log = ctx.log;
  const width = Math.max(...notebooks.map((n) => path.basename(n).length));
  const results: (Result | undefined)[] = new Array(notebooks.length);
  let next = 0;
  let printed = 0;
  const flush = (): void => {
    while (printed < notebooks.length && results[printed]) {
      const r = results[printed++]!;
      log(fmtResult(r, width, ctx.opts.check));
      for (const l of r.error) log(`    ${l}`);
      for (const l of r.compared?.lines ?? []) log(`  ${l}`);
    }
  };
  const worker = async (): Promise<void> => {
    while (next < notebooks.length) {
      const i = next++;
      const nb = notebooks[i];
      const mode = modes.get(nb) ?? 'full';
      results[i] =
        mode === 'skip' ? { notebook: path.basename(nb), mode, ok: true, seconds: 0, error: [] } : await runNotebook(nb, mode, ctx);
      flush();
    }
  };
  await Promise.all(Array.from({ length: Math.min(ctx.opts.jobs, notebooks.length) }, worker));
  return results as Result[];
}

const USAGE =
  'usage: run-notebooks [--quick] [--check] [--conf FILE] [--list] [--kernelspec] [--install-jupyter] [--dir DIR] [--out DIR] [--timeout SECONDS] [--jobs N] [PREFIX ...]';

/** The mode of each selected notebook: --quick for all, else (--check) the conf file's, else full. */
function planModes(opts: Options, notebooks: string[]): Map<string, CheckMode> {
  if (!opts.check) return new Map(notebooks.map((nb) => [nb, opts.quick ? 'quick' : 'full']));
  const all = modesFor(allNotebooks(opts.dir), readConf(opts.conf), path.relative(process.cwd(), opts.conf) || opts.conf);
  return new Map(notebooks.map((nb) => [nb, opts.quick ? 'quick' : all.get(nb) ?? 'full']));
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<number> {
  const log = (s: string): void => void process.stdout.write(s + '\n');
  const fail = (s: string): number => {
    process.stderr.write(`run-notebooks: ${s}\n`);
    return 2;
  };
  let root: string;
  let opts: Options;
  let notebooks: string[];
  let modes: Map<string, CheckMode>;
  try {
    root = repoRoot();
    opts = parseArgs(argv, root);
    if (opts.kernelspec) {
      log(writeKernelSpec(root));
      return 0;
    }
    notebooks = selectNotebooks(opts.dir, opts.prefixes);
    modes = planModes(opts, notebooks);
  } catch (e) {
    if (e instanceof UsageError) {
      if (!e.message) {
        log(USAGE);
        return 0;
      }
      return fail(e.showUsage ? `${e.message}\n${USAGE}` : e.message);
    }
    return fail((e as Error).message);
  }
  if (opts.list) {
    for (const nb of notebooks) log((path.relative(process.cwd(), nb) || nb) + (opts.check ? `  ${modes.get(nb)}` : ''));
    return 0;
  }
  const stale = staleBuild(root);
  if (stale) return fail(`dist/ is not built from the current sources (${stale}): run \`npm run build\` first`);
  let j = checkJupyter();
  if ('error' in j && opts.installJupyter && !process.env.DLG_JUPYTER) {
    log('run-notebooks: no Jupyter found');
    if (aptInstall(JUPYTER_DEBS, log, 'run-notebooks')) j = checkJupyter();
  }
  if ('error' in j) return fail(j.error);
  const jupyterPath = writeKernelSpec(root);
  const ctx: RunContext = {
    jupyter: j.jupyter,
    nbconvert: j.nbconvert,
    jupyterPath,
    hooks: writeHooks(jupyterPath),
    root,
    opts,
    tree: treeState(root),
    commit: gitCommit(root),
    resultsOwners: new Map(),
    cpuMark: childCpuSeconds(),
    log,
  };
  const outRel = path.relative(root, opts.out) || opts.out;
  const mode = opts.check
    ? `check (executed copies in ${outRel}/, compared with ${path.relative(root, opts.dir) || opts.dir}/; modes from ${path.relative(root, opts.conf)}${opts.quick ? ', overridden by --quick' : ''})`
    : opts.quick
      ? `quick (DLG_QUICK=1; executed copies in ${outRel}/)`
      : 'full (executed notebooks written back in place)';
  const counts = (['full', 'quick', 'skip'] as const).map((m) => [m, [...modes.values()].filter((x) => x === m).length] as const).filter(([, n]) => n > 0);
  log(`run-notebooks: ${notebooks.length} notebook(s) (${counts.map(([m, n]) => `${n} ${m}`).join(', ')}), ${mode}; jobs ${opts.jobs}; ${j.jupyter} (nbconvert ${j.nbconvert}); kernel ${KERNEL_NAME} from ${path.relative(root, jupyterPath)}`);
  if (!opts.quick && process.env.DLG_QUICK) log('run-notebooks: note: DLG_QUICK is set in this shell but ignored outside --quick (full runs unset it)');
  if (opts.check) log('run-notebooks: in differences, A is this run (executed copy) and B the committed notebook');
  const t0 = Date.now();
  const results = await runAll(notebooks, modes, ctx);
  const ran = results.filter((r) => r.mode !== 'skip');
  const failed = ran.filter((r) => !r.ok);
  const differing = results.filter((r) => r.compared && r.compared.differences > 0);
  const total = (Date.now() - t0) / 1000;
  const sum = ran.reduce((s, r) => s + r.seconds, 0);
  const cpu = ran.every((r) => r.cpu !== undefined) && ran.length > 0 ? ran.reduce((s, r) => s + (r.cpu as number), 0) : null;
  const cpuNote = cpu === null ? '' : `, CPU ${cpu.toFixed(1)} s: ${(cpu / total).toFixed(2)} cores busy on average`;
  log(
    `run-notebooks: total ${total.toFixed(1)} s (notebooks ${sum.toFixed(1)} s, jobs ${opts.jobs}${cpuNote})` +
      (failed.length ? `; failed: ${failed.map((r) => r.notebook).join(', ')}` : '') +
      (differing.length ? `; differ from the committed notebooks: ${differing.map((r) => r.notebook).join(', ')}` : '') +
      (opts.quick || opts.check ? `; executed copies in ${path.relative(process.cwd(), opts.out) || opts.out}` : ''),
  );
  // CI's plain closing lines
  log(`notebooks: ${ran.length - failed.length} passed, ${failed.length} failed${results.length > ran.length ? `, ${results.length - ran.length} skipped` : ''}`);
  if (opts.check) {
    const compared = results.filter((r) => r.compared);
    const quick = ran.filter((r) => r.ok && r.mode === 'quick').length;
    log(`compare: ${compared.length - differing.length} identical, ${differing.length} different${quick ? `, ${quick} quick (not compared)` : ''}`);
  }
  return failed.length || differing.length ? 1 : 0;
}

if (require.main === module) {
  // A closed pipe (`... | head`) ends the output quietly.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' ? process.exit() : undefined));
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`run-notebooks: ${(e as Error).stack ?? e}\n`);
      process.exitCode = 2;
    },
  );
}
