/**
 * CPU time of the runner's finished child processes (nbconvert and, through it, each notebook's tslab
 * kernel and its worker threads), read from /proc/self/stat on Linux: the kernel adds a child's user
 * and system time, with that of its own waited-for children, to the parent's `cutime` and `cstime` when
 * the parent reaps it. So the growth of that sum between two child exits is the CPU time of the
 * children reaped in between: with `--jobs 1`, exactly one notebook's. Divided by the notebook's wall
 * time it says how many cores it kept busy on average (2 = both, on this machine).
 *
 * Elsewhere (no /proc) childCpuSeconds() returns null and the runner prints wall times only.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';

/**
 * cutime + cstime (fields 16 and 17) of a /proc/PID/stat line, in clock ticks. The command name
 * (field 2) is in parentheses and may hold spaces or parentheses itself, so fields count from the
 * last ')'. Null when the line does not parse.
 */
export function childTicks(stat: string): number | null {
  return fieldSum(stat, 16, 17);
}

/** utime + stime (fields 14 and 15) of a stat line: with /proc/thread-self/stat, one thread's own CPU ticks. */
export function ownTicks(stat: string): number | null {
  return fieldSum(stat, 14, 15);
}

/** Fields a + b (numbered as in proc(5)) of a stat line, counted from the command name's last ')'; null when it does not parse. */
function fieldSum(stat: string, a: number, b: number): number | null {
  const end = stat.lastIndexOf(')');
  if (end < 0) return null;
  // after ')': field 3 (state) is the first
  const fields = stat.slice(end + 1).trim().split(/\s+/);
  const x = Number(fields[a - 3]);
  const y = Number(fields[b - 3]);
  return Number.isFinite(x) && Number.isFinite(y) && fields.length >= 15 ? x + y : null;
}

let ticksPerSecond: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`; 100, Linux's value, when getconf cannot say). */
export function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const v = Number(r.stdout?.trim());
    ticksPerSecond = r.status === 0 && Number.isInteger(v) && v > 0 ? v : 100;
  }
  return ticksPerSecond;
}

/** CPU seconds of all this process's reaped children so far, or null where /proc/self/stat is not there. */
export function childCpuSeconds(): number | null {
  // The tick rate first: asking getconf (once) reaps a child, which must count before this reading, not in the next.
  const perSecond = clockTicks();
  let stat: string;
  try {
    stat = fs.readFileSync('/proc/self/stat', 'utf8');
  } catch {
    return null;
  }
  const ticks = childTicks(stat);
  return ticks === null ? null : ticks / perSecond;
}

/**
 * CPU seconds the calling thread has used (its /proc/thread-self/stat), NaN where that is not there.
 * `perSecond` from clockTicks(), asked once by the caller (so that a worker thread spawns no getconf).
 */
export function threadCpuSeconds(perSecond: number): number {
  let stat: string;
  try {
    stat = fs.readFileSync('/proc/thread-self/stat', 'utf8');
  } catch {
    return NaN;
  }
  return (ownTicks(stat) ?? NaN) / perSecond;
}

/** ' (CPU 255.5 s, 1.94 cores)' for a notebook's line; '' without a CPU reading. */
export function formatCpu(cpu: number | null | undefined, wall: number): string {
  if (cpu === null || cpu === undefined || !(wall > 0)) return '';
  return ` (CPU ${cpu.toFixed(1)} s, ${(cpu / wall).toFixed(2)} cores)`;
}
