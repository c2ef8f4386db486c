/** The fields every attack's JSON line ends with (lib/cli/dlg.ts and dlg-batch.ts). */
import { backendInfo, backendName } from '../backend';
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
