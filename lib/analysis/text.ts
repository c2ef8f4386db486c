/**
 * Text recovery metrics: the only place where the attack's output meets the truth.
 * Both compare position by position, over the sentence's WordPiece tokens without [CLS]/[SEP]
 * (those two are the same for every sentence and would inflate the score).
 */
export interface TextScores {
  /** Fraction of positions whose recovered token is the original one. */
  tokenAccuracy: number;
  /** Correct positions / positions compared. */
  correct: number;
  total: number;
  /** Every token recovered. */
  exact: boolean;
}

/** Score recovered ids against the original ids ([CLS] ... [SEP], same length). */
export function scoreTokens(recovered: readonly number[], original: readonly number[]): TextScores {
  if (recovered.length !== original.length) {
    throw new Error(`recovered sequence has ${recovered.length} tokens, the original ${original.length}`);
  }
  if (original.length < 3) throw new Error(`a sequence needs [CLS], at least one token and [SEP]; got ${original.length} ids`);
  let correct = 0;
  const total = original.length - 2;
  for (let i = 1; i <= total; i++) if (recovered[i] === original[i]) correct++;
  return { tokenAccuracy: correct / total, correct, total, exact: correct === total };
}

/** Token accuracy only. */
export function tokenAccuracy(recovered: readonly number[], original: readonly number[]): number {
  return scoreTokens(recovered, original).tokenAccuracy;
}

/** All tokens recovered. */
export function exactMatch(recovered: readonly number[], original: readonly number[]): boolean {
  return scoreTokens(recovered, original).exact;
}
