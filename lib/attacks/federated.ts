/**
 * The honest-but-curious server's attack on a federated round (lib/federated.ts): it runs a
 * gradient-inversion attack on what it sees, with the global model, and nothing else.
 *
 * From an update to a gradient:
 *   - FedSGD: the update is the client's gradient; attacked as is.
 *   - FedAvg: the update after K local steps with learning rate lr is
 *       W_K - W0 = -lr * sum_{j<K} g(W_j),
 *     so g_hat = -(W_K - W0) / (lr K) is the mean of the gradients along the local trajectory. This
 *     module attacks g_hat as if it were the gradient at W0 (the approximation of Geiping et al. 2020,
 *     section 6, before they simulate the local steps). Exact for K = 1; for K > 1 the trajectory
 *     drifts away from W0 and the mismatch grows with lr K. Simulating the K local steps on the
 *     dummy (their FedAvg reconstructor) is not implemented here.
 *   - Secure aggregation: one update, the sample-weighted mean over N samples from all clients. The
 *     attacker either runs a batch attack of size N (DLG's joint labels) or a single-image attack
 *     (which sees the N images blended), chosen by `batchSize`.
 */
import { tf } from '../engine';
import { dlg } from './dlg';
import type { DlgOptions, DlgResult } from './dlg';
import { invertingGradients } from './inverting';
import type { InvertingOptions } from './inverting';
import type { Model } from '../models/model';
import type { ServerView } from '../cases/federated';
import type { Tensor } from '@tensorflow/tfjs';

export type AttackName = 'dlg' | 'inverting';
export const ATTACK_NAMES: readonly AttackName[] = ['dlg', 'inverting'];

export interface ServerAttackOptions {
  /** 'dlg' (default) or 'inverting' (Inverting Gradients). */
  attack?: AttackName;
  /** Options passed to the attack (iterations, seed, ...). */
  dlg?: DlgOptions;
  inverting?: InvertingOptions;
  /** Samples the attacker reconstructs per update: default the sample count the server knows. */
  batchSize?: number;
  /** Attack only these entries of view.updates (default all). */
  targets?: number[];
}

/** The gradient the attacker attacks for update k of the view (new tensors, caller disposes). */
export function gradientEstimate(view: ServerView, k: number): Tensor[] {
  const u = view.updates[k];
  if (u === undefined) throw new Error(`the server view has ${view.updates.length} updates; no update ${k}`);
  if (view.protocol === 'fedsgd') return u.map((t) => t.clone());
  const scale = -1 / (view.lr * view.localSteps);
  return tf.tidy(() => u.map((t) => tf.mul(t, scale)));
}

/** Attack every (or the chosen) update the server saw; one result per attacked update. */
export function attackServerView(model: Model, view: ServerView, options: ServerAttackOptions = {}): DlgResult[] {
  const known = new Set(['attack', 'dlg', 'inverting', 'batchSize', 'targets']);
  for (const k of Object.keys(options)) if (!known.has(k)) throw new Error(`unknown server attack option '${k}' (known: ${[...known].join(', ')})`);
  const attack = options.attack ?? 'dlg';
  if (!ATTACK_NAMES.includes(attack)) throw new Error(`unknown attack '${attack}' (known: ${ATTACK_NAMES.join(', ')})`);
  const targets = options.targets ?? view.updates.map((_, k) => k);
  return targets.map((k) => {
    const g = gradientEstimate(view, k);
    try {
      const batchSize = options.batchSize ?? view.sampleCounts[k];
      if (attack === 'dlg') {
        return dlg(model, g, { ...options.dlg, batchSize });
      }
      return invertingGradients(model, g, { ...options.inverting, batchSize });
    } finally {
      tf.dispose(g);
    }
  });
}
