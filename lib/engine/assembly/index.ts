/**
 * The wasm module behind lib/engine/wasm.ts (AssemblyScript, 128-bit SIMD; built by `npm run build`
 * into dist/lib/engine/kernels.wasm). Raw pointers into one linear memory that the JS side lays out:
 * no allocator, no garbage collector (runtime "stub"), no imports.
 */
export { gemm, gemmNT } from './gemm';
export { im2col, im2colRows, col2im, transpose } from './conv';
export { biasActivate, activationGrad, addActivationGrad, secondOrder, squaredDistance, biasDistance, toFloat32, toFloat64 } from './pointwise';
export { lossForward, lossAdjoint, LOSS_RECORD_LENGTH } from './loss';
export { lbfgsDirection, lbfgsDirection32, vecDot, vecAxpy, vecAddScaled, vecMaxAbs, vecPair, vecPair32 } from './lbfgs';
export { dots4 } from './decoder';
export { matMulTB64 } from './dense';

/** Bumped whenever an export changes meaning or signature: the loader refuses a stale build. */
export const ABI_VERSION = 8;

/** First byte after the module's own static data: the JS side lays its buffers out from here. */
export function heapBase(): usize {
  return __heap_base;
}
