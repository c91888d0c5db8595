/**
 * Initialisers, as PyTorch's defaults so that results are comparable with the reference code.
 * Linear and conv weights: kaiming_uniform_(a = sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in));
 * their biases: the same bound. BatchNorm: weight 1, bias 0, running mean 0, running variance 1.
 */
import * as np from '../core/index.js';

/**
 * U(-1/sqrt(fanIn), 1/sqrt(fanIn)): PyTorch's default for Linear/Conv weights and biases.
 * NOTE: kaiming_uniform_ with a = sqrt(5) has gain sqrt(2 / (1 + 5)) and bound gain * sqrt(3 / fanIn),
 * which is exactly 1/sqrt(fanIn).
 * `torchUniform(key(0), [16, 3, 3, 3], 27)`
 */
export function torchUniform(key: np.Key, shape: readonly number[], fanIn: number, dtype: np.DType = 'float32'): np.Tensor {
  const b = 1 / Math.sqrt(fanIn);
  return np.random.uniform(key, shape, { minval: -b, maxval: b, dtype });
}
