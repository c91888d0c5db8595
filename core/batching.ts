/**
 * Batching rules: how a primitive runs on a batch when vmap asks it to (JAX's batching rules).
 *
 * A rule gets the batched values, each input's batch axis (`null` for an input that is the same for
 * every example) and the batch size, and returns the output with its own batch axis. It is written
 * with ops, so it composes with grad and jit. Primitives without a rule of their own fall back to a
 * loop over the batch (correct, slow); elementwise primitives share one rule (below).
 */
import type { Aval } from './backend.js';
import type { Primitive } from './primitive.js';
import { OpError, sizeOf } from './shape.js';
import type { Tensor } from './tensor.js';
import { bind } from './trace.js';
import { concat } from './prims/concat.js';
import { reshape } from './prims/reshape.js';
import { slice } from './prims/slice.js';
import { transpose } from './prims/transpose.js';
import { broadcastTo } from './prims/broadcastTo.js';
import { astype } from './prims/cast.js';

/** Batch axes: a number for a batched input, null for an input shared by the whole batch. */
export type BDims = readonly (number | null)[];

/**
 * `(vals, bdims, attrs, out, size) => [result, its batch axis]`: `out` is the per-example aval the
 * shape rule gave; a result with batch axis null is the same for every example.
 */
export type BatchRule<A = any> = (vals: readonly Tensor[], bdims: BDims, attrs: A, out: Aval, size: number) => [Tensor, number | null];

/** `x` with axis `from` moved to position `to`. `moveAxis(zeros([2, 3, 4]), 2, 0)` has shape [4, 2, 3] */
export function moveAxis(x: Tensor, from: number, to: number): Tensor {
  if (from === to) return x;
  const perm = x.shape.map((_, i) => i).filter((i) => i !== from);
  perm.splice(to, 0, from);
  return transpose(x, perm);
}

/**
 * `x` with its batch axis at `at` (default first); an unbatched `x` is broadcast to `size` along a new
 * axis there. `batchAt(x, null, 4, 1)` of x [2, 3] has shape [2, 4, 3]
 */
export function batchAt(x: Tensor, bdim: number | null, size: number, at = 0): Tensor {
  if (bdim !== null) return moveAxis(x, bdim, at);
  const shape = withBatch(x.shape, at, 1);
  return broadcastTo(reshape(x, shape), withBatch(x.shape, at, size));
}

/** `x` with its batch axis first; an unbatched `x` is broadcast to `size` along a new first axis. */
export function batchFirst(x: Tensor, bdim: number | null, size: number): Tensor {
  return batchAt(x, bdim, size, 0);
}

/** A per-example list (shape, begins, pads) with the batch's entry `v` inserted at `bdim`. `withBatch([2, 3], 1, 5)` → [2, 5, 3] */
export function withBatch<T>(xs: readonly T[], bdim: number, v: T): T[] {
  return [...xs.slice(0, bdim), v, ...xs.slice(bdim)];
}

/** Axis `a` of one example as an axis of the batched value, whose batch is at `bdim`. `atBatched(2, 1)` → 3 */
export function atBatched(a: number, bdim: number): number {
  return a < bdim ? a : a + 1;
}

/**
 * A reduction over per-example `axes` as one over the batched value (batch at `bdim`): the axes to
 * reduce there, and where the batch axis is once they are gone. `reduceAxes([0, 2], 1)` → {axes: [0, 3], bdim: 0}
 */
export function reduceAxes(axes: readonly number[], bdim: number): { axes: number[]; bdim: number } {
  const full = axes.map((a) => atBatched(a, bdim));
  return { axes: full, bdim: bdim - full.filter((a) => a < bdim).length };
}

/**
 * For primitives whose first axis is already a batch (unfold, fold: [B, C, ...]): `x` with the vmap
 * batch merged into that axis ([size, B, ...] or [B, size, ...] -> [size * B, ...], no copy when the
 * batch is at 0 or 1), and `split`, which takes a result whose first axis is the merged one apart
 * again and says where the batch is. `const m = mergeBatch(x, bdim); return m.split(unfold(m.merged, w));`
 */
export function mergeBatch(x: Tensor, bdim: number): { merged: Tensor; split: (y: Tensor) => [Tensor, number] } {
  const at = bdim > 1 ? 0 : bdim, f = moveAxis(x, bdim, at);
  const [d0, d1] = f.shape;
  return {
    merged: reshape(f, [d0 * d1, ...f.shape.slice(2)]),
    split: (y) => [reshape(y, [d0, d1, ...y.shape.slice(1)]), at],
  };
}

/**
 * The rule every elementwise primitive shares: batched inputs get the batch first and size-1 axes so
 * that they have the output's rank plus one; unbatched inputs broadcast against them as they are.
 */
export const elementwiseRule = (prim: Primitive<any>): BatchRule => (vals, bdims, attrs, out, size) => {
  const xs = vals.map((v, i) => {
    const bd = bdims[i];
    if (prim.elementwise?.sameShape) return batchFirst(v, bd, size);
    if (bd === null) return v;
    const f = moveAxis(v, bd, 0);
    const pad = out.shape.length - (f.rank - 1);
    return pad > 0 ? reshape(f, [f.shape[0], ...new Array(pad).fill(1), ...f.shape.slice(1)]) : f;
  });
  return [bind(prim, xs, attrs), 0];
};

/** Example `i` of a batched value. */
function example(v: Tensor, bdim: number, i: number): Tensor {
  const begin = v.shape.map((_, d) => (d === bdim ? i : 0));
  const size = v.shape.map((n, d) => (d === bdim ? 1 : n));
  return reshape(slice(v, begin, size), v.shape.filter((_, d) => d !== bdim));
}

/** The fallback: run the primitive once per example and stack the results. */
export const loopRule = (prim: Primitive<any>): BatchRule => (vals, bdims, attrs, out, size) => {
  if (size === 0) {
    const x = vals.find((_, i) => bdims[i] !== null)!;
    return [astype(reshape(sliceEmpty(x), [0, ...out.shape]), out.dtype), 0];
  }
  const rows: Tensor[] = [];
  for (let i = 0; i < size; i++) {
    const y = bind(prim, vals.map((v, j) => (bdims[j] === null ? v : example(v, bdims[j]!, i))), attrs);
    rows.push(reshape(y, [1, ...y.shape]));
  }
  return [concat(rows, 0), 0];
};

/** An empty tensor on x's backend (for a batch of size 0). */
const sliceEmpty = (x: Tensor): Tensor => slice(reshape(x, [sizeOf(x.shape)]), [0], [0]);

/** Check a rule's result against the per-example aval the shape rule gave (catches a wrong rule at once). */
export function checkBatched(prim: string, y: Tensor, bdim: number | null, out: Aval, size: number): void {
  const shape = bdim === null ? y.shape : y.shape.filter((_, i) => i !== bdim);
  const ok = y.dtype === out.dtype && shape.length === out.shape.length && shape.every((d, i) => d === out.shape[i]) &&
    (bdim === null || y.shape[bdim] === size);
  if (!ok) {
    throw new OpError(prim, `batching rule gave shape [${y.shape}] ${y.dtype} with batch axis ${bdim}, ` +
      `expected [${out.shape}] ${out.dtype} per example and ${size} examples (a bug in the rule)`);
  }
}
