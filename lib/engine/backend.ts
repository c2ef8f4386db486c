/**
 * One TensorFlow.js for the whole toolkit.
 *
 * `@tensorflow/tfjs-node` (native libtensorflow) is an optionalDependency: its install downloads
 * libtensorflow and fails without internet. We use it when it loads and fall back to the pure-JS
 * `@tensorflow/tfjs` CPU backend otherwise. Set DLG_BACKEND=cpu to force the fallback.
 * Every module imports `tf` from here, never from '@tensorflow/tfjs' directly, so that the gradient
 * fixes in `twice.ts` land on the engine that actually runs.
 */
import type * as tfjs from '@tensorflow/tfjs';

export type Tf = typeof tfjs;

function load(): { tf: Tf; native: boolean; error?: string } {
  if (process.env.DLG_BACKEND !== 'cpu') {
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const tfn = require('@tensorflow/tfjs-node') as Tf;
      if (tfn.getBackend() === 'tensorflow') return { tf: tfn, native: true };
    } catch (e) {
      return { tf: loadCpu(), native: false, error: (e as Error).message.split('\n')[0] };
    }
  }
  return { tf: loadCpu(), native: false };
}

function loadCpu(): Tf {
  // Silence the "install tfjs-node" banner: we print our own backend line.
  const warn = console.warn;
  console.warn = () => undefined;
  try {
    const t = require('@tensorflow/tfjs') as Tf;
    t.setBackend('cpu');
    t.tensor(0).dispose(); // the banner is printed on the first tensor write
    return t;
  } finally {
    console.warn = warn;
  }
}

const loaded = load();

/** The TensorFlow.js namespace every module of the toolkit uses. */
export const tf: Tf = loaded.tf;

/** Which backend runs the computations: 'tensorflow' (native) or 'cpu' (pure JS). */
export function backendName(): string {
  return tf.getBackend();
}

/** One line for logs and notebooks, e.g. "cpu (pure JS; tfjs-node not installed)". */
export function backendInfo(): string {
  if (loaded.native) return 'tensorflow (native libtensorflow via @tensorflow/tfjs-node)';
  const why = process.env.DLG_BACKEND === 'cpu' ? 'forced by DLG_BACKEND=cpu' : 'tfjs-node not available';
  return `cpu (pure JS @tensorflow/tfjs; ${why})`;
}
