/**
 * The helper thread of lib/engine/wasm-threads.ts: an instance of the shared kernels on the main
 * side's memory, serving one call at a time from the control block. If anything fails it writes why
 * into the block, raises CTRL.FAILED (the main side then throws that line) and stops.
 */
import { workerData } from 'worker_threads';
import { instantiate, SHARED_WASM_FILE } from './wasm';
import type { WasmExports } from './wasm';
import { ARGS, ARGS_AT, CTRL, MESSAGE_AT, MESSAGE_BYTES, SERVED, SPINS } from './wasm-threads';
import type { HelperData } from './wasm-threads';

// (not `module`: a top-level binding of that name would make Node read this file as an ES module)
const { module: compiled, memory, control } = workerData as HelperData;
const ctrl = new Int32Array(control, 0, 8);
const a = new Float64Array(control, ARGS_AT, ARGS);

function fail(e: unknown): void {
  const text = Buffer.from(String(e instanceof Error ? e.message : e).split('\n')[0], 'utf8').subarray(0, MESSAGE_BYTES - 1);
  new Uint8Array(control, MESSAGE_AT, MESSAGE_BYTES).set(text);
  Atomics.store(ctrl, CTRL.FAILED, 1);
  for (const field of [CTRL.READY, CTRL.DONE]) Atomics.notify(ctrl, field);
}

function serve(ex: WasmExports): void {
  // the main side posts its first call only after READY: so the sequence number is 0 here
  let seen = 0;
  Atomics.store(ctrl, CTRL.READY, 1);
  Atomics.notify(ctrl, CTRL.READY);
  for (;;) {
    let seq = Atomics.load(ctrl, CTRL.SEQ);
    for (let spins = 0; seq === seen; spins++) {
      if (spins >= SPINS) {
        Atomics.wait(ctrl, CTRL.SEQ, seen);
        spins = 0;
      }
      seq = Atomics.load(ctrl, CTRL.SEQ);
    }
    seen = seq;
    const fn = Atomics.load(ctrl, CTRL.FN);
    if (fn === 0) return;
    const name = SERVED[fn - 1];
    if (name === undefined) throw new Error(`unknown call ${fn}`);
    (ex[name] as (...v: number[]) => unknown)(...Array.from(a.subarray(0, Atomics.load(ctrl, CTRL.ARGC))));
    Atomics.store(ctrl, CTRL.DONE, seq);
    Atomics.notify(ctrl, CTRL.DONE);
  }
}

try {
  serve(instantiate(compiled, SHARED_WASM_FILE, memory));
} catch (e) {
  fail(e);
}
