/**
 * Scaling of a small attack sweep over worker threads (lib/experiments/parallel.ts): the same jobs
 * (DLG on the natural photos at 32x32, LeNet, the fused objective on whatever kernels load) with 1
 * worker (in this thread) and with W workers, alternated `repeats` times; prints the wall time of
 * each run and its process CPU time (all threads), the median speedup and whether the results are
 * identical (they must be: results do not depend on the worker count). On a machine shared with other
 * work the wall-clock speedup says little; CPU time with W workers close to CPU time with 1 means the
 * workers do not slow each other down (no shared state: each thread has its own tfjs and wasm memory).
 * The 1-worker runs also time each job; from those times it prints the speedup that W workers taking
 * the jobs in the same start order could reach at best (list scheduling, no start-up cost, no slowdown),
 * since jobs of unequal length leave a worker idle at the end.
 *
 *   node dist/test/bench/parallel.js [--workers 2] [--jobs 8] [--iterations 150] [--repeats 2]
 *   node dist/test/bench/parallel.js --paired 8 [--copies 8] [--workers 2] [--iterations 150]
 *   node dist/test/bench/parallel.js --rounds 20 [--workers 2] [--iterations 150]
 *
 * --paired P measures the workers' own efficiency, apart from how unequal a job list is and from the
 * machine's drift: the same job (one photo, one seed) `copies` times, so that every job is the same
 * work, run with 1 worker and with W workers back to back, P pairs, the order swapped every pair (1
 * then W, W then 1) so that a machine slowing down or speeding up within a pair favours neither side
 * on the whole. Each pair gives one speedup (its 1-worker wall time over its W-worker wall time, the
 * workers' start-up included); the bench prints every pair and their median. The 1-worker runs time
 * each copy: the same work, so their spread is the machine's drift within that run. One untimed
 * 1-worker run of the job comes first (it loads the task module into this thread).
 *
 * --rounds R asks only how much W workers slow each other down, with the drift of the machine kept
 * out as far as it can be: W workers are started once (and each runs the job once, untimed), then
 * every round runs the job on one worker alone and then on all W at once (the order swapped every
 * round), a few seconds in all, so that both halves of a round see the same machine. A round's
 * speedup is W times the job's time alone over the wall time of the W at once, so it waits for the
 * slowest of the W. In a long sweep of equal jobs a worker that is done takes the next job at once:
 * such a sweep runs at W over (a job's wall time at once / alone), which the bench prints from the
 * median of that ratio (without the workers' start-up and the sweep's end). Each worker also
 * reports the CPU time of its own thread per job (Linux: /proc/thread-self/stat), so that a job
 * slowed by the other workers (more CPU time for the same work: shared caches and memory) can be
 * told apart from a core that is slower at that moment, or busy with another thread.
 */
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { runParallel } from '../../lib/experiments/parallel';
import type { AttackImageJob, AttackImageResult } from '../../lib/experiments/attack-image';
import { loadImage, Img } from '../../lib/data/image';
import { engineInfo } from '../../lib/engine';
import { median } from '../../lib/analysis/stats';
import { positiveIntArg } from './args';
import { clockTicks } from '../../notebooks/tools/child-cpu';

/** Makespan of `times` taken in order by `workers` workers, each job going to the first one free. */
function listMakespan(times: number[], workers: number): number {
  const free = new Array<number>(workers).fill(0);
  for (const t of times) {
    let k = 0;
    for (let w = 1; w < workers; w++) if (free[w] < free[k]) k = w;
    free[k] += t;
  }
  return Math.max(...free);
}

const TASK = path.join(__dirname, '../../lib/experiments/attack-image.js');

/** A 32x32 photo of datasets/natural. */
function photo(name: string): Img {
  return loadImage(path.join(__dirname, '../../../datasets/natural', `${name}.png`), { size: 32, channels: 3 });
}

/** What must not depend on the worker count: a result's MSE, evaluation count and losses. */
const resultKey = (x: AttackImageResult): unknown[] => [x.mse, x.evals, x.losses];

/** Whether every value it is shown is the same: `see` each one, then read `identical`. */
function sameness(): { see: (value: unknown) => void; readonly identical: boolean } {
  let first: string | null = null;
  let identical = true;
  return {
    see(value: unknown) {
      const key = JSON.stringify(value);
      if (first === null) first = key;
      else if (key !== first) identical = false;
    },
    get identical() {
      return identical;
    },
  };
}

/** 'lo-hi' of the values, 2 decimals. */
function range(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  return `${s[0].toFixed(2)}-${s[s.length - 1].toFixed(2)}`;
}

interface TimedRun {
  seconds: number;
  /** Process CPU seconds, all threads. */
  cpu: number;
  /** With 1 worker, each job's seconds (empty otherwise). */
  jobTimes: number[];
  results: AttackImageResult[];
}

/** One run of `jobs` on `workers` worker(s): its wall and CPU time, and with 1 worker each job's time. */
async function timedRun(jobs: AttackImageJob[], workers: number): Promise<TimedRun> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  // With 1 worker the jobs run one after the other, so each result's arrival ends its job and starts the next one.
  const jobTimes: number[] = [];
  let last = t0;
  const onResult = workers === 1 ? () => { const now = performance.now(); jobTimes.push((now - last) / 1000); last = now; } : undefined;
  const results = await runParallel<AttackImageJob, AttackImageResult>(TASK, jobs, { workers, onResult });
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { seconds, cpu: (c.user + c.system) / 1e6, jobTimes, results };
}

/** --paired: the same job `copies` times, 1 worker against W, P pairs in alternating order. */
async function paired(pairs: number, copies: number, workers: number, iterations: number): Promise<void> {
  const job: AttackImageJob = { name: 'astronaut', image: photo('astronaut'), label: 7, numClasses: 100, seed: 1, iterations };
  const jobs = Array.from({ length: copies }, () => job);
  console.log(`paired: ${copies} copies of one DLG job (32x32 photo, seed 1, ${iterations} iterations at most), 1 worker against ${workers}, ${pairs} pairs, order swapped every pair; ${engineInfo()}; ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}`);
  // Untimed: the first in-thread run loads the task module and warms the JIT (the workers start cold
  // in every run, as they do in a notebook's sweep).
  await runParallel<AttackImageJob, AttackImageResult>(TASK, [job], { workers: 1 });
  const same = sameness();
  const speedups: number[] = [];
  const cpuRatios: number[] = [];
  for (let p = 0; p < pairs; p++) {
    const wall: Record<number, number> = {};
    const cpu: Record<number, number> = {};
    let spread = '';
    for (const w of p % 2 === 0 ? [1, workers] : [workers, 1]) {
      const { seconds, cpu: c, jobTimes, results } = await timedRun(jobs, w);
      wall[w] = seconds;
      cpu[w] = c;
      for (const x of results) same.see(resultKey(x));
      if (w === 1) spread = `copies ${Math.min(...jobTimes).toFixed(2)}-${Math.max(...jobTimes).toFixed(2)} s`;
    }
    speedups.push(wall[1] / wall[workers]);
    cpuRatios.push(cpu[workers] / cpu[1]);
    const order = p % 2 === 0 ? `1 then ${workers}` : `${workers} then 1`;
    console.log(`pair ${p + 1} (${order}): 1 worker ${wall[1].toFixed(2)} s wall, ${cpu[1].toFixed(2)} s CPU (${spread}); ${workers} workers ${wall[workers].toFixed(2)} s wall, ${cpu[workers].toFixed(2)} s CPU; speedup ${speedups[p].toFixed(2)}x`);
  }
  console.log(`paired speedup with ${workers} workers: ${median(speedups).toFixed(2)}x (median of ${pairs} pairs; range ${range(speedups)}x); CPU time ${workers} workers / 1: ${median(cpuRatios).toFixed(2)} (median); results identical across copies and worker counts: ${same.identical}`);
}

/**
 * A worker for --rounds: runs the task's jobs like lib/experiments/parallel-worker.ts and also sends
 * the CPU time its own thread spent on each (child-cpu.ts threadCpuSeconds; NaN without /proc).
 */
const ROUNDS_WORKER = `
const { parentPort, workerData } = require('worker_threads');
const { threadCpuSeconds } = require(workerData.childCpu);
const task = require(workerData.taskModule);
parentPort.on('message', async (job) => {
  const t0 = threadCpuSeconds(workerData.ticksPerSecond);
  const result = await task.run(job);
  parentPort.postMessage({ result, cpu: threadCpuSeconds(workerData.ticksPerSecond) - t0 });
});`;

/** --rounds: the same job alone on one worker and on all W at once, in workers started once, R rounds. */
async function rounds(count: number, workers: number, iterations: number): Promise<void> {
  const job: AttackImageJob = { name: 'astronaut', image: photo('astronaut'), label: 7, numClasses: 100, seed: 1, iterations };
  console.log(`rounds: one DLG job (32x32 photo, seed 1, ${iterations} iterations at most) alone on 1 of ${workers} workers, then on all ${workers} at once, ${count} rounds, order swapped every round, workers started once; ${engineInfo()}; ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}`);
  const ticksPerSecond = clockTicks();
  const pool = Array.from({ length: workers }, () => new Worker(ROUNDS_WORKER, { eval: true, workerData: { taskModule: TASK, childCpu: require.resolve('../../notebooks/tools/child-cpu'), ticksPerSecond } }));
  // A worker that fails (a job that throws) ends the bench with its error.
  let failed: (e: Error) => void = () => undefined;
  const failure = new Promise<never>((_, reject) => (failed = reject));
  failure.catch(() => undefined); // reported through runOn; not an unhandled rejection when no job is waiting
  for (const w of pool) w.on('error', (e) => failed(e));
  /** The job on worker w: its wall seconds (post to result) and its thread's CPU seconds. */
  const runOn = (w: Worker): Promise<{ seconds: number; cpu: number; result: AttackImageResult }> =>
    Promise.race([
      failure,
      new Promise<{ seconds: number; cpu: number; result: AttackImageResult }>((resolve) => {
        const t0 = performance.now();
        w.once('message', (m: { result: AttackImageResult; cpu: number }) => resolve({ seconds: (performance.now() - t0) / 1000, cpu: m.cpu, result: m.result }));
        w.postMessage(job);
      }),
    ]);
  const same = sameness();
  const check = (x: AttackImageResult) => same.see(resultKey(x));
  const f2 = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(', ');
  const meanOf = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
  try {
    for (const w of pool) check((await runOn(w)).result); // untimed: loads the task module, warms the JIT
    const speedups: number[] = [];
    const wallRatios: number[] = [];
    const cpuRatios: number[] = [];
    for (let r = 0; r < count; r++) {
      let alone = { seconds: 0, cpu: 0 };
      let each: { seconds: number; cpu: number }[] = [];
      let together = 0;
      for (const part of r % 2 === 0 ? ['alone', 'together'] : ['together', 'alone']) {
        const t0 = performance.now();
        if (part === 'alone') {
          const one = await runOn(pool[r % workers]);
          check(one.result);
          alone = one;
        } else {
          const done = await Promise.all(pool.map(runOn));
          done.forEach((d) => check(d.result));
          each = done;
          together = (performance.now() - t0) / 1000;
        }
      }
      speedups.push((workers * alone.seconds) / together);
      wallRatios.push(meanOf(each.map((d) => d.seconds)) / alone.seconds);
      cpuRatios.push(meanOf(each.map((d) => d.cpu)) / alone.cpu);
      const order = r % 2 === 0 ? 'alone first' : 'at once first';
      console.log(`round ${r + 1} (${order}): alone ${alone.seconds.toFixed(2)} s (its thread ${alone.cpu.toFixed(2)} s CPU); ${workers} at once ${together.toFixed(2)} s (each ${f2(each.map((d) => d.seconds))} s; their threads ${f2(each.map((d) => d.cpu))} s CPU); speedup ${speedups[r].toFixed(2)}x`);
    }
    console.log(`rounds speedup with ${workers} workers: ${median(speedups).toFixed(2)}x (median of ${count} rounds; range ${range(speedups)}x): ${workers} x a job's time alone over the wall time of ${workers} at once`);
    console.log(`a job at once / alone: wall time ${median(wallRatios).toFixed(3)} (median of the rounds' mean over the ${workers} jobs; range ${range(wallRatios)}), its thread's CPU time ${median(cpuRatios).toFixed(3)} (range ${range(cpuRatios)}); results identical across workers and rounds: ${same.identical}`);
    console.log(`a long sweep of equal jobs on ${workers} workers, without start-up and the sweep's end: ${(workers / median(wallRatios)).toFixed(2)}x (${workers} / ${median(wallRatios).toFixed(3)})`);
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
}

async function main(): Promise<void> {
  const workers = positiveIntArg('workers', 2);
  const iterations = positiveIntArg('iterations', 150);
  if (process.argv.includes('--rounds')) return rounds(positiveIntArg('rounds', 20), workers, iterations);
  if (process.argv.includes('--paired')) {
    return paired(positiveIntArg('paired', 8), positiveIntArg('copies', 4 * workers), workers, iterations);
  }
  const nJobs = positiveIntArg('jobs', 8);
  const repeats = positiveIntArg('repeats', 2);
  const names = ['astronaut', 'chelsea', 'coffee', 'hubble', 'rocket'];
  const jobs: AttackImageJob[] = Array.from({ length: nJobs }, (_, i) => {
    const name = names[i % names.length];
    return { name, image: photo(name), label: (7 * i) % 100, numClasses: 100, seed: 1 + i, iterations };
  });
  console.log(`${nJobs} DLG jobs (32x32 photos, ${iterations} iterations at most); ${engineInfo()}; ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}`);
  const times: Record<number, number[]> = { 1: [], [workers]: [] };
  const cpu: Record<number, number[]> = { 1: [], [workers]: [] };
  const same = sameness();
  const bounds: number[] = [];
  for (let r = 0; r < repeats; r++) {
    for (const w of [1, workers]) {
      const { seconds: s, cpu: c, jobTimes, results } = await timedRun(jobs, w);
      if (w === 1) bounds.push(jobTimes.reduce((a, x) => a + x, 0) / listMakespan(jobTimes, workers));
      times[w].push(s);
      cpu[w].push(c);
      same.see(results.map(resultKey));
      const jobs1 = w === 1 ? `; jobs ${jobTimes.map((x) => x.toFixed(1)).join(', ')} s, best possible on ${workers} workers ${bounds[bounds.length - 1].toFixed(2)}x` : '';
      console.log(`round ${r + 1}, ${w} worker(s): ${s.toFixed(2)} s wall, ${cpu[w][r].toFixed(2)} s CPU (${results.reduce((a, x) => a + x.evals, 0)} evaluations)${jobs1}`);
    }
  }
  console.log(`speedup with ${workers} workers: ${(median(times[1]) / median(times[workers])).toFixed(2)}x (median ${median(times[1]).toFixed(2)} s vs ${median(times[workers]).toFixed(2)} s wall); CPU time ${workers} workers / 1: ${(median(cpu[workers]) / median(cpu[1])).toFixed(2)}; best possible with these jobs: ${median(bounds).toFixed(2)}x (median); results identical across worker counts: ${same.identical}`);
}

void main();
