/**
 * Executes the project's notebooks headless with Jupyter (`jupyter nbconvert --execute`) on the
 * `tslab` TypeScript kernel, and says which ones fail and why.
 *
 *   node dist/notebooks/tools/run.js [options] [PREFIX ...]
 *
 *   PREFIX ...        run only the notebooks whose file name starts with one of these (e.g. `01`)
 *   --quick           DLG_QUICK=1 for the kernel (notebooks use fewer iterations); the executed
 *                     copies go to out/notebooks/ and the notebooks themselves are never touched
 *   (no --quick)      full run: DLG_QUICK is removed from the kernel's environment and each executed
 *                     notebook replaces the original (only when all its cells ran without error)
 *   --list            print the notebooks that would run, and exit
 *   --kernelspec      only write the project-local tslab kernelspec and print its JUPYTER_PATH folder
 *                     (for interactive use: JUPYTER_PATH=<that folder> jupyter lab)
 *   --dir DIR         notebook folder (default: <repo>/notebooks)
 *   --out DIR         where --quick writes the executed copies (default: <repo>/out/notebooks)
 *   --timeout S       per-cell time limit in seconds (default 900 with --quick, 7200 without)
 *   --jobs N          notebooks executed at the same time (default 1)
 *
 * Jupyter: $DLG_JUPYTER if set, else `jupyter` on PATH, else /usr/bin/jupyter.
 *
 * Exit status: 0 all notebooks ran, 1 some notebook failed, 2 usage or environment error (no
 * Jupyter, no notebooks, a prefix that selects nothing).
 *
 * The tslab kernel is registered project-locally: a kernelspec is written to
 * node_modules/.cache/dlg-jupyter/kernels/tslab/kernel.json (absolute paths of this Node and this
 * repository's tslab) and JUPYTER_PATH points there for the child processes only. Nothing is
 * installed globally and tslab need not be on PATH. See environment.md.
 *
 * tslab reports a failing cell with an empty ename/evalue and the error text on the cell's stderr,
 * so nbconvert's own message says little. We pass nbconvert a small config file that installs
 * nbclient hooks (on_cell_execute, on_cell_error; nbclient >= 0.6) which record the running cell and
 * the failing cell's outputs in a JSON file, and print the error from there. With an older nbclient
 * we fall back to the last lines of nbconvert's stderr.
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const KERNEL_NAME = 'tslab';

export const INSTALL_HINT =
  'Jupyter (nbconvert + nbclient) not found: install it with ' +
  '`apt-get install jupyter-nbconvert python3-nbclient jupyter-client python3-ipython python3-ipykernel` (Debian/Ubuntu) ' +
  'or `pip install nbconvert nbclient ipykernel`, then rerun.';

/** The repository root: the nearest ancestor of this file holding package.json and node_modules/tslab. */
export function repoRoot(from: string = __dirname): string {
  let dir = path.resolve(from);
  for (;;) {
    if (
      fs.existsSync(path.join(dir, 'package.json')) &&
      fs.existsSync(path.join(dir, 'node_modules', 'tslab', 'package.json'))
    ) {
      return dir;
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no repository root (package.json + node_modules/tslab) above ${from}; run \`npm ci\` first`);
    dir = up;
  }
}

/** The folder that JUPYTER_PATH points at: it holds kernels/tslab/kernel.json. */
export function kernelDir(root: string): string {
  return path.join(root, 'node_modules', '.cache', 'dlg-jupyter');
}

/**
 * Writes the project-local tslab kernelspec and returns the JUPYTER_PATH folder that holds it.
 * The kernel runs this very Node (process.execPath) on this repository's tslab.
 */
export function writeKernelSpec(root: string): string {
  const tslabPkg = require.resolve('tslab/package.json', { paths: [root] });
  const tslabBin = path.join(path.dirname(tslabPkg), 'bin', 'tslab');
  if (!fs.existsSync(tslabBin)) throw new Error(`tslab entry point missing: ${tslabBin}; run \`npm ci\``);
  const dir = kernelDir(root);
  const specDir = path.join(dir, 'kernels', KERNEL_NAME);
  fs.mkdirSync(specDir, { recursive: true });
  const spec = {
    argv: [process.execPath, tslabBin, 'kernel', '--config-path', '{connection_file}'],
    display_name: 'TypeScript (tslab)',
    language: 'typescript',
  };
  const file = path.join(specDir, 'kernel.json');
  const text = JSON.stringify(spec, null, 2) + '\n';
  if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) fs.writeFileSync(file, text);
  return dir;
}

/** Python config for nbconvert: nbclient hooks that record the running cell and the failing one. */
const HOOKS_PY = `# Written by notebooks/tools/run.ts (do not edit): nbclient hooks (nbclient >= 0.6) that record
# the running cell and the failing cell's outputs, because tslab sends no ename/evalue/traceback.
import json, os

def _dlg_write(var, obj):
    target = os.environ.get(var)
    if target:
        with open(target, 'w') as f:
            json.dump(obj, f)

def _dlg_on_cell_execute(cell=None, cell_index=None, **kw):
    _dlg_write('DLG_NB_CURRENT_FILE', {'cell_index': cell_index, 'source': cell.source})

def _dlg_on_cell_error(cell=None, cell_index=None, execute_reply=None, **kw):
    content = (execute_reply or {}).get('content', {})
    outputs = [dict(o) for o in cell.get('outputs', []) if o.get('output_type') in ('stream', 'error')]
    _dlg_write('DLG_NB_ERROR_FILE', {
        'cell_index': cell_index,
        'source': cell.source,
        'ename': content.get('ename', ''),
        'evalue': content.get('evalue', ''),
        'traceback': content.get('traceback', []) or [],
        'outputs': outputs,
    })

c.ExecutePreprocessor.on_cell_execute = _dlg_on_cell_execute
c.ExecutePreprocessor.on_cell_error = _dlg_on_cell_error
`;

function writeHooks(dir: string): string {
  const file = path.join(dir, 'nbconvert_hooks.py');
  if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== HOOKS_PY) fs.writeFileSync(file, HOOKS_PY);
  return file;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** $DLG_JUPYTER if set (and only it), else `jupyter` on PATH, else /usr/bin/jupyter, else null. */
export function findJupyter(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.DLG_JUPYTER) return isExecutable(env.DLG_JUPYTER) ? path.resolve(env.DLG_JUPYTER) : null;
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const cand = path.join(dir, 'jupyter');
    if (isExecutable(cand)) return cand;
  }
  return isExecutable('/usr/bin/jupyter') ? '/usr/bin/jupyter' : null;
}

export const JUPYTER_DEBS = ['jupyter-nbconvert', 'python3-nbclient', 'jupyter-client', 'python3-ipython', 'python3-ipykernel'];

/**
 * --install-jupyter (what `npm run notebooks` passes): on Debian/Ubuntu as root, install Jupyter's
 * Debian packages, saying so first. Elsewhere it does nothing and the install hint is printed.
 */
function installDebianJupyter(log: (s: string) => void): boolean {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || !isExecutable('/usr/bin/apt-get')) return false;
  log(`run-notebooks: no Jupyter found; installing Debian packages: apt-get install -y --no-install-recommends ${JUPYTER_DEBS.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-q'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  if (update.status !== 0) return false;
  const install = spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...JUPYTER_DEBS], { stdio: ['ignore', 'ignore', 'inherit'], env });
  return install.status === 0;
}

/** A usable `jupyter` (one whose `jupyter nbconvert` starts), or the reason there is none. */
export function checkJupyter(env: NodeJS.ProcessEnv = process.env): { jupyter: string; nbconvert: string } | { error: string } {
  const jupyter = findJupyter(env);
  if (!jupyter) return { error: INSTALL_HINT };
  const r = spawnSync(jupyter, ['nbconvert', '--version'], { encoding: 'utf8', env, timeout: 60_000 });
  if (r.status !== 0) {
    const why = (r.stderr || r.stdout || String(r.error ?? '')).trim().split('\n').pop();
    return { error: `${jupyter} has no working nbconvert (${why}). ${INSTALL_HINT}` };
  }
  return { jupyter, nbconvert: r.stdout.trim() };
}

export interface Options {
  quick: boolean;
  /** When no Jupyter is found: install Debian's packages (root + apt-get only), then go on. */
  installJupyter: boolean;
  list: boolean;
  kernelspec: boolean;
  dir: string;
  out: string;
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
  if (Number.isNaN(o.timeout)) o.timeout = o.quick ? 900 : 7200;
  return o;
}

/** The notebooks to run: DIR/*.ipynb sorted by name, filtered by the name prefixes if any. */
export function selectNotebooks(dir: string, prefixes: string[]): string[] {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new UsageError(`notebook folder ${dir} does not exist`, false);
  }
  const all = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ipynb') && !f.startsWith('.') && fs.statSync(path.join(dir, f)).isFile())
    .sort();
  if (all.length === 0) throw new UsageError(`no notebooks (*.ipynb) in ${dir}: nothing to run`, false);
  if (prefixes.length === 0) return all.map((f) => path.join(dir, f));
  const unmatched = prefixes.filter((p) => !all.some((f) => f.startsWith(p)));
  if (unmatched.length > 0) {
    throw new UsageError(`no notebook in ${dir} starts with ${unmatched.map((p) => `"${p}"`).join(', ')} (have: ${all.join(', ')})`, false);
  }
  return all.filter((f) => prefixes.some((p) => f.startsWith(p))).map((f) => path.join(dir, f));
}

interface CellError {
  cell_index: number;
  source: string;
  ename: string;
  evalue: string;
  traceback: string[];
  outputs: { output_type: string; name?: string; text?: string | string[]; ename?: string; evalue?: string; traceback?: string[] }[];
}

export interface Result {
  notebook: string;
  ok: boolean;
  seconds: number;
  written?: string;
  error: string[]; // lines describing the failure (empty when ok)
}

const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;
const joinText = (t: string | string[] | undefined): string => (Array.isArray(t) ? t.join('') : t ?? '');
const firstLine = (src: string): string => {
  const l = src.split('\n').find((s) => s.trim()) ?? '';
  return l.length > 100 ? l.slice(0, 97) + '...' : l;
};

/** Stack frames of tslab and Node's vm/internals: noise in a notebook error. */
function isInternalFrame(line: string): boolean {
  return /^\s+at /.test(line) && /(node_modules[\\/]tslab[\\/]|\(node:|^\s+at node:|sigintHandlersWrap)/.test(line);
}

/** The failing cell's error as a few lines: where, ename: evalue, the last lines of the traceback. */
export function describeCellError(e: CellError, maxLines = 12): string[] {
  const where = `cell ${e.cell_index + 1}: ${firstLine(e.source)}`;
  let ename = e.ename && e.ename !== '<Error>' ? e.ename : '';
  let evalue = e.evalue ?? '';
  let tb: string[] = (e.traceback ?? []).join('\n').replace(ANSI, '').split('\n');
  const errOut = e.outputs.find((o) => o.output_type === 'error');
  if (!ename && errOut) {
    ename = errOut.ename ?? '';
    evalue = errOut.evalue ?? '';
    tb = (errOut.traceback ?? []).join('\n').replace(ANSI, '').split('\n');
  }
  if (!ename) {
    // tslab: the error is the cell's stderr ("Error: msg" then "    at ..." frames, or a
    // TypeScript diagnostic "1:7 - Type 'string' is not assignable ...").
    const stderr = e.outputs
      .filter((o) => o.output_type === 'stream' && o.name === 'stderr')
      .map((o) => joinText(o.text))
      .join('')
      .replace(ANSI, '');
    const lines = stderr.split('\n').filter((l) => l.trim() !== '');
    tb = lines;
    const frame = lines.findIndex((l) => /^\s+at /.test(l));
    const head = frame > 0 ? lines[frame - 1] : lines[0] ?? '';
    const m = /^([A-Za-z_$][\w$.]*): ?(.*)$/.exec(head);
    if (m && frame > 0) {
      ename = m[1];
      evalue = m[2];
    } else {
      ename = 'error';
      evalue = head || '(the kernel reported an error without a message)';
    }
  }
  const head = `${ename}: ${evalue}`;
  tb = tb.filter((l) => l.trim() !== '' && !isInternalFrame(l) && l.trim() !== head && l.trim() !== evalue.trim());
  const tail = tb.slice(-maxLines);
  return [where, head, ...tail.map((l) => `  | ${l}`)];
}

/** The informative end of nbconvert's stderr when no hook report exists (timeout, dead kernel, old nbclient). */
function describeNbconvertFailure(stderr: string, current: { cell_index: number; source: string } | null, maxLines = 12): string[] {
  const lines = stderr.replace(ANSI, '').split('\n').filter((l) => l.trim() !== '' && !/^\[NbConvertApp\]/.test(l));
  const out: string[] = [];
  if (current) out.push(`while running cell ${current.cell_index + 1}: ${firstLine(current.source)}`);
  // From the last Python exception line ("nbclient.exceptions.DeadKernelError: Kernel died") on.
  let k = -1;
  for (let i = lines.length - 1; i >= 0; i--) {
    if (/^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b.*/.test(lines[i])) {
      k = i;
      break;
    }
  }
  const tail = k >= 0 ? lines.slice(k, k + maxLines) : lines.slice(-maxLines);
  return [...out, ...(tail.length ? tail.map((l) => `  | ${l}`) : ['  | (nbconvert printed nothing)'])];
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
  jupyterPath: string;
  hooks: string;
  root: string;
  opts: Options;
}

/** The environment of nbconvert and, through it, of the tslab kernel. */
export function childEnv(base: NodeJS.ProcessEnv, jupyterPath: string, quick: boolean, extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, ...extra };
  env.JUPYTER_PATH = base.JUPYTER_PATH ? `${jupyterPath}${path.delimiter}${base.JUPYTER_PATH}` : jupyterPath;
  if (quick) env.DLG_QUICK = '1';
  else delete env.DLG_QUICK; // a full run must never inherit quick mode from the shell
  env.PYTHONUNBUFFERED = '1';
  return env;
}

/** Executes one notebook with `jupyter nbconvert --execute`. */
export async function runNotebook(nb: string, ctx: RunContext): Promise<Result> {
  const { opts } = ctx;
  const name = path.basename(nb);
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'dlg-nb-'));
  const errorFile = path.join(stage, 'error.json');
  const currentFile = path.join(stage, 'current.json');
  // Quick: straight into out/notebooks. Full: into a temp folder, moved over the original on success.
  const outDir = opts.quick ? opts.out : stage;
  fs.mkdirSync(outDir, { recursive: true });
  const written = path.join(outDir, name);
  fs.rmSync(written, { force: true }); // no stale copy from an earlier run may pass for this one's
  const args = [
    'nbconvert',
    '--to', 'notebook',
    '--execute',
    `--config=${ctx.hooks}`,
    `--ExecutePreprocessor.kernel_name=${KERNEL_NAME}`,
    `--ExecutePreprocessor.timeout=${opts.timeout}`,
    '--ExecutePreprocessor.startup_timeout=180',
    '--output-dir', outDir,
    '--output', name,
    nb,
  ];
  const env = childEnv(process.env, ctx.jupyterPath, opts.quick, {
    DLG_NB_ERROR_FILE: errorFile,
    DLG_NB_CURRENT_FILE: currentFile,
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
  const result: Result = { notebook: name, ok: false, seconds, error: [] };
  try {
    const cellError = readJson<CellError>(errorFile);
    if (code === 0 && !cellError && fs.existsSync(written)) {
      result.ok = true;
      if (opts.quick) {
        result.written = written;
      } else {
        fs.copyFileSync(written, nb);
        result.written = nb;
      }
    } else if (cellError) {
      result.error = describeCellError(cellError);
    } else {
      result.error = [`nbconvert exited with status ${code}`, ...describeNbconvertFailure(stderr, readJson(currentFile))];
    }
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
  return result;
}

function fmtResult(r: Result, width: number): string {
  return `${r.notebook.padEnd(width)}  ${r.ok ? 'ok    ' : 'FAILED'}  ${r.seconds.toFixed(1).padStart(7)} s`;
}

/** Runs the notebooks, `jobs` at a time, printing results in notebook order as they complete. */
export async function runAll(notebooks: string[], ctx: RunContext, log: (s: string) => void): Promise<Result[]> {
  const width = Math.max(...notebooks.map((n) => path.basename(n).length));
  const results: (Result | undefined)[] = new Array(notebooks.length);
  let next = 0;
  let printed = 0;
  const flush = (): void => {
    while (printed < notebooks.length && results[printed]) {
      const r = results[printed++]!;
      log(fmtResult(r, width));
      for (const l of r.error) log(`    ${l}`);
    }
  };
  const worker = async (): Promise<void> => {
    while (next < notebooks.length) {
      const i = next++;
      results[i] = await runNotebook(notebooks[i], ctx);
      flush();
    }
  };
  await Promise.all(Array.from({ length: Math.min(ctx.opts.jobs, notebooks.length) }, worker));
  return results as Result[];
}

const USAGE = 'usage: run-notebooks [--quick] [--list] [--kernelspec] [--install-jupyter] [--dir DIR] [--out DIR] [--timeout SECONDS] [--jobs N] [PREFIX ...]';

export async function main(argv: string[] = process.argv.slice(2)): Promise<number> {
  const log = (s: string): void => void process.stdout.write(s + '\n');
  const fail = (s: string): number => {
    process.stderr.write(`run-notebooks: ${s}\n`);
    return 2;
  };
  let root: string;
  let opts: Options;
  let notebooks: string[];
  try {
    root = repoRoot();
    opts = parseArgs(argv, root);
    if (opts.kernelspec) {
      log(writeKernelSpec(root));
      return 0;
    }
    notebooks = selectNotebooks(opts.dir, opts.prefixes);
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
    for (const nb of notebooks) log(path.relative(process.cwd(), nb) || nb);
    return 0;
  }
  let j = checkJupyter();
  if ('error' in j && opts.installJupyter && !process.env.DLG_JUPYTER && installDebianJupyter(log)) j = checkJupyter();
  if ('error' in j) return fail(j.error);
  const jupyterPath = writeKernelSpec(root);
  const ctx: RunContext = { jupyter: j.jupyter, jupyterPath, hooks: writeHooks(jupyterPath), root, opts };
  const mode = opts.quick
    ? `quick (DLG_QUICK=1; executed copies in ${path.relative(root, opts.out) || opts.out}/)`
    : 'full (executed notebooks written back in place)';
  log(`run-notebooks: ${notebooks.length} notebook(s), ${mode}; per-cell timeout ${opts.timeout} s; ${j.jupyter} (nbconvert ${j.nbconvert}); kernel ${KERNEL_NAME} from ${path.relative(root, jupyterPath)}`);
  if (!opts.quick && process.env.DLG_QUICK) log('run-notebooks: note: DLG_QUICK is set in this shell but ignored in a full run (use --quick)');
  const t0 = Date.now();
  const results = await runAll(notebooks, ctx, log);
  const failed = results.filter((r) => !r.ok);
  log(
    `run-notebooks: ${((Date.now() - t0) / 1000).toFixed(1)} s` +
      (failed.length ? `; failed: ${failed.map((r) => r.notebook).join(', ')}` : '') +
      (opts.quick ? `; executed copies in ${path.relative(process.cwd(), opts.out) || opts.out}` : ''),
  );
  log(`notebooks: ${results.length - failed.length} passed, ${failed.length} failed`); // CI's plain closing line
  return failed.length ? 1 : 0;
}

if (require.main === module) {
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
