/**
 * npm run bench [-- --iterations 300 --evals 200 --repeats 3 --line-search both --python PATH]
 *
 * Times the single-image DLG attack (LeNet, 32x32x3, label 7, datasets/natural/astronaut.png):
 * milliseconds per gradient-distance evaluation, seconds for the whole attack, peak memory; for
 * every engine available here, each in a fresh process:
 *   fused       the fused objective of lib/engine/fused.ts (engine 'fused'; what dlg() uses for LeNet by default)
 *   cpu-fast    tfjs autodiff on the pure-JS CPU backend with the fast kernels of lib/engine/kernels.ts
 *   cpu-stock   tfjs autodiff on tfjs's stock CPU kernels (per-evaluation timing only, unless --stock-attack)
 *   tensorflow  tfjs autodiff on native tfjs-node, if it loads
 * and the PyTorch original on the same image when a Python with torch is found ($DLG_PYTHON,
 * .venv/bin/python, python3). Per-evaluation times and attack times are each measured `repeats` times
 * (min and median reported: the machine may be shared); ratios are medians over PyTorch's medians.
 * The attack runs all `iterations` L-BFGS steps (no early stop), with the released code's settings
 * (no line search) and with strong Wolfe. Different implementations converge after different numbers
 * of evaluations, so both ratios are printed: per evaluation, and per 300-step attack.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs, runMain, usage, UsageError } from '../../lib/cli/args';
import type { FlagSpec } from '../../lib/cli/args';

const ROOT = path.join(__dirname, '../../..');
const IMAGE = path.join(ROOT, 'datasets/natural/astronaut.png');
const ENGINES = ['fused', 'cpu-fast', 'cpu-stock', 'tensorflow'] as const;
type Engine = (typeof ENGINES)[number];
type LineSearch = 'none' | 'strong_wolfe';

const SPEC: Record<string, FlagSpec> = {
  iterations: { kind: 'int', help: 'L-BFGS steps of the timed attack', default: 300 },
  evals: { kind: 'int', help: 'evaluations per timed block for the per-evaluation timing', default: 200 },
  repeats: { kind: 'int', help: 'timed blocks and timed attacks per engine (min and median reported)', default: 3 },
  'line-search': { kind: 'string', help: "'none' (the released code), 'strong_wolfe' or 'both'", default: 'both' },
  engines: { kind: 'string', help: `comma-separated subset of ${ENGINES.join(',')}`, default: ENGINES.join(',') },
  python: { kind: 'string', help: 'Python with torch for the reference (default: search)' },
  'torch-threads': { kind: 'int', help: 'torch.set_num_threads for the reference (0: torch default, one per core)', default: 0 },
  only: { kind: 'string', help: 'run one engine in this process and print JSON (internal: child processes)' },
  'stock-attack': { kind: 'boolean', help: "also run the whole attack on tfjs's stock CPU kernels (slow: ~10 minutes)" },
  help: { kind: 'boolean', help: 'show this help' },
};

interface Stats { min: number; median: number; all: number[] }

interface AttackRow {
  lineSearch: LineSearch;
  seconds: Stats;
  evals: number;
  iterations: number;
  mse: number;
}

interface Row {
  impl: string;
  msPerEval: Stats;
  attacks: AttackRow[];
  peakRssMB: number;
  note?: string;
}

function stats(all: number[]): Stats {
  const s = [...all].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { min: s[0], median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, all };
}

/** One engine, in this process: warm up, time `repeats` blocks of `evals` evaluations, then the attacks. */
function measure(engine: Engine, iterations: number, evals: number, repeats: number, lineSearches: LineSearch[], attack: boolean): Row {
  if (engine !== 'tensorflow') process.env.DLG_BACKEND = 'cpu';
  if (engine === 'cpu-stock') process.env.DLG_FAST_KERNELS = '0';
  /* eslint-disable @typescript-eslint/no-var-requires */
  const { engineInfo } = require('../../lib/engine') as typeof import('../../lib/engine');
  const { backendName } = require('../../lib/engine/backend') as typeof import('../../lib/engine/backend');
  const { loadImage } = require('../../lib/data/image') as typeof import('../../lib/data/image');
  const { makeCase } = require('../../lib/cases/case') as typeof import('../../lib/cases/case');
  const { dlg } = require('../../lib/attacks/dlg') as typeof import('../../lib/attacks/dlg');
  const { PAPER_DLG } = require('../../lib/config') as typeof import('../../lib/config');
  const { mse } = require('../../lib/analysis/metrics') as typeof import('../../lib/analysis/metrics');
  const { imageAt } = require('../../lib/analysis/score') as typeof import('../../lib/analysis/score');
  /* eslint-enable @typescript-eslint/no-var-requires */
  if (engine === 'tensorflow' && backendName() !== 'tensorflow') throw new Error('native backend not available');
  const truth = loadImage(IMAGE, { size: 32, channels: 3 });
  const c = makeCase({ images: [truth], labels: [7], seed: 1 });
  const config = { ...PAPER_DLG, seed: 1, engine: engine === 'fused' ? ('fused' as const) : ('tfjs' as const) };
  // per-evaluation time: L-BFGS with maxIter 1 and no line search makes one evaluation per step
  const oneEvalSteps = (n: number) => ({ ...config, iterations: n, patience: n + 1, lbfgs: { ...config.lbfgs, maxIter: 1, lineSearch: 'none' as const } });
  dlg(c.model, c.shared, oneEvalSteps(Math.min(20, evals)));
  const ms: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = process.hrtime.bigint();
    const timed = dlg(c.model, c.shared, oneEvalSteps(evals));
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6 / timed.evals);
  }
  const attacks: AttackRow[] = [];
  if (attack) {
    for (const lineSearch of lineSearches) {
      const seconds: number[] = [];
      let last: ReturnType<typeof dlg> | undefined;
      for (let r = 0; r < repeats; r++) {
        const t0 = process.hrtime.bigint();
        last = dlg(c.model, c.shared, { ...config, iterations, patience: iterations + 1, lbfgs: { ...config.lbfgs, lineSearch } });
        seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
      }
      const r = last as ReturnType<typeof dlg>;
      attacks.push({ lineSearch, seconds: stats(seconds), evals: r.evals, iterations: r.iterations, mse: mse(imageAt(r.data, r.shape, 0), truth) });
    }
  }
  const peakRssMB = process.resourceUsage().maxRSS / 1024;
  const info = engineInfo();
  return { impl: engine === 'fused' ? 'fused (lib/fused, pure JS)' : `tfjs ${engine}`, msPerEval: stats(ms), attacks, peakRssMB, note: engine === 'fused' ? 'no tfjs ops per evaluation' : info };
}

function findPython(given?: string): string | undefined {
  const candidates = [given, process.env.DLG_PYTHON, path.join(ROOT, '.venv/bin/python'), 'python3'].filter((p): p is string => !!p);
  for (const p of candidates) {
    const r = spawnSync(p, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
    if (r.status === 0) return p;
  }
  return undefined;
}

/** The PyTorch original: one process per line search (its script times one setting). */
function measureTorch(python: string, iterations: number, evals: number, repeats: number, lineSearches: LineSearch[], threads: number): Row | undefined {
  /* eslint-disable-next-line @typescript-eslint/no-var-requires */
  const { loadImage } = require('../../lib/data/image') as typeof import('../../lib/data/image');
  const pixels = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dlg-bench-')), 'pixels.json');
  fs.writeFileSync(pixels, JSON.stringify(Array.from(loadImage(IMAGE, { size: 32, channels: 3 }).data)));
  let row: Row | undefined;
  for (const lineSearch of lineSearches) {
    const r = spawnSync(python, [path.join(ROOT, 'lib/reference/dlg_torch.py'), pixels, '--iterations', String(iterations), '--evals', String(evals), '--repeats', String(repeats), '--line-search', lineSearch, '--seed', '1234', '--threads', String(threads)], { encoding: 'utf8' });
    if (r.status !== 0) {
      process.stderr.write(`  PyTorch reference failed: ${r.stderr.trim().split('\n').pop()}\n`);
      return undefined;
    }
    const j = JSON.parse(r.stdout.trim().split('\n').pop() as string);
    const ms = stats(j.msPerEvalAll);
    row ??= { impl: `pytorch ${j.torch} (${j.threads} threads)`, msPerEval: ms, attacks: [], peakRssMB: j.peakRssMB };
    if (ms.median < row.msPerEval.median) row.msPerEval = ms; // the quieter of the two processes' blocks
    row.peakRssMB = Math.max(row.peakRssMB, j.peakRssMB);
    row.attacks.push({ lineSearch, seconds: stats(j.attackSecondsAll), evals: j.attackEvals, iterations: j.iterations, mse: j.mse });
  }
  return row;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), SPEC);
  if (args.help) return void process.stdout.write(usage('npm run bench --', SPEC) + '\n');
  const iterations = args.iterations as number;
  const evals = args.evals as number;
  const repeats = args.repeats as number;
  for (const [name, v] of [['iterations', iterations], ['evals', evals], ['repeats', repeats]] as const) {
    if (v < 1) throw new UsageError(`--${name} must be >= 1, got ${v}`);
  }
  if ((args['torch-threads'] as number) < 0) throw new UsageError(`--torch-threads must be >= 0, got ${args['torch-threads']}`);
  const ls = args['line-search'] as string;
  if (!['none', 'strong_wolfe', 'both'].includes(ls)) throw new UsageError(`--line-search must be 'none', 'strong_wolfe' or 'both', got '${ls}'`);
  const lineSearches: LineSearch[] = ls === 'both' ? ['none', 'strong_wolfe'] : [ls as LineSearch];
  const engines = (args.engines as string).split(',').map((e) => e.trim()).filter((e) => e !== '');
  for (const e of engines) if (!(ENGINES as readonly string[]).includes(e)) throw new UsageError(`unknown engine '${e}' (known: ${ENGINES.join(', ')})`);
  if (typeof args.only === 'string') {
    const engine = args.only as Engine;
    if (!(ENGINES as readonly string[]).includes(engine)) throw new UsageError(`unknown engine '${engine}' (known: ${ENGINES.join(', ')})`);
    const attack = engine !== 'cpu-stock' || args['stock-attack'] === true;
    process.stdout.write(JSON.stringify(measure(engine, iterations, evals, repeats, lineSearches, attack)) + '\n');
    return;
  }
  const rows: Row[] = [];
  const child = (engine: string) => {
    const extra = args['stock-attack'] ? ['--stock-attack'] : [];
    const stock = engine === 'cpu-stock';
    const r = spawnSync(process.execPath, [__filename, '--only', engine, '--iterations', String(iterations), '--evals', stock ? String(Math.min(evals, 20)) : String(evals), '--repeats', String(repeats), '--line-search', ls, ...extra], { encoding: 'utf8' });
    if (r.status !== 0) return undefined;
    return JSON.parse(r.stdout.trim().split('\n').pop() as string) as Row;
  };
  for (const engine of engines) {
    process.stderr.write(`timing ${engine} ...\n`);
    const row = child(engine);
    if (row) rows.push(row);
    else process.stderr.write(`  ${engine}: not available here\n`);
  }
  const python = findPython(args.python as string | undefined);
  if (python) {
    process.stderr.write(`timing the PyTorch original (${python}) ...\n`);
    const row = measureTorch(python, iterations, evals, repeats, lineSearches, args['torch-threads'] as number);
    if (row) rows.push(row);
  } else process.stderr.write('no Python with torch found: PyTorch reference skipped (see environment.md)\n');
  process.stdout.write(report(rows, iterations, repeats, lineSearches) + '\n');
}

function report(rows: Row[], iterations: number, repeats: number, lineSearches: LineSearch[]): string {
  const torch = rows.find((r) => r.impl.startsWith('pytorch'));
  const ratio = (a: number, b: number | undefined) => (b === undefined ? 'n/a' : (a / b).toFixed(2));
  const f = (v: number, d: number) => (Number.isFinite(v) ? v.toFixed(d) : '-');
  const lines = [
    `DLG single-image attack, LeNet 32x32x3 (astronaut.png, label 7), ${os.cpus().length} cores, ${repeats} repeat(s): min / median`,
    '',
    '### Per evaluation (forward, parameter gradient, second-order backward)',
    '',
    '| implementation | ms / evaluation (min / median) | ratio to PyTorch (median) | peak RSS MB |',
    '|---|---|---|---|',
  ];
  for (const r of rows) {
    lines.push(`| ${r.impl} | ${f(r.msPerEval.min, 2)} / ${f(r.msPerEval.median, 2)} | ${ratio(r.msPerEval.median, torch?.msPerEval.median)} | ${f(r.peakRssMB, 0)} |`);
  }
  for (const lineSearch of lineSearches) {
    const torchAttack = torch?.attacks.find((a) => a.lineSearch === lineSearch);
    lines.push('', `### ${iterations}-step attack, line search: ${lineSearch}`, '');
    lines.push('| implementation | attack s (min / median) | evaluations | ms per evaluation incl. L-BFGS | ratio to PyTorch (attack s, median) | final MSE |');
    lines.push('|---|---|---|---|---|---|');
    for (const r of rows) {
      const a = r.attacks.find((x) => x.lineSearch === lineSearch);
      if (!a) {
        lines.push(`| ${r.impl} | skipped | - | - | - | - |`);
        continue;
      }
      lines.push(`| ${r.impl} | ${f(a.seconds.min, 2)} / ${f(a.seconds.median, 2)} | ${a.evals} | ${f((a.seconds.median * 1000) / a.evals, 2)} | ${ratio(a.seconds.median, torchAttack?.seconds.median)} | ${a.mse.toExponential(2)} |`);
    }
  }
  return lines.join('\n');
}

runMain(main);
