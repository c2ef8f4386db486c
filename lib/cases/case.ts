/**
 * A "case" (in the sense of breaching): a model, a user's private data, the user's defense and the
 * gradient the user shares. The attack receives only `model` and `shared`; the truth stays here for
 * the metrics. The defense is applied by the client when the case is made: the undefended gradient
 * never leaves makeCase().
 */
import { tf } from '../engine';
import { lenet } from '../models/lenet';
import { parameterGradients } from '../models/gradients';
import { oneHot } from '../models/nn';
import { disposeModel } from '../models/model';
import type { Model } from '../models/model';
import type { Img } from '../data/image';
import { applyDefense, applyPerExampleDefense, parseDefense } from '../defenses';
import type { Defense, NamedDefense } from '../defenses';
import { perExampleGradients } from '../models/per-example';
import type { Tensor, Tensor4D } from '@tensorflow/tfjs';

export interface Case {
  model: Model;
  /** The private inputs, NHWC [batch, h, w, c] in [0, 1]. */
  images: Img[];
  labels: number[];
  /** What leaves the client: dL/dW for every parameter, in model.paramNames order, after the defense. */
  shared: Tensor[];
  /** The client's defense, canonical spec ('none': the gradient as computed). */
  defense: string;
}

export interface CaseOptions {
  images: Img[];
  labels: number[];
  /** Seed of the model's initialisation. */
  seed: number;
  numClasses?: number;
  /** Use this model instead of a fresh LeNet sized for the images. */
  model?: Model;
  /**
   * The client's defense (lib/defenses): a spec such as 'prune:0.3' or 'dp:1:0.1', or a parsed defense;
   * its noise is seeded from `seed` through defenseSeed. Default: none. A per-example defense (dp, clip)
   * gets the per-example gradients of the batch (see defendCase).
   */
  defense?: Defense | string;
}

/** Build the model (LeNet for the images' shape unless given) and the user's shared gradient. */
export function makeCase(options: CaseOptions): Case {
  const { images, labels, seed } = options;
  if (images.length === 0) throw new Error('a case needs at least one image');
  if (images.length !== labels.length) throw new Error(`${images.length} images but ${labels.length} labels`);
  const { height, width, channels } = images[0];
  for (const img of images) {
    if (img.height !== height || img.width !== width || img.channels !== channels) {
      throw new Error(`all images of a batch must share one shape: ${height}x${width}x${channels} vs ${img.height}x${img.width}x${img.channels}`);
    }
  }
  const defense = typeof options.defense === 'string' ? parseDefense(options.defense) : options.defense;
  const model = options.model ?? lenet({ inputShape: [height, width, channels], numClasses: options.numClasses ?? 100, seed });
  let c: Case | undefined;
  try {
    const shared = tf.tidy(() => {
      const x = stackImages(images);
      return parameterGradients(model, x, oneHot(labels, model.numClasses));
    });
    c = { model, images, labels, shared, defense: 'none' };
    if (defense !== undefined) defendCase(c, defense, seed);
    return c;
  } catch (e) {
    // nothing half-built stays behind: the gradient, and the model when it was made here
    if (c) tf.dispose(c.shared);
    if (options.model === undefined) disposeModel(model);
    throw e;
  }
}

/**
 * makeCase on a model made for this case alone (a ResNet of the registry, say): the case owns it, and
 * if the case cannot be built (images of another size, a defense that fails) the model is freed too.
 */
export function makeCaseFor(model: Model, options: Omit<CaseOptions, 'model'>): Case {
  try {
    return makeCase({ ...options, model });
  } catch (e) {
    disposeModel(model);
    throw e;
  }
}

/** NHWC batch tensor from images of one shape. */
export function stackImages(images: Img[]): Tensor4D {
  const { height, width, channels } = images[0];
  const data = new Float32Array(images.length * height * width * channels);
  images.forEach((img, i) => data.set(img.data, i * img.data.length));
  return tf.tensor4d(data, [images.length, height, width, channels]);
}

/**
 * The client defends its gradient before sharing it (lib/defenses): `c.shared` becomes the defended
 * gradient, seeded from `seed`, and the undefended one is disposed. The attacker only ever sees the result.
 * A per-example defense (dp:C:SIGMA, clip:C) is applied to the per-example gradients of the case's
 * private batch (for one image: its gradient itself), so it must be the case's first defense.
 */
export function defendCase(c: Case, defense: Defense | string, seed: number): void {
  const d = typeof defense === 'string' ? parseDefense(defense) : defense;
  const original = c.shared;
  if ((d as Partial<NamedDefense>).perExample !== undefined) {
    if (c.defense !== 'none') {
      throw new Error(`defense '${(d as NamedDefense).spec}' works on per-example gradients and must come first; this case's gradient is already defended with '${c.defense}'`);
    }
    const rows = c.images.length === 1
      ? tf.tidy(() => original.map((g) => tf.expandDims(g, 0)))
      : tf.tidy(() => perExampleGradients(c.model, stackImages(c.images), oneHot(c.labels, c.model.numClasses)));
    try {
      c.shared = applyPerExampleDefense(d, rows, seed);
    } finally {
      tf.dispose(rows);
    }
  } else {
    c.shared = applyDefense(d, original, seed);
  }
  tf.dispose(original);
  const spec = (d as { spec?: string }).spec ?? 'custom';
  c.defense = c.defense === 'none' ? spec : spec === 'none' ? c.defense : `${c.defense}+${spec}`;
}

/** Free the case's tensors (the model too unless it was passed in and is still in use elsewhere). */
export function disposeCase(c: Case, keepModel = false): void {
  tf.dispose(c.shared);
  if (!keepModel) disposeModel(c.model);
}
