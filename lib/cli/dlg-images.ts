/**
 * `npm run dlg -- --image FILE ...` and `--batch N ...`: DLG on one image or a batch (see lib/cli/dlg.ts).
 * Everything the flags say is checked, and every input read, before the attack starts.
 */
import { MODEL_NAMES, isModelName, makeModel } from '../models/index';
import { UsageError } from './args';
import type { Parsed } from './args';
import type { Mode } from './flags';
import { configFromFlags, presetOf } from './flags';
import { prepareOutDir } from './output';
import { jsonLine, runFields } from './report';
import { loadImage, resize, toPngBuffer } from '../data/image';
import { progressGrid } from '../report/grid';
import { gallery } from '../report/gallery';
import type { Img } from '../data/image';
import { loadDataset, DATASETS } from '../data';
import type { Dataset } from '../data';
import { makeCase, makeCaseFor, disposeCase } from '../cases/case';
import { dlg } from '../attacks/dlg';
import type { DlgResult } from '../attacks/dlg';
import { defaultPreset } from '../config';
import { parseDefense } from '../defenses';
import { stepEpsilon, STEP_DELTA } from '../defenses/step-privacy';
import type { NamedDefense } from '../defenses';
import { attackReport } from '../analysis/report';
import { batchImages, clip01 } from '../analysis/score';
import { matchImages } from '../analysis/match';
import { createRng } from '../rng';
import { progressReporter } from '../report/progress';

const CLASSES = 100;
const DEFAULT_SIZE = 32;
const MAX_SIZE = 512;

/** What the flags ask for, checked: nothing here has started any work yet. */
interface ImageRun {
  n: number;
  truths: Img[];
  labels: number[];
  source: string;
  notes: string[];
}

function loadFiles(files: string[], size: number, notes: string[]): Img[] {
  return files.map((f) => {
    try {
      return loadImage(f, { size, channels: 3, onResize: (note) => notes.push(note) });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  });
}

function readInputs(args: Parsed, mode: Mode): ImageRun {
  const files = (args.image as string[] | undefined) ?? [];
  const notes: string[] = [];
  const size = args.size as number | undefined;
  if (size !== undefined && (size < 2 || size > MAX_SIZE)) throw new UsageError(`--size must be in [2, ${MAX_SIZE}], got ${size}`);
  if (mode === 'image') {
    if (files.length > 1) throw new UsageError(`${files.length} --image files need --batch ${files.length}`);
    if (files.length === 0) throw new UsageError('--image FILE is required (a PNG or JPEG)');
    const label = args.label as number;
    if (label < 0 || label >= CLASSES) throw new UsageError(`--label must be in [0, ${CLASSES - 1}], got ${label}`);
    return { n: 1, truths: loadFiles(files, size ?? DEFAULT_SIZE, notes), labels: [label], source: files[0], notes };
  }
  const n = args.batch as number;
  if (n < 1) throw new UsageError(`--batch must be >= 1, got ${n}`);
  const dataset = args.dataset as string | undefined;
  if (dataset !== undefined && files.length > 0) throw new UsageError('give either --dataset or --image files, not both');
  if (dataset === undefined && files.length === 0) throw new UsageError('--batch N needs --dataset NAME or N --image files');
  if (files.length > 0 && files.length !== n) throw new UsageError(`--batch ${n} needs ${n} --image files, got ${files.length}`);
  const pick = args.pick as string;
  if (pick !== 'first' && pick !== 'random') throw new UsageError(`--pick must be 'first' or 'random', got '${pick}'`);
  if (files.length > 0 && args.pick !== 'first') throw new UsageError('--pick applies to --dataset');
  const given = typeof args.labels === 'string' ? parseLabels(args.labels, n) : undefined;
  if (dataset !== undefined) {
    if (!(dataset in DATASETS)) throw new UsageError(`--dataset: unknown dataset '${dataset}' (known: ${Object.keys(DATASETS).join(', ')})`);
    let d: Dataset;
    try {
      d = loadDataset(dataset, pick === 'first' ? { limit: n } : {});
    } catch (e) {
      throw new UsageError(`--dataset ${dataset}: ${(e as Error).message}`);
    }
    if (d.images.length < n) throw new UsageError(`--batch ${n}: dataset '${dataset}' has only ${d.images.length} images`);
    const picks = pick === 'first' ? Array.from({ length: n }, (_, i) => i) : choose(d.images.length, n, args.seed as number);
    let truths = picks.map((i) => d.images[i]);
    if (size !== undefined && (truths[0].height !== size || truths[0].width !== size)) {
      notes.push(`${dataset}: ${truths[0].width}x${truths[0].height} images resized to ${size}x${size}`);
      truths = truths.map((img) => resize(img, size, size));
    }
    return { n, truths, labels: given ?? picks.map((i) => d.labels[i]), source: `${dataset} images ${picks.join(',')}`, notes };
  }
  return { n, truths: loadFiles(files, size ?? DEFAULT_SIZE, notes), labels: given ?? Array.from({ length: n }, (_, i) => i % CLASSES), source: files.join(','), notes };
}

export function runImages(args: Parsed, mode: Mode): void {
  const n = mode === 'batch' ? (args.batch as number) : 1;
  const seed = args.seed as number;
  const preset = presetOf(args, defaultPreset(n));
  const config = configFromFlags(args, preset, { seed });
  if (mode === 'batch' && n > 1 && config.label === 'idlg') throw new UsageError(`--label-strategy idlg reads a single sample's label; use 'distinct' or 'count' for --batch ${n}`);
  let defense: NamedDefense;
  try {
    defense = parseDefense(args.defense as string);
  } catch (e) {
    throw new UsageError(`--defense: ${(e as Error).message}`);
  }
  const modelName = args.model as string;
  if (!isModelName(modelName)) throw new UsageError(`--model must be one of ${MODEL_NAMES.join(', ')}, got '${modelName}'`);
  const delta = (args.delta as number | undefined) ?? STEP_DELTA;
  if (!(delta > 0 && delta < 1)) throw new UsageError(`--delta must be in (0, 1), got ${delta}`);
  const privacy = stepEpsilon(defense.spec, delta);
  const out = typeof args.out === 'string' ? prepareOutDir(args.out, ['result.json', 'progress.png', 'reconstruction.png']) : null;
  const input = readInputs(args, mode);
  const quiet = args.json === true;
  if (!quiet) for (const note of input.notes) process.stderr.write(`note: ${note}\n`);

  // ---- the work: the client's case (defended gradient), the attack, the scores
  const [height, width, channels] = [input.truths[0].height, input.truths[0].width, input.truths[0].channels];
  const caseOptions = { images: input.truths, labels: input.labels, seed, numClasses: CLASSES, defense };
  const c = modelName === 'lenet' ? makeCase(caseOptions) : makeCaseFor(makeModel(modelName, { inputShape: [height, width, channels], numClasses: CLASSES, seed }), caseOptions);
  const progress = progressReporter('iteration', config.iterations, { quiet, every: config.snapshotEvery });
  let result: DlgResult;
  try {
    result = dlg(c.model, c.shared, { ...config, batchSize: n, onStep: (it, d) => progress(it, `gradient distance ${d.toExponential(3)}`) });
  } finally {
    disposeCase(c);
  }
  const report = attackReport(result, input.truths, input.labels);
  const settings = { model: modelName, seed, size: input.truths[0].height, preset, defense: defense.spec, epsilon: privacy.epsilon, epsilon_exact: privacy.exactEpsilon, delta, line_search: config.lbfgs.lineSearch, history_precision: config.lbfgs.historyPrecision, threads: config.threads, label_strategy: config.label, notes: input.notes, out: out?.dir ?? null };
  const line = mode === 'image'
    ? { image: input.source, mse: report.mse, psnr: report.psnr, ssim: report.ssim, recovered: report.recovered, label: report.labels[0], label_ok: report.labelOk, ...settings, ...runFields(report) }
    : {
      batch: n, source: input.source,
      mse: report.images.map((p) => p.mse), psnr: report.images.map((p) => p.psnr), ssim: report.images.map((p) => p.ssim),
      max_mse: report.mse, recovered: report.recovered, recovered_count: report.recoveredCount, assignment: report.images.map((p) => p.reconstruction),
      labels: report.labels, true_labels: report.trueLabels, label_accuracy: report.labelAccuracy, batch_update: config.batchUpdate,
      ...settings, ...runFields(report),
    };
  const json = jsonLine(line);
  process.stdout.write(json + '\n'); // the result first: a file that cannot be written loses nothing

  if (out !== null) {
    out.write('result.json', json + '\n');
    // every snapshot's dummies matched to the truth's order (clipped for display), the truth last
    const matched = (data: Float32Array) => {
      const recs = batchImages(result, data);
      const row = new Array<Img>(n);
      matchImages(recs, input.truths).cols.forEach((t, r) => { row[t] = clip01(recs[r]); });
      return row;
    };
    // progress.png: one row per image, the dummy at every snapshot captioned with its iteration, the truth last
    const frames = result.snapshots.map((s) => matched(s.data));
    const iterations = result.snapshots.map((s) => s.iteration);
    out.write('progress.png', toPngBuffer(progressGrid(input.truths.map((truth, i) => ({ frames: frames.map((f) => f[i]), iterations, truth, label: n > 1 ? `image ${i + 1}` : undefined })), { maxFrames: n > 1 ? 11 : undefined })));
    // reconstruction.png: the final reconstruction (a batch: each beside its truth, captioned with its MSE)
    const final = matched(result.data);
    out.write('reconstruction.png', toPngBuffer(n === 1 ? final[0] : gallery([...final.map((image, i) => ({ image, caption: `MSE ${report.images[i].mse.toExponential(1)}` })), ...input.truths.map((image) => ({ image, caption: 'truth' }))], { cols: n })));
  }
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
