/**
 * batchNormParamGrad: the cotangents of batchNormTrain's weight and bias, fused, as [2, ...kept]:
 * sum(g * xhat) then sum(g), per channel over `axes`, with xhat = (x - mean) / sqrt(var + eps) and
 * the statistics given (`stats` [2, ...kept]: mean, biased variance).
 * CPU: both sums in one pass over x and g; nothing of x's size is written (composed, xhat and
 * g * xhat would be). GPU: one shader computes both sums and scales the first by 1 / sqrt(var + eps)
 * (a long walk in two passes, the first scaling its partials).
 * vjp (only grad of grad needs it): the definition written in ops, differentiated by vjp.
 * batch: as batchNormTrain's, the batch axis one more kept axis; it lands among the kept axes of
 * the [2, ...kept] result.
 */
import type { Kernel } from '../backend.js';
import { alloc, type TypedArray } from '../dtype.js';
import { definePrimitive, type Primitive } from '../primitive.js';
import { fmt, normAxes, OpError, sameShape, sizeOf, stridesOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { batchAt, reduceAxes } from '../batching.js';
import { type GpuKernel, splitReduction, splitStrides } from '../gpu/shader.js';
import { reduceRuns } from './sum.js';
import { vjp } from '../autodiff.js';
import { channelSums, channelSumsShader, checkChannels, rows } from './_channels.js';
import { add } from './add.js';
import { concat } from './concat.js';
import { div } from './div.js';
import { splitMoments } from './moments.js';
import { mul } from './mul.js';
import { reshape } from './reshape.js';
import { sqrt } from './sqrt.js';
import { sub } from './sub.js';
import { keepDimsShape, sum } from './sum.js';

/** `mask`: g is reluGrad(r, g) of one more input r, as jit runs a relu's pullback into this (core/jit.ts). */
type Attrs = { axes: number[]; eps: number; mask?: boolean };

const cpu: Kernel<TypedArray, Attrs> = ([x, g, st, r], { axes, eps, mask }, out) => {
  const [mean, variance] = rows(st.buf);
  const { sg, sgx } = channelSums(x.buf, g.buf, mean, x.shape, axes, mask ? r.buf : undefined);
  const C = mean.length, res = alloc(out.dtype, 2 * C);
  for (let o = 0; o < C; o++) { res[o] = sgx[o] / Math.sqrt(variance[o] + eps); res[C + o] = sg[o]; }
  return res;
};

const gpu: GpuKernel<Attrs> = (ctx, [x, g, st, r], { axes, eps, mask }, out) => {
  const ins = [x.buf, g.buf, st.buf, ...(mask ? [r.buf] : [])];
  // a long walk per channel goes in two passes (splitReduction): partial sums, then their sums
  const sp = splitReduction(x.shape, axes, 'padded');
  if (!sp) return ctx.run(channelSumsShader(x.shape, axes, eps, mask), ins, sizeOf(out.shape));
  const part = ctx.run(channelSumsShader(sp.shape, [...sp.outer, ...sp.inner], eps, mask, sp.outer,
    { st: splitStrides(stridesOf(x.shape), x.shape, sp.shape), bound: sp.bound }), ins, 2 * sizeOf(sp.mid));
  const res = reduceRuns(ctx, part, [2, ...sp.mid], sp.midOuter.map((a) => a + 1), '0.0', 's += v;', sizeOf(out.shape));
  ctx.release(part);
  return res;
};

/** The same in ops: what the primitive computes, and what its vjp differentiates. */
function reference(x: Tensor, g: Tensor, st: Tensor, axes: number[], eps: number): Tensor {
  const [m, v] = splitMoments(st, keepDimsShape(x.shape, axes));
  const xhat = div(sub(x, m), sqrt(add(v, eps)));
  const kept = x.shape.filter((_, i) => !axes.includes(i));
  return concat([sum(mul(g, xhat), axes), sum(g, axes)].map((t) => reshape(t, [1, ...kept])), 0);
}

export const batchNormParamGradP: Primitive<Attrs> = definePrimitive<Attrs>({
  name: 'batchNormParamGrad',
  infer([x, g, st], { axes }) {
    checkChannels('batchNormParamGrad', x, [], [st], axes);
    if (g.dtype !== x.dtype || !sameShape(g.shape, x.shape)) throw new OpError('batchNormParamGrad', `the cotangent must be like x (${fmt(x.shape)} ${x.dtype}), got ${fmt(g.shape)} ${g.dtype}`);
    return { shape: [2, ...x.shape.filter((_, i) => !axes.includes(i))], dtype: x.dtype };
  },
  vjp: (ct, [x, g, st], _out, { axes, eps }) => vjp((a: Tensor, b: Tensor, c: Tensor) => reference(a, b, c, axes, eps), x, g, st)[1](ct),
  batch: ([x, g, st], [bx, bg, bs], { axes, eps }, _out, size) => {
    const at = bx ?? bg ?? 0, r = reduceAxes(axes, at);
    const args = [batchAt(x, bx, size, at), batchAt(g, bg, size, at), batchAt(st, bs, size, 1 + r.bdim)];
    return [bind(batchNormParamGradP, args, { axes: r.axes, eps }), 1 + r.bdim];
  },
  kernels: { cpu, gpu },
});

/** [weight's, bias's] cotangents of batchNormTrain(x, weight, bias, stats, axes, eps) for the output cotangent `g`, stacked. */
export const batchNormParamGrad = (x: Tensor, g: Tensor, stats: Tensor, axes: readonly number[], eps: number): Tensor =>
  bind(batchNormParamGradP, [x, g, stats], { axes: normAxes('batchNormParamGrad', axes, x.rank), eps });
