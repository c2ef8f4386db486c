/** Worker side of parallel.ts: load the task module once, run the jobs it is sent. */
import { parentPort, workerData } from 'worker_threads';

const task = require((workerData as { taskModule: string }).taskModule) as { run: (job: unknown) => unknown };

parentPort?.on('message', async (m: { index: number; job: unknown }) => {
  try {
    const result = await task.run(m.job);
    parentPort?.postMessage({ index: m.index, result });
  } catch (e) {
    parentPort?.postMessage({ index: m.index, error: e instanceof Error ? e.message : String(e) });
  }
});
