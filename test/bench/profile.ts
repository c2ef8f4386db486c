/**
 * Profile of one DLG objective evaluation (forward + parameter gradient + second-order backward),
 * evaluated exactly as lib/attacks/dlg.ts's L-BFGS closure does, on the cpu backend.
 *
 *   node dist/test/bench/profile.js [--evals 200] [--batch 1] [--classes 100] [--size 32x32x3]
 *                                    [--top 25] [--original] [--conv-only] [--variant distance,pad,ce]
 *
 * --original runs the cpu backend's own kernels, --conv-only only the fast convolutions (the state
 * before the elementwise/slice/pad/reduction kernels were added). Prints the wall time per evaluation
 * (unwrapped kernels), then a table of kernel time per kernel name + input shapes, sorted by total,
 * measured by wrapping every registered cpu kernelFunc with a timer, plus the number of kernels
 * launched per evaluation and the time spent outside kernels (engine, tape, tidy).
 *
 * --variant measures candidate op-count reductions in files this script does not own (the lead's
 * lib/gradients.ts and lib/models/lenet.ts), re-implemented here, and checks that they give the same
 * loss and gradient bits as the current code:
 *   distance: gradientDistance as one tf.customGrad (forward squaredDifference + sum per tensor, addN;
 *             backward (g' - g) * (2 dy)), instead of the add chain whose gradient multiplies by ones;
 *   pad:      LeNet's convolutions with explicit padding [[0,0],[2,2],[2,2],[0,0]] instead of tf.pad;
 *   ce:       crossEntropy without the division by the batch size when it is 1 (x / 1 === x).
 */
import type { KernelConfig, KernelFunc, Tensor, Tensor2D, Tensor4D, TensorInfo, GradSaveFunc } from '@tensorflow/tfjs';
import * as os from 'os';
import { tf, backendInfo } from '../../lib/engine/backend';
import '../../lib/engine/twice';
import { lenet } from '../../lib/models/lenet';
import type { Model } from '../../lib/models/model';
import { parameterGradients } from '../../lib/models/gradients';
import { gradientDistance } from '../../lib/attacks/objective';
import { softmax, oneHot, logSoftmax, crossEntropy } from '../../lib/models/nn';
import { createRng, normalArray, uniformArray } from '../../lib/rng';
import { installFastKernels, uninstallFastKernels, FAST_KERNEL_NAMES, CONV_KERNEL_NAMES } from '../../lib/engine/kernels';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}
const flag = (name: string) => process.argv.includes(name);

interface Stat {
  name: string;
  shapes: string;
  calls: number;
  ms: number;
}

/** Wrap every cpu kernel with a timer; returns the stats map and a function that unwraps them. */
function wrapKernels(): { stats: Map<string, Stat>; counter: { launches: number; ms: number }; unwrap: () => void } {
  const stats = new Map<string, Stat>();
  const counter = { launches: 0, ms: 0 };
  const saved: KernelConfig[] = [];
  let depth = 0; // kernels that call other kernels through the registry are counted once, outermost
  for (const cfg of tf.getKernelsForBackend('cpu')) {
    const inner = cfg.kernelFunc;
    const name = cfg.kernelName;
    const wrapped: KernelFunc = (args) => {
      if (depth > 0) return inner(args);
      depth++;
      const t0 = performance.now();
      let out: TensorInfo | TensorInfo[];
      try {
        out = inner(args);
      } finally {
        depth--;
      }
      const dt = performance.now() - t0;
      let shapes = '';
      for (const k in args.inputs) shapes += `${shapes ? ' ' : ''}${k}[${(args.inputs[k] as TensorInfo).shape.join(',')}]`;
      const key = `${name}|${shapes}`;
      let s = stats.get(key);
      if (s === undefined) stats.set(key, (s = { name, shapes, calls: 0, ms: 0 }));
      s.calls++;
      s.ms += dt;
      counter.launches++;
      counter.ms += dt;
      return out;
    };
    saved.push(cfg);
    tf.unregisterKernel(name, 'cpu');
    tf.registerKernel({ ...cfg, kernelFunc: wrapped });
  }
  const unwrap = () => {
    for (const cfg of saved) {
      tf.unregisterKernel(cfg.kernelName, 'cpu');
      tf.registerKernel(cfg);
    }
  };
  return { stats, counter, unwrap };
}

/**
 * Candidate for lib/gradients.ts: the same value and gradient bits as gradientDistance, in fewer
 * kernels. Forward: squaredDifference and sum per tensor, one addN (which sums in the same order and
 * float32 rounding as the add chain). Backward: (g' - g) * (2 dy) per tensor, equal bit for bit to
 * tfjs's dy * ones * (2 * (g' - g)), since doubling is exact.
 */
function gradientDistanceFused(dummy: Tensor[], shared: Tensor[]): Tensor {
  const n = dummy.length;
  const f = tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
    const save = args[n] as GradSaveFunc;
    const g = args.slice(0, n) as Tensor[];
    save(g);
    const sums = g.map((t, i) => tf.sum(tf.squaredDifference(t, shared[i])));
    const value = n === 1 ? sums[0] : tf.addN(sums);
    return {
      value,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const twoDy = tf.mul(dy, 2);
        return saved.map((t, i) => tf.mul(tf.sub(t, shared[i]), twoDy));
      },
    };
  });
  return (f as unknown as (...t: Tensor[]) => Tensor)(...dummy);
}

/** Candidate for lib/models/lenet.ts: convolutions with explicit padding instead of tf.pad. */
function withExplicitPadding(model: Model): Model {
  const STRIDES = [2, 2, 1];
  const pad: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [2, 2], [2, 2], [0, 0]];
  const flat = model.params[6].shape[0];
  return {
    ...model,
    forward: (x: Tensor4D, p: Tensor[]): Tensor2D => {
      let z: Tensor4D = x;
      for (let layer = 0; layer < 3; layer++) {
        const conv = tf.conv2d(z, p[2 * layer] as Tensor4D, STRIDES[layer], pad);
        z = tf.sigmoid(tf.add(conv, p[2 * layer + 1])) as Tensor4D;
      }
      const flattened = tf.reshape(tf.transpose(z, [0, 3, 1, 2]), [z.shape[0], flat]) as Tensor2D;
      return tf.add(tf.matMul(flattened, p[6] as Tensor2D), p[7]) as Tensor2D;
    },
  };
}

/** Candidate for lib/nn.ts: crossEntropy, skipping the division by a batch size of 1. */
function crossEntropyNoUnitDiv(logits: Tensor2D, target: Tensor2D): Tensor {
  const total = tf.neg(tf.sum(tf.mul(target, logSoftmax(logits))));
  return logits.shape[0] === 1 ? total : tf.div(total, logits.shape[0]);
}

/** parameterGradients (lib/gradients.ts) with a chosen loss. */
function parameterGradientsWith(loss: typeof crossEntropy, model: Model, x: Tensor4D, target: Tensor2D): Tensor[] {
  return tf.grads((...p: Tensor[]) => loss(model.forward(x, p), target))(model.params);
}

function main(): void {
  if (tf.getBackend() !== 'cpu') {
    console.log(`backend is ${tf.getBackend()}, not cpu: this profiles the pure-JS kernels only`);
    return;
  }
  const evals = Number(arg('--evals', '200'));
  const batch = Number(arg('--batch', '1'));
  const classes = Number(arg('--classes', '100'));
  const [h, w, c] = arg('--size', '32x32x3').split('x').map(Number) as [number, number, number];
  const top = Number(arg('--top', '25'));
  const mode = flag('--original') ? 'original' : flag('--conv-only') ? 'conv-only' : 'fast';

  // (lib/engine.ts, imported by the model and gradient modules, may already have installed them all.)
  uninstallFastKernels();
  if (mode !== 'original') installFastKernels(mode === 'conv-only' ? [...CONV_KERNEL_NAMES] : [...FAST_KERNEL_NAMES]);

  const variants = arg('--variant', '').split(',').filter((v) => v !== '');
  for (const v of variants) if (!['distance', 'pad', 'ce'].includes(v)) throw new Error(`unknown --variant ${v} (known: distance, pad, ce)`);
  const base = lenet({ inputShape: [h, w, c], numClasses: classes });
  const model = variants.includes('pad') ? withExplicitPadding(base) : base;
  const distance = variants.includes('distance') ? gradientDistanceFused : gradientDistance;
  const rng = createRng(7);
  const imageSize = batch * h * w * c;
  const shape: [number, number, number, number] = [batch, h, w, c];
  const labels = Array.from({ length: batch }, (_, i) => (17 * i + 3) % classes);
  const shared = tf.tidy(() => {
    const x = tf.tensor4d(uniformArray(rng, imageSize, 0, 1), shape);
    return parameterGradients(base, x, oneHot(labels, classes));
  });
  shared.forEach((t) => tf.keep(t));

  // Exactly the closure of lib/attacks/dlg.ts ('joint' labels, the paper's setting).
  const paramGrads = variants.includes('ce')
    ? (m: Model, a: Tensor4D, t: Tensor2D) => parameterGradientsWith(crossEntropyNoUnitDiv, m, a, t)
    : parameterGradients;
  const objective = (xd: Tensor, yd?: Tensor) =>
    distance(paramGrads(model, xd as Tensor4D, softmax(yd as Tensor2D)), shared);
  const valueAndGrads = tf.valueAndGrads(objective);
  const reference = tf.valueAndGrads((xd: Tensor, yd?: Tensor) =>
    gradientDistance(parameterGradients(base, xd as Tensor4D, softmax(yd as Tensor2D)), shared),
  );
  const x = Float64Array.from(normalArray(rng, imageSize + batch * classes));
  const grad = new Float64Array(x.length);
  const closure = () => {
    let loss = NaN;
    tf.tidy(() => {
      const xd = tf.tensor4d(Float32Array.from(x.subarray(0, imageSize)), shape);
      const yd = tf.tensor2d(Float32Array.from(x.subarray(imageSize)), [batch, classes]);
      const { value, grads } = valueAndGrads([xd, yd]);
      loss = value.dataSync()[0];
      grad.set(grads[0].dataSync());
      grad.set(grads[1].dataSync(), imageSize);
    });
    return loss;
  };

  console.log(`backend: ${backendInfo()}; node ${process.version}; kernels: ${mode}` + (variants.length ? `; variants: ${variants.join(', ')}` : ''));
  if (variants.length > 0) {
    // The candidate must reproduce the current code's loss and gradients.
    const run = (vg: typeof valueAndGrads) =>
      tf.tidy(() => {
        const xd = tf.tensor4d(Float32Array.from(x.subarray(0, imageSize)), shape);
        const yd = tf.tensor2d(Float32Array.from(x.subarray(imageSize)), [batch, classes]);
        const { value, grads } = vg([xd, yd]);
        return [value.dataSync()[0], ...grads[0].dataSync(), ...grads[1].dataSync()];
      });
    const a = run(valueAndGrads), b = run(reference);
    let differ = 0, maxRel = 0, scale = 0;
    for (let i = 1; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
    for (let i = 0; i < a.length; i++) {
      if (!Object.is(a[i], b[i])) differ++;
      maxRel = Math.max(maxRel, Math.abs(a[i] - b[i]) / (i === 0 ? Math.abs(b[0]) : scale));
    }
    console.log(`variant vs current code: loss ${a[0]} vs ${b[0]}; ${differ} of ${a.length} values differ in any bit; max rel diff ${maxRel.toExponential(2)}`);
  }
  console.log(`model: ${model.name}; batch ${batch}; ${evals} evaluations`);
  const warm = Math.max(5, Math.min(30, Math.floor(evals / 5)));
  for (let i = 0; i < warm; i++) closure();
  const tensors0 = tf.memory().numTensors;
  const times: number[] = [];
  let loss = NaN;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < evals; i++) {
    const t0 = performance.now();
    loss = closure();
    times.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  times.sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  const median = times[Math.floor(times.length / 2)];
  const p10 = times[Math.floor(times.length / 10)];
  const load = os.loadavg()[0]; // other processes on the machine inflate the median
  console.log(
    `ms per evaluation: mean ${mean.toFixed(2)}, median ${median.toFixed(2)}, p10 ${p10.toFixed(2)}, min ${times[0].toFixed(2)}` +
      `  [load average ${load.toFixed(1)} on ${os.cpus().length} cpus]` +
      `  (loss ${loss.toPrecision(6)}; numTensors ${tensors0} -> ${tf.memory().numTensors})`,
  );
  console.log(
    `cpu time per evaluation: user ${(cpu.user / 1000 / evals).toFixed(2)} ms, system ${(cpu.system / 1000 / evals).toFixed(2)} ms` +
      ' (system time is mostly page faults of freshly allocated output arrays)',
  );

  // Per-kernel profile (the timers add a little overhead of their own).
  const { stats, counter, unwrap } = wrapKernels();
  let wall = 0;
  try {
    const t0 = performance.now();
    for (let i = 0; i < evals; i++) closure();
    wall = performance.now() - t0;
  } finally {
    unwrap();
  }
  const rows = [...stats.values()].sort((a, b) => b.ms - a.ms);
  const perEval = (v: number) => v / evals;
  const head = ['#', 'kernel', 'inputs', 'calls/eval', 'ms/eval', '%', 'us/call'];
  const table: string[][] = rows.slice(0, top).map((r, i) => [
    String(i + 1),
    r.name,
    r.shapes,
    perEval(r.calls).toFixed(0),
    perEval(r.ms).toFixed(3),
    ((100 * r.ms) / wall).toFixed(1),
    ((1000 * r.ms) / r.calls).toFixed(1),
  ]);
  const widths = head.map((hd, i) => Math.max(hd.length, ...table.map((r) => r[i].length)));
  const line = (r: string[]) => '| ' + r.map((s, i) => (i >= 1 && i <= 2 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join(' | ') + ' |';
  console.log(line(head));
  console.log('|' + widths.map((wd, i) => (i >= 1 && i <= 2 ? '-'.repeat(wd + 2) : '-'.repeat(wd + 1) + ':')).join('|') + '|');
  for (const r of table) console.log(line(r));
  const byName = new Map<string, number>();
  for (const r of rows) byName.set(r.name, (byName.get(r.name) ?? 0) + r.ms);
  const names = [...byName.entries()].sort((a, b) => b[1] - a[1]);
  console.log(
    'by kernel: ' + names.slice(0, 12).map(([n, ms]) => `${n} ${perEval(ms).toFixed(2)}`).join(', ') + (names.length > 12 ? ', ...' : ''),
  );
  console.log(
    `profiled: ${perEval(wall).toFixed(2)} ms/eval wall, ${perEval(counter.ms).toFixed(2)} ms in kernels, ` +
      `${perEval(wall - counter.ms).toFixed(2)} ms outside kernels; ${perEval(counter.launches).toFixed(0)} kernels launched per evaluation ` +
      `(${rows.length} distinct kernel/shape pairs)`,
  );
  tf.dispose(shared);
}

main();
