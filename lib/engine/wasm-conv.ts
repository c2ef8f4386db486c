/**
 * The three convolutions of tfjs (NHWC x and dy, HWIO filters, dilation 1, any strides and padding)
 * on the wasm SIMD kernels, for the fast cpu-backend kernels of kernels.ts (and so for every model
 * that runs through tfjs autodiff on the pure-JS backend, e.g. a ResNet):
 *   conv2d(x, W)            = gemm(col(x), W)                 col(x): im2col, [P, KK]
 *   backpropFilter(x, dy)   = gemm(col(x)^T, dy)
 *   backpropInput(dy, W)    = col2im(gemm(dy, W^T))
 * (P = batch * output pixels, KK = filter height * width * in-channels.) A 1x1 convolution with stride
 * 1 and no padding skips im2col / col2im (col(x) is x). Inputs are copied into this thread's wasm
 * memory and the result out into a new Float32Array (tfjs owns it); the memory grows to the largest
 * convolution seen (its im2col matrix: 4 * P * KK bytes) and stays. Float32 accumulation (blocks of
 * 64 products); the JS kernels accumulate in float64. Each function returns null where the wasm
 * kernels are not available (DLG_WASM=0, or no built module): the caller runs the JS kernel.
 */
import { wasmRuntime, geometryRecord } from './wasm';
import type { WasmRuntime } from './wasm';
import { tf } from './backend';

type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

/** The owner token of these kernels in the shared wasm workspace (lib/engine/wasm.ts). */
const owner = {};

interface Geometry {
  P: number;
  KK: number;
  CO: number;
  nIn: number;
  /** 1x1, stride 1, no padding: the im2col matrix is the input itself. */
  pointwise: boolean;
  record: number[];
}

function geometry(info: Conv2DInfo): Geometry {
  const P = info.batchSize * info.outHeight * info.outWidth;
  const KK = info.filterHeight * info.filterWidth * info.inChannels;
  const pointwise = info.filterHeight === 1 && info.filterWidth === 1 && info.strideHeight === 1 && info.strideWidth === 1
    && info.padInfo.top === 0 && info.padInfo.left === 0 && info.outHeight === info.inHeight && info.outWidth === info.inWidth;
  return {
    P, KK, CO: info.outChannels, nIn: info.batchSize * info.inHeight * info.inWidth * info.inChannels, pointwise,
    record: geometryRecord(info),
  };
}

/** Byte offsets of consecutive 64-byte-aligned float32 buffers of the given lengths, and the total. */
function layout(...lengths: number[]): { at: number[]; bytes: number } {
  const at: number[] = [];
  let top = 0;
  for (const n of lengths) {
    at.push(top);
    top += Math.ceil((4 * n) / 64) * 64;
  }
  return { at, bytes: top };
}

/**
 * Claim the workspace for `bytes`, write the geometry record at its start; returns the base of the
 * buffers after it, or null where the wasm memory cannot hold them (over 4 GB: the JS kernel runs).
 */
function begin(rt: WasmRuntime, g: Geometry, bytes: number): number | null {
  let base: number;
  try {
    base = rt.claim(owner, 64 + bytes).base;
  } catch {
    return null;
  }
  rt.i32().set(g.record, base / 4);
  return base + 64;
}

/** y = conv2d(x, w) or null without the wasm kernels. */
export function conv2dWasm(x: Float32Array, w: Float32Array, info: Conv2DInfo): Float32Array | null {
  const rt = wasmRuntime();
  if (rt === null) return null;
  const g = geometry(info);
  const { at: [ax, aw, acol, ay], bytes } = layout(g.nIn, g.KK * g.CO, g.pointwise ? 0 : g.P * g.KK, g.P * g.CO);
  const b = begin(rt, g, bytes);
  if (b === null) return null;
  const f32 = rt.f32();
  f32.set(x, (b + ax) / 4);
  f32.set(w, (b + aw) / 4);
  const col = g.pointwise ? b + ax : b + acol;
  if (!g.pointwise) rt.exports.im2col(b + ax, b - 64, col);
  rt.exports.gemm(col, g.KK, 1, b + aw, g.CO, b + ay, g.CO, g.P, g.CO, g.KK, 0);
  return rt.f32().slice((b + ay) / 4, (b + ay) / 4 + g.P * g.CO);
}

/** dW = conv2dBackpropFilter(x, dy) (HWIO) or null without the wasm kernels. */
export function conv2dBackpropFilterWasm(x: Float32Array, dy: Float32Array, info: Conv2DInfo): Float32Array | null {
  const rt = wasmRuntime();
  if (rt === null) return null;
  const g = geometry(info);
  const { at: [ax, ady, acol, adw], bytes } = layout(g.nIn, g.P * g.CO, g.pointwise ? 0 : g.P * g.KK, g.KK * g.CO);
  const b = begin(rt, g, bytes);
  if (b === null) return null;
  const f32 = rt.f32();
  f32.set(x, (b + ax) / 4);
  f32.set(dy, (b + ady) / 4);
  const col = g.pointwise ? b + ax : b + acol;
  if (!g.pointwise) rt.exports.im2col(b + ax, b - 64, col);
  rt.exports.gemm(col, 1, g.KK, b + ady, g.CO, b + adw, g.CO, g.KK, g.CO, g.P, 0);
  return rt.f32().slice((b + adw) / 4, (b + adw) / 4 + g.KK * g.CO);
}

/** dx = conv2dBackpropInput(dy, w) or null without the wasm kernels. */
export function conv2dBackpropInputWasm(dy: Float32Array, w: Float32Array, info: Conv2DInfo): Float32Array | null {
  const rt = wasmRuntime();
  if (rt === null) return null;
  const g = geometry(info);
  const { at: [ady, aw, awt, acol, adx], bytes } = layout(g.P * g.CO, g.KK * g.CO, g.KK * g.CO, g.P * g.KK, g.pointwise ? 0 : g.nIn);
  const b = begin(rt, g, bytes);
  if (b === null) return null;
  const f32 = rt.f32();
  f32.set(dy, (b + ady) / 4);
  f32.set(w, (b + aw) / 4);
  rt.exports.transpose(b + aw, g.KK, g.CO, b + awt);
  rt.exports.gemm(b + ady, g.CO, 1, b + awt, g.KK, b + acol, g.KK, g.P, g.KK, g.CO, 0);
  const out = g.pointwise ? b + acol : b + adx;
  if (!g.pointwise) rt.exports.col2im(b + acol, b - 64, out);
  return rt.f32().slice(out / 4, out / 4 + g.nIn);
}
