/**
 * `npm run lab` (notebooks/tools/lab.ts) for real: starts Jupyter Notebook on a free loopback port,
 * checks it listens on 127.0.0.1 only and wants its token, opens a kernel session through Jupyter's
 * REST and websocket API (notebooks/tools/kernel-client.ts), runs a cell that imports the compiled
 * lib, then stops it as a user would (Ctrl-C) and checks the port is closed and the kernel gone.
 * No traffic beyond 127.0.0.1. Skipped, with the reason, where `jupyter notebook` is not installed
 * (Debian: apt-get install jupyter-notebook).
 */
import { strict as assert } from 'assert';
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { engineInfo } from '../lib/engine';
import { checkNotebookServer, repoRoot } from '../notebooks/tools/jupyter';
import { openSession, request } from '../notebooks/tools/kernel-client';
import { portOpen } from '../notebooks/tools/lab';

const root = repoRoot(__dirname);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Local addresses of the listening TCP sockets on `port` (Linux: /proc/net/tcp and tcp6), or null elsewhere. */
function listeners(port: number): string[] | null {
  const out: string[] = [];
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!fs.existsSync(f)) return null;
    for (const line of fs.readFileSync(f, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4 || cols[3] !== '0A') continue; // 0A: LISTEN
      const [addr, p] = cols[1].split(':');
      if (parseInt(p, 16) !== port) continue;
      out.push(addr.length === 8 ? addr.match(/../g)!.reverse().map((h) => parseInt(h, 16)).join('.') : `ipv6:${addr}`);
    }
  }
  return out;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm run lab: Jupyter Notebook with the tslab kernel, on 127.0.0.1 behind a token', function () {
  let child: ChildProcess | null = null;

  after(function () {
    if (child && child.exitCode === null) child.kill('SIGTERM');
  });

  it('serves notebooks/; a kernel session runs a cell importing the compiled lib; Ctrl-C shuts it all down', async function () {
    const j = checkNotebookServer();
    if ('error' in j) {
      console.log(`      (skipped: ${j.error})`);
      this.skip();
    }
    const port = await freePort();
    const lab = spawn(process.execPath, [path.join(root, 'dist', 'notebooks', 'tools', 'lab.js'), '--port', String(port), '--no-install'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = lab;
    let out = '';
    lab.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    lab.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => lab.on('exit', (code) => resolve(code)));

    // The URL line, once the server answers.
    const t0 = Date.now();
    let m: RegExpExecArray | null = null;
    while (!(m = /^lab: open (http:\/\/([\d.]+):(\d+)\/)\?token=([0-9a-f]+)$/m.exec(out)) && lab.exitCode === null && Date.now() - t0 < 150_000) {
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(m, `no URL line from lab within 150 s:\n${out}`);
    const [, base, host, p, token] = m;
    assert.equal(host, '127.0.0.1');
    assert.equal(Number(p), port);
    assert.equal(token.length, 48);

    // Listening on the loopback address only, and nothing without the token.
    const l = listeners(port);
    if (l) assert.deepEqual(l, ['127.0.0.1'], `listening sockets on port ${port}: ${l.join(', ')}`);
    assert.equal((await request(base, null, 'GET', '/api/sessions')).status, 403);
    assert.equal((await request(base, 'wrong-token', 'GET', '/api/kernelspecs')).status, 403);
    const specs = await request(base, token, 'GET', '/api/kernelspecs');
    assert.equal(specs.status, 200);
    assert.ok('tslab' in (JSON.parse(specs.body) as { kernelspecs: Record<string, unknown> }).kernelspecs, specs.body);

    // A session on the project's kernel, as a browser tab opens one; the cell imports the compiled lib.
    const session = await openSession(base, token, `lab-test-${process.pid}.ipynb`, 'tslab');
    const r = await session.execute(
      "import { engineInfo } from '../dist/lib/engine';\nconsole.log(engineInfo());\nconsole.log('pid=' + process.pid + ' cwd=' + process.cwd());",
      150_000,
    );
    assert.equal(r.status, 'ok', JSON.stringify(r));
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], engineInfo());
    const pm = /^pid=(\d+) cwd=(.*)$/.exec(lines[1]);
    assert.ok(pm, r.stdout);
    assert.equal(pm[2], path.join(root, 'notebooks'));
    const kernelPid = Number(pm[1]);
    assert.ok(alive(kernelPid));
    const err = await session.execute("throw new Error('deliberate 4711')");
    assert.equal(err.status, 'error');
    assert.match(err.stderr, /Error: deliberate 4711/);

    // Ctrl-C with the session still open: Jupyter stops, with its kernel; the port closes.
    lab.kill('SIGINT');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([exited, new Promise<string>((r) => (timer = setTimeout(() => r('timeout'), 60_000)))]);
    clearTimeout(timer);
    assert.equal(code, 0, `lab's exit status after Ctrl-C:\n${out}`);
    assert.match(out, /^lab: stopped$/m);
    assert.equal(await portOpen(port), false, `port ${port} still open`);
    for (let k = 0; k < 50 && alive(kernelPid); k++) await new Promise((r2) => setTimeout(r2, 200));
    assert.equal(alive(kernelPid), false, `kernel process ${kernelPid} still running`);
  });

  it('bad input or no Jupyter Notebook: one line, exit 2', async function () {
    const run = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
      new Promise<{ code: number | null; err: string }>((resolve) => {
        const c = spawn(process.execPath, [path.join(root, 'dist', 'notebooks', 'tools', 'lab.js'), ...args], { cwd: root, env });
        let err = '';
        c.stderr.on('data', (d: Buffer) => (err += d.toString()));
        c.on('exit', (code) => resolve({ code, err }));
      });
    const a = await run(['--port', 'abc']);
    assert.equal(a.code, 2);
    assert.match(a.err, /--port must be an integer/);
    const b = await run(['--dir', path.join(root, 'no-such-folder')]);
    assert.equal(b.code, 2);
    assert.match(b.err, /does not exist/);
    const c = await run(['--no-install'], { ...process.env, DLG_JUPYTER: path.join(root, 'no-such-jupyter') });
    assert.equal(c.code, 2);
    assert.equal(c.err.trim().split('\n').length, 1, c.err);
    assert.match(c.err, /apt-get install jupyter-notebook/);
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    try {
      const d = await run(['--port', String((busy.address() as net.AddressInfo).port), '--no-install']);
      assert.equal(d.code, 2);
      assert.match(d.err, /is in use|jupyter-notebook/);
    } finally {
      busy.close();
    }
  });
});
