/**
 * batchNormGrad: x's cotangent of BatchNorm (batchNorm in batchNormTrain.ts), fused. For a cotangent
 * g of x's shape, the statistics `stats` ([2, ...kept]: mean, biased variance), xhat = (x - mean) /
 * sqrt(var + eps) and means taken per channel over `axes`:
 *   dx = weight / sqrt(var + eps) * (g - mean(g) - xhat * mean(g * xhat))
 * (the statistics being x's own, this is the whole gradient, through them too).
 * CPU: the two channel sums of g and g * (x - mean) (one pass over x and g), one pass writing dx.
 * GPU: a shader for each of those two steps.
 * vjp (only grad of grad needs it): the formula above written in ops, differentiated by vjp, with
 * the statistics an input of their own.
 * batch: as batchNormTrain's, the batch axis one more kept axis (x and g share one place for it).
 */
import type { Kernel } from '../backend.js';
import { alloc, type TypedArray } from '../dtype.js';
import { definePrimitive, type Primitive } from '../primitive.js';
import { fmt, normAxes, OpError, sameShape, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { batchAt, reduceAxes } from '../batching.js';
import { coords, type GpuKernel, lit } from '../gpu/shader.js';
import { vjp } from '../autodiff.js';
import { channelLoop, channelOf, channelSums, channelSumsShader, checkChannels, rows } from './_channels.js';
import { add } from './add.js';
import { div } from './div.js';
import { splitMoments } from './moments.js';
import { mul } from './mul.js';
import { reshape } from './reshape.js';
import { sqrt } from './sqrt.js';
import { sub } from './sub.js';
import { keepDimsShape, sum } from './sum.js';

type Attrs = { axes: number[]; eps: number };

const combine = channelLoop({ name: 'batchNormGrad', operands: ['x', 'g', 'y=', 'm', 'a', 'b1', 'b2'], body: 'y = a * (g - b1 - (x - m) * b2);' }, 3);

const cpu: Kernel<TypedArray, Attrs> = ([x, w, g, st], { axes, eps }, out) => {
  const n = sizeOf(axes.map((a) => x.shape[a]));
  const { mean, variance } = rows(st.buf);
  const { sg, sgx } = channelSums(x.buf, g.buf, mean, x.shape, axes);
  // dx = scale (g - c1 - (x - mean) c2), with mean(g * xhat) = inv * sgx / n folded into c2
  const inv = variance.map((v) => 1 / Math.sqrt(v + eps));
  const scale = inv.map((s, o) => w.buf[o] * s), c1 = sg.map((s) => s / n), c2 = sgx.map((s, o) => inv[o] * inv[o] * s / n);
  const res = alloc(out.dtype, x.buf.length);
  combine(x.shape, axes, [x.buf, g.buf, res, mean, scale, c1, c2]);
  return res;
};

const gpu: GpuKernel<Attrs> = (ctx, [x, w, g, st], { axes, eps }, out) => {
  const C = sizeOf(w.shape), n = sizeOf(axes.map((a) => x.shape[a]));
  const sumsBuf = ctx.run(channelSumsShader(x.shape, axes), [x.buf, g.buf, st.buf], 2 * C);
  const dx = ctx.run(`function (X, G, M, S, W) {
  ${coords(x.shape)}
  const o = ${channelOf(x.shape, axes)};
  const inv = 1.0 / Math.sqrt(M[${lit(C)} + o] + ${lit(eps)});
  const t = this.thread.x;
  return W[o] * inv * (G[t] - S[o] / ${lit(n)} - (X[t] - M[o]) * inv * inv * S[${lit(C)} + o] / ${lit(n)});
}`, [x.buf, g.buf, st.buf, sumsBuf, w.buf], sizeOf(out.shape));
  ctx.release(sumsBuf);
  return dx;
};

/** The same in ops: what the primitive computes, and what its vjp differentiates. */
function reference(x: Tensor, w: Tensor, g: Tensor, st: Tensor, axes: number[], eps: number): Tensor {
  const keep = keepDimsShape(x.shape, axes), n = sizeOf(axes.map((a) => x.shape[a]));
  const [m, v] = splitMoments(st, keep);
  const inv = div(1, sqrt(add(v, eps)));
  const xhat = mul(sub(x, m), inv);
  const mg = div(sum(g, axes, { keepdims: true }), n), mgx = div(sum(mul(g, xhat), axes, { keepdims: true }), n);
  return mul(mul(reshape(w, keep), inv), sub(sub(g, mg), mul(xhat, mgx)));
}

export const batchNormGradP: Primitive<Attrs> = definePrimitive<Attrs>({
  name: 'batchNormGrad',
  infer([x, w, g, st], { axes }) {
    checkChannels('batchNormGrad', x, [w], st, axes);
    if (g.dtype !== x.dtype || !sameShape(g.shape, x.shape)) throw new OpError('batchNormGrad', `the cotangent must be like x (${fmt(x.shape)} ${x.dtype}), got ${fmt(g.shape)} ${g.dtype}`);
    return { shape: x.shape, dtype: x.dtype };
  },
  vjp: (ct, [x, w, g, st], _out, { axes, eps }) =>
    vjp((a: Tensor, b: Tensor, c: Tensor, d: Tensor) => reference(a, b, c, d, axes, eps), x, w, g, st)[1](ct),
  batch: ([x, w, g, st], [bx, bw, bg, bs], { axes, eps }, _out, size) => {
    const at = bx ?? bg ?? 0, r = reduceAxes(axes, at);
    const args = [batchAt(x, bx, size, at), batchAt(w, bw, size, r.bdim), batchAt(g, bg, size, at), batchAt(st, bs, size, 1 + r.bdim)];
    return [bind(batchNormGradP, args, { axes: r.axes, eps }), at];
  },
  kernels: { cpu, gpu },
});

/** x's cotangent of BatchNorm (`batchNorm(x, weight, bias, axes, eps)`) for the output cotangent `g`, with x's statistics `stats`. */
export const batchNormGrad = (x: Tensor, weight: Tensor, g: Tensor, stats: Tensor, axes: readonly number[], eps: number): Tensor =>
  bind(batchNormGradP, [x, weight, g, stats], { axes: normAxes('batchNormGrad', axes, x.rank), eps });
