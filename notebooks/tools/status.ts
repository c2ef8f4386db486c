/**
 * Which notebooks' outputs still belong to the tree: prints every notebook's provenance status.
 *
 *   node dist/notebooks/tools/status.js [--dir DIR] [--any-mode] [--json]     (npm run notebooks:status)
 *
 *   --dir DIR     notebook folder (default: <repo>/notebooks)
 *   --any-mode    accept quick-mode runs (by default a notebook must come from a full run)
 *   --json        one JSON object per notebook instead of the table
 *
 * A notebook is fresh when the fingerprint in its metadata.dlg (see provenance.ts) matches the tree
 * and its outputs and results files are the ones the runner wrote; else stale, with one line per
 * component that differs (notebook source, lib, lockfile, datasets, outputs, results, mode).
 * Results files (DIR/results/*.json) that no notebook claims are listed too.
 *
 * Exit status: 0 every notebook fresh, 1 some notebook stale (or an unclaimed results file),
 * 2 bad input (no such folder, no notebooks, a file that is not a notebook).
 */
import * as fs from 'fs';
import * as path from 'path';
import { repoRoot } from './jupyter';
import { NotebookError } from './notebook';
import { notebookStatus, NotebookStatus, orphanResults, TreeState, treeState } from './provenance';

export interface StatusReport {
  statuses: NotebookStatus[];
  orphans: string[];
}

/** The status of every DIR/*.ipynb (sorted by name) against the tree at `root`. */
export function folderStatus(dir: string, root: string, opts: { anyMode?: boolean; tree?: TreeState } = {}): StatusReport {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new NotebookError(`notebook folder ${dir} does not exist`);
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb') && !f.startsWith('.')).sort();
  if (files.length === 0) throw new NotebookError(`no notebooks (*.ipynb) in ${dir}`);
  const tree = opts.tree ?? treeState(root);
  const statuses = files.map((f) => notebookStatus(path.join(dir, f), tree, { requireMode: opts.anyMode ? null : 'full' }));
  return { statuses, orphans: orphanResults(dir, statuses) };
}

/** The report as the lines `status` prints. */
export function formatStatus(r: StatusReport): string[] {
  const width = Math.max(...r.statuses.map((s) => path.basename(s.file).length));
  const lines: string[] = [];
  for (const s of r.statuses) {
    const run = s.provenance?.run;
    const facts = run
      ? `${run.mode.padEnd(5)}  ${run.date}  ${`${run.seconds.toFixed(1)} s`.padStart(9)}  node ${run.node}, ${run.cpus} cores${run.commit ? `, ${run.commit}` : ''}`
      : '-';
    lines.push(`${path.basename(s.file).padEnd(width)}  ${s.fresh ? 'fresh' : 'STALE'}  ${facts}`);
    for (const f of s.findings) lines.push(`    ${f.component}: ${f.detail}`);
  }
  const fresh = r.statuses.filter((s) => s.fresh).length;
  lines.push(`status: ${fresh} fresh, ${r.statuses.length - fresh} stale of ${r.statuses.length} notebook(s)`);
  if (r.orphans.length) lines.push(`status: results files no notebook claims (delete them, or re-run the notebook that writes them): ${r.orphans.join(', ')}`);
  return lines;
}

export function main(argv: string[] = process.argv.slice(2)): number {
  const usage = 'usage: status [--dir DIR] [--any-mode] [--json]';
  let root: string;
  let dir = '';
  let anyMode = false;
  let json = false;
  try {
    root = repoRoot();
    dir = path.join(root, 'notebooks');
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i];
      if (a === '--dir' && i + 1 < argv.length) dir = path.resolve(argv[++i]);
      else if (a.startsWith('--dir=')) dir = path.resolve(a.slice(6));
      else if (a === '--any-mode') anyMode = true;
      else if (a === '--json') json = true;
      else if (a === '-h' || a === '--help') {
        console.log(usage);
        return 0;
      } else {
        console.error(`status: ${a === '--dir' ? '--dir needs a value' : `unknown argument ${a}`}\n${usage}`);
        return 2;
      }
    }
    const report = folderStatus(dir, root, { anyMode });
    if (json) {
      for (const s of report.statuses) {
        console.log(JSON.stringify({ notebook: path.basename(s.file), fresh: s.fresh, findings: s.findings, run: s.provenance?.run ?? null }));
      }
    } else {
      for (const l of formatStatus(report)) console.log(l);
    }
    return report.statuses.every((s) => s.fresh) && report.orphans.length === 0 ? 0 : 1;
  } catch (e) {
    console.error(`status: ${(e as Error).message}`);
    return 2;
  }
}

if (require.main === module) {
  // A closed pipe (`... | head`) ends the output quietly.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' ? process.exit() : undefined));
  process.exitCode = main();
}
