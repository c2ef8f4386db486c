/**
 * run-notebooks (notebooks/tools/run.ts) end to end on two tiny notebooks in a temporary folder
 * under out/test-notebooks/: one imports the compiled lib and prints the backend and DLG_QUICK, the
 * other throws. Needs Jupyter (nbconvert + nbclient); skipped, with the reason, where there is none.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { checkJupyter, repoRoot } from '../notebooks/tools/run';

const root = repoRoot(__dirname);
const cli = path.join(root, 'dist', 'notebooks', 'tools', 'run.js');

function notebook(cells: string[]): string {
  return JSON.stringify(
    {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript (tslab)', language: 'typescript' } },
      cells: cells.map((source, i) => ({ cell_type: 'code', id: `cell-${i}`, metadata: {}, execution_count: null, outputs: [], source })),
    },
    null,
    1,
  );
}

function run(args: string[], env: NodeJS.ProcessEnv = process.env): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, env, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** The text of all outputs of an executed notebook. */
function outputsText(file: string): string {
  const nb = JSON.parse(fs.readFileSync(file, 'utf8')) as { cells: { outputs?: { text?: string | string[] }[] }[] };
  return nb.cells
    .flatMap((c) => c.outputs ?? [])
    .map((o) => (Array.isArray(o.text) ? o.text.join('') : o.text ?? ''))
    .join('');
}

describe('run-notebooks', function () {
  let dir = '';
  let empty = '';

  before(function () {
    fs.mkdirSync(path.join(root, 'out', 'test-notebooks'), { recursive: true });
    dir = fs.mkdtempSync(path.join(root, 'out', 'test-notebooks', 'run-'));
    empty = path.join(dir, 'empty');
    fs.mkdirSync(empty);
    const nbDir = path.join(dir, 'nb');
    fs.mkdirSync(nbDir);
    // The import is relative to the notebook, as in notebooks/*.ipynb ('../dist/lib/...').
    const backend = path.relative(nbDir, path.join(root, 'dist', 'lib', 'engine')).split(path.sep).join('/');
    fs.writeFileSync(
      path.join(nbDir, 'a-good.ipynb'),
      notebook([
        `import { backendName } from '${backend}';\nconsole.log('backend=' + backendName());`,
        "console.log('DLG_QUICK=' + (process.env.DLG_QUICK ?? 'unset'));",
      ]),
    );
    fs.writeFileSync(
      path.join(nbDir, 'b-bad.ipynb'),
      notebook(["console.log('before');", "throw new Error('deliberate failure 4711');", "console.log('never');"]),
    );
    // Kept free of imports so that the full-mode run below stays fast.
    fs.writeFileSync(path.join(nbDir, 'c-env.ipynb'), notebook(["console.log('DLG_QUICK=' + (process.env.DLG_QUICK ?? 'unset'));"]));
  });

  after(function () {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a folder without notebooks (exit 2), and --list names the notebooks', function () {
    const r = run(['--dir', empty, '--list']);
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /no notebooks/);
    const l = run(['--dir', path.join(dir, 'nb'), '--list']);
    assert.equal(l.code, 0, l.out);
    assert.deepEqual(
      l.out.trim().split('\n').map((s) => path.basename(s)),
      ['a-good.ipynb', 'b-bad.ipynb', 'c-env.ipynb'],
    );
    const p = run(['--dir', path.join(dir, 'nb'), '--list', 'b']);
    assert.deepEqual(p.out.trim().split('\n').map((s) => path.basename(s)), ['b-bad.ipynb']);
    assert.equal(run(['--dir', path.join(dir, 'nb'), '--list', 'zzz']).code, 2);
  });

  it('without Jupyter: exit 2 and one line saying how to install it', function () {
    const r = run(['--dir', path.join(dir, 'nb')], { ...process.env, DLG_JUPYTER: path.join(dir, 'no-such-jupyter') });
    assert.equal(r.code, 2, r.out);
    assert.equal(r.out.trim().split('\n').length, 1, r.out);
    assert.match(r.out, /apt-get install jupyter-nbconvert python3-nbclient/, r.out);
    assert.match(r.out, /pip install nbconvert nbclient ipykernel/, r.out);
  });

  it('runs notebooks on tslab: ok / FAILED with the thrown message, exit 1; --quick leaves the sources alone', function () {
    const j = checkJupyter();
    if ('error' in j) {
      console.log(`      (skipped: ${j.error})`);
      this.skip();
    }
    const nbDir = path.join(dir, 'nb');
    const outDir = path.join(dir, 'executed');
    const before = fs.readFileSync(path.join(nbDir, 'a-good.ipynb'), 'utf8');
    const r = run(['--quick', '--dir', nbDir, '--out', outDir, '--jobs', '2', '--timeout', '60', 'a', 'b']);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /^a-good\.ipynb\s+ok\s+[\d.]+ s$/m, r.out);
    assert.match(r.out, /^b-bad\.ipynb\s+FAILED\s+[\d.]+ s$/m, r.out);
    assert.match(r.out, /cell 2: throw new Error/, r.out);
    assert.match(r.out, /Error: deliberate failure 4711/, r.out);
    // Quick mode: executed copy in --out, with the kernel's backend and DLG_QUICK=1; source untouched.
    assert.equal(fs.readFileSync(path.join(nbDir, 'a-good.ipynb'), 'utf8'), before);
    const text = outputsText(path.join(outDir, 'a-good.ipynb'));
    assert.match(text, /backend=(cpu|tensorflow)/, text);
    assert.match(text, /DLG_QUICK=1/, text);
    assert.ok(!fs.existsSync(path.join(outDir, 'b-bad.ipynb')), 'a failed notebook leaves no executed copy');
  });

  it('full mode writes the executed notebook back in place, without DLG_QUICK', function () {
    const j = checkJupyter();
    if ('error' in j) {
      console.log(`      (skipped: ${j.error})`);
      this.skip();
    }
    const nbDir = path.join(dir, 'nb');
    const r = run(['--dir', nbDir, 'c-', '--timeout', '60'], { ...process.env, DLG_QUICK: '1' });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^c-env\.ipynb\s+ok\s+[\d.]+ s$/m, r.out);
    const text = outputsText(path.join(nbDir, 'c-env.ipynb'));
    assert.match(text, /DLG_QUICK=unset/, text);
  });
});
