/**
 * `npm run dlg -- --batch N ...`: DLG on a batch of N images, from a dataset or from N --image files.
 *
 *   npm run dlg -- --batch 4 --dataset fashion-mnist --iterations 300 --batch-update round-robin
 *   npm run dlg -- --batch 2 --image a.png --image b.png --labels 3,7 --label-strategy count
 *
 * --dataset NAME (lib/data: fashion-mnist, digits, lfw, natural, ...) takes its first N images, or N
 * distinct images chosen by --seed with --pick random; images keep the dataset's shape (LeNet is sized
 * for it). --image files are resized to 32x32 RGB; their labels come from --labels (default 0..N-1).
 * The model has a 100-way head, as in the single-image attack. For N > 1, L-BFGS uses config.ts's
 * BATCH_TOLERANCES (torch's absolute tolerances stop batch runs early) unless --paper.
 * Reconstructions are matched to the truth by an optimal assignment (lib/match.ts) before scoring.
 * Prints one JSON line: per-image mse / psnr / ssim (in the truth's order, after matching), max_mse,
 * recovered, labels, true_labels, label_accuracy, assignment, iterations, evals, seconds, ...
 * --out DIR writes progress.png (one row per snapshot, every 10 iterations, matched; the truth last)
 * and reconstruction.png (the final batch above the truth).
 */
import * as path from 'path';
import { runFields, stepProgress } from './report';
import { UsageError } from './args';
import type { FlagSpec, Parsed } from './args';
import { loadImage, savePng, makeGrid } from '../data/image';
import type { Img } from '../data/image';
import { makeCase, disposeCase, defendCase } from '../cases/case';
import { dlg } from '../attacks/dlg';
import { labelAccuracy } from '../analysis/labels';
import { DEFAULT_DLG, PAPER_DLG, BATCH_TOLERANCES } from '../config';
import type { BatchUpdate, LabelStrategy } from '../config';
import { scoreBatch, batchImages, clip01 } from '../analysis/score';
import { matchImages } from '../analysis/match';
import { loadDataset, DATASETS } from '../data';
import { createRng } from '../rng';
import { parseDefense, canonicalDefense } from '../defenses';
import type { Defense } from '../defenses';

const CLASSES = 100;

/** Flags of batch mode, merged into the dlg command's spec. */
export const BATCH_SPEC: Record<string, FlagSpec> = {
  batch: { kind: 'int', help: 'attack a batch of N images (from --dataset, or N --image files); per-image MSE after matching' },
  dataset: { kind: 'string', help: `with --batch: take the images from a dataset (${Object.keys(DATASETS).join(', ')})` },
  pick: { kind: 'string', help: "with --dataset: 'first' N images, or 'random' (N distinct, chosen by --seed)", default: 'first' },
  labels: { kind: 'string', help: 'with --batch: comma-separated true labels, one per image (default: the dataset\'s, or 0..N-1 for --image files)' },
  'batch-update': { kind: 'string', help: "with --batch: 'joint' (whole batch per L-BFGS step) or 'round-robin' (one sample per step, the paper's)", default: 'joint' },
};

/** Run batch mode (args.batch is set). Bad arguments: UsageError. */
export function runBatch(args: Parsed): void {
  const n = args.batch as number;
  if (n < 1) throw new UsageError(`--batch must be >= 1, got ${n}`);
  const files = Array.isArray(args.image) ? args.image : typeof args.image === 'string' ? [args.image] : [];
  const dataset = args.dataset as string | undefined;
  if (dataset !== undefined && files.length > 0) throw new UsageError('give either --dataset or --image files, not both');
  if (dataset === undefined && files.length === 0) throw new UsageError('--batch N needs --dataset NAME or N --image files');
  if (files.length > 0 && files.length !== n) throw new UsageError(`--batch ${n} needs ${n} --image files, got ${files.length}`);
  const iterations = args.iterations as number;
  if (iterations < 1) throw new UsageError(`--iterations must be >= 1, got ${iterations}`);
  const lineSearch = args['line-search'] as string;
  if (lineSearch !== 'strong_wolfe' && lineSearch !== 'none') throw new UsageError(`--line-search must be 'strong_wolfe' or 'none', got '${lineSearch}'`);
  const labelStrategy = args['label-strategy'] as string;
  if (!['joint', 'idlg', 'distinct', 'count'].includes(labelStrategy)) {
    throw new UsageError(`--label-strategy must be 'joint', 'idlg', 'distinct' or 'count', got '${labelStrategy}'`);
  }
  if (labelStrategy === 'idlg' && n > 1) throw new UsageError(`--label-strategy idlg reads a single sample's label; use 'distinct' or 'count' for --batch ${n}`);
  const batchUpdate = args['batch-update'] as string;
  if (batchUpdate !== 'joint' && batchUpdate !== 'round-robin') throw new UsageError(`--batch-update must be 'joint' or 'round-robin', got '${batchUpdate}'`);
  const pick = args.pick as string;
  if (pick !== 'first' && pick !== 'random') throw new UsageError(`--pick must be 'first' or 'random', got '${pick}'`);
  const seed = args.seed as number;
  let defense: Defense;
  let defenseName: string;
  try {
    defenseName = canonicalDefense(args.defense as string);
    defense = parseDefense(args.defense as string);
  } catch (e) {
    throw new UsageError(`--defense: ${(e as Error).message}`);
  }

  let truths: Img[];
  let labels: number[];
  let source: string;
  if (dataset !== undefined) {
    if (!(dataset in DATASETS)) throw new UsageError(`--dataset: unknown dataset '${dataset}' (known: ${Object.keys(DATASETS).join(', ')})`);
    const d = loadDataset(dataset, pick === 'first' ? { limit: n } : {});
    if (d.images.length < n) throw new UsageError(`--batch ${n}: dataset '${dataset}' has only ${d.images.length} images`);
    const picks = pick === 'first' ? Array.from({ length: n }, (_, i) => i) : choose(d.images.length, n, seed);
    truths = picks.map((i) => d.images[i]);
    labels = picks.map((i) => d.labels[i]);
    source = `${dataset} images ${picks.join(',')}`;
  } else {
    truths = files.map((f) => loadImage(f, { size: 32, channels: 3 }));
    labels = Array.from({ length: n }, (_, i) => i % CLASSES);
    source = files.join(',');
  }
  if (typeof args.labels === 'string') labels = parseLabels(args.labels, n);

  const c = makeCase({ images: truths, labels, seed, numClasses: CLASSES });
  defendCase(c, defense, seed);
  const base = args.paper ? PAPER_DLG : DEFAULT_DLG;
  const result = dlg(c.model, c.shared, {
    ...base,
    iterations,
    seed,
    batchSize: n,
    label: labelStrategy as LabelStrategy,
    batchUpdate: batchUpdate as BatchUpdate,
    // batches: tolerances scaled down (config.ts BATCH_TOLERANCES), except with --paper (the released settings)
    lbfgs: { ...base.lbfgs, ...(args.paper || n === 1 ? {} : BATCH_TOLERANCES), lineSearch: args.paper ? 'none' : (lineSearch as 'none' | 'strong_wolfe') },
    onStep: stepProgress(args.json === true),
  });
  const s = scoreBatch(result, truths);
  if (typeof args.out === 'string') {
    const matched = (data: Float32Array) => {
      const recs = batchImages(result, data);
      const row = new Array<Img>(n);
      matchImages(recs, truths).cols.forEach((t, r) => { row[t] = clip01(recs[r]); });
      return row;
    };
    const frames = result.snapshots.slice(0, 30).flatMap((snap) => matched(snap.data));
    savePng(makeGrid([...frames, ...truths], { cols: n, scale: 2 }), path.join(args.out, 'progress.png'));
    savePng(makeGrid([...matched(result.data), ...truths], { cols: n, scale: 2 }), path.join(args.out, 'reconstruction.png'));
  }
  disposeCase(c);
  const line = {
    batch: n,
    source,
    mse: s.perImage.map((p) => p.mse),
    psnr: s.perImage.map((p) => p.psnr),
    ssim: s.perImage.map((p) => p.ssim),
    max_mse: s.maxMse,
    recovered: s.recovered,
    recovered_count: s.perImage.filter((p) => p.recovered).length,
    assignment: s.perImage.map((p) => p.reconstruction),
    labels: result.labels,
    true_labels: labels,
    label_accuracy: labelAccuracy(result.labels, labels),
    label_strategy: labelStrategy,
    batch_update: batchUpdate,
    ...runFields(result, { seed, defense: defenseName, lineSearch: args.paper ? 'none' : lineSearch }),
  };
  process.stdout.write(JSON.stringify(line) + '\n');
}

/** n distinct indices of [0, count), chosen by seed (partial Fisher-Yates). */
function choose(count: number, n: number, seed: number): number[] {
  const rng = createRng(seed);
  const idx = Array.from({ length: count }, (_, i) => i);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(rng.next() * (count - i));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, n);
}

function parseLabels(text: string, n: number): number[] {
  const parts = text.split(',').map((t) => t.trim());
  const labels = parts.map((t) => Number(t));
  if (parts.some((t) => t === '') || labels.some((l) => !Number.isInteger(l) || l < 0 || l >= CLASSES)) {
    throw new UsageError(`--labels must be comma-separated integers in [0, ${CLASSES - 1}], got '${text}'`);
  }
  if (labels.length !== n) throw new UsageError(`--labels gives ${labels.length} labels for --batch ${n}`);
  return labels;
}
