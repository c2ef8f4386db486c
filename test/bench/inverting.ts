/**
 * node dist/test/bench/inverting.js [--digits 4] [--iterations 1000] [--rounds 2]
 *
 * Inverting Gradients on notebook 11's setting (digitsLenet, one held-out 8x8 digit, a freshly
 * initialised model, DEFAULT_INVERTING with `iterations` Adam steps), with engine 'auto' (the fused
 * cosine objective, lib/engine/fused-cosine.ts) and engine 'tfjs' (autodiff), alternating in one
 * process: for each round and digit both engines in turn. Prints one line per run (seconds, MSE,
 * final objective, label) and the medians: seconds per attack and their ratio, and the largest
 * relative difference of the MSEs between the two engines.
 */
import { makeCase, disposeCase } from '../../lib/cases/case';
import { invertingGradients, DEFAULT_INVERTING } from '../../lib/attacks/inverting';
import { score, imageAt } from '../../lib/analysis/score';
import { digitsSplit, digitsLenet } from '../../lib/experiments/train-defended';
import { engineInfo } from '../../lib/engine';
import { median } from '../../lib/analysis/stats';
import { positiveIntArg as arg } from './args';

function main(): void {
  const digits = arg('digits', 4);
  const iterations = arg('iterations', 1000);
  const rounds = arg('rounds', 2);
  const { test } = digitsSplit();
  console.log(`${engineInfo()}; ${digits} held-out digits, ${iterations} Adam steps, ${rounds} rounds, engines alternating`);
  const seconds: Record<'auto' | 'tfjs', number[]> = { auto: [], tfjs: [] };
  let worstMse = 0;
  for (let round = 1; round <= rounds; round++) {
    for (let i = 0; i < digits; i++) {
      const c = makeCase({ images: [test.images[i]], labels: [test.labels[i]], seed: 1 + i, model: digitsLenet(1 + i) });
      const mse: number[] = [];
      for (const engine of ['auto', 'tfjs'] as const) {
        const r = invertingGradients(c.model, c.shared, { ...DEFAULT_INVERTING, iterations, seed: 1000 + i, engine });
        const m = score(imageAt(r.data, r.shape, 0), c.images[0]).mse;
        mse.push(m);
        seconds[engine].push(r.seconds);
        console.log(`round ${round} digit ${i} ${engine.padEnd(4)}: ${r.seconds.toFixed(3)} s, MSE ${m.toExponential(3)}, objective ${r.distance.toExponential(3)}, label ${r.labels[0]} (truth ${c.labels[0]})`);
      }
      worstMse = Math.max(worstMse, Math.abs(mse[0] - mse[1]) / mse[1]);
      disposeCase(c);
    }
  }
  const a = median(seconds.auto), t = median(seconds.tfjs);
  console.log(`median seconds per attack: auto (fused) ${a.toFixed(3)}, tfjs ${t.toFixed(3)}; tfjs / fused ${(t / a).toFixed(1)}x; largest MSE difference between the engines ${(100 * worstMse).toFixed(2)}%`);
}

main();
