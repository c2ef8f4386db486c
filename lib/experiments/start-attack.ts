/**
 * One DLG run from a shared initial state (lib/reference/start-state.ts), as a job for parallel.ts:
 * the weights, private image and dummies another implementation (the PyTorch reference) drew, so that
 * both attack the same gradient from the same start. The released settings (preset 'paper': torch's
 * L-BFGS defaults) with the given line search, and every step run (no early stop), as the reference does.
 */
import { readStart } from '../reference/start-state';
import type { BaselineRun, LineSearch } from '../reference/baseline';
import { makeCase, disposeCase } from '../cases/case';
import { dlg } from '../attacks/dlg';
import { score, imageAt } from '../analysis/score';

export interface StartAttackJob {
  /** A start state file (single image). */
  state: string;
  lineSearch: LineSearch;
  iterations: number;
  /** Carried into the result: the run's image name and seed in the sweep. */
  image: string;
  seed: number;
}

export function run(job: StartAttackJob): BaselineRun {
  const st = readStart(job.state);
  if (st.labels.length !== 1) throw new Error(`${job.state}: ${st.labels.length} images (a single-image state is expected)`);
  const c = makeCase({ images: st.images, labels: st.labels, seed: job.seed, model: st.model });
  try {
    const r = dlg(c.model, c.shared, {
      preset: 'paper',
      iterations: job.iterations,
      patience: job.iterations + 1,
      lbfgs: { lineSearch: job.lineSearch },
      start: st.start,
    });
    const s = score(imageAt(r.data, r.shape, 0), st.images[0]);
    return {
      image: job.image,
      seed: job.seed,
      label: st.labels[0],
      lineSearch: job.lineSearch,
      mse: s.mse,
      recovered: s.recovered,
      recoveredLabel: r.labels[0],
      labelOk: r.labels[0] === st.labels[0],
      iterations: r.iterations,
      evaluations: r.evals,
      seconds: r.seconds,
      distance: r.distance,
      status: r.status,
    };
  } finally {
    disposeCase(c);
  }
}
