/**
 * Per-channel CPU loops, shared by the BatchNorm primitives: a tensor's axes split into reduced ones
 * and kept ones (together, the channel). The loops (core/cpu/loops.ts) walk the tensor-sized arrays
 * in row-major order with the per-channel ones at stride 0 along the reduced axes: along a run over
 * reduced axes a channel's values are read once and its sums stay in registers. float32 tensors in
 * the usual layouts ([N, C, ...] over every axis but 1) run the same loops as WebAssembly SIMD
 * (core/cpu/channels.ts), several times faster.
 */
import type { Aval } from '../backend.js';
import type { TypedArray } from '../dtype.js';
import { fmt, OpError, sameShape, type Shape, sizeOf, stridesOf } from '../shape.js';
import { type Bound, boundCheck, coords, dot, lit } from '../gpu/shader.js';
import { loop, type LoopDef, reducePlan } from '../cpu/loops.js';
import { reduceLoop } from './sum.js';
import { gradSumsWasm, momentsWasm } from '../cpu/channels.js';

type Arrays = (TypedArray | Float64Array)[];

/**
 * A loop over tensors of `shape` by channel (the axes not in `axes`): its first `full` operands span
 * the tensor, the others have one value per channel.
 */
export function channelLoop(def: LoopDef, full: number): (shape: Shape, axes: readonly number[], arrays: Arrays) => void {
  const run = loop(def);
  return (shape, axes, arrays) => run(reducePlan(shape, axes, full, arrays.length - full), arrays);
}

const sums = reduceLoop('sum', 's += v');
const squares = channelLoop({ name: 'squared deviations', operands: ['x', 'm', 's+='], body: 'const d = x - m; s += d * d;' }, 1);

/**
 * Mean and biased variance per channel in float64, stacked [mean..., variance...]: the mean first, then
 * the squared deviations from it (two reading passes, no E[x^2] - E[x]^2 cancellation).
 */
export function channelMoments(x: TypedArray, shape: Shape, axes: readonly number[]): Float64Array {
  const fast = momentsWasm(x, shape, axes);
  if (fast) return fast;
  // m from the kept axes, not x.length / n: over no elements (n = 0) every channel's statistics are 0 / 0 = nan
  const n = axes.reduce((p, a) => p * shape[a], 1), m = shape.reduce((p, d, i) => (axes.includes(i) ? p : p * d), 1);
  const res = new Float64Array(2 * m), mean = res.subarray(0, m), variance = res.subarray(m);
  sums(x, shape, axes, mean);
  for (let o = 0; o < m; o++) mean[o] /= n;
  squares(shape, axes, [x, mean, variance]);
  for (let o = 0; o < m; o++) variance[o] /= n;
  return res;
}

/** A stacked pair [2, ...kept] as its two rows: the statistics' mean and biased variance, the sums' sum(g xhat) and sum(g). */
export const rows = (pair: TypedArray): [TypedArray, TypedArray] => [pair.subarray(0, pair.length / 2), pair.subarray(pair.length / 2)];

/** The flat index among the kept axes (the channel) of the element at coordinates c0.., as a shader expression. */
export function channelOf(shape: Shape, axes: readonly number[], prefix = 'c', first = 0): string {
  const kept = shape.map((_, d) => d).filter((d) => !axes.includes(d));
  const st = stridesOf(kept.map((d) => shape[d]));
  return dot(kept.map((d) => `${prefix}${d + first}`), st);
}

/**
 * Check that x is a float tensor, its per-channel parameters have the kept axes' shape and its dtype,
 * and its stacked per-channel pairs (statistics [mean, variance], sums [sum(g xhat), sum(g)]) are
 * [2, ...kept] of its dtype.
 */
export function checkChannels(op: string, x: Aval, params: Aval[], stacks: Aval[], axes: readonly number[]): void {
  if (x.dtype !== 'float32' && x.dtype !== 'float64') throw new OpError(op, `needs a float tensor, got ${x.dtype}`);
  const kept = x.shape.filter((_, i) => !axes.includes(i));
  for (const p of stacks) {
    if (p.dtype !== x.dtype || !sameShape(p.shape, [2, ...kept])) throw new OpError(op, `the statistics and sums must be pairs of shape ${fmt([2, ...kept])} ${x.dtype} (x ${fmt(x.shape)} over axes ${fmt(axes)}), got ${fmt(p.shape)} ${p.dtype}`);
  }
  for (const p of params) {
    if (p.dtype !== x.dtype) throw new OpError(op, `dtypes differ: ${x.dtype} and ${p.dtype}`);
    if (!sameShape(p.shape, kept)) throw new OpError(op, `per-channel parameters must have shape ${fmt(kept)} (x ${fmt(x.shape)} over axes ${fmt(axes)}), got ${fmt(p.shape)}`);
  }
}


/**
 * `h`, reluGrad(r, g) exactly (g where r > 0, else +0), without a branch on r's sign (a coin flip to
 * the branch predictor): g k - (k - 1) 0 is g (-0 kept) for k = 1 and +0 for k = 0; a nan or
 * infinite g, which that would make nan, takes the exact select. For the kernels jit hands a relu's
 * pullback to (the `mask` attr of batchNormParamGrad and batchNormGrad: core/jit.ts).
 */
export const MASKED = 'const k = +(r > 0); const h = g - g === 0 ? g * k - (k - 1) * 0 : (k ? g : 0);';
/** The same select in a shader (the GPU has no -0 to keep). */
export const maskedShader = (r: string, g: string) => `(${r} > 0.0 ? ${g} : 0.0)`;

const sums2 = channelLoop({ name: 'channel sums', operands: ['x', 'g', 'm', 'a+=', 'c+='], body: 'a += g; c += g * (x - m);' }, 2);
const sums2Masked = channelLoop({ name: 'channel sums masked', operands: ['x', 'g', 'r', 'm', 'a+=', 'c+='], body: `${MASKED} a += h; c += h * (x - m);` }, 3);

/**
 * Per channel, in float64 and in one pass over x and g: sum(g) and sum(g * (x - mean)); with `r`,
 * of reluGrad(r, g) in g's place.
 */
export function channelSums(x: TypedArray, g: TypedArray, mean: TypedArray, shape: Shape, axes: readonly number[], r?: TypedArray): { sg: Float64Array; sgx: Float64Array } {
  const fast = gradSumsWasm(x, g, r, mean, shape, axes);
  if (fast) return fast;
  const sg = new Float64Array(mean.length), sgx = new Float64Array(mean.length);
  if (r) sums2Masked(shape, axes, [x, g, r, mean, sg, sgx]);
  else sums2(shape, axes, [x, g, mean, sg, sgx]);
  return { sg, sgx };
}

/**
 * The same on the GPU, as batchNormParamGrad wants them: [2, ...kept], sum(g * (x - mean)) / sqrt(var +
 * eps), then sum(g), from X, G and M (the statistics, a moments output): each output element loops
 * over its channel's positions. `outer`: reduced axes a first pass keeps as partials
 * (splitReduction): out [2, ...shape without the rest], each partial already scaled, so that the
 * second pass only adds. `split`: where `shape` is x's split by splitReduction, x's strides on it,
 * and the bound past which a padded split's positions are skipped.
 */
export function channelSumsShader(shape: Shape, axes: readonly number[], eps: number, masked = false, outer: readonly number[] = [],
  { st = stridesOf(shape), bound }: { st?: readonly number[]; bound?: Bound } = {}): string {
  const inner = axes.filter((a) => !outer.includes(a));
  const out = shape.map((_, d) => d).filter((d) => !inner.includes(d));
  const chans = out.map((d, j) => [d, j] as const).filter(([d]) => !axes.includes(d));
  const at = (d: number) => (inner.includes(d) ? `k${inner.indexOf(d)}` : `c${out.indexOf(d) + 1}`);
  const g = masked ? maskedShader('R[i]', 'G[i]') : 'G[i]';
  const add = `if (c0 < 0.5) { s += ${g} * (X[i] - m); } else { s += ${g}; }`;
  return `function (X, G, M${masked ? ', R' : ''}) {
  ${coords([2, ...out.map((d) => shape[d])])}
  const o = ${dot(chans.map(([, j]) => `c${j + 1}`), stridesOf(chans.map(([d]) => shape[d])))};
  const m = M[o];
  const v = M[${lit(sizeOf(chans.map(([d]) => shape[d])))} + o];
  let s = 0.0;
  ${inner.map((a, j) => `for (let k${j} = 0; k${j} < ${shape[a]}; k${j}++) {`).join(' ')}
    const i = ${dot(shape.map((_, d) => at(d)), st)};
    ${bound ? `if (${boundCheck(bound, shape, at)}) { ${add} }` : add}
  ${'}'.repeat(inner.length)}
  if (c0 < 0.5) { return s / Math.sqrt(v + ${lit(eps)}); }
  return s;
}`;
}
