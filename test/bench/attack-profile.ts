/**
 * Where an attack's time goes: the DLG objective (lib/engine/fused.ts), the L-BFGS two-loop recursion
 * (lib/attacks/optim/two-loop.ts) and the rest (line search, copies, snapshots), for notebook 10's jobs
 * (lib/experiments/attack-batch.ts on the natural-128 photos, the 'batch' preset, labels joint) and
 * notebook 07's DLG job (lib/experiments/text.ts, variant 'dlg', the first paper sentence: the text
 * objective, labels over the whole vocabulary), with the two-loop recursion on the wasm kernel and on
 * the JS loops it replaced, in one process.
 *
 *   node dist/test/bench/attack-profile.js [--cases 32x1,32x8,64x8,text] [--iterations 20] [--text-iterations 10] [--repeats 2]
 *
 * Each case runs `iterations` L-BFGS steps (20 inner iterations each at most; the text case
 * `text-iterations`), after a one-step
 * warm-up, alternating the two recursions `repeats` times; prints per case and recursion the milliseconds per evaluation in all,
 * in the objective, and per two-loop recursion, and whether both runs ended at the same point (they
 * must: the wasm kernel gives the JS loops' numbers bit for bit). Timers wrap the module exports
 * (the objective's evaluate, the recursion's direction); nothing in lib/ is changed.
 */
import * as os from 'os';
import { loadDataset } from '../../lib/data/index';
import { resize } from '../../lib/data/image';
import { engineInfo } from '../../lib/engine';
import type { TwoLoopMemory, HistoryPrecision } from '../../lib/attacks/optim/two-loop';
import type { FusedObjective } from '../../lib/engine/fused-types';
import type { AttackBatchJob, AttackBatchResult } from '../../lib/experiments/attack-batch';
import type { TextAttackJob, TextAttackResult, TextVariant } from '../../lib/experiments/text';
import type { TextObjective } from '../../lib/attacks/text-objective';
import { PAPER_SENTENCES } from '../../lib/experiments/text-sentences';

// the modules whose exports are wrapped (CommonJS objects: dlg.ts and lbfgs.ts read them at call time)
// eslint-disable-next-line @typescript-eslint/no-var-requires
const twoLoop = require('../../lib/attacks/optim/two-loop') as Record<string, unknown>;
// eslint-disable-next-line @typescript-eslint/no-var-requires
const fused = require('../../lib/engine/fused') as Record<string, unknown>;
// eslint-disable-next-line @typescript-eslint/no-var-requires
const textObjectives = require('../../lib/attacks/text-objective') as Record<string, unknown>;
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { run } = require('../../lib/experiments/attack-batch') as { run: (job: AttackBatchJob) => AttackBatchResult };
// eslint-disable-next-line @typescript-eslint/no-var-requires
const text = require('../../lib/experiments/text') as {
  run: (job: TextAttackJob) => TextAttackResult;
  variantJobs: (variants: readonly TextVariant[], sentences: readonly string[], seed: number, iterations: number) => TextAttackJob[];
  TEXT_VARIANTS: Readonly<Record<string, TextVariant>>;
};

const timers = { objective: 0, evals: 0, twoLoop: 0, directions: 0 };
let prefer: 'wasm' | 'js' = 'wasm';

const memory = twoLoop.twoLoopMemory as (n: number, historySize: number, prefer?: 'wasm' | 'js', precision?: HistoryPrecision) => TwoLoopMemory;
twoLoop.twoLoopMemory = (n: number, historySize: number, _prefer?: 'wasm' | 'js', precision?: HistoryPrecision): TwoLoopMemory => {
  const m = memory(n, historySize, prefer, precision);
  return {
    kind: m.kind, precision: m.precision, al: m.al, vec: m.vec, pair: m.pair, newPair: m.newPair,
    direction: (g, d, h) => {
      const t = performance.now();
      m.direction(g, d, h);
      timers.twoLoop += performance.now() - t;
      timers.directions++;
    },
  };
};
const objective = fused.fusedObjective as (...args: unknown[]) => FusedObjective | null;
fused.fusedObjective = (...args: unknown[]): FusedObjective | null => {
  const f = objective(...args);
  if (f === null) return null;
  return {
    ...f,
    evaluate: (x: Float64Array, grad: Float64Array) => {
      const t = performance.now();
      const v = f.evaluate(x, grad);
      timers.objective += performance.now() - t;
      timers.evals++;
      return v;
    },
  };
};

const makeText = textObjectives.textObjective as (...args: unknown[]) => TextObjective;
textObjectives.textObjective = (...args: unknown[]): TextObjective => {
  const f = makeText(...args);
  textSize = f.size;
  const timed = (x: Float64Array, grad?: Float64Array): number => {
    const t = performance.now();
    const v = f(x, grad);
    timers.objective += performance.now() - t;
    timers.evals++;
    return v;
  };
  return Object.assign(timed, { size: f.size, setTarget: f.setTarget, dispose: f.dispose });
};

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

/** One case: a label, its number of unknowns, and a run of `steps` L-BFGS steps returning its evaluations and a fingerprint of where it ended. */
interface ProfileCase {
  label: string;
  unknowns: () => number;
  run: (steps: number) => { evals: number; final: string };
}

function imageCase(photos: ReturnType<typeof loadDataset>, size: number, n: number, iterations: number): ProfileCase {
  const images = photos.images.slice(0, n).map((im) => resize(im, size, size));
  const job: AttackBatchJob = { images, labels: images.map((_, i) => i), numClasses: 100, seed: 1, iterations, batchUpdate: 'joint', label: 'joint', snapshotEvery: 5, stopWhenRecovered: false };
  return {
    label: `${size}x${size}, batch ${n}`,
    unknowns: () => (size * size * 3 + 100) * n,
    run: (steps) => {
      const res = run({ ...job, iterations: steps });
      return { evals: res.evals, final: JSON.stringify([res.maxMseCurve, res.evals, res.mse]) };
    },
  };
}

let textSize = 0;
function textCase(): ProfileCase {
  const [job] = text.variantJobs([text.TEXT_VARIANTS.dlg], [PAPER_SENTENCES[0]], 1, 1);
  return {
    label: "text DLG (notebook 07's first sentence)",
    unknowns: () => textSize,
    run: (steps) => {
      const res = text.run({ ...job, iterations: steps });
      return { evals: res.evals, final: JSON.stringify([res.curve.map((c) => [c.decoded, c.distance]), res.evals, res.distance]) };
    },
  };
}

/** One line on stderr and exit code 2: bad input, before any work. */
function fail(message: string): never {
  process.stderr.write(`attack-profile: ${message}\n`);
  process.exit(2);
}

/** A whole number >= 1 from option `name`. */
function count(name: string, dflt: string): number {
  const v = arg(name, dflt);
  if (!/^[1-9][0-9]*$/.test(v)) fail(`--${name} must be a whole number >= 1, got '${v}'`);
  return Number(v);
}

function main(): void {
  const iterations = count('iterations', '20');
  const textIterations = count('text-iterations', '10');
  const repeats = count('repeats', '2');
  const specs = arg('cases', '32x1,32x8,64x8').split(',');
  for (const c of specs) if (c !== 'text' && !/^[1-9][0-9]*x[1-9][0-9]*$/.test(c)) fail(`--cases: '${c}' is neither SIZExBATCH (e.g. 32x8) nor text`);
  const photos = loadDataset('natural-128');
  const cases = specs.map((c): [ProfileCase, number] => {
    if (c === 'text') return [textCase(), textIterations];
    const [size, n] = c.split('x').map(Number);
    if (n > photos.images.length) fail(`--cases: batch ${n} in '${c}' is more than the ${photos.images.length} natural-128 photos`);
    return [imageCase(photos, size, n, iterations), iterations];
  });
  console.log(`${engineInfo()}; ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}; ${iterations} L-BFGS steps per run (text: ${textIterations}), ${repeats} runs per recursion, alternating`);
  console.log('| case | unknowns | two-loop recursion | evaluations | ms per evaluation | of which objective | two-loop ms per recursion | two-loop share | same final point |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const [c, steps] of cases) {
    for (const p of ['wasm', 'js'] as const) {
      prefer = p;
      c.run(1); // warm-up: JIT, wasm compilation
    }
    const rows = new Map<string, { ms: number[]; obj: number[]; loop: number[]; share: number[]; evals: number; finals: string[] }>();
    for (let r = 0; r < repeats; r++) {
      for (const p of ['wasm', 'js'] as const) {
        prefer = p;
        Object.assign(timers, { objective: 0, evals: 0, twoLoop: 0, directions: 0 });
        const t0 = performance.now();
        const res = c.run(steps);
        const wall = performance.now() - t0;
        const row = rows.get(p) ?? { ms: [], obj: [], loop: [], share: [], evals: res.evals, finals: [] };
        row.ms.push(wall / timers.evals);
        row.obj.push(timers.objective / timers.evals);
        row.loop.push(timers.twoLoop / Math.max(1, timers.directions));
        row.share.push(timers.twoLoop / wall);
        row.finals.push(res.final);
        rows.set(p, row);
      }
    }
    const med = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)];
    const same = new Set([...rows.values()].flatMap((r) => r.finals)).size === 1;
    for (const [p, row] of rows) {
      console.log(`| ${c.label} | ${c.unknowns()} | ${p} | ${row.evals} | ${med(row.ms).toFixed(2)} | ${med(row.obj).toFixed(2)} | ${med(row.loop).toFixed(2)} | ${Math.round(100 * med(row.share))}% | ${same} |`);
    }
  }
}

main();
