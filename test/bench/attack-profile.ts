/**
 * Where an attack's time goes: the DLG objective (lib/engine/fused.ts), the L-BFGS two-loop recursion
 * (lib/attacks/optim/two-loop.ts) and the rest (line search, copies, snapshots), for notebook 10's jobs
 * (lib/experiments/attack-batch.ts on the natural-128 photos, the 'batch' preset, labels joint), with
 * the two-loop recursion on the wasm kernel and on the JS loops it replaced, in one process.
 *
 *   node dist/test/bench/attack-profile.js [--cases 32x1,32x8,64x8] [--iterations 20] [--repeats 2]
 *
 * Each case runs `iterations` L-BFGS steps (20 inner iterations each at most), after a one-step
 * warm-up, alternating the two recursions `repeats` times; prints per case and recursion the milliseconds per evaluation in all,
 * in the objective, and per two-loop recursion, and whether both runs ended at the same point (they
 * must: the wasm kernel gives the JS loops' numbers bit for bit). Timers wrap the module exports
 * (the objective's evaluate, the recursion's direction); nothing in lib/ is changed.
 */
import * as os from 'os';
import { loadDataset } from '../../lib/data/index';
import { resize } from '../../lib/data/image';
import { engineInfo } from '../../lib/engine';
import type { TwoLoopMemory } from '../../lib/attacks/optim/two-loop';
import type { FusedObjective } from '../../lib/engine/fused-types';
import type { AttackBatchJob, AttackBatchResult } from '../../lib/experiments/attack-batch';

// the modules whose exports are wrapped (CommonJS objects: dlg.ts and lbfgs.ts read them at call time)
// eslint-disable-next-line @typescript-eslint/no-var-requires
const twoLoop = require('../../lib/attacks/optim/two-loop') as Record<string, unknown>;
// eslint-disable-next-line @typescript-eslint/no-var-requires
const fused = require('../../lib/engine/fused') as Record<string, unknown>;
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { run } = require('../../lib/experiments/attack-batch') as { run: (job: AttackBatchJob) => AttackBatchResult };

const timers = { objective: 0, evals: 0, twoLoop: 0, directions: 0 };
let prefer: 'wasm' | 'js' = 'wasm';

const memory = twoLoop.twoLoopMemory as (n: number, historySize: number, prefer?: 'wasm' | 'js') => TwoLoopMemory;
twoLoop.twoLoopMemory = (n: number, historySize: number): TwoLoopMemory => {
  const m = memory(n, historySize, prefer);
  return {
    kind: m.kind, al: m.al, vec: m.vec,
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

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

function main(): void {
  const cases = arg('cases', '32x1,32x8,64x8').split(',').map((c) => c.split('x').map(Number) as [number, number]);
  const iterations = Number(arg('iterations', '20'));
  const repeats = Number(arg('repeats', '2'));
  const photos = loadDataset('natural-128');
  console.log(`${engineInfo()}; ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}; ${iterations} L-BFGS steps per run, ${repeats} runs per recursion, alternating`);
  console.log('| case | unknowns | two-loop recursion | evaluations | ms per evaluation | of which objective | two-loop ms per recursion | two-loop share | same final point |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const [size, n] of cases) {
    const images = photos.images.slice(0, n).map((im) => resize(im, size, size));
    const job: AttackBatchJob = { images, labels: images.map((_, i) => i), numClasses: 100, seed: 1, iterations, batchUpdate: 'joint', label: 'joint', snapshotEvery: 5, stopWhenRecovered: false };
    for (const p of ['wasm', 'js'] as const) {
      prefer = p;
      run({ ...job, iterations: 1 }); // warm-up: JIT, wasm compilation
    }
    const rows = new Map<string, { ms: number[]; obj: number[]; loop: number[]; share: number[]; evals: number; finals: string[] }>();
    for (let r = 0; r < repeats; r++) {
      for (const p of ['wasm', 'js'] as const) {
        prefer = p;
        Object.assign(timers, { objective: 0, evals: 0, twoLoop: 0, directions: 0 });
        const t0 = performance.now();
        const res = run(job);
        const wall = performance.now() - t0;
        const row = rows.get(p) ?? { ms: [], obj: [], loop: [], share: [], evals: res.evals, finals: [] };
        row.ms.push(wall / timers.evals);
        row.obj.push(timers.objective / timers.evals);
        row.loop.push(timers.twoLoop / Math.max(1, timers.directions));
        row.share.push(timers.twoLoop / wall);
        row.finals.push(JSON.stringify([res.maxMseCurve, res.evals, res.mse]));
        rows.set(p, row);
      }
    }
    const med = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)];
    const same = new Set([...rows.values()].flatMap((r) => r.finals)).size === 1;
    for (const [p, row] of rows) {
      console.log(`| ${size}x${size}, batch ${n} | ${(size * size * 3 + 100) * n} | ${p} | ${row.evals} | ${med(row.ms).toFixed(2)} | ${med(row.obj).toFixed(2)} | ${med(row.loop).toFixed(2)} | ${Math.round(100 * med(row.share))}% | ${same} |`);
    }
  }
}

main();
