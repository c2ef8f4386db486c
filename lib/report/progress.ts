/**
 * Progress lines: N of total, elapsed time and an estimate of the time left, e.g.
 *   progress: iteration 40/300 (13%), 6.2 s elapsed, about 40 s left; gradient distance 3.1e-4
 * Every such line starts with 'progress:' so that tools comparing two executions of a notebook can
 * ignore it (the times differ from run to run; see environment.md).
 */

/** "0.4 s", "12 s", "3.2 min", "1.5 h" */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** One progress line for `done` of `total` units (e.g. 'iteration', 'run'), started at `startMs` (Date.now()). */
export function progressLine(unit: string, done: number, total: number, startMs: number, detail = ''): string {
  const elapsed = (Date.now() - startMs) / 1000;
  const pct = total > 0 ? Math.floor((100 * done) / total) : 100;
  const left = done > 0 && done < total ? `, about ${formatDuration((elapsed / done) * (total - done))} left` : '';
  return `progress: ${unit} ${done}/${total} (${pct}%), ${formatDuration(elapsed)} elapsed${left}${detail ? `; ${detail}` : ''}`;
}

export interface ProgressOptions {
  /** Print nothing. */
  quiet?: boolean;
  /** Where lines go (default: stderr). */
  write?: (line: string) => void;
  /** Print every k-th unit (and the last); default: about 20 lines over the run. */
  every?: number;
}

/** A reporter: call `update(done, detail)` as units finish. */
export function progressReporter(unit: string, total: number, options: ProgressOptions = {}): (done: number, detail?: string) => void {
  const start = Date.now();
  const every = options.every ?? Math.max(1, Math.round(total / 20));
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  return (done, detail = '') => {
    if (options.quiet) return;
    if (done % every === 0 || done === total) write(progressLine(unit, done, total, start, detail));
  };
}
