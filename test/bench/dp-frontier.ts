/**
 * node dist/test/bench/dp-frontier.js [--only train|attack] [--out FILE] [options]
 * node dist/test/bench/dp-frontier.js --table FILE [--table FILE ...]
 *
 * Runs the privacy-utility frontier of lib/experiments/dp-frontier.ts (not a speed benchmark): DP-SGD
 * (dp:C:SIGMA over --sigmas) and the paper's defenses (--defenses), trained on the 8x8 digits and
 * attacked on held-out digits by DLG with restarts and Inverting Gradients. Jobs run on worker threads
 * (runParallel); results go to --out as JSON (plain data, one object per job), and a markdown table is
 * printed. --table prints the table of saved result files (e.g. a train file and an attack file).
 * Long: the full grid is about an hour of CPU on 2 cores; run it under `nice`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs, runMain, usage, UsageError } from '../../lib/cli/args';
import type { FlagSpec } from '../../lib/cli/args';
import { runParallel, progressBar } from '../../lib/experiments/parallel';
import { frontierJobs, frontierTable } from '../../lib/experiments/dp-frontier';
import type { FrontierJob, FrontierResult, FrontierRow } from '../../lib/experiments/dp-frontier';
import { parseDefense } from '../../lib/defenses';

const SPEC: Record<string, FlagSpec> = {
  sigmas: { kind: 'string', help: 'noise multipliers of the dp:C:SIGMA grid, comma-separated', default: '0,0.0001,0.0003,0.001,0.003,0.01,0.03,0.1,0.3,1,3' },
  clip: { kind: 'number', help: 'clipping norm C of the grid', default: 1 },
  defenses: { kind: 'string', help: "other defense specs attacked alike, comma-separated ('' for none)", default: 'none,gaussian:1e-4,gaussian:1e-3,gaussian:1e-2,prune:0.7,prune:0.9' },
  'train-defenses': { kind: 'boolean', help: 'also train the --defenses (default: attack only; their accuracy is in notebook 06)' },
  'train-seeds': { kind: 'string', help: 'training seeds, comma-separated', default: '1,2,3' },
  digits: { kind: 'int', help: 'held-out digits attacked (0..N-1, digit i with seed 1+i)', default: 8 },
  epochs: { kind: 'int', help: 'training epochs', default: 20 },
  lr: { kind: 'number', help: 'learning rate', default: 0.1 },
  sampling: { kind: 'string', help: "'poisson' (the accountant's assumption) or 'shuffle'", default: 'poisson' },
  restarts: { kind: 'int', help: 'DLG restarts per attack', default: 4 },
  'inverting-iterations': { kind: 'int', help: 'Adam steps of Inverting Gradients', default: 1000 },
  only: { kind: 'string', help: "'train' or 'attack': run only those jobs" },
  workers: { kind: 'int', help: 'worker threads (default: CPU cores)' },
  out: { kind: 'string', help: 'write the results (JSON) here' },
  table: { kind: 'strings', help: 'print the table of saved result files instead of running' },
  help: { kind: 'boolean', help: 'show this help' },
};

/** JSON has no Infinity or NaN: written as strings; read back from those strings, or from null in the epsilon fields. */
const writeNumber = (_: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v);
const INFINITE_FIELDS = new Set(['stepEpsilon', 'stepExactEpsilon', 'epsilon', 'epsilonGuaranteed']);
const readNumber = (k: string, v: unknown) => {
  if (v === 'Infinity' || v === '-Infinity' || v === 'NaN') return Number(v);
  return v === null && INFINITE_FIELDS.has(k) ? Infinity : v;
};

const numbers = (text: string, flag: string): number[] => text.split(',').filter((s) => s.trim() !== '').map((s) => {
  const v = Number(s);
  if (!Number.isFinite(v)) throw new UsageError(`--${flag}: '${s}' is not a number`);
  return v;
});

function fmt(x: number, digits = 3): string {
  if (Number.isNaN(x)) return '-';
  if (!Number.isFinite(x)) return 'inf';
  if (x !== 0 && (Math.abs(x) >= 1e4 || Math.abs(x) < 1e-2)) return x.toExponential(1);
  return x.toFixed(digits);
}

/** The table as markdown. */
export function markdownTable(rows: FrontierRow[]): string {
  const head = ['defense', 'eps (1 step)', 'eps exact (1 step)', 'eps (training)', 'test acc', 'DLG rec', 'DLG id', 'IG rec', 'IG id', 'DLG med MSE', 'IG med MSE', 'labels', 'stopped'];
  const lines = rows.map((r) => [
    r.defense, fmt(r.stepEpsilon, 2), fmt(r.stepExactEpsilon, 2), fmt(r.trainEpsilon, 2),
    Number.isNaN(r.testAccuracy) ? '-' : `${r.testAccuracy.toFixed(3)}${Number.isNaN(r.testAccuracySd) ? '' : ` ± ${r.testAccuracySd.toFixed(3)}`}`,
    `${r.dlgRecovered}/${r.attacks}`, `${r.dlgIdentified}/${r.attacks}`, `${r.invertingRecovered}/${r.attacks}`, `${r.invertingIdentified}/${r.attacks}`,
    r.dlgMedianMse.toExponential(1), r.invertingMedianMse.toExponential(1), `${r.labelsOk}/${r.attacks}`, r.stopped,
  ]);
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...lines.map((l) => `| ${l.join(' | ')} |`)].join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), SPEC);
  if (args.help) {
    process.stdout.write(usage('node dist/test/bench/dp-frontier.js', SPEC) + '\n');
    return;
  }
  if (Array.isArray(args.table)) {
    const results = (args.table as string[]).flatMap((f) => JSON.parse(fs.readFileSync(f, 'utf8'), readNumber).results as FrontierResult[]);
    process.stdout.write(markdownTable(frontierTable(results)) + '\n');
    return;
  }
  const only = args.only as string | undefined;
  if (only !== undefined && only !== 'train' && only !== 'attack') throw new UsageError(`--only must be 'train' or 'attack', got '${only}'`);
  const sampling = args.sampling as string;
  if (sampling !== 'poisson' && sampling !== 'shuffle') throw new UsageError(`--sampling must be 'poisson' or 'shuffle', got '${sampling}'`);
  const defenses = (args.defenses as string).split(',').map((s) => s.trim()).filter((s) => s !== '');
  try {
    defenses.forEach((d) => parseDefense(d));
  } catch (e) {
    throw new UsageError(`--defenses: ${(e as Error).message}`);
  }
  const jobs = frontierJobs({
    sigmas: numbers(args.sigmas as string, 'sigmas'),
    clip: args.clip as number,
    defenses,
    attackOnly: args['train-defenses'] ? [] : defenses,
    trainSeeds: numbers(args['train-seeds'] as string, 'train-seeds'),
    digits: args.digits as number,
    train: { epochs: args.epochs as number, lr: args.lr as number, sampling: sampling as 'poisson' | 'shuffle' },
    attack: { restarts: args.restarts as number, invertingIterations: args['inverting-iterations'] as number },
  }).filter((j) => only === undefined || j.kind === only);
  const t0 = Date.now();
  const every = Math.max(1, Math.ceil(jobs.length / 20));
  const results = await runParallel<FrontierJob, FrontierResult>(path.join(__dirname, '../../lib/experiments/dp-frontier.js'), jobs, {
    workers: args.workers as number | undefined,
    onProgress: (done, total) => {
      if (done % every === 0 || done === total) process.stderr.write(`${progressBar(done, total)} ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
    },
  });
  if (typeof args.out === 'string') {
    fs.writeFileSync(args.out, JSON.stringify({ args, seconds: (Date.now() - t0) / 1000, results }, writeNumber) + '\n');
  }
  process.stdout.write(markdownTable(frontierTable(results)) + '\n');
}

runMain(main);
