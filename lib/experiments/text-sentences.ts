/**
 * Sentences for the text experiments. The paper's three (section 4.2, the text table) and a fixed
 * held-out set of eight the attack was never tuned on: the same register (a conference call), 16-24
 * WordPiece tokens with [CLS]/[SEP] like the paper's (18-24), written for this toolkit.
 */

/** The paper's example sentences. */
export const PAPER_SENTENCES: readonly string[] = Object.freeze([
  'Registration, volunteer applications, and student travel application open the first week of September. Child care will be available.',
  'We welcome proposals for tutorials on either core machine learning topics or topics of emerging importance for machine learning.',
  'We invite submissions for the Thirty-Third Annual Conference on Neural Information Processing Systems.',
]);

/** Held-out sentences: never used while choosing the attack's defaults. */
export const HELD_OUT_SENTENCES: readonly string[] = Object.freeze([
  'The conference will be held in Vancouver, Canada, from December eighth to December fourteenth.',
  'Authors must submit their papers through the online system before the deadline in May.',
  'Accepted papers will be presented as posters, and a few will also be selected for oral talks.',
  'Reviewers are asked to declare any conflicts of interest with the authors of the submitted work.',
  'Financial support is available for students who wish to attend the main conference and workshops.',
  'The program committee invites proposals for workshops on new directions in deep learning.',
  'All submissions must be anonymous and should not exceed eight pages, excluding references.',
  'Registration fees include access to the tutorials, the exhibition hall, and the closing reception.',
]);
