/** Pieces the image-attack CLIs share (lib/cli/dlg.ts and dlg-batch.ts): progress lines and the JSON line's tail. */
import { backendInfo, backendName } from '../engine/backend';
import type { DlgResult } from '../attacks/dlg';

export interface RunSettings {
  seed: number;
  /** The client's defense, canonical spec ('none' when undefended). */
  defense: string;
  lineSearch: string;
}

export function runFields(result: DlgResult, settings: RunSettings) {
  return {
    status: result.status,
    iterations: result.iterations,
    evals: result.evals,
    seconds: result.seconds,
    gradient_distance: result.distance,
    seed: settings.seed,
    defense: settings.defense,
    line_search: settings.lineSearch,
    backend: backendName(),
    backend_info: backendInfo(),
  };
}

/** dlg()'s onStep for a CLI: the gradient distance every 10 iterations on stderr, nothing with --json. */
export function stepProgress(quiet: boolean): ((iteration: number, distance: number) => void) | undefined {
  if (quiet) return undefined;
  return (it, d) => {
    if (it % 10 === 0) process.stderr.write(`iteration ${it}: gradient distance ${d.toExponential(3)}\n`);
  };
}
