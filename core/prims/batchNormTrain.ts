/**
 * batchNormTrain: BatchNorm's training-mode normalisation as one primitive. Over `axes` (every axis
 * but the channel's), y = (x - mean) / sqrt(var + eps) * weight + bias, with the batch's mean and
 * biased variance; weight and bias have the kept axes' shape ([C] for x [B, C, H, W]).
 * CPU: the statistics in float64 (two reading passes, see _channels.ts), then one pass writing y.
 * GPU: the moments shader for the statistics, then one elementwise shader.
 * vjp: x's cotangent from batchNormGrad, weight's and bias's from batchNormParamGrad (both fused too).
 * batch: each example has its own statistics, so the batch axis is one more kept (channel) axis: x's
 * stays where it is, and weight and bias get theirs (broadcast if they are shared) at the same place
 * among the kept axes.
 *
 * Why a primitive: composed of moments, sub, mul and add, BatchNorm makes about ten full-size
 * temporaries forward and back, and each costs a pass and fresh memory (whose page faults cost
 * about as much as the arithmetic). Here the forward writes one, and so does the pullback.
 */
import type { Kernel } from '../backend.js';
import { alloc, type TypedArray } from '../dtype.js';
import { definePrimitive, type Primitive } from '../primitive.js';
import { normAxes, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { batchAt, reduceAxes } from '../batching.js';
import { coords, type GpuKernel, lit } from '../gpu/shader.js';
import { channelLoop, channelMoments, channelOf, checkChannels } from './_channels.js';
import { batchNormGrad } from './batchNormGrad.js';
import { momentsShader } from './moments.js';
import { batchNormParamGrad } from './batchNormParamGrad.js';
import { reshape } from './reshape.js';
import { slice } from './slice.js';

type Attrs = { axes: number[]; eps: number };

const normalize = channelLoop({ name: 'batchNorm', operands: ['x', 'y=', 'm', 's', 't'], body: 'y = (x - m) * s + t;' }, 2);

const cpu: Kernel<TypedArray, Attrs> = ([x, w, b], { axes, eps }, out) => {
  const { mean, variance } = channelMoments(x.buf, x.shape, axes);
  const scale = Float64Array.from(variance, (v, o) => w.buf[o] / Math.sqrt(v + eps));
  const res = alloc(out.dtype, x.buf.length);
  normalize(x.shape, axes, [x.buf, res, mean, scale, b.buf]);
  return res;
};

const gpu: GpuKernel<Attrs> = (ctx, [x, w, b], { axes, eps }, out) => {
  const C = sizeOf(w.shape);
  const stats = ctx.run(momentsShader(x.shape, axes), [x.buf], 2 * C);
  const y = ctx.run(`function (X, M, W, B) {
  ${coords(x.shape)}
  const o = ${channelOf(x.shape, axes)};
  const s = W[o] / Math.sqrt(M[${lit(C)} + o] + ${lit(eps)});
  return (X[this.thread.x] - M[o]) * s + B[o];
}`, [x.buf, stats, w.buf, b.buf], sizeOf(out.shape));
  ctx.release(stats);
  return y;
};

export const batchNormTrainP: Primitive<Attrs> = definePrimitive<Attrs>({
  name: 'batchNormTrain',
  infer([x, w, b], { axes }) {
    checkChannels('batchNormTrain', x, [w, b], axes);
    return { shape: x.shape, dtype: x.dtype };
  },
  vjp: (ct, [x, w], _out, { axes, eps }, need) => {
    const params = need[1] || need[2] ? batchNormParamGrad(x, ct, axes, eps) : null;
    const row = (i: number) => reshape(slice(params!, [i, ...w.shape.map(() => 0)], [1, ...w.shape]), w.shape);
    return [need[0] ? batchNormGrad(x, w, ct, axes, eps) : null, need[1] ? row(0) : null, need[2] ? row(1) : null];
  },
  batch: ([x, w, b], [bx, bw, bb], { axes, eps }, _out, size) => {
    const at = bx ?? 0, r = reduceAxes(axes, at);
    const args = [batchAt(x, bx, size, at), batchAt(w, bw, size, r.bdim), batchAt(b, bb, size, r.bdim)];
    return [bind(batchNormTrainP, args, { axes: r.axes, eps }), at];
  },
  kernels: { cpu, gpu },
});

/**
 * Normalise `x` with its own mean and biased variance over `axes`, then scale by `weight` and shift
 * by `bias` (shaped like the kept axes). `batchNormTrain(x, w, b, [0, 2, 3], 1e-5)` for x [B, C, H, W].
 */
export const batchNormTrain = (x: Tensor, weight: Tensor, bias: Tensor, axes: readonly number[], eps: number): Tensor =>
  bind(batchNormTrainP, [x, weight, bias], { axes: normAxes('batchNormTrain', axes, x.rank), eps });
