/**
 * README's result tables are generated from the notebooks' results files, so they cannot drift.
 *
 *   node dist/notebooks/tools/readme.js [--check] [--readme FILE] [--results DIR]     (npm run readme)
 *
 * In README.md, a section
 *
 *   <!-- generated:NAME -->
 *   (anything: replaced)
 *   <!-- /generated -->
 *
 * is replaced by the markdown table of DIR/NAME.json (default DIR: notebooks/results/), the file a
 * notebook writes with saveResults('NAME', rows) from lib/report/results.ts. Everything outside
 * the markers is left alone. Results from a quick run (DLG_QUICK=1) are refused.
 *
 *   (no option)  rewrite README.md where a section differs, and say which
 *   --check      change nothing; exit 1 when a section differs from what would be written
 *
 * Exit status: 0 README agrees (or was updated), 1 (--check) it disagrees, 2 bad input: a marker
 * without its end, a results file that is missing, malformed or from a quick run.
 */
import * as fs from 'fs';
import * as path from 'path';
import { loadResults, resultsMarkdown } from '../../lib/report/results';
import { lineDiff } from './compare';
import { repoRoot } from './jupyter';

export const BEGIN = /^<!--\s*generated:([a-z0-9][a-z0-9._-]*)\s*-->\s*$/;
export const END = /^<!--\s*\/generated\s*-->\s*$/;

export class ReadmeError extends Error {}

export interface Section {
  name: string;
  /** Line index of the begin marker and of the end marker. */
  begin: number;
  end: number;
}

/** The generated sections of a README's text, in order. */
export function findSections(text: string, file = 'README.md'): Section[] {
  const lines = text.split('\n');
  const out: Section[] = [];
  let open: { name: string; begin: number } | null = null;
  lines.forEach((l, i) => {
    const b = BEGIN.exec(l.trim());
    if (b) {
      if (open) throw new ReadmeError(`${file}:${i + 1}: <!-- generated:${b[1]} --> inside the section ${open.name} (line ${open.begin + 1}) that has no <!-- /generated --> yet`);
      open = { name: b[1], begin: i };
    } else if (END.test(l.trim())) {
      if (!open) throw new ReadmeError(`${file}:${i + 1}: <!-- /generated --> without a <!-- generated:NAME --> before it`);
      out.push({ ...(open as { name: string; begin: number }), end: i });
      open = null;
    } else if (/<!--\s*\/?generated\b/.test(l)) {
      throw new ReadmeError(`${file}:${i + 1}: malformed marker ${JSON.stringify(l.trim())}; write <!-- generated:NAME --> (NAME: lower-case letters, digits, . _ -) or <!-- /generated -->, each on its own line`);
    }
  });
  if (open) throw new ReadmeError(`${file}:${(open as { begin: number }).begin + 1}: <!-- generated:${(open as { name: string }).name} --> has no <!-- /generated -->`);
  return out;
}

/** What a section holds between its markers: a blank line, the table, a blank line. */
export function sectionBody(resultsDir: string, name: string): string[] {
  const file = path.join(resultsDir, `${name}.json`);
  if (!fs.existsSync(file)) throw new ReadmeError(`section ${name}: ${file} does not exist (a notebook writes it with saveResults('${name}', rows))`);
  let r;
  try {
    r = loadResults(file);
  } catch (e) {
    throw new ReadmeError(`section ${name}: ${(e as Error).message}`);
  }
  if (r.mode !== 'full') throw new ReadmeError(`section ${name}: ${file} comes from a quick run (DLG_QUICK=1); README tables come from full runs`);
  return ['', ...resultsMarkdown(r).split('\n'), ''];
}

export interface RenderedReadme {
  text: string;
  sections: { name: string; changed: boolean; diff: string[] }[];
}

/** The README text with every generated section re-rendered from the results files. */
export function renderReadme(text: string, resultsDir: string, file = 'README.md'): RenderedReadme {
  const sections = findSections(text, file);
  const lines = text.split('\n');
  const out: string[] = [];
  const report: RenderedReadme['sections'] = [];
  let at = 0;
  for (const s of sections) {
    out.push(...lines.slice(at, s.begin + 1));
    const now = lines.slice(s.begin + 1, s.end);
    const body = sectionBody(resultsDir, s.name);
    const changed = now.join('\n') !== body.join('\n');
    report.push({ name: s.name, changed, diff: changed ? lineDiff(now, body, 8) : [] });
    out.push(...body);
    at = s.end;
  }
  out.push(...lines.slice(at));
  return { text: out.join('\n'), sections: report };
}

export function main(argv: string[] = process.argv.slice(2)): number {
  const usage = 'usage: readme [--check] [--readme FILE] [--results DIR]';
  const log = (s: string): void => void process.stdout.write(s + '\n');
  try {
    const root = repoRoot();
    let readme = path.join(root, 'README.md');
    let results = path.join(root, 'notebooks', 'results');
    let check = false;
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i];
      if (a === '--check') check = true;
      else if ((a === '--readme' || a === '--results') && i + 1 < argv.length) {
        const v = path.resolve(argv[++i]);
        if (a === '--readme') readme = v;
        else results = v;
      } else if (a === '-h' || a === '--help') {
        log(usage);
        return 0;
      } else {
        process.stderr.write(`readme: ${a === '--readme' || a === '--results' ? `${a} needs a value` : `unknown argument ${a}`}\n${usage}\n`);
        return 2;
      }
    }
    if (!fs.existsSync(readme)) throw new ReadmeError(`${readme}: no such file`);
    const text = fs.readFileSync(readme, 'utf8');
    const rel = path.relative(process.cwd(), readme) || readme;
    const r = renderReadme(text, results, rel);
    if (r.sections.length === 0) {
      log(`readme: ${rel} has no generated sections (<!-- generated:NAME --> ... <!-- /generated -->): nothing to do`);
      return 0;
    }
    const changed = r.sections.filter((s) => s.changed);
    for (const s of r.sections) {
      log(`readme: section ${s.name}: ${s.changed ? (check ? `differs from ${path.join(path.relative(process.cwd(), results) || '.', `${s.name}.json`)}` : 'updated') : 'up to date'}`);
      if (s.changed && check) for (const l of s.diff) log(`    ${l}`);
    }
    if (check) {
      if (changed.length) log(`readme: ${rel} disagrees with the results files: run \`npm run readme\``);
      return changed.length ? 1 : 0;
    }
    if (changed.length) fs.writeFileSync(readme, r.text);
    return 0;
  } catch (e) {
    process.stderr.write(`readme: ${(e as Error).message}\n`);
    return 2;
  }
}

if (require.main === module) {
  // A closed pipe (`... | head`) ends the output quietly.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' ? process.exit() : undefined));
  process.exitCode = main();
}
