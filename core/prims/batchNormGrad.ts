/**
 * batchNormGrad: x's cotangent of BatchNorm (batchNorm in batchNormTrain.ts), fused. For a cotangent
 * g of x's shape, the statistics `stats` ([2, ...kept]: mean, biased variance), the sums `sums`
 * ([2, ...kept]: sum(g * xhat), sum(g), batchNormParamGrad's output), xhat = (x - mean) /
 * sqrt(var + eps) and n values per channel:
 *   dx = weight / sqrt(var + eps) * (g - sum(g) / n - xhat * sum(g * xhat) / n)
 * (the statistics being x's own and the sums g's, this is the whole gradient, through them too).
 * CPU: one pass writing dx, with per-channel coefficients in float64 (float32 in the usual layouts as
 * WebAssembly SIMD, core/cpu/channels.ts). GPU: one shader.
 * vjp (only grad of grad needs it): the formula above written in ops, differentiated by vjp, with
 * the statistics and the sums inputs of their own.
 * batch: as batchNormTrain's, the batch axis one more kept axis (x and g share one place for it).
 */
import type { Kernel } from '../backend.js';
import { allocResult, type TypedArray } from '../dtype.js';
import { definePrimitive, type Primitive } from '../primitive.js';
import { fmt, normAxes, OpError, sameShape, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { batchAt, reduceAxes } from '../batching.js';
import { coords, type GpuKernel, lit } from '../gpu/shader.js';
import { vjp } from '../autodiff.js';
import { channelLoop, channelOf, checkChannels, MASKED, maskedShader, rows } from './_channels.js';
import { channelMapWasm } from '../cpu/channels.js';
import { add } from './add.js';
import { div } from './div.js';
import { splitMoments } from './moments.js';
import { mul } from './mul.js';
import { reshape } from './reshape.js';
import { sqrt } from './sqrt.js';
import { sub } from './sub.js';
import { keepDimsShape } from './sum.js';

/** `mask`: g is reluGrad(r, g) of one more input r, as jit runs a relu's pullback into this (core/jit.ts). */
type Attrs = { axes: number[]; eps: number; mask?: boolean };

const combine = channelLoop({ name: 'batchNormGrad', operands: ['x', 'g', 'y=', 'm', 'a', 'b1', 'b2'], body: 'y = a * (g - b1 - (x - m) * b2);' }, 3);
const combineMasked = channelLoop({ name: 'batchNormGrad masked', operands: ['x', 'g', 'r', 'y=', 'm', 'a', 'b1', 'b2'], body: `${MASKED} y = a * (h - b1 - (x - m) * b2);` }, 4);

const cpu: Kernel<TypedArray, Attrs> = ([x, w, g, st, p, r], { axes, eps, mask }, out) => {
  const n = sizeOf(axes.map((a) => x.shape[a]));
  const [mean, variance] = rows(st.buf), [sgx, sg] = rows(p.buf);
  // dx = scale (g - c1 - (x - mean) c2), with xhat's 1 / sqrt(var + eps) folded into c2
  const inv = Float64Array.from(variance, (v) => 1 / Math.sqrt(v + eps));
  const scale = inv.map((s, o) => w.buf[o] * s), c1 = Float64Array.from(sg, (s) => s / n), c2 = inv.map((s, o) => s * sgx[o] / n);
  const res = allocResult(out.dtype, x.buf.length);
  if (channelMapWasm(res, x.buf, x.shape, axes, { mean, k1: scale, k2: c1, k3: c2 }, { g: g.buf, r: mask ? r.buf : undefined })) return res;
  if (mask) combineMasked(x.shape, axes, [x.buf, g.buf, r.buf, res, mean, scale, c1, c2]);
  else combine(x.shape, axes, [x.buf, g.buf, res, mean, scale, c1, c2]);
  return res;
};

const gpu: GpuKernel<Attrs> = (ctx, [x, w, g, st, p, r], { axes, eps, mask }, out) => {
  const C = sizeOf(w.shape), n = sizeOf(axes.map((a) => x.shape[a]));
  return ctx.run(`function (X, G, M, S, W${mask ? ', R' : ''}) {
  ${coords(x.shape)}
  const o = ${channelOf(x.shape, axes)};
  const inv = 1.0 / Math.sqrt(M[${lit(C)} + o] + ${lit(eps)});
  const t = this.thread.x;
  return W[o] * inv * (${mask ? maskedShader('R[t]', 'G[t]') : 'G[t]'} - S[${lit(C)} + o] / ${lit(n)} - (X[t] - M[o]) * inv * S[o] / ${lit(n)});
}`, [x.buf, g.buf, st.buf, p.buf, w.buf, ...(mask ? [r.buf] : [])], sizeOf(out.shape));
};

/** The same in ops: what the primitive computes, and what its vjp differentiates. */
function reference(x: Tensor, w: Tensor, g: Tensor, st: Tensor, p: Tensor, axes: number[], eps: number): Tensor {
  const keep = keepDimsShape(x.shape, axes), n = sizeOf(axes.map((a) => x.shape[a]));
  const [m, v] = splitMoments(st, keep), [sgx, sg] = splitMoments(p, keep);
  const inv = div(1, sqrt(add(v, eps)));
  return mul(mul(reshape(w, keep), inv), sub(sub(g, div(sg, n)), mul(mul(sub(x, m), inv), div(sgx, n))));
}

export const batchNormGradP: Primitive<Attrs> = definePrimitive<Attrs>({
  name: 'batchNormGrad',
  infer([x, w, g, st, p], { axes }) {
    checkChannels('batchNormGrad', x, [w], [st, p], axes);
    if (g.dtype !== x.dtype || !sameShape(g.shape, x.shape)) throw new OpError('batchNormGrad', `the cotangent must be like x (${fmt(x.shape)} ${x.dtype}), got ${fmt(g.shape)} ${g.dtype}`);
    return { shape: x.shape, dtype: x.dtype };
  },
  vjp: (ct, [x, w, g, st, p], _out, { axes, eps }) =>
    vjp((a: Tensor, b: Tensor, c: Tensor, d: Tensor, e: Tensor) => reference(a, b, c, d, e, axes, eps), x, w, g, st, p)[1](ct),
  batch: ([x, w, g, st, p], [bx, bw, bg, bs, bp], { axes, eps }, _out, size) => {
    const at = bx ?? bg ?? 0, r = reduceAxes(axes, at);
    const args = [batchAt(x, bx, size, at), batchAt(w, bw, size, r.bdim), batchAt(g, bg, size, at),
      batchAt(st, bs, size, 1 + r.bdim), batchAt(p, bp, size, 1 + r.bdim)];
    return [bind(batchNormGradP, args, { axes: r.axes, eps }), at];
  },
  kernels: { cpu, gpu },
});

/**
 * x's cotangent of BatchNorm (`batchNorm(x, weight, bias, axes, eps)`) for the output cotangent `g`,
 * with x's statistics `stats` and the sums `batchNormParamGrad(x, g, stats, axes, eps)`.
 */
export const batchNormGrad = (x: Tensor, weight: Tensor, g: Tensor, stats: Tensor, sums: Tensor, axes: readonly number[], eps: number): Tensor =>
  bind(batchNormGradP, [x, weight, g, stats, sums], { axes: normAxes('batchNormGrad', axes, x.rank), eps });
