/**
 * npm run dlg -- [--image FILE | --batch N (--dataset NAME | --image FILE ...) | --text "a sentence"] [options]
 *
 * One command, three modes:
 *   --image FILE            DLG on one image: a LeNet sized for the image (--size, default 32) computes the
 *                           gradient of the image with --label; the attacker reconstructs image and label.
 *   --batch N               N images from --dataset NAME (first N, or --pick random) or N --image files
 *                           (labels from --labels); per-image scores after matching reconstructions to truths.
 *   --text "a sentence"     DLG on a small BERT masked language model (decoded text, token accuracy).
 * Prints one JSON line (the result) on stdout; progress lines (N of total, time left) on stderr unless
 * --json. --out DIR is checked before any work; the JSON line is printed before any file is written,
 * and files are written atomically: result.json, progress.png (the dummy every --snapshot-every
 * iterations, labelled, the truth last) and reconstruction.png.
 * --preset default|paper|batch chooses the starting configuration (lib/config.ts PRESETS; --paper is
 * --preset paper); every configuration flag overrides one key of it. --defense SPEC (none,
 * gaussian:1e-3, laplacian:1e-2, fp16, int8, prune:0.3; '+' composes) is applied by the client to its
 * gradient, seeded from --seed, before the attacker sees it; the JSON line gives the (epsilon, delta) of that one
 * shared gradient (finite only under dp:C:SIGMA with SIGMA > 0; --delta, default 1e-5).
 * Bad input (a bad flag value, a flag that does not apply to the mode, a flag given twice, an unreadable
 * image, an unusable --out) prints one error line and exits with code 2 before any work starts.
 */
import { MODEL_NAMES } from '../models/index';
import { parseArgs, usage, runMain, givenFlags, UsageError } from './args';
import type { FlagSpec, Parsed } from './args';
import { CONFIG_FLAGS } from './flags';
import { knownDefenseForms } from '../defenses';
import { DATASETS } from '../data';
import { PRESET_NAMES } from '../config';
import { STEP_DELTA } from '../defenses/step-privacy';
import { runImages } from './dlg-images';
import { runText } from './dlg-text';

import type { Mode } from './flags';
const IMAGES: Mode[] = ['image', 'batch'];
const ALL: Mode[] = ['image', 'batch', 'text'];

interface CliFlag extends FlagSpec {
  /** The modes the flag applies to; elsewhere it is an error. */
  modes: Mode[];
  /** Said when the flag is given in a mode it does not apply to. */
  hint?: string;
}

const config = (name: string, modes: Mode[], hint?: string): CliFlag => ({ ...CONFIG_FLAGS[name], modes, hint });

/** Every flag of the command, with the modes it applies to. Defaults apply only where a flag applies. */
export const FLAGS: Record<string, CliFlag> = {
  image: { kind: 'strings', modes: IMAGES, help: 'PNG or JPEG file (resized to --size); with --batch N, N of them' },
  label: { kind: 'int', modes: ['image'], default: 0, help: 'true label of --image in [0, 99]', hint: 'with --batch give --labels' },
  size: { kind: 'int', modes: IMAGES, help: 'image side in pixels: --image files are resized to SIZE x SIZE (default 32), --dataset images when given; the LeNet follows the size' },
  model: { kind: 'string', modes: IMAGES, default: 'lenet', help: `the client's model: ${MODEL_NAMES.join(', ')} (lib/models; ResNets use --engine tfjs and cost seconds per evaluation)` },
  seed: { kind: 'int', modes: ALL, default: 1, help: 'seed of the model, the dummy and the defense (text: and the masking)' },
  preset: { kind: 'string', modes: IMAGES, help: `starting configuration: ${PRESET_NAMES.join(', ')} (lib/config.ts; default: 'default', 'batch' for --batch N > 1)` },
  paper: { kind: 'boolean', modes: IMAGES, help: 'the released code exactly (= --preset paper: no line search)' },
  iterations: { ...CONFIG_FLAGS.iterations, modes: ALL },
  'line-search': config('line-search', IMAGES),
  'history-precision': config('history-precision', IMAGES),
  'label-strategy': config('label-strategy', IMAGES),
  init: config('init', IMAGES),
  engine: config('engine', IMAGES),
  threads: config('threads', IMAGES),
  'snapshot-every': config('snapshot-every', IMAGES),
  defense: { kind: 'string', modes: IMAGES, default: 'none', help: `gradient defense of the client, seeded from --seed: ${knownDefenseForms()} ('+' composes)` },
  delta: { kind: 'number', modes: IMAGES, help: `delta of the (epsilon, delta) the JSON reports for a dp:C:SIGMA defense (default ${STEP_DELTA})` },
  out: { kind: 'string', modes: IMAGES, help: 'directory for result.json, progress.png and reconstruction.png (checked before the attack)' },
  batch: { kind: 'int', modes: ['batch'], help: 'attack a batch of N images (from --dataset, or N --image files); per-image scores after matching' },
  dataset: { kind: 'string', modes: ['batch'], help: `with --batch: take the images from a dataset (${Object.keys(DATASETS).join(', ')})`, hint: 'add --batch N (--batch 1 for one image)' },
  pick: { kind: 'string', modes: ['batch'], default: 'first', help: "with --dataset: 'first' N images, or 'random' (N distinct, chosen by --seed)" },
  labels: { kind: 'string', modes: ['batch'], help: "with --batch: comma-separated true labels, one per image (default: the dataset's, or 0..N-1 for --image files)", hint: 'one --image takes --label' },
  'batch-update': config('batch-update', ['batch']),
  text: { kind: 'string', modes: ['text'], help: "a sentence: DLG on text with a BERT masked LM (WordPiece tokens + [CLS]/[SEP] must fit the model's 32 positions)" },
  metric: { kind: 'string', modes: ['text'], default: 'cosine', help: "text: nearest-embedding decoding, 'cosine' or 'l2'" },
  optimizer: { kind: 'string', modes: ['text'], default: 'lbfgs', help: "text: 'lbfgs' (strong-Wolfe line search) or 'adam'" },
  'label-init': { kind: 'string', modes: ['text'], default: 'gradient', help: "text: dummy labels over the tokens read off the decoder-bias 'gradient' (default), or 'random' over the vocabulary (the paper's DLG)" },
  positions: { kind: 'string', modes: ['text'], default: 'gradient', help: "text: the masked positions and length are read off the 'gradient' (default; the attacker is handed nothing) or 'known' (handed over)" },
  json: { kind: 'boolean', modes: ALL, help: 'print only the JSON line (no progress on stderr)' },
  help: { kind: 'boolean', modes: ALL, help: 'show this help' },
};

const MODE_NAMES: Record<Mode, string> = { image: 'a single --image', batch: '--batch', text: '--text' };

/** The mode the flags ask for. */
export function modeOf(given: Set<string>): Mode {
  if (given.has('text')) return 'text';
  if (given.has('batch')) return 'batch';
  return 'image';
}

/** Parse and check the flags for their mode: flags of another mode are an error, defaults only where they apply. */
export function parseCommand(argv: string[]): { args: Parsed; mode: Mode; given: Set<string> } {
  const noDefaults = Object.fromEntries(Object.entries(FLAGS).map(([k, f]) => [k, { ...f, default: undefined }]));
  const args = parseArgs(argv, noDefaults);
  const given = givenFlags(argv);
  const mode = modeOf(given);
  if (given.has('text') && given.has('batch')) throw new UsageError('--text and --batch are different attacks: give one');
  for (const name of given) {
    const f = FLAGS[name];
    if (f && !f.modes.includes(mode)) {
      const where = f.modes.map((m) => MODE_NAMES[m]).join(' or ');
      // --text has its own small set of options: anything else is unknown there
      throw new UsageError(mode === 'text' ? `unknown option --${name} for --text (it applies to ${where})` : `--${name} does not apply to ${MODE_NAMES[mode]}${f.hint ? `; ${f.hint}` : ''}`);
    }
  }
  for (const [name, f] of Object.entries(FLAGS)) if (args[name] === undefined && f.default !== undefined && f.modes.includes(mode)) args[name] = f.default;
  return { args, mode, given };
}

async function main(): Promise<void> {
  const { args, mode } = parseCommand(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(usage('npm run dlg --', FLAGS) + '\n');
    return;
  }
  if (mode === 'text') return runText(args);
  return runImages(args, mode);
}

if (require.main === module) runMain(main);
