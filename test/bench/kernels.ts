/**
 * Micro-benchmark of the convolution kernels on the LeNet shapes and on the 3x3 convolutions of a
 * small ResNet (32x32, 16 and 64 channels, 'same'): the cpu backend's originals, the JS loops of
 * lib/engine/kernels.ts and the fast kernels as registered (the wasm SIMD ones of wasm-conv.ts where
 * they load), in ms per call.
 *
 *   node dist/test/bench/kernels.js [--batch 1,4,8] [--ms 300] [--layers lenet,resnet]
 */
import type { KernelFunc, NamedAttrMap, Tensor, TensorInfo } from '@tensorflow/tfjs';
import { tf, backendInfo } from '../../lib/engine/backend';
import { fastKernelFunc, originalKernelFunc, conv2dForward, conv2dBackpropInput, conv2dBackpropFilter } from '../../lib/engine/kernels';
import { wasmStatus } from '../../lib/engine/wasm';

type Shape4 = [number, number, number, number];

interface Layer {
  name: string;
  x: Shape4; // per-example input (batch 1), already padded ('valid') or not ('same')
  f: Shape4;
  stride: number;
  pad: 'valid' | 'same';
  group: 'lenet' | 'resnet';
}

const LAYERS: Layer[] = [
  { name: 'conv1 36x36x3 s2', x: [1, 36, 36, 3], f: [5, 5, 3, 12], stride: 2, pad: 'valid', group: 'lenet' },
  { name: 'conv2 20x20x12 s2', x: [1, 20, 20, 12], f: [5, 5, 12, 12], stride: 2, pad: 'valid', group: 'lenet' },
  { name: 'conv3 12x12x12 s1', x: [1, 12, 12, 12], f: [5, 5, 12, 12], stride: 1, pad: 'valid', group: 'lenet' },
  { name: 'gray 32x32x1 s2', x: [1, 32, 32, 1], f: [5, 5, 1, 12], stride: 2, pad: 'valid', group: 'lenet' },
  { name: 'resnet 3x3 16->16 32x32', x: [1, 32, 32, 16], f: [3, 3, 16, 16], stride: 1, pad: 'same', group: 'resnet' },
  { name: 'resnet 3x3 64->64 32x32', x: [1, 32, 32, 64], f: [3, 3, 64, 64], stride: 1, pad: 'same', group: 'resnet' },
];

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

function rand(shape: number[], seed: number): Tensor {
  let s = seed >>> 0;
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; ++i) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = s / 2147483648 - 1;
  }
  return tf.tensor(v, shape, 'float32');
}

/** ms per call of fn, measured for at least minMs after a warm-up. */
function time(fn: () => void, minMs: number): number {
  const warm = performance.now();
  while (performance.now() - warm < Math.min(100, minMs / 3)) fn();
  let n = 0;
  const t0 = performance.now();
  let t1 = t0;
  while (t1 - t0 < minMs || n < 3) {
    fn();
    ++n;
    t1 = performance.now();
  }
  return (t1 - t0) / n;
}

function main(): void {
  if (tf.getBackend() !== 'cpu') {
    console.log(`backend is ${tf.getBackend()}, not cpu: nothing to compare`);
    return;
  }
  const batches = arg('--batch', '1,4,8').split(',').map(Number);
  const minMs = Number(arg('--ms', '300'));
  const groups = arg('--layers', 'lenet,resnet').split(',');
  const backend = tf.backend() as unknown as { disposeData(id: object): void };
  const call = (fn: KernelFunc, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap) => () => {
    const out = fn({ inputs, backend: backend as never, attrs }) as TensorInfo;
    backend.disposeData(out.dataId);
  };

  const wasm = wasmStatus();
  console.log(`backend: ${backendInfo()}; node ${process.version}; fast conv kernels: ${wasm.available ? 'wasm SIMD' : `JS (${wasm.reason})`}`);
  const head = ['layer', 'batch', 'kernel', 'original ms', 'JS loops ms', 'fast ms', 'original / fast', 'JS / fast'];
  const rows: string[][] = [];
  for (const layer of LAYERS.filter((l) => groups.includes(l.group))) {
    for (const B of batches) {
      const xShape: Shape4 = [B, layer.x[1], layer.x[2], layer.x[3]];
      const info = tf.backend_util.computeConv2DInfo(xShape, layer.f, layer.stride, 1, layer.pad);
      const x = rand(xShape, 1), w = rand(layer.f, 2), dy = rand(info.outShape, 3);
      const xv = x.dataSync() as Float32Array, wv = w.dataSync() as Float32Array, dyv = dy.dataSync() as Float32Array;
      const js: Record<string, () => void> = {
        Conv2D: () => conv2dForward(xv, wv, info),
        Conv2DBackpropInput: () => conv2dBackpropInput(dyv, wv, info),
        Conv2DBackpropFilter: () => conv2dBackpropFilter(xv, dyv, info),
      };
      const base: NamedAttrMap = { strides: layer.stride, pad: layer.pad, dataFormat: 'NHWC', dimRoundingMode: undefined as never };
      const kernels: [string, Record<string, TensorInfo>, NamedAttrMap][] = [
        ['Conv2D', { x, filter: w }, { ...base, dilations: 1 }],
        ['Conv2DBackpropInput', { dy, filter: w }, { ...base, inputShape: xShape }],
        ['Conv2DBackpropFilter', { x, dy }, { ...base, filterShape: layer.f }],
      ];
      for (const [name, inputs, attrs] of kernels) {
        const k = name as 'Conv2D' | 'Conv2DBackpropInput' | 'Conv2DBackpropFilter';
        const tOrig = time(call(originalKernelFunc(k), inputs, attrs), minMs);
        const tJs = time(js[k], minMs);
        const tFast = time(call(fastKernelFunc(k), inputs, attrs), minMs);
        rows.push([layer.name, String(B), name, tOrig.toFixed(3), tJs.toFixed(3), tFast.toFixed(3), `${(tOrig / tFast).toFixed(1)}x`, `${(tJs / tFast).toFixed(1)}x`]);
        console.error(rows[rows.length - 1].join('  '));
      }
      tf.dispose([x, w, dy]);
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => '| ' + r.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |';
  console.log(line(head));
  console.log('|' + widths.map((w, i) => (i < 3 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|');
  for (const r of rows) console.log(line(r));
}

main();
