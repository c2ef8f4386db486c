/**
 * npm run dlg -- --image FILE.png --label 7 --iterations 300 --seed 1 [--defense SPEC] [--out DIR] [--json]
 *
 * Runs DLG on one image (resized to 32x32 RGB): a LeNet initialised from --seed computes the
 * gradient of the image with --label, the attacker reconstructs image and label from that gradient.
 * Prints one JSON line: mse, psnr, ssim, label, label_ok, iterations, evals, seconds, backend, ...
 * --out DIR writes progress.png (the dummy every 10 iterations, ground truth last) and
 * reconstruction.png. --defense SPEC (gaussian:1e-3, laplacian:1e-2, fp16, int8, prune:0.3, none;
 * '+' composes) is applied by the client to its gradient, seeded from --seed, before the attacker
 * sees it; the JSON line names it in `defense`.
 * Bad arguments (a bad --defense spec too) or an unreadable image: one error line, exit code 2.
 * --batch N (N images from --dataset NAME or N --image files; per-image MSE after matching): lib/cli/dlg-batch.ts.
 * --text "a sentence" (DLG on a BERT masked language model; decoded text and token accuracy): lib/cli/dlg-text.ts.
 */
import * as path from 'path';
import { runFields, stepProgress } from './report';
import { parseArgs, usage, runMain, UsageError } from './args';
import type { FlagSpec } from './args';
import { loadImage, savePng, makeGrid } from '../data/image';
import { makeCase, disposeCase, defendCase } from '../cases/case';
import { dlg } from '../attacks/dlg';
import { DEFAULT_DLG, PAPER_DLG } from '../config';
import { score, imageAt, clip01 } from '../analysis/score';
import { parseDefense, canonicalDefense, knownDefenseForms } from '../defenses';
import type { Defense } from '../defenses';
import { BATCH_SPEC, runBatch } from './dlg-batch';
import { mainText } from './dlg-text';

const SPEC: Record<string, FlagSpec> = {
  image: { kind: 'strings', help: 'PNG or JPEG file (resized to 32x32 RGB); with --batch N, N of them' },
  label: { kind: 'int', help: 'true label in [0, 99]', default: 0 },
  iterations: { kind: 'int', help: 'L-BFGS steps', default: DEFAULT_DLG.iterations },
  seed: { kind: 'int', help: 'seed of the model and of the dummy initialisation', default: 1 },
  'line-search': { kind: 'string', help: "'strong_wolfe' (toolkit default) or 'none' (the original code)", default: 'strong_wolfe' },
  'label-strategy': { kind: 'string', help: "'joint' (DLG) or 'idlg' (label read off the gradient first)", default: 'joint' },
  paper: { kind: 'boolean', help: 'exact settings of the released code (no line search)' },
  defense: { kind: 'string', help: `gradient defense of the client, seeded from --seed: ${knownDefenseForms()} ('+' composes)`, default: 'none' },
  out: { kind: 'string', help: 'directory for progress.png and reconstruction.png' },
  json: { kind: 'boolean', help: 'print only the JSON line (no progress on stderr)' },
  help: { kind: 'boolean', help: 'show this help' },
  ...BATCH_SPEC,
  text: { kind: 'string', help: 'a sentence: DLG on text with a BERT masked LM instead (lib/cli/dlg-text.ts: --text S [--iterations --seed --metric --optimizer --json])' },
};

function main(): void {
  const argv = process.argv.slice(2);
  if (argv.some((a) => a === '--text' || a.startsWith('--text='))) return mainText(argv); // lib/cli/dlg-text.ts
  const args = parseArgs(argv, SPEC);
  if (args.help) {
    process.stdout.write(usage('npm run dlg --', SPEC) + '\n');
    return;
  }
  if (args.batch !== undefined) return runBatch(args); // lib/cli/dlg-batch.ts
  if (Array.isArray(args.image)) {
    if (args.image.length > 1) throw new UsageError(`${args.image.length} --image files need --batch ${args.image.length}`);
    args.image = args.image[0];
  }
  if (typeof args.image !== 'string') throw new UsageError('--image FILE is required (a PNG or JPEG)');
  const label = args.label as number;
  if (label < 0 || label > 99) throw new UsageError(`--label must be in [0, 99], got ${label}`);
  const iterations = args.iterations as number;
  if (iterations < 1) throw new UsageError(`--iterations must be >= 1, got ${iterations}`);
  const lineSearch = args['line-search'] as string;
  if (lineSearch !== 'strong_wolfe' && lineSearch !== 'none') throw new UsageError(`--line-search must be 'strong_wolfe' or 'none', got '${lineSearch}'`);
  const labelStrategy = args['label-strategy'] as string;
  if (labelStrategy !== 'joint' && labelStrategy !== 'idlg') throw new UsageError(`--label-strategy must be 'joint' or 'idlg', got '${labelStrategy}'`);
  const seed = args.seed as number;
  let defense: Defense;
  let defenseName: string;
  try {
    defenseName = canonicalDefense(args.defense as string);
    defense = parseDefense(args.defense as string);
  } catch (e) {
    throw new UsageError(`--defense: ${(e as Error).message}`);
  }

  const truth = loadImage(args.image, { size: 32, channels: 3 });
  const c = makeCase({ images: [truth], labels: [label], seed });
  defendCase(c, defense, seed);
  const base = args.paper ? PAPER_DLG : DEFAULT_DLG;
  const result = dlg(c.model, c.shared, {
    ...base,
    iterations,
    seed,
    label: labelStrategy,
    lbfgs: { ...base.lbfgs, lineSearch: args.paper ? 'none' : lineSearch },
    onStep: stepProgress(args.json === true),
  });
  const reconstruction = imageAt(result.data, result.shape, 0);
  const s = score(reconstruction, truth);
  if (typeof args.out === 'string') {
    const frames = result.snapshots.map((snap) => clip01(imageAt(snap.data, result.shape, 0)));
    savePng(makeGrid([...frames, truth], { cols: 10, scale: 2 }), path.join(args.out, 'progress.png'));
    savePng(clip01(reconstruction), path.join(args.out, 'reconstruction.png'));
  }
  disposeCase(c);
  const line = {
    image: args.image,
    mse: s.mse,
    psnr: s.psnr,
    ssim: s.ssim,
    recovered: s.recovered,
    label: result.labels[0],
    label_ok: result.labels[0] === label,
    ...runFields(result, { seed, defense: defenseName, lineSearch: args.paper ? 'none' : lineSearch }),
  };
  process.stdout.write(JSON.stringify(line) + '\n');
}

runMain(main);
