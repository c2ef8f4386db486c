/**
 * Small synthetic notebooks for the tests of the notebook tools (compare, provenance, status).
 */
import { PNG } from 'pngjs';
import type { Notebook, NotebookCell, NotebookOutput } from '../../notebooks/tools/notebook';

export type CellSpec = { md: string } | { code: string; outputs?: NotebookOutput[]; count?: number };

export function notebook(cells: CellSpec[]): Notebook {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript (tslab)', language: 'typescript' } },
    cells: cells.map(
      (c, i): NotebookCell =>
        'md' in c
          ? { cell_type: 'markdown', id: `c${i}`, metadata: {}, source: c.md }
          : { cell_type: 'code', id: `c${i}`, metadata: {}, execution_count: c.count ?? i, outputs: c.outputs ?? [], source: c.code },
    ),
  };
}

export const stream = (text: string, name = 'stdout'): NotebookOutput => ({ output_type: 'stream', name, text });

export const display = (mime: string, value: string): NotebookOutput => ({ output_type: 'display_data', data: { [mime]: value }, metadata: {} });

/** A w x h RGB PNG, every pixel (r, g, b) but pixel 0, which is `first`. */
export function pngBytes(w: number, h: number, first: [number, number, number] = [0, 0, 0]): Buffer {
  const png = new PNG({ width: w, height: h });
  for (let i = 0; i < w * h; i++) {
    const [r, g, b] = i === 0 ? first : [200, 100, 50];
    png.data[4 * i] = r;
    png.data[4 * i + 1] = g;
    png.data[4 * i + 2] = b;
    png.data[4 * i + 3] = 255;
  }
  return PNG.sync.write(png);
}

export const pngOutput = (bytes: Buffer): NotebookOutput => display('image/png', bytes.toString('base64'));

export function clone<T>(x: T): T {
  return JSON.parse(JSON.stringify(x)) as T;
}
