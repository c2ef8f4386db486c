/**
 * One DLG run against a DEFENDED gradient, as a job for parallel.ts (paper, "Defenses"): the client
 * builds its case, transforms its shared gradient with a defense spec ('gaussian:1e-3', 'fp16',
 * 'prune:0.3', 'none', ...; see lib/defenses), and shares only the result; the attacker runs DLG
 * (the default preset: strong-Wolfe line search) on it; the truth scores the reconstruction.
 * Plain data in, plain data out (worker threads pass structured clones): curves are sampled every
 * 10 iterations and the reconstruction is one flat array of 32*32*3 numbers.
 */
import { loadImage } from '../data/image';
import { makeCase, disposeCase } from '../cases/case';
import { dlg } from '../attacks/dlg';
import type { DlgStatus } from '../attacks/dlg';
import { score, imageAt, clip01, mseCurve } from '../analysis/score';
import { parseDefense } from '../defenses';

export interface DefendedAttackJob {
  /** Image file (any size; resized to `size`). */
  image: string;
  label: number;
  /** Seed of the model, the dummy and (through defenseSeed) the defense's noise. */
  seed: number;
  iterations: number;
  /** A defense spec: 'none', 'gaussian:1e-3', 'laplacian:1e-2', 'fp16', 'int8', 'prune:0.3', or '+'-joined. */
  defense: string;
  /** L-BFGS line search; default 'strong_wolfe' (the default preset). 'none': the released code's settings. */
  lineSearch?: 'none' | 'strong_wolfe';
  /** Image side in pixels (default 32). */
  size?: number;
}

export interface CurvePoint {
  iteration: number;
  value: number;
}

export interface DefendedAttackResult extends DefendedAttackJob {
  /** The defense spec in canonical form ('gaussian:0.001'). */
  defenseCanonical: string;
  mse: number;
  psnr: number;
  ssim: number;
  /** MSE < 1e-3 (RECOVERED_MSE). */
  recovered: boolean;
  recoveredLabel: number;
  labelOk: boolean;
  status: DlgStatus;
  iterationsRun: number;
  evals: number;
  seconds: number;
  /** Final gradient distance (against the DEFENDED gradient: what the attacker minimises). */
  distance: number;
  /** Gradient distance every 10 iterations (and the last iteration). */
  distanceCurve: CurvePoint[];
  /** MSE of the dummy against the truth every 10 iterations (and the last iteration). */
  mseCurve: CurvePoint[];
  /** The final reconstruction clipped to [0, 1], HWC flat, as plain numbers. */
  reconstruction: number[];
  /** [height, width, channels] of `reconstruction`. */
  shape: [number, number, number];
}

/** Curves are sampled every 10 iterations (the paper's figures). */
const CURVE_EVERY = 10;

/** Every `every`-th entry of a per-iteration series, and its last entry. */
function sample(values: number[], every: number): CurvePoint[] {
  const out: CurvePoint[] = [];
  for (let i = 0; i < values.length; i += every) out.push({ iteration: i, value: values[i] });
  const last = values.length - 1;
  if (last >= 0 && last % every !== 0) out.push({ iteration: last, value: values[last] });
  return out;
}

export function run(job: DefendedAttackJob): DefendedAttackResult {
  const defense = parseDefense(job.defense); // throws "bad defense '...': ..." before any work
  const lineSearch = job.lineSearch ?? 'strong_wolfe';
  const truth = loadImage(job.image, { size: job.size ?? 32, channels: 3 });
  // The client shares only the defended gradient.
  const c = makeCase({ images: [truth], labels: [job.label], seed: job.seed, defense });
  try {
    const r = dlg(c.model, c.shared, {
      preset: lineSearch === 'none' ? 'paper' : 'default', // 'paper' = the released settings, no line search
      iterations: job.iterations,
      seed: job.seed,
      snapshotEvery: CURVE_EVERY,
    });
    const s = score(imageAt(r.data, r.shape, 0), truth);
    const shown = clip01(imageAt(r.data, r.shape, 0));
    return {
      ...job,
      lineSearch,
      defenseCanonical: defense.spec,
      mse: s.mse,
      psnr: s.psnr,
      ssim: s.ssim,
      recovered: s.recovered,
      recoveredLabel: r.labels[0],
      labelOk: r.labels[0] === job.label,
      status: r.status,
      iterationsRun: r.iterations,
      evals: r.evals,
      seconds: r.seconds,
      distance: r.distance,
      distanceCurve: sample(r.losses, CURVE_EVERY),
      mseCurve: mseCurve(r, truth).map((p) => ({ iteration: p.iteration, value: p.mse })),
      reconstruction: Array.from(shown.data),
      shape: [shown.height, shown.width, shown.channels],
    };
  } finally {
    disposeCase(c);
  }
}
