/**
 * Notebook 08's experiments (beyond the paper), as jobs for the worker pool: what an honest-but-curious
 * server recovers from a federated round (lib/cases/federated.ts, lib/attacks/federated.ts), and DLG
 * beside Inverting Gradients on sigmoid / ReLU, untrained / trained models.
 *
 *   { kind: 'client', client, attack }   FedSGD without secure aggregation: one client's own gradient
 *   { kind: 'aggregate', n }             secure aggregation of the first n clients: batch DLG of size n,
 *                                        and a single-image DLG on the same mean gradient
 *   { kind: 'fedavg', lr, localSteps }   FedAvg, client 0: DLG on -update / (lr K)
 *   { kind: 'duel', variant, images }    one model variant: DLG and Inverting Gradients on held-out images
 *
 * The clients are the first eight faces of the LFW subset, one each; the global model is the released
 * LeNet sized for 25x25x1 with a 100-way head, from `seed`. Every job rebuilds what it needs from the seed,
 * so results do not depend on which worker ran it. Plain data in and out.
 */
import { tf } from '../engine';
import { loadDataset } from '../data';
import type { Img } from '../data/image';
import { lenet } from '../models/lenet';
import { disposeModel } from '../models/model';
import { makeCase, disposeCase } from '../cases/case';
import { federatedRound, disposeView } from '../cases/federated';
import type { Client } from '../cases/federated';
import { trainWithDefense, trainTestSplit } from '../cases/train';
import { dlg } from '../attacks/dlg';
import { invertingGradients, DEFAULT_INVERTING } from '../attacks/inverting';
import { attackServerView, gradientEstimate } from '../attacks/federated';
import { imageAt, clip01 } from '../analysis/score';
import { attackReport } from '../analysis/report';
import type { AttackReport } from '../analysis/report';
import { mse } from '../analysis/metrics';
import type { Tensor } from '@tensorflow/tfjs';

export interface FederatedSettings {
  /** Seed of the global model, the dummies and the train / held-out split of section 4. */
  seed: number;
  /** L-BFGS steps of DLG on one gradient (default preset: strong Wolfe). */
  dlgIterations: number;
  /** L-BFGS steps of batch DLG on a securely aggregated gradient. */
  batchIterations: number;
  /** Adam steps of Inverting Gradients. */
  igIterations: number;
}

/** The four models of section 4: activation, and epochs of training on LFW face / non-face. */
export const DUEL_VARIANTS = {
  'sigmoid, untrained': { activation: 'sigmoid', epochs: 0, lr: 0.05 },
  'ReLU, untrained': { activation: 'relu', epochs: 0, lr: 0.003 },
  'sigmoid, trained 10 epochs': { activation: 'sigmoid', epochs: 10, lr: 0.05 },
  'ReLU, trained 10 epochs': { activation: 'relu', epochs: 10, lr: 0.003 },
} as const;
export type DuelVariant = keyof typeof DUEL_VARIANTS;

export type FederatedJob = FederatedSettings & (
  | { kind: 'client'; client: number; attack: 'dlg' | 'inverting' }
  | { kind: 'aggregate'; n: number }
  | { kind: 'fedavg'; lr: number; localSteps: number }
  | { kind: 'duel'; variant: DuelVariant; images: number[] });

/** A reconstruction scored against its truth. */
export interface Scored {
  report: AttackReport;
  /** The reconstruction, clipped to [0, 1] for display. */
  image: Img;
}

export interface ClientResult { kind: 'client'; client: number; attack: string; scored: Scored }
export interface AggregateResult {
  kind: 'aggregate';
  n: number;
  /** Batch DLG of size n, matched to the truths (report.images in the truths' order). */
  batch: Scored & { images: Img[] };
  /** Single-image DLG on the mean gradient, and its MSE to the group's average face and to the nearest client. */
  single: Img;
  singleToAverage: number;
  singleToNearest: number;
  average: Img;
  truths: Img[];
}
export interface FedAvgResult { kind: 'fedavg'; lr: number; localSteps: number; mismatch: number; scored: Scored }
export interface DuelResult {
  kind: 'duel';
  variant: DuelVariant;
  /** Held-out accuracy after training (NaN: untrained). */
  accuracy: number;
  /** Norm of each attacked image's shared gradient. */
  gradientNorms: number[];
  truths: Img[];
  dlg: Scored[];
  inverting: Scored[];
}
export type FederatedResult = ClientResult | AggregateResult | FedAvgResult | DuelResult;

/** The eight clients: one LFW face each, with its label. */
export function lfwClients(): Client[] {
  const lfw = loadDataset('lfw', { limit: 8 });
  return lfw.images.map((img, k) => ({ images: [img], labels: [lfw.labels[k]] }));
}

function globalModel(seed: number) {
  return lenet({ inputShape: [25, 25, 1], numClasses: 100, seed });
}

function scored(r: Parameters<typeof attackReport>[0], truths: Img[], labels: number[]): Scored {
  return { report: attackReport(r, truths, labels), image: clip01(imageAt(r.data, r.shape, 0)) };
}

function norm(ts: Tensor[]): number {
  return Math.sqrt(ts.reduce((s, x) => s + tf.tidy(() => tf.sum(tf.square(x)).dataSync()[0]), 0));
}

function runClient(job: Extract<FederatedJob, { kind: 'client' }>): ClientResult {
  const clients = lfwClients();
  const model = globalModel(job.seed);
  const view = federatedRound(model, clients, { protocol: 'fedsgd' });
  try {
    const [r] = job.attack === 'dlg'
      ? attackServerView(model, view, { dlg: { iterations: job.dlgIterations, seed: job.seed }, targets: [job.client] })
      : attackServerView(model, view, { attack: 'inverting', inverting: { ...DEFAULT_INVERTING, iterations: job.igIterations, seed: job.seed }, targets: [job.client] });
    const c = clients[job.client];
    return { kind: 'client', client: job.client, attack: job.attack === 'dlg' ? 'DLG' : 'Inverting Gradients', scored: scored(r, c.images, c.labels) };
  } finally {
    disposeView(view);
    disposeModel(model);
  }
}

function runAggregate(job: Extract<FederatedJob, { kind: 'aggregate' }>): AggregateResult {
  const group = lfwClients().slice(0, job.n);
  const model = globalModel(job.seed);
  const view = federatedRound(model, group, { protocol: 'fedsgd', secureAggregation: true });
  try {
    const [rb] = attackServerView(model, view, { dlg: { iterations: job.batchIterations, seed: job.seed } }); // a batch of n
    const [rs] = attackServerView(model, view, { dlg: { iterations: job.dlgIterations, seed: job.seed }, batchSize: 1 }); // one image
    const truths = group.map((c) => c.images[0]);
    const report = attackReport(rb, truths, group.map((c) => c.labels[0]));
    const batchImages = report.images.map((p) => clip01(imageAt(rb.data, rb.shape, p.reconstruction)));
    const average: Img = { ...truths[0], data: truths[0].data.map((_, i) => truths.reduce((s, x) => s + x.data[i], 0) / job.n) };
    const single = imageAt(rs.data, rs.shape, 0);
    return {
      kind: 'aggregate', n: job.n,
      batch: { report, image: batchImages[0], images: batchImages },
      single: clip01(single), singleToAverage: mse(single, average), singleToNearest: Math.min(...truths.map((x) => mse(single, x))),
      average, truths,
    };
  } finally {
    disposeView(view);
    disposeModel(model);
  }
}

function runFedAvg(job: Extract<FederatedJob, { kind: 'fedavg' }>): FedAvgResult {
  const client0 = lfwClients().slice(0, 1);
  const model = globalModel(job.seed);
  const g0View = federatedRound(model, client0, { protocol: 'fedsgd' });
  const view = federatedRound(model, client0, { protocol: 'fedavg', localSteps: job.localSteps, lr: job.lr });
  try {
    const est = gradientEstimate(view, 0);
    const diff = tf.tidy(() => est.map((e, i) => tf.sub(e, g0View.updates[0][i])));
    const mismatch = norm(diff) / norm(g0View.updates[0]);
    tf.dispose([...est, ...diff]);
    const [r] = attackServerView(model, view, { dlg: { iterations: job.dlgIterations, seed: job.seed } });
    return { kind: 'fedavg', lr: job.lr, localSteps: job.localSteps, mismatch, scored: scored(r, client0[0].images, client0[0].labels) };
  } finally {
    disposeView(g0View);
    disposeView(view);
    disposeModel(model);
  }
}

function runDuel(job: Extract<FederatedJob, { kind: 'duel' }>): DuelResult {
  const v = DUEL_VARIANTS[job.variant];
  if (v === undefined) throw new Error(`unknown variant '${job.variant}' (known: ${Object.keys(DUEL_VARIANTS).join(', ')})`);
  const split = trainTestSplit(loadDataset('lfw'), { seed: job.seed, testCount: 40 });
  const model = lenet({ inputShape: [25, 25, 1], numClasses: 2, seed: job.seed, activation: v.activation });
  try {
    let accuracy = NaN;
    if (v.epochs > 0) {
      const tr = trainWithDefense({ model, images: split.train.images, labels: split.train.labels, epochs: v.epochs, seed: job.seed, lr: v.lr, momentum: 0.9, batchSize: 16, test: split.test });
      accuracy = tr.accuracy[tr.accuracy.length - 1];
    }
    const out: DuelResult = { kind: 'duel', variant: job.variant, accuracy, gradientNorms: [], truths: [], dlg: [], inverting: [] };
    for (const i of job.images) {
      const truth = split.test.images[i];
      const label = split.test.labels[i];
      const c = makeCase({ images: [truth], labels: [label], seed: job.seed, model });
      try {
        out.truths.push(truth);
        out.gradientNorms.push(norm(c.shared));
        out.dlg.push(scored(dlg(model, c.shared, { iterations: job.dlgIterations, seed: job.seed }), [truth], [label]));
        out.inverting.push(scored(invertingGradients(model, c.shared, { ...DEFAULT_INVERTING, iterations: job.igIterations, seed: job.seed }), [truth], [label]));
      } finally {
        disposeCase(c, true);
      }
    }
    return out;
  } finally {
    disposeModel(model);
  }
}

/** The worker entry point (lib/experiments/parallel.ts). */
export function run(job: FederatedJob): FederatedResult {
  switch (job.kind) {
    case 'client': return runClient(job);
    case 'aggregate': return runAggregate(job);
    case 'fedavg': return runFedAvg(job);
    case 'duel': return runDuel(job);
    default: throw new Error(`unknown job kind '${(job as { kind: unknown }).kind}' (known: client, aggregate, fedavg, duel)`);
  }
}
