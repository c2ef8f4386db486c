/**
 * Reading the input of a fully connected layer straight off its gradient (no optimisation).
 *
 * For z = x W + b (x a row of n inputs, W [n, k]) and any loss L, with delta = dL/dz:
 *     dL/dW = x^T delta   (column j is delta_j * x)        dL/db = delta
 * so for any class j with delta_j != 0:   x = (dL/dW)[:, j] / (dL/db)_j,   exactly.
 * For a batch of B (mean loss) the column is (1/B) sum_s delta_{s,j} x_s and the bias entry
 * (1/B) sum_s delta_{s,j}: the quotient is a weighted mix of the B inputs (weights summing to 1,
 * possibly negative), not one input. Column j = the true class of sample s is dominated by x_s
 * (delta_{s,y_s} = p - 1 < 0, every other sample's delta_j = p_j > 0 and small).
 */
import type { Tensor } from '@tensorflow/tfjs';

export interface DenseInput {
  /** The recovered input, flattened in the layer's input order. */
  data: Float32Array;
  /** The class (column) it was read from. */
  column: number;
  /** (dL/db)_column, the divisor. */
  delta: number;
}

/**
 * x = (dL/dW)[:, j] / (dL/db)_j for a dense layer with weight gradient [n, k] and bias gradient [k].
 * `column`: j; default the column with the largest |dL/db_j| (the best-conditioned division).
 */
export function inputFromDenseGradient(weightGrad: Tensor, biasGrad: Tensor, column?: number): DenseInput {
  if (weightGrad.rank !== 2) throw new Error(`weight gradient must be [inputs, classes], got ${JSON.stringify(weightGrad.shape)}`);
  const [n, k] = weightGrad.shape;
  if (biasGrad.rank !== 1 || biasGrad.shape[0] !== k) throw new Error(`bias gradient must be [${k}], got ${JSON.stringify(biasGrad.shape)}`);
  const gb = biasGrad.dataSync();
  let j = column ?? 0;
  if (column === undefined) for (let i = 1; i < k; i++) if (Math.abs(gb[i]) > Math.abs(gb[j])) j = i;
  if (!Number.isInteger(j) || j < 0 || j >= k) throw new Error(`column must be an integer in [0, ${k - 1}], got ${column}`);
  if (gb[j] === 0) throw new Error(`dL/db_${j} is 0: column ${j} carries no information about the input`);
  const gw = weightGrad.dataSync();
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = gw[i * k + j] / gb[j];
  return { data, column: j, delta: gb[j] };
}
