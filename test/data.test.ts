/**
 * lib/data: the loaders on the committed samples in datasets/ (Fashion-MNIST idx, scikit-learn
 * digits CSV, scikit-image LFW .npy, natural photos), and CIFAR-10/100 and SVHN on small files in
 * the exact formats that this test writes under os.tmpdir() (the real files cannot be downloaded
 * here). The SVHN .mat files are written byte by byte by a small MATLAB level 5 writer below.
 * Then the error cases: each message must name the file.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import {
  DATASETS, DATASET_NAMES, loadCifar, loadDataset, loadDigitsCsv, loadIdx, loadLfwSubset, loadSvhnMat, parseNpy, readMat5,
} from '../lib/data';
import type { Dataset } from '../lib/data';

const ROOT = path.join(__dirname, '../..');
const DATASETS_DIR = path.join(ROOT, 'datasets');
const FASHION_IMAGES = path.join(DATASETS_DIR, 'fashion-mnist/t10k-images-idx3-ubyte.gz');
const FASHION_LABELS = path.join(DATASETS_DIR, 'fashion-mnist/t10k-labels-idx1-ubyte.gz');

/** Numbers printed by datasets/make_samples.py (numpy on the Debian files). */
const PY = {
  fashion: { labels: [9, 2, 1], sums: [33456, 100994, 51520], pixel0_14_14: 110, allSum: 3583219, labelSum: 293 },
  digits: { labels: [0, 1, 2, 3, 4], row0Sum: 294 },
  lfw: { sum0: 258.2379094772041, sum100: 113.53856189767248, first: 0.288888871669772 },
};

/** Every image has the given shape and all values lie in [0, 1]. */
function checkAll(d: Dataset, n: number, h: number, w: number, c: number): void {
  assert.strictEqual(d.images.length, n);
  assert.strictEqual(d.labels.length, n);
  for (const img of d.images) {
    assert.deepStrictEqual([img.height, img.width, img.channels, img.data.length], [h, w, c, h * w * c]);
    for (const v of img.data) assert.ok(v >= 0 && v <= 1, `value ${v} outside [0, 1]`);
  }
}

const sum = (a: ArrayLike<number>) => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i]; return s; };

/** assert.throws whose message must contain `file` and match `re`. */
function throwsNaming(fn: () => unknown, file: string, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    const msg = e instanceof Error ? e.message : String(e);
    assert.ok(msg.includes(file), `message does not name ${file}: ${msg}`);
    assert.match(msg, re);
    return true;
  });
}

// ------------------------------------------------------------------------------------------------
// A MATLAB level 5 MAT-file writer, following "MAT-File Format" (MathWorks), chapter 1.

const mi = { INT8: 1, UINT8: 2, UINT16: 4, INT32: 5, UINT32: 6, DOUBLE: 9, MATRIX: 14, COMPRESSED: 15 };
const mx = { CHAR: 4, DOUBLE: 6, UINT8: 9 };

class Mat5Writer {
  constructor(readonly le = true) {}

  private u32(v: number): Buffer { const b = Buffer.alloc(4); if (this.le) b.writeUInt32LE(v); else b.writeUInt32BE(v); return b; }

  /** `values` packed as data type `type`. */
  pack(type: number, values: number[]): Buffer {
    const size = { [mi.INT8]: 1, [mi.UINT8]: 1, [mi.UINT16]: 2, [mi.INT32]: 4, [mi.UINT32]: 4, [mi.DOUBLE]: 8 }[type]!;
    const b = Buffer.alloc(values.length * size);
    values.forEach((v, i) => {
      const o = i * size;
      if (type === mi.INT8) b.writeInt8(v, o);
      else if (type === mi.UINT8) b.writeUInt8(v, o);
      else if (type === mi.UINT16) this.le ? b.writeUInt16LE(v, o) : b.writeUInt16BE(v, o);
      else if (type === mi.INT32) this.le ? b.writeInt32LE(v, o) : b.writeInt32BE(v, o);
      else if (type === mi.UINT32) this.le ? b.writeUInt32LE(v, o) : b.writeUInt32BE(v, o);
      else this.le ? b.writeDoubleLE(v, o) : b.writeDoubleBE(v, o);
    });
    return b;
  }

  /** 128 bytes: 116 of text, 8 of subsystem offset, version 0x0100, endian indicator 'IM'. */
  header(): Buffer {
    const b = Buffer.alloc(128, 0);
    b.write('MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024'.padEnd(116, ' '), 0, 'latin1');
    if (this.le) { b.writeUInt16LE(0x0100, 124); b.writeUInt16LE(0x4d49, 126); } // bytes 'I' 'M'
    else { b.writeUInt16BE(0x0100, 124); b.writeUInt16BE(0x4d49, 126); }           // bytes 'M' 'I'
    return b;
  }

  /** A data element: 8-byte tag (type, byte count), data, zero padding to a multiple of 8. */
  element(type: number, data: Buffer): Buffer {
    const pad = (8 - (data.length % 8)) % 8;
    return Buffer.concat([this.u32(type), this.u32(data.length), data, Buffer.alloc(pad)]);
  }

  /** A small data element (at most 4 bytes): count in the tag's upper 16 bits, data in its last 4 bytes. */
  small(type: number, data: Buffer): Buffer {
    assert.ok(data.length <= 4);
    return Buffer.concat([this.u32((data.length << 16) | type), data, Buffer.alloc(4 - data.length)]);
  }

  /** An miMATRIX element: array flags, dimensions, name, real part stored as `dataType`. */
  matrix(name: string, cls: number, dims: number[], dataType: number, values: number[]): Buffer {
    const nameBytes = Buffer.from(name, 'latin1');
    return this.element(mi.MATRIX, Buffer.concat([
      this.element(mi.UINT32, Buffer.concat([this.u32(cls), this.u32(0)])),
      this.element(mi.INT32, this.pack(mi.INT32, dims)),
      nameBytes.length <= 4 ? this.small(mi.INT8, nameBytes) : this.element(mi.INT8, nameBytes),
      this.element(dataType, this.pack(dataType, values)),
    ]));
  }

  /** An miCOMPRESSED element holding `el` deflated (zlib), not padded (as MATLAB and scipy write). */
  compressed(el: Buffer): Buffer {
    const z = zlib.deflateSync(el);
    return Buffer.concat([this.u32(mi.COMPRESSED), this.u32(z.length), z]);
  }
}

/** SVHN-like content: X(i, j, c, n) = (i + 2j + 50c + 7n) mod 256, y = 10, 1, 2, ... */
const svhnPixel = (i: number, j: number, c: number, n: number) => (i + 2 * j + 50 * c + 7 * n) % 256;
const svhnY = (n: number) => Array.from({ length: n }, (_, k) => (k === 0 ? 10 : k % 10));

/** Column-major X values for `n` images of `side x side x 3`. */
function svhnX(n: number, side = 32): number[] {
  const out: number[] = [];
  for (let k = 0; k < n; k++) for (let c = 0; c < 3; c++) for (let j = 0; j < side; j++) for (let i = 0; i < side; i++) out.push(svhnPixel(i, j, c, k));
  return out;
}

interface SvhnFileOpts { compressed?: boolean; le?: boolean; n?: number; omitX?: boolean; xClass?: 'uint8' | 'double'; y?: number[]; }

/** An SVHN-format .mat: X (uint8 32x32x3xN), y (double Nx1), and a char variable that is skipped. */
function svhnMat(opts: SvhnFileOpts = {}): Buffer {
  const w = new Mat5Writer(opts.le ?? true);
  const n = opts.n ?? 3;
  const y = opts.y ?? svhnY(n);
  const vars: Buffer[] = [
    // A char array (class mxCHAR, UTF-16 data): not numeric, listed as skipped.
    w.matrix('description', mx.CHAR, [1, 4], mi.UINT16, [...'svhn'].map((ch) => ch.charCodeAt(0))),
  ];
  if (!opts.omitX) {
    vars.push(opts.xClass === 'double'
      ? w.matrix('X', mx.DOUBLE, [32, 32, 3, n], mi.DOUBLE, svhnX(n))
      : w.matrix('X', mx.UINT8, [32, 32, 3, n], mi.UINT8, svhnX(n)));
  }
  // y is double; compressed files store it as miUINT8, as MATLAB does for small integers.
  vars.push(w.matrix('y', mx.DOUBLE, [y.length, 1], opts.compressed ? mi.UINT8 : mi.DOUBLE, y));
  return Buffer.concat([w.header(), ...vars.map((v) => (opts.compressed ? w.compressed(v) : v))]);
}

// ------------------------------------------------------------------------------------------------
// CIFAR records

/** CIFAR pixel (record r, channel c, row y, column x). */
const cifarPixel = (r: number, c: number, y: number, x: number) => (r * 7 + c * 50 + y * 3 + x) % 256;

/** CIFAR-10 (labels.length bytes of 1 label) or CIFAR-100 (pairs [coarse, fine]) records. */
function cifarFile(labels: number[][], first = 0): Buffer {
  const recs = labels.map((lab, i) => {
    const px = Buffer.alloc(3072);
    for (let c = 0; c < 3; c++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) px[c * 1024 + y * 32 + x] = cifarPixel(first + i, c, y, x);
    return Buffer.concat([Buffer.from(lab), px]);
  });
  return Buffer.concat(recs);
}

const at = (d: Dataset, k: number, y: number, x: number, c: number) => {
  const img = d.images[k];
  return Math.round(img.data[(y * img.width + x) * img.channels + c] * 255);
};

describe('data', () => {
  let dir: string;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlg-data-test-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tmp = (name: string, content?: Buffer | string) => {
    const p = path.join(dir, name);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (content !== undefined) fs.writeFileSync(p, content);
    return p;
  };

  describe('committed samples', () => {
    it('Fashion-MNIST idx: 64 test images, 28x28x1, equal to what numpy reads', () => {
      const d = loadIdx(FASHION_IMAGES, FASHION_LABELS);
      checkAll(d, 64, 28, 28, 1);
      assert.deepStrictEqual(d.labels.slice(0, 3), PY.fashion.labels);
      assert.strictEqual(sum(d.labels), PY.fashion.labelSum);
      // Cross-check with Python: pixel sums on the 0..255 scale, exact after rounding.
      assert.deepStrictEqual([0, 1, 2].map((k) => Math.round(sum(d.images[k].data) * 255)), PY.fashion.sums);
      assert.strictEqual(at(d, 0, 14, 14, 0), PY.fashion.pixel0_14_14);
      let all = 0;
      for (const img of d.images) for (const v of img.data) all += Math.round(v * 255);
      assert.strictEqual(all, PY.fashion.allSum);
      assert.ok(d.source.includes(FASHION_IMAGES));
    });

    it('Fashion-MNIST through the registry, with limit and class names', () => {
      const d = loadDataset('fashion-mnist', { limit: 5 });
      checkAll(d, 5, 28, 28, 1);
      assert.strictEqual(d.classes![d.labels[0]], 'Ankle boot');
      assert.strictEqual(DATASETS['fashion-mnist'].shape, '28x28x1');
    });

    it('digits CSV: 1797 8x8x1 images, labels 0..9', () => {
      const file = path.join(DATASETS_DIR, 'digits/digits.csv.gz');
      const d = loadDigitsCsv(file);
      checkAll(d, 1797, 8, 8, 1);
      assert.deepStrictEqual(d.labels.slice(0, 5), PY.digits.labels);
      assert.strictEqual(Math.round(sum(d.images[0].data) * 16), PY.digits.row0Sum);
      assert.deepStrictEqual(new Set(d.labels), new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
      assert.strictEqual(loadDataset('digits', { limit: 10 }).images.length, 10);
    });

    it('LFW subset .npy: 200 25x25x1 images, 100 faces then 100 non-faces', () => {
      const d = loadLfwSubset(path.join(DATASETS_DIR, 'lfw/lfw_subset.npy'));
      checkAll(d, 200, 25, 25, 1);
      assert.deepStrictEqual(d.labels, [...Array(100).fill(1), ...Array(100).fill(0)]);
      assert.ok(Math.abs(sum(d.images[0].data) - PY.lfw.sum0) < 1e-3);
      assert.ok(Math.abs(sum(d.images[100].data) - PY.lfw.sum100) < 1e-3);
      assert.ok(Math.abs(d.images[0].data[0] - PY.lfw.first) < 1e-7);
      assert.strictEqual(d.classes![d.labels[0]], 'face');
    });

    it('natural photos: five 32x32x3 images named by file', () => {
      const d = loadDataset('natural');
      checkAll(d, 5, 32, 32, 3);
      assert.deepStrictEqual(d.names, ['astronaut', 'chelsea', 'coffee', 'hubble', 'rocket']);
      assert.deepStrictEqual(d.labels, [0, 1, 2, 3, 4]);
    });

    it('natural-128: the five photos and a detail of each, 128x128x3, resized on request', () => {
      const d = loadDataset('natural-128');
      checkAll(d, 10, 128, 128, 3);
      assert.deepStrictEqual(d.names, ['astronaut-detail', 'astronaut', 'chelsea-detail', 'chelsea', 'coffee-detail', 'coffee', 'hubble-detail', 'hubble', 'rocket-detail', 'rocket']);
      const small = loadDataset('natural-128', { size: 64, limit: 2 });
      checkAll(small, 2, 64, 64, 3);
    });

    it('the registry has the nine names, each with its files and where to get them', () => {
      assert.deepStrictEqual(DATASET_NAMES, ['fashion-mnist', 'digits', 'lfw', 'natural', 'natural-128', 'cifar100', 'cifar10', 'svhn', 'mnist']);
      for (const name of DATASET_NAMES) {
        const e = DATASETS[name];
        assert.ok(e.files(e.splits[0]).length > 0 && e.howToGet.length > 0, name);
      }
      assert.deepStrictEqual(DATASETS.cifar100.files('test'), ['cifar-100-binary/test.bin']);
      assert.deepStrictEqual(DATASETS.svhn.files('test'), ['svhn/test_32x32.mat']);
    });
  });

  describe('CIFAR binary (files written here)', () => {
    it('CIFAR-10: label byte + CHW pixels -> 32x32x3 HWC', () => {
      const file = tmp('c10/test_batch.bin', cifarFile([[3], [0], [9]]));
      const d = loadCifar(file, { variant: 'cifar10' });
      checkAll(d, 3, 32, 32, 3);
      assert.deepStrictEqual(d.labels, [3, 0, 9]);
      for (const [k, y, x, c] of [[0, 0, 0, 0], [1, 5, 17, 1], [2, 31, 31, 2], [2, 0, 31, 1]]) {
        assert.strictEqual(at(d, k, y, x, c), cifarPixel(k, c, y, x), `record ${k} (${y}, ${x}, ${c})`);
      }
      assert.strictEqual(d.classes![3], 'cat');
      assert.strictEqual(loadCifar(file, { variant: 'cifar10', limit: 2 }).images.length, 2);
    });

    it('CIFAR-100: coarse and fine labels', () => {
      const file = tmp('c100/test.bin', cifarFile([[4, 0], [19, 99], [7, 42]]));
      const fine = loadCifar(file, { variant: 'cifar100' });
      checkAll(fine, 3, 32, 32, 3);
      assert.deepStrictEqual(fine.labels, [0, 99, 42]);
      assert.strictEqual(fine.classes![0], 'apple');
      assert.strictEqual(fine.classes![99], 'worm');
      const coarse = loadCifar(file, { variant: 'cifar100', label: 'coarse' });
      assert.deepStrictEqual(coarse.labels, [4, 19, 7]);
      assert.strictEqual(coarse.classes!.length, 20);
      assert.strictEqual(at(coarse, 1, 10, 20, 2), cifarPixel(1, 2, 10, 20));
    });

    it('the registry reads real files dropped into the datasets folder (CIFAR-100, CIFAR-10 train batches)', () => {
      const root = tmp('root1');
      tmp('root1/cifar-100-binary/test.bin', cifarFile([[1, 2], [3, 4]]));
      const d = loadDataset('cifar100', { root, label: 'coarse' });
      assert.deepStrictEqual(d.labels, [1, 3]);
      for (let b = 1; b <= 5; b++) tmp(`root1/cifar-10-batches-bin/data_batch_${b}.bin`, cifarFile([[b], [b + 1]], 2 * (b - 1)));
      const train = loadDataset('cifar10', { root, split: 'train' });
      assert.deepStrictEqual(train.labels, [1, 2, 2, 3, 3, 4, 4, 5, 5, 6]);
      assert.strictEqual(at(train, 7, 3, 4, 1), cifarPixel(7, 1, 3, 4));
      assert.strictEqual(loadDataset('cifar10', { root, split: 'train', limit: 3 }).images.length, 3);
    });
  });

  describe('SVHN MAT-files (written here, MATLAB level 5)', () => {
    for (const [label, opts] of [
      ['uncompressed', { compressed: false }],
      ['miCOMPRESSED', { compressed: true }],
      ['big-endian', { le: false }],
    ] as const) {
      it(`${label}: X 32x32x3xN column-major -> HWC, y 10 -> 0`, () => {
        const file = tmp(`svhn-${label}.mat`, svhnMat({ ...opts, n: 4 }));
        const d = loadSvhnMat(file);
        checkAll(d, 4, 32, 32, 3);
        assert.deepStrictEqual(d.labels, [0, 1, 2, 3]);
        for (const [k, i, j, c] of [[0, 0, 0, 0], [1, 3, 7, 2], [3, 31, 0, 1], [2, 0, 31, 2], [3, 31, 31, 2]]) {
          assert.strictEqual(at(d, k, i, j, c), svhnPixel(i, j, c, k), `image ${k} (${i}, ${j}, ${c})`);
        }
        assert.strictEqual(loadSvhnMat(file, { limit: 2 }).images.length, 2);
        const mat = readMat5(file);
        assert.deepStrictEqual([...mat.arrays.keys()], ['X', 'y']);
        assert.deepStrictEqual(mat.arrays.get('X')!.dims, [32, 32, 3, 4]);
        assert.strictEqual(mat.arrays.get('y')!.class, 'double');
        assert.deepStrictEqual(mat.skipped, [{ name: 'description', class: 'char' }]);
      });
    }

    it('the registry finds datasets/svhn/test_32x32.mat', () => {
      const root = tmp('root2');
      tmp('root2/svhn/test_32x32.mat', svhnMat({ compressed: true, n: 2 }));
      const d = loadDataset('svhn', { root });
      assert.deepStrictEqual(d.labels, [0, 1]);
      assert.ok(d.source.includes(path.join(root, 'svhn/test_32x32.mat')));
    });
  });

  describe('errors name the file', () => {
    const fashionRaw = () => zlib.gunzipSync(fs.readFileSync(FASHION_IMAGES));

    it('missing files', () => {
      const missing = path.join(dir, 'nope', 'missing.bin');
      throwsNaming(() => loadIdx(missing, FASHION_LABELS), missing, /no such file/);
      throwsNaming(() => loadCifar(missing, { variant: 'cifar10' }), missing, /no such file/);
      throwsNaming(() => loadSvhnMat(missing), missing, /no such file/);
      throwsNaming(() => loadLfwSubset(missing), missing, /no such file/);
      throwsNaming(() => loadDigitsCsv(missing), missing, /no such file/);
    });

    it('a missing dataset says which file to put where', () => {
      const root = tmp('empty-root');
      fs.mkdirSync(root, { recursive: true });
      throwsNaming(() => loadDataset('cifar100', { root }), path.join(root, 'cifar-100-binary/test.bin'), /cifar-100-binary\.tar\.gz/);
      throwsNaming(() => loadDataset('svhn', { root }), path.join(root, 'svhn/test_32x32.mat'), /test_32x32\.mat/);
      throwsNaming(() => loadDataset('mnist', { root }), path.join(root, 'mnist/t10k-images-idx3-ubyte.gz'), /datasets\/mnist/);
      assert.throws(() => loadDataset('imagenet'), /unknown dataset "imagenet"; known: fashion-mnist/);
      assert.throws(() => loadDataset('svhn', { root, split: 'val' }), /unknown split "val"/);
    });

    it('idx: truncated, trailing bytes, wrong magic, unsupported dtype, corrupt gzip, count mismatch', () => {
      const raw = fashionRaw();
      const cut = tmp('cut-images-idx3-ubyte', raw.subarray(0, raw.length - 100));
      throwsNaming(() => loadIdx(cut, FASHION_LABELS), cut, /truncated file/);
      const cutHeader = tmp('cut-header-idx3-ubyte', raw.subarray(0, 10));
      throwsNaming(() => loadIdx(cutHeader, FASHION_LABELS), cutHeader, /truncated file/);
      const long = tmp('long-images-idx3-ubyte', Buffer.concat([raw, Buffer.alloc(5)]));
      throwsNaming(() => loadIdx(long, FASHION_LABELS), long, /size mismatch.*5 extra bytes/);
      // Images and labels swapped: each has the other's magic.
      throwsNaming(() => loadIdx(FASHION_LABELS, FASHION_IMAGES), FASHION_LABELS, /wrong magic number 2049 .*starts with 2051/);
      const png = path.join(DATASETS_DIR, 'natural/astronaut.png');
      throwsNaming(() => loadIdx(png, FASHION_LABELS), png, /wrong magic number/);
      const floats = Buffer.from(raw);
      floats[2] = 0x0d;
      const f32 = tmp('float-images-idx3-ubyte', floats);
      throwsNaming(() => loadIdx(f32, FASHION_LABELS), f32, /unsupported dtype float32/);
      const gz = fs.readFileSync(FASHION_IMAGES);
      const cutGz = tmp('cut-images-idx3-ubyte.gz', gz.subarray(0, gz.length >> 1));
      throwsNaming(() => loadIdx(cutGz, FASHION_LABELS), cutGz, /corrupt gzip/);
      // 64 images, 3 labels.
      const few = tmp('few-labels-idx1-ubyte', Buffer.from([0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3]));
      throwsNaming(() => loadIdx(FASHION_IMAGES, few), few, /shape mismatch: 3 labels for 64 images/);
      throwsNaming(() => loadIdx(FASHION_IMAGES, FASHION_LABELS, { limit: 0 }), FASHION_IMAGES, /limit must be a positive integer/);
    });

    it('CIFAR: size not a multiple of the record, empty, out-of-range labels', () => {
      const file = tmp('odd.bin', cifarFile([[1], [2]]).subarray(0, 3073 + 1000));
      throwsNaming(() => loadCifar(file, { variant: 'cifar10' }), file, /not a multiple of the 3073-byte cifar10 record/);
      const c100 = tmp('c100-as-c10.bin', cifarFile([[1, 2], [3, 4], [5, 6]]));
      throwsNaming(() => loadCifar(c100, { variant: 'cifar10' }), c100, /a cifar100 file\?/);
      const empty = tmp('empty.bin', Buffer.alloc(0));
      throwsNaming(() => loadCifar(empty, { variant: 'cifar100' }), empty, /empty/);
      const bad = tmp('bad-label.bin', cifarFile([[1], [12]]));
      throwsNaming(() => loadCifar(bad, { variant: 'cifar10' }), bad, /record 1 has label 12/);
    });

    it("SVHN .mat: missing variable 'X', truncated, not a MAT-file, wrong class, bad labels", () => {
      for (const compressed of [false, true]) {
        const noX = tmp(`noX-${compressed}.mat`, svhnMat({ omitX: true, compressed }));
        throwsNaming(() => loadSvhnMat(noX), noX, /no variable 'X' \(the file holds 'y', 'description'\)/);
      }
      const whole = svhnMat({ n: 2 });
      const cut = tmp('cut.mat', whole.subarray(0, whole.length - 3000));
      throwsNaming(() => loadSvhnMat(cut), cut, /truncated file/);
      const wholeZ = svhnMat({ n: 2, compressed: true });
      const cutZ = tmp('cutZ.mat', wholeZ.subarray(0, wholeZ.length - 20));
      throwsNaming(() => loadSvhnMat(cutZ), cutZ, /truncated file/);
      const short = tmp('short.mat', whole.subarray(0, 60));
      throwsNaming(() => loadSvhnMat(short), short, /truncated file: 60 bytes/);
      const npy = path.join(DATASETS_DIR, 'lfw/lfw_subset.npy');
      throwsNaming(() => loadSvhnMat(npy), npy, /not a MATLAB level 5 MAT-file/);
      const dbl = tmp('double.mat', svhnMat({ n: 1, xClass: 'double' }));
      throwsNaming(() => loadSvhnMat(dbl), dbl, /unsupported dtype: variable 'X' has class double/);
      const badY = tmp('badY.mat', svhnMat({ n: 2, y: [3, 11] }));
      throwsNaming(() => loadSvhnMat(badY), badY, /y\(2\) = 11/);
      const fewY = tmp('fewY.mat', svhnMat({ n: 2, y: [3] }));
      throwsNaming(() => loadSvhnMat(fewY), fewY, /shape mismatch: variable 'y' is 1x1/);
    });

    it('.npy and LFW: wrong magic, truncated, unsupported dtype, Fortran order, wrong shape', () => {
      const npyFile = path.join(DATASETS_DIR, 'lfw/lfw_subset.npy');
      const buf = fs.readFileSync(npyFile);
      const cut = tmp('cut.npy', buf.subarray(0, buf.length - 8));
      throwsNaming(() => loadLfwSubset(cut), cut, /truncated file/);
      throwsNaming(() => loadLfwSubset(FASHION_LABELS), FASHION_LABELS, /wrong magic: not a \.npy file/);
      const npy = (descr: string, shape: string, data: Buffer, fortran = 'False') => {
        let header = `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }`;
        header = header.padEnd(Math.ceil((header.length + 11) / 64) * 64 - 11, ' ') + '\n';
        const len = Buffer.alloc(2);
        len.writeUInt16LE(header.length);
        return Buffer.concat([Buffer.from([0x93]), Buffer.from('NUMPY\x01\x00', 'latin1'), len, Buffer.from(header, 'latin1'), data]);
      };
      const c16 = tmp('complex.npy', npy('<c16', '(2,)', Buffer.alloc(32)));
      throwsNaming(() => loadLfwSubset(c16), c16, /unsupported dtype '<c16'/);
      const fort = tmp('fortran.npy', npy('|u1', '(200, 2, 2)', Buffer.alloc(800), 'True'));
      throwsNaming(() => loadLfwSubset(fort), fort, /fortran_order/);
      const small = tmp('small.npy', npy('|u1', '(10, 5, 5)', Buffer.alloc(250)));
      throwsNaming(() => loadLfwSubset(small), small, /shape mismatch: \(10, 5, 5\)/);
      const big = tmp('big.npy', npy('<f4', '(200, 1, 1)', Buffer.alloc(800, 0x7f)));
      throwsNaming(() => loadLfwSubset(big), big, /outside \[0, 1\]/);
      // The reader itself: uint8 and big-endian float64, C order.
      const u8 = parseNpy(npy('|u1', '(2, 3)', Buffer.from([0, 1, 2, 253, 254, 255])), 'u8.npy');
      assert.deepStrictEqual([u8.shape, Array.from(u8.data)], [[2, 3], [0, 1, 2, 253, 254, 255]]);
      const be = Buffer.alloc(16); be.writeDoubleBE(0.25, 0); be.writeDoubleBE(-3, 8);
      assert.deepStrictEqual(Array.from(parseNpy(npy('>f8', '(2,)', be), 'be.npy').data), [0.25, -3]);
      // A uint8 LFW-shaped file scales by 1/255.
      const u8lfw = tmp('u8lfw.npy', npy('|u1', '(200, 2, 2)', Buffer.alloc(800, 255)));
      assert.strictEqual(loadLfwSubset(u8lfw).images[7].data[3], 1);
    });

    it('digits CSV: wrong row length, pixel out of range', () => {
      const row = (vals: number[]) => vals.join(',');
      const ok = row([...Array(64).fill(16), 7]);
      const shortRow = tmp('short.csv', `${ok}\n${row([1, 2, 3])}\n`);
      throwsNaming(() => loadDigitsCsv(shortRow), shortRow, /line 2: 3 values, expected 65/);
      const big = tmp('big.csv.gz', zlib.gzipSync(`${row([...Array(63).fill(0), 17, 1])}\n`));
      throwsNaming(() => loadDigitsCsv(big), big, /line 1: pixel 63 is 17/);
      assert.deepStrictEqual(loadDigitsCsv(tmp('ok.csv', `${ok}\n`)).labels, [7]);
    });
  });
});
