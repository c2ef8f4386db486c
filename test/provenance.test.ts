/**
 * Provenance of executed notebooks (notebooks/tools/provenance.ts).
 *
 * First: every committed notebook (notebooks/*.ipynb) must carry a fingerprint that matches the
 * tree: its source, lib/, package-lock.json and the datasets as they are now, its outputs and results
 * files as the runner wrote them, from a full run. This fails, naming the notebook and what differs,
 * whenever lib/ (or anything else) changed after the notebooks were last executed: re-run them
 * (`npm run notebooks`, or `npm run notebooks -- 03` for one) and commit the outputs.
 *
 * Then: the mechanism on a fixture tree under out/test-notebooks/ (fresh after stamping; each
 * component, when changed, makes it stale and is named; formatting and documentation do not), and
 * the status command.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { repoRoot } from '../notebooks/tools/jupyter';
import { notebookText, readNotebook, writeNotebook } from '../notebooks/tools/notebook';
import {
  describeStatus,
  notebookStatus,
  orphanResults,
  runFacts,
  sha256,
  stamp,
  treeState,
  TreeState,
} from '../notebooks/tools/provenance';
import { display, notebook, stream } from './helpers/notebooks';

const root = repoRoot(__dirname);

describe('provenance: committed notebooks match the tree', function () {
  const dir = path.join(root, 'notebooks');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb')).sort();
  let tree: TreeState;
  before(function () {
    tree = treeState(root);
  });

  it('there are committed notebooks', function () {
    assert.ok(files.length >= 1, `no notebooks in ${dir}`);
  });

  for (const f of files) {
    it(`${f} is fresh`, function () {
      const s = notebookStatus(path.join(dir, f), tree);
      const prefix = f.split('-')[0];
      assert.ok(s.fresh, `notebooks/${f} is ${describeStatus(s)}. Re-run it (npm run notebooks -- ${prefix}) and commit its outputs.`);
    });
  }

  it('every results file in notebooks/results/ is claimed by a notebook', function () {
    const statuses = files.map((f) => notebookStatus(path.join(dir, f), tree));
    assert.deepEqual(orphanResults(dir, statuses), []);
  });
});

describe('provenance: the fingerprint on a fixture tree', function () {
  let fx = '';
  let nbFile = '';
  const write = (rel: string, text: string): void => {
    fs.mkdirSync(path.dirname(path.join(fx, rel)), { recursive: true });
    fs.writeFileSync(path.join(fx, rel), text);
  };
  const read = (rel: string): string => fs.readFileSync(path.join(fx, rel), 'utf8');
  const status = (opts = {}) => notebookStatus(nbFile, treeState(fx, {}), opts);
  /** Applies a change, returns the status, and undoes the change (restoring the file's text). */
  const withChange = (rel: string, text: string, opts = {}) => {
    const abs = path.join(fx, rel);
    const before = fs.existsSync(abs) ? fs.readFileSync(abs) : null;
    write(rel, text);
    try {
      return status(opts);
    } finally {
      if (before) fs.writeFileSync(abs, before);
      else fs.rmSync(abs);
    }
  };

  before(function () {
    fs.mkdirSync(path.join(root, 'out', 'test-notebooks'), { recursive: true });
    fx = fs.mkdtempSync(path.join(root, 'out', 'test-notebooks', 'provenance-'));
    write('lib/a.ts', 'export const a = 1;\n');
    write('lib/sub/b.py', 'print(1)\n');
    write('lib/shims/x/index.js', 'module.exports = 1;\n');
    write('tsconfig.json', '{}\n');
    write('package-lock.json', '{"lockfileVersion": 3}\n');
    write('datasets/README.md', '# data\n');
    write('datasets/make.py', 'pass\n');
    write('datasets/d/x.bin', 'abc');
    write('notebooks/results/r.json', '{"rows": []}\n');
    nbFile = path.join(fx, 'notebooks', 'n.ipynb');
    const nb = notebook([
      { md: '# Fixture' },
      { code: "console.log('MSE 9.11e-6')", outputs: [stream('MSE 9.11e-6\n'), stream('and more\n')] },
      { code: 'table()', outputs: [display('text/html', '<table><tr><th>a</th></tr><tr><td>1</td></tr></table>')] },
    ]);
    const tree = treeState(fx, {});
    stamp(nb, tree, runFacts({ mode: 'full', seconds: 12.34, jobs: 1 }), { 'results/r.json': sha256(read('notebooks/results/r.json')) });
    writeNotebook(nbFile, nb);
  });

  after(function () {
    if (fx) fs.rmSync(fx, { recursive: true, force: true });
  });

  it('fresh right after the run; records lib, lockfile, datasets and run facts', function () {
    const s = status();
    assert.deepEqual(s.findings, []);
    assert.equal(s.fresh, true);
    const p = s.provenance!;
    assert.deepEqual(Object.keys(p.files.lib), ['lib/a.ts', 'lib/shims/x/index.js', 'lib/sub/b.py', 'tsconfig.json']);
    assert.deepEqual(Object.keys(p.files.datasets), ['d/x.bin']); // documentation and scripts are not data
    assert.equal(p.run.mode, 'full');
    assert.equal(p.run.seconds, 12.3);
    assert.equal(p.run.node, process.version);
    assert.ok(p.run.cpus >= 1);
    assert.match(p.run.date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('stays fresh when re-written in another layout: JSON indent, text as line lists, streams merged, execution counts', function () {
    const nb = readNotebook(nbFile);
    const before = fs.readFileSync(nbFile, 'utf8');
    const c = nb.cells[1];
    c.outputs = [{ output_type: 'stream', name: 'stdout', text: ['MSE 9.11e-6\n', 'and more\n'] }];
    c.source = ["console.log('MSE 9.11e-6')"];
    c.execution_count = 42;
    try {
      fs.writeFileSync(nbFile, JSON.stringify(nb, null, 2));
      assert.deepEqual(status().findings, []);
    } finally {
      fs.writeFileSync(nbFile, before);
    }
  });

  it('a change in lib/ or tsconfig.json makes it stale, naming the files', function () {
    const s = withChange('lib/a.ts', 'export const a = 2;\n');
    assert.equal(s.fresh, false);
    assert.deepEqual(s.findings.map((f) => f.component), ['lib']);
    assert.match(s.findings[0].detail, /lib\/a\.ts changed/);
    assert.match(withChange('lib/new.ts', 'x').findings[0].detail, /lib\/new\.ts added/);
    assert.match(withChange('lib/sub/b.py', 'print(2)\n').findings[0].detail, /lib\/sub\/b\.py changed/);
    assert.match(withChange('tsconfig.json', '{"strict": true}\n').findings[0].detail, /tsconfig\.json changed/);
    // caches are not sources
    assert.equal(withChange('lib/sub/__pycache__/b.cpython-311.pyc', 'x').fresh, true);
    assert.equal(status().fresh, true);
  });

  it('package-lock.json, a dataset file, the notebook source, its outputs, a results file, the mode: each named', function () {
    assert.deepEqual(withChange('package-lock.json', '{"lockfileVersion": 2}\n').findings.map((f) => f.component), ['lockfile']);
    const d = withChange('datasets/d/x.bin', 'abd');
    assert.deepEqual(d.findings.map((f) => f.component), ['datasets']);
    assert.match(d.findings[0].detail, /d\/x\.bin changed/);
    assert.deepEqual(withChange('datasets/d/extra.png', 'png').findings.map((f) => f.component), ['datasets']);
    assert.equal(withChange('datasets/README.md', '# other\n').fresh, true);

    const nbText = fs.readFileSync(nbFile, 'utf8');
    const edited = readNotebook(nbFile);
    edited.cells[0].source = '# Fixture, edited';
    const src = withChange('notebooks/n.ipynb', notebookText(edited));
    assert.deepEqual(src.findings.map((f) => f.component), ['notebook']);
    assert.match(src.findings[0].detail, /cell 1\b/);

    const rerun = readNotebook(nbFile);
    rerun.cells[2].outputs = [display('text/html', '<table><tr><th>a</th></tr><tr><td>2</td></tr></table>')];
    const out = withChange('notebooks/n.ipynb', notebookText(rerun));
    assert.deepEqual(out.findings.map((f) => f.component), ['outputs']);
    assert.match(out.findings[0].detail, /outputs of cell 3 differ/);
    assert.equal(fs.readFileSync(nbFile, 'utf8'), nbText);

    const res = withChange('notebooks/results/r.json', '{"rows": [1]}\n');
    assert.deepEqual(res.findings.map((f) => f.component), ['results']);
    assert.match(res.findings[0].detail, /results\/r\.json changed since the run/);

    const quick = readNotebook(nbFile);
    stamp(quick, treeState(fx, {}), runFacts({ mode: 'quick', seconds: 1, jobs: 1 }), { 'results/r.json': sha256(read('notebooks/results/r.json')) });
    const q = withChange('notebooks/n.ipynb', notebookText(quick));
    assert.deepEqual(q.findings.map((f) => f.component), ['mode']);
    assert.equal(withChange('notebooks/n.ipynb', notebookText(quick), { requireMode: null }).fresh, true);

    const bare = readNotebook(nbFile);
    delete bare.metadata.dlg;
    assert.deepEqual(withChange('notebooks/n.ipynb', notebookText(bare)).findings.map((f) => f.component), ['provenance']);
    assert.equal(status().fresh, true);
  });

  it('the runner writes notebooks as nbformat writes them: a save through Jupyter changes no byte', function () {
    const python = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
    const has = spawnSync(python, ['-c', 'import nbformat'], { encoding: 'utf8' });
    if (has.status !== 0) {
      console.log(`      (skipped: no Python nbformat (Jupyter's notebook file library): ${(has.stderr || String(has.error)).trim().split('\n').pop()})`);
      this.skip();
    }
    // nbformat writes a notebook with the kinds of content executed notebooks hold...
    const f = path.join(fx, 'roundtrip.ipynb');
    const make = [
      'import base64, sys, nbformat',
      'from nbformat.v4 import new_notebook, new_markdown_cell, new_code_cell, new_output',
      'nb = new_notebook(metadata={"kernelspec": {"name": "tslab", "display_name": "TypeScript (tslab)", "language": "typescript"}})',
      'nb.cells = [new_markdown_cell("# Ünïcode ‖g′−g‖ · $x^2$\\nsecond line"),',
      '  new_code_cell("const a = 1;\\nconsole.log(a)", execution_count=3, outputs=[',
      '    new_output("stream", name="stdout", text="machine: 2 cores\\nMSE 9.11e-6 after 25.4 s\\n"),',
      '    new_output("display_data", data={"image/png": base64.b64encode(bytes(range(256))).decode(), "text/plain": "<img>"}),',
      '    new_output("display_data", data={"text/html": "<table>\\n<tr><th>a</th></tr>\\n</table>", "text/markdown": "| a |\\n|---|\\n| 1 |"}),',
      '    new_output("execute_result", data={"text/plain": "42"}, execution_count=3),',
      '    new_output("error", ename="Error", evalue="boom", traceback=["Error: boom", "    at x"])])]',
      'nbformat.write(nb, sys.argv[1])',
    ].join('\n');
    const w = spawnSync(python, ['-c', make, f], { encoding: 'utf8' });
    assert.equal(w.status, 0, w.stderr);
    // ...the runner adds its provenance and writes it...
    const nb = readNotebook(f);
    stamp(nb, treeState(fx, {}), runFacts({ mode: 'full', seconds: 1.5, jobs: 2 }), { 'results/r.json': 'ab'.repeat(32) });
    writeNotebook(f, nb);
    const ours = fs.readFileSync(f, 'utf8');
    // ...and nbformat (what Jupyter saves with) reads and writes it back: the same bytes.
    const again = path.join(fx, 'roundtrip-again.ipynb');
    const r = spawnSync(python, ['-c', 'import sys, nbformat; nbformat.write(nbformat.read(sys.argv[1], as_version=4), sys.argv[2])', f, again], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(fs.readFileSync(again, 'utf8') === ours, 'nbformat rewrote the runner\'s notebook differently');
    assert.equal(notebookStatus(again, treeState(fx, {})).findings.filter((x) => x.component === 'outputs' || x.component === 'notebook').length, 0);
  });

  it('the datasets folder is $DLG_DATASETS when set, as the loaders read it', function () {
    write('elsewhere/d/x.bin', 'abc');
    assert.equal(treeState(fx, { DLG_DATASETS: path.join(fx, 'elsewhere') }).datasets, treeState(fx, {}).datasets);
    write('elsewhere/d/x.bin', 'xyz');
    assert.notEqual(treeState(fx, { DLG_DATASETS: path.join(fx, 'elsewhere') }).datasets, treeState(fx, {}).datasets);
  });

  it('status: one line per notebook, fresh or STALE and why; exit 0 / 1 / 2', function () {
    // The command checks against this repository's tree, so stamp copies with it.
    const dir = path.join(fx, 'status');
    fs.mkdirSync(path.join(dir, 'results'), { recursive: true });
    const tree = treeState(root);
    const good = readNotebook(nbFile);
    stamp(good, tree, runFacts({ mode: 'full', seconds: 3, jobs: 1 }));
    writeNotebook(path.join(dir, '01-good.ipynb'), good);
    const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(root, 'dist', 'notebooks', 'tools', 'status.js'), ...args], { cwd: root, encoding: 'utf8' });
    const ok = cli('--dir', dir);
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^01-good\.ipynb {2}fresh {2}full +\d{4}-\d\d-\d\dT[\d:]+Z +3\.0 s {2}node v\d+/m);
    const bad = readNotebook(nbFile);
    stamp(bad, tree, runFacts({ mode: 'full', seconds: 3, jobs: 1 }));
    bad.cells[1].source = "console.log('changed')";
    writeNotebook(path.join(dir, '02-edited.ipynb'), bad);
    fs.writeFileSync(path.join(dir, 'results', 'orphan.json'), '{}');
    const stale = cli('--dir', dir);
    assert.equal(stale.status, 1, stale.stdout + stale.stderr);
    assert.match(stale.stdout, /^02-edited\.ipynb {2}STALE /m);
    assert.match(stale.stdout, /^ {4}notebook: the notebook's source changed since the run: cell 2$/m);
    assert.match(stale.stdout, /^status: 1 fresh, 1 stale of 2 notebook\(s\)$/m);
    assert.match(stale.stdout, /results files no notebook claims .*results\/orphan\.json/);
    const none = cli('--dir', path.join(fx, 'no-such-dir'));
    assert.equal(none.status, 2);
    assert.equal(none.stderr.trim().split('\n').length, 1, none.stderr);
  });
});
