/**
 * The ResNet study (lib/experiments/resnet-study.ts), run and recorded:
 *
 *   node dist/test/bench/resnet.js --part cost       [--size 32] [--evals 2]
 *   node dist/test/bench/resnet.js --part dlg        [--size 16] [--iterations 300] [--variant-iterations 50] [--images a.png,b.png]
 *   node dist/test/bench/resnet.js --part inverting  [--size 16] [--inverting-iterations 1000] [--count 2]
 *   node dist/test/bench/resnet.js --part norms      [--size 16]
 *   node dist/test/bench/resnet.js --part summary
 *
 * Each part runs its jobs one after the other (--workers 1, the default: the machine is shared) and
 * writes test/bench/results/resnet-<part>.json (the command, node version, engine, load average,
 * and every result; reconstructions left out) and prints a table. `summary` reads the three files
 * and prints the projection of the paper's 1,200-iteration ResNet-56 attack: the measured seconds
 * per evaluation of ResNet-56 at 32x32 (strides removed) times the evaluations per L-BFGS iteration
 * measured in the DLG runs on ResNet-20 (strong Wolfe, this toolkit's default) and with the
 * released code's settings (no line search).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs, runMain, usage, UsageError } from '../../lib/cli/args';
import type { FlagSpec } from '../../lib/cli/args';
import { runParallel } from '../../lib/experiments/parallel';
import { costJobs, dlgJobs, invertingJobs, normsJobs } from '../../lib/experiments/resnet-study';
import { projectedSeconds } from '../../lib/experiments/resnet';
import type { ResNetJob, ResNetResult, AttackResult, CostResult, NormsResult } from '../../lib/experiments/resnet';
import { engineInfo } from '../../lib/engine';

const ROOT = path.join(__dirname, '../../..');
const RESULTS = path.join(ROOT, 'test/bench/results');
const TASK = path.join(__dirname, '../../lib/experiments/resnet.js');

const SPEC: Record<string, FlagSpec> = {
  part: { kind: 'string', help: "'cost', 'dlg', 'inverting', 'norms' or 'summary'" },
  size: { kind: 'int', help: 'image side (default: 32 for cost, 16 for the attacks)' },
  evals: { kind: 'int', help: 'cost: evaluations per timed run', default: 2 },
  repeats: { kind: 'int', help: 'cost: timed runs per model (min and median reported)', default: 3 },
  iterations: { kind: 'int', help: 'dlg: L-BFGS steps', default: 300 },
  'variant-iterations': { kind: 'int', help: 'dlg: L-BFGS steps of the variants on the first photo', default: 50 },
  'inverting-iterations': { kind: 'int', help: 'inverting: Adam steps', default: 1000 },
  count: { kind: 'int', help: 'inverting: number of photos', default: 2 },
  images: { kind: 'string', help: 'comma-separated photo files (default: datasets/natural)' },
  workers: { kind: 'int', help: 'worker threads', default: 1 },
  out: { kind: 'string', help: 'result file (default test/bench/results/resnet-<part>.json)' },
  help: { kind: 'boolean', help: 'show this help' },
};

interface Record_ {
  command: string;
  date: string;
  node: string;
  engine: string;
  cpus: number;
  loadavgStart: number[];
  loadavgEnd: number[];
  wallSeconds: number;
  results: ResNetResult[];
}

const short = (file: string) => path.basename(file, path.extname(file));
const fmt = (v: number, digits = 2) => (Number.isFinite(v) ? v.toExponential(digits) : String(v));

function table(results: ResNetResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    if (r.kind === 'norms') {
      const n = r as NormsResult;
      const share = (name: string) => fmt(n.squaredNorms[n.paramNames.indexOf(name)] / n.total, 1);
      const first = n.paramNames[0];
      const lastConv = [...n.paramNames].reverse().find((p) => p.includes('conv') && p.endsWith('weight')) ?? first;
      lines.push(`${n.modelName.padEnd(100)} ||g||^2 ${fmt(n.total)}  share of ${first} ${share(first)}, ${lastConv} ${share(lastConv)}, ${n.paramNames[n.paramNames.length - 2]} ${share(n.paramNames[n.paramNames.length - 2])}`);
      continue;
    }
    if (r.kind === 'cost') {
      const c = r as CostResult;
      lines.push(`${c.modelName.padEnd(100)} ${String(c.parameters).padStart(9)} params  ${(c.secondsPerEval * 1000).toFixed(0).padStart(7)} ms/eval min, ${(c.secondsPerEvalMedian * 1000).toFixed(0).padStart(7)} median (${c.runs.length} runs of ${c.evals} evals)`);
    } else {
      const a = r as AttackResult;
      lines.push(`${a.kind.padEnd(9)} ${short(a.image).padEnd(9)} ${a.modelName.padEnd(96)} ${a.recovered ? 'RECOVERED' : 'not rec. '} mse ${fmt(a.mse)} scaled ${fmt(a.scaledMse)} (x${a.scale.toFixed(3)}) ` +
        `label ${a.labelOk ? 'ok' : 'WRONG'} ${a.status.padEnd(9)} it ${String(a.iterationsRun).padStart(4)} (rec ${a.iterationsToRecover ?? '-'} / scaled ${a.iterationsToRecoverUpToScale ?? '-'}) ` +
        `evals ${String(a.evals).padStart(5)} ${a.seconds.toFixed(0).padStart(5)} s ${(a.secondsPerEval * 1000).toFixed(0)} ms/eval objective ${fmt(a.objective)}`);
    }
  }
  return lines.join('\n');
}

function load(part: string): Record_ | undefined {
  const file = path.join(RESULTS, `resnet-${part}.json`);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record_) : undefined;
}

function summary(): void {
  const cost = load('cost');
  const dlg = load('dlg');
  if (cost === undefined || dlg === undefined) throw new UsageError('summary needs test/bench/results/resnet-cost.json and resnet-dlg.json (run --part cost and --part dlg first)');
  const r56 = cost.results.find((r) => r.kind === 'cost' && r.model === 'resnet56' && r.modelName.includes('strides removed')) as CostResult | undefined;
  if (r56 === undefined) throw new Error('no ResNet-56 (strides removed) cost in resnet-cost.json');
  type Run = AttackResult & { lineSearch?: string; lbfgs?: object; modelOptions?: object };
  // the paper's model (ResNet-20 with its defaults, no variant options) on every photo
  const attacks = dlg.results.filter((r): r is Run => r.kind === 'dlg' && r.model === 'resnet20' && r.iterationsRun > 0 && (r as Run).modelOptions === undefined);
  const perIteration = (rs: AttackResult[]) => rs.reduce((a, r) => a + r.evals, 0) / rs.reduce((a, r) => a + r.iterationsRun, 0);
  // strong Wolfe with this module's tolerances (no lbfgs override), and the released code's settings
  const wolfe = attacks.filter((r) => r.lineSearch === undefined && r.lbfgs === undefined);
  const released = attacks.filter((r) => r.lineSearch === 'none');
  console.log(`ResNet-56 (sigmoid, strides removed) at 32x32: ${r56.secondsPerEval.toFixed(2)} s per DLG objective evaluation (min of ${r56.runs.length} runs; median ${r56.secondsPerEvalMedian.toFixed(2)} s; load average ${cost.loadavgStart.map((v) => v.toFixed(1)).join(' ')})`);
  // PyTorch's time for the same evaluation, if test/bench/resnet_torch.py has run
  const torchFile = path.join(RESULTS, 'resnet-cost-torch.json');
  if (fs.existsSync(torchFile)) {
    const torch = JSON.parse(fs.readFileSync(torchFile, 'utf8')) as { torch: string; threads: number; results: { model: string; strides: string; secondsPerEval: number }[] };
    for (const t of torch.results) {
      const ours = cost.results.find((r): r is CostResult => r.kind === 'cost' && r.model === t.model && r.modelName.includes(`strides ${t.strides}`));
      if (ours !== undefined) console.log(`  ${t.model} strides ${t.strides}: tfjs ${(ours.secondsPerEval * 1000).toFixed(0)} ms, PyTorch ${torch.torch} (${torch.threads} threads, float32) ${(t.secondsPerEval * 1000).toFixed(0)} ms: ${(ours.secondsPerEval / t.secondsPerEval).toFixed(1)}x`);
    }
  }
  for (const [what, rs] of [['strong Wolfe (this toolkit\'s default)', wolfe], ['no line search (the released code)', released]] as const) {
    if (rs.length === 0) continue;
    const e = perIteration(rs);
    const s = projectedSeconds(r56.secondsPerEval, e);
    const m = projectedSeconds(r56.secondsPerEvalMedian, e);
    console.log(`  ${what}: ${e.toFixed(1)} evaluations per iteration (${rs.length} ResNet-20 runs) -> 1,200 iterations: ${(s / 3600).toFixed(0)} h = ${(s / 86400).toFixed(1)} days at the minimum, ${(m / 86400).toFixed(1)} days at the median`);
  }
  const line = (a: AttackResult) =>
    `${a.recovered ? 'recovered' : 'NOT recovered'} (MSE ${fmt(a.mse, 1)}), up to scale ${a.recoveredUpToScale ? 'recovered' : 'NOT recovered'} (scaled MSE ${fmt(a.scaledMse, 1)}, scale ${a.scale.toFixed(3)}), ` +
    `${a.iterationsRun} it, ${a.evals} evals, ${a.seconds.toFixed(0)} s`;
  for (const [what, rec] of [['DLG', dlg], ['Inverting Gradients', load('inverting')]] as const) {
    if (rec === undefined) continue;
    const runs = rec.results.filter((r): r is AttackResult & { modelOptions?: object; lbfgs?: object; lineSearch?: string } => r.kind !== 'cost' && r.kind !== 'norms');
    const main = runs.filter((r) => r.modelOptions === undefined && r.lbfgs === undefined && r.lineSearch === undefined);
    console.log(`\n${what}, ${main[0]?.size}x${main[0]?.size} photos (LeNet and the paper's ResNet-20):`);
    for (const r of main) console.log(`  ${short(r.image).padEnd(10)} ${r.model.padEnd(9)} ${line(r)}`);
    for (const r of runs.filter((x) => !main.includes(x))) {
      const variant = JSON.stringify({ ...(r.modelOptions ?? {}), ...(r.lbfgs ? { lbfgs: r.lbfgs } : {}), ...(r.lineSearch ? { lineSearch: r.lineSearch } : {}) });
      console.log(`  ${short(r.image).padEnd(10)} ${r.model} ${variant}: ${line(r)}, ${r.status}`);
    }
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), SPEC);
  if (args.help) {
    console.log(usage('node dist/test/bench/resnet.js', SPEC));
    return;
  }
  const part = args.part as string | undefined;
  if (part === 'summary') return summary();
  const images = typeof args.images === 'string' ? (args.images as string).split(',') : undefined;
  let jobs: ResNetJob[];
  if (part === 'cost') jobs = costJobs({ size: (args.size as number | undefined) ?? 32, evals: args.evals as number, repeats: args.repeats as number });
  else if (part === 'dlg') jobs = dlgJobs({ size: args.size as number | undefined, iterations: args.iterations as number, variantIterations: args['variant-iterations'] as number, images });
  else if (part === 'norms') jobs = normsJobs({ size: args.size as number | undefined, images });
  else if (part === 'inverting') jobs = invertingJobs({ size: args.size as number | undefined, invertingIterations: args['inverting-iterations'] as number, images, count: args.count as number });
  else throw new UsageError(`--part must be 'cost', 'dlg', 'inverting', 'norms' or 'summary', got ${part === undefined ? 'nothing' : `'${part}'`}`);

  const loadavgStart = os.loadavg();
  const start = Date.now();
  const out = (args.out as string | undefined) ?? path.join(RESULTS, `resnet-${part}.json`);
  // chunks of `workers` jobs, the file rewritten after each chunk: a long sweep keeps what it has measured
  const workers = args.workers as number;
  const results: ResNetResult[] = [];
  for (let i = 0; i < jobs.length; i += workers) {
    results.push(...(await runParallel<ResNetJob, ResNetResult>(TASK, jobs.slice(i, i + workers), { workers })));
    process.stderr.write(`[${((Date.now() - start) / 1000).toFixed(0)} s] ${results.length}/${jobs.length} jobs done\n`);
    write(out, record(results, jobs, loadavgStart, start));
  }
  const done = record(results, jobs, loadavgStart, start);
  console.log(table(done.results));
  console.log(`wrote ${path.relative(ROOT, out)} (${done.wallSeconds.toFixed(0)} s, load average ${loadavgStart.map((v) => v.toFixed(1)).join(' ')} -> ${done.loadavgEnd.map((v) => v.toFixed(1)).join(' ')})`);
}

function write(file: string, r: Record_): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(r, null, 1) + '\n');
}

function record(results: ResNetResult[], jobs: ResNetJob[], loadavgStart: number[], start: number): Record_ {
  return {
    command: `node dist/test/bench/resnet.js ${process.argv.slice(2).join(' ')}`,
    date: new Date().toISOString(),
    node: process.version,
    engine: engineInfo(),
    cpus: os.cpus().length,
    loadavgStart,
    loadavgEnd: os.loadavg(),
    wallSeconds: (Date.now() - start) / 1000,
    // the job's settings beside its result (lineSearch, lbfgs, modelOptions), reconstructions left out
    results: results.map((r, i) => {
      const { reconstruction, scaledReconstruction, ...rest } = r as AttackResult;
      void reconstruction;
      void scaledReconstruction;
      const { kind, model, size, seed, ...settings } = jobs[i] as ResNetJob & Record<string, unknown>;
      void kind; void model; void size; void seed;
      return { ...settings, ...rest } as unknown as ResNetResult;
    }),
  };
}

runMain(main);
