/**
 * README's generated tables (notebooks/tools/readme.ts) and the results files they come from
 * (lib/report/results.ts).
 *
 * First: README.md agrees with what `npm run readme` would write from notebooks/results/ (fails,
 * naming the section, when someone edits a generated table by hand or a notebook's results change
 * without `npm run readme`). Then the mechanism end to end on a fixture README.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { loadResults, makeResults, resultsMarkdown, saveResults } from '../lib/report/results';
import { repoRoot } from '../notebooks/tools/jupyter';
import { findSections, ReadmeError, renderReadme } from '../notebooks/tools/readme';

const root = repoRoot(__dirname);
const cli = path.join(root, 'dist', 'notebooks', 'tools', 'readme.js');

describe('README: generated tables agree with the results files', function () {
  it('README.md is what `npm run readme` writes', function () {
    const text = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const r = renderReadme(text, path.join(root, 'notebooks', 'results'));
    const changed = r.sections.filter((s) => s.changed);
    assert.deepEqual(
      changed.map((s) => s.name),
      [],
      `README.md disagrees with notebooks/results/ in ${changed.map((s) => `section ${s.name}:\n  ${s.diff.join('\n  ')}`).join('\n')}\nRun \`npm run readme\`.`,
    );
  });
});

describe('results files and README sections on a fixture', function () {
  let dir = '';
  let readme = '';
  let results = '';
  const cmd = (...args: string[]) => {
    const r = spawnSync(process.execPath, [cli, '--readme', readme, '--results', results, ...args], { cwd: root, encoding: 'utf8' });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const rows = [
    { settings: 'strong-Wolfe line search', recovered: '30 / 30', 'median MSE': 1.23e-5, 'label accuracy': 1, seconds: 15.6 },
    { settings: 'released code | no line search', recovered: '19 / 30', 'median MSE': 0.4567, 'label accuracy': 0.8, seconds: 14.1 },
  ];

  before(function () {
    fs.mkdirSync(path.join(root, 'out', 'test-notebooks'), { recursive: true });
    dir = fs.mkdtempSync(path.join(root, 'out', 'test-notebooks', 'readme-'));
    readme = path.join(dir, 'README.md');
    results = path.join(dir, 'results');
  });
  after(function () {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('saveResults writes NAME.json (into $DLG_RESULTS_DIR by default), one row per line, and loadResults reads it back', function () {
    const saved = process.env.DLG_RESULTS_DIR;
    const quick = process.env.DLG_QUICK;
    process.env.DLG_RESULTS_DIR = results;
    delete process.env.DLG_QUICK;
    try {
      const file = saveResults('recovery-rate', rows);
      assert.equal(file, path.join(results, 'recovery-rate.json'));
    } finally {
      if (saved === undefined) delete process.env.DLG_RESULTS_DIR;
      else process.env.DLG_RESULTS_DIR = saved;
      if (quick !== undefined) process.env.DLG_QUICK = quick;
    }
    const text = fs.readFileSync(path.join(results, 'recovery-rate.json'), 'utf8');
    assert.equal(text.split('\n').filter((l) => l.startsWith('  {')).length, 2);
    const r = loadResults(path.join(results, 'recovery-rate.json'));
    assert.equal(r.mode, 'full');
    assert.deepEqual(r.columns, ['settings', 'recovered', 'median MSE', 'label accuracy', 'seconds']);
    assert.deepEqual(r.rows[1], rows[1]);
    assert.equal(
      resultsMarkdown(r),
      [
        '| settings | recovered | median MSE | label accuracy | seconds |',
        '|---|---|---|---|---|',
        '| strong-Wolfe line search | 30 / 30 | 1.23e-5 | 1 | 15.600 |',
        '| released code \\| no line search | 19 / 30 | 0.457 | 0.800 | 14.100 |',
      ].join('\n'),
    );
  });

  it('saveResults refuses bad names and values, keeps non-finite numbers as strings, honours columns', function () {
    assert.throws(() => makeResults('Bad Name', rows), /must be lower-case/);
    assert.throws(() => makeResults('x', []), /no rows/);
    assert.throws(() => makeResults('x', [{ a: [1] as unknown as number }]), /row 1, column 'a' is object/);
    assert.throws(() => makeResults('x', [{ a: 1, b: 2 }], { columns: ['a'] }), /columns b are in the rows/);
    const r = makeResults('x', [{ a: NaN, b: Infinity }, { b: -Infinity, c: 'z' }], { columns: ['c', 'b', 'a'], mode: 'quick' });
    assert.deepEqual(r.rows, [{ c: null, b: 'Infinity', a: 'NaN' }, { c: 'z', b: '-Infinity', a: null }]);
    assert.equal(r.mode, 'quick');
  });

  it('npm run readme fills a section between its markers, leaves the rest alone, and --check then agrees', function () {
    const before = '# Fixture\n\nSome text.\n\n<!-- generated:recovery-rate -->\n| old | table |\n<!-- /generated -->\n\nAfter the table.\n';
    fs.writeFileSync(readme, before);
    const check1 = cmd('--check');
    assert.equal(check1.code, 1, check1.out + check1.err);
    assert.match(check1.out, /section recovery-rate: differs from .*recovery-rate\.json/);
    assert.equal(fs.readFileSync(readme, 'utf8'), before, '--check changes nothing');
    const write = cmd();
    assert.equal(write.code, 0, write.out + write.err);
    assert.match(write.out, /section recovery-rate: updated/);
    const after = fs.readFileSync(readme, 'utf8');
    assert.ok(after.startsWith('# Fixture\n\nSome text.\n\n<!-- generated:recovery-rate -->\n\n| settings | recovered |'), after);
    assert.ok(after.endsWith('| released code \\| no line search | 19 / 30 | 0.457 | 0.800 | 14.100 |\n\n<!-- /generated -->\n\nAfter the table.\n'), after);
    const check2 = cmd('--check');
    assert.equal(check2.code, 0, check2.out + check2.err);
    assert.match(check2.out, /section recovery-rate: up to date/);
    // A hand edit of a number in the generated table is caught.
    fs.writeFileSync(readme, after.replace('30 / 30', '29 / 30'));
    const check3 = cmd('--check');
    assert.equal(check3.code, 1);
    assert.match(check3.out, /line \d+: - \| strong-Wolfe line search \| 29 \/ 30/);
    assert.match(check3.out, /line \d+: \+ \| strong-Wolfe line search \| 30 \/ 30/);
  });

  it('bad input exits 2 with one line: missing results, quick results, unclosed or stray markers', function () {
    fs.writeFileSync(readme, '<!-- generated:nope -->\n<!-- /generated -->\n');
    const missing = cmd('--check');
    assert.equal(missing.code, 2);
    assert.match(missing.err, /^readme: section nope: .*nope\.json does not exist/);
    assert.equal(missing.err.trim().split('\n').length, 1);
    saveResults('quick-one', rows, { dir: results, mode: 'quick' });
    fs.writeFileSync(readme, '<!-- generated:quick-one -->\n<!-- /generated -->\n');
    assert.match(cmd('--check').err, /comes from a quick run/);
    assert.throws(() => findSections('a\n<!-- generated:x -->\nb\n'), (e: Error) => e instanceof ReadmeError && /README\.md:2: .* has no <!-- \/generated -->/.test(e.message));
    assert.throws(() => findSections('<!-- /generated -->\n'), /README\.md:1: <!-- \/generated --> without/);
    assert.throws(() => findSections('<!-- generated:Bad Name -->\n'), /malformed marker/);
    fs.writeFileSync(readme, 'no sections here\n');
    const none = cmd('--check');
    assert.equal(none.code, 0);
    assert.match(none.out, /no generated sections/);
  });
});
