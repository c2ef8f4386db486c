/**
 * Finding (and, on Debian as root, installing) Jupyter, and registering the project's tslab kernel
 * project-locally: what the runner (run.ts) and `npm run lab` (lab.ts) share.
 *
 * Jupyter: $DLG_JUPYTER if set, else `jupyter` on PATH, else /usr/bin/jupyter. Headless execution
 * needs `jupyter nbconvert` (nbconvert + nbclient); interactive use needs `jupyter notebook`.
 *
 * The kernel: a kernelspec written to node_modules/.cache/dlg-jupyter/kernels/tslab/kernel.json
 * (absolute paths of this Node and this repository's tslab); child processes get JUPYTER_PATH
 * pointing there. Nothing is installed globally and tslab need not be on PATH. See environment.md.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export const KERNEL_NAME = 'tslab';

/** Debian packages for headless execution (what `--install-jupyter` and CI install). */
export const JUPYTER_DEBS = ['jupyter-nbconvert', 'python3-nbclient', 'jupyter-client', 'python3-ipython', 'python3-ipykernel'];

/** Debian package for interactive use (`npm run lab`): the classic Jupyter Notebook server. */
export const NOTEBOOK_DEBS = ['jupyter-notebook'];

export const INSTALL_HINT =
  'Jupyter (nbconvert + nbclient) not found: install it with ' +
  '`apt-get install jupyter-nbconvert python3-nbclient jupyter-client python3-ipython python3-ipykernel` (Debian/Ubuntu) ' +
  'or `pip install nbconvert nbclient ipykernel`, then rerun.';

export const NOTEBOOK_INSTALL_HINT =
  'Jupyter Notebook not found: install it with `apt-get install jupyter-notebook` (Debian/Ubuntu) or `pip install notebook`, then rerun.';

/** The repository root: the nearest ancestor of `from` holding package.json and node_modules/tslab. */
export function repoRoot(from: string = __dirname): string {
  let dir = path.resolve(from);
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'node_modules', 'tslab', 'package.json'))) {
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

/** JUPYTER_PATH for child processes: the project's kernel folder first, then the caller's. */
export function jupyterPathEnv(base: NodeJS.ProcessEnv, jupyterPath: string): string {
  return base.JUPYTER_PATH ? `${jupyterPath}${path.delimiter}${base.JUPYTER_PATH}` : jupyterPath;
}

export function isExecutable(file: string): boolean {
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

/** Whether `jupyter SUBCOMMAND --version` runs: its version, or why not. */
function checkSubcommand(sub: string, hint: string, env: NodeJS.ProcessEnv): { jupyter: string; version: string } | { error: string } {
  const jupyter = findJupyter(env);
  if (!jupyter) return { error: hint };
  const r = spawnSync(jupyter, [sub, '--version'], { encoding: 'utf8', env, timeout: 60_000 });
  if (r.status !== 0) {
    const why = (r.stderr || r.stdout || String(r.error ?? '')).trim().split('\n').pop();
    return { error: `${jupyter} has no working \`jupyter ${sub}\` (${why}). ${hint}` };
  }
  return { jupyter, version: r.stdout.trim().split('\n').pop() ?? '' };
}

/** A usable `jupyter` (one whose `jupyter nbconvert` starts), or the reason there is none. */
export function checkJupyter(env: NodeJS.ProcessEnv = process.env): { jupyter: string; nbconvert: string } | { error: string } {
  const r = checkSubcommand('nbconvert', INSTALL_HINT, env);
  return 'error' in r ? r : { jupyter: r.jupyter, nbconvert: r.version };
}

/** A usable `jupyter` whose `jupyter notebook` (the interactive server) starts, or why there is none. */
export function checkNotebookServer(env: NodeJS.ProcessEnv = process.env): { jupyter: string; notebook: string } | { error: string } {
  const r = checkSubcommand('notebook', NOTEBOOK_INSTALL_HINT, env);
  return 'error' in r ? r : { jupyter: r.jupyter, notebook: r.version };
}

/**
 * On Debian/Ubuntu as root: `apt-get update` and `apt-get install` the packages, saying so first.
 * Elsewhere (not root, no apt-get) it does nothing and returns false, and the caller prints its hint.
 */
export function aptInstall(packages: string[], log: (s: string) => void, who: string): boolean {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || !isExecutable('/usr/bin/apt-get')) return false;
  log(`${who}: installing Debian packages: apt-get install -y --no-install-recommends ${packages.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-q'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  if (update.status !== 0) return false;
  const install = spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], { stdio: ['ignore', 'ignore', 'inherit'], env });
  return install.status === 0;
}
