/**
 * The one place that decides how each notebook is checked: .ci/notebooks.conf, read by
 * `npm run notebooks -- --check` and therefore by CI (.ci/run).
 *
 *   # comment
 *   PREFIX  MODE        (first matching line wins; PREFIX `*` matches every notebook)
 *
 * MODE:
 *   full   execute at the committed settings (DLG_QUICK unset) and compare the outputs with the
 *          committed notebook (notebooks/tools/compare.ts); the default for a notebook no line matches
 *   quick  execute with DLG_QUICK=1: every cell, and so every claim check, must pass; the outputs are
 *          not compared (the committed notebook is a full run)
 *   skip   not executed
 */
import * as fs from 'fs';
import * as path from 'path';

export type CheckMode = 'full' | 'quick' | 'skip';

export interface ConfRule {
  prefix: string;
  mode: CheckMode;
  /** 1-based line in the file. */
  line: number;
}

export class ConfError extends Error {}

const MODES: CheckMode[] = ['full', 'quick', 'skip'];

/** Parses the conf text; `file` only names it in errors. */
export function parseConf(text: string, file: string): ConfRule[] {
  const rules: ConfRule[] = [];
  text.split('\n').forEach((raw, i) => {
    const l = raw.replace(/#.*$/, '').trim();
    if (!l) return;
    const parts = l.split(/\s+/);
    if (parts.length !== 2 || !MODES.includes(parts[1] as CheckMode)) {
      throw new ConfError(`${file}:${i + 1}: expected "PREFIX full|quick|skip", got ${JSON.stringify(raw.trim())}`);
    }
    rules.push({ prefix: parts[0], mode: parts[1] as CheckMode, line: i + 1 });
  });
  return rules;
}

/** Reads the conf file; a missing file means every notebook in full mode. */
export function readConf(file: string): ConfRule[] {
  return fs.existsSync(file) ? parseConf(fs.readFileSync(file, 'utf8'), file) : [];
}

/**
 * The mode of each notebook (file paths or names), by the first rule whose prefix starts its name;
 * 'full' when none does. A rule that matches no notebook is an error (a renamed notebook must not
 * silently fall back to the default).
 */
export function modesFor(notebooks: string[], rules: ConfRule[], file: string): Map<string, CheckMode> {
  const names = notebooks.map((n) => path.basename(n));
  for (const r of rules) {
    if (r.prefix !== '*' && !names.some((n) => n.startsWith(r.prefix))) {
      throw new ConfError(`${file}:${r.line}: "${r.prefix}" matches no notebook (have: ${names.join(', ')})`);
    }
  }
  const out = new Map<string, CheckMode>();
  notebooks.forEach((nb, i) => {
    const rule = rules.find((r) => r.prefix === '*' || names[i].startsWith(r.prefix));
    out.set(nb, rule ? rule.mode : 'full');
  });
  return out;
}
