/**
 * Notebook 03's label studies: labels read off the gradient, before any optimisation (cheap: one gradient
 * and one read-out per batch, so plain functions rather than worker jobs).
 *
 *   batchLabelStudy(images, labels, [1, 2, 4, 8], 40)   'distinct' and 'count' on many batches per size
 *   idlgStudy(images, labels, 32)                       iDLG on single images
 *
 * Batch b of size n starts at image (7 s) mod (count - n) and comes with a fresh model seeded 100 + s;
 * single image i is shared by a model seeded 200 + i (the seeds of the DLG label runs of notebook 03).
 */
import type { Img } from '../data/image';
import { makeCase, disposeCase } from '../cases/case';
import { distinctLabels, countLabels, idlgLabel } from '../attacks/labels';
import { labelAccuracy } from '../analysis/labels';

export interface BatchLabelRow {
  batch: number;
  batches: number;
  /** Batches whose true labels repeat a class. */
  withRepeats: number;
  distinctAccuracy: number;
  distinctExact: number;
  countAccuracy: number;
  countExact: number;
}

/** 'distinct' and 'count' label read-outs on `batches` batches of every size. */
export function batchLabelStudy(images: Img[], labels: number[], sizes: number[], batches: number, numClasses = 100): BatchLabelRow[] {
  return sizes.map((n) => {
    const row: BatchLabelRow = { batch: n, batches, withRepeats: 0, distinctAccuracy: 0, distinctExact: 0, countAccuracy: 0, countExact: 0 };
    for (let s = 0; s < batches; s++) {
      const off = (s * 7) % (images.length - n);
      const truth = labels.slice(off, off + n);
      const c = makeCase({ images: images.slice(off, off + n), labels: truth, seed: 100 + s, numClasses });
      try {
        const d = labelAccuracy(distinctLabels(c.model, c.shared, n), truth);
        const k = labelAccuracy(countLabels(c.model, c.shared, n), truth);
        row.distinctAccuracy += d;
        row.countAccuracy += k;
        row.distinctExact += d === 1 ? 1 : 0;
        row.countExact += k === 1 ? 1 : 0;
        row.withRepeats += new Set(truth).size < n ? 1 : 0;
      } finally {
        disposeCase(c);
      }
    }
    return { ...row, distinctAccuracy: row.distinctAccuracy / batches, countAccuracy: row.countAccuracy / batches };
  });
}

/** How many of the first `count` images iDLG labels correctly (image i shared by a model seeded 200 + i). */
export function idlgStudy(images: Img[], labels: number[], count: number, numClasses = 100): number {
  let correct = 0;
  for (let i = 0; i < count; i++) {
    const c = makeCase({ images: [images[i]], labels: [labels[i]], seed: 200 + i, numClasses });
    correct += idlgLabel(c.model, c.shared) === labels[i] ? 1 : 0;
    disposeCase(c);
  }
  return correct;
}
