/**
 * Makes the shared-initial-state fixtures of test/reference.test.ts with the PyTorch reference:
 *
 *   npm run build && node dist/test/golden/make-start-fixtures.js [--python /tmp/torchvenv/bin/python]
 *
 *   test/golden/start-lenet16x2.safetensors   `dlg_torch.py state`: LeNet 16x16x3 -> 10 classes, batch 2
 *       (astronaut.png and chelsea.png at 16x16 as our loader makes them, labels 3 and 8), the released
 *       code's draws with torch.manual_seed(1234), and PyTorch's objective value and gradient there.
 *   test/golden/start-bert-tiny.safetensors    our side's state of a tiny BERT MLM (lib/reference/text-state.ts)
 *   test/golden/start-bert-tiny.check.safetensors   `bert_torch.py check`: PyTorch's objective and gradient there.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadImage } from '../../lib/data/image';
import { writeTruth } from '../../lib/reference/start-state';
import { writeTextStart } from '../../lib/reference/text-state';
import { findPython, probePython, runReference } from '../../lib/reference/python';
import { bert, disposeBert } from '../../lib/models/bert';
import { createRng } from '../../lib/rng';
import { parseArgs, runMain, UsageError } from '../../lib/cli/args';

const GOLDEN = path.join(__dirname, '../../../test/golden');
const NATURAL = path.join(__dirname, '../../../datasets/natural');

/** The tiny BERT step of the fixture: model options, token ids the model reads, masked positions and labels. */
export const TINY_BERT = {
  model: { vocabSize: 50, hidden: 8, layers: 1, heads: 2, intermediate: 16, maxPositions: 8, seed: 3 },
  inputIds: [1, 17, 4, 33, 9, 2],
  positions: [2, 4],
  labels: [21, 40],
  startSeed: 5,
};

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2), { python: { kind: 'string', help: 'Python with torch' } });
  const python = (a.python as string | undefined) ?? findPython();
  if (python === undefined || probePython(python) === null) throw new UsageError('no Python with torch (--python PATH)');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'start-fixtures-'));

  const names = ['astronaut.png', 'chelsea.png'];
  const images = names.map((n) => loadImage(path.join(NATURAL, n), { size: 16, channels: 3 }));
  const truth = path.join(tmp, 'truth.safetensors');
  writeTruth(truth, images, [3, 8], 10, names);
  runReference(python, 'dlg_torch.py', ['state', '--truth', truth, '--seed', '1234', '--out', path.join(GOLDEN, 'start-lenet16x2.safetensors')]);

  const t = TINY_BERT;
  const model = bert(t.model);
  const rng = createRng(t.startSeed);
  const start = Array.from({ length: t.inputIds.length * t.model.hidden + t.positions.length * t.model.vocabSize }, () => rng.normal());
  const emb = model.embed(t.inputIds);
  const state = path.join(GOLDEN, 'start-bert-tiny.safetensors');
  writeTextStart(state, model, emb, { seqLength: t.inputIds.length, positions: t.positions }, t.labels, start);
  emb.dispose();
  disposeBert(model);
  runReference(python, 'bert_torch.py', ['check', '--state', state, '--check', path.join(GOLDEN, 'start-bert-tiny.check.safetensors')]);
  fs.rmSync(tmp, { recursive: true });
  process.stderr.write(`written: test/golden/start-lenet16x2.safetensors, start-bert-tiny.safetensors, start-bert-tiny.check.safetensors (${probePython(python)?.torch})\n`);
}

if (require.main === module) runMain(main);
