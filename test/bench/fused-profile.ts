/**
 * Where the time of one fused DLG objective evaluation goes (LeNet, 100 classes, SIZExBATCH):
 *  - wasm kernels: every call into the wasm module during one evaluation is recorded, then each call
 *    is replayed on its own for `ms` and timed in process CPU time (a shared machine disturbs CPU time
 *    less than wall time); rows are summed per function and, for gemm, per shape (M N K, A plain or
 *    transposed);
 *  - JS kernels (the implementation before): the three convolution routines of lib/engine/kernels.ts
 *    timed the same way at each layer's shapes, times the number of calls per evaluation (3 forward,
 *    3 filter + 2 input backprops, 11 in the adjoint: see lib/engine/fused.ts), against the whole
 *    evaluation.
 *
 *   node dist/test/bench/fused-profile.js [--shape 32x1] [--ms 60]
 */
import { tf } from '../../lib/engine';
import { lenet } from '../../lib/models/lenet';
import { parameterGradients } from '../../lib/models/gradients';
import { oneHot } from '../../lib/models/nn';
import { fusedPlan } from '../../lib/engine/fused-plan';
import { wasmObjective } from '../../lib/engine/fused-wasm';
import { jsObjective } from '../../lib/engine/fused-js';
import { loadWasm } from '../../lib/engine/wasm';
import type { WasmExports, WasmRuntime } from '../../lib/engine/wasm';
import { conv2dForward, conv2dBackpropFilter, conv2dBackpropInput } from '../../lib/engine/kernels';
import { createRng, uniformArray } from '../../lib/rng';
import type { Tensor4D } from '@tensorflow/tfjs';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

/** Process CPU microseconds per call of fn, over at least ms of wall time. */
function cpuUs(fn: () => void, ms: number): number {
  for (let i = 0; i < 3; i++) fn();
  let n = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < ms || n < 3) {
    fn();
    n++;
  }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

function table(rows: [string, number, number][], total: number): void {
  rows.sort((a, b) => b[1] - a[1]);
  console.log('| part | calls per evaluation | CPU us per evaluation | share |');
  console.log('|---|---:|---:|---:|');
  for (const [name, us, calls] of rows) console.log(`| ${name} | ${calls} | ${us.toFixed(1)} | ${((100 * us) / total).toFixed(0)}% |`);
}

function main(): void {
  const [size, batch] = arg('--shape', '32x1').split('x').map(Number);
  const ms = Number(arg('--ms', '60'));
  const model = lenet({ inputShape: [size, size, 3], numClasses: 100, seed: 1234 });
  const rng = createRng(1);
  const images = tf.tensor4d(uniformArray(rng, batch * size * size * 3, 0, 1), [batch, size, size, 3]) as Tensor4D;
  const shared = tf.tidy(() => parameterGradients(model, images, oneHot(Array.from({ length: batch }, (_, i) => (7 * i + 3) % 100), 100)));
  const plan = fusedPlan(model, shared, { batchSize: batch, label: 'joint' });
  if (plan === null) throw new Error('LeNet must be fusable');
  const x = Float64Array.from({ length: plan.size }, (_, i) => (i < plan.nImage ? rng.next() : rng.normal()));
  const grad = new Float64Array(plan.size);

  // ---- wasm: record the calls of one evaluation, replay each
  const rt = loadWasm();
  let calls: [keyof WasmExports, number[]][] | null = null;
  const spy = {} as Record<string, unknown>;
  for (const [k, v] of Object.entries(rt.exports)) {
    spy[k] = typeof v === 'function' ? (...a: number[]) => {
      calls?.push([k as keyof WasmExports, a]);
      return (v as (...a: number[]) => unknown)(...a);
    } : v;
  }
  const spied: WasmRuntime = { ...rt, exports: spy as unknown as WasmExports };
  const wasm = wasmObjective(plan, spied);
  for (let i = 0; i < 30; i++) wasm.evaluate(x, grad);
  calls = [];
  wasm.evaluate(x, grad);
  const recorded = calls;
  calls = null;
  const wasmTotal = cpuUs(() => wasm.evaluate(x, grad), 5 * ms);
  const parts = new Map<string, [number, number]>();
  for (const [name, a] of recorded) {
    const key = name === 'gemm' ? `gemm M${a[7]} N${a[8]} K${a[9]} ${a[1] === 1 ? 'A^T' : 'A'}` : name === 'gemmNT' ? `gemmNT M${a[6]} N${a[7]} K${a[8]}` : name;
    const fn = rt.exports[name] as unknown as (...a: number[]) => unknown;
    const us = cpuUs(() => fn(...a), ms);
    const p = parts.get(key) ?? [0, 0];
    parts.set(key, [p[0] + us, p[1] + 1]);
  }
  const rows = [...parts].map(([k, [us, n]]) => [k, us, n] as [string, number, number]);
  const replayed = rows.reduce((a, r) => a + r[1], 0);
  console.log(`\n### wasm kernels, LeNet ${size}x${size}x3 b${batch}: ${wasmTotal.toFixed(0)} CPU us per evaluation (sum of the replayed calls: ${replayed.toFixed(0)} us)\n`);
  table(rows, replayed);

  // ---- JS kernels: the convolutions at each layer's shapes
  const js = jsObjective(plan);
  const jsTotal = cpuUs(() => js.evaluate(x, grad), 5 * ms);
  const jsRows: [string, number, number][] = [];
  plan.layers.forEach((ly, l) => {
    const { info } = ly;
    const nIn = info.batchSize * info.inHeight * info.inWidth * info.inChannels;
    const inp = Float32Array.from(uniformArray(rng, nIn, 0, 1));
    const dy = Float32Array.from(uniformArray(rng, ly.pixels * ly.channels, -1, 1));
    const out = new Float32Array(ly.pixels * ly.channels), dw = new Float32Array(ly.w.length), dx = new Float32Array(nIn);
    // per evaluation: forward 1 + adjoint 1 (+1 for l > 0); filter 1; input (l > 0: 1) + adjoint 2
    const counts = { forward: l > 0 ? 3 : 2, filter: 1, input: l > 0 ? 3 : 2 };
    jsRows.push([`conv${l + 1} forward`, counts.forward * cpuUs(() => conv2dForward(inp, ly.w, info, out), ms), counts.forward]);
    jsRows.push([`conv${l + 1} bpFilter`, counts.filter * cpuUs(() => conv2dBackpropFilter(inp, dy, info, dw), ms), counts.filter]);
    jsRows.push([`conv${l + 1} bpInput`, counts.input * cpuUs(() => conv2dBackpropInput(dy, ly.w, info, dx), ms), counts.input]);
  });
  const convs = jsRows.reduce((a, r) => a + r[1], 0);
  jsRows.push(['everything else (dense, softmax, pointwise)', Math.max(0, jsTotal - convs), 1]);
  console.log(`\n### JS kernels (before), LeNet ${size}x${size}x3 b${batch}: ${jsTotal.toFixed(0)} CPU us per evaluation, convolutions ${((100 * convs) / jsTotal).toFixed(0)}%\n`);
  table(jsRows, jsTotal);
  tf.dispose([images, ...shared]);
}

main();
