/**
 * npm run recovery-rate -- [--seeds 6] [--iterations 300] [--line-search strong_wolfe|none]
 *                          [--defense SPEC ...] [--workers N] [--out FILE.json]
 *
 * DLG on the natural 32x32 photos of datasets/natural (5 images x N seeds), counting runs with
 * MSE < 1e-3: the foundation's success target, and, with one or more --defense specs
 * ('prune:0.3', 'gaussian:1e-3', ...), a defense sweep. Runs on all cores (worker threads) with a
 * progress bar on stderr; prints one JSON summary line per defense on stdout.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs, runMain, usage, UsageError } from './args';
import type { FlagSpec } from './args';
import { runParallel, progressBar } from '../experiments/parallel';
import type { DefendedAttackJob, DefendedAttackResult } from '../experiments/defended-attack';
import { canonicalDefense } from '../defenses';
import { engineInfo } from '../engine';

const SPEC: Record<string, FlagSpec> = {
  seeds: { kind: 'int', help: 'seeds per image (1..seeds)', default: 6 },
  iterations: { kind: 'int', help: 'L-BFGS steps', default: 300 },
  'line-search': { kind: 'string', help: "'strong_wolfe' or 'none' (the original code)", default: 'strong_wolfe' },
  workers: { kind: 'int', help: 'worker threads (default: all cores)' },
  images: { kind: 'string', help: 'directory of PNG images', default: 'datasets/natural' },
  defense: { kind: 'strings', help: "client's gradient defense, repeat for a sweep: none, gaussian:1e-3, laplacian:1e-2, fp16, int8, prune:0.3" },
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
  const defenses = ((args.defense as string[] | undefined) ?? ['none']).map((d) => {
    try {
      return canonicalDefense(d);
    } catch (e) {
      throw new UsageError(`--defense: ${(e as Error).message}`);
    }
  });
  const jobs: DefendedAttackJob[] = [];
  for (const defense of defenses) {
    files.forEach((f, i) => {
      for (let seed = 1; seed <= (args.seeds as number); seed++) {
        jobs.push({ image: path.join(dir, f), label: (i * 17 + seed * 7) % 100, seed, iterations: args.iterations as number, lineSearch: lineSearch as 'none' | 'strong_wolfe', defense });
      }
    });
  }
  process.stderr.write(`${jobs.length} runs (${defenses.length} defenses x ${files.length} images x ${args.seeds} seeds), ${lineSearch} line search, ${engineInfo()}\n`);
  const start = Date.now();
  const results = await runParallel<DefendedAttackJob, DefendedAttackResult>(path.join(__dirname, '../experiments/defended-attack.js'), jobs, {
    workers: args.workers as number | undefined,
    onProgress: (done, total) => process.stderr.write(`\r${progressBar(done, total)} ${((Date.now() - start) / 1000).toFixed(0)} s`),
  });
  process.stderr.write('\n');
  for (const r of results) {
    process.stderr.write(`${r.defenseCanonical.padEnd(16)} ${path.basename(r.image).padEnd(14)} seed ${r.seed}  MSE ${r.mse.toExponential(2)}  label ${r.labelOk ? 'ok' : 'WRONG'}  ${r.status}  ${r.iterationsRun} it  ${r.evals} evals  ${r.seconds.toFixed(1)} s\n`);
  }
  const summaries = defenses.map((defense) => {
    const rs = results.filter((r) => r.defenseCanonical === defense);
    const recovered = rs.filter((r) => r.recovered).length;
    return {
      defense,
      runs: rs.length,
      recovered,
      rate: recovered / rs.length,
      labelAccuracy: rs.filter((r) => r.labelOk).length / rs.length,
      medianMse: median(rs.map((r) => r.mse)),
      lineSearch,
      iterations: args.iterations,
      medianSecondsPerRun: median(rs.map((r) => r.seconds)),
      wallSeconds: (Date.now() - start) / 1000,
      engine: engineInfo(),
    };
  });
  if (typeof args.out === 'string') fs.writeFileSync(args.out, JSON.stringify({ summaries, results }, null, 1));
  for (const s of summaries) process.stdout.write(JSON.stringify(s) + '\n');
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

runMain(main);
