/**
 * matmul: batched matrix product with numpy broadcasting of the batch axes, and optional transposes
 * of either operand (free: the GEMM reads through strides). op(A) op(B), op = identity or transpose.
 * vjp: d op(A) = ct op(B)^T and d op(B) = op(A)^T ct, each again a matmul with transpose flags, then
 * summed over broadcast batch axes.
 * batch: the vmap batch becomes one more leading batch axis of the product (the kernel broadcasts a
 * shared operand along it); a batch of operands against one plain matrix instead folds into the
 * rows (or, for a transposed right operand, the columns): one large GEMM rather than many small ones,
 * which is what per-example gradients of dense layers need.
 */
import type { GpuBuf, Kernel } from '../backend.js';
import { alloc, isFloat, type TypedArray } from '../dtype.js';
import { gemmBatched } from '../cpu/pool.js';
import { simdOuter } from '../cpu/simd.js';
import { definePrimitive, type Primitive } from '../primitive.js';
import { broadcastShapes, broadcastStrides, fmt, named, OpError, type Shape, sizeOf, stridesOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { moveAxis } from '../batching.js';
import { astype } from './cast.js';
import { reshape } from './reshape.js';
import { promote } from '../dtype.js';
import { env } from '../platform/platform.js';
import { coords, dot, floorDiv, type GpuContext, type GpuKernel, lit, names, readStrides, stretches, walkable } from '../gpu/shader.js';

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
  // contracted size 1: outer products, which WebAssembly SIMD writes four lanes at a time (both
  // operands are then contiguous vectors, transposed or not)
  if (K === 1 && res instanceof Float32Array && simdOuter(a.buf as Float32Array, b.buf as Float32Array, res, M, N, offsets)) return res;
  gemmBatched({
    A: a.buf as Float32Array | Float64Array, B: b.buf as Float32Array | Float64Array, C: res, M, N, K, offsets,
    ars: attrs.transA ? 1 : K, acs: attrs.transA ? M : 1,
    brs: attrs.transB ? 1 : N, bcs: attrs.transB ? K : 1,
  });
  return res;
};

/**
 * GPU matmul, by one of two routes. Small products (up to GPU_ONE_LAUNCH multiply-adds) are one
 * launch, `oneLaunch` below: a launch costs more than they do. Larger ones take `direct`:
 * texture fetches, not arithmetic, bound a software rasteriser (and many GPUs), so a
 * thread computes a 4x4 block of C from 4x4 blocks of A and B: 64 multiply-adds for every 8 texels
 * fetched (tfjs's WebGL matmul, 2x2 blocks, gets 8 from 2). A tensor is stored four values to a
 * texel (core/gpu/backend.ts), so a texel of A already holds 4 consecutive k of a row (or, if
 * transposed, 4 rows of a k) and one of B 4 columns of a k (or 4 k of a column): the operands are
 * read as stored, no packing pass. Each fetch finds its texel from a flat index (`flatTexel`).
 * The block's 4 rows go to 4 render targets, and a second launch gathers them into C's layout.
 * Sides that are not multiples of 4 are padded with zeros first; the gather cuts C back to its size.
 */
const gpu: GpuKernel<Attrs> = (ctx, [a, b], attrs, out) => {
  const [M, K, N] = dims(a.shape, b.shape, attrs);
  const batch = out.shape.slice(0, -2), nb = sizeOf(batch);
  // a sum over no terms: zeros, without reading empty operands (a shader cannot read a size-0 texture)
  if (K === 0 || nb * M * N === 0) return ctx.run('function () { return 0.0; }', [], nb * M * N);
  const limits = GPU_ONE_LAUNCH[ctx.software ? 'software' : 'hardware'];
  const small = nb * M * N * K <= (N % 4 === 0 ? limits.rowMacs : limits.scalarMacs);
  // (a thread walks K / 4 for a row of C, or K for each of its four values: within LOOP_STEPS)
  if (small && (N % 4 === 0 ? Math.ceil(K / 4) <= walkable(1) : K <= walkable(4))) return oneLaunch(ctx, a, b, attrs, batch, [M, K, N]);
  const pa = padded(ctx, a), pb = padded(ctx, b);
  const [Mp, Kp, Np] = [M, K, N].map(up4);
  const c = direct(ctx, pa, pb, attrs, batch, [Mp, Kp, Np], [M, N]);
  for (const [p, x] of [[pa, a], [pb, b]]) if (p !== x) ctx.release(p.buf);
  return c;
};

const up4 = (d: number) => Math.ceil(d / 4) * 4;

/**
 * Up to how many multiply-adds a product takes `oneLaunch` rather than `direct`'s two to four launches
 * (product, gather, pads): where C's rows are whole texels (N a multiple of 4), and where they are
 * not. On a GPU a launch costs about 0.1 ms of host time whatever it does (an H200's, through ANGLE),
 * and small products are most of a training step's. A renderer on the CPU is bound by fetches
 * instead, where the 4x4 blocks' fewer win sooner: there the one-launch kernel made a 128 x 256 x 256
 * product 15% slower and 128 x 256 x 10 3x (llvmpipe), a small MLP's training step 2.2x (SwiftShader).
 * (Specs size their cases by these, to take each route.) The hardware limits are a guess, not yet
 * timed on a GPU: AVID_GPU_ONE_LAUNCH_LOG2=n sets them to 2^n and 2^(n - 4), to compare on one.
 */
const tuned = Number(env('AVID_GPU_ONE_LAUNCH_LOG2') ?? 24);
if (!Number.isInteger(tuned) || tuned < 4 || tuned > 40) throw new Error(`AVID_GPU_ONE_LAUNCH_LOG2 must be a whole number from 4 to 40, got ${env('AVID_GPU_ONE_LAUNCH_LOG2')}`);
export const GPU_ONE_LAUNCH = Object.freeze({
  hardware: Object.freeze({ rowMacs: 2 ** tuned, scalarMacs: 2 ** (tuned - 4) }),
  software: Object.freeze({ rowMacs: 2 ** 18, scalarMacs: 2 ** 16 }),
});

/**
 * C in one launch: a thread computes one texel of C, four consecutive values, reading the operands
 * as stored (no pads, no gather). Where the four are 4 columns of one row (N a multiple of 4), each 4 k
 * take a texel of A's row (or 4 single reads, if transposed or K is not a multiple of 4) and B's 4 x 4
 * tile as 4 texels (or 16 single reads): 16 multiply-adds for 5 fetches. Otherwise each value is its
 * own dot product of single reads.
 */
function oneLaunch(ctx: GpuContext, a: { buf: GpuBuf; shape: Shape }, b: { buf: GpuBuf; shape: Shape }, attrs: Attrs, batch: Shape, dims: [number, number, number]): GpuBuf {
  const key = `${a.shape}|${b.shape}|${attrs.transA}|${attrs.transB}|${batch}`;
  let k = oneSources.get(key);
  if (!k) oneSources.set(key, (k = oneSource(a.shape, b.shape, attrs, batch, dims)));
  return ctx.run4(k.src, [a.buf, b.buf], k.n, k.glsl);
}

const oneSources = new Map<string, { src: string; glsl: string[]; n: number }>();

function oneSource(aShape: Shape, bShape: Shape, { transA, transB }: Attrs, batch: Shape, [M, K, N]: [number, number, number]) {
  const n = sizeOf(batch) * M * N;
  const sa = readStrides(aShape.slice(0, -2), batch).map((s) => s * M * K);
  const sb = readStrides(bShape.slice(0, -2), batch).map((s) => s * K * N);
  // strides of A's rows and k, B's k and columns
  const [aR, aK] = transA ? [1, M] : [K, 1], [bK, bC] = transB ? [1, K] : [N, 1];
  // texel t of X, and the texel holding flat element e (a multiple of 4)
  const fetch = (X: string, t: string) => `texture(user_${X}, flatTexel(${t}, float(user_${X}Size.x)) / vec2(user_${X}Size))`;
  const texel = (X: string, e: string) => fetch(X, `(${e}) * 0.25`);
  const one = (X: string) => `float one${X}(float e) {
  float t = floor(e * 0.25);
  vec4 v = ${fetch(X, 't')};
  float c = e - t * 4.0;
  return c < 0.5 ? v.x : c < 1.5 ? v.y : c < 2.5 ? v.z : v.w;
}`;
  // one GLSL source, headed by a prototype of the function the kernel calls: gpu.js names a native
  // function by its first line and does not order them by their calls to each other
  const withReads = (proto: string, body: string) => [`${proto};\n${one('A')}\n${one('B')}\n${body}`];
  // the flat index of C's first value of the texel, its batch z, row r and column c
  const place = (f: string, p: string) => `${floorDiv(`${p}z`, f, M * N, n)}
  const ${p}m = ${f} - ${p}z * ${lit(M * N)};
  ${floorDiv(`${p}r`, `${p}m`, N, M * N)}
  const ${p}c = ${p}m - ${p}r * ${lit(N)};
  ${batchOffset(batch, sa, `${p}z`, `${p}offA`)}
  ${batchOffset(batch, sb, `${p}z`, `${p}offB`)}`;
  if (N % 4 === 0) {
    const tail = K % 4 !== 0, q4 = [0, 1, 2, 3];
    // A's row r at k .. k + 3, and B's rows k .. k + 3 at columns c .. c + 3 (or its columns, transposed)
    const guard = (q: number, e: string, zero: string) => (tail ? `(k + ${lit(q)} < ${lit(K)} ? ${e} : ${zero})` : e);
    const av = !transA && !tail ? texel('A', `offA + r * ${lit(aR)} + k`)
      : `vec4(${q4.map((q) => guard(q, `oneA(offA + r * ${lit(aR)} + (k + ${lit(q)}) * ${lit(aK)})`, '0.0')).join(', ')})`;
    const bv = (i: number) => (!transB
      ? guard(i, texel('B', `offB + (k + ${lit(i)}) * ${lit(N)} + c`), 'vec4(0.0)')
      : !tail ? texel('B', `offB + (c + ${lit(i)}) * ${lit(K)} + k`)
        : `vec4(${q4.map((q) => guard(q, `oneB(offB + (c + ${lit(i)}) * ${lit(K)} + k + ${lit(q)})`, '0.0')).join(', ')})`);
    const proto = 'vec4 row4(float offA, float offB, float r, float c)';
    const glsl = withReads(proto, `${proto} {
  vec4 s = vec4(0.0);
  for (int k4 = 0; k4 < ${Math.ceil(K / 4)}; k4++) {
    float k = float(k4) * 4.0;
    vec4 a = ${av};
    ${q4.map((i) => `vec4 b${i} = ${bv(i)};`).join('\n    ')}
    s += ${transB ? 'vec4(dot(a, b0), dot(a, b1), dot(a, b2), dot(a, b3))' : 'mat4(b0, b1, b2, b3) * a'};
  }
  return s;
}`);
    return { src: `function (A, B) {
  const f = this.thread.x * 4.0;
  ${place('f', '')}
  const v = row4(offA, offB, r, c);
  return [v[0], v[1], v[2], v[3]];
}`, glsl, n };
  }
  const glsl = withReads('float dotK(float a, float b)', `float dotK(float a, float b) {
  float s = 0.0;
  for (int k = 0; k < ${K}; k++) s += oneA(a + float(k) * ${lit(aK)}) * oneB(b + float(k) * ${lit(bK)});
  return s;
}`);
  const lane = (l: number) => `let y${l} = 0.0;
  const f${l} = this.thread.x * 4.0 + ${lit(l)};
  if (f${l} < ${lit(n)}) {
    ${place(`f${l}`, `l${l}`).replace(/\n  /g, '\n    ')}
    y${l} = dotK(l${l}offA + l${l}r * ${lit(aR)}, l${l}offB + l${l}c * ${lit(bC)});
  }`;
  return { src: `function (A, B) {
  ${[0, 1, 2, 3].map(lane).join('\n  ')}
  return [y0, y1, y2, y3];
}`, glsl, n };
}

/** `x` with its last two sides padded with zeros to multiples of 4 (x itself if they are). */
function padded(ctx: GpuContext, x: { buf: GpuBuf; shape: Shape }): { buf: GpuBuf; shape: Shape } {
  const r = x.shape.length, [R, C] = x.shape.slice(-2);
  if (R % 4 === 0 && C % 4 === 0) return x;
  const shape = [...x.shape.slice(0, -2), up4(R), up4(C)];
  const buf = ctx.run(`function (X) {
  ${coords(shape)}
  return c${r - 2} < ${lit(R)} && c${r - 1} < ${lit(C)} ? X[${dot(names(r), stridesOf(x.shape))}] : 0.0;
}`, [x.buf], sizeOf(shape));
  return { buf, shape };
}

/**
 * The product of operands whose every side is a multiple of 4 (see `gpu` above), C cut to its true
 * rows and columns `cut`: two launches (three more for each further 4 x 65535 terms).
 */
function direct(ctx: GpuContext, a: { buf: GpuBuf; shape: Shape }, b: { buf: GpuBuf; shape: Shape }, attrs: Attrs, batch: Shape, dims: number[], cut: number[]): GpuBuf {
  // a walk over k (in fours) past LOOP_STEPS goes in stretches
  return stretches(ctx, dims[1] / 4, walkable(1), sizeOf(batch) * cut[0] * cut[1], (from, to) => {
    const range = [4 * from, 4 * to];
    const key = `${a.shape}|${b.shape}|${attrs.transA}|${attrs.transB}|${batch}|${dims}|${cut}|${range}|${ctx.maxTextureSize}`;
    let k = directSources.get(key);
    if (!k) directSources.set(key, (k = directSource(ctx, a.shape, b.shape, attrs, batch, dims, cut, range)));
    const rows = ctx.runTargets(k.product, [a.buf, b.buf], k.size, 4, k.mm);
    const c = k.whole ? ctx.run4(k.gather, rows, k.n, k.rowC) : ctx.run(k.gather, rows, k.n, k.rowC);
    for (const r of rows) ctx.release(r);
    return c;
  });
}

/** direct's shaders by shapes and attrs: made once, so that a launch neither writes nor hashes them anew. */
const directSources = new Map<string, { product: string; mm: string[]; size: [number, number]; gather: string; rowC: string[]; n: number; whole: boolean }>();

function directSource(ctx: GpuContext, aShape: Shape, bShape: Shape, { transA, transB }: Attrs, batch: Shape, [M, K, N]: number[], [Mc, Nc]: number[], [k0, k1]: number[]) {
  const nb = sizeOf(batch);
  const sa = readStrides(aShape.slice(0, -2), batch).map((s) => s * M * K);
  const sb = readStrides(bShape.slice(0, -2), batch).map((s) => s * K * N);
  const G = layout(ctx, nb * M / 4, N / 4);
  const at = (X: string, e: string) => `texture(user_${X}, flatTexel((${e}) * 0.25, float(user_${X}Size.x)) / vec2(user_${X}Size))`;
  // the 4 fetched vectors of each operand for the k block at k: A's as rows x0..x3 of the block or
  // (transposed) its columns, B's as the columns of a matrix Bm (GLSL's mat4 takes columns)
  const fa = [0, 1, 2, 3].map((i) => `vec4 a${i} = ${at('A', transA ? `offA + (k + ${lit(i)}) * ${lit(M)} + r0` : `offA + (r0 + ${lit(i)}) * ${lit(K)} + k`)};`);
  const fb = [0, 1, 2, 3].map((i) => `vec4 b${i} = ${at('B', transB ? `offB + (c0 + ${lit(i)}) * ${lit(K)} + k` : `offB + (k + ${lit(i)}) * ${lit(N)} + c0`)};`);
  // row i of A's block (over k) and the product's row i: Bm * x (B's rows k as columns) or x * Bm (Bᵀ's)
  const row = (i: number) => (transA ? `vec4(a0[${i}], a1[${i}], a2[${i}], a3[${i}])` : `a${i}`);
  const acc = (i: number) => `s${i} += ${transB ? `${row(i)} * Bm` : `Bm * ${row(i)}`};`;
  const glsl = [`vec4 mm(float offA, float offB, float r0, float c0) {
  vec4 s0 = vec4(0.0), s1 = vec4(0.0), s2 = vec4(0.0), s3 = vec4(0.0);
  for (int k4 = 0; k4 < ${(k1 - k0) / 4}; k4++) {
    float k = ${lit(k0)} + float(k4) * 4.0;
    ${fa.join('\n    ')}
    ${fb.join('\n    ')}
    mat4 Bm = mat4(b0, b1, b2, b3);
    ${[0, 1, 2, 3].map(acc).join('\n    ')}
  }
  target1 = s1;
  target2 = s2;
  target3 = s3;
  return s0;
}`];
  const product = `function (A, B) {
  ${G.thread('t', 'j')}
  const z = Math.floor((t + 0.5) / ${lit(M / 4)});
  ${batchOffset(batch, sa, 'z', 'offA')}
  ${batchOffset(batch, sb, 'z', 'offB')}
  const c = mm(offA, offB, (t - z * ${lit(M / 4)}) * 4.0, j * 4.0);
  return [c[0], c[1], c[2], c[3]];
}`;
  // texel i of C is row r = 4 i / N, columns from c = 4 i - r N: target r mod 4, at (c / 4, r / 4)
  const whole = Mc === M && Nc === N;
  const gather = whole ? `function (R0, R1, R2, R3) {
  const i = this.thread.x;
  const r = Math.floor((i + 0.5) / ${lit(N / 4)});
  const v = rowC(Math.floor((r + 0.5) / 4.0), i - r * ${lit(N / 4)}, r - Math.floor((r + 0.5) / 4.0) * 4.0);
  return [v[0], v[1], v[2], v[3]];
}` : `function (R0, R1, R2, R3) {
  const i = this.thread.x;
  ${floorDiv('z', 'i', Mc * Nc, nb * Mc * Nc)}
  const m = i - z * ${lit(Mc * Nc)};
  ${floorDiv('r', 'm', Nc, Mc * Nc)}
  const c = m - r * ${lit(Nc)};
  const t = Math.floor((r + 0.5) / 4.0), j = Math.floor((c + 0.5) / 4.0);
  const v = rowC(z * ${lit(M / 4)} + t, j, r - t * 4.0);
  const l = c - j * 4.0;
  if (l < 0.5) { return v[0]; }
  if (l < 1.5) { return v[1]; }
  if (l < 2.5) { return v[2]; }
  return v[3];
}`;
  const rowC = [`vec4 rowC(float t, float j, float q) {
  vec2 at = ${G.at('t', 'j')} / vec2(user_R0Size);
  if (q < 0.5) return texture(user_R0, at);
  if (q < 1.5) return texture(user_R1, at);
  if (q < 2.5) return texture(user_R2, at);
  return texture(user_R3, at);
}`];
  return { product, mm: glsl, size: G.size, gather, rowC, n: nb * Mc * Nc, whole };
}

/**
 * Where a rows x cols grid of texels (the product's 4x4 blocks) lies in a texture: row r is texture
 * row r, so texel (r, c) is at (c, r). A grid with more rows or columns than a texture may have is
 * laid out flat instead, row after row across a texture `w` wide, and each texel's place is found by
 * a division (`flatTexel`, core/gpu/reads.ts). `thread(r, c)` names the texel a kernel over the
 * layout writes, `at(r, c)` is GLSL for its texture coordinates (in texels, at the centre). Threads
 * past the last texel compute values nothing reads.
 */
interface Layout { size: [number, number]; thread(r: string, c: string): string; at(r: string, c: string): string }
function layout(ctx: GpuContext, rows: number, cols: number): Layout {
  const max = ctx.maxTextureSize;
  // at least two rows: gpu.js lays out a one-row grid as a square
  if (rows <= max && cols <= max) {
    return { size: [cols, Math.max(rows, 2)], thread: (r, c) => `const ${r} = this.thread.y, ${c} = this.thread.x;`, at: (r, c) => `vec2(${c} + 0.5, ${r} + 0.5)` };
  }
  const w = Math.min(max, Math.ceil(rows * cols / 2)), h = Math.ceil(rows * cols / w);
  if (h > max) throw new OpError('matmul', `${rows} x ${cols} texels (four values each) do not fit a ${max} x ${max} texture on this GPU; use the cpu backend`);
  return {
    size: [w, h],
    thread: (r, c) => `const l_ = this.thread.y * ${lit(w)} + this.thread.x;
  let ${r} = Math.floor((l_ + 0.5) / ${lit(cols)}), ${c} = l_ - ${r} * ${lit(cols)};
  if (${c} < 0.0) { ${r} -= 1.0; ${c} += ${lit(cols)}; }
  if (${c} >= ${lit(cols)}) { ${r} += 1.0; ${c} -= ${lit(cols)}; }`,
    at: (r, c) => `flatTexel((${r}) * ${lit(cols)} + (${c}), ${lit(w)})`,
  };
}

/** Statements that set `off`, the flat offset of batch `z` in an operand with batch strides `st`. */
function batchOffset(batch: readonly number[], st: readonly number[], z: string, off: string): string {
  const lines = [`let ${off}r = ${z};`, `let ${off} = 0.0;`];
  for (let d = batch.length - 1; d >= 0; d--) {
    lines.push(`const ${off}q${d} = Math.floor((${off}r + 0.5) / ${lit(batch[d])});`, `${off} += (${off}r - ${off}q${d} * ${lit(batch[d])}) * ${lit(st[d])};`, `${off}r = ${off}q${d};`);
  }
  return lines.join('\n    ');
}

export const matmulP: Primitive<Attrs> = definePrimitive<Attrs>({
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
    return [da, db];
  },
  batch([a, b], [ba, bb], attrs, out, size) {
    if (bb === null && b.rank === 2 && !attrs.transA) { // [size, ..., M, K] @ [K, N]: rows
      const a0 = moveAxis(a, ba!, 0), rows = sizeOf(a0.shape.slice(0, -1));
      const y = bind(matmulP, [reshape(a0, [rows, a0.shape[a0.rank - 1]]), b], attrs);
      return [reshape(y, [size, ...out.shape]), 0];
    }
    if (ba === null && a.rank === 2 && b.rank === 3 && attrs.transB) { // [M, K] @ [size, N, K]ᵀ: columns
      const b0 = moveAxis(b, bb!, 0);
      const y = bind(matmulP, [a, reshape(b0, [size * b0.shape[1], b0.shape[2]])], attrs);
      return [reshape(y, [out.shape[0], size, out.shape[1]]), 1];
    }
    // the batch first, after it 1s up to the output's batch rank, so a shared operand broadcasts
    const lift = (x: Tensor, bd: number | null) => {
      if (bd === null) return x;
      const f = moveAxis(x, bd, 0);
      return reshape(f, [size, ...new Array<number>(out.shape.length - (f.rank - 1)).fill(1), ...f.shape.slice(1)]);
    };
    return [bind(matmulP, [lift(a, ba), lift(b, bb)], attrs), 0];
  },
  kernels: { cpu, gpu },
});

/**
 * op(a) @ op(b) where op transposes the last two axes when its flag is set. A transpose over a
 * contracted axis of size 1 is a reshape, and is done so: the GEMM then reads rows (outer products,
 * as in the vjp of a vector times a matrix: per-example gradients [128, 784] x [128, 128] by vmap
 * took 130 ms of CPU time transposed, 76 ms reshaped). `matmulT(ones([3, 2]), ones([3, 4]), true)` has shape [2, 4]
 */
export const matmulT = named('matmulT', (a: Tensor, b: Tensor, transA = false, transB = false): Tensor => {
  if (transA && a.rank >= 2 && a.shape[a.rank - 2] === 1) [a, transA] = [reshape(a, [...a.shape.slice(0, -2), a.shape[a.rank - 1], 1]), false];
  if (transB && b.rank >= 2 && b.shape[b.rank - 1] === 1) [b, transB] = [reshape(b, [...b.shape.slice(0, -2), 1, b.shape[b.rank - 2]]), false];
  return bind(matmulP, [a, b], { transA, transB });
});

/**
 * Matrix product as numpy's matmul: batch axes broadcast, a 1-D operand is a vector.
 * `matmul(ones([2, 3]), ones([3, 4]))` has shape [2, 4].
 */
export const matmul = named('matmul', (a: Tensor, b: Tensor): Tensor => {
  if (a.rank === 0 || b.rank === 0) throw new OpError('matmul', `scalars are not matrices (shapes ${fmt(a.shape)} and ${fmt(b.shape)}); use mul`);
  const dt = promote(a.dtype, b.dtype);
  const A = a.rank === 1 ? reshape(a, [1, a.shape[0]]) : a;
  const B = b.rank === 1 ? reshape(b, [b.shape[0], 1]) : b;
  let y = matmulT(astype(A, dt), astype(B, dt));
  if (b.rank === 1) y = reshape(y, y.shape.slice(0, -1)); // drop N = 1
  if (a.rank === 1) y = reshape(y, b.rank === 1 ? y.shape.slice(0, -1) : [...y.shape.slice(0, -2), ...y.shape.slice(-1)]); // drop M = 1
  return y;
});

/** The GPU kernel itself, for conv2d's (./conv2d.ts). */
export { gpu as matmulGpu };
