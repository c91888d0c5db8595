/**
 * fold (col2im): the adjoint of unfold. Columns [B, C * prod(kernel), L] are added back into an input
 * of spatial shape S at the positions unfold read them from (overlapping windows add up).
 * CPU: each (batch, channel) plane sums its runs of columns (im2colRuns) in float64, rounded once;
 * float32 as WebAssembly SIMD. GPU: each position gathers its terms.
 * vjp: unfold the cotangent.
 * batch: the vmap batch merges into the columns' own batch axis, as for unfold.
 */
import type { Aval, Kernel } from '../backend.js';
import { allocResult, type TypedArray } from '../dtype.js';
import { wasmPlace } from '../cpu/pool.js';
import { definePrimitive, type Primitive } from '../primitive.js';
import { fmt, OpError, sizeOf, type Shape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { mergeBatch } from '../batching.js';
import { im2colRuns, type Runs, unfold, type Window, windowOut } from './unfold.js';
import { coords, type GpuKernel, kernelKey, lit, stretches, walkable } from '../gpu/shader.js';

type Attrs = Window & { spatial: number[] };

const cpu: Kernel<TypedArray, Attrs> = ([cols], attrs, out) => {
  const [B, C] = out.shape, S = attrs.spatial;
  const outS = windowOut('fold', S, attrs);
  const plane = sizeOf(S), n = sizeOf(attrs.kernel) * sizeOf(outS);
  const runs = im2colRuns(S, outS, attrs), { dst, src, len, step } = runs;
  const res = allocResult(out.dtype, sizeOf(out.shape));
  if (res instanceof Float32Array && res.length && foldWasm(cols.buf as Float32Array, res, n, runs)) return res;
  const acc = new Float64Array(plane), X = cols.buf;
  for (let p = 0; p < B * C; p++) {
    acc.fill(0);
    const co = p * n;
    for (let r = 0; r < dst.length; r++) {
      const s0 = src[r], d0 = co + dst[r], m = len[r];
      for (let j = 0; j < m; j++) acc[s0 + j * step] += X[d0 + j];
    }
    res.set(acc, p * plane);
  }
  return res;
};

/**
 * The same sums as WebAssembly SIMD (fold_runs in ../cpu/wasm/gemm.wat), four terms at a time along
 * runs of stride 1, bit for bit the loop's. The loop takes 4-5 ns a column entry, wasm 1-2 with the
 * copies in and out (a (2+1)-D temporal fold of [16, 48, 2048]: 6.9 -> 1.6 ms). False, doing
 * nothing, without the wasm module.
 */
function foldWasm(x: Float32Array, y: Float32Array, n: number, { dst, src, len, step }: Runs): boolean {
  const P = x.length / n, S = y.length / P, R = dst.length;
  const p = wasmPlace([x.byteLength, 12 * R, 8 * S, y.byteLength]);
  if (!p) return false;
  const { h, at: [px, pr, pa, py] } = p;
  h.f32.set(x, px / 4);
  const table = new Int32Array(h.f32.buffer, pr, 3 * R);
  for (let r = 0; r < R; r++) { table[3 * r] = dst[r]; table[3 * r + 1] = src[r]; table[3 * r + 2] = len[r]; }
  foldStats.calls++;
  h.k.fold_runs(px, P, n, pr, R, step, pa, S, py);
  y.set(h.f32.subarray(py / 4, py / 4 + y.length));
  return true;
}

/** How many folds ran in wasm (for specs: the path they mean to check was taken). */
export const foldStats = { calls: 0 };

/**
 * Each input position gathers every column entry that unfold read from it: for each kernel offset k,
 * the output position o with o * stride - pad + k * dilation = position, when it exists. The offsets
 * along the first axis from `from` to `to`: a large kernel goes in stretches (a texel's four values
 * share an invocation's LOOP_STEPS), added up.
 */
function foldSource(attrs: Attrs, out: Aval, from: number, to: number): string {
  const S = attrs.spatial, D = S.length;
  const outS = windowOut('fold', S, attrs), L = sizeOf(outS), kp = sizeOf(attrs.kernel);
  const C = out.shape[1];
  const kStr = attrs.kernel.map((_, d) => sizeOf(attrs.kernel.slice(d + 1)));
  const lStr = outS.map((_, d) => sizeOf(outS.slice(d + 1)));
  const t = S.map((_, d) => `(c${d + 2} + ${lit(attrs.padding[d][0])} - k${d} * ${lit(attrs.dilation[d])})`);
  const o = S.map((_, d) => `Math.floor((${t[d]} + 0.5) / ${lit(attrs.stride[d])})`);
  const ok = S.map((_, d) => `${t[d]} >= 0.0 && ${t[d]} - ${o[d]} * ${lit(attrs.stride[d])} == 0.0 && ${o[d]} < ${lit(outS[d])}`).join(' && ');
  const open = attrs.kernel.map((k, d) => `for (let k${d} = ${d ? 0 : from}; k${d} < ${d ? k : to}; k${d}++) {`).join(' ');
  return `function (X) {
  ${coords(out.shape)}
  let s = 0.0;
  ${open}
    if (${ok}) {
      s += X[((c0 * ${lit(C)} + c1) * ${lit(kp)} + ${attrs.kernel.map((_, d) => `k${d} * ${lit(kStr[d])}`).join(' + ')}) * ${lit(L)} + ${o.map((e, d) => `${e} * ${lit(lStr[d])}`).join(' + ')}];
    }
  ${'}'.repeat(D)}
  return s;
}`;
}

const sources = new Map<string, string>();

const gpu: GpuKernel<Attrs> = (ctx, [cols], attrs, out) => {
  // the most first-axis offsets a stretch takes, four values a texel within LOOP_STEPS
  const most = walkable(4, attrs.kernel.slice(1));
  if (most < 1) throw new OpError('fold', `a kernel ${fmt(attrs.kernel)} has more offsets past its first axis than the gpu backend walks in a launch; use the cpu backend`);
  return stretches(ctx, attrs.kernel[0], most, sizeOf(out.shape), (from, to) => {
    const key = `${kernelKey([cols], attrs, out)}|${from}`;
    let src = sources.get(key);
    if (!src) sources.set(key, (src = foldSource(attrs, out, from, to)));
    return ctx.run(src, [cols.buf], sizeOf(out.shape));
  });
};

export const foldP: Primitive<Attrs> = definePrimitive<Attrs>({
  name: 'fold',
  infer([cols], attrs) {
    const kp = sizeOf(attrs.kernel), L = sizeOf(windowOut('fold', attrs.spatial, attrs));
    if (cols.shape.length !== 3 || cols.shape[1] % kp !== 0 || cols.shape[2] !== L) {
      throw new OpError('fold', `columns ${fmt(cols.shape)} do not match kernel ${fmt(attrs.kernel)} over ${fmt(attrs.spatial)} (expected [B, C*${kp}, ${L}])`);
    }
    return { shape: [cols.shape[0], cols.shape[1] / kp, ...attrs.spatial], dtype: cols.dtype };
  },
  vjp: (ct, _cols, _out, { spatial: _s, ...w }) => [unfold(ct, w)],
  batch: ([cols], [bd], attrs) => {
    const m = mergeBatch(cols, bd!);
    return m.split(bind(foldP, [m.merged], attrs));
  },
  kernels: { cpu, gpu },
});

/** Add columns back into an input of spatial shape `spatial` (the adjoint of unfold). */
export const fold = (cols: Tensor, spatial: Shape, w: Window): Tensor =>
  bind(foldP, [cols], { kernel: w.kernel, stride: w.stride, padding: w.padding, dilation: w.dilation, spatial: [...spatial] });
