/**
 * Two threads for the wasm kernels of one objective: this thread and a helper thread on the same
 * (shared) wasm memory, each doing half of a kernel call. The kernels are the shared build of the
 * same sources (kernels-shared.wasm, lib/engine/assembly/build.js).
 *
 *   const rt = threadedRuntime();        // null where it cannot start (see threadsStatus())
 *   wasmObjective(plan, rt);             // lib/engine/fused-wasm.ts, unchanged
 *
 * What is split, and why the numbers are the one-thread ones bit for bit:
 *   gemm, gemmNT           by rows of C (by columns when there are too few rows to split): every
 *                          entry is one sum along k, in the same order, whichever thread computes it;
 *   im2col                 by rows of its matrix (each row is a copy of one patch);
 *   col2im                 by images (B >= 2): an image's rows of the im2col matrix go back to that
 *                          image only; each half runs on a copy of the geometry record with its own B;
 *   biasActivate, secondOrder   by rows of [P, C]; activationGrad, addActivationGrad: by an even
 *                          number of entries (each entry is computed alone, in the same SIMD lane
 *                          pairs).
 * Reductions (squaredDistance, biasDistance) and everything outside the objective stay on one thread.
 * Calls too small to pay for the hand-over (SPLIT_WORK) are not split.
 *
 * The hand-over: this thread writes the call's arguments into a small shared block, bumps a sequence
 * number and wakes the helper; it does its own half, then waits until the helper reports its half
 * done. Both sides spin briefly before they sleep (Atomics.wait), so that the many calls of one
 * evaluation do not each pay a wake-up. The helper is started once per thread, on first use, and
 * does not keep the process alive (unref).
 */
import * as path from 'path';
import { Worker } from 'worker_threads';
import { compileWasm, instantiate, runtimeOf, sharedMemory, SHARED_WASM_FILE, GEOMETRY_LENGTH } from './wasm';
import type { WasmExports, WasmMemory, WasmRuntime } from './wasm';

/** Fields of the control block (int32 indices). FAILED: the helper failed; its message follows the arguments. */
export const CTRL = { SEQ: 0, DONE: 1, FN: 2, READY: 3, ARGC: 4, FAILED: 5 } as const;
/** The kernels the helper serves: CTRL.FN is 1 + the index here; 0 stops it. */
export const SERVED = ['gemm', 'gemmNT', 'im2colRows', 'col2im', 'biasActivate', 'secondOrder', 'activationGrad', 'addActivationGrad'] as const;
type Served = (typeof SERVED)[number];
/** CTRL.FN's value for each served kernel. */
const FN = Object.fromEntries(SERVED.map((name, i) => [name, 1 + i])) as Record<Served, number>;
/** Byte offset of the float64 arguments in the control block, and their number. */
export const ARGS_AT = 64;
export const ARGS = 16;
/** Byte offset and length of the helper's failure message (UTF-8) in the control block. */
export const MESSAGE_AT = ARGS_AT + 8 * ARGS;
export const MESSAGE_BYTES = 512;
/** Spins (Atomics.load) before a side sleeps: a fraction of a millisecond. */
export const SPINS = 200_000;
/**
 * Calls with less work than this stay on one thread: multiply-adds of a product (GEMM_WORK), entries
 * of the other kernels (SPLIT_WORK). Below these, handing half of the data to the other core's cache
 * costs about what the half saves (measured on LeNet: 32x32 batch 1 is not split).
 */
export const GEMM_WORK = 250_000;
export const SPLIT_WORK = 65_536;
/** Bytes kept before the workspace for the two halves' geometry records (2 x GEOMETRY_LENGTH int32). */
const SCRATCH = 2 * 4 * GEOMETRY_LENGTH;
/** How long this thread waits for the helper before it reports it lost (ms). */
const TIMEOUT_MS = 60_000;

/** The helper's side, as the worker script (wasm-helper.ts) receives it. */
export interface HelperData {
  module: object;
  memory: WasmMemory;
  control: SharedArrayBuffer;
}

interface Threads {
  runtime: WasmRuntime | null;
  reason: string;
}

let started: Threads | null = null;
/** Calls handed to the helper so far in this thread, by kernel (threadsCounts()). */
const COUNTS: Record<string, number> = {};

/** Where an n-unit call splits: this thread keeps [0, m); `even` rounds m down to even. n when `work` < `least`. */
export function splitAt(n: number, work: number, even = false, least = SPLIT_WORK): number {
  if (n < 2 || work < least) return n;
  const m = even ? (n >> 1) & ~1 : n >> 1;
  return m > 0 ? m : n;
}

/** Where a product splits by columns: this thread keeps [0, n), n a multiple of 4; N when not worth it. */
export function columnsAt(N: number, work: number): number {
  const quads = N >> 2;
  const h = splitAt(quads, work, false, GEMM_WORK);
  return h === quads ? N : 4 * h;
}

function start(): Threads {
  if (process.env.DLG_WASM === '0') return { runtime: null, reason: 'disabled by DLG_WASM=0' };
  let api: WasmExports;
  let module: object;
  let memory: WasmMemory;
  try {
    module = compileWasm(SHARED_WASM_FILE);
    memory = sharedMemory();
    api = instantiate(module, SHARED_WASM_FILE, memory);
  } catch (e) {
    return { runtime: null, reason: (e as Error).message };
  }
  const runtime = runtimeOf(api, SCRATCH);
  const control = new SharedArrayBuffer(MESSAGE_AT + MESSAGE_BYTES);
  const ctrl = new Int32Array(control, 0, 8);
  const args = new Float64Array(control, ARGS_AT, ARGS);
  const data: HelperData = { module, memory, control };
  const worker = new Worker(path.join(__dirname, 'wasm-helper.js'), { workerData: data });
  worker.unref();
  /** The helper's failure (it wrote why and stopped), as one line. */
  const failure = () => {
    const bytes = new Uint8Array(control, MESSAGE_AT, MESSAGE_BYTES);
    const text = Buffer.from(bytes.slice(0, Math.max(0, bytes.indexOf(0)))).toString('utf8');
    return new Error(`the kernels' helper thread failed: ${text}`);
  };
  /** Wait until ctrl[field] === value (or the helper failed): spin, then sleep in slices. */
  const waitFor = (field: number, value: number) => {
    let spins = 0;
    const t0 = Date.now();
    while (Atomics.load(ctrl, field) !== value) {
      if (Atomics.load(ctrl, CTRL.FAILED) !== 0) throw failure();
      if (++spins < SPINS) continue;
      if (Date.now() - t0 > TIMEOUT_MS) throw new Error(`the kernels' helper thread did not answer in ${TIMEOUT_MS / 1000} s`);
      Atomics.wait(ctrl, field, Atomics.load(ctrl, field), 100);
    }
  };
  let seq = 0;
  let ready = false;
  /** Run `name` with `values` on the helper while `mine` runs here; returns when both are done. */
  const both = (name: Served, values: number[], mine: () => void) => {
    if (!ready) {
      waitFor(CTRL.READY, 1);
      ready = true;
    }
    COUNTS[name] = (COUNTS[name] ?? 0) + 1;
    for (let i = 0; i < values.length; i++) args[i] = values[i];
    Atomics.store(ctrl, CTRL.ARGC, values.length);
    Atomics.store(ctrl, CTRL.FN, FN[name]);
    seq = (seq + 1) | 0;
    Atomics.store(ctrl, CTRL.SEQ, seq);
    Atomics.notify(ctrl, CTRL.SEQ);
    try {
      mine();
    } finally {
      waitFor(CTRL.DONE, seq); // never leave the helper writing into memory this thread moves on to
    }
  };

  // the two halves' geometry records, in the reserved scratch: a copy of `g` with B replaced
  const halfGeometry = (g: number, which: 0 | 1, B: number): number => {
    const i32 = runtime.i32();
    const at = runtime.reserved + which * 4 * GEOMETRY_LENGTH;
    i32.copyWithin(at / 4, g / 4, g / 4 + GEOMETRY_LENGTH);
    i32[at / 4] = B;
    return at;
  };
  /** A geometry record's B, H, W, C, OH, OW, FH, FW. */
  const geometry = (g: number) => Array.from(runtime.i32().subarray(g / 4, g / 4 + 8));

  const split: Partial<WasmExports> = {
    // by rows of C; a product of few rows (the dense layer of one image) by columns, 4 at a time
    gemm(a, sai, sak, b, ldb, c, ldc, M, N, K, accumulate) {
      const m = splitAt(M, M * N * K, true, GEMM_WORK);
      if (m < M) {
        both('gemm', [a + 4 * m * sai, sai, sak, b, ldb, c + 4 * m * ldc, ldc, M - m, N, K, accumulate], () => api.gemm(a, sai, sak, b, ldb, c, ldc, m, N, K, accumulate));
        return;
      }
      const n = columnsAt(N, M * N * K);
      if (n === N) return api.gemm(a, sai, sak, b, ldb, c, ldc, M, N, K, accumulate);
      both('gemm', [a, sai, sak, b + 4 * n, ldb, c + 4 * n, ldc, M, N - n, K, accumulate], () => api.gemm(a, sai, sak, b, ldb, c, ldc, M, n, K, accumulate));
    },
    gemmNT(a, lda, b, ldb, c, ldc, M, N, K, accumulate) {
      const m = splitAt(M, M * N * K, true, GEMM_WORK);
      if (m < M) {
        both('gemmNT', [a + 4 * m * lda, lda, b, ldb, c + 4 * m * ldc, ldc, M - m, N, K, accumulate], () => api.gemmNT(a, lda, b, ldb, c, ldc, m, N, K, accumulate));
        return;
      }
      const n = columnsAt(N, M * N * K);
      if (n === N) return api.gemmNT(a, lda, b, ldb, c, ldc, M, N, K, accumulate);
      both('gemmNT', [a, lda, b + 4 * n * ldb, ldb, c + 4 * n, ldc, M, N - n, K, accumulate], () => api.gemmNT(a, lda, b, ldb, c, ldc, M, n, K, accumulate));
    },
    // im2col by rows of its matrix: [0, p) here, [p, P) on the helper
    im2col(x, g, col) {
      const [B, , , C, OH, OW, FH, FW] = geometry(g);
      const P = B * OH * OW;
      const p = splitAt(P, P * FH * FW * C);
      if (p === P) return api.im2col(x, g, col);
      both('im2colRows', [x, g, col, p, P], () => api.im2colRows(x, g, col, 0, p));
    },
    // col2im by images (the scatter of one image's rows touches that image only): [0, b) here, [b, B) on the helper
    col2im(col, g, dx) {
      const [B, H, W, C, OH, OW, FH, FW] = geometry(g);
      const b = splitAt(B, B * OH * OW * FH * FW * C);
      if (b === B) return api.col2im(col, g, dx);
      const g0 = halfGeometry(g, 0, b), g1 = halfGeometry(g, 1, B - b);
      both('col2im', [col + 4 * b * OH * OW * FH * FW * C, g1, dx + 4 * b * H * W * C], () => api.col2im(col, g0, dx));
    },
    biasActivate(a, bias, P, C, act) {
      const m = splitAt(P, P * C);
      if (m === P) return api.biasActivate(a, bias, P, C, act);
      both('biasActivate', [a + 4 * m * C, bias, P - m, C, act], () => api.biasActivate(a, bias, m, C, act));
    },
    secondOrder(act, a, da, adjDz, gbarB, P, C, adjDa, adjZ) {
      const m = splitAt(P, P * C);
      if (m === P) return api.secondOrder(act, a, da, adjDz, gbarB, P, C, adjDa, adjZ);
      const o = 4 * m * C;
      both('secondOrder', [act, a + o, da + o, adjDz + o, gbarB, P - m, C, adjDa + o, adjZ + o], () => api.secondOrder(act, a, da, adjDz, gbarB, m, C, adjDa, adjZ));
    },
    activationGrad(dz, da, a, n, act) {
      const m = splitAt(n, n, true);
      if (m === n) return api.activationGrad(dz, da, a, n, act);
      const o = 4 * m;
      both('activationGrad', [dz + o, da + o, a + o, n - m, act], () => api.activationGrad(dz, da, a, m, act));
    },
    addActivationGrad(adjZ, abar, a, n, act) {
      const m = splitAt(n, n, true);
      if (m === n) return api.addActivationGrad(adjZ, abar, a, n, act);
      const o = 4 * m;
      both('addActivationGrad', [adjZ + o, abar + o, a + o, n - m, act], () => api.addActivationGrad(adjZ, abar, a, m, act));
    },
  };
  const props: PropertyDescriptorMap = {};
  for (const [k, v] of Object.entries(split)) props[k] = { value: v };
  return { runtime: { ...runtime, exports: Object.create(api, props) as WasmExports }, reason: '' };
}

/**
 * This thread's two-thread kernels (started on first call), or null when they cannot run here: the
 * wasm kernels disabled (DLG_WASM=0) or the shared build missing (see threadsStatus()).
 */
export function threadedRuntime(): WasmRuntime | null {
  if (started === null) started = start();
  return started.runtime;
}

/** Whether the two-thread kernels run here, and if not, why (one line). */
export function threadsStatus(): { available: boolean; reason: string } {
  if (started === null) started = start();
  return { available: started.runtime !== null, reason: started.reason };
}

/** How many calls of each kernel this thread has handed half of to the helper (for tests and profiles). */
export function threadsCounts(): Readonly<Record<string, number>> {
  return { ...COUNTS };
}
