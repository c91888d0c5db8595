/**
 * Compositions: everything here is built from primitives, so it needs no kernel and no vjp of its own.
 * Numerically careful forms are chosen where it matters (softmax and logSumExp subtract the max,
 * sigmoid never computes e^x for large x, l2Normalize guards the zero vector).
 * Each public op is `named`: an OpError from a primitive inside it names the op the user called.
 */
import { ConcretizationError, fmt, named, normAxes, normAxis, OpError, sameShape, sizeOf } from './shape.js';
import { isTensor, type Tensor } from './tensor.js';
import { stopGradient } from './autodiff.js';
import { abs } from './prims/abs.js';
import { add } from './prims/add.js';
import { astype } from './prims/cast.js';
import { equal, greaterEqual, less } from './prims/compare.js';
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
import { where } from './prims/where.js';
import type { TensorLike } from './prims/_elementwise.js';
import { minimum } from './prims/minimum.js';
import { reluFloat } from './prims/relu.js';
import { isFloat, type TypedArray } from './dtype.js';
import { arange } from './creation.js';

type Axis = number | readonly number[] | undefined;

/** Mean over `axis` (all by default). `mean(tensor([1, 2, 3]))` → 2 */
export const mean = named('mean', (x: Tensor, axis?: Axis, opts: { keepdims?: boolean } = {}): Tensor => {
  const axes = normAxes('mean', axis, x.rank);
  const n = sizeOf(axes.map((a) => x.shape[a]));
  return div(sum(astype(x, x.dtype === 'float64' ? 'float64' : 'float32'), axes, opts), n);
});

/** Variance over `axis` (population, ddof 0, as BatchNorm uses). */
export const variance = named('variance', (x: Tensor, axis?: Axis, opts: { keepdims?: boolean } = {}): Tensor => {
  const d = sub(x, mean(x, axis, { keepdims: true }));
  return mean(mul(d, d), axis, opts);
});

/**
 * max(x, 0). NOTE: derivative 0 at x = 0 (maximum gives ties to its second argument).
 * Float tensors take the one-pass relu primitive; ints, bools and numbers go through maximum.
 */
export const relu = named('relu', (x: TensorLike): Tensor => (isTensor(x) && isFloat(x.dtype) ? reluFloat(x) : maximum(x, 0)));

/**
 * 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) below: e^x never overflows, and the lower tail keeps
 * its tiny values (float32 sigmoid(-100) = 3.7e-44) where (1 + tanh(x / 2)) / 2 cancels to 0.
 * Ints and bools give float32.
 */
export const sigmoid = named('sigmoid', (x: TensorLike): Tensor => {
  const xf = isTensor(x) && !isFloat(x.dtype) ? astype(x, 'float32') : x;
  const pos = greaterEqual(xf, 0);
  const e = exp(where(pos, neg(xf), xf)); // e^-|x|, by where: abs has derivative 0 at 0
  const r = div(1, add(e, 1));
  return where(pos, r, mul(e, r));
});

/** x * x. */
export const square = named('square', (x: TensorLike): Tensor => mul(x, x));

/**
 * The max along `axis` (kept) as a constant shift, or 0 where that max is not finite: an all -inf
 * row then gives -inf and a +inf gives +inf (as scipy), where x - max would be nan.
 */
function shift(x: Tensor, axis: Axis): Tensor {
  const m = stopGradient(max(x, axis, { keepdims: true }));
  return where(less(abs(m), Infinity), m, 0);
}

/** log(sum(exp(x))) over `axis`, shifted by the (constant) max so it never overflows. */
export const logSumExp = named('logSumExp', (x: Tensor, axis: Axis = -1, opts: { keepdims?: boolean } = {}): Tensor => {
  const m = shift(x, axis);
  const y = add(log(sum(exp(sub(x, m)), axis, { keepdims: true })), m);
  return opts.keepdims ? y : squeeze(y, axis ?? [...x.shape.keys()]);
});

/**
 * x - logSumExp(x) along `axis` (default last), as (x - m) - log(sum(exp(x - m))): the shifted values
 * are exact, where x - (log s + m) rounds log s into m (float32 [1e5, 1e5 + 1] would lose 3 digits).
 */
export const logSoftmax = named('logSoftmax', (x: Tensor, axis = -1): Tensor => {
  const z = sub(x, shift(x, axis));
  return sub(z, log(sum(exp(z), axis, { keepdims: true })));
});

/** exp(x) / sum(exp(x)) along `axis` (default last), max-shifted. `softmax(tensor([0, 0]))` → [0.5, 0.5] */
export const softmax = named('softmax', (x: Tensor, axis = -1): Tensor => {
  const e = exp(sub(x, stopGradient(max(x, axis, { keepdims: true }))));
  return div(e, sum(e, axis, { keepdims: true }));
});

/**
 * x / max(||x||, eps) along `axis` (default last): unit vectors, as torch's F.normalize.
 * NOTE: eps keeps the zero vector at zero instead of nan.
 */
export const l2Normalize = named('l2Normalize', (x: Tensor, axis = -1, eps = 1e-12): Tensor => {
  const n = sqrt(sum(mul(x, x), axis, { keepdims: true }));
  return div(x, maximum(n, eps));
});

/** A new axis of size 1 at `axis`. `expandDims(tensor([1, 2]), 0)` has shape [1, 2] */
export const expandDims = named('expandDims', (x: Tensor, axis: number): Tensor => {
  const a = normAxis('expandDims', axis, x.rank + 1);
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
});

/** Drop size-1 axes (all of them, or the ones named). */
export const squeeze = named('squeeze', (x: Tensor, axis?: Axis): Tensor => {
  const axes = axis === undefined ? x.shape.flatMap((d, i) => (d === 1 ? [i] : [])) : normAxes('squeeze', axis, x.rank);
  for (const a of axes) if (x.shape[a] !== 1) throw new OpError('squeeze', `axis ${a} has size ${x.shape[a]}, not 1`);
  return reshape(x, x.shape.filter((_, i) => !axes.includes(i)));
});

/** Join tensors of one shape along a new axis. `stack([a, b])` has shape [2, ...a.shape] */
export const stack = named('stack', (xs: readonly Tensor[], axis = 0): Tensor => {
  if (xs.length === 0) throw new OpError('stack', 'needs at least one tensor');
  const odd = xs.find((x) => !sameShape(x.shape, xs[0].shape));
  if (odd) throw new OpError('stack', `tensors must have one shape, got ${fmt(xs[0].shape)} and ${fmt(odd.shape)}`);
  const a = normAxis('stack', axis, xs[0].rank + 1);
  return concat(xs.map((x) => expandDims(x, a)), a);
});

/** Collapse axes from `start` on into one (their product, not -1, which cannot say 0 in [0, 3] or [2, 0, 3]). `flatten(zeros([2, 3, 4]))` has shape [2, 12] */
export const flatten = named('flatten', (x: Tensor, start = 1): Tensor => reshape(x, [...x.shape.slice(0, start), sizeOf(x.shape.slice(start))]));

/** true where a is false. */
export const logicalNot = named('logicalNot', (m: Tensor): Tensor => equal(astype(m, 'bool'), false));

/** bool [...labels.shape, n]: true where the last index equals the label. */
function hot(labels: Tensor, n: number): Tensor {
  const classes = reshape(arange(n, undefined, 1, 'int32', labels), [...labels.shape.map(() => 1), n]);
  return equal(expandDims(labels, -1), classes);
}

/** One-hot rows for int32 labels: [...labels.shape, n] of `dtype`; a label outside [0, n) gives a row of zeros. */
export const oneHot = named('oneHot', (labels: Tensor, n: number, dtype: 'float32' | 'float64' = 'float32'): Tensor => {
  if (labels.dtype !== 'int32') throw new OpError('oneHot', `labels must be int32, got ${labels.dtype}`);
  if (!Number.isInteger(n) || n < 0) throw new OpError('oneHot', `the number of classes must be a non-negative integer, got ${n}`);
  return astype(hot(labels, n), dtype);
});

/**
 * Mean cross-entropy of `logits` [..., C] against int32 `labels` [...] with values in [0, C).
 * The target's log-probability is picked with where, not a one-hot product, so a -inf logit of
 * another class (0 * -inf) cannot make it nan.
 */
export const crossEntropy = named('crossEntropy', (logits: Tensor, labels: Tensor): Tensor => {
  if (logits.rank < 1) throw new OpError('crossEntropy', `logits must be [..., classes], got ${fmt(logits.shape)}`);
  if (labels.dtype !== 'int32') throw new OpError('crossEntropy', `labels must be int32, got ${labels.dtype}`);
  const want = logits.shape.slice(0, -1), C = logits.shape[logits.rank - 1];
  if (!sameShape(labels.shape, want)) {
    throw new OpError('crossEntropy', `labels have shape ${fmt(labels.shape)}; logits ${fmt(logits.shape)} need labels of shape ${fmt(want)}`);
  }
  const picks = hot(labels, C), loss = neg(mean(sum(where(picks, logSoftmax(logits, -1), 0), -1)));
  // under vmap, every example's labels (the batch's value): a bad label in any example is an error
  let ls: TypedArray;
  try { ls = labels.concrete().dataSync(); } catch (e) {
    if (!(e instanceof ConcretizationError)) throw e;
    // under jit the labels have no value yet: a bad one makes the loss NaN (never a quiet 0 term)
    // (each label in range picks exactly one class)
    return where(equal(sum(astype(picks, 'int32')), labels.size), loss, NaN);
  }
  const bad = ls.findIndex((v) => v < 0 || v >= C);
  if (bad >= 0) throw new OpError('crossEntropy', `label ${ls[bad]} at position ${bad} is out of range for ${C} classes`);
  return loss;
});

/** Elementwise 1 / x. */
export const reciprocal = named('reciprocal', (x: TensorLike): Tensor => div(1, x));

/** Clip values into [lo, hi]. `clip(tensor([-2, 5]), 0, 1)` → [0, 1] */
export const clip = named('clip', (x: TensorLike, lo: number, hi: number): Tensor => minimum(maximum(x, lo), hi));
