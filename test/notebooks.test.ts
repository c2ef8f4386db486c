/**
 * run-notebooks (notebooks/tools/run.ts) end to end on tiny notebooks in a temporary folder under
 * out/test-notebooks/: one imports the compiled lib and prints the backend and DLG_QUICK, another
 * throws; others write results files, print times, or drift from run to run, for provenance,
 * results staging, --check, the conf file and --jobs. Needs Jupyter (nbconvert + nbclient); those
 * tests are skipped, with the reason, where there is none.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { compareFolders } from '../notebooks/tools/compare';
import { readNotebook } from '../notebooks/tools/notebook';
import { notebookStatus, provenanceOf, sha256, treeState } from '../notebooks/tools/provenance';
import { checkJupyter, repoRoot, staleBuild } from '../notebooks/tools/run';

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
    assert.match(r.out, /^a-good\.ipynb\s+ok\s+[\d.]+ s(?: \(CPU [\d.]+ s, [\d.]+ cores\))?$/m, r.out);
    assert.match(r.out, /^b-bad\.ipynb\s+FAILED\s+[\d.]+ s(?: \(CPU [\d.]+ s, [\d.]+ cores\))?$/m, r.out);
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
    assert.match(r.out, /^c-env\.ipynb\s+ok\s+[\d.]+ s(?: \(CPU [\d.]+ s, [\d.]+ cores\))?$/m, r.out);
    const text = outputsText(path.join(nbDir, 'c-env.ipynb'));
    assert.match(text, /DLG_QUICK=unset/, text);
  });
});

describe('run-notebooks: provenance, results files, --check, the conf file, --jobs', function () {
  let dir = '';
  let nbDir = '';
  let conf = '';
  let firstCheck: { code: number | null; out: string } | null = null;
  const long = (args: string[]): { code: number | null; out: string } => {
    const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 400_000 });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  };
  const needJupyter = (ctx: Mocha.Context): void => {
    const j = checkJupyter();
    if ('error' in j) {
      console.log(`      (skipped: ${j.error})`);
      ctx.skip();
    }
  };
  /** The files of a folder (recursively) and their contents' hashes. */
  const snapshot = (d: string): Record<string, string> => {
    const out: Record<string, string> = {};
    const walk = (rel: string): void => {
      for (const e of fs.readdirSync(path.join(d, rel), { withFileTypes: true })) {
        const r = path.join(rel, e.name);
        if (e.isDirectory()) walk(r);
        else out[r] = sha256(fs.readFileSync(path.join(d, r)));
      }
    };
    walk('');
    return out;
  };
  /** A run's per-notebook verdict lines without their times. */
  const verdicts = (out: string): string[] =>
    out
      .split('\n')
      .filter((l) => /^[e-h]-\w+\.ipynb /.test(l))
      .map((l) => l.replace(/\s+[\d.]+ s\b(?: \(CPU [\d.]+ s, [\d.]+ cores\))?/, ''));

  before(function () {
    fs.mkdirSync(path.join(root, 'out', 'test-notebooks'), { recursive: true });
    dir = fs.mkdtempSync(path.join(root, 'out', 'test-notebooks', 'check-'));
    nbDir = path.join(dir, 'nb');
    fs.mkdirSync(nbDir);
    const results = path.relative(nbDir, path.join(root, 'dist', 'lib', 'report', 'results')).split(path.sep).join('/');
    fs.writeFileSync(
      path.join(nbDir, 'e-same.ipynb'),
      notebook([
        `import * as os from 'os';\nimport { saveResults } from '${results}';\nconst t0 = Date.now();\nconsole.log('answer=' + 6 * 7);\nconsole.log('machine: ' + os.cpus().length + ' cores, pid ' + process.pid);`,
        "saveResults('e-answer', [{ answer: 42, seconds: (Date.now() - t0) / 1000 }]);\nconsole.log('took ' + (Date.now() - t0 + 0.5) + ' ms');",
      ]),
    );
    fs.writeFileSync(
      path.join(nbDir, 'f-drift.ipynb'),
      notebook([`import { saveResults } from '${results}';\nconst x = Math.random();\nconsole.log('x=' + x);\nsaveResults('f-drift', [{ x }]);`]),
    );
    fs.writeFileSync(path.join(nbDir, 'g-quick.ipynb'), notebook(["console.log('DLG_QUICK=' + (process.env.DLG_QUICK ?? 'unset'));"]));
    fs.writeFileSync(path.join(nbDir, 'h-skip.ipynb'), notebook(["throw new Error('never run');"]));
    conf = path.join(dir, 'notebooks.conf');
    fs.writeFileSync(conf, '# test\ng quick\nh  skip   # comment\n');
  });

  after(function () {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('--list --check shows each notebook\'s mode from the conf file; a bad conf file is one line, exit 2', function () {
    const l = long(['--check', '--list', '--conf', conf, '--dir', nbDir]);
    assert.equal(l.code, 0, l.out);
    assert.deepEqual(
      l.out.trim().split('\n').map((s) => `${path.basename(s.split(/\s+/)[0])} ${s.split(/\s+/)[1]}`),
      ['e-same.ipynb full', 'f-drift.ipynb full', 'g-quick.ipynb quick', 'h-skip.ipynb skip'],
    );
    const bad = path.join(dir, 'bad.conf');
    fs.writeFileSync(bad, 'zz full\n');
    const a = long(['--check', '--conf', bad, '--dir', nbDir]);
    assert.equal(a.code, 2, a.out);
    assert.match(a.out, /bad\.conf:1: "zz" matches no notebook/);
    assert.equal(a.out.trim().split('\n').length, 1, a.out);
    fs.writeFileSync(bad, 'e fast\n');
    const b = long(['--check', '--conf', bad, '--dir', nbDir]);
    assert.equal(b.code, 2, b.out);
    assert.match(b.out, /bad\.conf:1: expected "PREFIX full\|quick\|skip"/);
  });

  it('refuses to run from a dist/ older than its sources (the fingerprint would describe other code)', function () {
    const fx = path.join(dir, 'stale-build');
    fs.mkdirSync(path.join(fx, 'lib'), { recursive: true });
    fs.mkdirSync(path.join(fx, 'dist', 'lib'), { recursive: true });
    fs.writeFileSync(path.join(fx, 'lib', 'a.ts'), 'export const a = 1;\n');
    fs.writeFileSync(path.join(fx, 'dist', 'lib', 'a.js'), 'exports.a = 1;\n');
    const past = new Date(Date.now() - 60_000);
    fs.utimesSync(path.join(fx, 'dist', 'lib', 'a.js'), past, past);
    assert.equal(staleBuild(fx), `${path.join('dist', 'lib', 'a.js')} is older than ${path.join('lib', 'a.ts')}`);
    fs.utimesSync(path.join(fx, 'dist', 'lib', 'a.js'), new Date(), new Date());
    assert.equal(staleBuild(fx), null);
    // An incremental build leaves the outputs of unchanged sources alone: its stamp says dist/ is current.
    fs.utimesSync(path.join(fx, 'dist', 'lib', 'a.js'), past, past);
    fs.writeFileSync(path.join(fx, 'dist', '.build-stamp'), 'now\n');
    assert.equal(staleBuild(fx), null);
    const later = new Date(Date.now() + 60_000);
    fs.utimesSync(path.join(fx, 'lib', 'a.ts'), later, later);
    assert.equal(staleBuild(fx), `${path.join('dist', 'lib', 'a.js')} is older than ${path.join('lib', 'a.ts')}`);
    fs.writeFileSync(path.join(fx, 'lib', 'b.ts'), '');
    assert.match(staleBuild(fx) ?? '', /b\.js is missing/);
    assert.equal(staleBuild(root), null, 'this repository: dist/ is built (npm test builds first)');
  });

  it('a full run records provenance in each notebook and moves its results files beside it', function () {
    needJupyter(this);
    const r = long(['--dir', nbDir, '--timeout', '300', 'e-', 'f-']);
    assert.equal(r.code, 0, r.out);
    const cpu = fs.existsSync('/proc/self/stat') ? ', CPU [\\d.]+ s: [\\d.]+ cores busy on average' : '';
    assert.match(r.out, new RegExp(`^run-notebooks: total [\\d.]+ s \\(notebooks [\\d.]+ s, jobs 1${cpu}\\)$`, 'm'), r.out);
    if (cpu) {
      // Each notebook's CPU: nbconvert (Python) and the tslab kernel (Node, the TypeScript compiler) take
      // well over a second of CPU to start, and no process can use more than this machine's cores.
      const lines = [...r.out.matchAll(/^(\S+\.ipynb) +ok +([\d.]+) s \(CPU ([\d.]+) s, ([\d.]+) cores\)$/gm)];
      assert.equal(lines.length, 2, r.out);
      for (const [, , wall, cpuSeconds, cores] of lines) {
        assert.ok(Number(cpuSeconds) > 1, `a notebook's CPU time ${cpuSeconds} s`);
        assert.ok(Math.abs(Number(cpuSeconds) / Number(wall) - Number(cores)) < 0.05, r.out); // printed rounded
        assert.ok(Number(cores) <= os.cpus().length + 0.05, r.out);
      }
    }
    const file = path.join(nbDir, 'e-same.ipynb');
    const s = notebookStatus(file, treeState(root));
    assert.deepEqual(s.findings, [], JSON.stringify(s.findings));
    const p = provenanceOf(readNotebook(file))!;
    const res = path.join(nbDir, 'results', 'e-answer.json');
    assert.deepEqual(p.results, { 'results/e-answer.json': sha256(fs.readFileSync(res)) });
    assert.equal(p.run.mode, 'full');
    assert.equal(p.run.jobs, 1);
    assert.match(p.run.nbconvert ?? '', /^\d+\.\d+/);
    const saved = JSON.parse(fs.readFileSync(res, 'utf8')) as { mode: string; columns: string[]; rows: { answer: number }[] };
    assert.equal(saved.mode, 'full');
    assert.deepEqual(saved.columns, ['answer', 'seconds']);
    assert.equal(saved.rows[0].answer, 42);
    assert.ok(!fs.existsSync(path.join(root, 'notebooks', 'results', 'e-answer.json')), 'results go beside the executed notebook only');
  });

  it('--check executes into --out without touching the notebooks, compares, fails on a difference; the conf decides each mode', function () {
    needJupyter(this);
    const before = snapshot(nbDir);
    const out1 = path.join(dir, 'out1');
    const r = long(['--check', '--conf', conf, '--dir', nbDir, '--out', out1, '--timeout', '300']);
    firstCheck = r;
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /^e-same\.ipynb\s+ok\s+[\d.]+ s(?: \(CPU [\d.]+ s, [\d.]+ cores\))? {2}identical to the committed notebook$/m, r.out);
    assert.match(r.out, /^f-drift\.ipynb\s+ok\s+[\d.]+ s(?: \(CPU [\d.]+ s, [\d.]+ cores\))? {2}2 difference\(s\) from the committed notebook$/m, r.out);
    assert.match(r.out, /cell 1, output 1: stream stdout\n\s+line 1: - x=0\.\d+\n\s+line 1: \+ x=0\.\d+/, r.out);
    assert.match(r.out, /results\/f-drift\.json:\n\s+row 1, x: 0\.\d+ vs 0\.\d+/, r.out);
    assert.match(r.out, /^g-quick\.ipynb\s+ok\s+[\d.]+ s(?: \(CPU [\d.]+ s, [\d.]+ cores\))? {2}quick: not compared$/m, r.out);
    assert.match(r.out, /^h-skip\.ipynb\s+skipped$/m, r.out);
    assert.match(r.out, /^notebooks: 3 passed, 0 failed, 1 skipped$/m, r.out);
    assert.match(r.out, /^compare: 1 identical, 1 different, 1 quick \(not compared\)$/m, r.out);
    assert.deepEqual(snapshot(nbDir), before, '--check must not change the notebook folder');
    assert.match(outputsText(path.join(out1, 'g-quick.ipynb')), /DLG_QUICK=1/);
    assert.equal(provenanceOf(readNotebook(path.join(out1, 'g-quick.ipynb')))!.run.mode, 'quick');
    assert.ok(fs.existsSync(path.join(out1, 'results', 'e-answer.json')));
    assert.ok(!fs.existsSync(path.join(out1, 'h-skip.ipynb')));
  });

  it('results do not depend on --jobs: the same verdicts and the same outputs with 3 notebooks at a time', function () {
    needJupyter(this);
    const out1 = path.join(dir, 'out1');
    const out3 = path.join(dir, 'out3');
    const r1 = firstCheck;
    if (!r1 || !fs.existsSync(path.join(out1, 'e-same.ipynb'))) this.skip(); // the --check test above failed
    const r3 = long(['--check', '--conf', conf, '--dir', nbDir, '--out', out3, '--timeout', '300', '--jobs', '3']);
    assert.equal(r3.code, r1.code, r3.out);
    assert.deepEqual(verdicts(r3.out), verdicts(r1.out));
    assert.match(r3.out, /jobs 3[,)]/);
    // The deterministic notebooks and results files: identical (f-drift is random by design).
    fs.rmSync(path.join(out1, 'f-drift.ipynb'));
    fs.rmSync(path.join(out1, 'results', 'f-drift.json'));
    const reports = compareFolders(out1, out3);
    assert.deepEqual(reports.map((x) => [x.name, x.identical]), [['e-same.ipynb', true], ['g-quick.ipynb', true], ['results/e-answer.json', true]]);
    assert.equal(provenanceOf(readNotebook(path.join(out3, 'e-same.ipynb')))!.run.jobs, 3);
  });
});
