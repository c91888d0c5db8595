/**
 * transpose: permute axes (reverse their order by default), and reverse the elements along some
 * (`flip`): a conv's flipped kernel with in and out channels swapped is one pass, not three.
 * vjp: transpose by the inverse permutation, flipping the same axes back.
 * batch: one transpose of the batched value that leaves the batch axis where it is.
 */
import type { Kernel } from '../backend.js';
import { allocResult, type TypedArray } from '../dtype.js';
import { definePrimitive } from '../primitive.js';
import { normAxes, OpError, sizeOf, stridesOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { withBatch } from '../batching.js';
import { copyStrided } from '../cpu/copy.js';
import { coords, dot, names, shader } from '../gpu/shader.js';

/** `flip`: axes of x reversed (its element i along them is read from n - 1 - i) before the permutation. */
type Attrs = { perm: number[]; flip?: number[] };

/**
 * Output axes that stay adjacent in x (d, d + 1 with stride[d] = stride[d + 1] * size[d + 1]) merge
 * into one, and size-1 axes drop, so that a transpose that moves whole blocks (a (2+1)-D conv's
 * [B, C, T, H, W] -> [B, T, C, H, W]: H and W together) loops over blocks, copying each at once.
 */
function collapse(shape: readonly number[], st: readonly number[]): { shape: number[]; st: number[] } {
  const cs: number[] = [], cst: number[] = [];
  shape.forEach((n, d) => {
    if (n === 1) return;
    const m = cs.length - 1;
    if (m >= 0 && cst[m] === st[d] * n) { cs[m] *= n; cst[m] = st[d]; } else { cs.push(n); cst.push(st[d]); }
  });
  return cs.length ? { shape: cs, st: cst } : { shape: [1], st: [1] };
}

/** x's strides with the flipped axes' negated, and the offset of the element out reads first. */
function reads(shape: readonly number[], flip: readonly number[] = []): { strides: number[]; offset: number } {
  const strides = stridesOf(shape).map((s, d) => (flip.includes(d) ? -s : s));
  return { strides, offset: flip.reduce((o, d) => o + (shape[d] - 1) * -strides[d], 0) };
}

const cpu: Kernel<TypedArray, Attrs> = ([x], { perm, flip }, out) => {
  const res = allocResult(out.dtype, sizeOf(out.shape)), xs = reads(x.shape, flip);
  const { shape, st } = collapse(out.shape, perm.map((p) => xs.strides[p]));
  copyStrided(x.buf, { offset: xs.offset, strides: st }, res, { offset: 0, strides: stridesOf(shape) }, shape);
  return res;
};

export const transposeP = definePrimitive<Attrs>({
  name: 'transpose',
  infer: ([x], { perm }) => ({ shape: perm.map((p) => x.shape[p]), dtype: x.dtype }),
  vjp: (ct, _x, _out, { perm, flip = [] }) => {
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => { inv[p] = i; });
    return [transpose(ct, inv, flip.map((d) => inv[d]))];
  },
  batch: ([x], [bd], { perm, flip = [] }) => {
    const rest = x.shape.map((_, i) => i).filter((i) => i !== bd); // the example's axes in the batched value
    return [transpose(x, withBatch(perm.map((p) => rest[p]), bd!, bd!), flip.map((d) => rest[d])), bd];
  },
  kernels: {
    cpu,
    gpu: shader(([x], { perm, flip }, out) => {
      const { strides, offset } = reads(x.shape, flip);
      return `function (X) {
  ${coords(out.shape)}
  return X[${dot(names(out.shape.length), perm.map((p) => strides[p]), offset)}];
}`;
    }),
  },
});

/**
 * Permute axes, after reversing the elements along the axes `flip` (of x). `transpose(x)` reverses the
 * axes' order; `transpose(x, [0, 2, 1])` swaps the last two; `transpose(w, [1, 0, 2], [2])` swaps the
 * first two and reverses the last (a conv kernel's taps).
 */
export function transpose(x: Tensor, perm?: readonly number[], flip: readonly number[] = []): Tensor {
  const p = perm ? perm.map((a) => (a < 0 ? a + x.rank : a)) : [...Array(x.rank).keys()].reverse();
  if (p.length !== x.rank || [...p].sort((a, b) => a - b).some((a, i) => a !== i)) {
    throw new OpError('transpose', `perm ${JSON.stringify(perm)} is not a permutation of the ${x.rank} axes of shape [${x.shape.join(', ')}]`);
  }
  const f = normAxes('transpose', flip, x.rank).filter((d) => x.shape[d] > 1);
  if (p.every((a, i) => a === i) && !f.length) return x;
  return bind(transposeP, [x], f.length ? { perm: p, flip: f } : { perm: p });
}

/** Reverse the elements along `axes` (all by default). `flip(tensor([1, 2, 3]))` → [3, 2, 1] */
export const flip = (x: Tensor, axes?: number | readonly number[]): Tensor => transpose(x, [...Array(x.rank).keys()], normAxes('flip', axes, x.rank));
