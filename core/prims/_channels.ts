/**
 * Per-channel CPU loops, shared by the BatchNorm primitives: a tensor's axes split into reduced ones
 * and kept ones (together, the channel), collapsed as in sum.ts, and walked once in row-major order,
 * run by run along the last collapsed axis, with `o` the flat index of the current element's channel
 * and `i` its own. Along a run the channel is constant when the last axis is reduced (per-channel
 * values are read once, sums stay in registers), and steps by one when it is kept.
 *
 * A loop is `pre` (statements on entering a channel: read its values, open accumulators), `body`
 * (per element) and `post` (store accumulators). Compiled once per loop and per combination of array
 * kinds, each copy with its own source text (see perDtype in _elementwise.ts). The first array must
 * span the whole tensor; the loop's own names (shape, ost, n, r, last, lo, idx, base, k, j, d, i, o)
 * must not be used for arrays or in `pre`.
 */
import type { TypedArray } from '../dtype.js';
import { fmt, OpError, sameShape, type Shape, stridesOf } from '../shape.js';
import { coords, dot, lit } from '../gpu/shader.js';
import { collapseReduced, reducedStrides } from './sum.js';

const SRC = `
  const r = shape.length, last = shape[r - 1], lo = ost[r - 1];
  const idx = new Int32Array(r);
  let base = 0;
  for (let k = 0; k < n; k += last) {
    if (lo === 0) { const o = base; PRE for (let i = k; i < k + last; i++) { BODY } POST }
    else { for (let j = 0; j < last; j++) { const o = base + j, i = k + j; PRE BODY POST } }
    for (let d = r - 2; d >= 0; d--) {
      idx[d]++; base += ost[d];
      if (idx[d] < shape[d]) break;
      base -= ost[d] * shape[d]; idx[d] = 0;
    }
  }`;

type Arrays = (TypedArray | Float64Array)[];

/** A loop over tensors of `shape` by channel (the axes not in `axes`); `args` name the arrays it is given. */
export function channelLoop(name: string, args: string[], pre: string, body: string, post = ''):
  (shape: Shape, axes: readonly number[], arrays: Arrays) => void {
  const src = SRC.split('PRE').join(pre).split('BODY').join(body).split('POST').join(post);
  const loops = new Map<string, (...a: unknown[]) => void>();
  return (shape, axes, arrays) => {
    const n = arrays[0].length;
    if (n === 0) return;
    const kinds = arrays.map((a) => a.constructor.name).join(' ');
    let loop = loops.get(kinds);
    if (!loop) {
      loop = new Function('shape', 'ost', 'n', ...args, `/* ${name} ${kinds} */${src}`) as (...a: unknown[]) => void;
      loops.set(kinds, loop);
    }
    const c = collapseReduced(shape, axes);
    loop(c.shape, reducedStrides(c.shape, c.axes), n, ...arrays);
  };
}

const sums = channelLoop('sum', ['x', 'acc'], 'let s = acc[o];', 's += x[i];', 'acc[o] = s;');
const squares = channelLoop('squared deviations', ['x', 'mean', 'acc'], 'const m = mean[o]; let s = acc[o];', 'const d = x[i] - m; s += d * d;', 'acc[o] = s;');

type Moments = { mean: Float64Array; variance: Float64Array };

/**
 * The statistics last computed for each buffer, by the collapsed shape and axes they were taken over.
 * Tensors are immutable, so a buffer's statistics never change, and a BatchNorm asks for the same
 * ones four times (forward, running averages, both gradients); held weakly, they go with the buffer.
 */
const memo = new WeakMap<TypedArray, { key: string; moments: Moments }>();

/**
 * Mean and biased variance per channel in float64: the mean first, then the squared deviations from
 * it (two reading passes, no E[x^2] - E[x]^2 cancellation). Callers must not write to the result.
 */
export function channelMoments(x: TypedArray, shape: Shape, axes: readonly number[]): Moments {
  const c = collapseReduced(shape, axes), key = `${c.shape} / ${c.axes}`;
  const hit = memo.get(x);
  if (hit && hit.key === key) return hit.moments;
  // m from the kept axes, not x.length / n: over no elements (n = 0) every channel's statistics are 0 / 0 = nan
  const n = axes.reduce((p, a) => p * shape[a], 1), m = shape.reduce((p, d, i) => (axes.includes(i) ? p : p * d), 1);
  const mean = new Float64Array(m), variance = new Float64Array(m);
  sums(shape, axes, [x, mean]);
  for (let o = 0; o < m; o++) mean[o] /= n;
  squares(shape, axes, [x, mean, variance]);
  for (let o = 0; o < m; o++) variance[o] /= n;
  memo.set(x, { key, moments: { mean, variance } });
  return { mean, variance };
}

/** The flat index among the kept axes (the channel) of the element at coordinates c0.., as a shader expression. */
export function channelOf(shape: Shape, axes: readonly number[], prefix = 'c', first = 0): string {
  const kept = shape.map((_, d) => d).filter((d) => !axes.includes(d));
  const st = stridesOf(kept.map((d) => shape[d]));
  return dot(kept.map((d) => `${prefix}${d + first}`), st);
}

/** Check that x is a float tensor and its per-channel parameters have the kept axes' shape and its dtype. */
export function checkChannels(op: string, x: { shape: Shape; dtype: string }, params: { shape: Shape; dtype: string }[], axes: readonly number[]): void {
  if (x.dtype !== 'float32' && x.dtype !== 'float64') throw new OpError(op, `needs a float tensor, got ${x.dtype}`);
  const kept = x.shape.filter((_, i) => !axes.includes(i));
  for (const p of params) {
    if (p.dtype !== x.dtype) throw new OpError(op, `dtypes differ: ${x.dtype} and ${p.dtype}`);
    if (!sameShape(p.shape, kept)) throw new OpError(op, `per-channel parameters must have shape ${fmt(kept)} (x ${fmt(x.shape)} over axes ${fmt(axes)}), got ${fmt(p.shape)}`);
  }
}


const sums2 = channelLoop('channel sums', ['x', 'g', 'mean', 'sg', 'sgx'],
  'const m = mean[o]; let a = sg[o], c = sgx[o];', 'const v = g[i]; a += v; c += v * (x[i] - m);', 'sg[o] = a; sgx[o] = c;');

/** Per channel, in float64 and in one pass over x and g: sum(g) and sum(g * (x - mean)). */
export function channelSums(x: TypedArray, g: TypedArray, mean: Float64Array, shape: Shape, axes: readonly number[]): { sg: Float64Array; sgx: Float64Array } {
  const sg = new Float64Array(mean.length), sgx = new Float64Array(mean.length);
  sums2(shape, axes, [x, g, mean, sg, sgx]);
  return { sg, sgx };
}

/**
 * The same on the GPU, as [2, ...kept] (sum(g), then sum(g * (x - mean))), from X, G and M (the
 * moments shader's output): each output element loops over its channel's positions.
 */
export function channelSumsShader(shape: Shape, axes: readonly number[]): string {
  const st = stridesOf(shape), kept = shape.map((_, d) => d).filter((d) => !axes.includes(d));
  const at = [dot(kept.map((_, j) => `c${j + 1}`), kept.map((d) => st[d])), ...axes.map((a, j) => `k${j} * ${lit(st[a])}`)].join(' + ');
  return `function (X, G, M) {
  ${coords([2, ...kept.map((d) => shape[d])])}
  const o = ${dot(kept.map((_, j) => `c${j + 1}`), stridesOf(kept.map((d) => shape[d])))};
  const m = M[o];
  let s = 0.0;
  ${axes.map((a, j) => `for (let k${j} = 0; k${j} < ${shape[a]}; k${j}++) {`).join(' ')}
    const i = ${at};
    if (c0 < 0.5) { s += G[i]; } else { s += G[i] * (X[i] - m); }
  ${'}'.repeat(axes.length)}
  return s;
}`;
}
