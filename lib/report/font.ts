/**
 * A small bitmap font for labelling PNG figures (captions, row labels, titles) without a font file
 * or a text-rendering library: every printable ASCII character and a few symbols that labels of
 * this project use (σ ε λ μ ± × · ° ≤ ≥ →), drawn by hand on a 5 x 9 pixel grid.
 *
 * A glyph is 5 pixels wide. Rows 0-6 stand on the baseline (capitals and digits are 7 rows tall,
 * lower-case letters 5); rows 7-8 hold descenders (g j p q y , ;). Text advances 6 pixels per
 * character (one blank column) and a line is 11 pixels (9 rows and 2 blank), all times an integer
 * `scale`. The font is fixed-width, so widths are `6 * scale * characters - scale`.
 *
 *   textWidth('it 10', 2)          // 58: 5 characters, 12 px each, minus the trailing blank
 *   drawText(img, 'truth', 4, 100, { scale: 2 })   // see raster.ts
 */

/** Glyph width in font pixels. */
export const GLYPH_WIDTH = 5;
/** Glyph height in font pixels (7 above the baseline, 2 descender rows). */
export const GLYPH_HEIGHT = 9;
/** Horizontal advance per character, in font pixels. */
export const ADVANCE = 6;
/** Vertical advance per line, in font pixels. */
export const LINE_HEIGHT = 11;

/**
 * The glyphs: rows top to bottom separated by spaces, '#' for ink, '.' for background. Rows left
 * out at the bottom are blank (only descending glyphs list 8 or 9 rows).
 */
const GLYPHS: Record<string, string> = {
  ' ': '..... ..... ..... ..... ..... ..... .....',
  '!': '..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..',
  '"': '.#.#. .#.#. .#.#. ..... ..... ..... .....',
  '#': '.#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.',
  $: '..#.. .#### #.#.. .###. ..#.# ####. ..#..',
  '%': '##... ##..# ...#. ..#.. .#... #..## ...##',
  '&': '.##.. #..#. #.#.. .#... #.#.# #..#. .##.#',
  "'": '..#.. ..#.. ..#.. ..... ..... ..... .....',
  '(': '...#. ..#.. .#... .#... .#... ..#.. ...#.',
  ')': '.#... ..#.. ...#. ...#. ...#. ..#.. .#...',
  '*': '..... ..#.. #.#.# .###. #.#.# ..#.. .....',
  '+': '..... ..#.. ..#.. ##### ..#.. ..#.. .....',
  ',': '..... ..... ..... ..... ..... .##.. .##.. ..#.. .#...',
  '-': '..... ..... ..... .###. ..... ..... .....',
  '.': '..... ..... ..... ..... ..... .##.. .##..',
  '/': '..... ....# ...#. ..#.. .#... #.... .....',
  '0': '.###. #...# #..## #.#.# ##..# #...# .###.',
  '1': '..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.',
  '2': '.###. #...# ....# ...#. ..#.. .#... #####',
  '3': '##### ...#. ..#.. ...#. ....# #...# .###.',
  '4': '...#. ..##. .#.#. #..#. ##### ...#. ...#.',
  '5': '##### #.... ####. ....# ....# #...# .###.',
  '6': '..##. .#... #.... ####. #...# #...# .###.',
  '7': '##### ....# ...#. ..#.. .#... .#... .#...',
  '8': '.###. #...# #...# .###. #...# #...# .###.',
  '9': '.###. #...# #...# .#### ....# ...#. .##..',
  ':': '..... .##.. .##.. ..... .##.. .##.. .....',
  ';': '..... .##.. .##.. ..... .##.. .##.. ..#.. .#...',
  '<': '...#. ..#.. .#... #.... .#... ..#.. ...#.',
  '=': '..... ..... ##### ..... ##### ..... .....',
  '>': '.#... ..#.. ...#. ....# ...#. ..#.. .#...',
  '?': '.###. #...# ....# ...#. ..#.. ..... ..#..',
  '@': '.###. #...# ....# .##.# #.#.# #.#.# .###.',
  A: '.###. #...# #...# ##### #...# #...# #...#',
  B: '####. #...# #...# ####. #...# #...# ####.',
  C: '.###. #...# #.... #.... #.... #...# .###.',
  D: '###.. #..#. #...# #...# #...# #..#. ###..',
  E: '##### #.... #.... ####. #.... #.... #####',
  F: '##### #.... #.... ####. #.... #.... #....',
  G: '.###. #...# #.... #.### #...# #...# .####',
  H: '#...# #...# #...# ##### #...# #...# #...#',
  I: '.###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.',
  J: '..### ...#. ...#. ...#. ...#. #..#. .##..',
  K: '#...# #..#. #.#.. ##... #.#.. #..#. #...#',
  L: '#.... #.... #.... #.... #.... #.... #####',
  M: '#...# ##.## #.#.# #.#.# #...# #...# #...#',
  N: '#...# #...# ##..# #.#.# #..## #...# #...#',
  O: '.###. #...# #...# #...# #...# #...# .###.',
  P: '####. #...# #...# ####. #.... #.... #....',
  Q: '.###. #...# #...# #...# #.#.# #..#. .##.#',
  R: '####. #...# #...# ####. #.#.. #..#. #...#',
  S: '.#### #.... #.... .###. ....# ....# ####.',
  T: '##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..',
  U: '#...# #...# #...# #...# #...# #...# .###.',
  V: '#...# #...# #...# #...# #...# .#.#. ..#..',
  W: '#...# #...# #...# #.#.# #.#.# #.#.# .#.#.',
  X: '#...# #...# .#.#. ..#.. .#.#. #...# #...#',
  Y: '#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..',
  Z: '##### ....# ...#. ..#.. .#... #.... #####',
  '[': '.###. .#... .#... .#... .#... .#... .###.',
  '\\': '..... #.... .#... ..#.. ...#. ....# .....',
  ']': '.###. ...#. ...#. ...#. ...#. ...#. .###.',
  '^': '..#.. .#.#. #...# ..... ..... ..... .....',
  _: '..... ..... ..... ..... ..... ..... ..... #####',
  '`': '.#... ..#.. ..... ..... ..... ..... .....',
  a: '..... ..... .###. ....# .#### #...# .####',
  b: '#.... #.... #.##. ##..# #...# #...# ####.',
  c: '..... ..... .###. #.... #.... #...# .###.',
  d: '....# ....# .##.# #..## #...# #...# .####',
  e: '..... ..... .###. #...# ##### #.... .###.',
  f: '..##. .#..# .#... ###.. .#... .#... .#...',
  g: '..... ..... .#### #...# #...# #...# .#### ....# .###.',
  h: '#.... #.... #.##. ##..# #...# #...# #...#',
  i: '..#.. ..... .##.. ..#.. ..#.. ..#.. .###.',
  j: '...#. ..... ..##. ...#. ...#. ...#. ...#. #..#. .##..',
  k: '#.... #.... #..#. #.#.. ##... #.#.. #..#.',
  l: '.##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###.',
  m: '..... ..... ##.#. #.#.# #.#.# #.#.# #.#.#',
  n: '..... ..... #.##. ##..# #...# #...# #...#',
  o: '..... ..... .###. #...# #...# #...# .###.',
  p: '..... ..... ####. #...# #...# #...# ####. #.... #....',
  q: '..... ..... .#### #...# #...# #...# .#### ....# ....#',
  r: '..... ..... #.##. ##..# #.... #.... #....',
  s: '..... ..... .#### #.... .###. ....# ####.',
  t: '.#... .#... ###.. .#... .#... .#..# ..##.',
  u: '..... ..... #...# #...# #...# #..## .##.#',
  v: '..... ..... #...# #...# #...# .#.#. ..#..',
  w: '..... ..... #...# #...# #.#.# #.#.# .#.#.',
  x: '..... ..... #...# .#.#. ..#.. .#.#. #...#',
  y: '..... ..... #...# #...# #...# #...# .#### ....# .###.',
  z: '..... ..... ##### ...#. ..#.. .#... #####',
  '{': '...#. ..#.. ..#.. .#... ..#.. ..#.. ...#.',
  '|': '..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#..',
  '}': '.#... ..#.. ..#.. ...#. ..#.. ..#.. .#...',
  '~': '..... ..... .#... #.#.# ...#. ..... .....',
  // A few symbols that defense and metric labels use.
  'σ': '..... ..... .#### #..#. #...# #...# .###.',
  'ε': '..... ..... .###. #.... .##.. #.... .###.',
  'λ': '.#... ..#.. ..#.. .#.#. .#.#. #...# #...#',
  'μ': '..... ..... #...# #...# #...# ##..# #.##. #.... #....',
  '±': '..#.. ..#.. ##### ..#.. ..#.. ..... #####',
  '×': '..... #...# .#.#. ..#.. .#.#. #...# .....',
  '·': '..... ..... ..... ..#.. ..... ..... .....',
  '°': '.##.. #..#. .##.. ..... ..... ..... .....',
  '≤': '...#. ..#.. .#... ..#.. ...#. ..... #####',
  '≥': '.#... ..#.. ...#. ..#.. .#... ..... #####',
  '→': '..... ..#.. ...#. ##### ...#. ..#.. .....',
};

/** A glyph as GLYPH_HEIGHT rows of GLYPH_WIDTH booleans (true = ink). */
export type Bitmap = boolean[][];

function parseGlyph(ch: string, rows: string): Bitmap {
  const parsed = rows.split(' ').map((r) => [...r].map((p) => p === '#'));
  if (parsed.length < 7 || parsed.length > GLYPH_HEIGHT || parsed.some((r) => r.length !== GLYPH_WIDTH)) {
    throw new Error(`font: glyph '${ch}' must have 7 to ${GLYPH_HEIGHT} rows of ${GLYPH_WIDTH} pixels`);
  }
  while (parsed.length < GLYPH_HEIGHT) parsed.push(new Array<boolean>(GLYPH_WIDTH).fill(false));
  return parsed;
}

const BITMAPS: Map<string, Bitmap> = new Map(Object.entries(GLYPHS).map(([ch, rows]) => [ch, parseGlyph(ch, rows)]));

/** Every character the font can draw (besides '\n', which starts a new line). */
export const CHARACTERS: string = [...BITMAPS.keys()].join('');

/** The glyph of one character; throws for a character the font lacks. */
export function glyph(ch: string): Bitmap {
  const g = BITMAPS.get(ch);
  if (!g) throw new Error(`font: no glyph for ${JSON.stringify(ch)} (U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')})`);
  return g;
}

/**
 * Throws one clear error line if `text` has a character the font cannot draw, naming `what` (e.g.
 * "caption 3"). Callers can check their labels with it before a long run starts.
 */
export function checkText(text: string, what = 'text'): void {
  if (typeof text !== 'string') throw new Error(`${what}: expected a string, got ${typeof text}`);
  for (const ch of text) {
    if (ch !== '\n' && !BITMAPS.has(ch)) {
      const code = (ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
      throw new Error(`${what}: the bitmap font has no glyph for ${JSON.stringify(ch)} (U+${code}) in ${JSON.stringify(text)}; it draws printable ASCII and ${CHARACTERS.slice(95)}`);
    }
  }
}

/** The lines of `text` ('\n' separates lines). */
export function textLines(text: string): string[] {
  return text.split('\n');
}

/** Width in pixels of one line (or of the widest line) drawn at `scale`; 0 for ''. */
export function textWidth(text: string, scale = 1): number {
  const longest = Math.max(...textLines(text).map((l) => [...l].length));
  return longest === 0 ? 0 : (ADVANCE * longest - 1) * scale;
}

/** Height in pixels of `text` at `scale`: LINE_HEIGHT per line, minus the blank rows after the last. */
export function textHeight(text: string, scale = 1): number {
  const n = textLines(text).length;
  return ((n - 1) * LINE_HEIGHT + GLYPH_HEIGHT) * scale;
}
