/**
 * Text in SVG figures: escaping, and widths estimated without a browser from Helvetica's advance
 * widths (Arial and Liberation Sans share them), so that margins and the legend can be laid out
 * before the SVG is drawn. Estimates are 5% generous to leave room for wider fallback fonts.
 */

/** Helvetica advance widths of ASCII 32..126 in 1/1000 em. */
const ADVANCE = [
  278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // space ! " # $ % & ' ( ) * + , - . /
  556, 556, 556, 556, 556, 556, 556, 556, 556, 556, // 0-9
  278, 278, 584, 584, 584, 556, 1015, // : ; < = > ? @
  667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, // A-M
  722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, // N-Z
  278, 278, 278, 469, 556, 333, // [ \ ] ^ _ `
  556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, // a-m
  556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, // n-z
  334, 260, 334, 584, // { | } ~
];

/** Estimated width in pixels of `text` in a `size`-pixel sans-serif font (characters outside ASCII count as a digit). */
export function svgTextWidth(text: string, size: number): number {
  let units = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    units += code >= 32 && code <= 126 ? ADVANCE[code - 32] : 556;
  }
  return (units / 1000) * size * 1.05;
}

/** Split `text` at spaces into lines at most `width` pixels wide (a longer word keeps its own line). */
export function wrapWords(text: string, size: number, width: number): string[] {
  const lines: string[] = [];
  for (const word of text.split(' ')) {
    const last = lines.length - 1;
    if (last >= 0 && svgTextWidth(`${lines[last]} ${word}`, size) <= width) lines[last] = `${lines[last]} ${word}`;
    else lines.push(word);
  }
  return lines;
}

/**
 * Like `wrapWords`, with lines of even length: the same number of lines as the greedy wrap, but the
 * narrowest width that still gives that many ("Largest MSE vs iteration (seed 1)" breaks in the
 * middle, not before a last "1)").
 */
export function wrapBalanced(text: string, size: number, width: number): string[] {
  const greedy = wrapWords(text, size, width);
  if (greedy.length < 2) return greedy;
  for (let w = svgTextWidth(text, size) / greedy.length; w < width; w += 4) {
    const lines = wrapWords(text, size, w);
    if (lines.length <= greedy.length) return lines;
  }
  return greedy;
}

/** `text` escaped for SVG text content and attribute values. */
export function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
