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
import { coords, dot, names, shader } from '../gpu/shader.js';

type Attrs = { perm: number[] };

/** Runs of at least this many adjacent elements are copied with TypedArray.set (a memcpy), shorter ones by a loop. */
const SET_MIN = 64;

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
  const res = allocResult(out.dtype, sizeOf(out.shape));
  const n = res.length;
  if (n === 0) return res;
  const xs = stridesOf(x.shape), src = x.buf;
  const { shape, st } = collapse(out.shape, perm.map((p) => xs[p]));
  const r = shape.length, last = shape[r - 1], ls = st[r - 1], block = ls === 1 && last >= SET_MIN;
  const idx = new Int32Array(r);
  let i = 0, k = 0;
  for (let o = n / last; o > 0; o--) {
    if (block) { res.set(src.subarray(i, i + last), k); k += last; } else for (let j = 0; j < last; j++) res[k++] = src[i + j * ls];
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
