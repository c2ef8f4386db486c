/**
 * node dist/test/bench/text-variants.js [--variants a,b,...] [--sentences all|paper|held-out] [--seed 1]
 *                                       [--iterations 100] [--workers 1] [--out FILE]
 *
 * The variant table of the text attack (lib/experiments/text.ts, TEXT_VARIANTS): every variant on the
 * paper's three sentences and the eight held-out ones, one job per (variant, sentence) on worker
 * threads (lib/experiments/parallel.ts). Writes every result as a JSON line to --out (default
 * stdout) as it arrives, then the table (mean token accuracy per variant on each set) as JSON lines
 * prefixed "table". Each job prints its CPU seconds; the machine may be shared.
 */
import * as fs from 'fs';
import * as path from 'path';
import { runParallel } from '../../lib/experiments/parallel';
import { run, TEXT_VARIANTS, variantJobs, variantTable } from '../../lib/experiments/text';
import type { TextAttackJob, TextAttackResult } from '../../lib/experiments/text';
import { PAPER_SENTENCES, HELD_OUT_SENTENCES } from '../../lib/experiments/text-sentences';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

async function main(): Promise<void> {
  const names = arg('variants', Object.keys(TEXT_VARIANTS).join(',')).split(',');
  for (const n of names) if (!(n in TEXT_VARIANTS)) throw new Error(`unknown variant '${n}' (known: ${Object.keys(TEXT_VARIANTS).join(', ')})`);
  const which = arg('sentences', 'all');
  const sentences = which === 'paper' ? PAPER_SENTENCES : which === 'held-out' ? HELD_OUT_SENTENCES : [...PAPER_SENTENCES, ...HELD_OUT_SENTENCES];
  const jobs = variantJobs(names.map((n) => TEXT_VARIANTS[n]), sentences, Number(arg('seed', '1')), Number(arg('iterations', '100')));
  const out = arg('out', '');
  const write = (line: string) => (out ? fs.appendFileSync(out, line + '\n') : process.stdout.write(line + '\n'));
  const line = (r: TextAttackResult) => {
    const at = (k: number) => r.curve.filter((p) => p.iteration <= k).pop()?.tokenAccuracy;
    return JSON.stringify({ variant: r.variant, text: r.text.slice(0, 40), accuracy: r.tokenAccuracy, exact: r.exact, at10: at(10), at20: at(20), at30: at(30), status: r.status, iterations: r.iterations, evals: r.evals, discrete: r.discrete, seconds: r.seconds, positionsCorrect: r.positionsCorrect, labelReadingCorrect: r.labelReadingCorrect, decoded: r.exact ? undefined : r.decoded });
  };
  const workers = Number(arg('workers', '1'));
  let results: TextAttackResult[] = [];
  if (workers === 1) {
    // one job at a time in this thread: each line is written as its job ends
    for (const job of jobs) {
      const c0 = process.cpuUsage();
      const r = run(job);
      const c = process.cpuUsage(c0);
      write(line(r).replace(/}$/, `,"cpuSeconds":${((c.user + c.system) / 1e6).toFixed(1)}}`));
      results.push(r);
    }
  } else {
    results = await runParallel<TextAttackJob, TextAttackResult>(path.join(__dirname, '../../lib/experiments/text.js'), jobs, { workers });
    results.forEach((r) => write(line(r)));
  }
  for (const row of variantTable(results)) write('table ' + JSON.stringify(row));
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(2);
});
