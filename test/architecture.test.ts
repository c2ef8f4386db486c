/**
 * The shape of lib/, read off its import graph: no import circles; the attacker's code never imports
 * what sees the truth (analysis), nor the experiments, the reports or the command line; the client's side
 * (models, data, cases, defenses) and the engine know nothing of attacks; importing the library
 * changes nothing in TensorFlow.js until a model or an objective asks for the engine.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.join(__dirname, '../..');
const LIB = path.join(ROOT, 'lib');

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? tsFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** lib-relative module path (no extension) -> lib-relative modules it imports (types included). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of tsFiles(LIB)) {
    const src = fs.readFileSync(file, 'utf8');
    const deps: string[] = [];
    for (const m of src.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]*)['"]/g)) {
      const target = path.resolve(path.dirname(file), m[1]);
      const mod = fs.existsSync(target + '.ts') ? target + '.ts' : path.join(target, 'index.ts');
      if (fs.existsSync(mod)) deps.push(path.relative(LIB, mod));
    }
    graph.set(path.relative(LIB, file), deps);
  }
  return graph;
}

describe('architecture of lib/ (its import graph)', () => {
  const graph = importGraph();
  const area = (mod: string) => (mod.includes('/') ? mod.split('/')[0] : mod);

  it('has no import circles', () => {
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (m: string, trail: string[]) => {
      if (state.get(m) === 'done') return;
      if (state.get(m) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(m)), m].join(' -> '));
        return;
      }
      state.set(m, 'open');
      for (const d of graph.get(m) ?? []) visit(d, [...trail, m]);
      state.set(m, 'done');
    };
    for (const m of graph.keys()) visit(m, []);
    assert.deepEqual(cycles, []);
  });

  const forbidden: [string, string[]][] = [
    ['attacks', ['analysis', 'experiments', 'report', 'cli', 'index.ts']],
    // the engine reads a model's declared structure (models/model.ts types) and nothing else of the toolkit
    ['engine', ['cases', 'defenses', 'attacks', 'analysis', 'experiments', 'report', 'cli', 'index.ts']],
    ['models', ['cases', 'defenses', 'attacks', 'analysis', 'experiments', 'report', 'cli', 'index.ts']],
    ['data', ['cases', 'defenses', 'attacks', 'analysis', 'experiments', 'report', 'cli', 'index.ts']],
    ['defenses', ['cases', 'attacks', 'analysis', 'experiments', 'report', 'cli', 'index.ts']],
    ['cases', ['attacks', 'analysis', 'experiments', 'report', 'cli', 'index.ts']],
    ['analysis', ['experiments', 'report', 'cli', 'index.ts']],
  ];
  for (const [from, never] of forbidden) {
    it(`${from}/ never imports ${never.join(', ')}`, () => {
      const bad = [...graph.entries()].filter(([m]) => area(m) === from).flatMap(([m, deps]) => deps.filter((d) => never.includes(area(d))).map((d) => `${m} -> ${d}`));
      assert.deepEqual(bad, []);
    });
  }

  it("lib/'s root holds a few files: the entry, the configuration, the random numbers", () => {
    const root = fs.readdirSync(LIB).filter((f) => fs.statSync(path.join(LIB, f)).isFile());
    assert.deepEqual(root.sort(), ['config.ts', 'index.ts', 'rng.ts']);
  });

  it('importing the library patches nothing; a model applies the engine', () => {
    const script = `
      const lib = require(${JSON.stringify(path.join(ROOT, 'dist/lib'))});
      const grad = () => lib.tf.getGradient('Sigmoid');
      const before = { ready: lib.engineReady(), grad: grad() };
      lib.lenet({ inputShape: [8, 8, 1], numClasses: 10, seed: 1 });
      console.log(JSON.stringify({ before: { ready: before.ready }, after: { ready: lib.engineReady(), changed: grad() !== before.grad } }));`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, DLG_BACKEND: 'cpu' } });
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout.trim().split('\n').pop() as string);
    assert.equal(j.before.ready, false);
    assert.deepEqual(j.after, { ready: true, changed: true });
  });
  it('nothing in the product cites files outside the repository (../shared)', () => {
    const files = spawnSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).stdout.split('\n').filter((f) => /\.(ts|js|md|ipynb|py|json)$/.test(f));
    assert.ok(files.length > 100, `git ls-files gave ${files.length} files`);
    const needle = ['..', 'shared', ''].join('/');
    const citing = files.filter((f) => fs.existsSync(path.join(ROOT, f)) && fs.readFileSync(path.join(ROOT, f), 'utf8').includes(needle));
    assert.deepEqual(citing, []);
  });
});
