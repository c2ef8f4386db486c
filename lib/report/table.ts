/**
 * Result tables for notebooks: a danfojs DataFrame built from plain rows, rendered as an HTML
 * table (Jupyter and GitHub show it inline) and as text for terminals and logs.
 */
import type { DataFrame } from 'danfojs-node';

export type Row = Record<string, string | number | boolean | null>;

/** A danfojs DataFrame of the rows (loaded lazily: danfojs-node takes a second to import). */
export function dataFrame(rows: Row[]): DataFrame {
  if (rows.length === 0) throw new Error('dataFrame: no rows');
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const dfd = require('danfojs-node') as typeof import('danfojs-node');
  return new dfd.DataFrame(rows);
}

function cell(v: unknown): string {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-2 || a >= 1e5) ? v.toExponential(2) : v.toFixed(3);
  }
  return String(v);
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** HTML <table> of a DataFrame (numbers formatted to 3 decimals or 3 significant digits). */
export function dataFrameHtml(df: DataFrame, caption?: string): string {
  const cols = df.columns as string[];
  const rows = df.values as unknown[][];
  const head = cols.map((c) => `<th>${esc(c)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((v) => `<td>${esc(cell(v))}</td>`).join('')}</tr>`).join('\n');
  const cap = caption ? `<caption>${esc(caption)}</caption>` : '';
  return `<table>${cap}<thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** Markdown table of a DataFrame (for README-style reports). */
export function dataFrameMarkdown(df: DataFrame): string {
  const cols = df.columns as string[];
  const rows = df.values as unknown[][];
  return [`| ${cols.join(' | ')} |`, `|${cols.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}
