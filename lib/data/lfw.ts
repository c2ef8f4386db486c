/**
 * The LFW subset shipped with scikit-image (`skimage.data.lfw_subset()`, file
 * skimage/data/lfw_subset.npy): 200 grayscale 25x25 crops from Labeled Faces in the Wild, the
 * first 100 faces and the next 100 non-faces (background patches of the same photos).
 * Stored as a (200, 25, 25) .npy array, float64 in [0, 1] in scikit-image 0.19 (uint8 0..255 is
 * accepted too). Labels: 1 = face, 0 = non-face.
 */
import type { Img } from './image';
import { LFW_CLASSES } from './classes';
import type { Dataset, LimitOptions } from './dataset';
import { takeCount } from './dataset';
import { fail } from './files';
import { readNpy } from './npy';

/** Images in the scikit-image LFW subset: LFW_FACES faces, then as many non-faces. */
export const LFW_SUBSET_COUNT = 200;
export const LFW_FACES = 100;

/** Options of `loadLfwSubset`. */
export type LfwOptions = LimitOptions;

/**
 * Load `lfw_subset.npy` as 25x25x1 images in [0, 1], labels 1 (face) for the first 100 and
 * 0 (non-face) for the rest. `limit` takes the first images, so a limit up to 100 gives faces only.
 *
 * Throws an Error naming the file when it is missing or not a valid .npy, its dtype is not |u1,
 * <f4 or <f8, its shape is not (200, H, W), or float values fall outside [0, 1].
 */
export function loadLfwSubset(file: string, opts: LfwOptions = {}): Dataset {
  const what = 'cannot load LFW subset';
  const arr = readNpy(file, what);
  const kind = arr.descr.slice(1);
  if (kind !== 'u1' && kind !== 'f4' && kind !== 'f8') {
    fail(what, file, `unsupported dtype '${arr.descr}': expected |u1 (0..255), <f4 or <f8 (0..1)`);
  }
  if (arr.shape.length !== 3 || arr.shape[0] !== LFW_SUBSET_COUNT) {
    fail(what, file, `shape mismatch: (${arr.shape.join(', ')}), expected (${LFW_SUBSET_COUNT}, height, width)`);
  }
  const [n, h, w] = arr.shape;
  const scale = kind === 'u1' ? 1 / 255 : 1;
  if (kind !== 'u1') {
    for (let i = 0; i < arr.data.length; i++) {
      const v = arr.data[i];
      if (!(v >= 0 && v <= 1)) fail(what, file, `value ${v} at flat index ${i} is outside [0, 1]`);
    }
  }
  const take = takeCount(opts.limit, n, what, file);
  const images: Img[] = [];
  const size = h * w;
  for (let k = 0; k < take; k++) {
    const data = new Float32Array(size);
    for (let p = 0; p < size; p++) data[p] = arr.data[k * size + p] * scale;
    images.push({ height: h, width: w, channels: 1, data });
  }
  const labels = Array.from({ length: take }, (_, k) => (k < LFW_FACES ? 1 : 0));
  return { images, labels, source: `scikit-image LFW subset (.npy ${arr.descr}) ${file}`, classes: [...LFW_CLASSES] };
}
