/**
 * Example figures from real DLG runs, for looking at what lib/report draws (and as a template for
 * the CLIs and notebooks):
 *
 *   node dist/test/examples/figures.js [--quick] [OUT]      (OUT defaults to out/figures)
 *
 * Runs DLG (DEFAULT_DLG, LeNet, seed 1) on datasets/natural/astronaut.png, label 7, without a
 * defense and against three defenses, and on the first 4 Fashion-MNIST images as one batch; writes
 *   progress.png          the dummy every 10 iterations, captioned, a gap, then the truth
 *   progress-every-30.png the same, one row of at most 11 frames (the README's hero image)
 *   curves.svg            gradient distance | MSE vs iteration (panels), the recovery threshold drawn
 *   defenses.png          one row per defense, its iterations under each tile, the truth last
 *   gallery.png           the truth and each defense's final reconstruction with its MSE
 *   mse-bars.svg          final MSE per defense, a bar chart on a log axis with the threshold
 *   batch.png             a batch of 4 Fashion-MNIST images: one row per image
 *   summary.json          the numbers shown in the figures
 * --quick: 40 iterations per run (a smoke test of the plumbing; the pictures stay noise).
 * About 5 minutes on one core for the full version; nothing runs in parallel.
 */
import * as fs from 'fs';
import * as path from 'path';
import { loadImage, savePng } from '../../lib/data/image';
import type { Img } from '../../lib/data/image';
import { makeCase, disposeCase } from '../../lib/cases/case';
import { dlg } from '../../lib/attacks/dlg';
import type { DlgResult } from '../../lib/attacks/dlg';
import { DEFAULT_DLG, BATCH_TOLERANCES } from '../../lib/config';
import { imageAt, clip01, score, mseCurve, batchImages } from '../../lib/analysis/score';
import { matchImages } from '../../lib/analysis/match';
import { loadDataset } from '../../lib/data';
import { progressGrid } from '../../lib/report/grid';
import { progressRow } from '../../lib/report/progress-row';
import { gallery } from '../../lib/report/gallery';
import { renderPanels, renderSvg, RECOVERED_LINE } from '../../lib/report/plot';
import type { Plot } from '../../lib/report/plot';

const ROOT = path.join(__dirname, '../../..');
const photo = (name: string) => loadImage(path.join(ROOT, 'datasets/natural', `${name}.png`), { size: 32, channels: 3 });

/** A defense spec and how the figures name it. */
const DEFENSES: [string, string][] = [['none', 'none'], ['prune:0.1', 'prune 10%'], ['prune:0.5', 'prune 50%'], ['gaussian:1e-2', 'gaussian 1e-2']];

function attack(images: Img[], labels: number[], defense: string, iterations: number): DlgResult {
  const c = makeCase({ images, labels, seed: 1, defense });
  try {
    const batch = images.length > 1;
    return dlg(c.model, c.shared, {
      ...DEFAULT_DLG,
      iterations,
      seed: 1,
      // batches: the CLI's settings (joint labels, BATCH_TOLERANCES)
      ...(batch ? { batchSize: images.length, lbfgs: { ...DEFAULT_DLG.lbfgs, ...BATCH_TOLERANCES } } : {}),
    });
  } finally {
    disposeCase(c);
  }
}

function main(): void {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const out = path.resolve(args.find((a) => !a.startsWith('--')) ?? path.join(ROOT, 'out/figures'));
  const iterations = quick ? 40 : 300;
  fs.mkdirSync(out, { recursive: true });
  const truth = photo('astronaut');

  const runs = DEFENSES.map(([spec, name]) => {
    const t0 = Date.now();
    const result = attack([truth], [7], spec, iterations);
    const s = score(imageAt(result.data, result.shape, 0), truth);
    console.log(`${name}: ${result.status} after ${result.iterations} iterations, MSE ${s.mse.toExponential(2)} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    return { spec, name, result, mse: s.mse };
  });
  const plain = runs[0].result;

  savePng(progressGrid(progressRow(plain, { truth })), path.join(out, 'progress.png'));
  const last = plain.snapshots[plain.snapshots.length - 1];
  const every30 = { ...plain, snapshots: plain.snapshots.filter((s) => s.iteration % 30 === 0 || s === last) };
  savePng(progressGrid(progressRow(every30, { truth }), { cols: 11 }), path.join(out, 'progress-every-30.png'));

  const distance: Plot[] = runs.map((r) => ({ x: r.result.losses.map((_, i) => i), y: r.result.losses, name: r.name }));
  const mse: Plot[] = runs.map((r) => {
    const curve = mseCurve(r.result, truth);
    return { x: curve.map((p) => p.iteration), y: curve.map((p) => p.mse), name: r.name };
  });
  fs.writeFileSync(path.join(out, 'curves.svg'), renderPanels([
    { traces: distance, layout: { title: 'gradient distance', xaxis: { title: 'L-BFGS iteration' }, yaxis: { type: 'log', title: 'distance to the shared gradient' } } },
    { traces: mse, layout: { title: 'MSE vs truth', xaxis: { title: 'L-BFGS iteration' }, yaxis: { type: 'log', title: 'MSE' }, refLines: [RECOVERED_LINE] } },
  ], { title: 'DLG on a 32x32 photo against defended gradients' }));

  savePng(progressGrid(runs.map((r) => progressRow(r.result, { truth, label: r.name })), { maxFrames: 7 }), path.join(out, 'defenses.png'));
  savePng(gallery([
    { image: truth, caption: 'truth' },
    ...runs.map((r) => ({ image: clip01(imageAt(r.result.data, r.result.shape, 0)), caption: `${r.name}\nMSE ${r.mse.toExponential(1)}` })),
  ], { gapBefore: [1], title: `DLG against defenses, at most ${iterations} iterations` }), path.join(out, 'gallery.png'));
  fs.writeFileSync(path.join(out, 'mse-bars.svg'), renderSvg(
    [{ type: 'bar', x: runs.map((r) => r.name), y: runs.map((r) => r.mse), name: 'final MSE' }],
    { title: 'Final MSE per defense', yaxis: { type: 'log', title: 'MSE vs truth' }, refLines: [RECOVERED_LINE] },
  ));

  // The README's batch example: the first 4 Fashion-MNIST images, their labels from the dataset.
  const fashion = loadDataset('fashion-mnist', { limit: 4 });
  const truths = fashion.images.slice(0, 4);
  const t0 = Date.now();
  const batch = attack(truths, fashion.labels.slice(0, 4), 'none', iterations);
  console.log(`batch of 4: ${batch.status} after ${batch.iterations} iterations (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  // Reconstructions come in any order: match the final ones to the truths by MSE.
  const order = matchImages(batchImages(batch, batch.data), truths).cols; // order[r] = truth of reconstruction r
  savePng(progressGrid(truths.map((t, i) => progressRow(batch, { index: order.indexOf(i), truth: t, label: `image ${i + 1}` })), { maxFrames: 8 }), path.join(out, 'batch.png'));

  const batchMse = matchImages(batchImages(batch, batch.data), truths).mse;
  const summary = {
    iterations,
    runs: runs.map((r) => ({ defense: r.spec, status: r.result.status, iterationsRun: r.result.iterations, mse: r.mse })),
    batch: { status: batch.status, iterationsRun: batch.iterations, mse: batchMse },
  };
  fs.writeFileSync(path.join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  console.log(`figures written to ${out}`);
}

main();
