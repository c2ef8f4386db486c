/**
 * Reading and writing Jupyter notebook files (nbformat 4 JSON), for the notebook tools: the runner,
 * provenance, compare and status. Only what they need: cells, their sources and outputs, metadata.
 *
 * Notebooks are written the way nbformat writes them (keys sorted, one-space indent, a final
 * newline), so that a notebook written here and one saved by Jupyter differ only where they
 * really differ.
 */
import * as fs from 'fs';

/** A string, or nbformat's list of lines that joins to it. */
export type MultilineString = string | string[];

export interface NotebookOutput {
  output_type: 'stream' | 'display_data' | 'execute_result' | 'error' | string;
  /** stream: 'stdout' or 'stderr'. */
  name?: string;
  /** stream text. */
  text?: MultilineString;
  /** display_data / execute_result: mime type -> content (text or base64 for images, or JSON). */
  data?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  execution_count?: number | null;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}

export interface NotebookCell {
  cell_type: 'code' | 'markdown' | 'raw' | string;
  source: MultilineString;
  metadata?: Record<string, unknown>;
  outputs?: NotebookOutput[];
  execution_count?: number | null;
  id?: string;
}

export interface Notebook {
  nbformat: number;
  nbformat_minor: number;
  metadata: Record<string, unknown>;
  cells: NotebookCell[];
}

/** A file that is missing, unreadable or not a notebook: the tools' "bad input" (exit status 2). */
export class NotebookError extends Error {}

/** The string a MultilineString stands for. */
export function joinText(t: MultilineString | undefined | null): string {
  return Array.isArray(t) ? t.join('') : t ?? '';
}

/** Parses and checks a notebook's JSON text; `file` only names it in errors. */
export function parseNotebook(text: string, file: string): Notebook {
  let nb: unknown;
  try {
    nb = JSON.parse(text);
  } catch (e) {
    throw new NotebookError(`${file} is not a notebook: not JSON (${(e as Error).message})`);
  }
  const o = nb as Partial<Notebook> | null;
  if (!o || typeof o !== 'object' || Array.isArray(o) || !Array.isArray(o.cells) || typeof o.nbformat !== 'number') {
    throw new NotebookError(`${file} is not a notebook: no "nbformat" number and "cells" list`);
  }
  if (o.nbformat !== 4) throw new NotebookError(`${file}: nbformat ${o.nbformat}; only nbformat 4 notebooks are supported`);
  o.cells.forEach((c, i) => {
    if (!c || typeof c !== 'object' || typeof c.cell_type !== 'string') throw new NotebookError(`${file}: cell ${i + 1} has no cell_type`);
    if (c.outputs !== undefined && !Array.isArray(c.outputs)) throw new NotebookError(`${file}: cell ${i + 1} has outputs that are not a list`);
  });
  if (!o.metadata || typeof o.metadata !== 'object') o.metadata = {};
  return o as Notebook;
}

/** Reads and checks a notebook file; a missing or malformed one throws NotebookError. */
export function readNotebook(file: string): Notebook {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new NotebookError(code === 'ENOENT' ? `${file}: no such file` : code === 'EISDIR' ? `${file} is a folder, not a notebook` : `${file}: ${(e as Error).message}`);
  }
  return parseNotebook(text, file);
}

/** A copy of a JSON value with every object's keys in sorted order (as Python's sort_keys). */
export function sortKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(sortKeys) as unknown as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value as object).sort()) out[k] = sortKeys((value as Record<string, unknown>)[k]);
    return out as T;
  }
  return value;
}

/** JSON text of a notebook as nbformat writes it: sorted keys, indent 1, final newline. */
export function notebookText(nb: Notebook): string {
  return JSON.stringify(sortKeys(nb), null, 1) + '\n';
}

/** Writes a notebook as nbformat does (through a temporary file, so a reader never sees half of it). */
export function writeNotebook(file: string, nb: Notebook): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, notebookText(nb));
  fs.renameSync(tmp, file);
}

/** The first non-blank line of a cell's source, shortened: how the tools name a cell. */
export function firstLine(source: MultilineString, max = 60): string {
  const l = (joinText(source).split('\n').find((s) => s.trim()) ?? '').trim();
  return l.length > max ? l.slice(0, max - 3) + '...' : l;
}
