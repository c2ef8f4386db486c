/** What a defense does to a gradient, measured on the client's side (it has both): how far, how many entries. */
import type { Tensor } from '@tensorflow/tfjs';

export interface GradientChange {
  /** ||g' - g|| / ||g|| over all tensors. */
  relative: number;
  /** Share of the entries that changed. */
  changedFraction: number;
  /** ||g|| and the number of entries of g. */
  norm: number;
  entries: number;
}

export function gradientChange(original: Tensor[], changed: Tensor[]): GradientChange {
  if (original.length !== changed.length) throw new Error(`gradientChange: ${original.length} vs ${changed.length} tensors`);
  let err = 0, norm = 0, differ = 0, entries = 0;
  original.forEach((t, i) => {
    const a = t.dataSync(), b = changed[i].dataSync();
    if (a.length !== b.length) throw new Error(`gradientChange: tensor ${i} has ${a.length} vs ${b.length} entries`);
    for (let j = 0; j < a.length; j++) {
      const d = b[j] - a[j];
      err += d * d;
      norm += a[j] * a[j];
      if (d !== 0) differ++;
    }
    entries += a.length;
  });
  return { relative: Math.sqrt(err / norm), changedFraction: differ / entries, norm: Math.sqrt(norm), entries };
}
