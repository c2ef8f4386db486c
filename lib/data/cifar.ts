/**
 * CIFAR-10 and CIFAR-100 "binary version" files (https://www.cs.toronto.edu/~kriz/cifar.html).
 *
 * A file is a run of fixed-size records, no header:
 *   CIFAR-10:  1 label byte (0..9)                                    + 3072 pixel bytes = 3073
 *   CIFAR-100: 1 coarse label byte (0..19) + 1 fine label byte (0..99) + 3072 pixel bytes = 3074
 * The 3072 pixel bytes of one 32x32 image are channel-major (CHW): 1024 red, then 1024 green,
 * then 1024 blue, each plane row by row. They come out here as 32x32x3 HWC in [0, 1].
 * A gzipped file is accepted too (recognised by its magic bytes).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Img } from './image';
import { CIFAR100_COARSE_CLASSES, CIFAR100_FINE_CLASSES, CIFAR10_CLASSES } from './classes';
import type { Dataset, LimitOptions } from './dataset';
import { takeCount } from './dataset';
import { fail, readBytes } from './files';

export const CIFAR_SIDE = 32;
export const CIFAR_PIXELS = CIFAR_SIDE * CIFAR_SIDE * 3;
/** Bytes per record: CIFAR-10 3073, CIFAR-100 3074. */
export const CIFAR_RECORD = { cifar10: 1 + CIFAR_PIXELS, cifar100: 2 + CIFAR_PIXELS } as const;

/** Options of `loadCifar`. */
export interface CifarOptions extends LimitOptions {
  /** Record layout: 'cifar10' (1 label byte) or 'cifar100' (coarse + fine label bytes). */
  variant: 'cifar10' | 'cifar100';
  /** CIFAR-100 only: which label to return. Default 'fine' (100 classes). */
  label?: 'fine' | 'coarse';
}

/**
 * Class names for a file: the `batches.meta.txt` (CIFAR-10) or `fine_label_names.txt` /
 * `coarse_label_names.txt` (CIFAR-100) next to it when present (one name a line), else the
 * standard names.
 */
function classNames(file: string, variant: 'cifar10' | 'cifar100', label: 'fine' | 'coarse'): string[] {
  const metaName = variant === 'cifar10' ? 'batches.meta.txt' : `${label}_label_names.txt`;
  const fallback = variant === 'cifar10' ? CIFAR10_CLASSES : label === 'fine' ? CIFAR100_FINE_CLASSES : CIFAR100_COARSE_CLASSES;
  const meta = path.join(path.dirname(file), metaName);
  if (fs.existsSync(meta)) {
    const names = fs.readFileSync(meta, 'utf8').split(/\r?\n/).map((s) => s.trim()).filter((s) => s.length > 0);
    if (names.length === fallback.length) return names;
  }
  return [...fallback];
}

/**
 * Load a CIFAR-10 or CIFAR-100 binary file as 32x32x3 images in [0, 1] and integer labels.
 *
 *   loadCifar('datasets/cifar-10-batches-bin/test_batch.bin', { variant: 'cifar10' })
 *   loadCifar('datasets/cifar-100-binary/test.bin', { variant: 'cifar100', label: 'coarse', limit: 64 })
 *
 * Throws an Error naming the file when it is missing or empty, its size is not a multiple of the
 * record size (truncated, or the other variant), or a label is out of range for the variant.
 */
export function loadCifar(file: string, opts: CifarOptions): Dataset {
  const variant = opts?.variant;
  const what = `cannot load ${variant === 'cifar100' ? 'CIFAR-100' : 'CIFAR-10'}`;
  if (variant !== 'cifar10' && variant !== 'cifar100') {
    fail('cannot load CIFAR', file, `variant must be 'cifar10' or 'cifar100', got ${JSON.stringify(variant)}`);
  }
  const label = opts.label ?? 'fine';
  if (label !== 'fine' && label !== 'coarse') fail(what, file, `label must be 'fine' or 'coarse', got ${JSON.stringify(label)}`);
  if (variant === 'cifar10' && opts.label !== undefined) fail(what, file, `option label applies to CIFAR-100 only`);

  const buf = readBytes(file, what);
  const record = CIFAR_RECORD[variant];
  if (buf.length === 0) fail(what, file, 'the file is empty');
  if (buf.length % record !== 0) {
    const other = variant === 'cifar10' ? 'cifar100' : 'cifar10';
    const hint = buf.length % CIFAR_RECORD[other] === 0 ? ` (it is a multiple of ${CIFAR_RECORD[other]}: a ${other} file?)` : ' (truncated file?)';
    fail(what, file, `size mismatch: ${buf.length} bytes is not a multiple of the ${record}-byte ${variant} record${hint}`);
  }
  const n = buf.length / record;
  const labelOffset = variant === 'cifar10' || label === 'coarse' ? 0 : 1;
  const numClasses = variant === 'cifar10' ? 10 : label === 'fine' ? 100 : 20;
  // Check every record's labels, so that a file of the wrong kind fails whatever the limit.
  for (let i = 0; i < n; i++) {
    const base = i * record;
    if (variant === 'cifar10' && buf[base] >= 10) {
      fail(what, file, `record ${i} has label ${buf[base]}, CIFAR-10 labels are 0..9 (not a CIFAR-10 binary file?)`);
    }
    if (variant === 'cifar100' && (buf[base] >= 20 || buf[base + 1] >= 100)) {
      fail(what, file, `record ${i} has coarse label ${buf[base]} and fine label ${buf[base + 1]}; ` +
        'CIFAR-100 labels are coarse 0..19, fine 0..99 (not a CIFAR-100 binary file?)');
    }
  }
  const take = takeCount(opts.limit, n, what, file);
  const plane = CIFAR_SIDE * CIFAR_SIDE;
  const images: Img[] = [];
  const labels: number[] = [];
  for (let i = 0; i < take; i++) {
    const base = i * record;
    labels.push(buf[base + labelOffset]);
    const px = base + record - CIFAR_PIXELS;
    const data = new Float32Array(CIFAR_PIXELS);
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) data[3 * p + c] = buf[px + c * plane + p] / 255;
    }
    images.push({ height: CIFAR_SIDE, width: CIFAR_SIDE, channels: 3, data });
  }
  const kind = variant === 'cifar10' ? 'CIFAR-10 binary' : `CIFAR-100 binary, ${label} labels`;
  const classes = classNames(file, variant, label);
  if (classes.length !== numClasses) throw new Error(`internal: ${classes.length} class names for ${numClasses} classes`);
  return { images, labels, source: `${kind} ${file}`, classes };
}
