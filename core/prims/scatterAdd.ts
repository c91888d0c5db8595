/**
 * scatterAdd: the transpose of gather. out[r, :] = sum of src[i..., :] over the i with idx[i...] = r,
 * for r < n. vjp: gather the cotangent rows.
 * batch: shared indices scatter [...idx, size, ...] into [n, size, ...] (the batch rides along in each
 * row); batched indices fold the batch into the rows, size * n of them (see gather.ts's foldIndices).
 */
import type { Kernel } from '../backend.js';
import { alloc, type TypedArray } from '../dtype.js';
import { definePrimitive, type Primitive } from '../primitive.js';
import { fmt, OpError, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { batchFirst, moveAxis } from '../batching.js';
import { reshape } from './reshape.js';
import { checkIndices, foldIndices, gather } from './gather.js';
import { floorDiv, lit, stretches, walkable } from '../gpu/shader.js';

const cpu: Kernel<TypedArray, { n: number }> = ([src, idx], { n }, out) => {
  checkIndices('scatterAdd', idx.buf, n);
  const row = sizeOf(out.shape.slice(1));
  const acc = new Float64Array(sizeOf(out.shape)), s = src.buf;
  for (let i = 0; i < idx.buf.length; i++) {
    const r = idx.buf[i] * row, k = i * row;
    for (let j = 0; j < row; j++) acc[r + j] += s[k + j];
  }
  const res = alloc(out.dtype, acc.length);
  res.set(acc);
  return res;
};

export const scatterAddP: Primitive<{ n: number }> = definePrimitive<{ n: number }>({
  name: 'scatterAdd',
  infer([src, idx], { n }) {
    if (idx.dtype !== 'int32') throw new OpError('scatterAdd', `indices must be int32, got ${idx.dtype}`);
    const k = idx.shape.length;
    if (src.shape.length < k || idx.shape.some((d, i) => d !== src.shape[i])) {
      throw new OpError('scatterAdd', `source ${fmt(src.shape)} must start with the index shape ${fmt(idx.shape)}`);
    }
    return { shape: [n, ...src.shape.slice(k)], dtype: src.dtype };
  },
  vjp: (ct, [, idx]) => [gather(ct, idx), null],
  batch: ([src, idx], [bs, bi], { n }, _out, size) => {
    if (bi === null) return [bind(scatterAddP, [moveAxis(src, bs!, idx.rank), idx], { n }), 1];
    const y = bind(scatterAddP, [batchFirst(src, bs, size), foldIndices(moveAxis(idx, bi, 0), n)], { n: size * n });
    return [reshape(y, [size, n, ...y.shape.slice(1)]), 0];
  },
  kernels: {
    cpu,
    gpu: (ctx, [src, idx], { n }, out) => {
      checkIndices('scatterAdd', ctx.read(idx.buf), n);
      const row = sizeOf(out.shape.slice(1)), m = idx.buf.size, size = sizeOf(out.shape);
      // each output walks the indices, in stretches (four outputs a texel share LOOP_STEPS)
      return stretches(ctx, m, walkable(4), size, (from, to) => ctx.run(`function (S, I) {
  const i = this.thread.x;
  ${floorDiv('r', 'i', row, size)}
  const j = i - r * ${lit(row)};
  let s = 0.0;
  for (let k = ${from}; k < ${to}; k++) {
    if (I[k] == r) { s += S[k * ${lit(row)} + j]; }
  }
  return s;
}`, [src.buf, idx.buf], size));
    },
  },
});

/** Add rows of `src` into `n` zero rows at `indices`. `scatterAdd(ones([3, 2]), idx, 5)` */
export const scatterAdd = (src: Tensor, indices: Tensor, n: number): Tensor => bind(scatterAddP, [src, indices], { n });
