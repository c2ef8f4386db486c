/**
 * node dist/test/bench/text.js [--evals 10] [--repeats 5] [--sentence 0] [--seed 1]
 *
 * Time per evaluation (value + gradient with respect to the dummy embeddings and the dummy label
 * logits) of the BERT-MLM attack objective on a paper sentence (SMALL_BERT, 30,522 tokens), A/B in
 * one process, interleaved: block k runs `evals` evaluations of each engine in turn, `repeats` blocks.
 *   autodiff       tfjs second-order autodiff (the objective of lib/attacks/text.ts before the fused engine)
 *   fused          lib/engine/bert-fused.ts, same x = [E', Y' over the vocabulary]
 *   fused-read     fused with the labels over the tokens read off the decoder-bias gradient (labelSpace 'read')
 * Prints CPU and wall milliseconds per evaluation (median and min over blocks) and the ratios of the
 * medians, one JSON line per engine; the machine may be shared: CPU time is the steadier measure.
 */
import { makeTextCase, disposeTextCase } from '../../lib/cases/text';
import { textObjective } from '../../lib/attacks/text-objective';
import type { TextObjective } from '../../lib/attacks/text-objective';
import { readLabels } from '../../lib/attacks/text-leaks';
import { PAPER_SENTENCES } from '../../lib/experiments/text-sentences';
import { engineInfo } from '../../lib/engine';
import { createRng } from '../../lib/rng';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function main(): void {
  const evals = arg('evals', 10);
  const repeats = arg('repeats', 5);
  const sentence = arg('sentence', 0);
  const seed = arg('seed', 1);
  const c = makeTextCase(PAPER_SENTENCES[sentence], { seed });
  const labels = [...new Set(readLabels(c.model, c.shared, c.shape.positions.length).labels)];
  const engines: [string, TextObjective][] = [
    ['autodiff', textObjective(c.model, c.shared, c.shape, { engine: 'autodiff' })],
    ['fused', textObjective(c.model, c.shared, c.shape, { engine: 'fused' })],
    ['fused-read', textObjective(c.model, c.shared, c.shape, { engine: 'fused', labelSupport: labels })],
  ];
  const stats = new Map<string, { cpu: number[]; wall: number[] }>(engines.map(([name]) => [name, { cpu: [], wall: [] }]));
  const inputs = engines.map(([, f]) => {
    const rng = createRng(seed);
    return { x: Float64Array.from({ length: f.size }, () => rng.normal()), g: new Float64Array(f.size) };
  });
  engines.forEach(([, f], i) => f(inputs[i].x, inputs[i].g)); // warm-up (JIT, first allocations)
  for (let r = 0; r < repeats; r++) {
    engines.forEach(([name, f], i) => {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (let k = 0; k < evals; k++) f(inputs[i].x, inputs[i].g);
      const wall = (performance.now() - t0) / evals;
      const cu = process.cpuUsage(c0);
      const s = stats.get(name)!;
      s.cpu.push((cu.user + cu.system) / 1000 / evals);
      s.wall.push(wall);
    });
  }
  const base = stats.get('autodiff')!;
  for (const [name] of engines) {
    const s = stats.get(name)!;
    process.stdout.write(
      JSON.stringify({
        engine: name,
        cpuMsMedian: +median(s.cpu).toFixed(1),
        cpuMsMin: +Math.min(...s.cpu).toFixed(1),
        wallMsMedian: +median(s.wall).toFixed(1),
        wallMsMin: +Math.min(...s.wall).toFixed(1),
        speedupCpu: +(median(base.cpu) / median(s.cpu)).toFixed(2),
        speedupWall: +(median(base.wall) / median(s.wall)).toFixed(2),
        evals,
        repeats,
        sentence,
        tokens: c.shape.seqLength,
        masked: c.shape.positions.length,
        backend: engineInfo(),
      }) + '\n',
    );
  }
  engines.forEach(([, f]) => f.dispose());
  disposeTextCase(c);
}

main();
