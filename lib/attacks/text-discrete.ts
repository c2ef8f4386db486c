/**
 * The discrete step of the text attack (after LAMP, Balunovic et al. 2022, with GCG-style candidate
 * ranking, Zou et al. 2023): from a continuous state, project every position to a token and improve
 * the sentence by local search, judged by the gradient distance alone (the attacker's only signal;
 * no language model: none is available offline).
 *
 * A candidate sentence is token ids for every position plus one label per masked position; its
 * distance D is the objective at exactly those embeddings and one-hot labels (the client's own
 * computation when the candidate is right: D ~ 0 up to float32 rounding). Each round:
 *   1. the gradient of D with respect to the input embeddings at the current sentence, g [n, hidden];
 *   2. every move is scored by its first-order change of D:
 *        replace i by c:   <g_i, E[c] - E[ids_i]>,  c among position i's candidates (the nearest tokens
 *                          to the continuous row), the sentence's own tokens and the labels;
 *        swap i and j:     <g_i - g_j, E[ids_j] - E[ids_i]>  (a token recovered at the wrong place);
 *   3. the `batch` best-scored moves are evaluated exactly (within `maxEvals` in all); the best is kept if it lowers D (else the
 *      next batch, up to `batches`; then, with `exhaustiveSwaps`, every remaining swap: the ranking can
 *      miss the one swap that starts undoing a rotation of three tokens); stop when a round keeps
 *      nothing, after `rounds`, or at D <= target.
 * The label assignment (every distinct permutation of the label multiset, m! at most) is chosen first
 * and again whenever the tokens changed. With `fixedEnds`, [CLS] and [SEP] stay.
 */

export interface DiscreteProblem {
  /** Sequence length n ([CLS] first, [SEP] last). */
  seqLength: number;
  /** Hidden size and the word-embedding table [vocab, hidden] (row c: token c's embedding). */
  hidden: number;
  table: ArrayLike<number>;
  /** The label multiset to assign to the masked positions (one per position). */
  labels: readonly number[];
  /** Candidate token ids for each position, best first. */
  candidates: readonly (readonly number[])[];
  /** Positions 0 and n-1 stay as they start ([CLS] and [SEP] of a BERT tokenizer). */
  fixedEnds: boolean;
  /** D at a sentence: token ids of every position and one label per masked position. With `grad`, writes dD/dE [n, hidden]. */
  distance: (ids: readonly number[], labels: readonly number[], grad?: Float64Array) => number;
}

export interface DiscreteOptions {
  /** Rounds at most (each: one gradient, then batches of exact evaluations). */
  rounds: number;
  /** Moves evaluated exactly per batch, and batches per round at most. */
  batch: number;
  batches: number;
  /** When the ranked batches keep nothing, evaluate every remaining swap exactly. */
  exhaustiveSwaps: boolean;
  /** Evaluations of D (values and gradients) at most: a search from a poor projection improves a little in every round. */
  maxEvals: number;
  /** Stop when D falls to this (the sentence explains the gradient). */
  target: number;
}

export const DEFAULT_DISCRETE: Readonly<Omit<DiscreteOptions, 'target'>> = Object.freeze({ rounds: 24, batch: 16, batches: 3, exhaustiveSwaps: true, maxEvals: 600 });

export interface DiscreteResult {
  ids: number[];
  labels: number[];
  distance: number;
  /** Evaluations of D (value only) and of its gradient. */
  evals: number;
  gradients: number;
  /** Moves kept, by kind. */
  moves: { labels: number; replace: number; swap: number };
}

/** Distinct permutations of a multiset. */
export function permutations(items: readonly number[]): number[][] {
  const sorted = [...items].sort((a, b) => a - b);
  const out: number[][] = [];
  const used = new Array(sorted.length).fill(false);
  const cur: number[] = [];
  const rec = () => {
    if (cur.length === sorted.length) {
      out.push([...cur]);
      return;
    }
    for (let i = 0; i < sorted.length; i++) {
      if (used[i] || (i > 0 && sorted[i] === sorted[i - 1] && !used[i - 1])) continue;
      used[i] = true;
      cur.push(sorted[i]);
      rec();
      cur.pop();
      used[i] = false;
    }
  };
  rec();
  return out;
}

interface Move {
  kind: 'replace' | 'swap';
  i: number;
  /** replace: the new token; swap: the other position */
  j: number;
  score: number;
}

/** Local search from `start` ids (see the header). */
export function discreteSearch(problem: DiscreteProblem, start: readonly number[], options: DiscreteOptions): DiscreteResult {
  const { seqLength: n, hidden: d, table } = problem;
  const lo = problem.fixedEnds ? 1 : 0;
  const hi = problem.fixedEnds ? n - 1 : n;
  const ids = [...start];
  let evals = 0;
  let gradients = 0;
  const moves = { labels: 0, replace: 0, swap: 0 };
  const value = (x: readonly number[], l: readonly number[]) => {
    evals++;
    return problem.distance(x, l);
  };
  const perms = permutations(problem.labels);
  const chooseLabels = (): { labels: number[]; d: number } => {
    let best = { labels: perms[0], d: Infinity };
    for (const p of perms) {
      const v = value(ids, p);
      if (v < best.d) best = { labels: p, d: v };
    }
    return best;
  };
  let { labels, d: dist } = chooseLabels();
  const g = new Float64Array(n * d);
  // <g_i, E[c]> - <g_i, E[ids_i]>
  const dot = (i: number, c: number) => {
    let s = 0;
    for (let h = 0; h < d; h++) s += g[i * d + h] * table[c * d + h];
    return s;
  };
  const spent = () => evals + gradients >= options.maxEvals;
  for (let round = 0; round < options.rounds && dist > options.target && !spent(); round++) {
    problem.distance(ids, labels, g);
    gradients++;
    const bag = new Set(ids.slice(lo, hi).concat(problem.labels));
    const scored: Move[] = [];
    const self = ids.map((c, i) => (i >= lo && i < hi ? dot(i, c) : 0));
    for (let i = lo; i < hi; i++) {
      for (const c of new Set([...problem.candidates[i], ...bag])) {
        if (c !== ids[i]) scored.push({ kind: 'replace', i, j: c, score: dot(i, c) - self[i] });
      }
      for (let j = i + 1; j < hi; j++) {
        if (ids[i] !== ids[j]) scored.push({ kind: 'swap', i, j, score: dot(i, ids[j]) - self[i] + dot(j, ids[i]) - self[j] });
      }
    }
    scored.sort((a, b) => a.score - b.score);
    const ranked = scored.slice(0, options.batch * options.batches);
    const tries: Move[][] = [];
    for (let b = 0; b < options.batches; b++) tries.push(ranked.slice(b * options.batch, (b + 1) * options.batch));
    if (options.exhaustiveSwaps) tries.push(scored.slice(ranked.length).filter((mv) => mv.kind === 'swap'));
    let kept = false;
    for (const batch of tries) {
      if (kept) break;
      let best: { move: Move; d: number } | undefined;
      for (const mv of batch) {
        if (spent()) break;
        const trial = [...ids];
        if (mv.kind === 'replace') trial[mv.i] = mv.j;
        else [trial[mv.i], trial[mv.j]] = [trial[mv.j], trial[mv.i]];
        const v = value(trial, labels);
        if (v < dist && (best === undefined || v < best.d)) best = { move: mv, d: v };
      }
      if (best) {
        const mv = best.move;
        if (mv.kind === 'replace') ids[mv.i] = mv.j;
        else [ids[mv.i], ids[mv.j]] = [ids[mv.j], ids[mv.i]];
        dist = best.d;
        moves[mv.kind]++;
        kept = true;
      }
    }
    if (!kept) break;
    if (perms.length > 1) {
      const relabel = chooseLabels();
      if (relabel.d < dist) {
        labels = relabel.labels;
        dist = relabel.d;
        moves.labels++;
      }
    }
  }
  return { ids, labels: [...labels], distance: dist, evals, gradients, moves };
}
