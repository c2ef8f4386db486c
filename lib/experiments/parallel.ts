/**
 * Run many independent jobs (attack sweeps: seeds, images, defenses) on all cores with worker
 * threads. A job is plain data; a task module exports `run(job)` and is loaded by each worker.
 * Results come back in job order. workers = 1 runs in this thread (no worker), same results: a job's
 * result depends on the job alone, never on the worker that ran it, nor on the order jobs start in.
 */
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';

export interface PoolOptions<R = unknown, J = unknown> {
  /** Worker threads; default: number of CPU cores. */
  workers?: number;
  /** Called after each finished job (failed ones too, when onError is given). */
  onProgress?: (done: number, total: number) => void;
  /** Called with each result as it arrives (job index, result), before onProgress. */
  onResult?: (index: number, result: R) => void;
  /**
   * Called when a job throws (job index, message). Without it the first failure rejects the whole
   * run; with it the other jobs go on and the failed job's entry in the result array is undefined.
   */
  onError?: (index: number, message: string) => void;
  /**
   * An estimate of a job's cost (any unit): jobs then start in decreasing cost (ties in job order), so
   * the longest ones do not start last while the other workers sit idle. Only the order jobs start in
   * changes; results still come back in job order.
   */
  cost?: (job: J) => number;
}

/** The order jobs start in: by decreasing cost when given, else job order. */
export function startOrder<J>(jobs: J[], cost?: (job: J) => number): number[] {
  const order = jobs.map((_, i) => i);
  if (!cost) return order;
  const c = jobs.map((j) => {
    const v = cost(j);
    if (!Number.isFinite(v)) throw new Error(`a job's cost must be a finite number, got ${v}`);
    return v;
  });
  return order.sort((a, b) => c[b] - c[a] || a - b);
}

/** A module path (absolute, compiled .js) exporting `run(job): result` (sync or async). */
export async function runParallel<J, R>(taskModule: string, jobs: J[], options: PoolOptions<R, J> = {}): Promise<R[]> {
  if (options.workers !== undefined && (!Number.isInteger(options.workers) || options.workers < 1)) {
    throw new Error(`workers must be an integer >= 1, got ${options.workers}`);
  }
  const workers = Math.max(1, Math.min(options.workers ?? os.cpus().length, jobs.length));
  const order = startOrder(jobs, options.cost);
  const results: R[] = new Array(jobs.length);
  let done = 0;
  const finish = (index: number, result: R | undefined, error?: string) => {
    if (error !== undefined) {
      if (!options.onError) throw new Error(`job ${index} failed: ${error}`);
      options.onError(index, error);
    } else {
      results[index] = result as R;
      options.onResult?.(index, result as R);
    }
    options.onProgress?.(++done, jobs.length);
  };
  if (workers === 1) {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const task = require(taskModule) as { run: (job: J) => R | Promise<R> };
    for (const i of order) {
      let result: R | undefined;
      let error: string | undefined;
      try {
        result = await task.run(jobs[i]);
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
      }
      finish(i, result, error);
    }
    return results;
  }
  let next = 0;
  const workerFile = path.join(__dirname, 'parallel-worker.js');
  await Promise.all(
    Array.from({ length: workers }, () =>
      new Promise<void>((resolve, reject) => {
        const worker = new Worker(workerFile, { workerData: { taskModule } });
        const feed = () => {
          if (next >= jobs.length) {
            void worker.terminate().then(() => resolve());
            return;
          }
          const current = order[next++];
          worker.postMessage({ index: current, job: jobs[current] });
        };
        worker.on('message', (m: { index: number; result?: R; error?: string }) => {
          try {
            finish(m.index, m.result, m.error);
          } catch (e) {
            void worker.terminate();
            reject(e);
            return;
          }
          feed();
        });
        worker.on('error', reject);
        feed();
      }),
    ),
  );
  return results;
}

/** A one-line text progress bar, e.g. "[#####.....] 15/30". */
export function progressBar(done: number, total: number, width = 30): string {
  const filled = Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}
