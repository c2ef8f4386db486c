/**
 * Interactive notebooks in one command: starts Jupyter Notebook on notebooks/ with the project's
 * tslab kernel registered, reachable from this machine only, behind a token.
 *
 *   node dist/notebooks/tools/lab.js [--port N] [--dir DIR] [--no-install]      (npm run lab)
 *
 *   --port N       port on 127.0.0.1 (default: the first free one from 8888)
 *   --dir DIR      notebook folder (default: <repo>/notebooks)
 *   --no-install   never install Jupyter Notebook; only say how
 *
 * Jupyter: $DLG_JUPYTER, else `jupyter` on PATH, else /usr/bin/jupyter, whose `jupyter notebook`
 * must work (Debian: `apt-get install jupyter-notebook`, installed here when missing and running as
 * root, as the runner's --install-jupyter does; elsewhere the install command is printed, exit 2).
 *
 * Safety: the server listens on 127.0.0.1 only (never 0.0.0.0 or ::), with a fresh random token
 * (48 hex digits) for every start; the token goes to Jupyter in a config file readable only by
 * this user (not on the command line, which `ps` shows), and the URL with the token is printed.
 * The kernel is registered as the runner registers it (jupyter.ts: JUPYTER_PATH points at
 * node_modules/.cache/dlg-jupyter). Ctrl-C (or SIGTERM) shuts Jupyter down with its kernels.
 *
 * Exit status: 0 after a clean shutdown, 2 bad input or no Jupyter Notebook, 1 Jupyter failed.
 */
import { ChildProcess, spawn } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { aptInstall, checkNotebookServer, jupyterPathEnv, NOTEBOOK_DEBS, repoRoot, writeKernelSpec } from './jupyter';
import { request } from './kernel-client';

export const HOST = '127.0.0.1';

export interface LabOptions {
  port: number | null;
  dir: string;
  install: boolean;
}

class UsageError extends Error {}

export function parseLabArgs(argv: string[], root: string): LabOptions {
  const o: LabOptions = { port: null, dir: path.join(root, 'notebooks'), install: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const [flag, inline] = a.startsWith('--') && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const take = (): string => {
      if (inline !== undefined) return inline;
      if (i + 1 >= argv.length) throw new UsageError(`${flag} needs a value`);
      return argv[++i];
    };
    if (flag === '--port') {
      const v = take();
      const p = Number(v);
      if (!Number.isInteger(p) || p < 1 || p > 65535) throw new UsageError(`--port must be an integer in 1..65535, got ${v}`);
      o.port = p;
    } else if (flag === '--dir') o.dir = path.resolve(take());
    else if (flag === '--no-install') o.install = false;
    else throw new UsageError(`unknown argument ${a}`);
  }
  if (!fs.existsSync(o.dir) || !fs.statSync(o.dir).isDirectory()) throw new UsageError(`notebook folder ${o.dir} does not exist`);
  return o;
}

/** Whether nothing listens on HOST:port (we can bind it). */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, HOST, () => s.close(() => resolve(true)));
  });
}

/** Whether something accepts connections on HOST:port. */
export function portOpen(port: number, host = HOST): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    s.setTimeout(3000, () => {
      s.destroy();
      resolve(false);
    });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Jupyter config: the token and the loopback-only settings, for Notebook 6 (NotebookApp) and 7 (ServerApp). */
export function labConfig(token: string, port: number): string {
  const lines = ['# Written by notebooks/tools/lab.ts for one server start; deleted when it stops.'];
  for (const app of ['NotebookApp', 'ServerApp']) {
    lines.push(
      `c.${app}.token = '${token}'`,
      `c.${app}.ip = '${HOST}'`,
      `c.${app}.port = ${port}`,
      `c.${app}.port_retries = 0`,
      `c.${app}.open_browser = False`,
      `c.${app}.allow_remote_access = False`,
    );
    // Jupyter refuses to start as root unless told; CI and these machines run as root.
    if (typeof process.getuid === 'function' && process.getuid() === 0) lines.push(`c.${app}.allow_root = True`);
  }
  return lines.join('\n') + '\n';
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<number> {
  const log = (s: string): void => void process.stdout.write(s + '\n');
  const fail = (s: string, code = 2): number => {
    process.stderr.write(`lab: ${s}\n`);
    return code;
  };
  let root: string;
  let opts: LabOptions;
  try {
    root = repoRoot();
    opts = parseLabArgs(argv, root);
  } catch (e) {
    return fail(e instanceof UsageError ? `${e.message}\nusage: lab [--port N] [--dir DIR] [--no-install]` : (e as Error).message);
  }
  let j = checkNotebookServer();
  if ('error' in j && opts.install && !process.env.DLG_JUPYTER) {
    if (aptInstall(NOTEBOOK_DEBS, log, 'lab')) j = checkNotebookServer();
  }
  if ('error' in j) return fail(j.error);
  const { jupyter, notebook: version } = j;
  let port = opts.port;
  if (port !== null && !(await portFree(port))) return fail(`port ${port} on ${HOST} is in use: pick another with --port`);
  for (let p = 8888; port === null && p < 8988; p++) if (await portFree(p)) port = p;
  if (port === null) return fail(`no free port in 8888..8987 on ${HOST}: pick one with --port`);

  const jupyterPath = writeKernelSpec(root);
  const token = randomBytes(24).toString('hex');
  const confDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlg-lab-'));
  fs.chmodSync(confDir, 0o700);
  const confFile = path.join(confDir, 'jupyter_notebook_config.py');
  fs.writeFileSync(confFile, labConfig(token, port), { mode: 0o600 });
  const env: NodeJS.ProcessEnv = { ...process.env, JUPYTER_PATH: jupyterPathEnv(process.env, jupyterPath), PYTHONUNBUFFERED: '1' };
  delete env.JUPYTER_TOKEN;
  // Detached: its own process group, so a terminal's Ctrl-C reaches only us, and we shut it down (SIGTERM).
  const child: ChildProcess = spawn(
    jupyter,
    ['notebook', `--config=${confFile}`, '--no-browser', `--ip=${HOST}`, `--port=${port}`, `--notebook-dir=${opts.dir}`],
    { cwd: opts.dir, env, stdio: ['ignore', 'inherit', 'inherit'], detached: true },
  );
  const exited = new Promise<number>((resolve) => {
    child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 + (os.constants.signals[sig] ?? 0) : 1)));
    child.on('error', (e) => {
      process.stderr.write(`lab: could not start ${jupyter}: ${e.message}\n`);
      resolve(127);
    });
  });
  let stopping = false;
  const stop = (): void => {
    if (stopping || child.exitCode !== null) return;
    stopping = true;
    log('lab: stopping Jupyter (and its kernels)...');
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
    kill.unref();
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, stop);
  process.on('exit', () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    fs.rmSync(confDir, { recursive: true, force: true });
  });

  // Ready when the API answers with the token.
  const base = `http://${HOST}:${port}/`;
  const t0 = Date.now();
  let ready = false;
  while (!ready && !stopping && child.exitCode === null && Date.now() - t0 < 120_000) {
    try {
      ready = (await request(base, token, 'GET', '/api/status', undefined, 2000)).status === 200;
    } catch {
      /* not listening yet */
    }
    if (!ready) await new Promise((r) => setTimeout(r, 300));
  }
  if (!ready && !stopping) {
    stop();
    await exited;
    return fail(child.exitCode !== null ? `Jupyter exited (status ${child.exitCode}) before it answered on ${base}` : `Jupyter did not answer on ${base} within 120 s`, 1);
  }
  if (ready) {
    log(`lab: Jupyter Notebook ${version} for ${path.relative(process.cwd(), opts.dir) || opts.dir}/ (kernel "TypeScript (tslab)"), on ${HOST} only`);
    log(`lab: open ${base}?token=${token}`);
    log('lab: Ctrl-C stops it');
  }
  const code = await exited;
  fs.rmSync(confDir, { recursive: true, force: true });
  if (stopping) {
    log('lab: stopped');
    return 0;
  }
  return fail(`Jupyter exited with status ${code}`, 1);
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`lab: ${(e as Error).stack ?? e}\n`);
      process.exit(2);
    },
  );
}
