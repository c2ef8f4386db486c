/** Run the compiled `dlg` command line in a child process (shared by the CLI tests). */
import { spawnSync } from 'child_process';
import { strict as assert } from 'assert';
import * as path from 'path';

export const ROOT = path.join(__dirname, '../..');
export const ASTRONAUT = path.join(ROOT, 'datasets/natural/astronaut.png');
const CLI = path.join(ROOT, 'dist/lib/cli/dlg.js');

export function dlgCli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: ROOT });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The CLI refused `args` as the toolkit promises: exit code 2, nothing on stdout, one `error:` line matching `message`. */
export function assertUsageError(args: string[], message: RegExp): string {
  const r = dlgCli(args);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], message);
  return lines[0];
}
