/**
 * The recovery-rate baseline as evidence: the runs of `npm run recovery-rate` (the photos of
 * datasets/natural in sorted order x seeds 1..N, label (i*17 + seed*7) % 100 for image index i,
 * 32x32 RGB in [0, 1], recovered = MSE < 1e-3 against the truth), and one file format for the
 * results of either implementation (lib/reference/results/*.json), with its summary and a markdown
 * table. test/bench/baseline.ts makes the files.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RECOVERED_MSE } from '../config';
import { median } from '../analysis/stats';

export type LineSearch = 'none' | 'strong_wolfe';

/** One run of the sweep, before it is run. */
export interface BaselineJob {
  /** File name in the image directory, e.g. 'astronaut.png'. */
  image: string;
  seed: number;
  label: number;
}

/** One run's outcome, either implementation. */
export interface BaselineRun extends BaselineJob {
  lineSearch: LineSearch;
  /** MSE of the raw reconstruction against the truth. */
  mse: number;
  recovered: boolean;
  recoveredLabel: number;
  labelOk: boolean;
  /** Outer L-BFGS steps run (the toolkit may stop early once the dummy stops moving: status). */
  iterations: number;
  evaluations: number;
  seconds: number;
  /** Final gradient distance. */
  distance: number;
  /** The toolkit's DlgStatus ('completed', 'converged', 'stalled', 'diverged'); PyTorch: 'completed'. */
  status?: string;
}

export interface BaselineSummary {
  lineSearch: LineSearch;
  runs: number;
  recovered: number;
  labelCorrect: number;
  labelAccuracy: number;
  medianMse: number;
  medianSeconds: number;
  medianEvaluations: number;
}

export interface BaselineFile {
  implementation: string;
  /** What was run, in words. */
  description: string;
  /** The exact command(s) that produced the file. */
  commands: string[];
  date: string;
  machine: { cores: number; cpu: string; platform: string; loadAverage: [number, number] };
  versions: Record<string, string>;
  settings: Record<string, unknown>;
  note: string;
  summaries: BaselineSummary[];
  runs: BaselineRun[];
}

/** The runs of `npm run recovery-rate --seeds N` (lib/cli/recovery-rate.ts), in its order. */
export function recoveryRateJobs(dir: string, seeds: number): BaselineJob[] {
  const files = fs.readdirSync(dir).filter((f) => /\.(png|jpe?g)$/i.test(f)).sort();
  const jobs: BaselineJob[] = [];
  files.forEach((image, i) => {
    for (let seed = 1; seed <= seeds; seed++) jobs.push({ image, seed, label: (i * 17 + seed * 7) % 100 });
  });
  return jobs;
}

/** Summaries per line search, in the order the line searches first appear. */
export function summarize(runs: BaselineRun[]): BaselineSummary[] {
  const order = [...new Set(runs.map((r) => r.lineSearch))];
  return order.map((lineSearch) => {
    const rs = runs.filter((r) => r.lineSearch === lineSearch);
    const labelCorrect = rs.filter((r) => r.labelOk).length;
    return {
      lineSearch,
      runs: rs.length,
      recovered: rs.filter((r) => r.mse < RECOVERED_MSE).length,
      labelCorrect,
      labelAccuracy: labelCorrect / rs.length,
      medianMse: median(rs.map((r) => r.mse)),
      medianSeconds: median(rs.map((r) => r.seconds)),
      medianEvaluations: median(rs.map((r) => r.evaluations)),
    };
  });
}

/** The machine, for the record. */
export function machine(loadAtStart: number): BaselineFile['machine'] {
  return { cores: os.cpus().length, cpu: os.cpus()[0]?.model ?? 'unknown', platform: `${os.platform()} ${os.release()}`, loadAverage: [loadAtStart, os.loadavg()[0]] };
}

/** Runs of two files matched by (image, seed, line search): how often they agree on recovered / not recovered. */
export interface Agreement {
  lineSearch: LineSearch;
  pairs: number;
  bothRecovered: number;
  neitherRecovered: number;
  onlyFirst: number;
  onlySecond: number;
  /** Runs where both recovered the label / agree on the label being right. */
  labelAgree: number;
}

export function agreement(a: BaselineRun[], b: BaselineRun[]): Agreement[] {
  const key = (r: BaselineRun) => `${r.image}|${r.seed}|${r.lineSearch}`;
  const other = new Map(b.map((r) => [key(r), r]));
  const order = [...new Set(a.map((r) => r.lineSearch))];
  return order.map((lineSearch) => {
    const out: Agreement = { lineSearch, pairs: 0, bothRecovered: 0, neitherRecovered: 0, onlyFirst: 0, onlySecond: 0, labelAgree: 0 };
    for (const r of a.filter((x) => x.lineSearch === lineSearch)) {
      const s = other.get(key(r));
      if (s === undefined) continue;
      out.pairs++;
      if (r.recovered && s.recovered) out.bothRecovered++;
      else if (!r.recovered && !s.recovered) out.neitherRecovered++;
      else if (r.recovered) out.onlyFirst++;
      else out.onlySecond++;
      if (r.labelOk === s.labelOk) out.labelAgree++;
    }
    return out;
  });
}

const e = (v: number) => (Number.isFinite(v) ? v.toExponential(2) : String(v));

/** A short markdown summary of a results file (the .md committed beside it). */
export function baselineMarkdown(f: BaselineFile, extra = ''): string {
  const lines = [
    `# ${f.implementation}: recovery rate on the runs of \`npm run recovery-rate\``,
    '',
    f.description,
    '',
    `- date: ${f.date}`,
    `- machine: ${f.machine.cores} cores (${f.machine.cpu}), ${f.machine.platform}; load average ${f.machine.loadAverage[0].toFixed(1)} at the start, ${f.machine.loadAverage[1].toFixed(1)} at the end (shared machine: seconds are indicative)`,
    `- versions: ${Object.entries(f.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `- commands:`,
    ...f.commands.map((c) => `  - \`${c}\``),
    `- note: ${f.note}`,
    '',
    '| line search | recovered (MSE < 1e-3) | label correct | median MSE | median evaluations | median seconds per run |',
    '|---|---|---|---|---|---|',
    ...f.summaries.map((s) => `| ${s.lineSearch} | ${s.recovered} / ${s.runs} | ${s.labelCorrect} / ${s.runs} | ${e(s.medianMse)} | ${s.medianEvaluations} | ${s.medianSeconds.toFixed(1)} |`),
    '',
    'Per run (image, seed, label: MSE, label ok; evaluations):',
    '',
    `| image | seed | label | ${f.summaries.map((s) => `${s.lineSearch}: MSE, label, evaluations`).join(' | ')} |`,
    `|---|---|---|${f.summaries.map(() => '---').join('|')}|`,
  ];
  const jobs = f.runs.filter((r) => r.lineSearch === f.summaries[0]?.lineSearch);
  for (const j of jobs) {
    const cells = f.summaries.map((s) => {
      const r = f.runs.find((x) => x.image === j.image && x.seed === j.seed && x.lineSearch === s.lineSearch);
      return r ? `${e(r.mse)}${r.recovered ? ' (recovered)' : ''}, ${r.labelOk ? 'ok' : 'wrong'}, ${r.evaluations}` : '-';
    });
    lines.push(`| ${path.basename(j.image)} | ${j.seed} | ${j.label} | ${cells.join(' | ')} |`);
  }
  if (extra) lines.push('', extra);
  return lines.join('\n') + '\n';
}
