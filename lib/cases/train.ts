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
 * The paper's sigmoid LeNet with U(-0.5, 0.5) weights trains fine at DLG's small sizes: on the 8x8
 * digits, SGD with lr 0.1 and momentum 0.9 reaches ~96% held-out accuracy in 20 epochs (~3 s), so
 * lib/experiments/train-defended.ts keeps it (the trained and the attacked model are the same family).
 *
 * DP-SGD (Abadi et al. 2016): with a per-example defense ('dp:C:SIGMA', 'clip:C', lib/defenses/dp.ts)
 * every step computes the per-example gradients of its minibatch (lib/models/per-example.ts), clips
 * each to norm C, adds N(0, (SIGMA C)^2) to their sum and divides by the batch size; the run reports
 * its privacy (`privacy`: epsilon at `delta`, lib/analysis/privacy.ts). Minibatches come from a
 * shuffle per epoch (`sampling: 'shuffle'`, the default: fixed-size, disjoint batches) or from
 * Poisson sampling (`sampling: 'poisson'`: every example joins each step's batch independently with
 * probability q = batchSize / N, round(N / batchSize) steps per epoch, the sum divided by the
 * expected batch size batchSize), which is what the RDP accountant assumes: only then is the reported
 * epsilon a guarantee (see DpSgdPrivacy for what is guaranteed with shuffling).
 */
import { tf } from '../engine';
import { createRng } from '../rng';
import type { Rng } from '../rng';
import { crossEntropy } from '../models/nn';
import { checkInput } from '../models/model';
import type { Model } from '../models/model';
import { stackImages } from './case';
import { parseDefense, defenseSeed, dpParameters } from '../defenses';
import type { Defense, NamedDefense, PerExampleDefense } from '../defenses';
import { perExampleGradients } from '../models/per-example';
import { dpSgdPrivacy } from '../analysis/privacy';
import type { DpSgdPrivacy, Sampling } from '../analysis/privacy';
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
}

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

/** One-hot rows as a plain tensor (no label validation: done once up front). */
function oneHotRows(labels: number[], k: number): Tensor2D {
  const data = new Float32Array(labels.length * k);
  labels.forEach((l, i) => (data[i * k + l] = 1));
  return tf.tensor2d(data, [labels.length, k]);
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
  const defense: Defense = typeof options.defense === 'string' ? parseDefense(options.defense) : options.defense ?? parseDefense('none');
  const perExample: PerExampleDefense | undefined = (defense as Partial<NamedDefense>).perExample;
  const dp = dpParameters(defense);
  const n = images.length;
  if (sampling === 'poisson' && batchSize > n) throw new Error(`batchSize ${batchSize} exceeds the ${n} training examples (Poisson rate batchSize / N must be <= 1)`);
  const q = batchSize / n;
  const stepsPerEpoch = sampling === 'poisson' ? Math.max(1, Math.round(n / batchSize)) : Math.ceil(n / batchSize);

  const shuffleRng = createRng(seed);
  const defenseRng = createRng(defenseSeed(seed));
  const params = model.params; // replaced entry by entry below
  const velocity: Tensor[] | null = momentum > 0 ? params.map((p) => tf.zerosLike(p)) : null;
  const lossAndGrads = tf.valueAndGrads((...p: Tensor[]) => crossEntropy(model.forward(currentX, p), currentY));
  let currentX: Tensor4D;
  let currentY: Tensor2D;
  const batchOf = (ids: number[]) => {
    currentX = stackImages(ids.map((i) => images[i]));
    currentY = oneHotRows(ids.map((i) => labels[i]), model.numClasses);
  };

  /** The shared gradient of one minibatch (null: an empty Poisson batch under a batch-gradient defense, no step) and its loss. */
  const sharedGradient = (ids: number[], where: string): { shared: Tensor[] | null; loss: number } => {
    if (perExample) {
      // DP-SGD: per-example gradients, clipped and noised by the defense; the loss only for the report
      let rows: Tensor[];
      let loss = NaN;
      if (ids.length === 0) {
        rows = params.map((p) => tf.zeros([0, ...p.shape]));
      } else {
        rows = tf.tidy(() => {
          batchOf(ids);
          loss = crossEntropy(model.forward(currentX, params), currentY).dataSync()[0];
          return perExampleGradients(model, currentX, currentY);
        });
      }
      try {
        return { shared: perExample(rows, defenseRng, sampling === 'poisson' ? { denominator: batchSize } : {}), loss };
      } catch (e) {
        throw new Error(`${where}: ${(e as Error).message} (training diverged? lower lr)`);
      } finally {
        tf.dispose(rows);
      }
    }
    if (ids.length === 0) return { shared: null, loss: NaN };
    // The true minibatch gradient (what the client computes) and its loss, then what the server receives: the defended gradient.
    const { value, grads } = tf.tidy(() => {
      batchOf(ids);
      return lossAndGrads(params);
    });
    const loss = value.dataSync()[0];
    try {
      return { shared: defense(grads, defenseRng), loss };
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message} (training diverged? lower lr)`);
    } finally {
      tf.dispose([value, ...grads]);
    }
  };

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
        const { shared, loss } = sharedGradient(ids, `epoch ${epoch}, step ${result.steps + 1}`);
        if (ids.length > 0) {
          lossSum += loss;
          lossCount++;
        }
        if (shared === null) continue;
        // W <- W - lr * v, v <- m v + g (or v = g without momentum); new tensors, old ones disposed.
        for (let i = 0; i < params.length; i++) {
          const old = params[i];
          if (velocity) {
            const oldV = velocity[i];
            velocity[i] = tf.tidy(() => tf.add(tf.mul(oldV, momentum), shared[i]));
            oldV.dispose();
            params[i] = tf.tidy(() => tf.sub(old, tf.mul(velocity![i], lr)));
          } else {
            params[i] = tf.tidy(() => tf.sub(old, tf.mul(shared[i], lr)));
          }
          old.dispose();
        }
        tf.dispose(shared);
        result.steps++;
      }
      const seconds = (Date.now() - t0) / 1000;
      result.seconds += seconds;
      const trainAccuracy = accuracy(model, images, labels);
      const testAccuracy = test ? accuracy(model, test.images, test.labels) : NaN;
      const stats: EpochStats = { epoch, loss: lossCount > 0 ? lossSum / lossCount : NaN, trainAccuracy, testAccuracy, seconds };
      result.epochs.push(stats);
      result.losses.push(stats.loss);
      result.trainAccuracy.push(trainAccuracy);
      result.accuracy.push(test ? testAccuracy : trainAccuracy);
      onEpoch?.(stats);
    }
  } finally {
    if (velocity) tf.dispose(velocity);
  }
  if (dp !== null) {
    result.privacy = dpSgdPrivacy({ ...dp, sampling, examples: n, batchSize: Math.min(batchSize, n), steps: result.steps, epochs, delta });
  }
  return result;
}
