/**
 * Micro-benchmark of one evaluation of the fused DLG objective (lib/engine/fused.ts: forward,
 * parameter gradient, gradient distance, second-order backward to the dummy image and label) of the
 * released code's LeNet, 100 classes, on the wasm SIMD kernels and on the previous JS kernels, A/B in
 * the same process, and optionally PyTorch's closure (test/bench/fused_torch.py) in between.
 *
 *   node dist/test/bench/fused.js [--shapes 32x1,64x1,32x8] [--ms 300] [--repeats 5]
 *                                 [--python /tmp/torchvenv/bin/python] [--torch-threads 2]
 *
 * Shapes are SIZExBATCH (SIZE x SIZE x 3 images). For every shape, `repeats` rounds of: a block of
 * evaluations on the JS kernels, a block on the wasm kernels (each at least `ms` long), and, with
 * --python, one PyTorch process timing a block of the same length. Reported: the median over rounds
 * of the wall-clock ms per evaluation (and of the process CPU ms, which a shared machine disturbs
 * less), JS / wasm, and wasm / PyTorch. Both objectives are evaluated at the same point and their
 * values are printed side by side.
 */
import { spawnSync } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import { tf, backendInfo } from '../../lib/engine';
import { lenet } from '../../lib/models/lenet';
import { parameterGradients } from '../../lib/models/gradients';
import { oneHot } from '../../lib/models/nn';
import { disposeModel } from '../../lib/models/model';
import { fusedObjective } from '../../lib/engine/fused';
import type { FusedObjective } from '../../lib/engine/fused';
import { createRng, uniformArray } from '../../lib/rng';
import { median } from '../../lib/analysis/stats';
import type { Tensor4D } from '@tensorflow/tfjs';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

/** A block of evaluations lasting at least minMs: [wall ms, CPU ms] per evaluation. */
function block(f: FusedObjective, x: Float64Array, grad: Float64Array, minMs: number): [number, number] {
  let n = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let t1 = t0;
  while (t1 - t0 < minMs || n < 3) {
    f.evaluate(x, grad);
    n++;
    t1 = performance.now();
  }
  const c = process.cpuUsage(c0);
  return [(t1 - t0) / n, (c.user + c.system) / 1000 / n];
}

function torchBlock(python: string, size: number, batch: number, evals: number, threads: number): number | null {
  const script = path.join(__dirname, '../../../test/bench/fused_torch.py');
  const r = spawnSync(python, [script, '--size', String(size), '--batch', String(batch), '--evals', String(evals), '--repeats', '1', '--threads', String(threads)], { encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(`PyTorch failed: ${r.stderr.trim().split('\n').pop()}\n`);
    return null;
  }
  return JSON.parse(r.stdout.trim().split('\n').pop() as string).msPerEvalAll[0] as number;
}

function main(): void {
  const shapes = arg('--shapes', '32x1,64x1,32x8').split(',').map((s) => s.split('x').map(Number) as [number, number]);
  const minMs = Number(arg('--ms', '300'));
  const repeats = Number(arg('--repeats', '5'));
  const python = arg('--python', '');
  const torchThreads = Number(arg('--torch-threads', '2'));
  for (const [size, batch] of shapes) {
    if (!(Number.isInteger(size) && size >= 5 && Number.isInteger(batch) && batch >= 1)) {
      process.stderr.write(`bad shape ${size}x${batch}: expected SIZExBATCH, e.g. 32x1\n`);
      process.exit(2);
    }
  }
  console.log(`LeNet (sigmoid, 100 classes), one evaluation of the fused DLG objective; ${backendInfo()}; node ${process.version}; ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}`);
  const rows: string[][] = [];
  for (const [size, batch] of shapes) {
    const model = lenet({ inputShape: [size, size, 3], numClasses: 100, seed: 1234 });
    const rng = createRng(1);
    const images = tf.tensor4d(uniformArray(rng, batch * size * size * 3, 0, 1), [batch, size, size, 3]) as Tensor4D;
    const labels = Array.from({ length: batch }, (_, i) => (7 * i + 3) % 100);
    const shared = tf.tidy(() => parameterGradients(model, images, oneHot(labels, 100)));
    const js = fusedObjective(model, shared, { batchSize: batch, label: 'joint', kernels: 'js' }) as FusedObjective;
    const wasm = fusedObjective(model, shared, { batchSize: batch, label: 'joint', kernels: 'wasm' }) as FusedObjective;
    const x = new Float64Array(js.size);
    for (let i = 0; i < x.length; i++) x[i] = i < batch * size * size * 3 ? rng.next() : rng.normal();
    const grad = new Float64Array(js.size);
    const values = [js.evaluate(x, grad), wasm.evaluate(x, grad)];
    block(js, x, grad, minMs / 2); // warm-up
    block(wasm, x, grad, minMs / 2);
    const t = { js: [] as number[], jsCpu: [] as number[], wasm: [] as number[], wasmCpu: [] as number[], torch: [] as number[] };
    for (let r = 0; r < repeats; r++) {
      const [a, ac] = block(js, x, grad, minMs);
      const [b, bc] = block(wasm, x, grad, minMs);
      t.js.push(a);
      t.jsCpu.push(ac);
      t.wasm.push(b);
      t.wasmCpu.push(bc);
      if (python) {
        const ms = torchBlock(python, size, batch, Math.max(20, Math.round(minMs / (4 * b))), torchThreads);
        if (ms !== null) t.torch.push(ms);
      }
      process.stderr.write(`${size}x${size} b${batch} round ${r + 1}: js ${a.toFixed(3)} ms, wasm ${b.toFixed(3)} ms${t.torch.length > r ? `, torch ${t.torch[r].toFixed(3)} ms` : ''}\n`);
    }
    const m = { js: median(t.js), wasm: median(t.wasm), torch: t.torch.length ? median(t.torch) : NaN };
    rows.push([
      `${size}x${size}x3 b${batch}`,
      `${m.js.toFixed(3)} (${median(t.jsCpu).toFixed(3)})`,
      `${m.wasm.toFixed(3)} (${median(t.wasmCpu).toFixed(3)})`,
      `${(m.js / m.wasm).toFixed(2)}x`,
      Number.isFinite(m.torch) ? m.torch.toFixed(3) : '-',
      Number.isFinite(m.torch) ? (m.wasm / m.torch).toFixed(2) : '-',
      `${values[0].toPrecision(8)} / ${values[1].toPrecision(8)}`,
    ]);
    tf.dispose([images, ...shared]);
    disposeModel(model);
  }
  const head = ['shape', 'JS ms (CPU ms)', 'wasm ms (CPU ms)', 'JS / wasm', `PyTorch ms (${torchThreads} threads)`, 'wasm / PyTorch', 'D (JS / wasm)'];
  console.log(`medians over ${repeats} interleaved rounds of >= ${minMs} ms each`);
  console.log('| ' + head.join(' | ') + ' |');
  console.log('|' + head.map(() => '---').join('|') + '|');
  for (const r of rows) console.log('| ' + r.join(' | ') + ' |');
}

main();
