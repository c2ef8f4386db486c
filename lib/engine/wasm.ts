/**
 * The WebAssembly SIMD kernels (AssemblyScript sources in lib/engine/assembly/, compiled by
 * `npm run build` into dist/lib/engine/kernels.wasm): loading, one instance per thread, and the
 * linear memory its callers lay their buffers out in.
 *
 * One instance per thread (module-level state: each worker thread of lib/experiments/parallel.ts
 * compiles and instantiates its own), one workspace per instance. A caller claims the workspace for
 * itself (`claim(owner, bytes)`) before each use and learns whether the data it left there is still
 * intact: it is unless another owner used the workspace since, or the memory had to grow. The memory
 * never shrinks; it grows to the largest claim of the thread (a few MB for LeNet up to 64x64, batch 8)
 * and stays flat after that, however many objectives are built.
 *
 * DLG_WASM=0 disables the wasm kernels (the JS kernels run instead, for comparisons). A missing or
 * stale kernels.wasm (built with `tsc` alone, or by an older version) is reported by `wasmStatus()`.
 */
import * as fs from 'fs';
import * as path from 'path';

// The parts of the WebAssembly JS API used here (tsconfig's lib has no DOM; Node has the global).
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
};

/** The module's exports (see lib/engine/assembly/index.ts). Pointers are byte offsets. */
export interface WasmExports {
  memory: WasmMemory;
  ABI_VERSION: { value: unknown };
  LOSS_RECORD_LENGTH: { value: unknown };
  heapBase(): number;
  gemm(a: number, sai: number, sak: number, b: number, ldb: number, c: number, ldc: number, M: number, N: number, K: number, accumulate: number): void;
  gemmNT(a: number, lda: number, b: number, ldb: number, c: number, ldc: number, M: number, N: number, K: number, accumulate: number): void;
  im2col(x: number, geometry: number, col: number): void;
  im2colRows(x: number, geometry: number, col: number, p0: number, p1: number): void;
  col2im(col: number, geometry: number, dx: number): void;
  transpose(src: number, rows: number, cols: number, dst: number): void;
  biasActivate(a: number, bias: number, P: number, C: number, act: number): void;
  activationGrad(dz: number, da: number, a: number, n: number, act: number): void;
  addActivationGrad(adjZ: number, abar: number, a: number, n: number, act: number): void;
  secondOrder(act: number, a: number, da: number, adjDz: number, gbarB: number, P: number, C: number, adjDa: number, adjZ: number): void;
  squaredDistance(g: number, s: number, gbar: number, n: number): number;
  biasDistance(dz: number, P: number, C: number, s: number, gbar: number): number;
  toFloat32(x64: number, n: number, x32: number): void;
  toFloat64(x32: number, n: number, x64: number): void;
  lossForward(record: number): number;
  lossAdjoint(record: number): void;
  lbfgsDirection(g: number, d: number, n: number, dirs: number, stps: number, ro: number, al: number, numOld: number, hDiag: number): void;
  lbfgsDirection32(g: number, d: number, n: number, dirs: number, stps: number, ro: number, al: number, numOld: number, hDiag: number): void;
  vecDot(a: number, b: number, n: number): number;
  vecAxpy(alpha: number, x: number, y: number, n: number): void;
  vecAddScaled(out: number, x: number, t: number, d: number, n: number): void;
  vecMaxAbs(a: number, scale: number, n: number): number;
  vecPair(y: number, s: number, g: number, gPrev: number, d: number, t: number, n: number, out2: number): void;
  vecPair32(y: number, s: number, g: number, gPrev: number, d: number, t: number, n: number, out2: number): void;
  dots4(mat: number, vi: number, rows: number, cols: number, out4: number): void;
  matMulTB64(a: number, b: number, c: number, n: number, k: number, p: number, accumulate: number, pack: number): void;
}

/** The ABI this JS side was written for (ABI_VERSION of lib/engine/assembly/index.ts). */
export const WASM_ABI_VERSION = 8;

/** Where `npm run build` puts the module: beside this file in dist/. */
export const WASM_FILE = path.join(__dirname, 'kernels.wasm');
/**
 * The same kernels built for a shared memory that the module imports (env.memory): two threads
 * instantiate it on one memory (lib/engine/wasm-threads.ts).
 */
export const SHARED_WASM_FILE = path.join(__dirname, 'kernels-shared.wasm');

/** Fields of a convolution geometry record (lib/engine/assembly/conv.ts), in order. */
export const GEOMETRY_LENGTH = 12;

/** A convolution's geometry record (tfjs's Conv2DInfo, NHWC), in the field order of lib/engine/assembly/conv.ts. */
export function geometryRecord(info: {
  batchSize: number; inHeight: number; inWidth: number; inChannels: number; outHeight: number; outWidth: number;
  filterHeight: number; filterWidth: number; strideHeight: number; strideWidth: number; padInfo: { top: number; left: number };
}): number[] {
  return [info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth,
    info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left];
}

export interface WasmRuntime {
  readonly exports: WasmExports;
  /**
   * Make the workspace [base, base + bytes) available to `owner` (memory grown as needed) and
   * return base and whether everything `owner` wrote there at its last claim is still there.
   */
  claim(owner: object, bytes: number): { base: number; intact: boolean };
  /** Byte offset of the `reserve` bytes runtimeOf kept out of the workspace (where the workspace starts when it kept none). */
  readonly reserved: number;
  /** Views of the whole memory (new ones after the memory grew; do not keep them across claims). */
  f32(): Float32Array;
  f64(): Float64Array;
  i32(): Int32Array;
}

const PAGE = 65536;

/** Grow `memory` to at least `bytes`; throws one clear line when a wasm memory cannot hold that many. */
function growTo(memory: WasmMemory, bytes: number): void {
  if (bytes <= memory.buffer.byteLength) return;
  try {
    memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE));
  } catch {
    throw new Error(`wasm kernels: cannot grow a wasm memory to ${(bytes / 2 ** 20).toFixed(0)} MB (at most 4096)`);
  }
}

/** Compile the module in `file`; throws one clear line if that is not possible. */
export function compileWasm(file: string): object {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    throw new Error(`wasm kernels: ${file} not found (build with \`npm run build\`, which compiles lib/engine/assembly/)`);
  }
  try {
    return new WebAssembly.Module(bytes);
  } catch (e) {
    throw new Error(`wasm kernels: ${file} does not load here (${(e as Error).message.split('\n')[0]}); WebAssembly SIMD needs Node 16.4 or newer`);
  }
}

/**
 * A new instance of a compiled module, checked against this side's ABI: with its own memory, or on
 * `memory` (the shared build, which imports it).
 */
export function instantiate(module: object, file: string, memory?: WasmMemory): WasmExports {
  let api: WasmExports;
  try {
    api = new WebAssembly.Instance(module, memory === undefined ? {} : { env: { memory } }).exports as unknown as WasmExports;
  } catch (e) {
    throw new Error(`wasm kernels: ${file} does not instantiate here (${(e as Error).message.split('\n')[0]})`);
  }
  const version = Number(api.ABI_VERSION?.value);
  if (version !== WASM_ABI_VERSION || typeof api.gemm !== 'function') {
    throw new Error(`wasm kernels: ${file} is stale (ABI ${version}, expected ${WASM_ABI_VERSION}): rebuild with \`npm run build\``);
  }
  return api;
}

/** Compile and instantiate the module in `file`; throws one clear line if that is not possible. */
export function loadWasm(file: string = WASM_FILE): WasmRuntime {
  return runtimeOf(instantiate(compileWasm(file), file));
}

/**
 * A runtime (one workspace, claimed by owners) on an instance's memory; `reserve` bytes after the
 * module's static data are kept out of the workspace (lib/engine/wasm-threads.ts's scratch records).
 */
export function runtimeOf(api: WasmExports, reserve = 0): WasmRuntime {
  const memory = api.memory;
  const reserved = (api.heapBase() + 63) & ~63;
  const base = (reserved + reserve + 63) & ~63;
  let owner: object | null = null;
  let buffer: ArrayBuffer | null = null;
  let views = { f32: new Float32Array(0), f64: new Float64Array(0), i32: new Int32Array(0) };
  const fresh = () => {
    const now = memory.buffer;
    if (now !== buffer) {
      buffer = now;
      views = { f32: new Float32Array(now), f64: new Float64Array(now), i32: new Int32Array(now) };
    }
    return views;
  };
  return {
    exports: api,
    claim(who: object, bytes: number) {
      const intact = owner === who; // every owner lays out from the same base; growing keeps the contents
      growTo(memory, base + bytes);
      owner = who;
      return { base, intact };
    },
    reserved,
    f32: () => fresh().f32,
    f64: () => fresh().f64,
    i32: () => fresh().i32,
  };
}

let loaded: { runtime: WasmRuntime | null; module: object | null; reason: string } | null = null;

function load(): { runtime: WasmRuntime | null; module: object | null; reason: string } {
  if (loaded === null) {
    if (process.env.DLG_WASM === '0') loaded = { runtime: null, module: null, reason: 'disabled by DLG_WASM=0' };
    else {
      try {
        const module = compileWasm(WASM_FILE);
        loaded = { runtime: runtimeOf(instantiate(module, WASM_FILE)), module, reason: '' };
      } catch (e) {
        loaded = { runtime: null, module: null, reason: (e as Error).message };
      }
    }
  }
  return loaded;
}

/** A block of float64 (and float32) vectors in a wasm memory of its own, for kernels that work on long-lived state. */
export interface WasmArena {
  readonly exports: WasmExports;
  /** A new zeroed vector of `n` float64 (a view that stays valid: the memory never grows after creation). */
  f64(n: number): Float64Array;
  /** A new zeroed vector of `n` float32 (as f64). */
  f32(n: number): Float32Array;
  /** A new zeroed table of `n` uint32 (pointers: a vector's byteOffset). */
  u32(n: number): Uint32Array;
}

/** The kernels of each arena, by its memory's buffer: vectors of one arena find their kernels here (arenaKernels). */
const ARENAS = new WeakMap<ArrayBuffer, WasmExports>();

/** The kernels of the arena that `buffer` belongs to, if it is an arena's. */
export function arenaKernels(buffer: ArrayBufferLike): WasmExports | undefined {
  return ARENAS.get(buffer as ArrayBuffer);
}

/**
 * A separate instance of this thread's kernels with room for `bytes` of vectors, each of which starts
 * on a 64-byte boundary (count up to 64 bytes more per vector). Its memory is grown once, here; the OS
 * commits pages only as they are written. Null without the wasm kernels.
 * Freed with the last reference to it, like any JS object. Throws one line above 4 GB.
 */
export function wasmArena(bytes: number): WasmArena | null {
  const { module } = load();
  if (module === null) return null;
  const api = instantiate(module, WASM_FILE);
  const memory = api.memory;
  let next = (api.heapBase() + 63) & ~63;
  growTo(memory, next + bytes);
  const buffer = memory.buffer;
  ARENAS.set(buffer, api);
  const take = (byteLength: number): number => {
    const at = next;
    next = (next + byteLength + 63) & ~63;
    if (next > buffer.byteLength) throw new Error(`wasm arena: out of room (${bytes} bytes were reserved)`);
    return at;
  };
  return {
    exports: api,
    f64: (n) => new Float64Array(buffer, take(n * 8), n),
    f32: (n) => new Float32Array(buffer, take(n * 4), n),
    u32: (n) => new Uint32Array(buffer, take(n * 4), n),
  };
}

/**
 * A new shared memory for the shared build: one page to start, growable to 4 GB (a shared memory
 * needs a maximum; only address space is reserved).
 */
export function sharedMemory(): WasmMemory {
  return new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
}

/** This thread's wasm kernels, or null when they are disabled or do not load (see wasmStatus()). */
export function wasmRuntime(): WasmRuntime | null {
  return load().runtime;
}

/** Bytes of this thread's wasm memory (0 without the wasm kernels): grows to the largest claim, never shrinks. */
export function wasmMemoryBytes(): number {
  return load().runtime?.exports.memory.buffer.byteLength ?? 0;
}

/** Whether this thread has the wasm kernels, and if not, why (one line). */
export function wasmStatus(): { available: boolean; reason: string } {
  const l = load();
  return { available: l.runtime !== null, reason: l.reason };
}
