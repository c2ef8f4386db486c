/**
 * node dist/test/bench/figures.js [REPEATS]
 *
 * Times the figure renderers on inputs the size of a DLG run (300 iterations, 32x32x3 images), each
 * case run REPEATS times (default 15), interleaved, in one process; prints the median and the
 * minimum per case (the machine may be shared). Random images: PNG encoding time depends on the
 * content, so noise is the slow case.
 */
import { renderSvg, renderPanels, RECOVERED_LINE } from '../../lib/report/plot';
import type { Plot } from '../../lib/report/plot';
import { progressGrid } from '../../lib/report/grid';
import { gallery } from '../../lib/report/gallery';
import { makeGrid, toPngBuffer } from '../../lib/data/image';
import type { Img } from '../../lib/data/image';
import { createRng } from '../../lib/rng';

const repeats = Number(process.argv[2] ?? 15);
const rng = createRng(1);
const its = Array.from({ length: 301 }, (_, i) => i);
const traces: Plot[] = [0, 1, 2, 3].map((k) => ({ x: its, y: its.map((i) => Math.exp(-i / (20 + 10 * k))), name: `defense ${k}` }));
const img = (): Img => ({ height: 32, width: 32, channels: 3, data: Float32Array.from({ length: 32 * 32 * 3 }, () => rng.next()) });
const frames = Array.from({ length: 18 }, img);
const truth = img();

const cases: Record<string, () => unknown> = {
  'renderSvg, 4 traces x 301 points, log y, a reference line': () => renderSvg(traces, { yaxis: { type: 'log' }, refLines: [RECOVERED_LINE] }),
  'renderPanels, 2 such panels': () => renderPanels([{ traces, layout: { yaxis: { type: 'log' } } }, { traces, layout: { yaxis: { type: 'log' }, refLines: [RECOVERED_LINE] } }]),
  'progressGrid, 18 frames + truth (96 px tiles), PNG bytes': () => toPngBuffer(progressGrid({ frames, iterations: frames.map((_, i) => 10 * i), truth })),
  'makeGrid (before), 18 frames + truth at scale 2, PNG bytes': () => toPngBuffer(makeGrid([...frames, truth], { cols: 10, scale: 2 })),
  'gallery, 5 images with two-line captions, PNG bytes': () => toPngBuffer(gallery(frames.slice(0, 5).map((image, i) => ({ image, caption: `prune ${10 * i}%\nMSE 3.1e-2` })))),
};

const times: Record<string, number[]> = {};
for (let r = 0; r < repeats; r++) {
  for (const [name, run] of Object.entries(cases)) {
    const t0 = process.hrtime.bigint();
    run();
    (times[name] ??= []).push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
}
for (const [name, ms] of Object.entries(times)) {
  ms.sort((a, b) => a - b);
  console.log(`${name}: median ${ms[Math.floor(ms.length / 2)].toFixed(1)} ms, min ${ms[0].toFixed(1)} ms (${repeats} runs, interleaved)`);
}
