/**
 * npm run bench [-- --iterations 300 --evals 200 --line-search none --python PATH]
 *
 * Times the single-image DLG attack (LeNet, 32x32x3, label 7, datasets/natural/astronaut.png):
 * milliseconds per gradient-distance evaluation, seconds for the whole attack, peak memory; for
 * every engine available here (native tfjs-node if it loads; pure-JS CPU with and without the fast
 * kernels), each in a fresh process, and the PyTorch original on the same image when a Python with
 * torch is found ($DLG_PYTHON, .venv/bin/python, python3). Prints a table and the ratios to PyTorch.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs, runMain, usage } from './args';
import type { FlagSpec } from './args';

const ROOT = path.join(__dirname, '../../..');
const IMAGE = path.join(ROOT, 'datasets/natural/astronaut.png');

const SPEC: Record<string, FlagSpec> = {
  iterations: { kind: 'int', help: 'L-BFGS steps of the timed attack', default: 300 },
  evals: { kind: 'int', help: 'evaluations for the per-evaluation timing', default: 200 },
  'line-search': { kind: 'string', help: "'none' (the released code, as measured in PAPER.md) or 'strong_wolfe'", default: 'none' },
  python: { kind: 'string', help: 'Python with torch for the reference (default: search)' },
  only: { kind: 'string', help: "run one engine: 'cpu-fast', 'cpu-stock', 'tensorflow' (internal: child processes)" },
  'stock-attack': { kind: 'boolean', help: "also run the whole attack on tfjs's stock CPU kernels (slow: ~10 minutes)" },
  help: { kind: 'boolean', help: 'show this help' },
};

interface Row {
  impl: string;
  msPerEval: number;
  attackSeconds: number;
  attackEvals: number;
  mse: number;
  peakRssMB?: number;
  note?: string;
}

/** One engine, in this process: warm up, time `evals` evaluations, then a whole attack. */
function measure(engine: string, iterations: number, evals: number, lineSearch: 'none' | 'strong_wolfe', attack: boolean): Row {
  if (engine !== 'tensorflow') process.env.DLG_BACKEND = 'cpu';
  if (engine === 'cpu-stock') process.env.DLG_FAST_KERNELS = '0';
  /* eslint-disable @typescript-eslint/no-var-requires */
  const { tf, engineInfo } = require('../engine') as typeof import('../engine');
  const { backendName } = require('../backend') as typeof import('../backend');
  const { loadImage } = require('../image') as typeof import('../image');
  const { makeCase } = require('../case') as typeof import('../case');
  const { dlg } = require('../attacks/dlg') as typeof import('../attacks/dlg');
  const { PAPER_DLG } = require('../config') as typeof import('../config');
  const { mse } = require('../metrics') as typeof import('../metrics');
  const { imageAt } = require('../evaluate') as typeof import('../evaluate');
  /* eslint-enable @typescript-eslint/no-var-requires */
  if (engine === 'tensorflow' && backendName() !== 'tensorflow') throw new Error('native backend not available');
  let peak = 0;
  const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const truth = loadImage(IMAGE, { size: 32, channels: 3 });
  const c = makeCase({ images: [truth], labels: [7], seed: 1 });
  const config = { ...PAPER_DLG, seed: 1, lbfgs: { ...PAPER_DLG.lbfgs, lineSearch } };
  // per-evaluation time: L-BFGS with maxIter 1 and no line search makes one evaluation per step
  dlg(c.model, c.shared, { ...config, iterations: 20, lbfgs: { ...config.lbfgs, maxIter: 1, lineSearch: 'none' } });
  const t0 = process.hrtime.bigint();
  const timed = dlg(c.model, c.shared, { ...config, iterations: evals, patience: evals + 1, lbfgs: { ...config.lbfgs, maxIter: 1, lineSearch: 'none' } });
  const msPerEval = Number(process.hrtime.bigint() - t0) / 1e6 / timed.evals;
  const r = attack ? dlg(c.model, c.shared, { ...config, iterations, patience: iterations + 1 }) : undefined;
  peak = Math.max(peak, process.memoryUsage().rss);
  clearInterval(sample);
  const m = r ? mse(imageAt(r.data, r.shape, 0), truth) : NaN;
  void tf;
  return { impl: `tfjs ${engine}`, msPerEval, attackSeconds: r ? r.seconds : NaN, attackEvals: r ? r.evals : 0, mse: m, peakRssMB: peak / 2 ** 20, note: engineInfo() };
}

function findPython(given?: string): string | undefined {
  const candidates = [given, process.env.DLG_PYTHON, path.join(ROOT, '.venv/bin/python'), 'python3'].filter((p): p is string => !!p);
  for (const p of candidates) {
    const r = spawnSync(p, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
    if (r.status === 0) return p;
  }
  return undefined;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), SPEC);
  if (args.help) return void process.stdout.write(usage('npm run bench --', SPEC) + '\n');
  const iterations = args.iterations as number;
  const evals = args.evals as number;
  const lineSearch = args['line-search'] === 'strong_wolfe' ? 'strong_wolfe' : 'none';
  if (typeof args.only === 'string') {
    const attack = args.only !== 'cpu-stock' || args['stock-attack'] === true;
    process.stdout.write(JSON.stringify(measure(args.only, iterations, evals, lineSearch, attack)) + '\n');
    return;
  }
  const rows: Row[] = [];
  const child = (engine: string) => {
    const extra = args['stock-attack'] ? ['--stock-attack'] : [];
    const r = spawnSync(process.execPath, [__filename, '--only', engine, '--iterations', String(iterations), '--evals', engine === 'cpu-stock' ? '20' : String(evals), '--line-search', lineSearch, ...extra], { encoding: 'utf8' });
    if (r.status !== 0) return undefined;
    return JSON.parse(r.stdout.trim().split('\n').pop() as string) as Row;
  };
  for (const engine of ['tensorflow', 'cpu-fast', 'cpu-stock']) {
    process.stderr.write(`timing ${engine} ...\n`);
    const row = child(engine);
    if (row) rows.push(row);
    else process.stderr.write(`  ${engine}: not available here\n`);
  }
  const python = findPython(args.python as string | undefined);
  if (python) {
    process.stderr.write(`timing the PyTorch original (${python}) ...\n`);
    /* eslint-disable-next-line @typescript-eslint/no-var-requires */
    const { loadImage } = require('../image') as typeof import('../image');
    const pixels = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dlg-bench-')), 'pixels.json');
    fs.writeFileSync(pixels, JSON.stringify(Array.from(loadImage(IMAGE, { size: 32, channels: 3 }).data)));
    const r = spawnSync(python, [path.join(ROOT, 'lib/reference/dlg_torch.py'), pixels, '--iterations', String(iterations), '--evals', String(evals), '--line-search', lineSearch, '--seed', '1234'], { encoding: 'utf8' });
    if (r.status === 0) {
      const j = JSON.parse(r.stdout.trim().split('\n').pop() as string);
      rows.push({ impl: `pytorch ${j.torch} (${j.threads} threads)`, msPerEval: j.msPerEval, attackSeconds: j.attackSeconds, attackEvals: j.attackEvals, mse: j.mse });
    } else process.stderr.write(`  PyTorch reference failed: ${r.stderr.trim().split('\n').pop()}\n`);
  } else process.stderr.write('no Python with torch found: PyTorch reference skipped (see environment.md)\n');
  const torchRow = rows.find((r) => r.impl.startsWith('pytorch'));
  const lines = [`DLG single-image attack, LeNet 32x32x3, ${iterations} L-BFGS steps (line search: ${lineSearch}), ${os.cpus().length} cores`, ''];
  lines.push('| implementation | ms / evaluation | attack s | evaluations | s per 300 steps | peak RSS MB | ratio to PyTorch (ms/eval) | final MSE |');
  lines.push('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const ratio = torchRow ? (r.msPerEval / torchRow.msPerEval).toFixed(2) : 'n/a';
    const ran = Number.isFinite(r.attackSeconds);
    lines.push(`| ${r.impl} | ${r.msPerEval.toFixed(2)} | ${ran ? r.attackSeconds.toFixed(1) : 'skipped'} | ${ran ? r.attackEvals : '-'} | ${ran ? ((r.attackSeconds * 300) / iterations).toFixed(1) : '-'} | ${r.peakRssMB ? r.peakRssMB.toFixed(0) : 'n/a'} | ${ratio} | ${ran ? r.mse.toExponential(2) : '-'} |`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}

runMain(main);
