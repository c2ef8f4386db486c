/**
 * Sweeps that never lose a finished run: every result is appended to a JSON-lines file as it arrives,
 * a re-run with the same file skips the jobs already there (resume), a job that fails is reported and
 * skipped, and a sweep can run as shards (`--shard i/n`: every n-th job from the i-th) whose files merge
 * into the same summary, so a cluster's job array can spread one sweep over machines.
 *
 *   const r = await runSweep({ task, jobs, key: (j) => `${j.image}|${j.seed}`, file: 'out/runs.jsonl', shard: { index: 2, count: 4 } });
 *
 * A line of the file: {"key": ..., "job": {...}, "result": {...}} or {"key": ..., "job": {...}, "error": "..."}.
 */
import * as fs from 'fs';
import { runParallel } from './parallel';

export interface Shard {
  /** 1-based shard number. */
  index: number;
  count: number;
}

/** "2/4" -> { index: 2, count: 4 }; a clear error otherwise. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) throw new Error(`a shard is I/N with 1 <= I <= N, e.g. 2/4; got '${text}'`);
  return { index, count };
}

/** The jobs of one shard: positions i with i % count === index - 1 (round-robin, so shards get mixed work). */
export function shardJobs<J>(jobs: J[], shard?: Shard): J[] {
  if (!shard) return jobs;
  return jobs.filter((_, i) => i % shard.count === shard.index - 1);
}

export interface SweepRecord<J, R> {
  key: string;
  job: J;
  result?: R;
  error?: string;
}

/** Read JSON-lines sweep files; a line that is not a record is an error naming the file and line. */
export function readRecords<J, R>(files: string[]): SweepRecord<J, R>[] {
  const out: SweepRecord<J, R>[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new Error(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      let r: SweepRecord<J, R>;
      try {
        r = JSON.parse(line) as SweepRecord<J, R>;
      } catch {
        throw new Error(`${file}:${i + 1}: not a JSON line`);
      }
      if (typeof r !== 'object' || r === null || typeof r.key !== 'string' || !('job' in r) || (!('result' in r) && !('error' in r))) {
        throw new Error(`${file}:${i + 1}: not a sweep record (key, job, result or error)`);
      }
      out.push(r);
    });
  }
  return out;
}

/**
 * The latest successful record per key (a failed attempt followed by a success counts as the success);
 * two different successful results for one key is an error: shards of different sweeps were mixed.
 */
export function latestResults<J, R>(records: SweepRecord<J, R>[]): Map<string, SweepRecord<J, R>> {
  const byKey = new Map<string, SweepRecord<J, R>>();
  for (const r of records) {
    const prev = byKey.get(r.key);
    if (r.error !== undefined) {
      if (prev === undefined) byKey.set(r.key, r);
      continue;
    }
    if (prev?.result !== undefined && JSON.stringify(prev.result) !== JSON.stringify(r.result)) {
      throw new Error(`two different results for '${r.key}': files from different sweeps were mixed`);
    }
    byKey.set(r.key, r);
  }
  return byKey;
}

export interface SweepOptions<J, R> {
  /** Task module (compiled .js exporting run(job)). */
  task: string;
  jobs: J[];
  /** A job's identity: equal keys are the same run (resume and merge go by it). */
  key: (job: J) => string;
  /** JSON-lines results file: read first (jobs already done are skipped), appended to as results arrive. */
  file?: string;
  shard?: Shard;
  workers?: number;
  /** Each finished job (resumed ones are not reported). */
  onRecord?: (record: SweepRecord<J, R>, done: number, total: number) => void;
}

export interface SweepResult<J, R> {
  /** Every job of this shard that has a result, in job order. */
  records: SweepRecord<J, R>[];
  /** Jobs that failed (reported, skipped). */
  failed: SweepRecord<J, R>[];
  /** Jobs taken from the file instead of run again. */
  resumed: number;
  /** Jobs run now. */
  ran: number;
}

export async function runSweep<J, R>(options: SweepOptions<J, R>): Promise<SweepResult<J, R>> {
  const mine = shardJobs(options.jobs, options.shard);
  const keys = mine.map(options.key);
  if (new Set(keys).size !== keys.length) throw new Error('two jobs of the sweep have the same key');
  const previous = options.file !== undefined && fs.existsSync(options.file) ? latestResults(readRecords<J, R>([options.file])) : new Map<string, SweepRecord<J, R>>();
  const todo = mine.map((job, i) => ({ job, key: keys[i] })).filter((t) => previous.get(t.key)?.result === undefined);
  const fresh = new Map<string, SweepRecord<J, R>>();
  const record = (rec: SweepRecord<J, R>, done: number) => {
    fresh.set(rec.key, rec);
    if (options.file !== undefined) fs.appendFileSync(options.file, JSON.stringify(rec) + '\n');
    options.onRecord?.(rec, done, todo.length);
  };
  let done = 0;
  await runParallel<J, R>(options.task, todo.map((t) => t.job), {
    workers: options.workers,
    onResult: (i, result) => record({ key: todo[i].key, job: todo[i].job, result }, ++done),
    onError: (i, error) => record({ key: todo[i].key, job: todo[i].job, error }, ++done),
  });
  const records: SweepRecord<J, R>[] = [];
  const failed: SweepRecord<J, R>[] = [];
  for (const key of keys) {
    const r = fresh.get(key) ?? previous.get(key);
    if (r?.result !== undefined) records.push(r);
    else if (r !== undefined) failed.push(r);
  }
  return { records, failed, resumed: mine.length - todo.length, ran: todo.length };
}
