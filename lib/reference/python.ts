/**
 * Running the PyTorch reference scripts of this folder (dlg_torch.py, bert_torch.py) from Node:
 * find a Python that has torch and numpy, run a script, parse its last stdout line as JSON.
 * PyTorch is only a reference (golden values, benchmarks); nothing in the toolkit needs it.
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/** This folder in the source tree (the scripts are not compiled to dist/). */
export const REFERENCE_DIR = path.join(__dirname, '../../../lib/reference');

/** Whether `python` can import torch and numpy; its torch and Python versions if so. */
export function probePython(python: string): { torch: string; python: string } | null {
  const r = spawnSync(python, ['-c', 'import torch, numpy, platform; print(torch.__version__, platform.python_version())'], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  const [torch, py] = r.stdout.trim().split(/\s+/);
  return { torch, python: py };
}

/** Default places for a Python with torch: $DLG_PYTHON, .venv/bin/python, /tmp/torchvenv/bin/python, python3. */
export function pythonCandidates(root = path.join(__dirname, '../../..')): string[] {
  return [process.env.DLG_PYTHON, path.join(root, '.venv/bin/python'), '/tmp/torchvenv/bin/python', 'python3']
    .filter((p): p is string => !!p && (!p.includes('/') || fs.existsSync(p)));
}

/** The first candidate with torch, or undefined. */
export function findPython(candidates = pythonCandidates()): string | undefined {
  return candidates.find((p) => probePython(p) !== null);
}

/**
 * Run `script` (a file of this folder) with `args`; returns the last stdout line parsed as JSON
 * (undefined when the script prints none). Throws with the script's last stderr line on failure.
 * `echo` forwards the script's stderr (progress lines) to ours.
 */
export function runReference<T = unknown>(python: string, script: string, args: string[], options: { echo?: boolean } = {}): T | undefined {
  const r = spawnSync(python, [path.join(REFERENCE_DIR, script), ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    stdio: ['ignore', 'pipe', options.echo ? 'inherit' : 'pipe'],
  });
  if (r.status !== 0) {
    const why = (r.stderr ?? '').trim().split('\n').pop() || r.error?.message || `exit code ${r.status}`;
    throw new Error(`${script} ${args[0] ?? ''} failed: ${why}`);
  }
  const last = r.stdout.trim().split('\n').pop();
  return last ? (JSON.parse(last) as T) : undefined;
}

/** runReference in the background: resolves when the script exits (stderr forwarded to ours), rejects on failure. */
export function runReferenceAsync(python: string, script: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [path.join(REFERENCE_DIR, script), ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${script} ${args[0] ?? ''} failed: exit code ${code}`))));
  });
}
