/** What the attack commands print: one JSON line (numbers as numbers; Infinity and NaN spelled out, never null). */
import { backendInfo, backendName } from '../engine';

/** JSON.stringify, but Infinity / -Infinity / NaN become the strings "Infinity" / "-Infinity" / "NaN". */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
}

/** The fields every attack's JSON line ends with: how the run went and on what. */
export function runFields(run: { status: string; iterations: number; evals: number; seconds: number; distance: number }) {
  return {
    status: run.status,
    iterations: run.iterations,
    evals: run.evals,
    seconds: run.seconds,
    gradient_distance: run.distance,
    backend: backendName(),
    backend_info: backendInfo(),
  };
}
