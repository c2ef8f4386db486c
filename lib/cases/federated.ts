/**
 * One round of federated learning, simulated: clients with private data, a server holding the
 * global model, and what the server sees (McMahan et al. 2017, "Communication-Efficient Learning
 * of Deep Networks from Decentralized Data"; Bonawitz et al. 2017 for secure aggregation):
 *
 *   - FedSGD: every client sends the gradient of its loss (mean over its local batch) at the
 *     global weights W0: u_k = dL_k(W0)/dW. (DLG's setting: one client, one shared gradient.)
 *   - FedAvg: every client takes K full-batch SGD steps with learning rate lr on its local batch,
 *     W_{j+1} = W_j - lr * dL_k(W_j)/dW, and sends its weight update u_k = W_K - W0.
 *   - Secure aggregation (either protocol): clients mask n_k * u_k so that only the sum survives;
 *     the server learns sum_k n_k u_k and the total sample count N = sum_k n_k, hence the
 *     sample-weighted mean update, and nothing about any single client. For FedSGD that mean is
 *     exactly the gradient of the union of all clients' batches (the loss is a mean over samples).
 *
 * The honest-but-curious server attacks what it sees with the global model (lib/federated-attack.ts).
 * Plain functions; tensors of a ServerView are owned by it (disposeView).
 */
import { tf } from '../engine';
import { crossEntropy, oneHot } from '../models/nn';
import { stackImages } from './case';
import type { Model } from '../models/model';
import type { Img } from '../data/image';
import type { Tensor, Tensor2D } from '@tensorflow/tfjs';

/** A client's private data: its local batch. Never leaves the client. */
export interface Client {
  images: Img[];
  labels: number[];
}

export type Protocol = 'fedsgd' | 'fedavg';
export const PROTOCOLS: readonly Protocol[] = ['fedsgd', 'fedavg'];

export interface RoundOptions {
  protocol: Protocol;
  /** FedAvg: local SGD steps K (full batch). Default 1. FedSGD must leave it at 1. */
  localSteps?: number;
  /** FedAvg: local learning rate. Default 0.1. */
  lr?: number;
  /** The server sees only the sample-weighted mean of the updates. Default false. */
  secureAggregation?: boolean;
}

/** Everything the server receives in one round (plus the protocol, which it sets itself). */
export interface ServerView {
  protocol: Protocol;
  localSteps: number;
  lr: number;
  secureAggregation: boolean;
  /** Clients that took part. */
  numClients: number;
  /**
   * One update per client, or a single one (the weighted mean) under secure aggregation; each is one
   * tensor per model parameter, in model.paramNames order. FedSGD: the gradient. FedAvg: W_K - W0.
   */
  updates: Tensor[][];
  /** Samples behind each entry of `updates` (FedAvg servers weight by them; under secure aggregation: the total). */
  sampleCounts: number[];
}

/** Validate round options and fill the defaults. */
export function roundOptions(options: RoundOptions): Required<RoundOptions> {
  const known = new Set(['protocol', 'localSteps', 'lr', 'secureAggregation']);
  for (const k of Object.keys(options ?? {})) if (!known.has(k)) throw new Error(`unknown federated round option '${k}' (known: ${[...known].join(', ')})`);
  const { protocol, localSteps = 1, lr = 0.1, secureAggregation = false } = options ?? ({} as RoundOptions);
  if (!PROTOCOLS.includes(protocol)) throw new Error(`unknown federated protocol '${protocol}' (known: ${PROTOCOLS.join(', ')})`);
  if (!Number.isInteger(localSteps) || localSteps < 1) throw new Error(`localSteps must be a positive integer, got ${localSteps}`);
  if (protocol === 'fedsgd' && localSteps !== 1) throw new Error(`FedSGD sends one gradient: localSteps must be 1, got ${localSteps} (use protocol 'fedavg')`);
  if (!(lr > 0) || !Number.isFinite(lr)) throw new Error(`lr must be a positive number, got ${lr}`);
  if (typeof secureAggregation !== 'boolean') throw new Error(`secureAggregation must be true or false, got ${secureAggregation}`);
  return { protocol, localSteps, lr, secureAggregation };
}

function checkClients(model: Model, clients: Client[]): void {
  if (!Array.isArray(clients) || clients.length === 0) throw new Error('a federated round needs at least one client');
  const [h, w, c] = model.inputShape;
  clients.forEach((cl, k) => {
    if (!cl || !Array.isArray(cl.images) || cl.images.length === 0) throw new Error(`client ${k} has no images`);
    if (!Array.isArray(cl.labels) || cl.labels.length !== cl.images.length) throw new Error(`client ${k}: ${cl.images.length} images but ${cl.labels?.length} labels`);
    cl.images.forEach((img, i) => {
      if (img.height !== h || img.width !== w || img.channels !== c) {
        throw new Error(`client ${k}, image ${i} is ${img.height}x${img.width}x${img.channels}; ${model.name} expects ${h}x${w}x${c}`);
      }
    });
    cl.labels.forEach((l, i) => {
      if (!Number.isInteger(l) || l < 0 || l >= model.numClasses) throw new Error(`client ${k}, label ${i} is ${l}; expected an integer in [0, ${model.numClasses - 1}]`);
    });
  });
}

/** Gradient of the mean cross-entropy on (x, y) at parameters `params`. */
function gradientAt(model: Model, params: Tensor[], client: Client): Tensor[] {
  return tf.tidy(() => {
    const x = stackImages(client.images);
    const y = oneHot(client.labels, model.numClasses) as Tensor2D;
    return tf.grads((...p: Tensor[]) => crossEntropy(model.forward(x, p), y))(params);
  });
}

/** What one client sends: its gradient (FedSGD) or its weight update after K local steps (FedAvg). */
export function clientUpdate(model: Model, client: Client, options: Required<RoundOptions>): Tensor[] {
  if (options.protocol === 'fedsgd') return gradientAt(model, model.params, client);
  let params = model.params;
  for (let j = 0; j < options.localSteps; j++) {
    const g = gradientAt(model, params, client);
    const next = tf.tidy(() => params.map((p, i) => tf.sub(p, tf.mul(g[i], options.lr))));
    tf.dispose(g);
    if (params !== model.params) tf.dispose(params);
    params = next;
  }
  const update = tf.tidy(() => params.map((p, i) => tf.sub(p, model.params[i])));
  tf.dispose(params);
  return update;
}

/**
 * One round: every client computes its update at the global model's weights; returns what the
 * server sees. The global model is read, never changed.
 */
export function federatedRound(model: Model, clients: Client[], options: RoundOptions): ServerView {
  const o = roundOptions(options);
  checkClients(model, clients);
  const updates = clients.map((c) => clientUpdate(model, c, o));
  const counts = clients.map((c) => c.images.length);
  const base = { protocol: o.protocol, localSteps: o.localSteps, lr: o.lr, secureAggregation: o.secureAggregation, numClients: clients.length };
  if (!o.secureAggregation) return { ...base, updates, sampleCounts: counts };
  const total = counts.reduce((a, b) => a + b, 0);
  const mean = tf.tidy(() => model.params.map((_, i) => tf.div(tf.addN(updates.map((u, k) => tf.mul(u[i], counts[k]))), total)));
  updates.forEach((u) => tf.dispose(u));
  return { ...base, updates: [mean], sampleCounts: [total] };
}

/**
 * The server's step after a round: W <- W + serverLr * (sample-weighted mean update) for FedAvg,
 * W <- W - serverLr * (mean gradient) for FedSGD. Replaces the model's parameter tensors in place.
 */
export function applyRound(model: Model, view: ServerView, serverLr = 1): void {
  const total = view.sampleCounts.reduce((a, b) => a + b, 0);
  const sign = view.protocol === 'fedavg' ? 1 : -1;
  for (let i = 0; i < model.params.length; i++) {
    const old = model.params[i];
    model.params[i] = tf.tidy(() => {
      const mean = tf.div(tf.addN(view.updates.map((u, k) => tf.mul(u[i], view.sampleCounts[k]))), total);
      return tf.add(old, tf.mul(mean, sign * serverLr));
    });
    old.dispose();
  }
}

/** Free the view's tensors. */
export function disposeView(view: ServerView): void {
  view.updates.forEach((u) => tf.dispose(u));
}
