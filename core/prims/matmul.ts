/**
 * matmul: batched matrix product with numpy broadcasting of the batch axes, and optional transposes
 * of either operand (free: the GEMM reads through strides). op(A) op(B), op = identity or transpose.
 * vjp: d op(A) = ct op(B)^T and d op(B) = op(A)^T ct, each again a matmul with transpose flags, then
 * summed over broadcast batch axes.
 */
import type { Kernel } from '../backend.js';
import { alloc, isFloat, type TypedArray } from '../dtype.js';
import { gemmBatched } from '../cpu/pool.js';
import { definePrimitive } from '../primitive.js';
import { broadcastShapes, broadcastStrides, fmt, OpError, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { unbroadcast } from './_unbroadcast.js';
import { astype } from './cast.js';
import { reshape } from './reshape.js';
import { promote } from '../dtype.js';
import { coords, dot, lit, names, readStrides, shader } from '../gpu/shader.js';

type Attrs = { transA: boolean; transB: boolean };

/** [M, K, N] of op(a) op(b), or an OpError. */
function dims(a: readonly number[], b: readonly number[], { transA, transB }: Attrs): [number, number, number] {
  const [ra, ca] = a.slice(-2), [rb, cb] = b.slice(-2);
  const [M, K] = transA ? [ca, ra] : [ra, ca];
  const [K2, N] = transB ? [cb, rb] : [rb, cb];
  if (K !== K2) {
    throw new OpError('matmul', `inner dimensions differ: ${fmt(a)}${transA ? 'ᵀ' : ''} @ ${fmt(b)}${transB ? 'ᵀ' : ''} (${K} vs ${K2})`);
  }
  return [M, K, N];
}

const cpu: Kernel<TypedArray, Attrs> = ([a, b], attrs, out) => {
  const [M, K, N] = dims(a.shape, b.shape, attrs);
  const batch = out.shape.slice(0, -2);
  const res = alloc(out.dtype, sizeOf(out.shape)) as Float32Array | Float64Array;
  const sa = broadcastStrides(a.shape.slice(0, -2), batch).map((s) => s * M * K);
  const sb = broadcastStrides(b.shape.slice(0, -2), batch).map((s) => s * K * N);
  const offsets: [number, number][] = [];
  const nb = sizeOf(batch), idx = new Array<number>(batch.length).fill(0);
  for (let i = 0; i < nb; i++) {
    offsets.push([idx.reduce((acc, v, d) => acc + v * sa[d], 0), idx.reduce((acc, v, d) => acc + v * sb[d], 0)]);
    for (let d = batch.length - 1; d >= 0 && ++idx[d] === batch[d]; d--) idx[d] = 0;
  }
  gemmBatched({
    A: a.buf as Float32Array | Float64Array, B: b.buf as Float32Array | Float64Array, C: res, M, N, K, offsets,
    ars: attrs.transA ? 1 : K, acs: attrs.transA ? M : 1,
    brs: attrs.transB ? 1 : N, bcs: attrs.transB ? K : 1,
  });
  return res;
};

/** One thread per output element: a dot product over K (the batch offsets broadcast). */
const gpu = shader<Attrs>(([a, b], attrs, out) => {
  const [M, K, N] = dims(a.shape, b.shape, attrs);
  const batch = out.shape.slice(0, -2), r = batch.length, c = names(r + 2);
  const sa = readStrides(a.shape.slice(0, -2), batch).map((s) => s * M * K);
  const sb = readStrides(b.shape.slice(0, -2), batch).map((s) => s * K * N);
  const [ars, acs] = attrs.transA ? [1, M] : [K, 1];
  const [brs, bcs] = attrs.transB ? [1, K] : [N, 1];
  return `function (A, B) {
  ${coords(out.shape)}
  const a0 = ${dot([...c.slice(0, r), c[r]], [...sa, ars])};
  const b0 = ${dot([...c.slice(0, r), c[r + 1]], [...sb, bcs])};
  let s = 0.0;
  for (let k = 0; k < ${K}; k++) {
    s += A[a0 + k * ${lit(acs)}] * B[b0 + k * ${lit(brs)}];
  }
  return s;
}`;
});

export const matmulP = definePrimitive<Attrs>({
  name: 'matmul',
  infer([a, b], attrs) {
    if (a.shape.length < 2 || b.shape.length < 2) throw new OpError('matmul', `needs rank >= 2 operands, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
    if (a.dtype !== b.dtype || !isFloat(a.dtype)) throw new OpError('matmul', `needs float operands of one dtype, got ${a.dtype} and ${b.dtype}`);
    const [M, , N] = dims(a.shape, b.shape, attrs);
    const batch = broadcastShapes('matmul (batch axes)', a.shape.slice(0, -2), b.shape.slice(0, -2));
    return { shape: [...batch, M, N], dtype: a.dtype };
  },
  vjp(ct, [a, b], _out, { transA, transB }, need) {
    const da = !need[0] ? null : transA ? matmulT(b, ct, transB, true) : matmulT(ct, b, false, !transB);
    const db = !need[1] ? null : transB ? matmulT(ct, a, true, transA) : matmulT(a, ct, !transA, false);
    return [da && unbroadcast(da, a.shape), db && unbroadcast(db, b.shape)];
  },
  kernels: { cpu, gpu },
});

/** op(a) @ op(b) where op transposes the last two axes when its flag is set. */
export const matmulT = (a: Tensor, b: Tensor, transA = false, transB = false): Tensor =>
  bind(matmulP, [a, b], { transA, transB });

/**
 * Matrix product as numpy's matmul: batch axes broadcast, a 1-D operand is a vector.
 * `matmul(ones([2, 3]), ones([3, 4]))` has shape [2, 4].
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.rank === 0 || b.rank === 0) throw new OpError('matmul', `scalars are not matrices (shapes ${fmt(a.shape)} and ${fmt(b.shape)}); use mul`);
  const dt = promote(a.dtype, b.dtype);
  const A = a.rank === 1 ? reshape(a, [1, a.shape[0]]) : a;
  const B = b.rank === 1 ? reshape(b, [b.shape[0], 1]) : b;
  let y = matmulT(astype(A, dt), astype(B, dt));
  if (b.rank === 1) y = reshape(y, y.shape.slice(0, -1)); // drop N = 1
  if (a.rank === 1) y = reshape(y, b.rank === 1 ? y.shape.slice(0, -1) : [...y.shape.slice(0, -2), ...y.shape.slice(-1)]); // drop M = 1
  return y;
}
