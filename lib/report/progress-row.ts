/**
 * From an attack's result to a row of a progress grid (grid.ts): the dummy of one sample at every
 * snapshot, clipped to [0, 1] as a viewer shows it, with the snapshots' iterations.
 *
 *   savePng(progressGrid(progressRow(result, { truth })), 'out/progress.png');
 *   // a batch, one row per image (reconstruction r matched to truth order[r], see analysis/match.ts)
 *   progressGrid(truths.map((t, i) => progressRow(result, { index: order.indexOf(i), truth: t, label: `image ${i + 1}` })));
 */
import type { Img } from '../data/image';
import type { DlgSnapshot } from '../attacks/dlg';
import { clip01, imageAt } from '../analysis/score';
import type { ProgressRow } from './grid';

/** Options of `progressRow`. */
export interface ProgressRowOptions {
  /** Which sample of the batch. Default 0. */
  index?: number;
  /** The ground truth, shown last. */
  truth?: Img;
  /** Row label, e.g. 'image 2' or 'prune 10%'. */
  label?: string;
}

/** The row of sample `index` of an attack result (any result with NHWC snapshots: DLG, Inverting Gradients). */
export function progressRow(result: { snapshots: Pick<DlgSnapshot, 'iteration' | 'data'>[]; shape: [number, number, number, number] }, opts: ProgressRowOptions = {}): ProgressRow {
  const index = opts.index ?? 0;
  if (!Number.isInteger(index) || index < 0 || index >= result.shape[0]) throw new Error(`progressRow: index must be a sample of the batch, 0..${result.shape[0] - 1}, got ${index}`);
  return {
    frames: result.snapshots.map((s) => clip01(imageAt(s.data, result.shape, index))),
    iterations: result.snapshots.map((s) => s.iteration),
    truth: opts.truth,
    label: opts.label,
  };
}
