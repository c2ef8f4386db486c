/**
 * The cases of `npm run bench` and the plain data its processes exchange (JSON lines on stdout).
 *
 * Every LeNet case starts from one shared initial state (lib/reference/start-state.ts): the PyTorch
 * reference draws the weights and dummies the way the released code does, our side loads them, so
 * both evaluate the same objective at the same points and run the same L-BFGS trajectory. The text
 * case's state is written by our side (the toolkit's BERT initialisation) and loaded by PyTorch.
 */
import * as path from 'path';
import { loadImage } from '../../lib/data/image';
import type { Img } from '../../lib/data/image';
import { median } from '../../lib/analysis/stats';

export const ROOT = path.join(__dirname, '../../..');
const NATURAL = path.join(ROOT, 'datasets/natural');
const PHOTOS = ['astronaut.png', 'chelsea.png', 'coffee.png', 'hubble.png', 'rocket.png'];

/** A LeNet case: private images, labels, and the seed of the reference's draws. */
export interface LenetCase {
  kind: 'lenet';
  name: string;
  title: string;
  /** The private images (loaded as our side loads them) and their names. */
  images: () => { images: Img[]; names: string[] };
  labels: number[];
  numClasses: number;
  /** torch.manual_seed of the reference's draws (the released code: 1234). */
  seed: number;
}

/** The text case: the small BERT MLM on a sentence (lib/cases/text.ts) and the dummies of textDlg's seed. */
export interface TextCase {
  kind: 'text';
  name: string;
  title: string;
  sentence: string;
  seed: number;
}

export type BenchCase = LenetCase | TextCase;

function flip(img: Img): Img {
  const { height: h, width: w, channels: c } = img;
  const data = new Float32Array(img.data.length);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) data[(y * w + x) * c + k] = img.data[(y * w + (w - 1 - x)) * c + k];
  return { ...img, data };
}

const photo = (name: string, size: number) => loadImage(path.join(NATURAL, name), { size, channels: 3 });

export const CASES: Record<string, BenchCase> = {
  lenet32: {
    kind: 'lenet',
    name: 'lenet32',
    title: 'LeNet 32x32x3, batch 1 (astronaut.png, label 7)',
    images: () => ({ images: [photo('astronaut.png', 32)], names: ['astronaut.png'] }),
    labels: [7],
    numClasses: 100,
    seed: 1234,
  },
  lenet64: {
    kind: 'lenet',
    name: 'lenet64',
    title: 'LeNet 64x64x3, batch 1 (astronaut.png, label 7)',
    images: () => ({ images: [photo('astronaut.png', 64)], names: ['astronaut.png'] }),
    labels: [7],
    numClasses: 100,
    seed: 1234,
  },
  lenet32x8: {
    kind: 'lenet',
    name: 'lenet32x8',
    title: 'LeNet 32x32x3, batch 8 (the 5 natural photos + 3 of them mirrored, labels 7, 24, ..., 26)',
    images: () => {
      const names = [...PHOTOS, ...PHOTOS.slice(0, 3).map((p) => `${p} (mirrored)`)];
      const images = names.map((n, i) => (i < PHOTOS.length ? photo(n, 32) : flip(photo(PHOTOS[i - PHOTOS.length], 32))));
      return { images, names };
    },
    labels: Array.from({ length: 8 }, (_, i) => (i * 17 + 7) % 100),
    numClasses: 100,
    seed: 1234,
  },
  bert: {
    kind: 'text',
    name: 'bert',
    title: 'text: small BERT MLM (L2 H64 A4, vocab 30,522), notebook 07\'s first sentence, seed 1',
    sentence: 'Registration, volunteer applications, and student travel application open the first week of September. Child care will be available.',
    seed: 1,
  },
};

export const LINE_SEARCHES = ['none', 'strong_wolfe'] as const;
export type LineSearch = (typeof LINE_SEARCHES)[number];

/** Our objective engines for the per-evaluation comparison (each in its own process). */
export const ENGINES = {
  fused: 'fused objective (lib/engine/fused.ts; what dlg() uses for LeNet)',
  tfjs: 'tfjs autodiff, pure-JS CPU backend with the fast kernels (engine: \'tfjs\')',
  stock: 'tfjs autodiff, stock CPU kernels (DLG_FAST_KERNELS=0)',
  native: 'tfjs autodiff on native tfjs-node, if it loads',
} as const;
export type Engine = keyof typeof ENGINES;

export interface Stats { min: number; median: number; all: number[] }

export function stats(all: number[]): Stats {
  return { min: Math.min(...all), median: median(all), all };
}

/** One 300-step attack from the shared start, on one side. */
export interface AttackRun {
  lineSearch: LineSearch;
  seconds: Stats;
  evals: number;
  iterations: number;
  /** Final gradient distance and raw MSE against the truth (batch: all images, unmatched). */
  distance: number;
  mse: number;
  /** Gradient distance after 0..iterations steps. */
  losses: number[];
  /** Cumulative evaluations after step j+1 (null where a side cannot tell: ours after step 1). */
  evalsAtStep: (number | null)[];
  /**
   * The objective at each of the first 100 evaluations. PyTorch: recorded in its closure; ours: the same
   * L-BFGS (lib/attacks/optim/lbfgs.ts, what dlg() steps) on the same objective, outside dlg() (a probe).
   */
  evalLosses?: number[];
}

/** One process's measurements: ms per evaluation blocks, attacks, peak memory. */
export interface SideResult {
  side: string;
  msPerEval: Stats;
  evalsPerBlock: number;
  attacks: AttackRun[];
  peakRssMB: number;
  /** 1-minute load average before and after (the machine may be shared). */
  load: [number, number];
  /** Processes whose per-evaluation blocks are pooled in msPerEval (bench.ts --rounds). */
  rounds?: number;
  note?: string;
  threads?: number;
  torch?: string;
  python?: string;
}
