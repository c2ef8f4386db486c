/**
 * lib/image.ts: PNG/JPEG loading, resizing, saving, grids, and the error messages for bad input.
 * All test images are made here and written under os.tmpdir().
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { fromTensorData, loadImage, makeGrid, resize, savePng, toPngBuffer } from '../lib/data/image';
import type { Img } from '../lib/data/image';

/** An image whose value at (y, x, c) is f(y, x, c). */
function makeImg(height: number, width: number, channels: number, f: (y: number, x: number, c: number) => number): Img {
  const data = new Float32Array(height * width * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = f(y, x, c);
  }
  return { height, width, channels, data };
}

const at = (img: Img, y: number, x: number, c = 0) => img.data[(y * img.width + x) * img.channels + c];
/** A RegExp matching `text` literally (temporary paths may contain regex metacharacters). */
const literal = (text: string) => new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

describe('image', () => {
  let dir: string;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlg-image-test-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tmp = (name: string) => path.join(dir, name);

  describe('PNG', () => {
    // Every value is k/255, so 8-bit storage loses nothing.
    const rgb = makeImg(5, 7, 3, (y, x, c) => ((y * 7 + x) * 3 + c) * 2 / 255);
    const gray = makeImg(6, 4, 1, (y, x) => (y * 4 + x) * 11 / 255);

    it('round-trips 3-channel images exactly, creating the directory', () => {
      const file = tmp('nested/deeper/rgb.png');
      savePng(rgb, file);
      const back = loadImage(file);
      assert.deepStrictEqual([back.height, back.width, back.channels], [5, 7, 3]);
      assert.deepStrictEqual(back.data, rgb.data);
    });

    it('round-trips 1-channel images exactly (stored as 8-bit grayscale)', () => {
      const file = tmp('gray.png');
      savePng(gray, file);
      assert.strictEqual(PNG.sync.read(fs.readFileSync(file)).width, 4);
      assert.deepStrictEqual(loadImage(file, { channels: 1 }).data, gray.data);
      const asRgb = loadImage(file); // default: 3 channels, gray replicated
      assert.strictEqual(asRgb.channels, 3);
      for (let i = 0; i < 24; i++) for (let c = 0; c < 3; c++) assert.strictEqual(asRgb.data[3 * i + c], gray.data[i]);
    });

    it('converts RGB to grayscale with ITU-R 601 luma', () => {
      const file = tmp('rgb-for-luma.png');
      savePng(rgb, file);
      const g = loadImage(file, { channels: 1 });
      for (let i = 0; i < 35; i++) {
        const want = 0.299 * rgb.data[3 * i] + 0.587 * rgb.data[3 * i + 1] + 0.114 * rgb.data[3 * i + 2];
        assert.ok(Math.abs(g.data[i] - want) < 1e-6);
      }
    });

    it('clamps to [0, 1] and rounds to the nearest 8-bit level', () => {
      const img: Img = { height: 1, width: 5, channels: 1, data: Float32Array.from([-0.5, 1.5, NaN, 0.5, 0.2]) };
      const png = PNG.sync.read(toPngBuffer(img));
      assert.deepStrictEqual(Array.from({ length: 5 }, (_, i) => png.data[4 * i]), [0, 255, 0, 128, 51]);
    });

    it('toPngBuffer returns PNG bytes and refuses other channel counts', () => {
      assert.deepStrictEqual([...toPngBuffer(rgb).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
      const rgba = makeImg(2, 2, 4, () => 0);
      assert.throws(() => toPngBuffer(rgba), /toPngBuffer: PNG needs 1 or 3 channels/);
      assert.throws(() => savePng(rgba, tmp('rgba.png')), /cannot save PNG .*rgba\.png: PNG needs 1 or 3 channels, got an image of shape 2x2x4/);
    });
  });

  describe('JPEG', () => {
    /** Encode an 8-bit RGB function as a JPEG file with jpeg-js. */
    function writeJpeg(file: string, width: number, height: number, rgb: (y: number, x: number) => number[]): void {
      const data = Buffer.alloc(width * height * 4);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) data.set([...rgb(y, x), 255], (y * width + x) * 4);
      }
      fs.writeFileSync(file, jpeg.encode({ width, height, data }, 95).data);
    }

    it('decodes a JPEG file close to what was encoded', () => {
      const file = tmp('flat.jpg');
      writeJpeg(file, 16, 12, () => [200, 100, 50]);
      const img = loadImage(file);
      assert.deepStrictEqual([img.height, img.width, img.channels], [12, 16, 3]);
      for (let i = 0; i < 16 * 12; i++) {
        [200, 100, 50].forEach((v, c) => assert.ok(Math.abs(img.data[3 * i + c] - v / 255) <= 3 / 255));
      }
    });

    it('recognises the format by its bytes, not the file extension', () => {
      const file = tmp('actually-a-jpeg.png');
      writeJpeg(file, 8, 8, (y, x) => [x * 30, y * 30, 128]);
      const img = loadImage(file, { channels: 1, size: 4 });
      assert.deepStrictEqual([img.height, img.width, img.channels], [4, 4, 1]);
    });
  });

  describe('resize', () => {
    it('keeps a constant image constant when shrinking, enlarging or both', () => {
      const flat = makeImg(7, 9, 3, (_y, _x, c) => [0.2, 0.55, 0.9][c]);
      for (const [h, w] of [[3, 4], [20, 15], [2, 30], [7, 9]]) {
        const out = resize(flat, h, w);
        assert.deepStrictEqual([out.height, out.width, out.channels], [h, w, 3]);
        out.data.forEach((v, i) => assert.ok(Math.abs(v - flat.data[i % 3]) < 1e-7, `${h}x${w}: ${v}`));
      }
    });

    it('area-averages 2x2 blocks exactly when halving', () => {
      const block = [[0.1, 0.7, 0.3], [0.9, 0.4, 0.6]];
      const img = makeImg(4, 6, 1, (y, x) => block[Math.floor(y / 2)][Math.floor(x / 2)]);
      assert.deepStrictEqual(Array.from(resize(img, 2, 3).data), block.flat().map(Math.fround));
      // Pixels of a block that differ average to their mean.
      const checker = makeImg(4, 4, 1, (y, x) => ((x + y) % 2 ? 1 : 0));
      assert.deepStrictEqual(Array.from(resize(checker, 2, 2).data), [0.5, 0.5, 0.5, 0.5]);
    });

    it('averages partial pixels in proportion to their overlap (3 -> 2)', () => {
      const img = makeImg(1, 3, 1, (_y, x) => [0, 0.3, 0.6][x]);
      const out = resize(img, 1, 2).data; // [0, 1.5) and [1.5, 3)
      assert.ok(Math.abs(out[0] - (0 + 0.5 * 0.3) / 1.5) < 1e-7);
      assert.ok(Math.abs(out[1] - (0.5 * 0.3 + 0.6) / 1.5) < 1e-7);
    });

    it('enlarges bilinearly with aligned pixel centres', () => {
      const img = makeImg(1, 2, 1, (_y, x) => [0, 1][x]);
      assert.deepStrictEqual(Array.from(resize(img, 1, 4).data), [0, 0.25, 0.75, 1]);
    });

    it('loadImage resizes on request', () => {
      const file = tmp('blocks.png');
      savePng(makeImg(4, 4, 3, (y, x, c) => (Math.floor(y / 2) * 2 + Math.floor(x / 2) + c) * 20 / 255), file);
      const small = loadImage(file, { size: 2 });
      assert.deepStrictEqual([small.height, small.width], [2, 2]);
      assert.strictEqual(small.data[(1 * 2 + 0) * 3 + 1], Math.fround((2 + 1) * 20 / 255));
      const wide = loadImage(file, { size: [4, 8] });
      assert.deepStrictEqual([wide.height, wide.width, wide.channels], [4, 8, 3]);
    });
  });

  describe('makeGrid', () => {
    const tiles = [0, 1, 2, 3, 4].map((k) => makeImg(3, 4, 1, (y, x) => k / 10 + y * 0.01 + x * 0.001));

    it('places images row by row with padding, empty cells and integer upscaling', () => {
      const g = makeGrid(tiles, { cols: 3, pad: 1, padValue: 0.5, scale: 2 });
      // rows*(h*scale + pad) + pad by cols*(w*scale + pad) + pad
      assert.deepStrictEqual([g.height, g.width, g.channels], [2 * (6 + 1) + 1, 3 * (8 + 1) + 1, 1]);
      assert.strictEqual(at(g, 0, 0), 0.5);
      assert.strictEqual(at(g, 7, 5), 0.5); // padding row between the two grid rows
      assert.strictEqual(at(g, 3, 9), 0.5); // padding column between cells 0 and 1
      for (let y = 0; y < 6; y++) {
        for (let x = 0; x < 8; x++) {
          assert.strictEqual(at(g, 1 + y, 1 + x), at(tiles[0], y >> 1, x >> 1)); // cell 0, nearest neighbour
          assert.strictEqual(at(g, 8 + y, 10 + x), at(tiles[4], y >> 1, x >> 1)); // cell 4: row 1, col 1
          assert.strictEqual(at(g, 8 + y, 19 + x), 0.5); // cell 5 is empty
        }
      }
    });

    it('defaults: ceil(sqrt(n)) columns, pad 2 of white, scale 1', () => {
      const g = makeGrid(tiles.slice(0, 4));
      assert.deepStrictEqual([g.height, g.width], [2 * (3 + 2) + 2, 2 * (4 + 2) + 2]);
      assert.strictEqual(at(g, 0, 0), 1);
      assert.strictEqual(at(g, 2 + 3 + 2, 2 + 4 + 2), at(tiles[3], 0, 0));
    });

    it('refuses images of different shapes and bad options', () => {
      assert.throws(() => makeGrid([tiles[0], makeImg(3, 4, 3, () => 0)]), /image 1 has shape 3x4x3, image 0 has 3x4x1/);
      assert.throws(() => makeGrid([]), /no images/);
      assert.throws(() => makeGrid(tiles, { scale: 1.5 }), /scale must be a positive integer/);
      assert.throws(() => makeGrid(tiles, { cols: 0 }), /cols must be a positive integer/);
    });
  });

  describe('fromTensorData', () => {
    it('copies the values', () => {
      const src = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];
      const img = fromTensorData(src, 1, 2, 3);
      src[0] = 9;
      assert.strictEqual(img.data[0], Math.fround(0.1));
      assert.deepStrictEqual([img.height, img.width, img.channels], [1, 2, 3]);
    });

    it('checks the length against the shape', () => {
      assert.throws(() => fromTensorData(new Float32Array(5), 1, 2, 3), /shape 1x2x3 needs 6 values, data has 5/);
    });
  });

  describe('errors name the file', () => {
    it('missing file', () => {
      const file = tmp('no-such-image.png');
      assert.throws(() => loadImage(file), literal(`cannot read image ${file}: no such file`));
    });

    it('a directory', () => {
      assert.throws(() => loadImage(dir), literal(`cannot read image ${dir}: it is a directory`));
    });

    it('neither PNG nor JPEG', () => {
      const file = tmp('notes.png');
      fs.writeFileSync(file, 'just some text');
      assert.throws(() => loadImage(file), literal(`cannot load image ${file}: not a PNG or JPEG file (first bytes: 6a 75 73`));
      const empty = tmp('empty.jpg');
      fs.writeFileSync(empty, '');
      assert.throws(() => loadImage(empty), /not a PNG or JPEG file \(first bytes: none, the file is empty\)/);
    });

    it('corrupt PNG', () => {
      const good = toPngBuffer(makeImg(8, 8, 3, (y, x, c) => (x + y + c) / 20));
      const truncated = tmp('truncated.png');
      fs.writeFileSync(truncated, good.subarray(0, 40));
      assert.throws(() => loadImage(truncated), literal(`cannot decode PNG ${truncated}: unexpected end of data`));
      const flipped = Buffer.from(good);
      flipped[50] ^= 0xff; // inside the IDAT chunk: its CRC no longer matches
      const corrupt = tmp('corrupt.png');
      fs.writeFileSync(corrupt, flipped);
      assert.throws(() => loadImage(corrupt), literal(`cannot decode PNG ${corrupt}: `));
    });

    it('corrupt JPEG', () => {
      const file = tmp('corrupt.jpg');
      fs.writeFileSync(file, Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.from('not really a jpeg')]));
      assert.throws(() => loadImage(file), literal(`cannot decode JPEG ${file}: unknown JPEG marker`));
    });

    it('bad options', () => {
      const file = tmp('ok.png');
      savePng(makeImg(2, 2, 1, () => 0), file);
      assert.throws(() => loadImage(file, { size: 0 }), literal(`loadImage ${file}: size must be positive integers, got 0`));
      assert.throws(() => loadImage(file, { channels: 4 as 3 }), /channels must be 1 or 3, got 4/);
    });
  });
});
