/**
 * node dist/test/bench/per-example.js [--batch 32] [--rounds 5]
 *
 * Times per-example gradients of a minibatch of 8x8 digits on the digits LeNet (what one DP-SGD step
 * of lib/cases/train.ts computes): engine 'fused' (lib/engine/per-example.ts) and engine 'tfjs' (the
 * per-sample loop of parameterGradients), beside the batched gradient parameterGradients that
 * training without DP computes. Interleaved in one process, `rounds` times (the machine may be shared):
 * milliseconds per minibatch, min and median over the rounds.
 */
import { tf } from '../../lib/engine';
import { parseArgs, runMain, usage } from '../../lib/cli/args';
import type { FlagSpec } from '../../lib/cli/args';
import { digitsSplit, digitsLenet } from '../../lib/experiments/train-defended';
import { perExampleGradients } from '../../lib/models/per-example';
import { parameterGradients } from '../../lib/models/gradients';
import { stackImages } from '../../lib/cases/case';
import { oneHot } from '../../lib/models/nn';
import type { Tensor } from '@tensorflow/tfjs';

const SPEC: Record<string, FlagSpec> = {
  batch: { kind: 'int', help: 'minibatch size', default: 32 },
  rounds: { kind: 'int', help: 'interleaved rounds', default: 5 },
  help: { kind: 'boolean', help: 'show this help' },
};

function main(): void {
  const args = parseArgs(process.argv.slice(2), SPEC);
  if (args.help) {
    process.stdout.write(usage('node dist/test/bench/per-example.js', SPEC) + '\n');
    return;
  }
  const B = args.batch as number;
  const { train } = digitsSplit();
  const model = digitsLenet(1);
  const x = stackImages(train.images.slice(0, B));
  const y = oneHot(train.labels.slice(0, B), 10);
  const time = (f: () => Tensor[], n: number) => {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) tf.dispose(f());
    return Number(process.hrtime.bigint() - t) / 1e6 / n;
  };
  const variants: [string, () => Tensor[], number][] = [
    ["per-example, engine 'fused'", () => perExampleGradients(model, x, y, { engine: 'fused' }), 20],
    ["per-example, engine 'tfjs' (per-sample loop)", () => perExampleGradients(model, x, y, { engine: 'tfjs' }), 3],
    ['batched parameterGradients (no DP)', () => tf.tidy(() => parameterGradients(model, x, y)), 20],
  ];
  variants.forEach(([, f]) => time(f, 2)); // warm up
  const ms = variants.map(() => [] as number[]);
  for (let r = 0; r < (args.rounds as number); r++) variants.forEach(([, f, n], i) => ms[i].push(time(f, n)));
  const stat = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return { min: s[0], median: s[s.length >> 1] };
  };
  process.stdout.write(`${model.name}, batch ${B}, ${args.rounds} interleaved rounds: ms per minibatch (min / median)\n`);
  variants.forEach(([name], i) => {
    const s = stat(ms[i]);
    process.stdout.write(`  ${name.padEnd(46)} ${s.min.toFixed(2).padStart(8)} / ${s.median.toFixed(2).padStart(8)}\n`);
  });
  tf.dispose([x, y]);
}

runMain(main);
