/**
 * Round-robin (block-coordinate) L-BFGS: the DLG paper's batch variant, which updates a single sample
 * of the batch per optimisation step instead of the whole batch, cycling through the samples.
 *
 * Each block (the variables of one sample: its dummy image and, with joint labels, its label logits)
 * has its own L-BFGS state (history, step length), created by createLbfgs with the same options.
 * Step t runs one L-BFGS step of block t mod B: its closure evaluates the objective of the WHOLE batch
 * (the other blocks held at their current values) and hands the optimiser only this block's part of
 * the gradient. So one step costs about as many full-batch evaluations as one joint step
 * (up to maxIter/maxEval), and B steps give every sample one step.
 */
import { createLbfgs } from './lbfgs';
import type { Closure, LbfgsOptions, Lbfgs } from './lbfgs';

/** What dlg() needs of an optimiser: the full parameter vector and one step. */
export interface Stepper {
  readonly x: Float64Array;
  /** One step; returns the loss at the state it started from (as torch's step()). */
  step(closure: Closure): number;
}

/** Blocks are lists of indices into x; every index in exactly one block. */
export function createRoundRobin(x0: Float64Array, blocks: Int32Array[], options: Partial<LbfgsOptions> = {}): Stepper {
  if (blocks.length === 0) throw new Error('round-robin: no blocks');
  const seen = new Uint8Array(x0.length);
  for (const b of blocks) {
    if (b.length === 0) throw new Error('round-robin: an empty block');
    for (const i of b) {
      if (!(i >= 0 && i < x0.length) || seen[i]) throw new Error(`round-robin: index ${i} is out of range or in two blocks`);
      seen[i] = 1;
    }
  }
  if (!seen.every((s) => s === 1)) throw new Error('round-robin: the blocks do not cover every variable');
  const x = Float64Array.from(x0);
  const scratch = new Float64Array(x0.length);
  const opts: Lbfgs[] = blocks.map((b) => createLbfgs(Float64Array.from(b, (i) => x0[i]), options));
  const grads = blocks.map((b) => new Float64Array(b.length));
  let t = 0;
  return {
    x,
    step(closure: Closure): number {
      const k = t % blocks.length;
      t++;
      const block = blocks[k];
      const g = grads[k];
      const sub: Closure = (xk) => {
        scratch.set(x);
        for (let j = 0; j < block.length; j++) scratch[block[j]] = xk[j];
        const r = closure(scratch);
        for (let j = 0; j < block.length; j++) g[j] = r.grad[block[j]];
        return { loss: r.loss, grad: g };
      };
      const loss = opts[k].step(sub);
      const xk = opts[k].x;
      for (let j = 0; j < block.length; j++) x[block[j]] = xk[j];
      return loss;
    },
  };
}
