/**
 * conv2dWeightGrad: the weights' cotangent of conv2d(x, w, win) for the output's cotangent ct, that
 * is x [B, C, H, W] and ct [B, O, OH, OW] to dW [O, C, KH, KW] with
 *   dW[o, c, kh, kw] = sum over b, oh, ow of ct[b, o, oh, ow] x[b, c, oh sh - ph + kh dh, ow sw - pw + kw dw]
 * (zero outside the image): ct times the im2col columns of x, summed over the images. conv2d's vjp
 * binds it. On the CPU, float32 runs conv2d_wgrad in cpu/wasm/gemm.wat, which packs each panel of
 * columns straight from the image while it multiplies, so unfold(x) (9x the input for a 3x3 conv) is
 * never written; other dtypes, and float32 without the wasm kernel, run unfold's kernel then one GEMM
 * per image, summed over the images in float64. The GPU runs unfold's and matmul's shaders, then a sum.
 *
 * It is linear in each input, and its vjp says so with existing ops (grad of grad works): for dW's
 * cotangent g, ct's is conv2d(x, g) (the forward conv with g for weights), and x's is conv2d's own
 * input cotangent for weights g (conv2dInputGrad).
 *
 * batch: with only ct batched, the batch joins ct's channels (O) and comes out of dW's first axis;
 * with only x batched, it joins x's channels (C) and comes out of dW's second; both batched, a loop
 * over the batch (each example sums over its own images).
 */
import type { Kernel } from '../backend.js';
import { alloc, isFloat, type TypedArray } from '../dtype.js';
import { conv2dWeightGradWasm, gemmBatched } from '../cpu/pool.js';
import { definePrimitive, type Primitive } from '../primitive.js';
import { fmt, OpError, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { loopRule, moveAxis } from '../batching.js';
import type { GpuKernel } from '../gpu/shader.js';
import { conv2d, conv2dInputGrad } from './conv2d.js';
import { matmulGpu } from './matmul.js';
import { reshape } from './reshape.js';
import { reduceShader } from './sum.js';
import { unfoldCpu, unfoldGpu, type Window, windowOut } from './unfold.js';

const cpu: Kernel<TypedArray, Window> = ([x, ct], win, out) => {
  const [B, C, H, W] = x.shape, [, O, OH, OW] = ct.shape, [, , KH, KW] = out.shape;
  if (x.dtype === 'float32') {
    const dw = conv2dWeightGradWasm(x.buf as Float32Array, ct.buf as Float32Array, {
      B, C, H, W, O, KH, KW, sh: win.stride[0], sw: win.stride[1], ph: win.padding[0][0], pw: win.padding[1][0],
      dh: win.dilation[0], dw: win.dilation[1], OH, OW,
    });
    if (dw) return dw;
  }
  // ct[b] [O, L] times cols[b] [K, L] transposed, per image; then the sum over images, in float64
  const K = C * KH * KW, L = OH * OW, OK = O * K;
  const cols = unfoldCpu([x], { ...win, padValue: 0 }, { shape: [B, K, L], dtype: x.dtype }) as Float32Array | Float64Array;
  const per = alloc(out.dtype, B * OK) as Float32Array | Float64Array;
  gemmBatched({
    A: ct.buf as Float32Array | Float64Array, B: cols, C: per, M: O, N: K, K: L, ars: L, acs: 1, brs: 1, bcs: L,
    offsets: Array.from({ length: B }, (_, b) => [b * O * L, b * K * L] as const),
  });
  const acc = new Float64Array(OK);
  for (let b = 0; b < B; b++) for (let i = 0; i < OK; i++) acc[i] += per[b * OK + i];
  const res = alloc(out.dtype, OK);
  res.set(acc);
  return res;
};

const gpu: GpuKernel<Window> = (ctx, [x, ct], win, out) => {
  const [B, C] = x.shape, [, O, OH, OW] = ct.shape, K = C * sizeOf(win.kernel), L = OH * OW;
  const cols = unfoldGpu(ctx, [x], { ...win, padValue: 0 }, { shape: [B, K, L], dtype: x.dtype });
  const per = matmulGpu(ctx, [{ buf: ct.buf, shape: [B, O, L], dtype: ct.dtype }, { buf: cols, shape: [B, K, L], dtype: x.dtype }],
    { transA: false, transB: true }, { shape: [B, O, K], dtype: out.dtype });
  ctx.release(cols);
  const dw = ctx.run(reduceShader([B, O * K], [0], '0.0', 's += v;'), [per], O * K);
  ctx.release(per);
  return dw;
};

export const conv2dWeightGradP: Primitive<Window> = definePrimitive<Window>({
  name: 'conv2dWeightGrad',
  infer([x, ct], win) {
    if (x.shape.length !== 4 || ct.shape.length !== 4 || x.shape[0] !== ct.shape[0] || win.kernel.length !== 2) {
      throw new OpError('conv2dWeightGrad', `needs x [B, C, H, W], ct [B, O, OH, OW] and a 2-D window, got ${fmt(x.shape)}, ${fmt(ct.shape)} and ${fmt(win.kernel)}`);
    }
    if (x.dtype !== ct.dtype || !isFloat(x.dtype)) throw new OpError('conv2dWeightGrad', `needs float operands of one dtype, got ${x.dtype} and ${ct.dtype}`);
    const outS = windowOut('conv2dWeightGrad', x.shape.slice(2), win);
    if (outS[0] !== ct.shape[2] || outS[1] !== ct.shape[3]) {
      throw new OpError('conv2dWeightGrad', `the window gives ${fmt(outS)} positions over ${fmt(x.shape.slice(2))}, but ct has ${fmt(ct.shape.slice(2))}`);
    }
    return { shape: [ct.shape[1], x.shape[1], ...win.kernel], dtype: x.dtype };
  },
  /** Bilinear: ct's cotangent is the conv of x with g, x's is conv2d's input cotangent with g for weights. */
  vjp(g, [x, ct], _out, win, need) {
    return [need[0] ? conv2dInputGrad(ct, g, x.shape, win) : null, need[1] ? conv2d(x, g, win) : null];
  },
  batch([x, ct], [bx, bc], win, out, size): [Tensor, number | null] {
    if ((bx === null) === (bc === null) || size === 0) return loopRule(conv2dWeightGradP)([x, ct], [bx, bc], win, out, size);
    const [O, C, KH, KW] = out.shape;
    const merge = (t: Tensor, bd: number) => { const f = moveAxis(t, bd, 1); return reshape(f, [f.shape[0], size * f.shape[2], ...f.shape.slice(3)]); };
    if (bc !== null) return [reshape(conv2dWeightGrad(x, merge(ct, bc), win), [size, O, C, KH, KW]), 0];
    return [reshape(conv2dWeightGrad(merge(x, bx!), ct, win), [O, size, C, KH, KW]), 1];
  },
  kernels: { cpu, gpu },
});

/** The weights' cotangent [O, C, KH, KW] of conv2d(x, w, win) for the output's cotangent ct [B, O, OH, OW]. */
export const conv2dWeightGrad = (x: Tensor, ct: Tensor, win: Window): Tensor => bind(conv2dWeightGradP, [x, ct], win);
