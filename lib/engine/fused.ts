/**
 * The DLG objective of a conv-stack model (LeNet of the paper) and its gradient, in one call on
 * flat typed arrays: no tfjs ops, no tape, no per-call allocation.
 *
 * Why: on the pure-JS CPU backend one evaluation through tfjs autodiff is ~400 kernel launches at
 * 7-9 us of engine overhead each (lib/cli/profile-dlg.ts), more than the arithmetic itself. Here the
 * same numbers come from 19 convolutions (the routines of lib/engine/kernels.ts writing into preallocated
 * buffers) and a few flat loops. test/fused.test.ts checks the value and both gradients against the
 * tfjs autodiff path and the PyTorch golden values.
 *
 * Notation (one layer l = 1..L, NHWC activations, HWIO filters, batch B, classes K):
 *   forward   a_0 = x;  z_l = conv(a_{l-1}, W_l) + b_l;  a_l = s(z_l)        (s: the activation)
 *             f = flatten_NCHW(a_L);  o = f Wd + bd;  p = softmax(o)
 *             t = softmax(y') (joint label) or the given target (fixed label);  c_b = sum_k t_bk
 *   loss      L = (1/B) sum_b sum_k -t_bk log p_bk
 *   backward  e = dL/do = (p c - t) / B                       (c broadcast over k)
 *             G_d = f^T e,  g_d = sum_b e,  da_L = unflatten(e Wd^T)
 *             dz_l = da_l * s'(z_l);  G_l = bpFilter(a_{l-1}, dz_l);  g_l = sum_pixels dz_l;
 *             da_{l-1} = bpInput(dz_l, W_l)                  (l > 1)
 *   objective D = sum over the 2L+2 parameter tensors of ||G - S||^2 (S: the shared gradient);
 *             with distance 'cosine', 1 - cos(G, S) over all of them at once (fused-cosine.ts: it
 *             replaces D and the Gbar below after the backward pass; the rest is the same)
 *
 * Gradient of D (reverse mode through the backward pass, then through the forward pass). Bars are
 * adjoints dD/d(.); every parameter-gradient tensor starts with  Gbar = 2 (G - S).
 * The three convolution routines are linear in each argument and adjoint to one another:
 *   <conv(a, W), u> = <a, bpInput(u, W)> = <W, bpFilter(a, u)>,
 * so for  G = bpFilter(a, dz):  abar += bpInput(dz, Gbar),  dzbar += conv(a, Gbar);
 * and for da' = bpInput(dz, W):  dzbar += conv(da'bar, W)  (W is a constant of the attack).
 *   layers l = 1..L (reverse of the backward loop):
 *     dzbar_l  = conv(a_{l-1}, Gbar_l) + gbar_l + [l > 1] conv(dabar_{l-1}, W_l)
 *     abar_{l-1} += bpInput(dz_l, Gbar_l)                      (l = 1: part of xbar)
 *     dabar_l  = dzbar_l * s'(z_l);   zbar_l = dzbar_l * da_l * s''(z_l)
 *   dense and loss (dfbar = flatten_NCHW(dabar_L)):
 *     ebar  = gbar_d + dfbar Wd + f Gbar_d               fbar = e Gbar_d^T
 *     pbar  = ebar c / B;   cbar_b = sum_k ebar_bk p_bk / B;   tbar = -ebar / B + cbar
 *     obar  = p * (pbar - sum_k pbar p)                  (softmax vector-Jacobian product)
 *     y'bar = t * (tbar - sum_k tbar t)                  (joint label: the label half of the gradient)
 *     fbar += obar Wd^T
 *   forward pass reversed, l = L..1 (abar_L = unflatten(fbar)):
 *     zbar_l += abar_l * s'(z_l);   abar_{l-1} += bpInput(zbar_l, W_l);   xbar = abar_0
 * Activation derivatives from the stored output a = s(z):
 *   sigmoid s' = a (1 - a), s'' = s' (1 - 2a);  tanh s' = 1 - a^2, s'' = -2 a s';  relu s' = [a > 0], s'' = 0
 * (relu: the same a.e. derivative, step(z) with step(0) = 0, as tfjs).
 *
 * Two implementations of the same formulas, chosen by `kernels` (FusedObjectiveOptions):
 *   'wasm'  fused-wasm.ts: the convolutions as im2col + register-tiled float32 SIMD matrix products in
 *           WebAssembly (lib/engine/assembly/, compiled by `npm run build`), every buffer in wasm memory;
 *   'js'    fused-js.ts: the flat-loop JS convolution routines of kernels.ts (float64 accumulation),
 *           the implementation before the wasm kernels;
 *   'auto'  (default) 'wasm' where the module loads, else 'js' with a one-line warning on stderr, once
 *           per thread (DLG_WASM=0 selects 'js' silently).
 *
 * Precision: convolutions read and write float32. The JS kernels accumulate in float64 and run the
 * dense layer in float64; the wasm ones accumulate in float32 (blocks of 64 products, then summed) and
 * run the dense layer's products in float32 too (as tfjs and PyTorch do). Softmax, cross-entropy, the
 * pointwise passes and the sums of D are float64 in both. On the golden cases D and its gradients
 * agree with PyTorch's float64 values to <= 4.5e-7 relative (JS) and <= 1.5e-6 (wasm; tfjs itself:
 * up to 1.7e-6), see test/fused-wasm.test.ts; test/fused.test.ts checks the default against tfjs
 * autodiff and PyTorch.
 *
 * Cost per evaluation (LeNet 32x32x3): 19 convolutions of ~230k multiply-adds each (3 forward,
 * 3 filter + 2 input backprops, 11 in the adjoint), plus seven products with the dense weight
 * [768 x 100]. The JS kernels run ~2.4 G multiply-adds per second (~4.3 ms per evaluation), the wasm
 * matrix products ~15 G (~0.6 ms per evaluation); test/bench/fused.ts times both A/B,
 * test/bench/fused-profile.ts says where the time goes.
 */
import { fusedPlan } from './fused-plan';
import { jsObjective } from './fused-js';
import { wasmObjective } from './fused-wasm';
import { wasmRuntime, wasmStatus } from './wasm';
import { threadedRuntime, threadsStatus } from './wasm-threads';
import type { FusedKernels, FusedObjectiveOptions, FusedObjective } from './fused-types';
import type { Model } from '../models/model';
import type { Tensor } from '@tensorflow/tfjs';

export { convStackOf } from './fused-plan';
// the JS pointwise helpers, also used by lib/engine/per-example.ts
export { activate, derivative, softmaxRow } from './fused-js';

export type { FusedKernels, FusedObjectiveOptions, FusedObjective } from './fused-types';

let warned = false;
/** Whether this thread has said that threads: 2 fell back to one thread. */
let warnedThreads = false;

/**
 * The kernels to run for the requested ones, given whether the wasm module loaded (and why not):
 * 'auto' falls back to 'js' with a warning line (none when DLG_WASM=0 disabled wasm on purpose);
 * 'wasm' where it did not load is an error. Exported for tests.
 */
export function chooseKernels(requested: FusedKernels, wasm: { available: boolean; reason: string }): { kernels: 'wasm' | 'js'; warning?: string } {
  if (requested !== 'auto' && requested !== 'wasm' && requested !== 'js') {
    throw new Error(`fusedObjective: kernels must be 'auto', 'wasm' or 'js', got '${String(requested)}'`);
  }
  if (requested === 'js') return { kernels: 'js' };
  if (wasm.available) return { kernels: 'wasm' };
  if (requested === 'wasm') throw new Error(`fusedObjective: kernels 'wasm' unavailable: ${wasm.reason}`);
  if (process.env.DLG_WASM === '0') return { kernels: 'js' };
  return { kernels: 'js', warning: `warning: ${wasm.reason}; the fused DLG objective runs on the JS kernels (~8x slower)` };
}

/**
 * The fused DLG objective for `model` and the shared gradient, or null when the model carries no
 * conv-stack structure (ConvStackStructure, lib/models/model.ts): then use the tfjs autodiff path.
 */
export function fusedObjective(model: Model, shared: Tensor[], options: FusedObjectiveOptions): FusedObjective | null {
  const plan = fusedPlan(model, shared, options);
  if (plan === null) return null;
  const requested = options.kernels ?? 'auto';
  const { kernels, warning } = chooseKernels(requested, requested === 'js' ? { available: false, reason: '' } : wasmStatus());
  if (warning !== undefined && !warned) {
    warned = true; // once per thread
    process.stderr.write(warning + '\n');
  }
  const threads = options.threads ?? 1;
  if (threads !== 1 && threads !== 2) throw new Error(`fusedObjective: threads must be 1 or 2, got ${String(threads)}`);
  /** threads: 2 where the two-thread kernels cannot start: one line on stderr (once per thread), and one thread. */
  const oneThread = () => {
    if (!warnedThreads) {
      warnedThreads = true;
      process.stderr.write(`fusedObjective: threads 2 cannot start here (${threadsStatus().reason}); one thread runs, with the same numbers\n`);
    }
    return wasmRuntime();
  };
  const rt = kernels !== 'wasm' ? null : threads === 2 ? threadedRuntime() ?? oneThread() : wasmRuntime();
  return rt !== null ? wasmObjective(plan, rt) : jsObjective(plan);
}
