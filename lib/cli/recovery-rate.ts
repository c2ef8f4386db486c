/**
 * npm run recovery-rate -- [--seeds 6] [--iterations 300] [--line-search strong_wolfe|none]
 *                          [--defense SPEC ...] [--images DIR] [--workers N]
 *                          [--out RUNS.jsonl] [--shard I/N] [--merge RUNS.jsonl ...] [--json]
 *
 * DLG on the photos of a folder (default datasets/natural: 5 images x --seeds seeds), counting runs
 * with MSE < 1e-3; with one or more --defense specs ('prune:0.3', 'gaussian:1e-3', ...), a defense sweep.
 * Runs on all cores (worker threads). Prints one JSON summary line per defense on stdout; progress
 * ('progress: run 12/30 ...') and one line per finished run on stderr (not with --json).
 *
 * Nothing finished is lost: with --out, every run is appended to the JSON-lines file as it finishes,
 * and running the same command again resumes (runs already in the file are not repeated). An image that
 * cannot be read is reported and skipped; a run that fails is reported, the others go on (exit code 1).
 * Bad flags: one error line, exit code 2, before any run.
 * A cluster spreads the sweep with --shard I/N (every N-th run from the I-th), each shard to its own
 * file; --merge FILE... prints the summary of all of them, the same as one unsharded run. SLURM:
 *   #SBATCH --array=1-8
 *   npm run recovery-rate -- --seeds 6 --shard $SLURM_ARRAY_TASK_ID/8 --out runs/shard-$SLURM_ARRAY_TASK_ID.jsonl
 *   # afterwards, on any machine:  npm run recovery-rate -- --merge runs/shard-*.jsonl
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs, runMain, usage, givenFlags, UsageError, setOpenLine } from './args';
import type { FlagSpec } from './args';
import { prepareOutFile } from './output';
import { jsonLine } from './report';
import { runSweep, readRecords, latestResults, parseShard } from '../experiments/sweep';
import type { SweepRecord } from '../experiments/sweep';
import type { DefendedAttackJob, DefendedAttackResult } from '../experiments/defended-attack';
import { parseDefense } from '../defenses';
import { engineInfo } from '../engine';
import { loadImage } from '../data/image';
import { median, groupBy } from '../analysis/stats';
import { progressLine } from '../report/progress';

const SPEC: Record<string, FlagSpec> = {
  seeds: { kind: 'int', help: 'seeds per image (1..seeds)', default: 6 },
  iterations: { kind: 'int', help: 'L-BFGS steps', default: 300 },
  'line-search': { kind: 'string', help: "'strong_wolfe' (default preset) or 'none' (the released code: preset 'paper')", default: 'strong_wolfe' },
  workers: { kind: 'int', help: 'worker threads (default: all cores)' },
  images: { kind: 'string', help: 'directory of PNG or JPEG images (resized to 32x32)', default: 'datasets/natural' },
  defense: { kind: 'strings', help: "client's gradient defense, repeat for a sweep: none, gaussian:1e-3, laplacian:1e-2, fp16, int8, prune:0.3" },
  out: { kind: 'string', help: 'JSON-lines file: each run appended as it finishes; an existing file is resumed' },
  shard: { kind: 'string', help: 'run only shard I of N (I/N: every N-th run from the I-th), e.g. for a cluster job array' },
  merge: { kind: 'strings', help: 'print the summary of these JSON-lines files (shards) instead of running; repeat or use a shell glob' },
  json: { kind: 'boolean', help: 'print only the JSON summary lines' },
  help: { kind: 'boolean', help: 'show this help' },
};

type Run = SweepRecord<DefendedAttackJob, DefendedAttackResult>;

/** A run's identity in a results file (resume and merge go by it). */
export function runKey(j: DefendedAttackJob): string {
  return `${j.defense}|${path.basename(j.image)}|seed ${j.seed}|label ${j.label}|${j.iterations} it|${j.lineSearch ?? 'strong_wolfe'}`;
}

/** One summary per defense, in first-seen order. */
export function summarize(runs: Run[]) {
  return [...groupBy(runs, (r) => r.job.defense).entries()].map(([defense, rs]) => {
    const results = rs.map((r) => r.result as DefendedAttackResult);
    const recovered = results.filter((r) => r.recovered).length;
    return {
      defense,
      runs: results.length,
      recovered,
      rate: recovered / results.length,
      labelAccuracy: results.filter((r) => r.labelOk).length / results.length,
      medianMse: median(results.map((r) => r.mse)),
      lineSearch: rs[0].job.lineSearch ?? 'strong_wolfe',
      iterations: rs[0].job.iterations,
      medianSecondsPerRun: median(results.map((r) => r.seconds)),
    };
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const args = parseArgs(argv, SPEC);
  if (args.help) return void process.stdout.write(usage('npm run recovery-rate --', SPEC) + '\n');
  const quiet = args.json === true;
  const say = (line: string) => { if (!quiet) process.stderr.write(line + '\n'); };

  if (args.merge !== undefined) {
    const others = [...givenFlags(argv)].filter((f) => !['merge', 'json'].includes(f));
    if (others.length > 0) throw new UsageError(`--merge only reads results files; --${others[0]} does not apply`);
    let runs: Run[];
    try {
      runs = [...latestResults(readRecords<DefendedAttackJob, DefendedAttackResult>(args.merge as string[])).values()];
    } catch (e) {
      throw new UsageError(`--merge: ${(e as Error).message}`);
    }
    const failed = runs.filter((r) => r.result === undefined);
    for (const r of failed) say(`failed: ${r.key}: ${r.error}`);
    for (const s of summarize(runs.filter((r) => r.result !== undefined))) process.stdout.write(jsonLine({ ...s, failed: failed.filter((f) => f.job.defense === s.defense).length }) + '\n');
    return;
  }

  const seeds = args.seeds as number;
  if (seeds < 1) throw new UsageError(`--seeds must be >= 1, got ${seeds}`);
  const iterations = args.iterations as number;
  if (iterations < 1) throw new UsageError(`--iterations must be >= 1, got ${iterations}`);
  const workers = args.workers as number | undefined;
  if (workers !== undefined && workers < 1) throw new UsageError(`--workers must be >= 1, got ${workers}`);
  const lineSearch = args['line-search'] as string;
  if (lineSearch !== 'strong_wolfe' && lineSearch !== 'none') throw new UsageError(`--line-search must be 'strong_wolfe' or 'none', got '${lineSearch}'`);
  let shard;
  try {
    shard = typeof args.shard === 'string' ? parseShard(args.shard) : undefined;
  } catch (e) {
    throw new UsageError(`--shard: ${(e as Error).message}`);
  }
  const defenses = ((args.defense as string[] | undefined) ?? ['none']).map((d) => {
    try {
      return parseDefense(d).spec;
    } catch (e) {
      throw new UsageError(`--defense: ${(e as Error).message}`);
    }
  });
  if (new Set(defenses).size !== defenses.length) throw new UsageError('--defense: the same defense given twice');
  const dir = path.resolve(args.images as string);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`--images: no such directory: ${dir}`);
  const out = typeof args.out === 'string' ? prepareOutFile(args.out) : undefined;

  // Every image is read before the sweep: one that cannot be is reported and skipped.
  const all = fs.readdirSync(dir).filter((f) => /\.(png|jpe?g)$/i.test(f)).sort();
  const files = all.filter((f) => {
    try {
      loadImage(path.join(dir, f), { size: 32, channels: 3 });
      return true;
    } catch (e) {
      say(`skipped: ${(e as Error).message}`);
      return false;
    }
  });
  if (files.length === 0) throw new UsageError(`--images: no readable PNG or JPEG images in ${dir}`);
  const jobs: DefendedAttackJob[] = [];
  for (const defense of defenses) {
    files.forEach((f) => {
      const i = all.indexOf(f); // labels follow the image's place in the folder, readable or not
      for (let seed = 1; seed <= seeds; seed++) {
        jobs.push({ image: path.join(dir, f), label: (i * 17 + seed * 7) % 100, seed, iterations, lineSearch: lineSearch as 'none' | 'strong_wolfe', defense });
      }
    });
  }
  say(`machine: ${engineInfo()}`);
  say(`${jobs.length} runs (${defenses.length} defenses x ${files.length} images x ${seeds} seeds)${shard ? `, shard ${shard.index}/${shard.count}` : ''}, ${lineSearch} line search${out ? `, results in ${out}` : ''}`);
  const start = Date.now();
  const sweep = await runSweep<DefendedAttackJob, DefendedAttackResult>({
    task: path.join(__dirname, '../experiments/defended-attack.js'),
    jobs,
    key: runKey,
    file: out,
    shard,
    workers,
    onRecord: (rec, done, total) => {
      const r = rec.result;
      say(r ? `${r.defenseCanonical.padEnd(16)} ${path.basename(r.image).padEnd(14)} seed ${r.seed}  MSE ${r.mse.toExponential(2)}  label ${r.labelOk ? 'ok' : 'WRONG'}  ${r.status}  ${r.iterationsRun} it  ${r.evals} evals  ${r.seconds.toFixed(1)} s`
        : `failed: ${rec.key}: ${rec.error}`);
      say(progressLine('run', done, total, start));
    },
  });
  setOpenLine(false);
  if (sweep.resumed > 0) say(`resumed ${sweep.resumed} runs from ${out}`);
  for (const s of summarize(sweep.records)) process.stdout.write(jsonLine({ ...s, failed: sweep.failed.filter((f) => f.job.defense === s.defense).length, wallSeconds: (Date.now() - start) / 1000, engine: engineInfo() }) + '\n');
  if (sweep.failed.length > 0) {
    process.stderr.write(`error: ${sweep.failed.length} of ${sweep.records.length + sweep.failed.length} runs failed (their errors are above${out ? ` and in ${out}` : ''}); the others are summarised\n`);
    process.exitCode = 1;
  }
}

if (require.main === module) runMain(main);
