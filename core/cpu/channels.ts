/**
 * BatchNorm's per-channel loops as WebAssembly SIMD (the ch_ functions in wasm/gemm.wat), for float32
 * tensors whose kept (channel) axes are one block between reduced ones: x is then [B, C, S] runs,
 * S positions of one channel after another, as [N, C, H, W] and [N, C, T, H, W] are over every axis
 * but 1. A JavaScript loop spends 4-9 ns an element on these; the wasm ones well under 1, the
 * operands copied in and the result out. Elementwise results are the JavaScript loops' bit for bit
 * (../prims/_channels.ts): float64 arithmetic on widened values, one rounding on the store. Sums
 * add per-lane partial sums, an order of their own.
 * Each function takes x's shape and the reduced axes, and returns undefined (false), doing nothing,
 * where it does not serve: other dtypes and layouts, short runs (a call per run would cost more than
 * it saves), no wasm module.
 */
import type { TypedArray } from '../dtype.js';
import type { Shape } from '../shape.js';
import { wasmPlace as place } from './pool.js';

/** How many kernels ran here (for specs: a path they mean to check was taken). */
export const channelStats = { calls: 0 };

/** x as B rows of C channels of S positions each. */
interface Runs { readonly B: number; readonly C: number; readonly S: number }

/** Runs shorter than this stay in JavaScript. */
const MIN_RUN = 16;

/** `shape` reduced over `axes` as [B, C, S] runs, if the kept axes are contiguous and the runs long. */
function runsOf(shape: Shape, axes: readonly number[]): Runs | undefined {
  const kept = shape.map((_, d) => d).filter((d) => !axes.includes(d));
  if (!kept.length || kept[kept.length - 1] - kept[0] + 1 !== kept.length) return undefined;
  const prod = (from: number, to: number) => shape.slice(from, to).reduce((p, d) => p * d, 1);
  const B = prod(0, kept[0]), C = prod(kept[0], kept[kept.length - 1] + 1), S = prod(kept[kept.length - 1] + 1, shape.length);
  return S >= MIN_RUN && B * C > 0 ? { B, C, S } : undefined;
}

/** Mean and biased variance per channel, stacked [mean..., variance...] (as channelMoments). */
export function momentsWasm(x: TypedArray, shape: Shape, axes: readonly number[]): Float64Array | undefined {
  const runs = x instanceof Float32Array ? runsOf(shape, axes) : undefined;
  if (!runs) return undefined;
  const { B, C, S } = runs, p = place([x.byteLength, 16 * C]);
  if (!p) return undefined;
  const { h, at: [px, pm] } = p, n = B * S, m = pm / 8;
  h.f32.set(x, px / 4);
  h.f64.fill(0, m, m + 2 * C);
  channelStats.calls++;
  h.k.ch_sum(px, B, C, S, pm);
  for (let c = 0; c < C; c++) h.f64[m + c] /= n;
  h.k.ch_sqdev(px, B, C, S, pm, pm + 8 * C);
  for (let c = 0; c < C; c++) h.f64[m + C + c] /= n;
  return h.f64.slice(m, m + 2 * C);
}

/** Per channel sum(h) and sum(h (x - mean)), h = g or, given r, reluGrad(r, g) (as channelSums). */
export function gradSumsWasm(x: TypedArray, g: TypedArray, r: TypedArray | undefined, mean: ArrayLike<number>, shape: Shape, axes: readonly number[]): { sg: Float64Array; sgx: Float64Array } | undefined {
  const runs = x instanceof Float32Array ? runsOf(shape, axes) : undefined;
  if (!runs) return undefined;
  const { B, C, S } = runs, p = place([x.byteLength, g.byteLength, r?.byteLength ?? 0, 8 * C, 16 * C]);
  if (!p) return undefined;
  const { h, at: [px, pg, pr, pm, ps] } = p, s = ps / 8;
  h.f32.set(x, px / 4);
  h.f32.set(g, pg / 4);
  if (r) h.f32.set(r, pr / 4);
  h.f64.set(mean, pm / 8);
  h.f64.fill(0, s, s + 2 * C);
  channelStats.calls++;
  h.k.ch_gsums(px, pg, pr, r ? 1 : 0, B, C, S, pm, ps, ps + 8 * C);
  return { sg: h.f64.slice(s, s + C), sgx: h.f64.slice(s + C, s + 2 * C) };
}

/**
 * Into y: (x - mean) k1 + k2 per channel, then relu if asked (BatchNorm's forward); or, given g,
 * k1 (h - k2 - (x - mean) k3) with h = g or reluGrad(r, g) (its input cotangent). True if done.
 */
export function channelMapWasm(y: TypedArray, x: TypedArray, shape: Shape, axes: readonly number[],
  k: { mean: ArrayLike<number>; k1: ArrayLike<number>; k2: ArrayLike<number>; k3?: ArrayLike<number> }, opts: { relu?: boolean; g?: TypedArray; r?: TypedArray }): boolean {
  const runs = y instanceof Float32Array ? runsOf(shape, axes) : undefined;
  if (!runs) return false;
  const { B, C, S } = runs, { g, r } = opts;
  const p = place([x.byteLength, y.byteLength, g?.byteLength ?? 0, r?.byteLength ?? 0, 8 * C, 8 * C, 8 * C, 8 * C]);
  if (!p) return false;
  const { h, at: [px, py, pg, pr, pm, p1, p2, p3] } = p;
  h.f32.set(x, px / 4);
  if (g) h.f32.set(g, pg / 4);
  if (r) h.f32.set(r, pr / 4);
  h.f64.set(k.mean, pm / 8);
  h.f64.set(k.k1, p1 / 8);
  h.f64.set(k.k2, p2 / 8);
  if (k.k3) h.f64.set(k.k3, p3 / 8);
  channelStats.calls++;
  h.k.ch_map(px, pg, pr, py, g ? 0 : 1, (g ? r : opts.relu) ? 1 : 0, B, C, S, pm, p1, p2, p3);
  y.set(h.f32.subarray(py / 4, py / 4 + y.length));
  return true;
}
