/** Run the compiled `dlg` command line in a child process (shared by the CLI tests). */
import { spawnSync } from 'child_process';
import * as path from 'path';

export const ROOT = path.join(__dirname, '../..');
export const ASTRONAUT = path.join(ROOT, 'datasets/natural/astronaut.png');
const CLI = path.join(ROOT, 'dist/lib/cli/dlg.js');

export function dlgCli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: ROOT });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
