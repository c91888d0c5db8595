/**
 * transpose: permute axes (reverse them by default). vjp: transpose by the inverse permutation.
 * batch: one transpose of the batched value that leaves the batch axis where it is.
 */
import type { Kernel } from '../backend.js';
import { allocResult, type TypedArray } from '../dtype.js';
import { definePrimitive } from '../primitive.js';
import { OpError, sizeOf, stridesOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { withBatch } from '../batching.js';
import { copyStrided } from '../cpu/copy.js';
import { coords, dot, names, shader } from '../gpu/shader.js';

type Attrs = { perm: number[] };

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

const cpu: Kernel<TypedArray, Attrs> = ([x], { perm }, out) => {
  const res = allocResult(out.dtype, sizeOf(out.shape)), xs = stridesOf(x.shape);
  const { shape, st } = collapse(out.shape, perm.map((p) => xs[p]));
  copyStrided(x.buf, { offset: 0, strides: st }, res, { offset: 0, strides: stridesOf(shape) }, shape);
  return res;
};

export const transposeP = definePrimitive<Attrs>({
  name: 'transpose',
  infer: ([x], { perm }) => ({ shape: perm.map((p) => x.shape[p]), dtype: x.dtype }),
  vjp: (ct, _x, _out, { perm }) => {
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => { inv[p] = i; });
    return [transpose(ct, inv)];
  },
  batch: ([x], [bd], { perm }) => {
    const rest = x.shape.map((_, i) => i).filter((i) => i !== bd); // the example's axes in the batched value
    return [transpose(x, withBatch(perm.map((p) => rest[p]), bd!, bd!)), bd];
  },
  kernels: {
    cpu,
    gpu: shader(([x], { perm }, out) => {
      const st = stridesOf(x.shape);
      return `function (X) {
  ${coords(out.shape)}
  return X[${dot(names(out.shape.length), perm.map((p) => st[p]))}];
}`;
    }),
  },
});

/** Permute axes. `transpose(x)` reverses them; `transpose(x, [0, 2, 1])` swaps the last two. */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  const p = perm ? perm.map((a) => (a < 0 ? a + x.rank : a)) : [...Array(x.rank).keys()].reverse();
  if (p.length !== x.rank || [...p].sort((a, b) => a - b).some((a, i) => a !== i)) {
    throw new OpError('transpose', `perm ${JSON.stringify(perm)} is not a permutation of the ${x.rank} axes of shape [${x.shape.join(', ')}]`);
  }
  return p.every((a, i) => a === i) ? x : bind(transposeP, [x], { perm: p });
}
