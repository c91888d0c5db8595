/**
 * batchNormTrain: BatchNorm's training-mode normalisation as one primitive. Over `axes` (every axis
 * but the channel's), y = (x - mean) / sqrt(var + eps) * weight + bias, with the statistics given as
 * an input: `stats` [2, ...kept] (mean, then biased variance, as the moments primitive makes them);
 * weight and bias have the kept axes' shape ([C] for x [B, C, H, W]).
 * CPU: one pass writing y (scale and shift per channel in float64; float32 in the usual layouts as
 * WebAssembly SIMD, core/cpu/channels.ts). GPU: one elementwise shader.
 * vjp: the partial derivatives, stats held as an input like any other: x's is ct * weight / sqrt(var +
 * eps), weight's and bias's from batchNormParamGrad, and the statistics' from those per channel.
 * batch: each example has its own statistics, so the batch axis is one more kept (channel) axis: x's
 * stays where it is, and weight's, bias's and the statistics' (broadcast if they are shared) go to
 * the same place among the kept axes.
 *
 * `batchNorm` below is BatchNorm itself: the moments of x, then this primitive, with a pullback that
 * does not go back through the moments (see there).
 *
 * Why a primitive: composed of sub, mul and add, BatchNorm makes about ten full-size temporaries
 * forward and back, and each costs a pass and fresh memory (whose page faults cost about as much as
 * the arithmetic). Here the forward writes one, and so does the pullback (batchNormGrad).
 */
import type { Kernel } from '../backend.js';
import { allocResult, type TypedArray } from '../dtype.js';
import { definePrimitive, type Primitive } from '../primitive.js';
import { normAxes, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { batchAt, reduceAxes } from '../batching.js';
import { coords, type GpuKernel, lit } from '../gpu/shader.js';
import { customVjp } from '../autodiff.js';
import { channelLoop, channelOf, checkChannels, rows } from './_channels.js';
import { channelMapWasm } from '../cpu/channels.js';
import { add } from './add.js';
import { batchNormGrad } from './batchNormGrad.js';
import { batchNormParamGrad } from './batchNormParamGrad.js';
import { concat } from './concat.js';
import { div } from './div.js';
import { splitMoments, stackedMoments } from './moments.js';
import { mul } from './mul.js';
import { neg } from './neg.js';
import { reshape } from './reshape.js';
import { slice } from './slice.js';
import { sqrt } from './sqrt.js';
import { keepDimsShape } from './sum.js';
import { GPU as RELU } from './relu.js';

/** `relu`: max(y, 0) is applied before y is stored (set by jit, which fuses a relu that reads y alone). */
type Attrs = { axes: number[]; eps: number; relu?: boolean };

const normalize = channelLoop({ name: 'batchNorm', operands: ['x', 'y=', 'm', 's', 't'], body: 'y = (x - m) * s + t;' }, 2);
// then relu as its own kernel would see y (rounded to float32 first), without a branch on the sign (a
// coin flip to the branch predictor): v * (v > 0) + 0 keeps nan and makes -0 and negatives +0; only
// -inf (which it would make nan) takes the other arm
const reluOf = (v: string) => `const v = ${v}; y = v === -Infinity ? 0 : v * +(v > 0) + 0;`;
const normalizeRelu = {
  float32: channelLoop({ name: 'batchNorm relu f32', operands: ['x', 'y=', 'm', 's', 't'], body: reluOf('Math.fround((x - m) * s + t)') }, 2),
  float64: channelLoop({ name: 'batchNorm relu', operands: ['x', 'y=', 'm', 's', 't'], body: reluOf('(x - m) * s + t') }, 2),
};

const cpu: Kernel<TypedArray, Attrs> = ([x, w, b, st], { axes, eps, relu }, out) => {
  const [mean, variance] = rows(st.buf);
  const scale = Float64Array.from(variance, (v, o) => w.buf[o] / Math.sqrt(v + eps));
  const res = allocResult(out.dtype, x.buf.length);
  if (channelMapWasm(res, x.buf, x.shape, axes, { mean, k1: scale, k2: b.buf }, { relu })) return res;
  if (relu) normalizeRelu[out.dtype as 'float32'](x.shape, axes, [x.buf, res, mean, scale, b.buf]);
  else normalize(x.shape, axes, [x.buf, res, mean, scale, b.buf]);
  return res;
};

const gpu: GpuKernel<Attrs> = (ctx, [x, w, b, st], { axes, eps, relu }, out) => ctx.run(`function (X, M, W, B) {
  ${coords(x.shape)}
  const o = ${channelOf(x.shape, axes)};
  const s = W[o] / Math.sqrt(M[${lit(sizeOf(w.shape))} + o] + ${lit(eps)});
  const v = (X[this.thread.x] - M[o]) * s + B[o];
  return ${relu ? RELU : 'v'};
}`, [x.buf, st.buf, w.buf, b.buf], sizeOf(out.shape));

/** Row i of a [2, ...kept] stack, shaped `kept`. */
const row = (t: Tensor, i: number, kept: readonly number[]) => reshape(slice(t, [i, ...kept.map(() => 0)], [1, ...kept]), kept);

export const batchNormTrainP: Primitive<Attrs> = definePrimitive<Attrs>({
  name: 'batchNormTrain',
  infer([x, w, b, st], { axes }) {
    checkChannels('batchNormTrain', x, [w, b], [st], axes);
    return { shape: x.shape, dtype: x.dtype };
  },
  vjp: (ct, [x, w, , st], _out, { axes, eps }, need) => {
    const kept = w.shape, sd = sqrt(add(row(st, 1, kept), eps)), scale = div(w, sd); // weight / sqrt(var + eps)
    const p = need[1] || need[2] || need[3] ? batchNormParamGrad(x, ct, st, axes, eps) : null; // [sum(ct xhat), sum(ct)]
    // d/dmean = -scale sum(ct), d/dvar = -scale sum(ct xhat) / (2 sqrt(var + eps))
    const dstats = () => concat([neg(mul(scale, row(p!, 1, kept))), div(mul(scale, row(p!, 0, kept)), mul(sd, -2))]
      .map((t) => reshape(t, [1, ...kept])), 0);
    return [need[0] ? mul(ct, reshape(scale, keepDimsShape(x.shape, axes))) : null,
      need[1] ? row(p!, 0, kept) : null, need[2] ? row(p!, 1, kept) : null, need[3] ? dstats() : null];
  },
  batch: ([x, w, b, st], [bx, bw, bb, bs], { axes, eps }, _out, size) => {
    const at = bx ?? 0, r = reduceAxes(axes, at);
    const args = [batchAt(x, bx, size, at), batchAt(w, bw, size, r.bdim), batchAt(b, bb, size, r.bdim), batchAt(st, bs, size, 1 + r.bdim)];
    return [bind(batchNormTrainP, args, { axes: r.axes, eps }), at];
  },
  kernels: { cpu, gpu },
});

/**
 * Normalise `x` with the statistics `stats` (mean and biased variance over `axes`, stacked [2, ...kept]
 * as `stackedMoments(x, axes)` makes them), then scale by `weight` and shift by `bias` (shaped like the
 * kept axes). Its gradient treats stats as an input of its own; for BatchNorm's, use `batchNorm`.
 */
export const batchNormTrain = (x: Tensor, weight: Tensor, bias: Tensor, stats: Tensor, axes: readonly number[], eps: number): Tensor =>
  bind(batchNormTrainP, [x, weight, bias, stats], { axes: normAxes('batchNormTrain', axes, x.rank), eps });

/**
 * BatchNorm in training mode: normalise `x` with its own mean and biased variance over `axes`, scale
 * by `weight` and shift by `bias`; returns [y, mean, variance] (the statistics shaped like weight).
 * `const [y] = batchNorm(x, w, b, [0, 2, 3], 1e-5)` for x [B, C, H, W].
 *
 * The statistics are computed once (the moments primitive) and passed to batchNormTrain. Its pullback
 * is BatchNorm's whole gradient: batchNormParamGrad's per-channel sums of the cotangent (one pass),
 * then batchNormGrad from x, the cotangent, the statistics and those sums (one pass): residuals as
 * inputs. It gives the statistics no cotangent, so nothing flows back through the moments twice.
 * Where no vjp traces it (under vmap, or an outer grad of vmap), the plain composition runs, and its
 * gradient is the chain rule through batchNormTrain's partials and moments'.
 */
export function batchNorm(x: Tensor, weight: Tensor, bias: Tensor, axes: readonly number[], eps: number): [Tensor, Tensor, Tensor] {
  const ax = normAxes('batchNorm', axes, x.rank);
  checkChannels('batchNorm', x, [weight, bias], [], ax);
  const stats = stackedMoments(x, ax);
  const y = customVjp(
    function batchNorm(xx: Tensor, w: Tensor, b: Tensor, st: Tensor) { return batchNormTrain(xx, w, b, st, ax, eps); },
    (xx: Tensor, w: Tensor, b: Tensor, st: Tensor) => [batchNormTrain(xx, w, b, st, ax, eps), { xx, w, st }],
    ({ xx, w, st }, ct, need) => {
      const p = batchNormParamGrad(xx, ct, st, ax, eps); // [sum(ct xhat), sum(ct)]: weight's and bias's cotangents, and x's sums
      return [need[0] ? batchNormGrad(xx, w, ct, st, p, ax, eps) : null, need[1] ? row(p, 0, w.shape) : null, need[2] ? row(p, 1, w.shape) : null, null];
    },
  )(x, weight, bias, stats);
  return [y, ...splitMoments(stats, weight.shape)];
}
