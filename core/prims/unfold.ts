/**
 * unfold (im2col): every window of an N-D input laid out as a column, so that a convolution becomes
 * one matrix product. x [B, C, ...S] -> [B, C * prod(kernel), prod(outS)], row (c, k) holding, for each
 * output position o, x[c, o * stride - padLo + k * dilation] (or `padValue` outside the input).
 * It is linear in x; its vjp is fold (col2im), its adjoint, and fold's vjp is unfold again.
 * batch: the vmap batch merges into x's own batch axis (mergeBatch: no copy when it is next to it).
 */
import type { Kernel } from '../backend.js';
import { alloc, castScalar, type TypedArray } from '../dtype.js';
import { definePrimitive, type Primitive } from '../primitive.js';
import { fmt, OpError, sizeOf, type Shape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { mergeBatch } from '../batching.js';
import { fold } from './fold.js';
import { coords, floorDiv, lit, shader } from '../gpu/shader.js';

/** Window geometry shared by unfold and fold. `padding` is [before, after] per spatial axis. */
export interface Window {
  kernel: number[];
  stride: number[];
  padding: [number, number][];
  dilation: number[];
}

/** Output spatial extent of a window sliding over `spatial`, or an OpError naming `op`. */
export function windowOut(op: string, spatial: Shape, w: Window): number[] {
  return spatial.map((s, d) => {
    const span = (w.kernel[d] - 1) * w.dilation[d] + 1;
    const o = Math.floor((s + w.padding[d][0] + w.padding[d][1] - span) / w.stride[d]) + 1;
    if (o < 1) throw new OpError(op, `window ${fmt(w.kernel)} (dilation ${fmt(w.dilation)}) does not fit input ${fmt(spatial)} with padding ${JSON.stringify(w.padding)}`);
    return o;
  });
}

/** One plane's im2col map as runs (im2colRuns). */
export interface Runs { readonly dst: Int32Array; readonly src: Int32Array; readonly len: Int32Array; readonly step: number }

/**
 * The im2col map of one (batch, channel) plane as runs, shared by unfold and fold: for each kernel
 * offset and each row of output positions (every axis but the last), the stretch of the row whose
 * input lies inside the plane: cols[dst + j] = x[src + j * step] for j < len. Everything outside
 * the runs reads padding. Computed once per call, it makes the per-plane loops branch-free.
 */
export function im2colRuns(spatial: Shape, outS: Shape, w: Window): Runs {
  const D = spatial.length, L = sizeOf(outS), Kp = sizeOf(w.kernel), last = D - 1;
  const OW = outS[last], S = spatial[last], step = w.stride[last], p0 = w.padding[last][0], dl = w.dilation[last];
  const inStr = new Array<number>(D);
  for (let d = D - 1, acc = 1; d >= 0; d--) { inStr[d] = acc; acc *= spatial[d]; }
  const dst: number[] = [], src: number[] = [], len: number[] = [];
  const k = new Array<number>(D).fill(0), o = new Array<number>(D).fill(0);
  for (let kk = 0; kk < Kp; kk++) {
    for (let d = last, r = kk; d >= 0; d--) { k[d] = r % w.kernel[d]; r = Math.floor(r / w.kernel[d]); }
    // along the last axis the input index is ow * step + off; keep the ow with 0 <= index < S
    const off = k[last] * dl - p0;
    const lo = Math.max(0, Math.ceil(-off / step)), hi = Math.min(OW, Math.floor((S - 1 - off) / step) + 1);
    o.fill(0);
    for (let l = 0; l < L; l += OW) {
      let base = 0;
      for (let d = 0; d < last; d++) {
        const i = o[d] * w.stride[d] - w.padding[d][0] + k[d] * w.dilation[d];
        if (i < 0 || i >= spatial[d]) { base = -1; break; }
        base += i * inStr[d];
      }
      if (base >= 0 && hi > lo) { dst.push(kk * L + l + lo); src.push(base + lo * step + off); len.push(hi - lo); }
      for (let d = last - 1; d >= 0; d--) { if (++o[d] < outS[d]) break; o[d] = 0; }
    }
  }
  return { dst: Int32Array.from(dst), src: Int32Array.from(src), len: Int32Array.from(len), step };
}

type Attrs = Window & { padValue: number };

/**
 * With unit stride along the last axis, runs that continue each other in both the input and the
 * columns (a window row sliding off one image row onto the next, as in stride-1 'same' convolutions)
 * merge into one block: copied with TypedArray.set, a memcpy several times faster than a JS loop,
 * after which the few column entries between the merged runs (padding) are written again. Blocks
 * are [dst, src, len] triples; gaps [at, len] pairs, both relative to one plane.
 */
export function mergeRuns({ dst, src, len }: { dst: Int32Array; src: Int32Array; len: Int32Array }): { blocks: Int32Array; gaps: Int32Array } {
  const blocks: number[] = [], gaps: number[] = [];
  for (let r = 0; r < dst.length; r++) {
    const b = blocks.length - 3;
    if (b >= 0 && dst[r] - blocks[b] === src[r] - blocks[b + 1] && dst[r] >= blocks[b] + blocks[b + 2]) {
      const end = blocks[b] + blocks[b + 2];
      if (dst[r] > end) gaps.push(end, dst[r] - end);
      blocks[b + 2] = dst[r] + len[r] - blocks[b];
    } else {
      blocks.push(dst[r], src[r], len[r]);
    }
  }
  return { blocks: Int32Array.from(blocks), gaps: Int32Array.from(gaps) };
}

/** Blocks shorter than this are copied by a loop: a subarray costs about as much as that. */
const SET_MIN = 64;

const cpu: Kernel<TypedArray, Attrs> = ([x], attrs, out) => {
  const [B, C, ...S] = x.shape;
  const outS = windowOut('unfold', S, attrs);
  const plane = sizeOf(S), cols = sizeOf(attrs.kernel) * sizeOf(outS), pad = attrs.padValue;
  const res = alloc(out.dtype, sizeOf(out.shape)), X = x.buf;
  if (pad !== 0) res.fill(pad);
  const runs = im2colRuns(S, outS, attrs), step = runs.step;
  if (step === 1) {
    const { blocks, gaps } = mergeRuns(runs);
    for (let p = 0; p < B * C; p++) {
      const xo = p * plane, ro = p * cols;
      for (let b = 0; b < blocks.length; b += 3) {
        const d0 = ro + blocks[b], s0 = xo + blocks[b + 1], n = blocks[b + 2];
        if (n >= SET_MIN) res.set(X.subarray(s0, s0 + n), d0);
        else for (let j = 0; j < n; j++) res[d0 + j] = X[s0 + j];
      }
      for (let g = 0; g < gaps.length; g += 2) {
        const d0 = ro + gaps[g], n = gaps[g + 1];
        for (let j = 0; j < n; j++) res[d0 + j] = pad;
      }
    }
    return res;
  }
  const { dst, src, len } = runs;
  for (let p = 0; p < B * C; p++) {
    const xo = p * plane, ro = p * cols;
    for (let r = 0; r < dst.length; r++) {
      const s0 = xo + src[r], d0 = ro + dst[r], n = len[r];
      for (let j = 0; j < n; j++) res[d0 + j] = X[s0 + j * step];
    }
  }
  return res;
};

/** Split `v` (a flat index over `shape`) into coordinate names `${p}0..`: shader statements. */
function split(v: string, shape: readonly number[], p: string): string {
  const lines = [`let ${p}r = ${v};`];
  for (let d = shape.length - 1; d >= 0; d--) {
    if (d === 0) { lines.push(`const ${p}${d} = ${p}r;`); continue; }
    lines.push(floorDiv(`${p}q${d}`, `${p}r`, shape[d], sizeOf(shape)), `const ${p}${d} = ${p}r - ${p}q${d} * ${lit(shape[d])};`, `${p}r = ${p}q${d};`);
  }
  return lines.join('\n  ');
}

/** Each output element reads one input value: its (channel, kernel offset) row and output position. */
const gpu = shader<Attrs>(([x], attrs, out) => {
  const [, C, ...S] = x.shape, D = S.length;
  const kp = sizeOf(attrs.kernel), outS = windowOut('unfold', S, attrs), L = sizeOf(outS);
  const q = S.map((_, d) => `(o${d} * ${lit(attrs.stride[d])} - ${lit(attrs.padding[d][0])} + k${d} * ${lit(attrs.dilation[d])})`);
  const inside = q.map((e, d) => `${e} >= 0.0 && ${e} < ${lit(S[d])}`).join(' && ');
  const inStr = S.map((_, d) => sizeOf(S.slice(d + 1)));
  return `function (X) {
  ${coords(out.shape)}
  const ch = Math.floor((c1 + 0.5) / ${lit(kp)});
  ${split(`c1 - ch * ${lit(kp)}`, attrs.kernel, 'k')}
  ${split('c2', outS, 'o')}
  if (${inside}) { return X[(c0 * ${lit(C)} + ch) * ${lit(sizeOf(S))} + ${q.map((e, d) => `${e} * ${lit(inStr[d])}`).join(' + ')}]; }
  return ${lit(attrs.padValue)};
}`;
  void D; void L;
});

export const unfoldP: Primitive<Attrs> = definePrimitive<Attrs>({
  name: 'unfold',
  infer([x], attrs) {
    const D = attrs.kernel.length;
    if (x.shape.length !== D + 2) throw new OpError('unfold', `a ${D}-D window needs input [batch, channels, ${D} spatial], got ${fmt(x.shape)}`);
    const outS = windowOut('unfold', x.shape.slice(2), attrs);
    return { shape: [x.shape[0], x.shape[1] * sizeOf(attrs.kernel), sizeOf(outS)], dtype: x.dtype };
  },
  vjp: (ct, [x], _out, attrs) => [fold(ct, x.shape.slice(2), attrs)],
  batch: ([x], [bd], attrs) => {
    const m = mergeBatch(x, bd!);
    return m.split(bind(unfoldP, [m.merged], attrs));
  },
  kernels: { cpu, gpu },
});

/** Windows of `x` [B, C, ...S] as columns: [B, C * prod(kernel), prod(outS)]; `padValue` converted to x's dtype as astype does. */
export const unfold = (x: Tensor, w: Window, padValue = 0): Tensor => bind(unfoldP, [x], { ...w, padValue: castScalar(padValue, x.dtype) });

/** The kernels themselves, for conv2d's (./conv2d.ts), which runs unfold then a GEMM where it cannot fuse them. */
export { cpu as unfoldCpu, gpu as unfoldGpu };
