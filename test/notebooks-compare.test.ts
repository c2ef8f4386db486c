/**
 * notebooks/tools/compare.ts on small synthetic notebooks: two executions that differ only in
 * wall-clock times and machine facts are identical; a changed number, PNG, SVG or source is a
 * difference (with the cell, the output and a short diff); bad input exits 2.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import {
  compareNotebooks,
  compareResults,
  maskDurations,
  maskHtmlTables,
  maskMarkdownTables,
  normalizeText,
} from '../notebooks/tools/compare';
import { repoRoot } from '../notebooks/tools/jupyter';
import { Notebook, notebookText } from '../notebooks/tools/notebook';
import { makeResults, resultsText } from '../lib/report/results';
import { display, notebook, pngBytes, pngOutput, stream } from './helpers/notebooks';

const root = repoRoot(__dirname);
const cli = path.join(root, 'dist', 'notebooks', 'tools', 'compare.js');

const htmlTable = (rows: string[][]): string =>
  '<table><caption>DLG per dataset</caption><thead><tr><th>dataset</th><th>mse</th><th>seconds / attack</th></tr></thead><tbody>\n' +
  rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n') +
  '\n</tbody></table>';

const mdTable = (rows: string[][]): string =>
  ['| defense | MSE | recovered | time (s) |', '|---|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

/** One execution of a small notebook; `v` varies what a re-run may vary. */
function run(v: { t: number[]; machine: string; mse: string; png: Buffer; split?: boolean }): Notebook {
  const log = `converged after 141 iterations, 3062 evaluations, ${v.t[0]} s\nrecovered label: 7 (true: 7)\n`;
  return notebook([
    { md: '# A notebook' },
    {
      code: "console.log(engineInfo(), '| quick mode:', QUICK)",
      outputs: [stream(`machine: ${v.machine}\ncpu (pure JS); fast kernels on | quick mode: false\n`)],
    },
    {
      code: 'const result = dlg(...)',
      outputs: v.split
        ? [stream(log.slice(0, 20)), stream(log.slice(20)), stream(`progress: 12/12 ${v.t[1]} s\n`, 'stderr')]
        : [stream(log), stream(`progress: 3/12 ${v.t[2]} s\nprogress: 12/12 ${v.t[1]} s\n`, 'stderr')],
      count: v.t[0],
    },
    { code: 'show(frames)', outputs: [pngOutput(v.png), stream(`one evaluation: ${v.t[3]} ms (${v.t[4]} s in all), ${v.t[5]} min for the sweep\n`)] },
    {
      code: 'table()',
      outputs: [
        display('text/html', htmlTable([['mnist', '3.43e-8', String(v.t[1])], ['digits', v.mse, String(v.t[2])]])),
        display('text/markdown', mdTable([['`none`', v.mse, '**yes**', String(v.t[3])]])),
      ],
    },
  ]);
}

const pngA = pngBytes(4, 3);
const base = { t: [25.4, 100, 17, 196, 3.0, 2.1], machine: '2 cores, Intel Xeon', mse: '9.11e-6', png: pngA };

describe('compare: two executions of a notebook', function () {
  it('masks durations (a number and ms, s, min or h) and nothing else', function () {
    assert.equal(maskDurations('12.3 s, 2.1 min, 45 ms, (3.0 s), 3 h, 100 s/it, 7s'), '<duration>, <duration>, <duration>, (<duration>), <duration>, <duration>/it, <duration>');
    const kept = '12 samples, 3 hidden, 28x28x1, MSE 1e-3, label 7, v20.20.2, 5 min_x, 0.5 sec, 16 tokens, iteration 10 smoothed';
    assert.equal(maskDurations(kept), kept);
  });

  it('masks table columns headed seconds / time / (s) / (ms), in HTML and markdown, and only those', function () {
    const h = maskHtmlTables(htmlTable([['mnist', '3.43e-8', '15.862']]));
    assert.match(h, /<td>mnist<\/td><td>3\.43e-8<\/td><td><masked><\/td>/);
    const m = maskMarkdownTables(mdTable([['`none`', '9.11e-6', '**yes**', '82']]).split('\n'));
    assert.equal(m[2], '| `none` | 9.11e-6 | **yes** | <masked> |');
    // 'iterations to MSE<1e-3' contains none of the words: kept.
    const keep = '| iterations to MSE<1e-3 | runs |\n|---|---|\n| 10 | 4 |';
    assert.deepEqual(maskMarkdownTables(keep.split('\n')), keep.split('\n'));
    assert.deepEqual(normalizeText('machine: 16 cores\nprogress: 1/3\nMSE 1e-3 after 2.0 s\r\n'), ['MSE 1e-3 after <duration>', '']);
  });

  it('identical modulo times, machine and progress lines, stream chunking and execution counts', function () {
    const a = run(base);
    const b = run({ ...base, t: [31.9, 250.5, 40, 301, 7.5, 4.4], machine: '16 cores, AMD EPYC', split: true });
    assert.notEqual(notebookText(a), notebookText(b));
    assert.deepEqual(compareNotebooks(a, b), []);
  });

  it('a machine line that differs is identical', function () {
    assert.deepEqual(compareNotebooks(run(base), run({ ...base, machine: '1 core, Apple M2, 8 GiB' })), []);
  });

  it('a changed number is a difference, with its cell, output and a short diff', function () {
    const b = run(base);
    (b.cells[2].outputs![0] as { text: string }).text = 'converged after 139 iterations, 3062 evaluations, 25.4 s\nrecovered label: 7 (true: 7)\n';
    const d = compareNotebooks(run(base), b);
    assert.equal(d.length, 1, JSON.stringify(d));
    assert.equal(d[0].cell, 3);
    assert.equal(d[0].output, 1);
    assert.equal(d[0].what, 'stream stdout');
    assert.deepEqual(d[0].lines, [
      'line 1: - converged after 141 iterations, 3062 evaluations, <duration>',
      'line 1: + converged after 139 iterations, 3062 evaluations, <duration>',
    ]);
    // In a table, outside the time columns: a difference in the HTML and in the markdown display.
    const t = compareNotebooks(run(base), run({ ...base, mse: '9.12e-6' }));
    assert.deepEqual(t.map((x) => [x.cell, x.output, x.what]), [[5, 1, 'display_data text/html'], [5, 2, 'display_data text/markdown']]);
  });

  it('a changed PNG is a difference; the same PNG with other base64 line breaks is not', function () {
    const b = run({ ...base, png: pngBytes(4, 3, [0, 0, 1]) });
    const d = compareNotebooks(run(base), b);
    assert.equal(d.length, 1, JSON.stringify(d));
    assert.deepEqual([d[0].cell, d[0].output, d[0].what], [4, 1, 'display_data image/png']);
    assert.match(d[0].lines[0], /^A: sha256 [0-9a-f]{16} \(4x3 PNG, \d+ bytes\)$/);
    const wrapped = run(base);
    (wrapped.cells[3].outputs![0].data as Record<string, unknown>)['image/png'] = pngA.toString('base64').replace(/(.{20})/g, '$1\n');
    assert.deepEqual(compareNotebooks(run(base), wrapped), []);
  });

  it('a changed SVG, a changed source, an extra output are differences', function () {
    const svg = (y: number): Notebook => notebook([{ code: 'plot()', outputs: [display('image/svg+xml', `<svg><line y1="${y}"/></svg>`)] }]);
    assert.deepEqual(compareNotebooks(svg(1), svg(1)), []);
    assert.equal(compareNotebooks(svg(1), svg(2))[0].what, 'display_data image/svg+xml');
    const b = run(base);
    b.cells[2].source = 'const result = dlg(model, shared)';
    assert.deepEqual(compareNotebooks(run(base), b).map((x) => [x.cell, x.what]), [[3, 'source (not two runs of the same notebook?)']]);
    const c = run(base);
    c.cells[1].outputs!.push(stream('a warning\n', 'stderr'));
    assert.deepEqual(compareNotebooks(run(base), c).map((x) => [x.cell, x.output, x.what]), [[2, 2, 'stream stderr only in B']]);
  });

  it('results files: time columns masked, other values exact', function () {
    const r = (mse: number, s: number): unknown => JSON.parse(resultsText(makeResults('t', [{ image: 'astronaut', mse, seconds: s }], { mode: 'full' })));
    assert.deepEqual(compareResults(r(9.11e-6, 25), r(9.11e-6, 31)), []);
    assert.deepEqual(compareResults(r(9.11e-6, 25), r(9.12e-6, 25)), ['row 1, mse: 0.00000911 vs 0.00000912']);
  });

  describe('the command', function () {
    let dir = '';
    before(function () {
      fs.mkdirSync(path.join(root, 'out', 'test-notebooks'), { recursive: true });
      dir = fs.mkdtempSync(path.join(root, 'out', 'test-notebooks', 'compare-'));
      for (const d of ['a', 'b', 'a/results', 'b/results']) fs.mkdirSync(path.join(dir, d));
      fs.writeFileSync(path.join(dir, 'a', 'x.ipynb'), notebookText(run(base)));
      fs.writeFileSync(path.join(dir, 'b', 'x.ipynb'), notebookText(run({ ...base, t: [1, 2, 3, 4, 5, 6] })));
      fs.writeFileSync(path.join(dir, 'a', 'y.ipynb'), notebookText(run(base)));
      fs.writeFileSync(path.join(dir, 'b', 'y.ipynb'), notebookText(run({ ...base, mse: '1.0e-2' })));
      const res = (mse: number): string => resultsText(makeResults('r', [{ mse }], { mode: 'full' }));
      fs.writeFileSync(path.join(dir, 'a', 'results', 'r.json'), res(0.5));
      fs.writeFileSync(path.join(dir, 'b', 'results', 'r.json'), res(0.25));
      fs.writeFileSync(path.join(dir, 'not-a-notebook.ipynb'), JSON.stringify({ hello: 1 }));
    });
    after(function () {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });
    const cmd = (...args: string[]) => {
      const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8' });
      return { code: r.status, out: r.stdout, err: r.stderr };
    };

    it('two files: exit 0 identical, 1 different (naming cell and output), 2 bad input', function () {
      const same = cmd(path.join(dir, 'a', 'x.ipynb'), path.join(dir, 'b', 'x.ipynb'));
      assert.equal(same.code, 0, same.out + same.err);
      assert.match(same.out, /^x\.ipynb: identical$/m);
      const diff = cmd(path.join(dir, 'a', 'y.ipynb'), path.join(dir, 'b', 'y.ipynb'));
      assert.equal(diff.code, 1, diff.out + diff.err);
      assert.match(diff.out, /^y\.ipynb: 2 difference\(s\)$/m);
      assert.match(diff.out, /^ {2}cell 5, output 1: display_data text\/html$/m);
      assert.match(diff.out, /line 3: \+ <tr><td>digits<\/td><td>1\.0e-2<\/td>/);
      const missing = cmd(path.join(dir, 'a', 'x.ipynb'), path.join(dir, 'no-such.ipynb'));
      assert.equal(missing.code, 2);
      assert.equal(missing.err.trim().split('\n').length, 1, missing.err);
      assert.match(missing.err, /no-such\.ipynb: no such file/);
      const bad = cmd(path.join(dir, 'not-a-notebook.ipynb'), path.join(dir, 'a', 'x.ipynb'));
      assert.equal(bad.code, 2);
      assert.match(bad.err, /is not a notebook/);
      assert.equal(cmd(path.join(dir, 'a', 'x.ipynb')).code, 2);
    });

    it('two folders: every notebook of A and its results files against B', function () {
      const r = cmd(path.join(dir, 'a'), path.join(dir, 'b'));
      assert.equal(r.code, 1, r.out + r.err);
      assert.match(r.out, /^x\.ipynb: identical$/m);
      assert.match(r.out, /^y\.ipynb: 2 difference\(s\)$/m);
      assert.match(r.out, /^results\/r\.json: 1 difference\(s\)$/m);
      assert.match(r.out, /row 1, mse: 0\.5 vs 0\.25/);
      assert.match(r.out, /^compare: 1 identical, 2 different$/m);
      const empty = fs.mkdtempSync(path.join(dir, 'empty-'));
      const e = cmd(empty, path.join(dir, 'b'));
      assert.equal(e.code, 2);
      assert.match(e.err, /no notebooks/);
    });
  });
});

