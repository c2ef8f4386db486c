/**
 * Our side of `npm run bench`, one case and one engine per process (bench.ts starts it; the
 * environment picks the engine: DLG_BACKEND, DLG_FAST_KERNELS). Prints one JSON line (SideResult
 * plus the objective at the start) and writes the objective's gradient at the start to --check-out.
 *
 *   node dist/test/bench/bench-ours.js lenet --state STATE --engine fused|tfjs|stock|native [--threads 1|2] [--attacks]
 *        [--iterations 300] [--line-search none,strong_wolfe] [--attack-repeats 1]
 *        [--blocks 5] [--block-seconds 0.5] [--warmup 10] --check-out FILE
 *   node dist/test/bench/bench-ours.js text --sentence S --seed 1 --state-out STATE
 *        [--blocks 5] [--block-seconds 0.5] [--warmup 3] --check-out FILE
 *
 * The per-evaluation timing calls the objective the attack uses (the public functions: fusedObjective,
 * or tfjs autodiff as dlg() builds it; textObjective with its default, fused engine) at the start point, in blocks sized from a
 * warm-up, exactly as the PyTorch reference times its closure. The attacks call dlg() from the shared
 * start with the released settings (preset 'paper': torch's L-BFGS defaults) and every step run (no early stop).
 */
import * as os from 'os';
import { tf, engineInfo, useEngine, backendName } from '../../lib/engine';
import { readStart } from '../../lib/reference/start-state';
import { writeTextStart } from '../../lib/reference/text-state';
import { writeSafetensors } from '../../lib/reference/safetensors';
import { makeCase } from '../../lib/cases/case';
import { makeTextCase } from '../../lib/cases/text';
import { dlg } from '../../lib/attacks/dlg';
import { textObjective } from '../../lib/attacks/text';
import { fusedObjective } from '../../lib/engine/fused';
import { flatObjective, gradientDistance } from '../../lib/attacks/objective';
import { parameterGradients } from '../../lib/models/gradients';
import { softmax } from '../../lib/models/nn';
import { PAPER_DLG } from '../../lib/config';
import { createRng } from '../../lib/rng';
import { createLbfgs } from '../../lib/attacks/optim/lbfgs';
import { parseArgs, runMain, UsageError } from '../../lib/cli/args';
import type { FlagSpec } from '../../lib/cli/args';
import { stats, LINE_SEARCHES } from './bench-cases';
import type { AttackRun, LineSearch, SideResult } from './bench-cases';
import type { Tensor2D, Tensor4D } from '@tensorflow/tfjs';

const SPEC: Record<string, FlagSpec> = {
  state: { kind: 'string', help: 'LeNet start state to load' },
  engine: { kind: 'string', help: 'fused, tfjs, stock or native', default: 'fused' },
  threads: { kind: 'int', help: 'fused engine: threads of one evaluation (1 or 2, lib/engine/wasm-threads.ts)', default: 1 },
  attacks: { kind: 'boolean', help: 'also run the attacks' },
  iterations: { kind: 'int', help: 'L-BFGS steps', default: 300 },
  'line-search': { kind: 'string', help: 'comma-separated', default: 'none,strong_wolfe' },
  'attack-repeats': { kind: 'int', help: 'timed attacks per line search', default: 1 },
  blocks: { kind: 'int', help: 'timed blocks', default: 5 },
  'block-seconds': { kind: 'number', help: 'target length of a block', default: 0.5 },
  warmup: { kind: 'int', help: 'untimed evaluations first', default: 10 },
  sentence: { kind: 'string', help: 'text case: the sentence' },
  seed: { kind: 'int', help: 'text case: seed of the model, the masking and the dummies', default: 1 },
  'state-out': { kind: 'string', help: 'text case: write the state here' },
  'check-out': { kind: 'string', help: 'write the objective gradient at the start here (F64, our order)' },
};

const now = () => Number(process.hrtime.bigint()) / 1e9;

/** Time `evaluate` at one point: warm-up, then `blocks` blocks sized to about `blockSeconds` each. */
function timeEvaluations(evaluate: () => void, warmup: number, blocks: number, blockSeconds: number): { ms: number[]; n: number } {
  const t0 = now();
  for (let i = 0; i < warmup; i++) evaluate();
  const n = Math.max(3, Math.round(blockSeconds / ((now() - t0) / warmup)));
  const ms: number[] = [];
  for (let b = 0; b < blocks; b++) {
    const t = now();
    for (let i = 0; i < n; i++) evaluate();
    ms.push(((now() - t) * 1000) / n);
  }
  return { ms, n };
}

function writeCheck(file: string | undefined, distance: number, grad: Float64Array): void {
  if (file === undefined) return;
  writeSafetensors(file, { tensors: { 'check.distance': { dtype: 'F64', shape: [1], data: Float64Array.of(distance) }, 'check.grad': { dtype: 'F64', shape: [grad.length], data: grad } }, metadata: { format: 'dlg-check/1', engine: engineInfo() } });
}

/** The objective at the first TRACE evaluations of the attack's L-BFGS (dlg() steps the same optimiser on the same objective). */
const TRACE = 100;
function probe(evaluate: (x: Float64Array) => number, grad: Float64Array, start: Float64Array, lineSearch: LineSearch, iterations: number): number[] {
  const trace: number[] = [];
  const opt = createLbfgs(Float64Array.from(start), { ...PAPER_DLG.lbfgs, lineSearch });
  for (let i = 0; i < iterations && trace.length < TRACE; i++) {
    opt.step((x) => {
      const loss = evaluate(x);
      if (trace.length < TRACE) trace.push(loss);
      return { loss, grad };
    });
  }
  return trace;
}

function lenetSide(args: Record<string, unknown>): SideResult & { startDistance: number } {
  const load0 = os.loadavg()[0];
  const engine = args.engine as string;
  if (engine === 'native' && backendName() !== 'tensorflow') throw new Error('native tfjs-node is not available here');
  const st = readStart(args.state as string);
  const c = makeCase({ images: st.images, labels: st.labels, seed: 0, model: st.model });
  const batchSize = st.labels.length;
  const [h, w, ch] = st.model.inputShape;
  const grad = new Float64Array(st.start.length);
  let evaluate: (x: Float64Array) => number;
  const threads = args.threads as number;
  if (threads !== 1 && threads !== 2) throw new UsageError(`--threads must be 1 or 2, got ${threads}`);
  if (threads !== 1 && engine !== 'fused') throw new UsageError('--threads 2 is for the fused engine');
  if (engine === 'fused') {
    const fused = fusedObjective(c.model, c.shared, { batchSize, label: 'joint', threads });
    if (fused === null) throw new Error('the fused objective does not take this model');
    evaluate = (x) => fused.evaluate(x, grad);
  } else {
    // tfjs autodiff, as dlg() builds it with engine 'tfjs'
    const objective = (xd: Tensor4D, yd?: Tensor2D) => gradientDistance(parameterGradients(c.model, xd, softmax(yd as Tensor2D)), c.shared);
    evaluate = flatObjective(objective, [batchSize, h, w, ch], c.model.numClasses, grad);
  }
  const x = Float64Array.from(st.start);
  const startDistance = evaluate(x);
  writeCheck(args['check-out'] as string | undefined, startDistance, grad);
  const tensors0 = tf.memory().numTensors;
  const { ms, n } = timeEvaluations(() => evaluate(x), args.warmup as number, args.blocks as number, args['block-seconds'] as number);
  if (tf.memory().numTensors !== tensors0) throw new Error(`tensor leak: ${tf.memory().numTensors - tensors0} tensors per ${n * (args.blocks as number)} evaluations`);
  const attacks: AttackRun[] = [];
  if (args.attacks) {
    const iterations = args.iterations as number;
    for (const lineSearch of (args['line-search'] as string).split(',').filter((s) => s !== '') as LineSearch[]) {
      const seconds: number[] = [];
      let run: AttackRun | undefined;
      for (let r = 0; r < (args['attack-repeats'] as number); r++) {
        const evalsAtStep: (number | null)[] = new Array(iterations).fill(null);
        const t = now();
        const res = dlg(c.model, c.shared, {
          preset: 'paper',
          engine: engine === 'fused' ? 'auto' : 'tfjs',
          threads,
          iterations,
          patience: iterations + 1, // every step runs, as in the reference (no early stop)
          batchSize,
          lbfgs: { lineSearch },
          start: st.start,
          // onStep(i) comes once step i + 1 has run (its first evaluation measured the distance after i steps)
          onStep: (i, _d, evals) => {
            if (i < iterations) evalsAtStep[i] = evals;
          },
        });
        seconds.push(now() - t);
        let se = 0;
        const truth = st.images.flatMap((img) => Array.from(img.data));
        for (let i = 0; i < truth.length; i++) se += (res.data[i] - truth[i]) ** 2;
        run = { lineSearch, seconds: stats(seconds), evals: res.evals, iterations: res.iterations, distance: res.distance, mse: se / truth.length, losses: res.losses, evalsAtStep };
      }
      (run as AttackRun).evalLosses = probe(evaluate, grad, st.start, lineSearch, iterations);
      attacks.push(run as AttackRun);
    }
  }
  return { side: `ours (${engine}${threads === 2 ? ', 2 threads' : ''})`, startDistance, msPerEval: stats(ms), evalsPerBlock: n, attacks, peakRssMB: process.resourceUsage().maxRSS / 1024, load: [load0, os.loadavg()[0]], note: engine === 'fused' ? 'fused objective, no tfjs ops per evaluation' : engineInfo() };
}

function textSide(args: Record<string, unknown>): SideResult & { startDistance: number } {
  const load0 = os.loadavg()[0];
  if (typeof args.sentence !== 'string' || typeof args['state-out'] !== 'string') throw new UsageError('text needs --sentence and --state-out');
  useEngine();
  const seed = args.seed as number;
  const tc = makeTextCase(args.sentence, { seed });
  const { hidden, vocabSize } = tc.model.config;
  const size = tc.shape.seqLength * hidden + tc.shape.positions.length * vocabSize;
  // textDlg's start: x0 ~ N(0, 1) from the seed (labelInit 'random')
  const rng = createRng(seed);
  const x = new Float64Array(size);
  for (let i = 0; i < size; i++) x[i] = rng.normal();
  const truth = tc.model.embed(tc.masked.inputIds);
  writeTextStart(args['state-out'], tc.model, truth, tc.shape, tc.masked.labels, x);
  truth.dispose();
  const x32 = Float64Array.from(Float32Array.from(x)); // the values the file holds (and textObjective reads)
  const objective = textObjective(tc.model, tc.shared, tc.shape);
  const grad = new Float64Array(size);
  const startDistance = objective(x32, grad);
  writeCheck(args['check-out'] as string | undefined, startDistance, grad);
  const tensors0 = tf.memory().numTensors;
  const { ms, n } = timeEvaluations(() => objective(x32, grad), args.warmup as number, args.blocks as number, args['block-seconds'] as number);
  if (tf.memory().numTensors !== tensors0) throw new Error(`tensor leak in the text objective`);
  return { side: 'ours (textObjective, fused engine)', startDistance, msPerEval: stats(ms), evalsPerBlock: n, attacks: [], peakRssMB: process.resourceUsage().maxRSS / 1024, load: [load0, os.loadavg()[0]], note: engineInfo() };
}

async function main(): Promise<void> {
  const [kind, ...rest] = process.argv.slice(2);
  const args = parseArgs(rest, SPEC);
  for (const ls of (args['line-search'] as string).split(',')) {
    if (ls !== '' && !(LINE_SEARCHES as readonly string[]).includes(ls)) throw new UsageError(`unknown line search '${ls}'`);
  }
  let out;
  if (kind === 'lenet') {
    if (typeof args.state !== 'string') throw new UsageError('lenet needs --state');
    out = lenetSide(args);
  } else if (kind === 'text') out = textSide(args);
  else throw new UsageError(`first argument: 'lenet' or 'text', got '${kind}'`);
  process.stdout.write(JSON.stringify(out) + '\n');
}

runMain(main);
