/**
 * node dist/test/bench/train.js [--rounds 2] [--epochs 20]
 *
 * Training on notebook 06's setting (digitsLenet(1), the 1437 training digits, TRAIN_DEFAULTS: batch
 * 32, lr 0.1, momentum 0.9) with engine 'fused' (the wasm first-order pass, lib/engine/fused-train.ts)
 * and engine 'tfjs' (autodiff), alternating in one process, for three defenses: none, prune:0.3 and
 * dp:1:1 (DP-SGD, Poisson sampling: per-example rows), after one untimed 2-epoch run per engine and
 * defense (the JIT's warm-up). One line per run (seconds of the updates, wall
 * seconds with the accuracy evaluations, final held-out accuracy), then the medians per defense and
 * their ratio, and whether the two engines' held-out accuracies agree epoch by epoch. Last, pruneArray
 * (the selection prune:RATIO runs per tensor and step) against sorting the indices by magnitude, on
 * 3,600 entries (the size of the digits LeNet's larger filters), ratio 0.3: the same entries, ms per call.
 */
import { trainWithDefense } from '../../lib/cases/train';
import { digitsSplit, digitsLenet, TRAIN_DEFAULTS } from '../../lib/experiments/train-defended';
import { disposeModel } from '../../lib/models/model';
import { engineInfo } from '../../lib/engine';
import { median } from '../../lib/analysis/stats';
import { positiveIntArg as arg } from './args';
import { pruneArray, pruneBySort } from '../../lib/defenses/pruning';
import { createRng } from '../../lib/rng';

function main(): void {
  const rounds = arg('rounds', 2);
  const epochs = arg('epochs', TRAIN_DEFAULTS.epochs);
  const { train, test } = digitsSplit();
  console.log(`${engineInfo()}; ${train.images.length} training digits, ${epochs} epochs, ${rounds} rounds, engines alternating`);
  const defenses = [['none', 'shuffle'], ['prune:0.3', 'shuffle'], ['dp:1:1', 'poisson']] as const;
  const wall: Record<string, number[]> = {};
  const agree: Record<string, boolean> = {};
  const trainRun = (defense: string, sampling: 'shuffle' | 'poisson', engine: 'fused' | 'tfjs', runEpochs: number) => {
    const model = digitsLenet(1);
    const t0 = Date.now();
    const r = trainWithDefense({ model, ...train, test, defense, seed: 1, epochs: runEpochs, batchSize: TRAIN_DEFAULTS.batchSize, lr: TRAIN_DEFAULTS.lr, momentum: TRAIN_DEFAULTS.momentum, sampling, engine });
    const seconds = (Date.now() - t0) / 1000;
    disposeModel(model);
    return { r, seconds };
  };
  for (const [defense, sampling] of defenses) for (const engine of ['fused', 'tfjs'] as const) trainRun(defense, sampling, engine, 2);
  for (let round = 1; round <= rounds; round++) {
    for (const [defense, sampling] of defenses) {
      const curves: number[][] = [];
      for (const engine of ['fused', 'tfjs'] as const) {
        const { r, seconds } = trainRun(defense, sampling, engine, epochs);
        (wall[`${defense} ${engine}`] ??= []).push(seconds);
        curves.push(r.accuracy);
        console.log(`round ${round} ${defense.padEnd(9)} ${engine.padEnd(5)}: updates ${r.seconds.toFixed(2)} s, wall ${seconds.toFixed(2)} s, held-out accuracy ${r.accuracy[r.accuracy.length - 1].toFixed(4)}`);
      }
      agree[defense] = (agree[defense] ?? true) && curves[0].every((a, e) => a === curves[1][e]);
    }
  }
  for (const [defense] of defenses) {
    const f = median(wall[`${defense} fused`]), t = median(wall[`${defense} tfjs`]);
    console.log(`${defense}: median wall seconds per training run: fused ${f.toFixed(2)}, tfjs ${t.toFixed(2)}; tfjs / fused ${(t / f).toFixed(1)}x; held-out accuracy equal every epoch: ${agree[defense] ? 'yes' : 'no'}`);
  }
  const rng = createRng(1);
  const g = new Float32Array(3600).map(() => rng.normal() * 1e-3);
  const time = (f: () => Float32Array, calls = 2000): number => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) f();
    return Number(process.hrtime.bigint() - t0) / 1e6 / calls;
  };
  const same = pruneArray(g, 0.3).every((v, j) => Object.is(v, pruneBySort(g, 0.3)[j]));
  const sel = median([1, 2, 3].map(() => time(() => pruneArray(g, 0.3))));
  const sorted = median([1, 2, 3].map(() => time(() => pruneBySort(g, 0.3), 500)));
  console.log(`pruneArray on 3,600 entries, ratio 0.3: ${sel.toFixed(3)} ms per call, sorting the indices ${sorted.toFixed(3)} ms (${(sorted / sel).toFixed(1)}x); the same entries: ${same ? 'yes' : 'no'}`);
}

main();
