/**
 * The image models by name, for the CLIs and the notebooks: MODELS (a registry) and makeModel().
 *
 *   const model = makeModel('resnet20', { inputShape: [32, 32, 3], numClasses: 100, seed: 1234, strides: 'kept' });
 *
 * Every model takes inputShape, numClasses and seed; each entry lists the further options it
 * accepts (`options`), and makeModel() refuses any other with one clear line, before building.
 */
import { lenet } from './lenet';
import { resnet20, resnet32, resnet56, resnet18Released } from './resnet';
import type { ResNetStrides, ResNetShortcut, ResNetInit } from './resnet';
import type { Model, ActivationName } from './model';

export interface ModelOptions {
  /** [height, width, channels] of one input. */
  inputShape: [number, number, number];
  numClasses: number;
  /** Seed of the initialisation. */
  seed: number;
  /** lenet, resnet20/32/56: 'sigmoid' (default), 'relu', 'tanh'. */
  activation?: ActivationName;
  /** resnet20/32/56: 'removed' (the paper, default) or 'kept' (He et al.'s stride 2 at stages 2 and 3). */
  strides?: ResNetStrides;
  /** resnet20/32/56: BatchNorm in training mode after every convolution (default true). */
  batchNorm?: boolean;
  /** resnet20/32/56: 'identity' (option A, default) or 'projection' (1x1 conv + BatchNorm). */
  shortcut?: ResNetShortcut;
  /** resnet20/32/56, resnet18-released: 'pytorch' (PyTorch's default, default) or 'dlg' (the released code's U(-0.5, 0.5)). */
  init?: ResNetInit;
}

type ExtraOption = Exclude<keyof ModelOptions, 'inputShape' | 'numClasses' | 'seed'>;

export interface ModelEntry {
  /** One line for help texts and notebooks. */
  description: string;
  /** The options this model accepts beyond inputShape, numClasses and seed. */
  options: readonly ExtraOption[];
  make(options: ModelOptions): Model;
}

const RESNET_OPTIONS: readonly ExtraOption[] = ['activation', 'strides', 'batchNorm', 'shortcut', 'init'];

/** The models by name. */
export const MODELS = {
  lenet: {
    description: 'LeNet of the released DLG code: 3 convs (12 channels, k5, strides 2/2/1), sigmoid, linear; U(-0.5, 0.5)',
    options: ['activation'],
    make: (o: ModelOptions) => lenet(o),
  },
  resnet20: {
    description: 'CIFAR ResNet-20 (3 blocks x 16/32/64 channels), sigmoid, strides removed, BatchNorm, option-A shortcuts; 0.27M parameters',
    options: RESNET_OPTIONS,
    make: (o: ModelOptions) => resnet20(o),
  },
  resnet32: {
    description: 'CIFAR ResNet-32 (5 blocks per stage); 0.46M parameters',
    options: RESNET_OPTIONS,
    make: (o: ModelOptions) => resnet32(o),
  },
  resnet56: {
    description: "CIFAR ResNet-56 (9 blocks per stage), the paper's model: sigmoid, strides removed; 0.85M parameters",
    options: RESNET_OPTIONS,
    make: (o: ModelOptions) => resnet56(o),
  },
  'resnet18-released': {
    description: 'ResNet-18 of the released DLG code (64-512 channels, every stride 1, BatchNorm, 4x4 average pool); 11M parameters',
    options: ['init'],
    make: (o: ModelOptions) => resnet18Released(o),
  },
} satisfies Record<string, ModelEntry>;

export type ModelName = keyof typeof MODELS;
export const MODEL_NAMES = Object.keys(MODELS) as ModelName[];

/** Whether `name` is a registered model name. */
export function isModelName(name: string): name is ModelName {
  return Object.prototype.hasOwnProperty.call(MODELS, name);
}

/**
 * Build the model `name` with freshly initialised parameters. Errors (one line, before any work):
 * an unknown name, a missing inputShape / numClasses / seed, an option the model does not take,
 * a bad value (from the model's factory).
 */
export function makeModel(name: string, options: ModelOptions): Model {
  if (!isModelName(name)) throw new Error(`unknown model '${name}' (known: ${MODEL_NAMES.join(', ')})`);
  const entry: ModelEntry = MODELS[name];
  if (options === null || typeof options !== 'object') throw new Error(`makeModel('${name}'): options must be an object with inputShape, numClasses and seed`);
  for (const required of ['inputShape', 'numClasses', 'seed'] as const) {
    if (options[required] === undefined) throw new Error(`makeModel('${name}'): ${required} is required`);
  }
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined || key === 'inputShape' || key === 'numClasses' || key === 'seed') continue;
    if (!(entry.options as readonly string[]).includes(key)) {
      const takes = entry.options.length > 0 ? entry.options.join(', ') : 'none';
      throw new Error(`model ${name} has no option '${key}' (its options: ${takes}; all models: inputShape, numClasses, seed)`);
    }
  }
  return entry.make(options);
}
