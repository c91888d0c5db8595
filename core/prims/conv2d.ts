/**
 * conv2d: a 2-D convolution of x [B, C, H, W] with w [O, C, KH, KW] (one group; any stride, padding,
 * dilation) to [B, O, OH, OW]. It is unfold (im2col) then a matmul, as conv.ts composes it, made one
 * primitive so that on the CPU the two can fuse: float32 runs conv2d in cpu/wasm/gemm.wat, which
 * packs each panel of im2col columns straight from the image while it multiplies, so the [C KH KW, OH OW]
 * columns (9x the input for a 3x3 conv) are never written, copied into wasm memory or packed again.
 * Other dtypes, and float32 without the wasm kernel, run the unfold and GEMM kernels one after the
 * other; the GPU runs unfold's and matmul's shaders.
 *
 * batch: the vmap batch of x merges into x's batch axis; batched weights take the loop fallback.
 *
 * vjp: x's cotangent is a conv2d again where it can be, else a fold (conv2dInputGrad); w's is
 * conv2dWeightGrad (./conv2dWeightGrad.ts), which on the CPU fuses im2col into its GEMM too.
 *
 * The helpers that multiply weights with columns (colsMatmul, colsWeightGrad, flippedT) live here
 * too: conv.ts uses them for the convs this primitive does not take.
 */
import type { Kernel } from '../backend.js';
import { alloc, isFloat, type TypedArray } from '../dtype.js';
import { conv2dWasm, gemmBatched } from '../cpu/pool.js';
import { definePrimitive } from '../primitive.js';
import { fmt, OpError, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { loopRule, mergeBatch } from '../batching.js';
import type { GpuKernel } from '../gpu/shader.js';
import { fold } from './fold.js';
import { matmul, matmulGpu, matmulT } from './matmul.js';
import { reshape } from './reshape.js';
import { sum } from './sum.js';
import { transpose } from './transpose.js';
import { unfoldCpu, unfoldGpu, type Window, windowOut } from './unfold.js';
import { conv2dWeightGrad } from './conv2dWeightGrad.js';

const outShape = (x: readonly number[], w: readonly number[], win: Window): number[] =>
  [x[0], w[0], ...windowOut('conv', x.slice(2), win)];

const cpu: Kernel<TypedArray, Window> = ([x, w], win, out) => {
  const [B, C, H, W] = x.shape, [O, , KH, KW] = w.shape, [, , OH, OW] = out.shape;
  if (x.dtype === 'float32') {
    const y = conv2dWasm(x.buf as Float32Array, w.buf as Float32Array, {
      B, C, H, W, O, KH, KW, sh: win.stride[0], sw: win.stride[1], ph: win.padding[0][0], pw: win.padding[1][0],
      dh: win.dilation[0], dw: win.dilation[1], OH, OW,
    });
    if (y) return y;
  }
  const K = C * KH * KW, L = OH * OW;
  const cols = unfoldCpu([x], { ...win, padValue: 0 }, { shape: [B, K, L], dtype: x.dtype }) as Float32Array | Float64Array;
  const res = alloc(out.dtype, sizeOf(out.shape)) as Float32Array | Float64Array;
  gemmBatched({
    A: w.buf as Float32Array | Float64Array, B: cols, C: res, M: O, N: L, K, ars: K, acs: 1, brs: L, bcs: 1,
    offsets: Array.from({ length: B }, (_, b) => [0, b * K * L] as const),
  });
  return res;
};

const gpu: GpuKernel<Window> = (ctx, [x, w], win, out) => {
  const [B, C] = x.shape, [O, , KH, KW] = w.shape, K = C * KH * KW, L = out.shape[2] * out.shape[3];
  const cols = unfoldGpu(ctx, [x], { ...win, padValue: 0 }, { shape: [B, K, L], dtype: x.dtype });
  const y = matmulGpu(ctx, [{ buf: w.buf, shape: [O, K], dtype: w.dtype }, { buf: cols, shape: [B, K, L], dtype: x.dtype }],
    { transA: false, transB: false }, { shape: [B, O, L], dtype: out.dtype });
  ctx.release(cols);
  return y;
};

export const conv2dP = definePrimitive<Window>({
  name: 'conv2d',
  infer([x, w], win) {
    if (x.shape.length !== 4 || w.shape.length !== 4 || x.shape[1] !== w.shape[1]) {
      throw new OpError('conv2d', `needs x [B, C, H, W] and w [O, C, KH, KW], got ${fmt(x.shape)} and ${fmt(w.shape)}`);
    }
    if (x.dtype !== w.dtype || !isFloat(x.dtype)) throw new OpError('conv2d', `needs float operands of one dtype, got ${x.dtype} and ${w.dtype}`);
    if (win.kernel[0] !== w.shape[2] || win.kernel[1] !== w.shape[3]) throw new OpError('conv2d', `window ${fmt(win.kernel)} is not the weights' ${fmt(w.shape.slice(2))}`);
    return { shape: outShape(x.shape, w.shape, win), dtype: x.dtype };
  },
  /**
   * x's cotangent: conv2dInputGrad. w's: ct times the columns, which the forward pass never built:
   * conv2dWeightGrad packs them straight from x again.
   */
  vjp(ct, [x, w], _out, win, need) {
    return [need[0] ? conv2dInputGrad(ct, w, x.shape, win) : null, need[1] ? conv2dWeightGrad(x, ct, win) : null];
  },
  /** x's batch merges into its own batch axis (one conv); batched weights loop over the batch. */
  batch([x, w], [bx, bw], win, out, size): [Tensor, number | null] {
    if (bw !== null) return loopRule(conv2dP)([x, w], [bx, bw], win, out, size);
    const m = mergeBatch(x, bx!);
    return m.split(conv2d(m.merged, w, win));
  },
  kernels: { cpu, gpu },
});

/** conv2d of x [B, C, H, W] with w [O, C, KH, KW] over the window `win`: [B, O, OH, OW]. */
export const conv2d = (x: Tensor, w: Tensor, win: Window): Tensor => bind(conv2dP, [x, w], win);

/**
 * x's cotangent [B, C, H, W] of conv2d(x, w, win) for the output's cotangent ct [B, O, OH, OW]: with
 * unit stride and padding at most (K - 1) dilation, a conv2d again, of ct with the weights
 * transposed (in <-> out) and reversed, padded by (K - 1) dilation - pad each side (see
 * convUnitStride in ../conv.ts); otherwise matmul's rule then unfold's (fold).
 */
export function conv2dInputGrad(ct: Tensor, w: Tensor, xShape: readonly number[], win: Window): Tensor {
  const [B, C, ...S] = xShape, [O, , ...K] = w.shape, L = ct.shape[2] * ct.shape[3], kp = K[0] * K[1];
  const transposable = win.padding.every(([lo, hi], d) => Math.max(lo, hi) <= (K[d] - 1) * win.dilation[d]);
  if (win.stride.every((s) => s === 1) && transposable) {
    const back: Window = { ...win, padding: win.padding.map(([lo, hi], d) => [(K[d] - 1) * win.dilation[d] - lo, (K[d] - 1) * win.dilation[d] - hi]) };
    return conv2d(ct, reshape(flippedT(w), [C, O, ...K]), back);
  }
  return fold(matmulT(reshape(w, [O, C * kp]), reshape(ct, [B, O, L]), true, false), S, win);
}

/**
 * Below this many output positions per image, a conv's matmul folds the batch into its columns, on
 * the CPU (on the GPU, where a launch costs more than these products, the folding transposes are
 * launches of their own: there the batch stays a batch axis of one launch).
 */
export const FOLD_BATCH_BELOW = 128;

/**
 * From this many output positions per image on, conv takes this primitive (on the CPU, im2col fused
 * into the GEMMs of the forward pass and of both gradients); below, the forward kernel's per-image
 * products are too thin to pay for packing the weights once per image, and the unfold routes win.
 * Measured (one thread, forward and backward of a 3x3 conv, 16-32 images, 32-128 channels): 13x5
 * positions 1.5x faster through conv2d, 4x4 1.3x, 2x2 1.4x slower.
 */
export const CONV2D_MIN_POSITIONS = 16;

/**
 * w2 [M, K] times every image's columns cols [B, K, L]: [B, M, L]. With few positions L (the deep,
 * strided layers: a 1x1x1 map has one) the B products are too thin for the GEMM to pay its packing,
 * and their weight cotangents come as [B, M, K] summed over B; so there, on the CPU, the batch is
 * folded into one [K, B * L] operand (a copy, small at these sizes) and one product. Same values either way.
 */
export function colsMatmul(w2: Tensor, cols: Tensor): Tensor {
  const [B, K, L] = cols.shape, M = w2.shape[0];
  if (!foldsBatch(cols)) return matmul(w2, cols);
  const y = matmul(w2, reshape(transpose(cols, [1, 0, 2]), [K, B * L]));
  return transpose(reshape(y, [M, B, L]), [1, 0, 2]);
}

/** Whether colsMatmul folds the batch of columns [B, K, L] into one operand (see FOLD_BATCH_BELOW). */
const foldsBatch = (cols: Tensor): boolean =>
  cols.shape[2] < FOLD_BATCH_BELOW && cols.shape[0] > 1 && cols.concrete().backend?.name === 'cpu';

/** The weight's cotangent of colsMatmul(w2, cols) for dy [B, M, L]: [M, K], by the same two routes. */
export function colsWeightGrad(dy: Tensor, cols: Tensor): Tensor {
  const [B, K, L] = cols.shape, M = dy.shape[1];
  if (!foldsBatch(cols)) return sum(matmulT(dy, cols, false, true), 0);
  const fold2 = (t: Tensor, rows: number) => reshape(transpose(t, [1, 0, 2]), [rows, B * L]);
  return matmulT(fold2(dy, M), fold2(cols, K), false, true);
}

/** w [O, C, ...K] as [C, O * prod(K)], reversed along every spatial axis (the flat kernel index, reversed). */
export function flippedT(w: Tensor): Tensor {
  const [O, C, ...K] = w.shape, kp = sizeOf(K);
  return reshape(transpose(reshape(w, [O, C, kp]), [1, 0, 2], [2]), [C, O * kp]);
}
