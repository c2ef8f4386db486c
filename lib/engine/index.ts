/**
 * The engine every computation of the toolkit runs on: one `tf` (backend.ts) and two fixes to it:
 *   - twice.ts: gradients that are correct at second order (DLG differentiates a gradient);
 *   - kernels.ts: fast flat-loop CPU kernels for what the attack hammers (pure-JS backend only), the
 *     convolutions on the WebAssembly SIMD kernels of wasm.ts / wasm-conv.ts where they load;
 * and, beside tfjs, the fused DLG objective of conv stacks (fused.ts, on the same wasm kernels).
 *
 * Importing this module changes nothing. `useEngine()` applies the fixes (once; later calls are free)
 * and is called by the library where they matter: every model factory (lib/models) and every function
 * that differentiates a loss (parameterGradients, the attacks' objectives). A script that builds its own
 * tfjs computation and needs second-order gradients calls `useEngine()` first.
 * DLG_FAST_KERNELS=0 keeps tfjs's stock CPU kernels (for benchmarks and cross-checks); DLG_WASM=0
 * keeps the JS kernels instead of the wasm ones (fast conv kernels and fused objective).
 */
import { tf, backendInfo, backendName } from './backend';
import { installTwiceDifferentiableGradients } from './twice';
import { installFastKernels, fastKernelsInstalled } from './kernels';
import { wasmStatus } from './wasm';

let ready = false;

/** Apply the engine's fixes to `tf` (idempotent) and return it. */
export function useEngine(): typeof tf {
  if (!ready) {
    installTwiceDifferentiableGradients();
    if (process.env.DLG_FAST_KERNELS !== '0') installFastKernels();
    ready = true;
  }
  return tf;
}

/** Whether useEngine() has run in this process. */
export function engineReady(): boolean {
  return ready;
}

/** e.g. "cpu (pure JS ...); fast kernels on; wasm SIMD kernels on" (applies the engine first). */
export function engineInfo(): string {
  useEngine();
  const wasm = wasmStatus();
  return `${backendInfo()}; fast kernels ${fastKernelsInstalled() ? 'on' : 'off'}; wasm SIMD kernels ${wasm.available ? 'on' : `off (${wasm.reason})`}`;
}

export { tf, backendInfo, backendName };
