/**
 * Faster replacements for the pure-JS CPU backend's kernels on the DLG attack path.
 *
 * The attack evaluates a second-order objective of a small LeNet thousands of times (~500 kernel
 * launches per evaluation). On `@tensorflow/tfjs-backend-cpu` the time goes to a handful of kernels
 * with slow generic code; `installFastKernels()` swaps them, on the 'cpu' backend only, for flat
 * Float32Array loops (FAST_KERNEL_NAMES):
 *
 *  - Conv2D, Conv2DBackpropInput, Conv2DBackpropFilter (NHWC, dilation 1): on the wasm SIMD kernels
 *    (wasm-conv.ts: im2col + float32 matrix products) where they load, else register-tiled JS loops
 *    over contiguous runs (details at each kernel, float64 accumulation; DLG_WASM=0 selects these).
 *    Both agree with the originals to float32 rounding (relative error ~1e-7 in JS, ~1e-6 in wasm;
 *    tested < 1e-5).
 *  - Add, Sub, Multiply, RealDiv, SquaredDifference: the original indexes every element through
 *    indexToLoc/locToIndex as soon as one side is broadcast (7 ms for tf.sum's gradient, [1,1] x
 *    [768,100]); here the broadcast is collapsed into runs with side strides 0 or 1.
 *  - Sigmoid, Exp: the same formula without a closure call per element.
 *  - Slice, PadV2: contiguous row copies instead of per-element TensorBuffer.get (3 ms per tf.pad
 *    gradient); Transpose: strided loops instead of per-element index arithmetic.
 *  - Sum over innermost or leading axes (full reductions, bias gradients) without the transpose.
 *  - BatchMatMul: the original's 48-blocked arithmetic in cache order.
 * All but the convolutions compute every output with the same float64 expression, order of summation
 * and float32 rounding as the originals, so they are bit-identical (test/kernels.test.ts checks that
 * on broadcasting corner cases, NaN/Inf/-0 inputs, every transpose of rank <= 4, ...).
 *
 * Anything a fast kernel does not handle (dtypes other than float32, complex64, NCHW, dilations, Sum
 * over middle axes, ...) is passed on to the original kernel, whose config is kept so that
 * `uninstallFastKernels()` can put it back. `node dist/test/bench/profile.js` profiles one DLG
 * evaluation per kernel; `node dist/test/bench/kernels.js` benchmarks the convolutions.
 */
import type { KernelConfig, KernelFunc, TensorInfo, NamedAttrMap } from '@tensorflow/tfjs';
import { tf } from './backend';
import { conv2dWasm, conv2dBackpropFilterWasm, conv2dBackpropInputWasm } from './wasm-conv';

type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;
type Shape4 = [number, number, number, number];

/** The parts of MathBackendCPU these kernels use. */
interface CpuBackendLike {
  data: { get(dataId: object): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): TensorInfo;
}

interface KernelArgs {
  inputs: { [name: string]: TensorInfo };
  backend: CpuBackendLike;
  attrs: NamedAttrMap;
}

const BACKEND = 'cpu';
/** The convolution kernels (the first ones this module replaced). */
export const CONV_KERNEL_NAMES = ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'] as const;
/** Every kernel this module replaces, in registration order. */
export const FAST_KERNEL_NAMES = [
  ...CONV_KERNEL_NAMES,
  'Add',
  'Sub',
  'Multiply',
  'RealDiv',
  'SquaredDifference',
  'Sigmoid',
  'Exp',
  'Slice',
  'PadV2',
  'Transpose',
  'Sum',
  'BatchMatMul',
] as const;
export type FastKernelName = (typeof FAST_KERNEL_NAMES)[number];

/** The cpu backend's own configs, saved by installFastKernels(). */
const originals = new Map<FastKernelName, KernelConfig>();

function original(name: FastKernelName): KernelConfig {
  const cfg = originals.get(name) ?? tf.getKernel(name, BACKEND);
  if (cfg == null) throw new Error(`kernels: no original ${name} kernel for backend ${BACKEND}`);
  return cfg;
}

function callOriginal(name: FastKernelName, args: KernelArgs): TensorInfo | TensorInfo[] {
  return original(name).kernelFunc(args as unknown as Parameters<KernelFunc>[0]);
}

/** The float32 values of a cpu-backend tensor, or null where this module does not handle it. */
function f32(backend: CpuBackendLike, t: TensorInfo): Float32Array | null {
  if (t.dtype !== 'float32') return null;
  const v = backend.data.get(t.dataId).values;
  return v instanceof Float32Array ? v : null;
}

function convInfoOf(
  inShape: Shape4,
  filterShape: Shape4,
  attrs: NamedAttrMap,
  dilations: number | [number, number],
): Conv2DInfo {
  const bu = tf.backend_util;
  const dataFormat = bu.convertConv2DDataFormat(attrs.dataFormat as 'NHWC' | 'NCHW');
  return bu.computeConv2DInfo(
    inShape,
    filterShape,
    attrs.strides as number | [number, number],
    dilations,
    attrs.pad as Parameters<typeof bu.computeConv2DInfo>[4],
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    false /* depthwise */,
    dataFormat,
  );
}

function handled(info: Conv2DInfo): boolean {
  return info.dataFormat === 'channelsLast' && info.dilationHeight === 1 && info.dilationWidth === 1;
}

/** The filter of conv2dForward transposed to [co][fy][fx][ci]; reused across calls (JS is single-threaded). */
let transposeScratch = new Float32Array(0);

/**
 * `out` when given (checked to hold exactly n floats, zeroed), else a new array. Callers that evaluate the same shapes many times (lib/engine/fused.ts) pass preallocated buffers.
 */
function outBuffer(out: Float32Array | undefined, n: number, who: string): Float32Array {
  if (out === undefined) return new Float32Array(n);
  if (out.length !== n) throw new Error(`${who}: output buffer holds ${out.length} floats, expected ${n}`);
  return out.fill(0); // outputs under padding only are skipped; conv2dBackpropInput accumulates
}

// ------------------------------------------------------------------------------------------------
// Conv2D

/**
 * y = conv2d(x, w) for NHWC x, HWIO w, dilation 1. Exported for tests and benchmarks.
 *
 * Per output pixel and filter row, the input window is one contiguous run of
 * (valid filter columns) * inChannels floats, matched by a contiguous run of the filter transposed to
 * [co][fy][fx][ci]. Tiles of 2 horizontally adjacent output pixels x 4 output channels share loads.
 */
export function conv2dForward(x: Float32Array, w: Float32Array, info: Conv2DInfo, out?: Float32Array): Float32Array {
  const B = info.batchSize, H = info.inHeight, W = info.inWidth, CI = info.inChannels;
  const OH = info.outHeight, OW = info.outWidth, CO = info.outChannels;
  const FH = info.filterHeight, FW = info.filterWidth, SH = info.strideHeight, SW = info.strideWidth;
  const pt = info.padInfo.top, pl = info.padInfo.left;
  const K = FH * FW * CI, rowK = FW * CI, xRow = W * CI, xStep = SW * CI;
  if (transposeScratch.length < CO * K) transposeScratch = new Float32Array(CO * K);
  const wt = transposeScratch;
  for (let k = 0; k < K; ++k) {
    const src = k * CO;
    for (let co = 0; co < CO; ++co) wt[co * K + k] = w[src + co];
  }
  const y = outBuffer(out, B * OH * OW * CO, 'conv2dForward');
  const CO4 = CO - (CO % 4);
  for (let b = 0; b < B; ++b) {
    for (let oy = 0; oy < OH; ++oy) {
      const iy0 = oy * SH - pt;
      const fy0 = iy0 < 0 ? -iy0 : 0;
      const fy1 = Math.min(FH, H - iy0);
      if (fy1 <= fy0) continue; // only padding under this output row
      for (let ox = 0; ox < OW; ) {
        const ix0 = ox * SW - pl;
        const fx0 = ix0 < 0 ? -ix0 : 0;
        const fx1 = Math.min(FW, W - ix0);
        const L = (fx1 - fx0) * CI;
        if (L <= 0) {
          ++ox;
          continue;
        }
        const yo = ((b * OH + oy) * OW + ox) * CO;
        const xBase = ((b * H + iy0) * W + ix0 + fx0) * CI;
        const wBase = fx0 * CI;
        // The next pixel can share the tile when its valid filter columns are the same.
        const jx0 = ix0 + SW;
        const pair = ox + 1 < OW && (jx0 < 0 ? -jx0 : 0) === fx0 && Math.min(FW, W - jx0) === fx1;
        let co = 0;
        if (pair) {
          for (; co < CO4; co += 4) {
            let a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
            const wc = co * K + wBase;
            for (let fy = fy0; fy < fy1; ++fy) {
              const xo = xBase + fy * xRow, xu = xo + xStep;
              const w0 = wc + fy * rowK, w1 = w0 + K, w2 = w1 + K, w3 = w2 + K;
              for (let j = 0; j < L; ++j) {
                const p = x[xo + j], q = x[xu + j];
                const v0 = wt[w0 + j], v1 = wt[w1 + j], v2 = wt[w2 + j], v3 = wt[w3 + j];
                a0 += p * v0; a1 += p * v1; a2 += p * v2; a3 += p * v3;
                b0 += q * v0; b1 += q * v1; b2 += q * v2; b3 += q * v3;
              }
            }
            y[yo + co] = a0; y[yo + co + 1] = a1; y[yo + co + 2] = a2; y[yo + co + 3] = a3;
            const yu = yo + CO + co;
            y[yu] = b0; y[yu + 1] = b1; y[yu + 2] = b2; y[yu + 3] = b3;
          }
          for (; co < CO; ++co) {
            let a0 = 0, b0 = 0;
            const wc = co * K + wBase;
            for (let fy = fy0; fy < fy1; ++fy) {
              const xo = xBase + fy * xRow, xu = xo + xStep, w0 = wc + fy * rowK;
              for (let j = 0; j < L; ++j) {
                const v = wt[w0 + j];
                a0 += x[xo + j] * v;
                b0 += x[xu + j] * v;
              }
            }
            y[yo + co] = a0;
            y[yo + CO + co] = b0;
          }
          ox += 2;
        } else {
          for (; co < CO4; co += 4) {
            let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
            const wc = co * K + wBase;
            for (let fy = fy0; fy < fy1; ++fy) {
              const xo = xBase + fy * xRow;
              const w0 = wc + fy * rowK, w1 = w0 + K, w2 = w1 + K, w3 = w2 + K;
              for (let j = 0; j < L; ++j) {
                const p = x[xo + j];
                a0 += p * wt[w0 + j]; a1 += p * wt[w1 + j]; a2 += p * wt[w2 + j]; a3 += p * wt[w3 + j];
              }
            }
            y[yo + co] = a0; y[yo + co + 1] = a1; y[yo + co + 2] = a2; y[yo + co + 3] = a3;
          }
          for (; co < CO; ++co) {
            let a0 = 0;
            const wc = co * K + wBase;
            for (let fy = fy0; fy < fy1; ++fy) {
              const xo = xBase + fy * xRow, w0 = wc + fy * rowK;
              for (let j = 0; j < L; ++j) a0 += x[xo + j] * wt[w0 + j];
            }
            y[yo + co] = a0;
          }
          ox += 1;
        }
      }
    }
  }
  return y;
}

function fastConv2D(args: KernelArgs): TensorInfo | TensorInfo[] {
  const { inputs, backend, attrs } = args;
  const x = inputs.x, filter = inputs.filter;
  const xv = f32(backend, x), wv = f32(backend, filter);
  if (xv == null || wv == null || x.shape.length !== 4 || filter.shape.length !== 4) {
    return callOriginal('Conv2D', args);
  }
  const info = convInfoOf(
    x.shape as Shape4,
    filter.shape as Shape4,
    attrs,
    attrs.dilations as number | [number, number],
  );
  if (!handled(info)) return callOriginal('Conv2D', args);
  return backend.makeTensorInfo(info.outShape, 'float32', conv2dWasm(xv, wv, info) ?? conv2dForward(xv, wv, info));
}

// ------------------------------------------------------------------------------------------------
// Conv2DBackpropFilter

/** Output range [lo, hi) along one axis that filter tap f touches: 0 <= o*S + f - pad < N, o < O. */
function tapRange(f: number, pad: number, S: number, N: number, O: number): [number, number] {
  const lo = Math.max(0, Math.ceil((pad - f) / S));
  const hi = Math.min(O, Math.floor((N - 1 + pad - f) / S) + 1);
  return [lo, hi];
}

/**
 * dW = conv2dBackpropFilter(x, dy) for NHWC x/dy, HWIO dW, dilation 1. Exported for tests.
 *
 * For each filter tap (fy, fx), dW[fy, fx] (inChannels x outChannels) is the sum over the output
 * positions p the tap touches of the outer product x[p', :] (x) dy[p, :]; it is accumulated in
 * register tiles of up to 3 input x 4 output channels.
 */
export function conv2dBackpropFilter(x: Float32Array, dy: Float32Array, info: Conv2DInfo, out?: Float32Array): Float32Array {
  const B = info.batchSize, H = info.inHeight, W = info.inWidth, CI = info.inChannels;
  const OH = info.outHeight, OW = info.outWidth, CO = info.outChannels;
  const FH = info.filterHeight, FW = info.filterWidth, SH = info.strideHeight, SW = info.strideWidth;
  const pt = info.padInfo.top, pl = info.padInfo.left;
  const dW = outBuffer(out, FH * FW * CI * CO, 'conv2dBackpropFilter');
  const xStep = SW * CI;
  const g: TapGeometry = { B, H, W, CI, OH, OW, CO, SH, rowOff: 0, col0: 0, oy0: 0, oy1: 0, ox0: 0, n: 0, xStep };
  for (let fy = 0; fy < FH; ++fy) {
    const [oy0, oy1] = tapRange(fy, pt, SH, H, OH);
    if (oy1 <= oy0) continue;
    for (let fx = 0; fx < FW; ++fx) {
      const [ox0, ox1] = tapRange(fx, pl, SW, W, OW);
      if (ox1 <= ox0) continue;
      g.rowOff = fy - pt;
      g.col0 = ox0 * SW + fx - pl;
      g.oy0 = oy0;
      g.oy1 = oy1;
      g.ox0 = ox0;
      g.n = ox1 - ox0;
      const tap = (fy * FW + fx) * CI;
      for (let c = 0; c < CI; ) {
        const cb = Math.min(3, CI - c);
        let co = 0;
        for (; co + 4 <= CO; co += 4) filterTile(x, dy, dW, g, cb, c, co, (tap + c) * CO + co);
        for (; co < CO; ++co) {
          for (let i = 0; i < cb; ++i) filterTile(x, dy, dW, g, 0, c + i, co, (tap + c + i) * CO + co);
        }
        c += cb;
      }
    }
  }
  return dW;
}

/** Where one filter tap meets the data (see conv2dBackpropFilter). */
interface TapGeometry {
  B: number; H: number; W: number; CI: number; OH: number; OW: number; CO: number; SH: number;
  /** Input row of output row oy is oy*SH + rowOff; input column of output column ox0 is col0. */
  rowOff: number; col0: number;
  /** Output rows [oy0, oy1) and the n output columns from ox0 that the tap touches. */
  oy0: number; oy1: number; ox0: number; n: number;
  /** Distance in x between the inputs of adjacent output columns: strideWidth * inChannels. */
  xStep: number;
}

/**
 * dW[o + i*CO + j] = sum over p of x[p', c + i] * dy[p, co + j], i < cb, j < 4; cb = 0 means a
 * single (i, j) = (0, 0) entry. One specialised loop per tile shape keeps accumulators in registers.
 */
function filterTile(
  x: Float32Array, dy: Float32Array, dW: Float32Array, g: TapGeometry, cb: number, c: number, co: number, o: number,
): void {
  const { B, H, W, CI, OH, OW, CO, SH, rowOff, col0, oy0, oy1, ox0, n, xStep } = g;
  if (cb === 3) {
    let a00 = 0, a01 = 0, a02 = 0, a03 = 0, a10 = 0, a11 = 0, a12 = 0, a13 = 0;
    let a20 = 0, a21 = 0, a22 = 0, a23 = 0;
    for (let b = 0; b < B; ++b) {
      for (let oy = oy0; oy < oy1; ++oy) {
        let xo = ((b * H + oy * SH + rowOff) * W + col0) * CI + c;
        let yo = ((b * OH + oy) * OW + ox0) * CO + co;
        for (let k = 0; k < n; ++k, xo += xStep, yo += CO) {
          const x0 = x[xo], x1 = x[xo + 1], x2 = x[xo + 2];
          const d0 = dy[yo], d1 = dy[yo + 1], d2 = dy[yo + 2], d3 = dy[yo + 3];
          a00 += x0 * d0; a01 += x0 * d1; a02 += x0 * d2; a03 += x0 * d3;
          a10 += x1 * d0; a11 += x1 * d1; a12 += x1 * d2; a13 += x1 * d3;
          a20 += x2 * d0; a21 += x2 * d1; a22 += x2 * d2; a23 += x2 * d3;
        }
      }
    }
    dW[o] = a00; dW[o + 1] = a01; dW[o + 2] = a02; dW[o + 3] = a03;
    dW[o + CO] = a10; dW[o + CO + 1] = a11; dW[o + CO + 2] = a12; dW[o + CO + 3] = a13;
    dW[o + 2 * CO] = a20; dW[o + 2 * CO + 1] = a21; dW[o + 2 * CO + 2] = a22; dW[o + 2 * CO + 3] = a23;
  } else if (cb === 2) {
    let a00 = 0, a01 = 0, a02 = 0, a03 = 0, a10 = 0, a11 = 0, a12 = 0, a13 = 0;
    for (let b = 0; b < B; ++b) {
      for (let oy = oy0; oy < oy1; ++oy) {
        let xo = ((b * H + oy * SH + rowOff) * W + col0) * CI + c;
        let yo = ((b * OH + oy) * OW + ox0) * CO + co;
        for (let k = 0; k < n; ++k, xo += xStep, yo += CO) {
          const x0 = x[xo], x1 = x[xo + 1];
          const d0 = dy[yo], d1 = dy[yo + 1], d2 = dy[yo + 2], d3 = dy[yo + 3];
          a00 += x0 * d0; a01 += x0 * d1; a02 += x0 * d2; a03 += x0 * d3;
          a10 += x1 * d0; a11 += x1 * d1; a12 += x1 * d2; a13 += x1 * d3;
        }
      }
    }
    dW[o] = a00; dW[o + 1] = a01; dW[o + 2] = a02; dW[o + 3] = a03;
    dW[o + CO] = a10; dW[o + CO + 1] = a11; dW[o + CO + 2] = a12; dW[o + CO + 3] = a13;
  } else if (cb === 1) {
    let a00 = 0, a01 = 0, a02 = 0, a03 = 0;
    for (let b = 0; b < B; ++b) {
      for (let oy = oy0; oy < oy1; ++oy) {
        let xo = ((b * H + oy * SH + rowOff) * W + col0) * CI + c;
        let yo = ((b * OH + oy) * OW + ox0) * CO + co;
        for (let k = 0; k < n; ++k, xo += xStep, yo += CO) {
          const x0 = x[xo];
          a00 += x0 * dy[yo]; a01 += x0 * dy[yo + 1]; a02 += x0 * dy[yo + 2]; a03 += x0 * dy[yo + 3];
        }
      }
    }
    dW[o] = a00; dW[o + 1] = a01; dW[o + 2] = a02; dW[o + 3] = a03;
  } else {
    let a = 0;
    for (let b = 0; b < B; ++b) {
      for (let oy = oy0; oy < oy1; ++oy) {
        let xo = ((b * H + oy * SH + rowOff) * W + col0) * CI + c;
        let yo = ((b * OH + oy) * OW + ox0) * CO + co;
        for (let k = 0; k < n; ++k, xo += xStep, yo += CO) a += x[xo] * dy[yo];
      }
    }
    dW[o] = a;
  }
}

function fastConv2DBackpropFilter(args: KernelArgs): TensorInfo | TensorInfo[] {
  const { inputs, backend, attrs } = args;
  const x = inputs.x, dy = inputs.dy;
  const xv = f32(backend, x), dyv = f32(backend, dy);
  if (xv == null || dyv == null || x.shape.length !== 4 || dy.shape.length !== 4) {
    return callOriginal('Conv2DBackpropFilter', args);
  }
  const info = convInfoOf(x.shape as Shape4, attrs.filterShape as unknown as Shape4, attrs, 1);
  if (!handled(info)) return callOriginal('Conv2DBackpropFilter', args);
  return backend.makeTensorInfo(info.filterShape, 'float32', conv2dBackpropFilterWasm(xv, dyv, info) ?? conv2dBackpropFilter(xv, dyv, info));
}

// ------------------------------------------------------------------------------------------------
// Conv2DBackpropInput

/**
 * dx = conv2dBackpropInput(dy, w) for NHWC dy/dx, HWIO w, dilation 1. Exported for tests.
 *
 * For each filter tap (fy, fx) and each output row it touches, the n output positions of that row
 * scatter dx[p', c] += sum_co dy[p, co] * w[fy, fx, c, co] into one input row; the dot products are
 * tiled 2 positions x 4 (or 3) input channels, or 4 positions x 1 input channel.
 */
export function conv2dBackpropInput(dy: Float32Array, w: Float32Array, info: Conv2DInfo, out?: Float32Array): Float32Array {
  const B = info.batchSize, H = info.inHeight, W = info.inWidth, CI = info.inChannels;
  const OH = info.outHeight, OW = info.outWidth, CO = info.outChannels;
  const FH = info.filterHeight, FW = info.filterWidth, SH = info.strideHeight, SW = info.strideWidth;
  const pt = info.padInfo.top, pl = info.padInfo.left;
  const dx = outBuffer(out, B * H * W * CI, 'conv2dBackpropInput');
  const xStep = SW * CI;
  for (let fy = 0; fy < FH; ++fy) {
    const [oy0, oy1] = tapRange(fy, pt, SH, H, OH);
    if (oy1 <= oy0) continue;
    for (let fx = 0; fx < FW; ++fx) {
      const [ox0, ox1] = tapRange(fx, pl, SW, W, OW);
      const n = ox1 - ox0;
      if (n <= 0) continue;
      const tapW = (fy * FW + fx) * CI * CO;
      for (let b = 0; b < B; ++b) {
        for (let oy = oy0; oy < oy1; ++oy) {
          const dxo = ((b * H + oy * SH + fy - pt) * W + ox0 * SW + fx - pl) * CI;
          const dyo = ((b * OH + oy) * OW + ox0) * CO;
          for (let c = 0; c < CI; ) {
            const cb = Math.min(4, CI - c);
            inputRow(dy, w, dx, n, dyo, dxo + c, CO, xStep, tapW + c * CO, cb);
            c += cb;
          }
        }
      }
    }
  }
  return dx;
}

/** dx[xo + k*xStep + i] += dot(dy[yo + k*CO .. +CO], w[wo + i*CO .. +CO]) for k < n, i < cb. */
function inputRow(
  dy: Float32Array, w: Float32Array, dx: Float32Array,
  n: number, yo: number, xo: number, CO: number, xStep: number, wo: number, cb: number,
): void {
  let k = 0;
  if (cb === 4) {
    const CO2 = 2 * CO, CO3 = 3 * CO;
    for (; k + 1 < n; k += 2, yo += CO2, xo += 2 * xStep) {
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
      for (let j = 0; j < CO; ++j) {
        const d = dy[yo + j], e = dy[yo + CO + j];
        const w0 = w[wo + j], w1 = w[wo + CO + j], w2 = w[wo + CO2 + j], w3 = w[wo + CO3 + j];
        a0 += d * w0; a1 += d * w1; a2 += d * w2; a3 += d * w3;
        b0 += e * w0; b1 += e * w1; b2 += e * w2; b3 += e * w3;
      }
      dx[xo] += a0; dx[xo + 1] += a1; dx[xo + 2] += a2; dx[xo + 3] += a3;
      const xu = xo + xStep;
      dx[xu] += b0; dx[xu + 1] += b1; dx[xu + 2] += b2; dx[xu + 3] += b3;
    }
  } else if (cb === 3) {
    const CO2 = 2 * CO;
    for (; k + 1 < n; k += 2, yo += CO2, xo += 2 * xStep) {
      let a0 = 0, a1 = 0, a2 = 0, b0 = 0, b1 = 0, b2 = 0;
      for (let j = 0; j < CO; ++j) {
        const d = dy[yo + j], e = dy[yo + CO + j];
        const w0 = w[wo + j], w1 = w[wo + CO + j], w2 = w[wo + CO2 + j];
        a0 += d * w0; a1 += d * w1; a2 += d * w2;
        b0 += e * w0; b1 += e * w1; b2 += e * w2;
      }
      dx[xo] += a0; dx[xo + 1] += a1; dx[xo + 2] += a2;
      const xu = xo + xStep;
      dx[xu] += b0; dx[xu + 1] += b1; dx[xu + 2] += b2;
    }
  } else if (cb === 1) {
    const CO2 = 2 * CO, CO3 = 3 * CO;
    for (; k + 3 < n; k += 4, yo += 4 * CO, xo += 4 * xStep) {
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (let j = 0; j < CO; ++j) {
        const v = w[wo + j];
        a0 += dy[yo + j] * v; a1 += dy[yo + CO + j] * v; a2 += dy[yo + CO2 + j] * v; a3 += dy[yo + CO3 + j] * v;
      }
      dx[xo] += a0; dx[xo + xStep] += a1; dx[xo + 2 * xStep] += a2; dx[xo + 3 * xStep] += a3;
    }
  }
  for (; k < n; ++k, yo += CO, xo += xStep) {
    for (let i = 0; i < cb; ++i) {
      let a = 0;
      const wi = wo + i * CO;
      for (let j = 0; j < CO; ++j) a += dy[yo + j] * w[wi + j];
      dx[xo + i] += a;
    }
  }
}

function fastConv2DBackpropInput(args: KernelArgs): TensorInfo | TensorInfo[] {
  const { inputs, backend, attrs } = args;
  const dy = inputs.dy, filter = inputs.filter;
  const dyv = f32(backend, dy), wv = f32(backend, filter);
  if (dyv == null || wv == null || dy.shape.length !== 4 || filter.shape.length !== 4) {
    return callOriginal('Conv2DBackpropInput', args);
  }
  const info = convInfoOf(attrs.inputShape as unknown as Shape4, filter.shape as Shape4, attrs, 1);
  if (!handled(info)) return callOriginal('Conv2DBackpropInput', args);
  return backend.makeTensorInfo(info.inShape, 'float32', conv2dBackpropInputWasm(dyv, wv, info) ?? conv2dBackpropInput(dyv, wv, info));
}

// ------------------------------------------------------------------------------------------------
// Elementwise binary kernels: Add, Sub, Multiply, RealDiv, SquaredDifference
//
// The cpu backend runs these through one generic template that calls the op through a closure per
// element and, as soon as either side is broadcast, recomputes every element's index with
// indexToLoc / locToIndex on freshly allocated arrays (~90 ns per element: 7 ms for the [1,1] x
// [768,100] product in tf.sum's gradient). Here the broadcast is collapsed into runs: dimensions of
// size 1 are dropped, neighbouring dimensions broadcast the same way on both sides are merged, and the
// innermost run is a flat loop in which each side steps by 1 or 0. Each element is computed with the
// same expression as the original (a + b, a - b, a * b, a / b, (a - b) * (a - b) in float64, stored
// to float32), so the results are bit-identical. float32 inputs only; everything else is passed on.

/** The binary kernels handled here. */
export type BinaryKernelName = 'Add' | 'Sub' | 'Multiply' | 'RealDiv' | 'SquaredDifference';

const enum BinOp {
  Add,
  Sub,
  Mul,
  Div,
  SqDiff,
}

/** out[o + i] = op(a[ai + i*as], b[bi + i*bs]) for i < n, with as, bs in {0, 1}. */
function binaryRun(
  op: BinOp, out: Float32Array, o: number,
  a: Float32Array, ai: number, as: number, b: Float32Array, bi: number, bs: number, n: number,
): void {
  const end = o + n;
  if (as === 1 && bs === 1) {
    const d = ai - o, e = bi - o;
    switch (op) {
      case BinOp.Add: for (let i = o; i < end; ++i) out[i] = a[i + d] + b[i + e]; return;
      case BinOp.Sub: for (let i = o; i < end; ++i) out[i] = a[i + d] - b[i + e]; return;
      case BinOp.Mul: for (let i = o; i < end; ++i) out[i] = a[i + d] * b[i + e]; return;
      case BinOp.Div: for (let i = o; i < end; ++i) out[i] = a[i + d] / b[i + e]; return;
      default:
        for (let i = o; i < end; ++i) {
          const t = a[i + d] - b[i + e];
          out[i] = t * t;
        }
        return;
    }
  }
  if (as === 0 && bs === 1) {
    const s = a[ai], e = bi - o;
    switch (op) {
      case BinOp.Add: for (let i = o; i < end; ++i) out[i] = s + b[i + e]; return;
      case BinOp.Sub: for (let i = o; i < end; ++i) out[i] = s - b[i + e]; return;
      case BinOp.Mul: for (let i = o; i < end; ++i) out[i] = s * b[i + e]; return;
      case BinOp.Div: for (let i = o; i < end; ++i) out[i] = s / b[i + e]; return;
      default:
        for (let i = o; i < end; ++i) {
          const t = s - b[i + e];
          out[i] = t * t;
        }
        return;
    }
  }
  if (as === 1 && bs === 0) {
    const s = b[bi], d = ai - o;
    switch (op) {
      case BinOp.Add: for (let i = o; i < end; ++i) out[i] = a[i + d] + s; return;
      case BinOp.Sub: for (let i = o; i < end; ++i) out[i] = a[i + d] - s; return;
      case BinOp.Mul: for (let i = o; i < end; ++i) out[i] = a[i + d] * s; return;
      case BinOp.Div: for (let i = o; i < end; ++i) out[i] = a[i + d] / s; return;
      default:
        for (let i = o; i < end; ++i) {
          const t = a[i + d] - s;
          out[i] = t * t;
        }
        return;
    }
  }
  // Both sides constant along the run (only for runs of length 1 after collapsing).
  const x = a[ai], y = b[bi];
  let v: number;
  switch (op) {
    case BinOp.Add: v = x + y; break;
    case BinOp.Sub: v = x - y; break;
    case BinOp.Mul: v = x * y; break;
    case BinOp.Div: v = x / y; break;
    default: v = (x - y) * (x - y);
  }
  out.fill(v, o, end);
}

/**
 * op(a, b) with numpy broadcasting, for float32 arrays of shapes aShape and bShape (any rank).
 * Returns the output values and shape. Exported for tests and benchmarks.
 */
export function binaryBroadcast(
  name: BinaryKernelName, a: Float32Array, aShape: number[], b: Float32Array, bShape: number[],
): { values: Float32Array; shape: number[] } {
  const op = BINARY[name];
  const shape = tf.backend_util.assertAndGetBroadcastShape(aShape, bShape);
  const R = shape.length;
  let size = 1;
  for (const n of shape) size *= n;
  const out = new Float32Array(size);
  if (size === 0) return { values: out, shape };
  let aSize = 1, bSize = 1;
  for (const n of aShape) aSize *= n;
  for (const n of bShape) bSize *= n;
  if (aSize === size && bSize === size) {
    binaryRun(op, out, 0, a, 0, 1, b, 0, 1, size);
    return { values: out, shape };
  }
  if (aSize === 1 || bSize === 1) {
    binaryRun(op, out, 0, a, 0, aSize === 1 ? 0 : 1, b, 0, bSize === 1 ? 0 : 1, size);
    return { values: out, shape };
  }
  // Collapse into dims (n, a broadcast?, b broadcast?), dropping size-1 dims and merging neighbours
  // that broadcast alike.
  const dims: number[] = [], aB: boolean[] = [], bB: boolean[] = [];
  for (let d = 0; d < R; ++d) {
    const n = shape[d];
    if (n === 1) continue;
    const ad = d - (R - aShape.length), bd = d - (R - bShape.length);
    const ab = ad < 0 || aShape[ad] === 1, bb = bd < 0 || bShape[bd] === 1;
    const k = dims.length - 1;
    if (k >= 0 && aB[k] === ab && bB[k] === bb) dims[k] *= n;
    else {
      dims.push(n);
      aB.push(ab);
      bB.push(bb);
    }
  }
  const D = dims.length;
  // Strides of the collapsed dims in a and b (0 where broadcast).
  const aSt = new Array<number>(D), bSt = new Array<number>(D);
  let as = 1, bs = 1;
  for (let k = D - 1; k >= 0; --k) {
    aSt[k] = aB[k] ? 0 : as;
    bSt[k] = bB[k] ? 0 : bs;
    if (!aB[k]) as *= dims[k];
    if (!bB[k]) bs *= dims[k];
  }
  const n = dims[D - 1];
  const runs = size / n;
  const idx = new Array<number>(D).fill(0);
  let ai = 0, bi = 0;
  for (let r = 0, o = 0; r < runs; ++r, o += n) {
    binaryRun(op, out, o, a, ai, aSt[D - 1], b, bi, bSt[D - 1], n);
    // Advance the odometer over the outer dims.
    for (let k = D - 2; k >= 0; --k) {
      ai += aSt[k];
      bi += bSt[k];
      if (++idx[k] < dims[k]) break;
      ai -= aSt[k] * dims[k];
      bi -= bSt[k] * dims[k];
      idx[k] = 0;
    }
  }
  return { values: out, shape };
}

const BINARY: Record<BinaryKernelName, BinOp> = {
  Add: BinOp.Add,
  Sub: BinOp.Sub,
  Multiply: BinOp.Mul,
  RealDiv: BinOp.Div,
  SquaredDifference: BinOp.SqDiff,
};

function binaryKernel(name: BinaryKernelName) {
  return (args: KernelArgs): TensorInfo | TensorInfo[] => {
    const { a, b } = args.inputs;
    const av = f32(args.backend, a), bv = f32(args.backend, b);
    if (av == null || bv == null) return callOriginal(name, args);
    const { values, shape } = binaryBroadcast(name, av, a.shape, bv, b.shape);
    return args.backend.makeTensorInfo(shape, 'float32', values);
  };
}

// ------------------------------------------------------------------------------------------------
// Unary kernels: Sigmoid, Exp (same formulas as the originals, without the per-element closure)

function unaryKernel(name: 'Sigmoid' | 'Exp') {
  return (args: KernelArgs): TensorInfo | TensorInfo[] => {
    const x = args.inputs.x;
    const v = f32(args.backend, x);
    if (v == null) return callOriginal(name, args);
    const out = new Float32Array(v.length);
    if (name === 'Sigmoid') for (let i = 0; i < v.length; ++i) out[i] = 1 / (1 + Math.exp(-v[i]));
    else for (let i = 0; i < v.length; ++i) out[i] = Math.exp(v[i]);
    return args.backend.makeTensorInfo(x.shape, 'float32', out);
  };
}

// ------------------------------------------------------------------------------------------------
// Slice and PadV2: the cpu backend copies element by element through TensorBuffer.get / indexToLoc
// (3 ms to slice [1,20,20,12] to 16x16 in tf.pad's gradient). Both are copies of contiguous runs:
// everything from the last dimension that is sliced (padded) on is one run in both arrays.

/** Copy `run` floats from src[s..] to dst[d..]. */
function copyRun(dst: Float32Array, d: number, src: Float32Array, s: number, run: number): void {
  if (run >= 64) dst.set(src.subarray(s, s + run), d);
  else for (let i = 0; i < run; ++i) dst[d + i] = src[s + i];
}

/**
 * For every index over dims [0, last) of `shape` (in order), call fn(srcOffset, dstOffset) where the
 * offsets advance by srcStrides / dstStrides. Used by slice and pad.
 */
function forOuter(
  shape: number[], last: number, srcStrides: number[], dstStrides: number[], s0: number, d0: number,
  fn: (s: number, d: number) => void,
): void {
  let count = 1;
  for (let k = 0; k < last; ++k) count *= shape[k];
  if (count === 0) return;
  const idx = new Array<number>(last).fill(0);
  let s = s0, d = d0;
  for (let r = 0; r < count; ++r) {
    fn(s, d);
    for (let k = last - 1; k >= 0; --k) {
      s += srcStrides[k];
      d += dstStrides[k];
      if (++idx[k] < shape[k]) break;
      s -= srcStrides[k] * shape[k];
      d -= dstStrides[k] * shape[k];
      idx[k] = 0;
    }
  }
}

function stridesOf(shape: number[]): number[] {
  const st = new Array<number>(shape.length);
  let s = 1;
  for (let k = shape.length - 1; k >= 0; --k) {
    st[k] = s;
    s *= shape[k];
  }
  return st;
}

/** x[begin : begin + size] for float32 x of the given shape (any rank). Exported for tests. */
export function sliceF32(x: Float32Array, shape: number[], begin: number[], size: number[]): Float32Array {
  const R = shape.length;
  let total = 1;
  for (const n of size) total *= n;
  const out = new Float32Array(total);
  if (total === 0) return out;
  // Last dim that is cut; from it on every slice row is contiguous in x.
  let last = R - 1;
  while (last >= 0 && begin[last] === 0 && size[last] === shape[last]) --last;
  if (last < 0) {
    out.set(x.subarray(0, total));
    return out;
  }
  let run = 1;
  for (let k = last; k < R; ++k) run *= size[k];
  const xs = stridesOf(shape), os = stridesOf(size);
  let s0 = 0;
  for (let k = 0; k < R; ++k) s0 += begin[k] * xs[k];
  forOuter(size, last, xs, os, s0, 0, (s, d) => copyRun(out, d, x, s, run));
  return out;
}

function fastSlice(args: KernelArgs): TensorInfo | TensorInfo[] {
  const { inputs, backend, attrs } = args;
  const x = inputs.x;
  const xv = f32(backend, x);
  if (xv == null || x.shape.length === 0) return callOriginal('Slice', args);
  const [begin, size] = tf.slice_util.parseSliceParams(
    x as unknown as Parameters<typeof tf.slice_util.parseSliceParams>[0],
    attrs.begin as number | number[],
    attrs.size as number | number[],
  );
  tf.slice_util.assertParamsValid(x as unknown as Parameters<typeof tf.slice_util.assertParamsValid>[0], begin, size);
  return backend.makeTensorInfo(size, 'float32', sliceF32(xv, x.shape, begin, size));
}

/** Constant padding of float32 x (any rank). Exported for tests. */
export function padF32(x: Float32Array, shape: number[], paddings: [number, number][], value: number): { values: Float32Array; shape: number[] } {
  const R = shape.length;
  const outShape = shape.map((n, k) => paddings[k][0] + n + paddings[k][1]);
  let total = 1;
  for (const n of outShape) total *= n;
  const out = new Float32Array(total);
  if (value !== 0) out.fill(value);
  if (x.length === 0) return { values: out, shape: outShape };
  let last = R - 1;
  while (last >= 0 && paddings[last][0] === 0 && paddings[last][1] === 0) --last;
  if (last < 0) {
    out.set(x);
    return { values: out, shape: outShape };
  }
  let run = 1;
  for (let k = last; k < R; ++k) run *= shape[k];
  const xs = stridesOf(shape), os = stridesOf(outShape);
  let d0 = 0;
  for (let k = 0; k < R; ++k) d0 += paddings[k][0] * os[k];
  forOuter(shape, last, xs, os, 0, d0, (s, d) => copyRun(out, d, x, s, run));
  return { values: out, shape: outShape };
}

function fastPadV2(args: KernelArgs): TensorInfo | TensorInfo[] {
  const { inputs, backend, attrs } = args;
  const x = inputs.x;
  const xv = f32(backend, x);
  const paddings = attrs.paddings as unknown as [number, number][];
  if (xv == null || !Array.isArray(paddings) || paddings.length !== x.shape.length) return callOriginal('PadV2', args);
  const { values, shape } = padF32(xv, x.shape, paddings, Number(attrs.constantValue));
  return backend.makeTensorInfo(shape, 'float32', values);
}

// ------------------------------------------------------------------------------------------------
// Transpose: the original maps every element through indexToLoc / locToIndex.

/** Transpose of float32 x of the given shape by perm (any rank). Exported for tests. */
export function transposeF32(x: Float32Array, shape: number[], perm: number[]): { values: Float32Array; shape: number[] } {
  const R = shape.length;
  const outShape = perm.map((p) => shape[p]);
  const out = new Float32Array(x.length);
  if (x.length === 0) return { values: out, shape: outShape };
  const xs = stridesOf(shape);
  // Output dims (size > 1) with the matching input stride.
  const dims: number[] = [], st: number[] = [];
  for (let k = 0; k < R; ++k) {
    if (outShape[k] === 1) continue;
    dims.push(outShape[k]);
    st.push(xs[perm[k]]);
  }
  const D = dims.length;
  if (D === 0) {
    out[0] = x[0];
    return { values: out, shape: outShape };
  }
  const n = dims[D - 1], step = st[D - 1];
  forOuter(dims, D - 1, st, stridesOf(dims), 0, 0, (s, d) => {
    for (let i = 0; i < n; ++i, s += step) out[d + i] = x[s];
  });
  return { values: out, shape: outShape };
}

function fastTranspose(args: KernelArgs): TensorInfo | TensorInfo[] {
  const { inputs, backend, attrs } = args;
  const x = inputs.x;
  const xv = f32(backend, x);
  const perm = attrs.perm as number[];
  if (xv == null || !Array.isArray(perm) || perm.length !== x.shape.length) return callOriginal('Transpose', args);
  const { values, shape } = transposeF32(xv, x.shape, perm);
  return backend.makeTensorInfo(shape, 'float32', values);
}

// ------------------------------------------------------------------------------------------------
// Sum: the original transposes the reduced axes innermost (element by element, see Transpose) and
// then sums each row in float64. We handle the two layouts that need no transpose, summing every
// output in the same order and precision (bit-identical): the reduced axes are the innermost ones
// (row sums, e.g. a full reduction), or they are the leading ones (column sums, e.g. a bias
// gradient [N,H,W,C] -> [C]). Other axis sets go to the original.

/** Sum of float32 x over the given (ascending, unique) axes, or null if the layout is not handled. */
export function sumF32(x: Float32Array, shape: number[], axes: number[]): Float32Array | null {
  const R = shape.length;
  const red = new Array<boolean>(R).fill(false);
  for (const ax of axes) red[ax] = true;
  // Group the dims (ignoring size-1 dims) into runs of reduced / kept.
  let outer = 1, inner = 1;
  let pattern = '';
  for (let k = 0; k < R; ++k) {
    if (shape[k] === 1) continue;
    const c = red[k] ? 'r' : 'k';
    if (pattern[pattern.length - 1] !== c) pattern += c;
    if (pattern.length === 1) outer *= shape[k];
    else inner *= shape[k];
  }
  let size = 1;
  for (const n of shape) size *= n;
  if (pattern === '' || pattern === 'k') {
    // Only size-1 dims reduced: every output is a sum of one element (0 + x, as the original: -0 -> 0).
    const out = new Float32Array(size);
    for (let i = 0; i < size; ++i) out[i] = 0 + x[i];
    return out;
  }
  if (pattern === 'r') {
    let s = 0;
    for (let i = 0; i < size; ++i) s += x[i];
    return Float32Array.of(s);
  }
  if (pattern === 'kr') {
    // outer kept, inner reduced: row sums
    const out = new Float32Array(outer);
    for (let r = 0, o = 0; r < outer; ++r) {
      let s = 0;
      const end = o + inner;
      for (; o < end; ++o) s += x[o];
      out[r] = s;
    }
    return out;
  }
  if (pattern === 'rk') {
    // outer reduced, inner kept: column sums, each column in the same order as a row sum
    const acc = new Float64Array(inner);
    for (let r = 0, o = 0; r < outer; ++r, o += inner) {
      for (let j = 0; j < inner; ++j) acc[j] += x[o + j];
    }
    return Float32Array.from(acc);
  }
  return null;
}

function fastSum(args: KernelArgs): TensorInfo | TensorInfo[] {
  const { inputs, backend, attrs } = args;
  const x = inputs.x;
  const xv = f32(backend, x);
  if (xv == null) return callOriginal('Sum', args);
  const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape);
  for (let k = 1; k < axes.length; ++k) if (!(axes[k] > axes[k - 1])) return callOriginal('Sum', args);
  const values = sumF32(xv, x.shape, axes);
  if (values == null) return callOriginal('Sum', args);
  const kept = x.shape.filter((_, k) => axes.indexOf(k) < 0);
  const shape = attrs.keepDims ? tf.backend_util.expandShapeToKeepDim(kept, axes) : kept;
  return backend.makeTensorInfo(shape, 'float32', values);
}

// ------------------------------------------------------------------------------------------------
// BatchMatMul: the original walks 48x48x48 blocks with strided loads. We keep its exact arithmetic
// (for every output, the products over each block of 48 shared indices are summed in float64 in
// order and added to the float32 output), so results are bit-identical, but loop in cache order:
// for a non-transposed b, a row of products is accumulated along b's contiguous rows; for a
// transposed b, each output is a dot product of two contiguous runs.

/** The matmul of a 3-D view; strides as in the cpu backend. Exported for tests. */
export function batchMatMulF32(
  a: Float32Array, b: Float32Array, batchA: number, batchB: number,
  M: number, K: number, N: number, transposeA: boolean, transposeB: boolean, blockSize: number,
): Float32Array {
  const batch = Math.max(batchA, batchB);
  const aBatch = M * K, bBatch = K * N;
  const aOuter = transposeA ? 1 : K, aInner = transposeA ? M : 1;
  const out = new Float32Array(batch * M * N);
  if (!transposeB && K <= blockSize) {
    // One block (e.g. the outer product x^T dy of a dense layer's weight gradient): per output, one
    // float64 sum over k added to 0.
    for (let bi = 0; bi < batch; ++bi) {
      const aBase = (bi % batchA) * aBatch, bBase = (bi % batchB) * bBatch;
      for (let i = 0; i < M; ++i) {
        const o = (bi * M + i) * N;
        const ai = aBase + i * aOuter;
        if (K === 1) {
          const a0 = a[ai];
          for (let j = 0; j < N; ++j) out[o + j] = 0 + a0 * b[bBase + j];
          continue;
        }
        for (let j = 0; j < N; ++j) {
          let s = 0;
          for (let k = 0, bk = bBase + j; k < K; ++k, bk += N) s += a[ai + k * aInner] * b[bk];
          out[o + j] = 0 + s;
        }
      }
    }
  } else if (!transposeB) {
    // b[k, j] at k*N + j
    const tmp = new Float64Array(N);
    for (let bi = 0; bi < batch; ++bi) {
      const aBase = (bi % batchA) * aBatch, bBase = (bi % batchB) * bBatch;
      for (let i = 0; i < M; ++i) {
        const o = (bi * M + i) * N;
        const ai = aBase + i * aOuter;
        for (let k0 = 0; k0 < K; k0 += blockSize) {
          const k1 = Math.min(k0 + blockSize, K);
          tmp.fill(0);
          let k = k0;
          for (; k + 3 < k1; k += 4) {
            const a0 = a[ai + k * aInner], a1 = a[ai + (k + 1) * aInner], a2 = a[ai + (k + 2) * aInner], a3 = a[ai + (k + 3) * aInner];
            const r0 = bBase + k * N, r1 = r0 + N, r2 = r1 + N, r3 = r2 + N;
            for (let j = 0; j < N; ++j) {
              let t = tmp[j];
              t += a0 * b[r0 + j];
              t += a1 * b[r1 + j];
              t += a2 * b[r2 + j];
              t += a3 * b[r3 + j];
              tmp[j] = t;
            }
          }
          for (; k < k1; ++k) {
            const a0 = a[ai + k * aInner], r0 = bBase + k * N;
            for (let j = 0; j < N; ++j) tmp[j] += a0 * b[r0 + j];
          }
          for (let j = 0; j < N; ++j) out[o + j] += tmp[j];
        }
      }
    }
  } else {
    // b[k, j] at j*K + k: each output is a dot product along two runs
    for (let bi = 0; bi < batch; ++bi) {
      const aBase = (bi % batchA) * aBatch, bBase = (bi % batchB) * bBatch;
      for (let i = 0; i < M; ++i) {
        const o = (bi * M + i) * N;
        const ai = aBase + i * aOuter;
        let j = 0;
        if (aInner === 1) {
          // 4 outputs at a time share the loads of a
          for (; j + 3 < N; j += 4) {
            const b0 = bBase + j * K, b1 = b0 + K, b2 = b1 + K, b3 = b2 + K;
            let c0 = 0, c1 = 0, c2 = 0, c3 = 0; // the float32 outputs, kept exactly
            for (let k0 = 0; k0 < K; k0 += blockSize) {
              const k1 = Math.min(k0 + blockSize, K);
              let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
              for (let k = k0; k < k1; ++k) {
                const av = a[ai + k];
                s0 += av * b[b0 + k];
                s1 += av * b[b1 + k];
                s2 += av * b[b2 + k];
                s3 += av * b[b3 + k];
              }
              c0 = Math.fround(c0 + s0);
              c1 = Math.fround(c1 + s1);
              c2 = Math.fround(c2 + s2);
              c3 = Math.fround(c3 + s3);
            }
            out[o + j] = c0;
            out[o + j + 1] = c1;
            out[o + j + 2] = c2;
            out[o + j + 3] = c3;
          }
        }
        for (; j < N; ++j) {
          const bj = bBase + j * K;
          let acc = 0; // the float32 output, kept exactly
          for (let k0 = 0; k0 < K; k0 += blockSize) {
            const k1 = Math.min(k0 + blockSize, K);
            let s = 0;
            if (aInner === 1) for (let k = k0; k < k1; ++k) s += a[ai + k] * b[bj + k];
            else for (let k = k0; k < k1; ++k) s += a[ai + k * aInner] * b[bj + k];
            acc = Math.fround(acc + s);
          }
          out[o + j] = acc;
        }
      }
    }
  }
  return out;
}

function fastBatchMatMul(args: KernelArgs): TensorInfo | TensorInfo[] {
  const { inputs, backend, attrs } = args;
  const a = inputs.a, b = inputs.b;
  const av = f32(backend, a), bv = f32(backend, b);
  if (av == null || bv == null || a.shape.length < 2 || b.shape.length < 2) return callOriginal('BatchMatMul', args);
  const transposeA = !!attrs.transposeA, transposeB = !!attrs.transposeB;
  const ar = a.shape.length, br = b.shape.length;
  const K = transposeA ? a.shape[ar - 2] : a.shape[ar - 1];
  const Kb = transposeB ? b.shape[br - 1] : b.shape[br - 2];
  const M = transposeA ? a.shape[ar - 1] : a.shape[ar - 2];
  const N = transposeB ? b.shape[br - 2] : b.shape[br - 1];
  const outerA = a.shape.slice(0, -2), outerB = b.shape.slice(0, -2);
  const batchA = outerA.reduce((p, q) => p * q, 1), batchB = outerB.reduce((p, q) => p * q, 1);
  if (K !== Kb || batchA === 0 || batchB === 0) return callOriginal('BatchMatMul', args); // original's errors
  const outOuter = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  // The original pairs batch bi with bi % batchA, bi % batchB; only the cases where that is the
  // broadcast are taken here.
  if (outOuter.reduce((p, q) => p * q, 1) !== Math.max(batchA, batchB)) return callOriginal('BatchMatMul', args);
  const blockSize = (backend as unknown as { blockSize?: number }).blockSize ?? 48;
  const values = batchMatMulF32(av, bv, batchA, batchB, M, K, N, transposeA, transposeB, blockSize);
  return backend.makeTensorInfo([...outOuter, M, N], 'float32', values);
}

// ------------------------------------------------------------------------------------------------
// Registration

const FAST: Record<FastKernelName, (args: KernelArgs) => TensorInfo | TensorInfo[]> = {
  Conv2D: fastConv2D,
  Conv2DBackpropInput: fastConv2DBackpropInput,
  Conv2DBackpropFilter: fastConv2DBackpropFilter,
  Add: binaryKernel('Add'),
  Sub: binaryKernel('Sub'),
  Multiply: binaryKernel('Multiply'),
  RealDiv: binaryKernel('RealDiv'),
  SquaredDifference: binaryKernel('SquaredDifference'),
  Sigmoid: unaryKernel('Sigmoid'),
  Exp: unaryKernel('Exp'),
  Slice: fastSlice,
  PadV2: fastPadV2,
  Transpose: fastTranspose,
  Sum: fastSum,
  BatchMatMul: fastBatchMatMul,
};

function registered(name: FastKernelName): KernelConfig | undefined {
  return tf.getKernel(name, BACKEND);
}

function isFast(name: FastKernelName): boolean {
  return registered(name)?.kernelFunc === (FAST[name] as unknown as KernelFunc);
}

/** True while all the fast kernels (or the named ones) are the ones registered for the cpu backend. */
export function fastKernelsInstalled(names: readonly FastKernelName[] = FAST_KERNEL_NAMES): boolean {
  return names.every(isFast);
}

/**
 * Replace the cpu backend's kernels listed in FAST_KERNEL_NAMES (or only the named ones) with the
 * fast ones. Does nothing unless the active backend is 'cpu'; calling it again is harmless.
 */
export function installFastKernels(names: readonly FastKernelName[] = FAST_KERNEL_NAMES): void {
  if (tf.getBackend() !== BACKEND) return;
  for (const name of names) {
    const current = registered(name);
    if (current == null) continue;
    if (current.kernelFunc === (FAST[name] as unknown as KernelFunc)) continue;
    originals.set(name, current);
    tf.unregisterKernel(name, BACKEND);
    tf.registerKernel({ ...current, kernelFunc: FAST[name] as unknown as KernelFunc });
  }
}

/** Put the cpu backend's original kernels back (for comparisons and benchmarks). */
export function uninstallFastKernels(names: readonly FastKernelName[] = FAST_KERNEL_NAMES): void {
  for (const name of names) {
    const saved = originals.get(name);
    const current = registered(name);
    if (saved == null || current == null) continue;
    if (current.kernelFunc !== (FAST[name] as unknown as KernelFunc)) continue;
    tf.unregisterKernel(name, BACKEND);
    tf.registerKernel(saved);
  }
}

/**
 * The cpu backend's original kernelFunc for one of the replaced kernels (the saved one once the fast
 * kernels are installed). For tests and benchmarks.
 */
export function originalKernelFunc(name: FastKernelName): KernelFunc {
  return original(name).kernelFunc;
}

/** The fast kernelFunc for one of the replaced kernels, whether installed or not. */
export function fastKernelFunc(name: FastKernelName): KernelFunc {
  return FAST[name] as unknown as KernelFunc;
}
