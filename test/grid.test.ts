/**
 * lib/report/font.ts, raster.ts, grid.ts, gallery.ts: labelled PNG grids. Checked pixel by pixel:
 * tiles are the nearest-neighbour upscaled images at the documented places, captions put exactly
 * the ink of their glyphs under their tile, the gap before the truth is background, and the PNG
 * decodes to the expected size.
 */
import { strict as assert } from 'assert';
import { PNG } from 'pngjs';
import { toPngBuffer } from '../lib/data/image';
import type { Img } from '../lib/data/image';
import { ADVANCE, CHARACTERS, GLYPH_HEIGHT, GLYPH_WIDTH, checkText, glyph, textHeight, textWidth } from '../lib/report/font';
import { canvas, drawText } from '../lib/report/raster';
import { evenlySpaced, progressGrid, tileGrid } from '../lib/report/grid';
import { gallery } from '../lib/report/gallery';
import { progressRow } from '../lib/report/progress-row';

/** A w x w image whose pixel values are distinct, never pure black or white. */
function pattern(w: number, seed: number, channels = 3): Img {
  const data = new Float32Array(w * w * channels);
  for (let i = 0; i < data.length; i++) data[i] = 0.1 + 0.8 * (((i * 7 + seed * 13) % 97) / 97);
  return { height: w, width: w, channels, data };
}

const px = (img: Img, y: number, x: number) => Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));
const isInk = (img: Img, y: number, x: number) => px(img, y, x).every((v) => v === 0);
const isBackground = (img: Img, y: number, x: number) => px(img, y, x).every((v) => v === 1);

/** Ink pixels of `text` drawn at `scale`: the glyphs' '#' count times scale^2. */
function inkOf(text: string, scale: number): number {
  let n = 0;
  for (const ch of text.replace(/\n/g, '')) for (const row of glyph(ch)) n += row.filter(Boolean).length;
  return n * scale * scale;
}

/** Ink pixels in the rectangle [x0, x1) x [y0, y1), and their horizontal extent. */
function inkIn(img: Img, x0: number, y0: number, x1: number, y1: number): { count: number; left: number; right: number } {
  let count = 0, left = Infinity, right = -Infinity;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      if (isInk(img, y, x)) { count++; left = Math.min(left, x); right = Math.max(right, x); }
    }
  }
  return { count, left, right };
}

/** Asserts that the tile at (top, left) is `src` upscaled by `scale` (gray copied to r, g, b). */
function assertTile(out: Img, src: Img, top: number, left: number, scale: number): void {
  for (let y = 0; y < src.height * scale; y++) {
    for (let x = 0; x < src.width * scale; x++) {
      const s = (Math.floor(y / scale) * src.width + Math.floor(x / scale)) * src.channels;
      const want = src.channels === 3 ? [src.data[s], src.data[s + 1], src.data[s + 2]] : [src.data[s], src.data[s], src.data[s]];
      const got = px(out, top + y, left + x);
      if (got.some((v, k) => v !== want[k])) assert.fail(`tile pixel (${y}, ${x}) at (${top}, ${left}): ${got} != ${want}`);
    }
  }
}

describe('bitmap font', () => {
  it('has a 5 x 9 glyph for every printable ASCII character, all different', () => {
    for (let c = 32; c <= 126; c++) assert.ok(CHARACTERS.includes(String.fromCharCode(c)), String.fromCharCode(c));
    const seen = new Map<string, string>();
    for (const ch of CHARACTERS) {
      const g = glyph(ch);
      assert.equal(g.length, GLYPH_HEIGHT);
      assert.ok(g.every((r) => r.length === GLYPH_WIDTH));
      const key = g.map((r) => r.map((b) => (b ? '#' : '.')).join('')).join('/');
      assert.ok(!seen.has(key) || ch === ' ', `'${ch}' looks like '${seen.get(key)}'`);
      seen.set(key, ch);
    }
  });

  it('puts capitals and digits on rows 0-6 and descenders below the baseline', () => {
    const rows = (ch: string) => glyph(ch).map((r, i) => (r.some(Boolean) ? i : -1)).filter((i) => i >= 0);
    for (const ch of 'AEHMZ0123456789') assert.deepEqual([Math.min(...rows(ch)), Math.max(...rows(ch))], [0, 6], ch);
    for (const ch of 'aceos') assert.deepEqual([Math.min(...rows(ch)), Math.max(...rows(ch))], [2, 6], ch);
    for (const ch of 'gjpqy') assert.equal(Math.max(...rows(ch)), 8, ch);
  });

  it('measures text: 6 px per character less the last blank column, 11 px per line', () => {
    assert.equal(textWidth('it 10', 1), 29);
    assert.equal(textWidth('it 10', 2), 58);
    assert.equal(textWidth('truth\nit 0', 3), (6 * 5 - 1) * 3);
    assert.equal(textWidth(''), 0);
    assert.equal(textHeight('a', 2), 18);
    assert.equal(textHeight('a\nb', 1), 20);
    assert.equal(ADVANCE, 6);
  });

  it('draws exactly the glyph pixels, scaled, aligned as asked', () => {
    const img = canvas(30, 60, 1);
    drawText(img, 'T', 10, 2, { scale: 2 });
    // 'T' is a bar on row 0 and a stem in column 2
    for (let x = 10; x < 20; x++) assert.ok(isInk(img, 2, x) && isInk(img, 3, x));
    assert.ok(isInk(img, 2 + 2 * 6, 10 + 2 * 2) && !isInk(img, 2 + 2 * 6, 10));
    assert.equal(inkIn(img, 0, 0, 60, 30).count, inkOf('T', 2));
    const right = canvas(12, 40, 1);
    drawText(right, 'ab', 39, 0, { align: 'right' });
    assert.equal(inkIn(right, 0, 0, 40, 12).right, 38); // 'b' ends in its column 4: x = 39 - 11 + 6 + 4
    assert.throws(() => drawText(img, 'é', 0, 0), /no glyph for "é" \(U\+00E9\)/);
  });

  it('checkText names the label and the character it cannot draw', () => {
    assert.doesNotThrow(() => checkText('prune 10% (σ=1e-3) ≤ 0.5 → truth'));
    assert.throws(() => checkText('ok\tno', 'caption 3'), /^Error: caption 3: the bitmap font has no glyph for "\\t"/);
  });
});

describe('labelled grids', () => {
  const frames = [0, 1, 2].map((k) => pattern(32, k));
  const truth = pattern(32, 9);

  describe('progressGrid, one image', () => {
    // Defaults: 32 px images x3 = 96 px tiles, font x2, pad 4 (margin 8), gap 16 before the truth.
    const out = progressGrid({ frames, iterations: [0, 10, 20], truth });
    const colLeft = [8, 108, 208, 324];

    it('has the documented size, and decodes as a PNG of that size', () => {
      const capH = 3 * 2 + 9 * 2;
      assert.deepEqual([out.width, out.height, out.channels], [8 + 4 * 96 + 3 * 4 + 16 + 8, 8 + 96 + capH + 8, 3]);
      const png = PNG.sync.read(toPngBuffer(out));
      assert.deepEqual([png.width, png.height], [428, 136]);
      assert.deepEqual([...png.data.subarray(0, 4)], [255, 255, 255, 255]);
    });

    it('holds each image upscaled x3 by nearest neighbour, the truth last', () => {
      frames.forEach((f, j) => assertTile(out, f, 8, colLeft[j], 3));
      assertTile(out, truth, 8, colLeft[3], 3);
    });

    it('leaves a gap of background before the truth, wider than between frames', () => {
      for (let y = 0; y < out.height; y++) for (let x = colLeft[2] + 96; x < colLeft[3]; x++) assert.ok(isBackground(out, y, x), `(${y}, ${x})`);
      assert.equal(colLeft[3] - (colLeft[2] + 96), 20);
      assert.equal(colLeft[2] - (colLeft[1] + 96), 4);
    });

    it('writes the iteration under each frame and "truth" under the truth, centred', () => {
      ['it 0', 'it 10', 'it 20', 'truth'].forEach((caption, j) => {
        const ink = inkIn(out, colLeft[j], 8 + 96, colLeft[j] + 96, out.height);
        assert.equal(ink.count, inkOf(caption, 2), caption);
        const centre = (ink.left + ink.right + 1) / 2;
        assert.ok(Math.abs(centre - (colLeft[j] + 48)) <= 2, `${caption}: centre ${centre}`);
      });
      assert.equal(inkIn(out, 0, 0, out.width, 8 + 96).count, 0); // no ink over the tiles
    });

    it('wraps long runs onto lines of equal length, the truth ending the first', () => {
      const many = Array.from({ length: 11 }, (_, k) => pattern(8, k));
      const g = progressGrid({ frames: many, iterations: many.map((_, k) => 10 * k), truth: pattern(8, 99) }, { tileSize: 16, textScale: 1, gap: 10 });
      // 8 px images x2 = 16 px tiles; captions 'it 100' (35 px + 10) widen the columns to 45 px
      const colW = 45, rowH = 16 + 3 + 9;
      assert.equal(g.width, 8 + 7 * colW + 6 * 4 + 10 + 8);
      assert.equal(g.height, 8 + 2 * rowH + 4 + 8);
      assertTile(g, many[5], 8, 8 + 5 * (colW + 4) + Math.floor((colW - 16) / 2), 2);
      assertTile(g, many[6], 8 + rowH + 4, 8 + Math.floor((colW - 16) / 2), 2);
      assertTile(g, pattern(8, 99), 8, 8 + 6 * (colW + 4) + 10 + Math.floor((colW - 16) / 2), 2);
    });

    it('keeps maxFrames evenly spaced frames, the first and the last among them', () => {
      assert.deepEqual(evenlySpaced(31, 5), [0, 8, 15, 23, 30]);
      assert.deepEqual(evenlySpaced(3, 5), [0, 1, 2]);
      const seen: number[] = [];
      const many = Array.from({ length: 31 }, (_, k) => pattern(4, k));
      progressGrid({ frames: many, iterations: many.map((_, k) => 10 * k) }, { maxFrames: 5, iterationLabel: (it) => { seen.push(it); return `${it}`; } });
      assert.deepEqual(seen, [0, 80, 150, 230, 300]);
    });
  });

  describe('progressGrid, several rows', () => {
    const rows = ['none', 'prune 10%'].map((label, r) => ({ label, frames: frames.map((f, k) => pattern(32, 10 * r + k)), iterations: [0, 10, 20], truth }));

    it('labels rows at the left and the shared iterations once under the last row', () => {
      const g = progressGrid(rows);
      const labelW = textWidth('prune 10%', 2) + 8;
      const x0 = 8 + labelW;
      assert.equal(g.width, x0 + 4 * 96 + 3 * 4 + 16 + 8);
      assert.equal(g.height, 8 + 2 * 96 + 4 + (6 + 18) + 8);
      assertTile(g, rows[1].frames[2], 8 + 96 + 4, x0 + 2 * 100, 3);
      assertTile(g, truth, 8 + 96 + 4, x0 + 3 * 100 + 16, 3);
      assert.equal(inkIn(g, 0, 8, x0, 8 + 96).count, inkOf('none', 2));
      assert.equal(inkIn(g, 0, 8 + 100, x0, 8 + 196).count, inkOf('prune 10%', 2));
      assert.equal(inkIn(g, x0, 8 + 96, g.width, 8 + 100).count, 0); // nothing between the rows
      assert.equal(inkIn(g, x0, 8 + 196, g.width, g.height).count, inkOf('it 0it 10it 20truth', 2));
    });

    it('captions every tile when the rows have different iterations', () => {
      const g = progressGrid([rows[0], { ...rows[1], iterations: [0, 5, 7] }]);
      const x0 = 8 + textWidth('prune 10%', 2) + 8;
      const captionBand = (r: number) => inkIn(g, x0, 8 + r * (96 + 24 + 4) + 96, g.width, 8 + r * (96 + 24 + 4) + 120).count;
      assert.equal(captionBand(0), inkOf('it 0it 10it 20truth', 2));
      assert.equal(captionBand(1), inkOf('it 0it 5it 7truth', 2));
    });

    it('refuses rows without frames, or frames without their iterations', () => {
      assert.throws(() => progressGrid([]), /progressGrid: no rows/);
      assert.throws(() => progressGrid({ frames: [], iterations: [] }), /row 0 has no frames/);
      assert.throws(() => progressGrid({ frames, iterations: [0, 10] }), /row 0 has 3 frames and 2 iterations/);
    });
  });

  describe('progressRow', () => {
    it('takes one sample of every snapshot, clipped to [0, 1], with its iteration', () => {
      // a batch of 2 images of 2x2x1; sample 1 holds values -1, 0.25, 0.5, 2
      const snap = (iteration: number, k: number) => ({ iteration, data: Float32Array.from([0, 0, 0, 0, -k, 0.25, 0.5, 2 * k]) });
      const row = progressRow({ snapshots: [snap(0, 1), snap(10, 1)], shape: [2, 2, 2, 1] }, { index: 1, label: 'image 2' });
      assert.deepEqual(row.iterations, [0, 10]);
      assert.deepEqual(Array.from(row.frames[1].data), [0, 0.25, 0.5, 1]);
      assert.deepEqual([row.frames[0].height, row.frames[0].width, row.frames[0].channels], [2, 2, 1]);
      assert.equal(row.label, 'image 2');
      assert.throws(() => progressRow({ snapshots: [], shape: [2, 2, 2, 1] }, { index: 2 }), /index must be a sample of the batch, 0..1, got 2/);
    });
  });

  describe('tileGrid', () => {
    it('adds a title, copies gray tiles to r, g and b, and leaves empty cells as background', () => {
      const gray = pattern(16, 3, 1);
      const g = tileGrid([[gray, null, gray]], { title: 'DLG', scale: 2, background: [1, 1, 1] });
      // 32 px cells: font x1, title x2 (18 px tall + 4 below)
      const top = 8 + 18 + 4;
      assertTile(g, gray, top, 8, 2);
      assertTile(g, gray, top, 8 + 2 * 36, 2);
      for (let y = top; y < top + 32; y++) for (let x = 8 + 32; x < 8 + 72; x++) assert.ok(isBackground(g, y, x));
      assert.equal(inkIn(g, 0, 0, g.width, top).count, inkOf('DLG', 2));
    });

    it('wraps a long title into lines of even length', () => {
      const t = pattern(32, 1);
      const g = tileGrid([[t, t, t]], { title: 'DLG on a photo, seed 1' }); // 3 x 96 px + 2 x 4: 296 px for the title at font x3
      const lineH = 11 * 3;
      const first = inkIn(g, 0, 8, g.width, 8 + lineH), second = inkIn(g, 0, 8 + lineH, g.width, 8 + 2 * lineH);
      // greedy: 'DLG on a photo,' | 'seed 1' (15 and 6 characters); even: 'DLG on a' | 'photo, seed 1' (8 and 13)
      assert.equal(first.count, inkOf('DLG on a', 3));
      assert.equal(second.count, inkOf('photo, seed 1', 3));
    });

    it('refuses bad input with one clear line', () => {
      const t = pattern(4, 1);
      assert.throws(() => tileGrid([]), /rows must be a non-empty array/);
      assert.throws(() => tileGrid([[null]]), /tileGrid: no images/);
      assert.throws(() => tileGrid([[t, t]], { gapBefore: [2] }), /gapBefore entries must be column indices 1..1, got 2/);
      assert.throws(() => tileGrid([[t]], { captions: [['ça']] }), /tileGrid caption \[0\]\[0\]: the bitmap font has no glyph for "ç"/);
      assert.throws(() => tileGrid([[t]], { scale: 1.5 }), /scale must be a positive integer/);
      assert.throws(() => tileGrid([[{ ...t, channels: 4, data: new Float32Array(64) }]]), /tiles need 1 or 3 channels/);
      assert.throws(() => tileGrid([[t]], { background: 2 }), /background must be a gray level in \[0, 1\]/);
    });
  });

  describe('gallery', () => {
    it('widens columns to captions of two lines and keeps them apart', () => {
      const items = [
        { image: truth, caption: 'truth' },
        { image: frames[1], caption: 'prune 10%\nMSE 3.1e-2' },
        { image: frames[2], caption: 'prune 70%\nMSE 1.2e-1' },
      ];
      const g = gallery(items, { gapBefore: [1] });
      const colW = textWidth('MSE 3.1e-2', 2) + 20; // 138 > 96
      const gap = Math.round(colW / 6);
      const colLeft = [8, 8 + colW + 4 + gap, 8 + 2 * (colW + 4) + gap];
      assert.equal(g.width, colLeft[2] + colW + 8);
      assert.equal(g.height, 8 + 96 + 6 + textHeight('a\nb', 2) + 8);
      items.forEach((it, j) => {
        assertTile(g, it.image, 8, colLeft[j] + 21, 3);
        const ink = inkIn(g, colLeft[j], 8 + 96, colLeft[j] + colW, g.height);
        assert.equal(ink.count, inkOf(it.caption, 2), it.caption);
      });
      // at least two spaces (2 x 12 px) without ink between the two long captions
      const a = inkIn(g, colLeft[1], 8 + 96, colLeft[1] + colW, g.height), b = inkIn(g, colLeft[2], 8 + 96, colLeft[2] + colW, g.height);
      assert.ok(b.left - a.right - 1 >= 24, `${a.right} .. ${b.left}`);
    });

    it('wraps at cols and labels rows', () => {
      const items = [0, 1, 2, 3, 4].map((k) => ({ image: pattern(32, k), caption: `#${k}` }));
      const g = gallery(items, { cols: 3, rowLabels: ['DLG', 'iDLG'] });
      const x0 = 8 + textWidth('iDLG', 2) + 8;
      assertTile(g, items[3].image, 8 + 96 + 24 + 4, x0, 3);
      assert.equal(g.width, x0 + 3 * 96 + 2 * 4 + 8);
      assert.throws(() => gallery([]), /gallery: no items/);
      assert.throws(() => gallery(items, { cols: 0 }), /cols must be a positive integer/);
    });
  });
});
