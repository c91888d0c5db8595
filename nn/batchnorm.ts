/**
 * BatchNorm over the channel axis (axis 1) of [B, C, ...spatial], as torch.nn.BatchNorm1d/2d/3d.
 * Training normalises with the batch's mean and biased variance and returns new running statistics
 * (momentum-weighted, the variance unbiased, as PyTorch); eval normalises with the running ones.
 * The statistics live in `state` ({runningMean, runningVar}), passed in and returned, never mutated.
 */
import * as np from '../core/index.js';
import { asShape, asTensor, type Layer } from './layer.js';

/** BatchNorm's hyperparameters (PyTorch's defaults). */
export interface BatchNormOptions {
  /** Weight of the new batch statistic in the running average (PyTorch's default 0.1). */
  momentum?: number;
  eps?: number;
  /** Learnable weight and bias (default true). */
  affine?: boolean;
}

/**
 * y = (x - mean) / sqrt(var + eps) * weight + bias, per channel.
 * `BatchNorm()`, `BatchNorm({momentum: 0.01})`
 */
export function BatchNorm({ momentum = 0.1, eps = 1e-5, affine = true }: BatchNormOptions = {}): Layer {
  const name = 'BatchNorm';
  return {
    name,
    init(_key, s, { dtype = 'float32' } = {}) {
      const shape = asShape(name, s);
      if (shape.length < 2) throw new Error(`${name}: input must be [batch, channels, ...], got [${shape.join(', ')}]`);
      const C = shape[1];
      return {
        params: affine ? { weight: np.ones([C], dtype), bias: np.zeros([C], dtype) } : {},
        state: { runningMean: np.zeros([C], dtype), runningVar: np.ones([C], dtype) },
        outputShape: shape,
      };
    },
    apply(p, state, input, { train, momentum: override }) {
      const x = asTensor(name, input);
      const C = x.shape[1], bshape = x.shape.map((d, i) => (i === 1 ? d : 1));
      const perChannel = (v: np.Tensor) => np.reshape(v, bshape);
      const axes = x.shape.flatMap((_, i) => (i === 1 ? [] : [i]));
      if (!train) {
        // fold everything into one scale and shift per channel: two passes over x
        let scale = np.div(1, np.sqrt(np.add(state.runningVar, eps)));
        let shift = np.neg(np.mul(state.runningMean, scale));
        if (affine) { scale = np.mul(scale, p.weight); shift = np.add(np.mul(shift, p.weight), p.bias); }
        return { y: np.add(np.mul(x, perChannel(scale)), perChannel(shift)), state };
      }
      const n = x.size / C;
      if (n < 2) throw new Error(`${name}: training needs more than one value per channel, got input [${x.shape.join(', ')}]`);
      // np.batchNorm: the batch statistics once (moments), then one primitive that normalises with them and
      // scales (one written pass forward, one fused pass back for x), in the widest float dtype among x and the parameters
      const dt = [x, ...(affine ? [p.weight, p.bias] : [])].some((t) => t.dtype === 'float64') ? 'float64' : 'float32';
      const xf = np.astype(x, dt);
      const weight = affine ? np.astype(p.weight, dt) : np.ones([C], dt, xf), bias = affine ? np.astype(p.bias, dt) : np.zeros([C], dt, xf);
      const [y, mean, variance] = np.batchNorm(xf, weight, bias, axes, eps);
      // NOTE: the running variance is the unbiased one (n / (n - 1)), as PyTorch; the normalisation uses the biased one.
      // The new statistics are constants: stopGradient also drops any tracer, so state never holds a trace.
      const [m, vb] = np.stopGradient([mean, variance]);
      const cast = (t: np.Tensor, like: np.Tensor) => (t.dtype === like.dtype ? t : np.astype(t, like.dtype));
      const mom = override ?? momentum;
      // a momentum tensor (a float64 scalar, which a jitted caller passes so as not to trace again for
      // each value) gives the coefficients a number does: each in float64, then in the dtype it meets
      const [keep, take, takeVar] = typeof mom === 'number'
        ? [1 - mom, mom, mom * n / (n - 1)]
        : [cast(np.sub(1, mom), state.runningMean), cast(mom, m), cast(np.div(np.mul(mom, n), n - 1), vb)];
      const runningMean = np.add(np.mul(state.runningMean, keep), cast(np.mul(m, take), state.runningMean));
      const runningVar = np.add(np.mul(state.runningVar, keep), cast(np.mul(vb, takeVar), state.runningVar));
      return { y, state: { runningMean, runningVar } };
    },
  };
}
