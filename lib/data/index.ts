/**
 * The dataset registry: one name per dataset, loading the files that sit in `datasets/`.
 *
 *   import { loadDataset, DATASETS } from '../dist/lib/data';
 *   const d = loadDataset('fashion-mnist', { limit: 16 });   // { images, labels, source, classes }
 *   const c = loadDataset('cifar100', { label: 'coarse' });  // after you put cifar-100-binary/ there
 *
 * Expected files, relative to the datasets folder (`datasets/` at the repository root, or
 * `opts.root`, or the environment variable DLG_DATASETS). Committed samples are marked *;
 * put the real files under the same names to use the full data through the same call.
 *
 *   fashion-mnist  fashion-mnist/t10k-images-idx3-ubyte.gz* + t10k-labels-idx1-ubyte.gz* (first 64
 *                  test images; split 'train': train-images-idx3-ubyte.gz + train-labels-idx1-ubyte.gz)
 *   digits         digits/digits.csv.gz* (scikit-learn, 1797 8x8 digits)
 *   lfw            lfw/lfw_subset.npy* (scikit-image, 200 25x25 faces and non-faces)
 *   natural        natural/*.png* (five 32x32 photos)
 *   natural-128    natural-128/*.png (the same five photos at 128x128, for resolutions above 32)
 *   cifar100       cifar-100-binary/test.bin (split 'train': train.bin)
 *   cifar10        cifar-10-batches-bin/test_batch.bin (split 'train': data_batch_1.bin .. data_batch_5.bin)
 *   svhn           svhn/test_32x32.mat (split 'train': train_32x32.mat, 'extra': extra_32x32.mat)
 *   mnist          mnist/t10k-images-idx3-ubyte.gz + t10k-labels-idx1-ubyte.gz (split 'train': train-*)
 *
 * idx files may also be stored unzipped, with or without the .gz extension, or with the
 * `t10k-images.idx3-ubyte` spelling. A missing file gives an Error saying which file to put where.
 */
import * as fs from 'fs';
import * as path from 'path';
import { loadCifar } from './cifar';
import { CIFAR10_CLASSES, DIGIT_CLASSES, FASHION_MNIST_CLASSES } from './classes';
import type { Dataset } from './dataset';
import { loadDigitsCsv } from './digits';
import { DataError } from './files';
import { loadImageFolder } from './folder';
import { loadIdx } from './idx';
import { loadLfwSubset } from './lfw';
import { loadSvhnMat } from './svhn';

export type { Dataset, LimitOptions } from './dataset';
export { DataError } from './files';
export { loadIdx, parseIdx, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC } from './idx';
export { loadCifar, CIFAR_RECORD } from './cifar';
export { loadSvhnMat } from './svhn';
export { readMat5, parseMat5, matVariable } from './mat5';
export type { MatArray, MatClass, MatFile } from './mat5';
export { readNpy, parseNpy } from './npy';
export type { NpyArray } from './npy';
export { loadLfwSubset } from './lfw';
export { loadDigitsCsv } from './digits';
export { loadImageFolder } from './folder';
export * from './classes';

/** Names in the registry. */
export type DatasetName = 'fashion-mnist' | 'digits' | 'lfw' | 'natural' | 'natural-128' | 'cifar100' | 'cifar10' | 'svhn' | 'mnist';

/** Options of `loadDataset` / `DATASETS[name].load`. */
export interface DatasetOptions {
  /** Only the first `limit` images. Default: all. */
  limit?: number;
  /** The datasets folder. Default: $DLG_DATASETS, else `datasets/` at the repository root. */
  root?: string;
  /** Which split, among the entry's `splits` (the first is the default). */
  split?: string;
  /** cifar100 only: 'fine' (100 classes, default) or 'coarse' (20 superclasses). */
  label?: 'fine' | 'coarse';
  /** natural and natural-128 only: resize to size x size (or [h, w]). */
  size?: number | [number, number];
}

/** One registry entry. */
export interface DatasetEntry {
  name: DatasetName;
  /** What it is, one line. */
  description: string;
  /** Image shape HxWxC, as loaded. */
  shape: string;
  /** Number of classes. */
  numClasses: number;
  /** Splits available, the default first. */
  splits: string[];
  /** Expected files for a split, relative to the datasets folder. */
  files(split: string): string[];
  /** Where the real files come from and what to put where. */
  howToGet: string;
  /** Load it (throws an Error saying which file to put where when it is missing). */
  load(opts?: DatasetOptions): Dataset;
}

/** The datasets folder: `root`, else $DLG_DATASETS, else `datasets/` at the repository root. */
export function datasetsRoot(root?: string): string {
  if (root) return path.resolve(root);
  if (process.env.DLG_DATASETS) return path.resolve(process.env.DLG_DATASETS);
  // dist/lib/data -> repository root is three levels up; lib/data (ts-node) two.
  const candidates = [path.resolve(__dirname, '../../../datasets'), path.resolve(__dirname, '../../datasets')];
  return candidates.find((d) => fs.existsSync(path.join(d, 'README.md'))) ?? candidates[0];
}

/** The first of `names` (relative to `root`) that exists, or an Error saying what to put where. */
function findFile(entry: { name: string; howToGet: string }, root: string, names: string[]): string {
  for (const n of names) {
    const p = path.join(root, n);
    if (fs.existsSync(p)) return p;
  }
  const alt = names.length > 1 ? ` (or ${names.slice(1).join(', ')})` : '';
  throw new DataError(path.join(root, names[0]),
    `dataset '${entry.name}': missing file ${path.join(root, names[0])}${alt}. Put ${names[0]} in the datasets folder ${root}: ${entry.howToGet}`);
}

function splitOf(entry: { name: string; splits: string[] }, split: string | undefined): string {
  const s = split ?? entry.splits[0];
  if (!entry.splits.includes(s)) {
    throw new Error(`dataset '${entry.name}': unknown split ${JSON.stringify(s)}; it has ${entry.splits.map((x) => `'${x}'`).join(', ')}`);
  }
  return s;
}

/** File names of an idx pair in `dir` for `prefix` ('t10k' or 'train'), each with accepted spellings. */
function idxNames(dir: string, prefix: string): { images: string[]; labels: string[] } {
  const spell = (kind: string, n: number) => [
    `${dir}/${prefix}-${kind}-idx${n}-ubyte.gz`, `${dir}/${prefix}-${kind}-idx${n}-ubyte`, `${dir}/${prefix}-${kind}.idx${n}-ubyte`,
  ];
  return { images: spell('images', 3), labels: spell('labels', 1) };
}

function idxEntry(name: 'mnist' | 'fashion-mnist', description: string, classes: readonly string[], howToGet: string): DatasetEntry {
  const prefix = (split: string) => (split === 'train' ? 'train' : 't10k');
  const entry: DatasetEntry = {
    name, description, shape: '28x28x1', numClasses: 10, splits: ['test', 'train'], howToGet,
    files: (split) => { const n = idxNames(name, prefix(split)); return [n.images[0], n.labels[0]]; },
    load(opts = {}) {
      const root = datasetsRoot(opts.root);
      const n = idxNames(name, prefix(splitOf(entry, opts.split)));
      const d = loadIdx(findFile(entry, root, n.images), findFile(entry, root, n.labels), { limit: opts.limit });
      return { ...d, classes: [...classes] };
    },
  };
  return entry;
}

function single(
  name: DatasetName, description: string, shape: string, numClasses: number, splitFiles: Record<string, string[]>, howToGet: string,
  read: (file: string, opts: DatasetOptions, split: string) => Dataset,
): DatasetEntry {
  const entry: DatasetEntry = {
    name, description, shape, numClasses, splits: Object.keys(splitFiles), howToGet,
    files: (split) => [splitFiles[split][0]],
    load(opts = {}) {
      const split = splitOf(entry, opts.split);
      return read(findFile(entry, datasetsRoot(opts.root), splitFiles[split]), opts, split);
    },
  };
  return entry;
}

const CIFAR10_BATCHES = [1, 2, 3, 4, 5].map((i) => `cifar-10-batches-bin/data_batch_${i}.bin`);

const cifar10: DatasetEntry = {
  name: 'cifar10',
  description: 'CIFAR-10, 32x32 RGB photos in 10 classes (binary version)',
  shape: '32x32x3', numClasses: 10, splits: ['test', 'train'],
  howToGet: 'download https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz and extract it in the datasets folder ' +
    '(it creates cifar-10-batches-bin/ with test_batch.bin and data_batch_1.bin .. data_batch_5.bin).',
  files: (split) => (split === 'train' ? CIFAR10_BATCHES : ['cifar-10-batches-bin/test_batch.bin']),
  load(opts = {}) {
    const root = datasetsRoot(opts.root);
    const files = cifar10.files(splitOf(cifar10, opts.split)).map((f) => findFile(cifar10, root, [f]));
    const out: Dataset = { images: [], labels: [], source: '', classes: [...CIFAR10_CLASSES] };
    const sources: string[] = [];
    for (const f of files) {
      const left = opts.limit === undefined ? undefined : opts.limit - out.images.length;
      if (left !== undefined && left <= 0 && out.images.length > 0) break;
      const d = loadCifar(f, { variant: 'cifar10', limit: left });
      out.images.push(...d.images);
      out.labels.push(...d.labels);
      out.classes = d.classes;
      sources.push(d.source);
    }
    out.source = sources.join('; ');
    return out;
  },
};

/**
 * Every dataset by name. `DATASETS[name].load(opts)` or `loadDataset(name, opts)` reads it from the
 * datasets folder; `files(split)` lists the files it needs and `howToGet` where they come from.
 */
/** A folder of photos made by datasets/make_samples.py (labels are the positions in file-name order). */
function photoFolder(name: 'natural' | 'natural-128', description: string, shape: string): DatasetEntry {
  const entry: DatasetEntry = {
    name, description, shape, numClasses: 5, splits: ['all'],
    howToGet: 'run datasets/make_samples.py (needs python3-skimage and python3-pil).',
    files: () => [`${name}/`],
    load(opts = {}) {
      splitOf(entry, opts.split);
      const dir = path.join(datasetsRoot(opts.root), name);
      if (!fs.existsSync(dir)) throw new DataError(dir, `dataset '${name}': missing folder ${dir}. Put PNG photos in it: ${entry.howToGet}`);
      return loadImageFolder(dir, { limit: opts.limit, size: opts.size });
    },
  };
  return entry;
}

export const DATASETS: Record<DatasetName, DatasetEntry> = {
  'fashion-mnist': idxEntry('fashion-mnist', 'Fashion-MNIST (Zalando), 28x28 grayscale clothing in 10 classes; sample: first 64 test images',
    FASHION_MNIST_CLASSES,
    'Fashion-MNIST in idx format, e.g. from the Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/) ' +
    'or https://github.com/zalandoresearch/fashion-mnist (data/fashion/). The committed sample holds the first 64 test images; ' +
    'datasets/make_samples.py rebuilds it.'),
  digits: single('digits', "scikit-learn's handwritten digits (UCI optdigits test set), 1797 8x8 images, pixels 0..16", '8x8x1', 10,
    { all: ['digits/digits.csv.gz', 'digits/digits.csv'] },
    'copy sklearn/datasets/data/digits.csv.gz from scikit-learn (Debian package python3-sklearn); datasets/make_samples.py does it.',
    (file, opts) => loadDigitsCsv(file, { limit: opts.limit })),
  lfw: single('lfw', 'scikit-image LFW subset: 100 faces then 100 non-faces, 25x25 grayscale (label 1 face, 0 non-face)', '25x25x1', 2,
    { all: ['lfw/lfw_subset.npy'] },
    'copy skimage/data/lfw_subset.npy from scikit-image (Debian package python3-skimage); datasets/make_samples.py does it.',
    (file, opts) => loadLfwSubset(file, { limit: opts.limit })),
  natural: photoFolder('natural', 'five natural photos from scikit-image, 32x32 RGB (labels are positions 0..4, names the photos)', '32x32x3'),
  'natural-128': photoFolder('natural-128', 'the same five photos at 128x128 RGB, for attacks at 64x64 and beyond (resize with size)', '128x128x3'),
  cifar100: single('cifar100', "CIFAR-100, 32x32 RGB photos, 100 fine / 20 coarse classes (binary version); the paper's main dataset",
    '32x32x3', 100, { test: ['cifar-100-binary/test.bin'], train: ['cifar-100-binary/train.bin'] },
    'download https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz and extract it in the datasets folder ' +
    '(it creates cifar-100-binary/ with test.bin, train.bin and the label-name files).',
    (file, opts) => loadCifar(file, { variant: 'cifar100', label: opts.label ?? 'fine', limit: opts.limit })),
  cifar10,
  svhn: single('svhn', 'SVHN cropped digits, 32x32 RGB house-number digits, labels 0..9', '32x32x3', 10,
    { test: ['svhn/test_32x32.mat'], train: ['svhn/train_32x32.mat'], extra: ['svhn/extra_32x32.mat'] },
    'download http://ufldl.stanford.edu/housenumbers/test_32x32.mat (format 2, cropped digits; also train_32x32.mat) into datasets/svhn/.',
    (file, opts) => loadSvhnMat(file, { limit: opts.limit })),
  mnist: idxEntry('mnist', 'MNIST handwritten digits, 28x28 grayscale, labels 0..9', DIGIT_CLASSES,
    'download t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (train-* for the train split) from ' +
    'http://yann.lecun.com/exdb/mnist/ or a mirror (e.g. https://ossci-datasets.s3.amazonaws.com/mnist/) into datasets/mnist/.'),
};

/** The names in the registry, in its order. */
export const DATASET_NAMES = Object.keys(DATASETS) as DatasetName[];

/**
 * Load the dataset `name` from the datasets folder; see `DATASETS` and this file's header for the
 * expected files. Throws an Error listing the known names for an unknown one, and saying which
 * file to put where when a dataset is missing.
 */
export function loadDataset(name: DatasetName | string, opts: DatasetOptions = {}): Dataset {
  const entry = (DATASETS as Record<string, DatasetEntry | undefined>)[name];
  if (!entry) throw new Error(`unknown dataset ${JSON.stringify(name)}; known: ${DATASET_NAMES.join(', ')}`);
  return entry.load(opts);
}
