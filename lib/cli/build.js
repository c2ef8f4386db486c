#!/usr/bin/env node
/**
 * The build every `npm run` command starts with: compiles the TypeScript (lib/, test/, notebooks/tools/)
 * into dist/ only when a source changed since the last build, and says so; silent when nothing changed.
 * tsc itself runs incrementally (dist/.tsbuildinfo). Then the WebAssembly kernels
 * (lib/engine/assembly/build.js, likewise only when their sources changed). Exit status: the first failure's.
 *
 *   node lib/cli/build.js           build if needed
 *   node lib/cli/build.js --force   build anyway
 */
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '../..');
const stamp = path.join(root, 'dist', '.build-stamp');
const SOURCES = ['lib', 'test', 'notebooks/tools'];
const CONFIG = ['tsconfig.json', 'package.json', 'package-lock.json'];

/** Newest modification time (ms) among the sources and the build configuration, and how many are newer than `since`. */
function scan(since) {
  let newest = 0;
  let changed = 0;
  const visit = (p) => {
    let st;
    try { st = fs.statSync(p); } catch { return; }
    if (st.isDirectory()) {
      for (const e of fs.readdirSync(p)) if (e !== 'node_modules' && !e.startsWith('.')) visit(path.join(p, e));
    } else if (/\.(ts|json|py)$/.test(p) || CONFIG.includes(path.relative(root, p))) {
      newest = Math.max(newest, st.mtimeMs);
      if (st.mtimeMs > since) changed++;
    }
  };
  SOURCES.forEach((s) => visit(path.join(root, s)));
  CONFIG.forEach((c) => visit(path.join(root, c)));
  return { newest, changed };
}

/** The wasm kernels' own incremental build; exits with its status when it fails. */
function buildWasm() {
  const w = spawnSync(process.execPath, [path.join(root, 'lib/engine/assembly/build.js'), ...(force ? ['--force'] : [])], { cwd: root, stdio: 'inherit' });
  if (w.status !== 0) process.exit(w.status ?? 1);
}

const force = process.argv.includes('--force');
let built = 0;
try { built = fs.statSync(stamp).mtimeMs; } catch { /* never built */ }
const { changed } = scan(built);
if (!force && built > 0 && changed === 0) {
  buildWasm();
  process.exit(0);
}
const started = Date.now();
process.stderr.write(`build: compiling TypeScript into dist/ (${built === 0 ? 'first build' : force ? 'forced' : `${changed} source file${changed === 1 ? '' : 's'} changed`})... `);
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
} catch {
  process.stderr.write('failed: the TypeScript compiler is not installed; run `npm ci` first\n');
  process.exit(2);
}
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json'), '--incremental', '--tsBuildInfoFile', path.join(root, 'dist', '.tsbuildinfo')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (r.status !== 0) {
  process.stderr.write('failed\n');
  process.stdout.write(r.stdout || '');
  process.stderr.write(r.stderr || '');
  process.exit(r.status ?? 1);
}
fs.mkdirSync(path.dirname(stamp), { recursive: true });
fs.writeFileSync(stamp, new Date().toISOString() + '\n');
process.stderr.write(`done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
buildWasm();
