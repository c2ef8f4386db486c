/**
 * The recovery-rate baseline as committed evidence (lib/reference/results/):
 *
 *   node dist/test/bench/baseline.js torch [--python P] [--seeds 6] [--iterations 300] [--line-search both]
 *        [--states out/baseline-states] [--out lib/reference/results/pytorch-baseline.json]
 *     The PyTorch original (lib/reference/dlg_torch.py runs) on exactly the runs of `npm run recovery-rate`:
 *     the same photos, fed the identical pixels our loader makes (exported to a safetensors file), the
 *     same labels; its own seeds (torch.manual_seed(seed): weights, dummy, label logits). --states keeps
 *     every run's initial state for the same-start comparison.
 *
 *   node dist/test/bench/baseline.js ours --none RR_NONE.json --strong-wolfe RR_SW.json --command CMD ...
 *        [--out lib/reference/results/ours-recovery-rate.json]
 *     Our `npm run recovery-rate --out` results, in the same format.
 *
 *   node dist/test/bench/baseline.js same-start --states out/baseline-states
 *        [--torch lib/reference/results/pytorch-baseline.json] [--workers N]
 *        [--out lib/reference/results/ours-same-start.json]
 *     Our dlg() from each run's PyTorch initial state (same weights, image, dummy and label logits),
 *     released settings, every step run; and how often the two agree on recovered / not recovered.
 *
 * Each writes FILE.json and FILE.md (summary and per-run table). Long: ~30 s per run on a quiet
 * 2-core machine; run with nice -n 10, one at a time.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs, runMain, usage, UsageError } from '../../lib/cli/args';
import type { FlagSpec } from '../../lib/cli/args';
import { loadImage } from '../../lib/data/image';
import { nhwcToNchw } from '../../lib/reference/start-state';
import { writeSafetensors, f32 } from '../../lib/reference/safetensors';
import type { SafeTensor } from '../../lib/reference/safetensors';
import { findPython, probePython, runReferenceAsync } from '../../lib/reference/python';
import { recoveryRateJobs, summarize, machine, baselineMarkdown, agreement } from '../../lib/reference/baseline';
import type { BaselineFile, BaselineRun, LineSearch } from '../../lib/reference/baseline';
import { runParallel, progressBar } from '../../lib/experiments/parallel';
import { readRecords, latestResults } from '../../lib/experiments/sweep';
import type { DefendedAttackJob, DefendedAttackResult } from '../../lib/experiments/defended-attack';
import { engineInfo } from '../../lib/engine';
import type { StartAttackJob } from '../../lib/experiments/start-attack';
import { ROOT } from './bench-cases';

const SPEC: Record<string, FlagSpec> = {
  python: { kind: 'string', help: 'torch: Python with torch and numpy (default: search)' },
  seeds: { kind: 'int', help: 'seeds per image (1..seeds)', default: 6 },
  iterations: { kind: 'int', help: 'L-BFGS steps', default: 300 },
  'line-search': { kind: 'string', help: "'none', 'strong_wolfe' or 'both'", default: 'both' },
  images: { kind: 'string', help: 'directory of the photos', default: 'datasets/natural' },
  states: { kind: 'string', help: 'directory of the runs\' PyTorch initial states', default: 'out/baseline-states' },
  threads: { kind: 'int', help: 'torch: torch.set_num_threads of each process (0: default, one per core)', default: 1 },
  processes: { kind: 'int', help: 'torch: reference processes sharing the runs (as recovery-rate\'s worker threads)', default: 2 },
  resume: { kind: 'boolean', help: 'torch: keep the runs the raw files of an interrupted run already hold' },
  none: { kind: 'string', help: "ours: recovery-rate --out file of the run with --line-search none" },
  'strong-wolfe': { kind: 'string', help: 'ours: recovery-rate --out file of the run with strong Wolfe' },
  command: { kind: 'strings', help: 'ours: the command(s) that made the files (repeat)' },
  torch: { kind: 'string', help: 'same-start: the PyTorch results to compare with', default: 'lib/reference/results/pytorch-baseline.json' },
  workers: { kind: 'int', help: 'same-start: worker threads (default: all cores)' },
  out: { kind: 'string', help: 'results file (.json; a .md beside it)' },
  help: { kind: 'boolean', help: 'show this help' },
};

const SEED_NOTE =
  'The two implementations draw different random numbers: seed s is torch.manual_seed(s) for PyTorch (LeNet weights ' +
  'U(-0.5, 0.5), dummy image and label logits randn) and the toolkit\'s own generator (lib/rng.ts) for ours, so run ' +
  '(image, seed) starts from different weights and dummies on the two sides; compare the rates, not run by run ' +
  '(ours-same-start.json runs ours from PyTorch\'s exact initial states).';

function write(file: BaselineFile, out: string, extra = ''): void {
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(file, null, 1) + '\n');
  fs.writeFileSync(out.replace(/\.json$/, '') + '.md', baselineMarkdown(file, extra));
  process.stderr.write(`written: ${path.relative(process.cwd(), out)} and .md\n`);
}

function lineSearches(v: string): LineSearch[] {
  if (v === 'both') return ['none', 'strong_wolfe'];
  if (v === 'none' || v === 'strong_wolfe') return [v];
  throw new UsageError(`--line-search must be 'none', 'strong_wolfe' or 'both', got '${v}'`);
}

const nodeCommand = () => `node ${path.relative(process.cwd(), process.argv[1])} ${process.argv.slice(2).join(' ')}`;

async function torch(a: Record<string, unknown>): Promise<void> {
  let python = a.python as string | undefined;
  if (python !== undefined && probePython(python) === null) throw new UsageError(`--python ${python}: cannot import torch and numpy with it`);
  python ??= findPython();
  if (python === undefined) throw new UsageError('no Python with torch found (--python PATH)');
  const dir = path.resolve(a.images as string);
  if (!fs.existsSync(dir)) throw new UsageError(`no such directory: ${dir}`);
  const out = path.resolve((a.out as string | undefined) ?? 'lib/reference/results/pytorch-baseline.json');
  const jobs = recoveryRateJobs(dir, a.seeds as number);
  const tensors: Record<string, SafeTensor> = {};
  for (const j of jobs) {
    if (tensors[`image.${j.image}`]) continue;
    const img = loadImage(path.join(dir, j.image), { size: 32, channels: 3 }); // exactly the recovery-rate task's pixels
    tensors[`image.${j.image}`] = f32(nhwcToNchw(img.data, 1, 32, 32, 3), [1, 3, 32, 32]);
  }
  const runs = lineSearches(a['line-search'] as string).flatMap((lineSearch) => jobs.map((j) => ({ ...j, lineSearch, iterations: a.iterations as number })));
  const work = path.resolve('out/baseline');
  fs.mkdirSync(work, { recursive: true });
  const runsFile = path.join(work, 'runs.safetensors');
  writeSafetensors(runsFile, { tensors, metadata: { runs: JSON.stringify(runs) } });
  const n = a.processes as number;
  if (n < 1) throw new UsageError(`--processes must be >= 1, got ${n}`);
  const raw = (k: number) => path.join(work, `pytorch-raw-${k}-of-${n}.json`);
  const argsOf = (k: number) => ['runs', '--runs', runsFile, '--out', raw(k), '--states', path.resolve(a.states as string), '--threads', String(a.threads), '--shard', `${k}/${n}`, ...(a.resume ? ['--resume'] : [])];
  const load0 = os.loadavg()[0];
  const start = Date.now();
  process.stderr.write(`${runs.length} runs of the PyTorch original (${python}), ${n} process(es) ...\n`);
  await Promise.all(Array.from({ length: n }, (_, k) => runReferenceAsync(python as string, 'dlg_torch.py', argsOf(k))));
  type Raw = { torch: string; python: string; numpy: string; threads: number; runs: (BaselineRun & { index: number })[] };
  const parts = Array.from({ length: n }, (_, k) => JSON.parse(fs.readFileSync(raw(k), 'utf8')) as Raw);
  const r = parts[0];
  const results: BaselineRun[] = parts.flatMap((p) => p.runs).sort((x, y) => x.index - y.index).map(({ index: _, ...x }) => ({ ...x, status: 'completed' }));
  if (results.length !== runs.length) throw new Error(`${results.length} results for ${runs.length} runs`);
  const args = argsOf(0).map((x) => (x === '0/' + n ? `K/${n}` : x.replace('raw-0-of', 'raw-K-of')));
  write({
    implementation: 'PyTorch original (lib/reference/dlg_torch.py, the released code)',
    description: `The released code's attack (mit-han-lab/dlg main.py): LeNet, weights and biases U(-0.5, 0.5), dummy image and label logits randn (torch.manual_seed(seed)), joint label (softmax of the dummy logits), torch.optim.LBFGS defaults (lr 1, max_iter 20, history 100, tolerance_grad 1e-7, tolerance_change 1e-9), ${a.iterations} steps, every step run, without line search (the released code) and with line_search_fn='strong_wolfe'. On the runs of \`npm run recovery-rate -- --seeds ${a.seeds}\`: the photos of datasets/natural in sorted order x seeds 1..${a.seeds}, label (i*17 + seed*7) % 100, 32x32 RGB in [0, 1] with the identical float32 pixels of our loader (lib/data/image.ts loadImage, exported); recovered = MSE < 1e-3.`,
    commands: [nodeCommand(), `${python} lib/reference/dlg_torch.py ${args.map((x) => (x.startsWith('/') ? path.relative(process.cwd(), x) : x)).join(' ')}  (K = 0..${n - 1}, in parallel)`],
    date: new Date().toISOString(),
    machine: machine(load0),
    versions: { torch: r.torch, python: r.python, numpy: r.numpy, 'torch threads': `${r.threads} per process, ${n} process(es)` },
    settings: { iterations: a.iterations, seeds: a.seeds, images: path.relative(ROOT, dir), wallSeconds: (Date.now() - start) / 1000 },
    note: SEED_NOTE,
    summaries: summarize(results),
    runs: results,
  }, out);
}

function ours(a: Record<string, unknown>): void {
  const files = [a.none, a['strong-wolfe']].filter((f): f is string => typeof f === 'string');
  if (files.length === 0) throw new UsageError('ours needs --none FILE and/or --strong-wolfe FILE (recovery-rate --out files, JSON lines)');
  const commands = (a.command as string[] | undefined) ?? [];
  if (commands.length === 0) throw new UsageError('ours needs --command (the recovery-rate command lines that made the files)');
  for (const f of files) if (!fs.existsSync(f)) throw new UsageError(`no such file: ${f}`);
  const records = [...latestResults(readRecords<DefendedAttackJob, DefendedAttackResult>(files)).values()];
  const failed = records.filter((r) => r.result === undefined);
  if (failed.length > 0) throw new Error(`${failed.length} failed runs in the files (${failed[0].key}: ${failed[0].error}); rerun recovery-rate to resume them`);
  const runs: BaselineRun[] = records.map((rec) => rec.result as DefendedAttackResult).filter((r) => r.defenseCanonical === 'none').map((r) => ({
    image: path.basename(r.image), seed: r.seed, label: r.label, lineSearch: r.lineSearch ?? 'strong_wolfe', mse: r.mse, recovered: r.recovered, recoveredLabel: r.recoveredLabel,
    labelOk: r.labelOk, iterations: r.iterationsRun, evaluations: r.evals, seconds: r.seconds, distance: r.distance, status: r.status,
  }));
  const engine = engineInfo();
  const stat = fs.statSync(files[0]);
  write({
    implementation: 'deep-leakage-ts (npm run recovery-rate)',
    description: 'The toolkit\'s DLG (lib/attacks/dlg.ts, presets \'paper\' (--line-search none) and \'default\' (strong Wolfe): the same LeNet, loss, joint label and torch.optim.LBFGS port with torch\'s defaults) on the runs of `npm run recovery-rate` (lib/cli/recovery-rate.ts): the photos of datasets/natural in sorted order x seeds 1..6, label (i*17 + seed*7) % 100, 32x32 RGB in [0, 1]; recovered = MSE < 1e-3. The attack stops early once L-BFGS has not moved the dummy for 3 steps (status converged / stalled; patience 3), so its evaluation counts are those of the steps it ran.',
    commands: [...commands, nodeCommand()],
    date: stat.mtime.toISOString(),
    machine: machine(os.loadavg()[0]),
    versions: { node: process.version, 'engine (this build)': engine },
    settings: { iterations: 300, seeds: 6, images: 'datasets/natural' },
    note: SEED_NOTE,
    summaries: summarize(runs),
    runs,
  }, path.resolve((a.out as string | undefined) ?? 'lib/reference/results/ours-recovery-rate.json'));
}

async function sameStart(a: Record<string, unknown>): Promise<void> {
  const torchFile = path.resolve(a.torch as string);
  if (!fs.existsSync(torchFile)) throw new UsageError(`no such file: ${torchFile} (run 'baseline.js torch' first)`);
  const ref = JSON.parse(fs.readFileSync(torchFile, 'utf8')) as BaselineFile;
  const states = path.resolve(a.states as string);
  const jobs: StartAttackJob[] = ref.runs.map((r) => ({ state: path.join(states, `${r.image.replace(/\.[^.]+$/, '')}-${r.seed}.safetensors`), lineSearch: r.lineSearch, iterations: a.iterations as number, image: r.image, seed: r.seed }));
  for (const j of jobs) if (!fs.existsSync(j.state)) throw new UsageError(`no start state ${j.state} (made by 'baseline.js torch --states DIR')`);
  const load0 = os.loadavg()[0];
  const start = Date.now();
  const runs = await runParallel<StartAttackJob, BaselineRun>(path.join(__dirname, '../../lib/experiments/start-attack.js'), jobs, {
    workers: a.workers as number | undefined,
    onProgress: (done, total) => process.stderr.write(`\r${progressBar(done, total)} ${((Date.now() - start) / 1000).toFixed(0)} s`),
  });
  process.stderr.write('\n');
  const agree = agreement(runs, ref.runs);
  const extra = [
    '## Agreement with the PyTorch original from the same initial states',
    '',
    `Each run starts from PyTorch's own initial state of that run (${path.relative(ROOT, torchFile)}; weights, image, dummy image and label logits, float32 bit for bit).`,
    '',
    '| line search | runs | both recovered | neither | only ours | only PyTorch | agree on recovered / not | label correctness agrees |',
    '|---|---|---|---|---|---|---|---|',
    ...agree.map((g) => `| ${g.lineSearch} | ${g.pairs} | ${g.bothRecovered} | ${g.neitherRecovered} | ${g.onlyFirst} | ${g.onlySecond} | ${g.bothRecovered + g.neitherRecovered} / ${g.pairs} | ${g.labelAgree} / ${g.pairs} |`),
  ].join('\n');
  const file: BaselineFile & { agreementWithPytorch: typeof agree } = {
    implementation: 'deep-leakage-ts from PyTorch\'s initial states (same start)',
    description: `The toolkit's dlg() (preset 'paper': torch's L-BFGS defaults; ${a.iterations} steps, every step run, no early stop) from each run's initial state as the PyTorch original drew it (lib/reference/start-state.ts, dlg's \`start\` option; lib/experiments/start-attack.ts): the same LeNet weights, private image, dummy image and dummy label logits. recovered = MSE < 1e-3.`,
    commands: [nodeCommand()],
    date: new Date().toISOString(),
    machine: machine(load0),
    versions: { node: process.version },
    settings: { iterations: a.iterations, states: path.relative(ROOT, states), workers: a.workers ?? os.cpus().length, wallSeconds: (Date.now() - start) / 1000 },
    note: 'Same start as PyTorch, run by run. Float32 rounding differs between the two implementations (about 1e-7 relative in the objective), and L-BFGS amplifies it within the first steps, so the trajectories separate even from one start; the agreement table says how often the outcome is the same anyway.',
    summaries: summarize(runs),
    runs,
    agreementWithPytorch: agree,
  };
  write(file, path.resolve((a.out as string | undefined) ?? 'lib/reference/results/ours-same-start.json'), extra);
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  const a = parseArgs(rest, SPEC);
  if (a.help || command === undefined || command === '--help') {
    process.stdout.write(usage('node dist/test/bench/baseline.js torch|ours|same-start', SPEC) + '\n');
    return;
  }
  for (const f of ['seeds', 'iterations'] as const) if ((a[f] as number) < 1) throw new UsageError(`--${f} must be >= 1, got ${a[f]}`);
  if (command === 'torch') await torch(a);
  else if (command === 'ours') ours(a);
  else if (command === 'same-start') await sameStart(a);
  else throw new UsageError(`unknown command '${command}' (torch, ours, same-start)`);
}

runMain(main);
