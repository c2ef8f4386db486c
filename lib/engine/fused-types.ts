/** The public types of the fused DLG objective (fused.ts), apart so that its evaluators can use them without an import circle. */

/** Which convolution kernels evaluate the objective (see fused.ts). */
export type FusedKernels = 'auto' | 'wasm' | 'js';

export interface FusedObjectiveOptions {
  /** Number of samples behind the shared gradient. */
  batchSize: number;
  /** 'joint': x = [images, label logits] (DLG); 'fixed': x = images, the target is given (iDLG). */
  label: 'joint' | 'fixed';
  /** The fixed target, [batchSize, classes] flat (one-hot or soft rows); required with label 'fixed'. */
  target?: ArrayLike<number>;
  /** 'auto' (default): wasm SIMD where it loads, else JS; 'wasm': wasm or a clear error; 'js': the JS kernels. */
  kernels?: FusedKernels;
  /**
   * Threads of one evaluation on the wasm kernels: 1 (default), or 2 (the large calls of the matrix
   * products, im2col / col2im and the activation kernels split in halves with a helper thread, which
   * lib/engine/wasm-threads.ts lists; the same numbers bit for bit). Where the two-thread kernels cannot
   * start (their shared build missing), one line on stderr says why and one thread runs.
   */
  threads?: 1 | 2;
  /**
   * The distance between the dummy's gradient and the shared one: 'l2' (default, DLG: the sum of squared
   * differences over every parameter tensor) or 'cosine' (Inverting Gradients: 1 - the cosine of the two
   * gradients as one long vector, fused-cosine.ts).
   */
  distance?: 'l2' | 'cosine';
  /** 'cosine' only: a weight >= 0 per parameter tensor, in model.params order (default: all 1). */
  weights?: number[];
}

export interface FusedObjective {
  /** Length of x and grad: batch*h*w*c image values (NHWC), then batch*classes label logits if joint. */
  readonly size: number;
  /** The kernels this objective runs on. */
  readonly kernels: 'wasm' | 'js';
  /** D(x) = sum_i ||dL/dW_i - g_i||^2; writes dD/dx into grad (overwritten). Reuses its buffers. */
  evaluate(x: Float64Array, grad: Float64Array): number;
}
