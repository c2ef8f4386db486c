#!/usr/bin/env node
/**
 * Compiles the WebAssembly SIMD kernels (the AssemblyScript sources beside this file) into
 * dist/lib/engine/kernels.wasm with `asc` (devDependency assemblyscript), and the same sources into
 * kernels-shared.wasm, which imports a shared memory (lib/engine/wasm-threads.ts: two threads on one
 * memory): every npm script runs it after lib/cli/build.js. Only when a source here (or package-lock.json) is newer than the module,
 * or the module is missing; silent otherwise. The output is the same bytes on every machine.
 *
 *   node lib/engine/assembly/build.js           build if needed
 *   node lib/engine/assembly/build.js --force   build anyway
 */
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '../../..');
const out = path.join(root, 'dist', 'lib', 'engine', 'kernels.wasm');
const outShared = path.join(root, 'dist', 'lib', 'engine', 'kernels-shared.wasm');
const sources = fs.readdirSync(__dirname).filter((f) => f.endsWith('.ts')).map((f) => path.join(__dirname, f));
const inputs = [...sources, path.join(root, 'package-lock.json'), __filename];

const mtime = (p) => {
  try { return fs.statSync(p).mtimeMs; } catch { return 0; }
};
const built = Math.min(mtime(out), mtime(outShared));
if (!process.argv.includes('--force') && built > 0 && inputs.every((p) => mtime(p) <= built)) process.exit(0);
const started = Date.now();
process.stderr.write('build: compiling the wasm kernels (lib/engine/assembly/) into dist/lib/engine/kernels.wasm and kernels-shared.wasm... ');
let asc;
try {
  asc = require.resolve('assemblyscript/bin/asc.js', { paths: [root] });
} catch {
  process.stderr.write('failed: the AssemblyScript compiler is not installed; run `npm ci` first\n');
  process.exit(2);
}
fs.mkdirSync(path.dirname(out), { recursive: true });
const common = [asc, path.join(__dirname, 'index.ts'), '-O3', '--runtime', 'stub', '--noAssert'];
const builds = [
  [...common, '--outFile', out, '--enable', 'simd'],
  // the shared build: memory imported (env.memory), shared, at most 4 GB (65536 pages); atomics enabled
  [...common, '--outFile', outShared, '--enable', 'simd,threads', '--importMemory', '--sharedMemory', '--initialMemory', '1', '--maximumMemory', '65536'],
];
for (const args of builds) {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write('failed\n');
    process.stdout.write(r.stdout || '');
    process.stderr.write(r.stderr || '');
    process.exit(r.status ?? 1);
  }
}
process.stderr.write(`done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
