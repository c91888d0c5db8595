/**
 * Compositions: everything here is built from primitives, so it needs no kernel and no vjp of its own.
 * Numerically careful forms are chosen where it matters (softmax subtracts the max, sigmoid goes
 * through tanh, l2Normalize guards the zero vector).
 */
import { normAxes, normAxis, OpError, sizeOf } from './shape.js';
import { isTensor, type Tensor } from './tensor.js';
import { stopGradient } from './autodiff.js';
import { add } from './prims/add.js';
import { astype } from './prims/cast.js';
import { equal } from './prims/compare.js';
import { concat } from './prims/concat.js';
import { div } from './prims/div.js';
import { exp } from './prims/exp.js';
import { log } from './prims/log.js';
import { max } from './prims/max.js';
import { maximum } from './prims/maximum.js';
import { mul } from './prims/mul.js';
import { neg } from './prims/neg.js';
import { reshape } from './prims/reshape.js';
import { sqrt } from './prims/sqrt.js';
import { sub } from './prims/sub.js';
import { sum } from './prims/sum.js';
import { tanh } from './prims/tanh.js';
import type { TensorLike } from './prims/_elementwise.js';
import { minimum } from './prims/minimum.js';
import { reluFloat } from './prims/relu.js';
import { isFloat } from './dtype.js';
import { arange } from './creation.js';

type Axis = number | readonly number[] | undefined;

/** Mean over `axis` (all by default). `mean(tensor([1, 2, 3]))` → 2 */
export function mean(x: Tensor, axis?: Axis, opts: { keepdims?: boolean } = {}): Tensor {
  const axes = normAxes('mean', axis, x.rank);
  const n = sizeOf(axes.map((a) => x.shape[a]));
  return div(sum(astype(x, x.dtype === 'float64' ? 'float64' : 'float32'), axes, opts), n);
}

/** Variance over `axis` (population, ddof 0, as BatchNorm uses). */
export function variance(x: Tensor, axis?: Axis, opts: { keepdims?: boolean } = {}): Tensor {
  const d = sub(x, mean(x, axis, { keepdims: true }));
  return mean(mul(d, d), axis, opts);
}

/** Min over `axis`, as -max(-x). */
export const min = (x: Tensor, axis?: Axis, opts: { keepdims?: boolean } = {}): Tensor => neg(max(neg(x), axis, opts));

/**
 * max(x, 0). NOTE: derivative 0 at x = 0 (maximum gives ties to its second argument).
 * Float tensors take the one-pass relu primitive; ints, bools and numbers go through maximum.
 */
export const relu = (x: TensorLike): Tensor => (isTensor(x) && isFloat(x.dtype) ? reluFloat(x) : maximum(x, 0));

/** 1 / (1 + e^-x), computed as (1 + tanh(x / 2)) / 2 so neither tail overflows. */
export const sigmoid = (x: TensorLike): Tensor => mul(add(tanh(mul(x, 0.5)), 1), 0.5);

/** x * x. */
export const square = (x: TensorLike): Tensor => mul(x, x);

/** log(sum(exp(x))) over `axis`, shifted by the (constant) max so it never overflows. */
export function logSumExp(x: Tensor, axis: Axis = -1, opts: { keepdims?: boolean } = {}): Tensor {
  const m = maximum(stopGradient(max(x, axis, { keepdims: true })), -3.4e38); // finite, so an all -inf row gives -inf
  const y = add(log(sum(exp(sub(x, m)), axis, { keepdims: true })), m);
  return opts.keepdims ? y : squeeze(y, axis ?? [...x.shape.keys()]);
}

/** x - logSumExp(x) along `axis` (default last). */
export const logSoftmax = (x: Tensor, axis = -1): Tensor => sub(x, logSumExp(x, axis, { keepdims: true }));

/** exp(x) / sum(exp(x)) along `axis` (default last), max-shifted. `softmax(tensor([0, 0]))` → [0.5, 0.5] */
export function softmax(x: Tensor, axis = -1): Tensor {
  const e = exp(sub(x, stopGradient(max(x, axis, { keepdims: true }))));
  return div(e, sum(e, axis, { keepdims: true }));
}

/**
 * x / max(||x||, eps) along `axis` (default last): unit vectors, as torch's F.normalize.
 * NOTE: eps keeps the zero vector at zero instead of nan.
 */
export function l2Normalize(x: Tensor, axis = -1, eps = 1e-12): Tensor {
  const n = sqrt(sum(mul(x, x), axis, { keepdims: true }));
  return div(x, maximum(n, eps));
}

/** A new axis of size 1 at `axis`. `expandDims(tensor([1, 2]), 0)` has shape [1, 2] */
export function expandDims(x: Tensor, axis: number): Tensor {
  const a = normAxis('expandDims', axis, x.rank + 1);
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

/** Drop size-1 axes (all of them, or the ones named). */
export function squeeze(x: Tensor, axis?: Axis): Tensor {
  const axes = axis === undefined ? x.shape.flatMap((d, i) => (d === 1 ? [i] : [])) : normAxes('squeeze', axis, x.rank);
  for (const a of axes) if (x.shape[a] !== 1) throw new OpError('squeeze', `axis ${a} has size ${x.shape[a]}, not 1`);
  return reshape(x, x.shape.filter((_, i) => !axes.includes(i)));
}

/** Join tensors of one shape along a new axis. `stack([a, b])` has shape [2, ...a.shape] */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new OpError('stack', 'needs at least one tensor');
  const a = normAxis('stack', axis, xs[0].rank + 1);
  return concat(xs.map((x) => expandDims(x, a)), a);
}

/** Collapse axes from `start` on into one. `flatten(zeros([2, 3, 4]))` has shape [2, 12] */
export const flatten = (x: Tensor, start = 1): Tensor => reshape(x, [...x.shape.slice(0, start), -1]);

/** true where a is false. */
export const logicalNot = (m: Tensor): Tensor => equal(astype(m, 'bool'), false);

/** One-hot rows for int32 labels: [...labels.shape, n] of `dtype`. */
export function oneHot(labels: Tensor, n: number, dtype: 'float32' | 'float64' = 'float32'): Tensor {
  if (labels.dtype !== 'int32') throw new OpError('oneHot', `labels must be int32, got ${labels.dtype}`);
  const classes = reshape(arange(n, undefined, 1, 'int32', labels), [...labels.shape.map(() => 1), n]);
  return astype(equal(expandDims(labels, -1), classes), dtype);
}

/** Mean cross-entropy of `logits` [..., C] against int32 `labels` [...]. */
export function crossEntropy(logits: Tensor, labels: Tensor): Tensor {
  const lp = logSoftmax(logits, -1);
  return neg(mean(sum(mul(lp, oneHot(labels, logits.shape[logits.rank - 1], lp.dtype as 'float32')), -1)));
}

/** Elementwise 1 / x. */
export const reciprocal = (x: TensorLike): Tensor => div(1, x);

/** Clip values into [lo, hi]. `clip(tensor([-2, 5]), 0, 1)` → [0, 1] */
export const clip = (x: TensorLike, lo: number, hi: number): Tensor => minimum(maximum(x, lo), hi);
