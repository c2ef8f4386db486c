/**
 * Run many independent jobs (attack sweeps: seeds, images, defenses) on all cores with worker
 * threads. A job is plain data; a task module exports `run(job)` and is loaded by each worker.
 * Results come back in job order. workers = 1 runs in this thread (no worker), same results.
 */
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';

export interface PoolOptions {
  /** Worker threads; default: number of CPU cores. */
  workers?: number;
  /** Called after each finished job. */
  onProgress?: (done: number, total: number) => void;
}

/** A module path (absolute, compiled .js) exporting `run(job): result` (sync or async). */
export async function runParallel<J, R>(taskModule: string, jobs: J[], options: PoolOptions = {}): Promise<R[]> {
  const workers = Math.max(1, Math.min(options.workers ?? os.cpus().length, jobs.length));
  const results: R[] = new Array(jobs.length);
  let done = 0;
  if (workers === 1) {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const task = require(taskModule) as { run: (job: J) => R | Promise<R> };
    for (let i = 0; i < jobs.length; i++) {
      results[i] = await task.run(jobs[i]);
      options.onProgress?.(++done, jobs.length);
    }
    return results;
  }
  let next = 0;
  const workerFile = path.join(__dirname, 'parallel-worker.js');
  await Promise.all(
    Array.from({ length: workers }, () =>
      new Promise<void>((resolve, reject) => {
        const worker = new Worker(workerFile, { workerData: { taskModule } });
        let current = -1;
        const feed = () => {
          if (next >= jobs.length) {
            void worker.terminate().then(() => resolve());
            return;
          }
          current = next++;
          worker.postMessage({ index: current, job: jobs[current] });
        };
        worker.on('message', (m: { index: number; result?: R; error?: string }) => {
          if (m.error !== undefined) {
            void worker.terminate();
            reject(new Error(`job ${m.index} failed: ${m.error}`));
            return;
          }
          results[m.index] = m.result as R;
          options.onProgress?.(++done, jobs.length);
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
