/**
 * Training under a gradient defense (paper, "Defenses": the accuracy a defense costs).
 *
 * Minibatch SGD (optionally with momentum) where every minibatch gradient passes through a Defense
 * before the update: the server only ever sees, and steps with, the defended gradient, as in
 * distributed SGD / FedSGD with one client per step. Plain functions, no classes:
 *
 *   const model = lenet({ inputShape: [8, 8, 1], numClasses: 10, seed: 1 });
 *   const r = trainWithDefense({ model, images, labels, defense: 'prune:0.3', epochs: 10, seed: 1,
 *                                test: { images: testImages, labels: testLabels } });
 *   r.accuracy   // test accuracy after every epoch
 *
 * The model's parameters are replaced in place (new tensors; the old ones are disposed), so after
 * training `model` is the trained model. Deterministic from `seed`: the shuffling draws from
 * createRng(seed), the defense from createRng(defenseSeed(seed)) (one stream for the whole run).
 * Every tensor op runs in tf.tidy: the number of live tensors is the same after every epoch.
 *
 * Two engines compute the gradients (`engine`): tfjs autodiff on the model's tensors (any model), and
 * for LeNet the wasm first-order pass on flat float32 arrays (lib/engine/fused-train.ts, the default
 * where it loads), which writes the parameters back into the model after every epoch. They train the
 * same to float32 rounding (test/fused-train.test.ts: the same held-out accuracy every epoch).
 *
 * The paper's sigmoid LeNet with U(-0.5, 0.5) weights trains fine at DLG's small sizes: on the 8x8
 * digits, SGD with lr 0.1 and momentum 0.9 reaches ~96% held-out accuracy in 20 epochs, so
 * lib/experiments/train-defended.ts keeps it (the trained and the attacked model are the same family).
 *
 * DP-SGD (Abadi et al. 2016): with a per-example defense ('dp:C:SIGMA', 'clip:C', lib/defenses/dp.ts)
 * every step computes the per-example gradients of its minibatch (lib/models/per-example.ts), clips
 * each to norm C, adds N(0, (SIGMA C)^2) to their sum and divides by the batch size; the run reports
 * its privacy (`privacy`: epsilon at `delta`, lib/defenses/accountant.ts). Minibatches come from a
 * shuffle per epoch (`sampling: 'shuffle'`, the default: fixed-size, disjoint batches) or from
 * Poisson sampling (`sampling: 'poisson'`: every example joins each step's batch independently with
 * probability q = batchSize / N, round(N / batchSize) steps per epoch, the sum divided by the
 * expected batch size batchSize), which is what the RDP accountant assumes: only then is the reported
 * epsilon a guarantee (see DpSgdPrivacy for what is guaranteed with shuffling).
 */
import { tf } from '../engine';
import { createRng } from '../rng';
import type { Rng } from '../rng';
import { crossEntropy, argmaxRows } from '../models/nn';
import { checkInput } from '../models/model';
import type { Model } from '../models/model';
import { stackImages } from './case';
import { parseDefense, defenseSeed, dpParameters } from '../defenses';
import type { Defense, NamedDefense, PerExampleDefense } from '../defenses';
import { perExampleGradients } from '../models/per-example';
import { convStackPass } from '../engine/fused-train';
import type { ConvStackPass } from '../engine/fused-train';
import { convStackOf } from '../engine/fused';
import { wasmRuntime, wasmStatus } from '../engine/wasm';
import { dpSgdPrivacy } from '../defenses/accountant';
import type { DpSgdPrivacy, Sampling } from '../defenses/accountant';
import type { Img } from '../data/image';
import type { Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs';

/** Images with labels, e.g. a held-out set. */
export interface LabelledImages {
  images: Img[];
  labels: number[];
}

export interface EpochStats {
  /** 1-based. */
  epoch: number;
  /** Mean training loss over the epoch's minibatches (computed before each update, on the true gradient's batch). */
  loss: number;
  /** Accuracy on the whole training set after the epoch. */
  trainAccuracy: number;
  /** Accuracy on `test` after the epoch (NaN when no test set was given). */
  testAccuracy: number;
  /** Wall-clock seconds of the epoch's updates (not counting the accuracy evaluations). */
  seconds: number;
}

export interface TrainOptions {
  /** Trained in place: its parameter tensors are replaced after every step. */
  model: Model;
  images: Img[];
  labels: number[];
  /** A Defense, or a spec such as 'gaussian:1e-3', 'prune:0.3', 'fp16+int8'. Default 'none'. */
  defense?: Defense | string;
  epochs: number;
  /** Default 32; the last minibatch of an epoch may be smaller. */
  batchSize?: number;
  /** Learning rate. Default 0.1. */
  lr?: number;
  /** Heavy-ball momentum (torch.optim.SGD's: v = m v + g; W -= lr v). Default 0 (plain SGD). */
  momentum?: number;
  /** Seed of the shuffling and of the defense's randomness (the model's own seed is the caller's). */
  seed: number;
  /** Held-out set whose accuracy is reported after every epoch. */
  test?: LabelledImages;
  /** Called after every epoch (progress lines). */
  onEpoch?: (stats: EpochStats) => void;
  /**
   * 'shuffle' (default): a new permutation per epoch, cut into batches of batchSize (the last one may be
   * smaller). 'poisson': each step's batch takes every example independently with probability
   * q = batchSize / N (so its size varies and may be 0), round(N / batchSize) steps per epoch: the
   * sampling the DP-SGD accountant assumes.
   */
  sampling?: Sampling;
  /** The delta at which a DP-SGD run's epsilon is reported (`privacy`). Default 1e-5. */
  delta?: number;
  /**
   * What computes the gradients: 'tfjs' (autodiff on the model's tensors, any model), 'fused' (conv-stack
   * models such as LeNet, on flat float32 arrays: the wasm first-order pass of lib/engine/fused-train.ts;
   * the same training to float32 rounding, test/bench/train.ts times both), or 'auto' (default): 'fused'
   * where the model has a conv-stack structure and the wasm kernels load, else 'tfjs'.
   */
  engine?: TrainEngine;
}

/** See TrainOptions.engine. */
export type TrainEngine = 'auto' | 'tfjs' | 'fused';

export interface TrainResult {
  /** Mean training loss per epoch. */
  losses: number[];
  /** Accuracy per epoch: on `test` when given, else on the training set. */
  accuracy: number[];
  /** Training-set accuracy per epoch. */
  trainAccuracy: number[];
  epochs: EpochStats[];
  /** SGD steps taken. */
  steps: number;
  /** Wall-clock seconds of the updates (all epochs, without the accuracy evaluations). */
  seconds: number;
  /** Only for a defense starting with dp or clip: what the run guarantees (epsilon at `delta`, sampling, steps). */
  privacy?: DpSgdPrivacy;
}

/** Default delta of the privacy report. */
export const DEFAULT_DELTA = 1e-5;

/** Poisson sample: every index of 0..n-1 independently with probability q (one uniform each, in order). */
export function poissonSample(n: number, q: number, rng: Rng): number[] {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) if (rng.next() < q) ids.push(i);
  return ids;
}

/** Fisher-Yates permutation of 0..n-1 drawn from `rng`. */
export function shuffledIndices(n: number, rng: Rng): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx;
}

/**
 * A deterministic train/test split: shuffle with `seed`, the first `testCount` (or the
 * `testFraction` rounded) go to test, the rest to train.
 */
export function trainTestSplit(
  data: LabelledImages,
  options: { seed: number; testCount?: number; testFraction?: number; trainCount?: number },
): { train: LabelledImages; test: LabelledImages } {
  const n = data.images.length;
  if (n !== data.labels.length) throw new Error(`${n} images but ${data.labels.length} labels`);
  const testCount = options.testCount ?? Math.round(n * (options.testFraction ?? 0.2));
  if (!Number.isInteger(testCount) || testCount < 1 || testCount >= n) throw new Error(`test count must be in 1..${n - 1}, got ${testCount}`);
  const idx = shuffledIndices(n, createRng(options.seed));
  const trainCount = Math.min(options.trainCount ?? n - testCount, n - testCount);
  const pick = (ids: number[]): LabelledImages => ({ images: ids.map((i) => data.images[i]), labels: ids.map((i) => data.labels[i]) });
  return { test: pick(idx.slice(0, testCount)), train: pick(idx.slice(testCount, testCount + trainCount)) };
}

function checkLabelled(model: Model, images: Img[], labels: number[], what: string): void {
  if (images.length === 0) throw new Error(`${what}: no images`);
  if (images.length !== labels.length) throw new Error(`${what}: ${images.length} images but ${labels.length} labels`);
  const [h, w, c] = model.inputShape;
  images.forEach((img, i) => {
    if (img.height !== h || img.width !== w || img.channels !== c) {
      throw new Error(`${what}: image ${i} is ${img.height}x${img.width}x${img.channels}, ${model.name} expects ${h}x${w}x${c}`);
    }
  });
  labels.forEach((l, i) => {
    if (!Number.isInteger(l) || l < 0 || l >= model.numClasses) throw new Error(`${what}: label ${i} is ${l}, expected an integer in [0, ${model.numClasses - 1}]`);
  });
}

/** Predicted classes (argmax of the logits) for the images, evaluated in chunks. */
export function predict(model: Model, images: Img[], chunk = 512): number[] {
  const out: number[] = [];
  for (let s = 0; s < images.length; s += chunk) {
    const part = images.slice(s, s + chunk);
    const pred = tf.tidy(() => {
      const x = stackImages(part);
      checkInput(model, x);
      return tf.argMax(model.forward(x, model.params), -1).dataSync();
    });
    for (const p of pred) out.push(p);
  }
  return out;
}

/** Fraction of images whose predicted class is the label. */
export function accuracy(model: Model, images: Img[], labels: number[]): number {
  checkLabelled(model, images, labels, 'accuracy');
  const pred = predict(model, images);
  let hits = 0;
  pred.forEach((p, i) => (hits += p === labels[i] ? 1 : 0));
  return hits / labels.length;
}

/**
 * Train `model` in place with minibatch SGD on the defended gradient of every minibatch.
 * Returns the loss and accuracy after every epoch. Throws on bad options, or when the defended
 * gradient is not finite (training diverged).
 */
export function trainWithDefense(options: TrainOptions): TrainResult {
  const { model, images, labels, epochs, seed, test, onEpoch } = options;
  const batchSize = options.batchSize ?? 32;
  const lr = options.lr ?? 0.1;
  const momentum = options.momentum ?? 0;
  if (!Number.isInteger(epochs) || epochs < 0) throw new Error(`epochs must be an integer >= 0, got ${epochs}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  if (!(lr > 0) || !Number.isFinite(lr)) throw new Error(`lr must be a positive number, got ${lr}`);
  if (!(momentum >= 0 && momentum < 1)) throw new Error(`momentum must be in [0, 1), got ${momentum}`);
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  checkLabelled(model, images, labels, 'training set');
  if (test) checkLabelled(model, test.images, test.labels, 'test set');
  const sampling = options.sampling ?? 'shuffle';
  if (sampling !== 'shuffle' && sampling !== 'poisson') throw new Error(`sampling must be 'shuffle' or 'poisson', got '${sampling}'`);
  const delta = options.delta ?? DEFAULT_DELTA;
  if (!(delta > 0 && delta < 1)) throw new Error(`delta must be in (0, 1), got ${delta}`);
  const engine = options.engine ?? 'auto';
  if (engine !== 'auto' && engine !== 'tfjs' && engine !== 'fused') throw new Error(`engine must be 'auto', 'tfjs' or 'fused', got '${String(engine)}'`);
  const fusable = convStackOf(model) !== null && wasmRuntime() !== null;
  if (engine === 'fused' && !fusable) {
    throw new Error(`engine 'fused': ${convStackOf(model) === null ? `${model.name} has no conv-stack structure (lib/models/model.ts)` : `the wasm kernels did not load (${wasmStatus().reason})`}; use 'tfjs' or 'auto'`);
  }
  const useFused = engine !== 'tfjs' && fusable;
  const defense: Defense = typeof options.defense === 'string' ? parseDefense(options.defense) : options.defense ?? parseDefense('none');
  const perExample: PerExampleDefense | undefined = (defense as Partial<NamedDefense>).perExample;
  const dp = dpParameters(defense);
  const n = images.length;
  if (sampling === 'poisson' && batchSize > n) throw new Error(`batchSize ${batchSize} exceeds the ${n} training examples (Poisson rate batchSize / N must be <= 1)`);
  const q = batchSize / n;
  const stepsPerEpoch = sampling === 'poisson' ? Math.max(1, Math.round(n / batchSize)) : Math.ceil(n / batchSize);

  const shuffleRng = createRng(seed);
  const defenseRng = createRng(defenseSeed(seed));
  const aggregate = sampling === 'poisson' ? { denominator: batchSize } : {};
  /** What the server steps with: the defended batch gradient, or the per-example defense's aggregate of the rows. */
  const defend = (where: string): Defend => (gradients) => {
    try {
      return perExample ? perExample(gradients, defenseRng, aggregate) : defense(gradients, defenseRng);
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message} (training diverged? lower lr)`);
    }
  };
  const settings: StepSettings = { perExample: perExample !== undefined, lr, momentum };
  const stepper = useFused ? fusedStepper(model, images, labels, settings) : tfjsStepper(model, images, labels, settings);

  const result: TrainResult = { losses: [], accuracy: [], trainAccuracy: [], epochs: [], steps: 0, seconds: 0 };
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const t0 = Date.now();
      const batches: number[][] = [];
      if (sampling === 'poisson') {
        for (let k = 0; k < stepsPerEpoch; k++) batches.push(poissonSample(n, q, shuffleRng));
      } else {
        const order = shuffledIndices(n, shuffleRng);
        for (let s = 0; s < order.length; s += batchSize) batches.push(order.slice(s, s + batchSize));
      }
      let lossSum = 0;
      let lossCount = 0;
      for (const ids of batches) {
        const { loss, stepped } = stepper.step(ids, defend(`epoch ${epoch}, step ${result.steps + 1}`));
        if (ids.length > 0) {
          lossSum += loss;
          lossCount++;
        }
        if (stepped) result.steps++;
      }
      stepper.sync();
      const seconds = (Date.now() - t0) / 1000;
      result.seconds += seconds;
      const trainAccuracy = stepper.accuracy(images, labels);
      const testAccuracy = test ? stepper.accuracy(test.images, test.labels) : NaN;
      const stats: EpochStats = { epoch, loss: lossCount > 0 ? lossSum / lossCount : NaN, trainAccuracy, testAccuracy, seconds };
      result.epochs.push(stats);
      result.losses.push(stats.loss);
      result.trainAccuracy.push(trainAccuracy);
      result.accuracy.push(test ? testAccuracy : trainAccuracy);
      onEpoch?.(stats);
    }
  } finally {
    stepper.sync();
    stepper.dispose();
  }
  if (dp !== null) {
    result.privacy = dpSgdPrivacy({ ...dp, sampling, examples: n, batchSize: Math.min(batchSize, n), steps: result.steps, epochs, delta });
  }
  return result;
}

/** The defended gradient the server steps with, from the batch gradient or (per-example defense) the rows. */
type Defend = (gradients: Tensor[]) => Tensor[];

interface StepSettings {
  /** The defense works on per-example rows [batch, ...shape] (DP-SGD), not on the batch gradient. */
  perExample: boolean;
  lr: number;
  momentum: number;
}

/** One engine's SGD: a step on a minibatch, the model's parameters brought up to date, accuracy. */
interface Stepper {
  /** The minibatch's loss (NaN for an empty one) and whether a step was taken (an empty batch under a batch defense takes none). */
  step(ids: number[], defend: Defend): { loss: number; stepped: boolean };
  /** Write the current parameters into model.params (new tensors; the old ones disposed). */
  sync(): void;
  /** Fraction of `images` whose predicted class is the label, at the current parameters. */
  accuracy(images: Img[], labels: number[]): number;
  dispose(): void;
}

/** tfjs autodiff on the model's tensors: any model. The parameters are replaced after every step. */
function tfjsStepper(model: Model, images: Img[], labels: number[], o: StepSettings): Stepper {
  const params = model.params; // replaced entry by entry below
  const velocity: Tensor[] | null = o.momentum > 0 ? params.map((p) => tf.zerosLike(p)) : null;
  let currentX: Tensor4D;
  let currentY: Tensor2D;
  const lossAndGrads = tf.valueAndGrads((...p: Tensor[]) => crossEntropy(model.forward(currentX, p), currentY));
  const [h, w, c] = model.inputShape;
  const batchOf = (ids: number[]) => {
    const { x, t } = flatBatch(images, labels, ids, model.numClasses);
    currentX = tf.tensor4d(x, [ids.length, h, w, c]);
    currentY = tf.tensor2d(t, [ids.length, model.numClasses]);
  };
  /** The shared gradient of one minibatch (null: an empty batch under a batch-gradient defense, no step) and its loss. */
  const shared = (ids: number[], defend: Defend): { shared: Tensor[] | null; loss: number } => {
    if (o.perExample) {
      // DP-SGD: per-example gradients, clipped and noised by the defense; the loss only for the report
      let loss = NaN;
      const rows = ids.length === 0 ? params.map((p) => tf.zeros([0, ...p.shape])) : tf.tidy(() => {
        batchOf(ids);
        loss = crossEntropy(model.forward(currentX, params), currentY).dataSync()[0];
        return perExampleGradients(model, currentX, currentY);
      });
      try {
        return { shared: defend(rows), loss };
      } finally {
        tf.dispose(rows);
      }
    }
    if (ids.length === 0) return { shared: null, loss: NaN };
    // the true minibatch gradient (what the client computes) and its loss, then what the server receives
    const { value, grads } = tf.tidy(() => {
      batchOf(ids);
      return lossAndGrads(params);
    });
    const loss = value.dataSync()[0];
    try {
      return { shared: defend(grads), loss };
    } finally {
      tf.dispose([value, ...grads]);
    }
  };
  return {
    step(ids, defend) {
      const { shared: g, loss } = shared(ids, defend);
      if (g === null) return { loss, stepped: false };
      // W <- W - lr * v, v <- m v + g (or v = g without momentum); new tensors, old ones disposed.
      for (let i = 0; i < params.length; i++) {
        const old = params[i];
        if (velocity) {
          const oldV = velocity[i];
          velocity[i] = tf.tidy(() => tf.add(tf.mul(oldV, o.momentum), g[i]));
          oldV.dispose();
          params[i] = tf.tidy(() => tf.sub(old, tf.mul(velocity![i], o.lr)));
        } else {
          params[i] = tf.tidy(() => tf.sub(old, tf.mul(g[i], o.lr)));
        }
        old.dispose();
      }
      tf.dispose(g);
      return { loss, stepped: true };
    },
    sync() {},
    accuracy: (imgs, labs) => accuracy(model, imgs, labs),
    dispose() {
      if (velocity) tf.dispose(velocity);
    },
  };
}

/** Images (NHWC) and one-hot rows of a minibatch as flat arrays (no label validation: done once up front). */
function flatBatch(images: Img[], labels: number[], ids: number[], K: number): { x: Float32Array; t: Float32Array } {
  const n = images[0].data.length;
  const x = new Float32Array(ids.length * n);
  const t = new Float32Array(ids.length * K);
  ids.forEach((id, b) => {
    x.set(images[id].data, b * n);
    t[b * K + labels[id]] = 1;
  });
  return { x, t };
}

/**
 * The conv-stack models' SGD on flat float32 arrays: the minibatch gradient from the wasm first-order
 * pass (lib/engine/fused-train.ts) or its per-example rows (DP-SGD), the defense on
 * tensors made from them, and the update W <- W - lr v, v <- m v + g in float32 with the rounding of the
 * tfjs ops above (each product and sum rounded to float32). model.params is written at sync().
 */
function fusedStepper(model: Model, images: Img[], labels: number[], o: StepSettings): Stepper {
  const K = model.numClasses;
  const shapes = model.params.map((p) => p.shape);
  const params = model.params.map((p) => Float32Array.from(p.dataSync()));
  const velocity = o.momentum > 0 ? params.map((p) => new Float32Array(p.length)) : null;
  const grads = params.map((p) => new Float32Array(p.length));
  const m32 = Math.fround(o.momentum), lr32 = Math.fround(o.lr); // the scalars tf.mul makes float32 tensors of
  const passes = new Map<number, ConvStackPass>();
  const passFor = (B: number): ConvStackPass => {
    let pass = passes.get(B);
    if (pass === undefined) {
      pass = convStackPass(model, B)!;
      passes.set(B, pass);
    }
    return pass;
  };
  let dirty = false;
  return {
    step(ids, defend) {
      let loss = NaN;
      let input: Tensor[];
      if (o.perExample) {
        if (ids.length === 0) {
          input = shapes.map((s) => tf.zeros([0, ...s]));
        } else {
          const { x, t } = flatBatch(images, labels, ids, K);
          const rows = params.map((p) => new Float32Array(ids.length * p.length));
          loss = passFor(ids.length).perExample(params, x, t, rows);
          input = rows.map((v, i) => tf.tensor(v, [ids.length, ...shapes[i]], 'float32'));
        }
      } else {
        if (ids.length === 0) return { loss, stepped: false };
        const { x, t } = flatBatch(images, labels, ids, K);
        loss = passFor(ids.length).gradient(params, x, t, grads);
        input = grads.map((v, i) => tf.tensor(Float32Array.from(v), shapes[i], 'float32')); // copies: grads is reused next step
      }
      let shared: Float32Array[];
      try {
        const g = defend(input);
        shared = g.map((t) => t.dataSync() as Float32Array); // read before anything is disposed (g may be input)
        tf.dispose(g);
      } finally {
        tf.dispose(input);
      }
      const f = Math.fround;
      for (let i = 0; i < params.length; i++) {
        const W = params[i], s = shared[i];
        if (velocity) {
          const v = velocity[i];
          for (let j = 0; j < W.length; j++) {
            v[j] = f(m32 * v[j]) + s[j];
            W[j] -= f(v[j] * lr32);
          }
        } else {
          for (let j = 0; j < W.length; j++) W[j] -= f(s[j] * lr32);
        }
      }
      dirty = true;
      return { loss, stepped: true };
    },
    sync() {
      if (!dirty) return;
      model.params.forEach((old, i) => {
        // a copy: tf.tensor keeps the array it is given, and the steps go on updating params in place
        model.params[i] = tf.tensor(Float32Array.from(params[i]), shapes[i], 'float32');
        old.dispose();
      });
      dirty = false;
    },
    accuracy(imgs, labs) {
      const chunk = 256;
      let hits = 0;
      for (let s = 0; s < imgs.length; s += chunk) {
        const ids = Array.from({ length: Math.min(chunk, imgs.length - s) }, (_, i) => s + i);
        const { x } = flatBatch(imgs, labs, ids, K);
        const out = new Float32Array(ids.length * K);
        passFor(ids.length).logits(params, x, out);
        argmaxRows(out, ids.length, K).forEach((best, b) => (hits += best === labs[ids[b]] ? 1 : 0));
      }
      return hits / imgs.length;
    },
    dispose() {},
  };
}
