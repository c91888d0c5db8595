/**
 * transpose: permute axes (reverse them by default). vjp: transpose by the inverse permutation.
 * batch: one transpose of the batched value that leaves the batch axis where it is.
 */
import type { Kernel } from '../backend.js';
import { alloc, type TypedArray } from '../dtype.js';
import { definePrimitive } from '../primitive.js';
import { OpError, sizeOf, stridesOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { withBatch } from '../batching.js';
import { coords, dot, names, shader } from '../gpu/shader.js';

type Attrs = { perm: number[] };

const cpu: Kernel<TypedArray, Attrs> = ([x], { perm }, out) => {
  const res = alloc(out.dtype, sizeOf(out.shape));
  const n = res.length, shape = out.shape, r = shape.length;
  if (n === 0) return res;
  const xs = stridesOf(x.shape), st = perm.map((p) => xs[p]), src = x.buf;
  const last = shape[r - 1], ls = st[r - 1];
  const idx = new Int32Array(r);
  let i = 0, k = 0;
  for (let o = n / last; o > 0; o--) {
    for (let j = 0; j < last; j++) res[k++] = src[i + j * ls];
    for (let d = r - 2; d >= 0; d--) {
      idx[d]++; i += st[d];
      if (idx[d] < shape[d]) break;
      i -= st[d] * shape[d]; idx[d] = 0;
    }
  }
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
