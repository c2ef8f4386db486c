/**
 * Faster replacements for the pure-JS CPU backend's convolution kernels.
 *
 * The attack evaluates a second-order objective of a small LeNet thousands of times; on the
 * `@tensorflow/tfjs-backend-cpu` backend most of that time goes into the three convolution kernels
 * `Conv2D`, `Conv2DBackpropInput` and `Conv2DBackpropFilter` (the last one indexes through the generic
 * `TensorBuffer.get`). `installFastKernels()` swaps them, on the 'cpu' backend only, for flat
 * Float32Array loops that keep a small block of accumulators in registers:
 *
 *  - Conv2D: for every output pixel, the input window of one filter row is one contiguous run of
 *    `(valid filter columns) * inChannels` floats in NHWC, and so is the matching run of the filter
 *    once it is transposed to [outChannel][fh][fw][inChannel]; tiles of 2 neighbouring output pixels x
 *    4 output channels share their loads.
 *  - Conv2DBackpropFilter: for every filter tap (fy, fx) the gradient block dW[fy, fx, :, :] is a sum
 *    of outer products x[p, :] (x) dy[p, :] over the output positions p that tap touches; it is
 *    accumulated in register tiles of (up to) 3 input x 4 output channels.
 *  - Conv2DBackpropInput: the same decomposition in the other direction, dx[p', :] += W[fy, fx] dy[p, :],
 *    with tiles of 2 output positions x 4 (or 3) input channels, accumulated into dx per tap.
 *
 * Only NHWC, dilation 1 and float32 are handled here; anything else (NCHW, dilations, other dtypes)
 * is passed on to the original kernel, whose config is kept so that `uninstallFastKernels()` can put
 * it back. Output shapes and padding come from `backend_util.computeConv2DInfo`, called exactly as
 * the original kernels call it. Dot products accumulate in float64 (JS numbers); results agree with
 * the originals to float32 rounding (relative error ~1e-7; tested < 1e-5 in test/kernels.test.ts).
 * Typical speed-ups on the LeNet shapes (node dist/lib/cli/bench-kernels.js): Conv2DBackpropFilter
 * ~300x, Conv2D ~4-5x, Conv2DBackpropInput ~3-4x (~2x for 1-channel inputs).
 */
import type { KernelConfig, KernelFunc, TensorInfo, NamedAttrMap } from '@tensorflow/tfjs';
import { tf } from './backend';

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
const KERNELS = ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'] as const;
type ConvKernelName = (typeof KERNELS)[number];

/** The cpu backend's own configs, saved by installFastKernels(). */
const originals = new Map<ConvKernelName, KernelConfig>();

function original(name: ConvKernelName): KernelConfig {
  const cfg = originals.get(name) ?? tf.getKernel(name, BACKEND);
  if (cfg == null) throw new Error(`kernels: no original ${name} kernel for backend ${BACKEND}`);
  return cfg;
}

function callOriginal(name: ConvKernelName, args: KernelArgs): TensorInfo | TensorInfo[] {
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

// ------------------------------------------------------------------------------------------------
// Conv2D

/**
 * y = conv2d(x, w) for NHWC x, HWIO w, dilation 1. Exported for tests and benchmarks.
 *
 * Per output pixel and filter row, the input window is one contiguous run of
 * (valid filter columns) * inChannels floats, matched by a contiguous run of the filter transposed to
 * [co][fy][fx][ci]. Tiles of 2 horizontally adjacent output pixels x 4 output channels share loads.
 */
export function conv2dForward(x: Float32Array, w: Float32Array, info: Conv2DInfo): Float32Array {
  const B = info.batchSize, H = info.inHeight, W = info.inWidth, CI = info.inChannels;
  const OH = info.outHeight, OW = info.outWidth, CO = info.outChannels;
  const FH = info.filterHeight, FW = info.filterWidth, SH = info.strideHeight, SW = info.strideWidth;
  const pt = info.padInfo.top, pl = info.padInfo.left;
  const K = FH * FW * CI, rowK = FW * CI, xRow = W * CI, xStep = SW * CI;
  const wt = new Float32Array(CO * K);
  for (let k = 0; k < K; ++k) {
    const src = k * CO;
    for (let co = 0; co < CO; ++co) wt[co * K + k] = w[src + co];
  }
  const y = new Float32Array(B * OH * OW * CO);
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
  return backend.makeTensorInfo(info.outShape, 'float32', conv2dForward(xv, wv, info));
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
export function conv2dBackpropFilter(x: Float32Array, dy: Float32Array, info: Conv2DInfo): Float32Array {
  const B = info.batchSize, H = info.inHeight, W = info.inWidth, CI = info.inChannels;
  const OH = info.outHeight, OW = info.outWidth, CO = info.outChannels;
  const FH = info.filterHeight, FW = info.filterWidth, SH = info.strideHeight, SW = info.strideWidth;
  const pt = info.padInfo.top, pl = info.padInfo.left;
  const dW = new Float32Array(FH * FW * CI * CO);
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
  return backend.makeTensorInfo(info.filterShape, 'float32', conv2dBackpropFilter(xv, dyv, info));
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
export function conv2dBackpropInput(dy: Float32Array, w: Float32Array, info: Conv2DInfo): Float32Array {
  const B = info.batchSize, H = info.inHeight, W = info.inWidth, CI = info.inChannels;
  const OH = info.outHeight, OW = info.outWidth, CO = info.outChannels;
  const FH = info.filterHeight, FW = info.filterWidth, SH = info.strideHeight, SW = info.strideWidth;
  const pt = info.padInfo.top, pl = info.padInfo.left;
  const dx = new Float32Array(B * H * W * CI);
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
  return backend.makeTensorInfo(info.inShape, 'float32', conv2dBackpropInput(dyv, wv, info));
}

// ------------------------------------------------------------------------------------------------
// Registration

const FAST: Record<ConvKernelName, (args: KernelArgs) => TensorInfo | TensorInfo[]> = {
  Conv2D: fastConv2D,
  Conv2DBackpropInput: fastConv2DBackpropInput,
  Conv2DBackpropFilter: fastConv2DBackpropFilter,
};

function registered(name: ConvKernelName): KernelConfig | undefined {
  return tf.getKernel(name, BACKEND);
}

/** True while all three fast kernels are the ones registered for the cpu backend. */
export function fastKernelsInstalled(): boolean {
  return KERNELS.every((name) => registered(name)?.kernelFunc === (FAST[name] as unknown as KernelFunc));
}

/**
 * Replace the cpu backend's Conv2D, Conv2DBackpropInput and Conv2DBackpropFilter kernels with the
 * fast ones. Does nothing unless the active backend is 'cpu'; calling it again is harmless.
 */
export function installFastKernels(): void {
  if (tf.getBackend() !== BACKEND) return;
  for (const name of KERNELS) {
    const current = registered(name);
    if (current == null) continue;
    if (current.kernelFunc === (FAST[name] as unknown as KernelFunc)) continue;
    originals.set(name, current);
    tf.unregisterKernel(name, BACKEND);
    tf.registerKernel({ ...current, kernelFunc: FAST[name] as unknown as KernelFunc });
  }
}

/** Put the cpu backend's original kernels back (for comparisons and benchmarks). */
export function uninstallFastKernels(): void {
  for (const name of KERNELS) {
    const saved = originals.get(name);
    const current = registered(name);
    if (saved == null || current == null) continue;
    if (current.kernelFunc !== (FAST[name] as unknown as KernelFunc)) continue;
    tf.unregisterKernel(name, BACKEND);
    tf.registerKernel(saved);
  }
}

/**
 * The cpu backend's original kernelFunc for one of the three kernels (the saved one once the fast
 * kernels are installed). For tests and benchmarks.
 */
export function originalKernelFunc(name: ConvKernelName): KernelFunc {
  return original(name).kernelFunc;
}

/** The fast kernelFunc for one of the three kernels, whether installed or not. */
export function fastKernelFunc(name: ConvKernelName): KernelFunc {
  return FAST[name] as unknown as KernelFunc;
}
