/**
 * npm run recovery-rate -- [--seeds 6] [--iterations 300] [--line-search strong_wolfe|none] [--workers N] [--out FILE.json]
 *
 * The foundation's success target: DLG on the natural 32x32 photos of datasets/natural
 * (5 images x N seeds), counting runs with MSE < 1e-3. Runs on all cores (worker threads).
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs, runMain, usage, UsageError } from './args';
import type { FlagSpec } from './args';
import { runParallel, progressBar } from '../parallel';
import type { SingleImageJob, SingleImageResult } from '../tasks/single-image';
import { engineInfo } from '../engine';

const SPEC: Record<string, FlagSpec> = {
  seeds: { kind: 'int', help: 'seeds per image (1..seeds)', default: 6 },
  iterations: { kind: 'int', help: 'L-BFGS steps', default: 300 },
  'line-search': { kind: 'string', help: "'strong_wolfe' or 'none' (the original code)", default: 'strong_wolfe' },
  workers: { kind: 'int', help: 'worker threads (default: all cores)' },
  images: { kind: 'string', help: 'directory of PNG images', default: 'datasets/natural' },
  out: { kind: 'string', help: 'write all results as JSON here' },
  help: { kind: 'boolean', help: 'show this help' },
};

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), SPEC);
  if (args.help) return void process.stdout.write(usage('npm run recovery-rate --', SPEC) + '\n');
  const lineSearch = args['line-search'] as string;
  if (lineSearch !== 'strong_wolfe' && lineSearch !== 'none') throw new UsageError(`--line-search must be 'strong_wolfe' or 'none'`);
  const dir = path.resolve(args.images as string);
  if (!fs.existsSync(dir)) throw new UsageError(`no such directory: ${dir}`);
  const files = fs.readdirSync(dir).filter((f) => /\.(png|jpe?g)$/i.test(f)).sort();
  if (files.length === 0) throw new UsageError(`no PNG or JPEG images in ${dir}`);
  const jobs: SingleImageJob[] = [];
  files.forEach((f, i) => {
    for (let seed = 1; seed <= (args.seeds as number); seed++) {
      jobs.push({ image: path.join(dir, f), label: (i * 17 + seed * 7) % 100, seed, iterations: args.iterations as number, lineSearch: lineSearch as 'none' | 'strong_wolfe' });
    }
  });
  process.stderr.write(`${jobs.length} runs (${files.length} images x ${args.seeds} seeds), ${lineSearch} line search, ${engineInfo()}\n`);
  const start = Date.now();
  const results = await runParallel<SingleImageJob, SingleImageResult>(path.join(__dirname, '../tasks/single-image.js'), jobs, {
    workers: args.workers as number | undefined,
    onProgress: (done, total) => process.stderr.write(`\r${progressBar(done, total)} ${((Date.now() - start) / 1000).toFixed(0)} s`),
  });
  process.stderr.write('\n');
  for (const r of results) {
    process.stderr.write(`${path.basename(r.image).padEnd(14)} seed ${r.seed}  MSE ${r.mse.toExponential(2)}  label ${r.labelOk ? 'ok' : 'WRONG'}  ${r.status}  ${r.iterationsRun} it  ${r.evals} evals  ${r.seconds.toFixed(1)} s\n`);
  }
  const recovered = results.filter((r) => r.recovered).length;
  const summary = {
    runs: results.length,
    recovered,
    rate: recovered / results.length,
    labelAccuracy: results.filter((r) => r.labelOk).length / results.length,
    lineSearch,
    iterations: args.iterations,
    medianSecondsPerRun: median(results.map((r) => r.seconds)),
    wallSeconds: (Date.now() - start) / 1000,
    engine: engineInfo(),
  };
  if (typeof args.out === 'string') fs.writeFileSync(args.out, JSON.stringify({ summary, results }, null, 1));
  process.stdout.write(JSON.stringify(summary) + '\n');
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

runMain(main);
