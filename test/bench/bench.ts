/**
 * npm run bench [-- --cases lenet32,lenet64,lenet32x8,bert --attack-cases lenet32,lenet64,lenet32x8
 *                  --iterations 300 --line-search both --torch-threads 1,2 --engines fused
 *                  --python PATH --out out/bench.json]
 *
 * The toolkit against the PyTorch original doing the SAME work. For every LeNet case the reference
 * (lib/reference/dlg_torch.py state) draws the released code's initial state (weights U(-0.5, 0.5),
 * dummy image and label logits randn, torch.manual_seed 1234) for private images our loader made;
 * both sides load that one file (lib/reference/start-state.ts), so they evaluate the same objective
 * at the same points and run the same L-BFGS trajectory until float32 rounding separates them.
 * The text case (small BERT MLM) goes the other way: our side writes the weights and dummies,
 * lib/reference/bert_torch.py loads them. Measured, each side in its own fresh process:
 *   - ms per evaluation of the objective (forward, parameter gradient, distance, second-order
 *     backward) at the start point: median of --blocks blocks of ~--block-seconds each;
 *   - the objective's value and gradient at the start on both sides (the check that the work is the same);
 *   - seconds for a --iterations-step L-BFGS attack without line search (the released code) and with
 *     strong Wolfe, from the shared start, every step run; evaluation counts and the loss after every
 *     step on both sides (how long the trajectories stay together);
 *   - peak RSS of each process;
 * for ours (dlg() and the fused objective, whatever they currently are) and PyTorch with each of
 * --torch-threads. --engines adds our other objective engines (tfjs autodiff with the fast kernels,
 * stock kernels, native tfjs-node) to the per-evaluation table. Prints markdown tables; writes
 * everything (with the machine) as JSON to --out.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs, runMain, usage, UsageError } from '../../lib/cli/args';
import type { FlagSpec } from '../../lib/cli/args';
import { findPython, probePython, runReference } from '../../lib/reference/python';
import { writeTruth, writeStart, readCheck, readStartConfig } from '../../lib/reference/start-state';
import { readTextCheck } from '../../lib/reference/text-state';
import { readSafetensors } from '../../lib/reference/safetensors';
import { lenet } from '../../lib/models/lenet';
import { createRng } from '../../lib/rng';
import { relativeError } from '../golden';
import { CASES, ENGINES, LINE_SEARCHES, ROOT, stats } from './bench-cases';
import type { BenchCase, Engine, LenetCase, LineSearch, SideResult, TextCase } from './bench-cases';
import { benchMarkdown } from './bench-report';
import type { BenchReport, CaseReport } from './bench-report';

const SPEC: Record<string, FlagSpec> = {
  cases: { kind: 'string', help: `comma-separated subset of ${Object.keys(CASES).join(',')}`, default: Object.keys(CASES).join(',') },
  'attack-cases': { kind: 'string', help: "LeNet cases that also run the whole attack ('none': per evaluation only)", default: 'lenet32,lenet64,lenet32x8' },
  iterations: { kind: 'int', help: 'L-BFGS steps of each attack', default: 300 },
  'line-search': { kind: 'string', help: "'none' (the released code), 'strong_wolfe' or 'both'", default: 'both' },
  'attack-repeats': { kind: 'int', help: 'timed attacks per side and line search (median reported)', default: 1 },
  blocks: { kind: 'int', help: 'timed blocks of evaluations per side and round (median of all reported)', default: 5 },
  rounds: { kind: 'int', help: 'fresh processes per side for the per-evaluation timing, in alternating order (attacks: first round)', default: 2 },
  'block-seconds': { kind: 'number', help: 'target length of one timed block', default: 0.5 },
  'torch-threads': { kind: 'string', help: 'comma-separated torch.set_num_threads values, one reference process each', default: '1,2' },
  warmup: { kind: 'int', help: 'LeNet: untimed evaluations before the per-evaluation blocks, on every side (2 threads settle in over the first second or two)', default: 10 },
  'our-threads': { kind: 'string', help: "LeNet: our fused objective with these threads per evaluation ('1' or '1,2'; 2: lib/engine/wasm-threads.ts, the same numbers), beside PyTorch's", default: '1,2' },
  engines: { kind: 'string', help: `our objective engines for the per-evaluation table: subset of ${Object.keys(ENGINES).join(',')}`, default: 'fused' },
  'engine-attacks': { kind: 'boolean', help: 'also run the attacks on the extra engines (slow: tfjs autodiff ~3x, stock kernels ~25x)' },
  python: { kind: 'string', help: 'Python with torch and numpy (default: $DLG_PYTHON, .venv, /tmp/torchvenv, python3)' },
  'no-torch': { kind: 'boolean', help: 'skip the PyTorch reference (our side alone, from a state our side draws)' },
  out: { kind: 'string', help: 'JSON report', default: 'out/bench.json' },
  help: { kind: 'boolean', help: 'show this help' },
};

interface Options {
  cases: BenchCase[];
  attackCases: Set<string>;
  iterations: number;
  lineSearches: LineSearch[];
  attackRepeats: number;
  blocks: number;
  rounds: number;
  blockSeconds: number;
  threads: number[];
  /** Untimed evaluations before the LeNet per-evaluation blocks, every side. */
  warmup: number;
  /** Also run our LeNet side with 2 threads per evaluation. */
  ourTwoThreads: boolean;
  engines: Engine[];
  engineAttacks: boolean;
  python?: string;
  out: string;
}

function list(value: string, known: readonly string[], flag: string): string[] {
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const s of items) if (!known.includes(s)) throw new UsageError(`--${flag}: unknown '${s}' (known: ${known.join(', ')})`);
  return items;
}

function options(argv: string[]): Options | null {
  const a = parseArgs(argv, SPEC);
  if (a.help) {
    process.stdout.write(usage('npm run bench --', SPEC) + '\n');
    return null;
  }
  for (const f of ['iterations', 'attack-repeats', 'blocks', 'rounds', 'warmup'] as const) if ((a[f] as number) < 1) throw new UsageError(`--${f} must be >= 1, got ${a[f]}`);
  if (!((a['block-seconds'] as number) > 0)) throw new UsageError(`--block-seconds must be > 0, got ${a['block-seconds']}`);
  const ls = a['line-search'] as string;
  if (!['none', 'strong_wolfe', 'both'].includes(ls)) throw new UsageError(`--line-search must be 'none', 'strong_wolfe' or 'both', got '${ls}'`);
  const cases = list(a.cases as string, Object.keys(CASES), 'cases').map((n) => CASES[n]);
  if (cases.length === 0) throw new UsageError('--cases: no case given');
  const attackCases = a['attack-cases'] === 'none' ? [] : list(a['attack-cases'] as string, Object.keys(CASES).filter((n) => CASES[n].kind === 'lenet'), 'attack-cases');
  const threads = (a['torch-threads'] as string).split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--torch-threads: '${s}' is not a positive integer`);
    return n;
  });
  const ourThreads = list(a['our-threads'] as string, ['1', '2'], 'our-threads');
  if (!ourThreads.includes('1')) throw new UsageError("--our-threads must include 1 (the attack's default), e.g. '1,2'");
  const engines = list(a.engines as string, Object.keys(ENGINES), 'engines') as Engine[];
  if (!engines.includes('fused')) engines.unshift('fused');
  let python: string | undefined;
  if (!a['no-torch']) {
    if (typeof a.python === 'string') {
      if (probePython(a.python) === null) throw new UsageError(`--python ${a.python}: cannot import torch and numpy with it`);
      python = a.python;
    } else python = findPython();
  }
  return {
    cases, attackCases: new Set(attackCases), iterations: a.iterations as number, attackRepeats: a['attack-repeats'] as number,
    lineSearches: ls === 'both' ? [...LINE_SEARCHES] : [ls as LineSearch], blocks: a.blocks as number, rounds: a.rounds as number, blockSeconds: a['block-seconds'] as number,
    threads, warmup: a.warmup as number, ourTwoThreads: ourThreads.includes('2'), engines, engineAttacks: a['engine-attacks'] === true, python, out: path.resolve(a.out as string),
  };
}

/** Our side in a fresh process (bench-ours.js); null with a note on stderr if it fails (e.g. no native backend). */
function ours(kind: 'lenet' | 'text', engine: Engine, args: string[]): (SideResult & { startDistance: number }) | null {
  const env = { ...process.env };
  delete env.DLG_FAST_KERNELS;
  if (engine === 'native') delete env.DLG_BACKEND;
  else env.DLG_BACKEND = 'cpu';
  if (engine === 'stock') env.DLG_FAST_KERNELS = '0';
  const r = spawnSync(process.execPath, [path.join(__dirname, 'bench-ours.js'), kind, '--engine', engine, ...args], { encoding: 'utf8', env, maxBuffer: 1 << 26 });
  if (r.status !== 0) {
    process.stderr.write(`  ours (${engine}): ${(r.stderr || '').trim().split('\n').pop()}\n`);
    return null;
  }
  return JSON.parse(r.stdout.trim().split('\n').pop() as string);
}

interface TorchJson {
  torch: string;
  python: string;
  threads: number;
  msPerEvalAll: number[];
  evalsPerBlock: number;
  peakRssMB: number;
  attacks: { lineSearch: LineSearch; secondsAll: number[]; evals: number; iterations: number; losses: number[]; evalsAtStep: number[]; evalLosses: number[]; distance: number; mse: number }[];
}

function torchSide(o: Options, script: string, args: string[], threads: number): SideResult {
  const load0 = os.loadavg()[0];
  const j = runReference<TorchJson>(o.python as string, script, ['bench', ...args, '--threads', String(threads), '--blocks', String(o.blocks), '--block-seconds', String(o.blockSeconds)]) as TorchJson;
  return {
    side: `PyTorch ${j.torch}, ${j.threads} thread${j.threads === 1 ? '' : 's'}`,
    threads: j.threads,
    torch: j.torch,
    python: j.python,
    msPerEval: stats(j.msPerEvalAll),
    evalsPerBlock: j.evalsPerBlock,
    attacks: j.attacks.map((a) => ({ lineSearch: a.lineSearch, seconds: stats(a.secondsAll), evals: a.evals, iterations: a.iterations, distance: a.distance, mse: a.mse, losses: a.losses, evalsAtStep: a.evalsAtStep, evalLosses: a.evalLosses })),
    peakRssMB: j.peakRssMB,
    load: [load0, os.loadavg()[0]],
  };
}

function ourGrad(file: string): Float64Array {
  return readSafetensors(file).tensors['check.grad'].data as Float64Array;
}

/** Whether two arrays hold the same numbers, bit for bit (NaN never equals). */
function sameValues(a: Float64Array, b: Float64Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Draw a LeNet state on our side (no PyTorch here): the toolkit's LeNet init and dlg()'s dummy draw. */
function ourState(c: LenetCase, truthFile: string, stateFile: string): void {
  const { images } = c.images();
  const config = readStartConfig(readSafetensors(truthFile), truthFile);
  const [h, w, ch] = config.inputShape;
  const model = lenet({ inputShape: [h, w, ch], numClasses: c.numClasses, seed: c.seed });
  const rng = createRng(c.seed);
  const start = new Float64Array(c.labels.length * (h * w * ch + c.numClasses));
  for (let i = 0; i < start.length; i++) start[i] = rng.normal();
  writeStart(stateFile, { model, images, labels: c.labels, start, config: { seed: c.seed } });
}

/**
 * Run every side `o.rounds` times, each in a fresh process, the order reversed every other round
 * (a shared machine's slow drifts then hit both sides alike); attacks in the first round only. The
 * per-evaluation blocks of all rounds are pooled (median over all), peak RSS is the largest.
 */
function inRounds<T extends SideResult>(o: Options, sides: ((first: boolean) => T)[]): T[] {
  const runs: T[][] = sides.map(() => []);
  for (let r = 0; r < o.rounds; r++) {
    const order = sides.map((_, i) => (r % 2 === 0 ? i : sides.length - 1 - i));
    for (const i of order) runs[i].push(sides[i](r === 0));
  }
  return runs.map((rs) => ({
    ...rs[0],
    msPerEval: stats(rs.flatMap((x) => x.msPerEval.all)),
    peakRssMB: Math.max(...rs.map((x) => x.peakRssMB)),
    load: [Math.min(...rs.map((x) => x.load[0])), Math.max(...rs.map((x) => x.load[1]))] as [number, number],
    rounds: rs.length,
  }));
}

function lenetCase(o: Options, c: LenetCase, dir: string): CaseReport {
  const truth = path.join(dir, 'truth.safetensors');
  const state = path.join(dir, 'state.safetensors');
  const { images, names } = c.images();
  writeTruth(truth, images, c.labels, c.numClasses, names);
  if (o.python) runReference(o.python, 'dlg_torch.py', ['state', '--truth', truth, '--seed', String(c.seed), '--out', state]);
  else ourState(c, truth, state);
  const attack = o.attackCases.has(c.name);
  const attackArgs = ['--iterations', String(o.iterations), '--line-search', o.lineSearches.join(','), '--attack-repeats', String(o.attackRepeats)];
  const common = ['--state', state, '--blocks', String(o.blocks), '--block-seconds', String(o.blockSeconds), '--warmup', String(o.warmup)];
  const oursCheck = path.join(dir, 'ours-check.safetensors');
  const threads = o.python ? o.threads : [];
  const oursCheck2 = path.join(dir, 'ours-check-2-threads.safetensors');
  const oursSide = (threadsOfOurs: 1 | 2) => (first: boolean) => {
    const name = `ours (fused${threadsOfOurs === 2 ? ', 2 threads' : ''})`;
    process.stderr.write(`${c.name}: ${name}${attack && first ? ' + attacks' : ''} ...\n`);
    const r = ours('lenet', 'fused', [...common, '--threads', String(threadsOfOurs), ...(attack && first ? ['--attacks', ...attackArgs] : []), '--check-out', threadsOfOurs === 2 ? oursCheck2 : oursCheck]);
    if (r === null) throw new Error(`${c.name}: ${name} failed`);
    return r;
  };
  const sides = inRounds(o, [
    oursSide(1),
    ...threads.map((t) => (first: boolean) => {
      process.stderr.write(`${c.name}: PyTorch, ${t} thread(s)${attack && first ? ' + attacks' : ''} ...\n`);
      return torchSide(o, 'dlg_torch.py', [...common, ...(attack && first ? attackArgs : ['--line-search', '']), '--check', path.join(dir, `torch-check-${t}.safetensors`)], t);
    }),
    ...(o.ourTwoThreads ? [oursSide(2)] : []),
  ]) as (SideResult & { startDistance: number })[];
  const mine = sides[0];
  const torch = sides.slice(1, 1 + threads.length);
  const two = o.ourTwoThreads ? sides[sides.length - 1] : undefined;
  // 2 threads must compute the very same objective: distance and gradient at the start, bit for bit
  const ours2 = two && { ...two, sameAsOneThread: two.startDistance === mine.startDistance && sameValues(ourGrad(oursCheck2), ourGrad(oursCheck)) };
  const config = readStartConfig(readSafetensors(state), state);
  const agreement: CaseReport['agreement'] = threads.map((t) => {
    const ref = readCheck(path.join(dir, `torch-check-${t}.safetensors`), config);
    return { threads: t, oursDistance: mine.startDistance, torchDistance: ref.distance, distanceRelErr: Math.abs(mine.startDistance - ref.distance) / ref.distance, gradRelErr: relativeError(ourGrad(oursCheck), ref.grad) };
  });
  const engines: SideResult[] = [mine];
  for (const e of o.engines.filter((x) => x !== 'fused')) {
    process.stderr.write(`${c.name}: ours (${e}) ...\n`);
    const r = ours('lenet', e, [...common, ...(attack && o.engineAttacks ? ['--attacks', ...attackArgs] : []), '--check-out', path.join(dir, `ours-check-${e}.safetensors`)]);
    if (r !== null) engines.push(r);
  }
  return { name: c.name, title: c.title, stateMadeBy: o.python ? 'PyTorch (dlg_torch.py state, seed ' + c.seed + ')' : 'ours (no PyTorch here)', ours: mine, ours2, torch, agreement, engines };
}

function textCase(o: Options, c: TextCase, dir: string): CaseReport {
  const state = path.join(dir, 'state.safetensors');
  const oursCheck = path.join(dir, 'ours-check.safetensors');
  const threads = o.python ? o.threads : [];
  const [mine, ...torch] = inRounds(o, [
    () => {
      process.stderr.write(`${c.name}: ours (textObjective) ...\n`);
      const r = ours('text', 'fused', ['--sentence', c.sentence, '--seed', String(c.seed), '--state-out', state, '--check-out', oursCheck, '--blocks', String(o.blocks), '--block-seconds', String(o.blockSeconds), '--warmup', '3']);
      if (r === null) throw new Error(`${c.name}: our side failed`);
      return r;
    },
    ...threads.map((t) => () => {
      process.stderr.write(`${c.name}: PyTorch, ${t} thread(s) ...\n`);
      return torchSide(o, 'bert_torch.py', ['--state', state, '--check', path.join(dir, `torch-check-${t}.safetensors`)], t);
    }),
  ]) as [SideResult & { startDistance: number }, ...SideResult[]];
  const agreement: CaseReport['agreement'] = threads.map((t) => {
    const ref = readTextCheck(path.join(dir, `torch-check-${t}.safetensors`));
    return { threads: t, oursDistance: mine.startDistance, torchDistance: ref.distance, distanceRelErr: Math.abs(mine.startDistance - ref.distance) / ref.distance, gradRelErr: relativeError(ourGrad(oursCheck), ref.grad) };
  });
  return { name: c.name, title: c.title, stateMadeBy: 'ours (lib/models/bert.ts init, textDlg\'s dummy draw)', ours: mine, torch, agreement, engines: [mine] };
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  if (o === null) return;
  // the shared start states (13 MB) go to out/bench-states (ignored by git), wherever the report goes
  const work = path.join(ROOT, 'out', 'bench-states');
  fs.mkdirSync(work, { recursive: true });
  const versions = o.python ? probePython(o.python) : null;
  if (!o.python) process.stderr.write('no PyTorch reference: our side only (see environment.md for a Python with torch)\n');
  const load0 = os.loadavg()[0];
  const started = Date.now();
  const cases: CaseReport[] = [];
  for (const c of o.cases) {
    const dir = path.join(work, c.name);
    fs.mkdirSync(dir, { recursive: true });
    cases.push(c.kind === 'lenet' ? lenetCase(o, c, dir) : textCase(o, c, dir));
  }
  const report: BenchReport = {
    date: new Date().toISOString(),
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model ?? 'unknown', platform: `${os.platform()} ${os.release()}`, node: process.version, torch: versions?.torch ?? null, python: versions?.python ?? null, load: [load0, os.loadavg()[0]] },
    settings: { iterations: o.iterations, lineSearches: o.lineSearches, attackRepeats: o.attackRepeats, blocks: o.blocks, rounds: o.rounds, blockSeconds: o.blockSeconds, warmup: o.warmup, torchThreads: o.python ? o.threads : [], ourThreads: o.ourTwoThreads ? [1, 2] : [1], attackCases: [...o.attackCases], engines: o.engines },
    wallSeconds: (Date.now() - started) / 1000,
    cases,
  };
  fs.mkdirSync(path.dirname(o.out), { recursive: true });
  fs.writeFileSync(o.out, JSON.stringify(report, null, 1));
  process.stdout.write(benchMarkdown(report) + '\n');
  process.stderr.write(`written: ${path.relative(ROOT, o.out) || o.out}\n`);
}

runMain(main);
