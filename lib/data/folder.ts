/**
 * A folder of PNG/JPEG photos as a dataset (datasets/natural): one image per file, in file-name
 * order, labelled by position (0, 1, 2, ...) and named by file stem.
 */
import * as fs from 'fs';
import * as path from 'path';
import { loadImage, shapeOf } from './image';
import type { Img } from './image';
import type { Dataset, LimitOptions } from './dataset';
import { takeCount } from './dataset';
import { fail } from './files';

/** Options of `loadImageFolder`. */
export interface FolderOptions extends LimitOptions {
  /** Resize every image to `size x size` (or [height, width]); default as stored (then all must agree). */
  size?: number | [number, number];
  /** 3 (RGB, default) or 1 (grayscale). */
  channels?: 1 | 3;
}

const IMAGE_FILE = /\.(png|jpe?g)$/i;

/**
 * Load every .png/.jpg/.jpeg in `dir` (sorted by name) as HWC images in [0, 1].
 * Labels are the positions 0..n-1 (photos have no classes); `names` holds the file stems.
 * Throws an Error naming the folder when it is missing or holds no images, or naming the file
 * when one cannot be decoded or images differ in shape without `size`.
 */
export function loadImageFolder(dir: string, opts: FolderOptions = {}): Dataset {
  const what = 'cannot load image folder';
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return fail(what, dir, code === 'ENOENT' ? 'no such folder' : code === 'ENOTDIR' ? 'not a folder' : `cannot list it (${code})`);
  }
  const files = entries.filter((f) => IMAGE_FILE.test(f)).sort();
  if (files.length === 0) fail(what, dir, 'no .png or .jpg files in it');
  const take = takeCount(opts.limit, files.length, what, dir);
  const images: Img[] = [];
  for (const f of files.slice(0, take)) {
    const img = loadImage(path.join(dir, f), { size: opts.size, channels: opts.channels ?? 3 });
    if (images.length > 0 && shapeOf(img) !== shapeOf(images[0])) {
      fail(what, path.join(dir, f), `shape mismatch: ${shapeOf(img)}, ${files[0]} is ${shapeOf(images[0])} (pass size to resize all)`);
    }
    images.push(img);
  }
  return {
    images,
    labels: images.map((_, i) => i),
    names: files.slice(0, take).map((f) => f.replace(IMAGE_FILE, '')),
    source: `image folder ${dir}`,
  };
}
