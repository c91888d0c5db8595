/**
 * unfold (im2col): every window of an N-D input laid out as a column, so that a convolution becomes
 * one matrix product. x [B, C, ...S] -> [B, C * prod(kernel), prod(outS)], row (c, k) holding, for each
 * output position o, x[c, o * stride - padLo + k * dilation] (or `padValue` outside the input).
 * It is linear in x; its vjp is fold (col2im), its adjoint, and fold's vjp is unfold again.
 */
import type { Kernel } from '../backend.js';
import { alloc, type TypedArray } from '../dtype.js';
import { definePrimitive } from '../primitive.js';
import { fmt, OpError, sizeOf, type Shape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { bind } from '../trace.js';
import { fold } from './fold.js';
import { coords, lit, shader } from '../gpu/shader.js';

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

/**
 * Visit every (input index, column index) pair of the im2col map for one (batch, channel) plane:
 * `visit(src, dst)` with src = -1 where the window hangs over the padding. Shared by both directions.
 */
export function im2colWalk(spatial: Shape, outS: Shape, w: Window, visit: (kk: number, src: number, dst: number) => void): void {
  const D = spatial.length, L = sizeOf(outS), Kp = sizeOf(w.kernel);
  const k = new Array<number>(D).fill(0), o = new Array<number>(D).fill(0);
  const inStr = new Array<number>(D);
  for (let d = D - 1, acc = 1; d >= 0; d--) { inStr[d] = acc; acc *= spatial[d]; }
  const last = D - 1, S = spatial[last], st = w.stride[last], p0 = w.padding[last][0], dl = w.dilation[last], OW = outS[last];
  for (let kk = 0; kk < Kp; kk++) {
    for (let d = last, r = kk; d >= 0; d--) { k[d] = r % w.kernel[d]; r = Math.floor(r / w.kernel[d]); }
    o.fill(0);
    for (let l = 0; l < L; l += OW) {
      // offset of the outer coordinates, or -1 if any falls in the padding
      let base = 0;
      for (let d = 0; d < last; d++) {
        const i = o[d] * w.stride[d] - w.padding[d][0] + k[d] * w.dilation[d];
        if (i < 0 || i >= spatial[d]) { base = -1; break; }
        base += i * inStr[d];
      }
      const dst = kk * L + l, off = k[last] * dl - p0;
      for (let ow = 0; ow < OW; ow++) {
        const i = ow * st + off;
        visit(kk, base < 0 || i < 0 || i >= S ? -1 : base + i, dst + ow);
      }
      for (let d = last - 1; d >= 0; d--) { if (++o[d] < outS[d]) break; o[d] = 0; }
    }
  }
}

type Attrs = Window & { padValue: number };

const cpu: Kernel<TypedArray, Attrs> = ([x], attrs, out) => {
  const [B, C, ...S] = x.shape;
  const outS = windowOut('unfold', S, attrs);
  const plane = sizeOf(S), cols = sizeOf(attrs.kernel) * sizeOf(outS);
  const res = alloc(out.dtype, sizeOf(out.shape)), src = x.buf, pv = attrs.padValue;
  // the walk is the same for every plane: record it once as an index map, then gather per plane
  const map = new Int32Array(cols);
  im2colWalk(S, outS, attrs, (_kk, s, d) => { map[d] = s; });
  for (let p = 0; p < B * C; p++) {
    const xo = p * plane, ro = p * cols;
    for (let j = 0; j < cols; j++) { const s = map[j]; res[ro + j] = s < 0 ? pv : src[xo + s]; }
  }
  return res;
};

/** Split `v` (a flat index over `shape`) into coordinate names `${p}0..`: shader statements. */
function split(v: string, shape: readonly number[], p: string): string {
  const lines = [`let ${p}r = ${v};`];
  for (let d = shape.length - 1; d >= 0; d--) {
    if (d === 0) { lines.push(`const ${p}${d} = ${p}r;`); continue; }
    lines.push(`const ${p}q${d} = Math.floor((${p}r + 0.5) / ${lit(shape[d])});`, `const ${p}${d} = ${p}r - ${p}q${d} * ${lit(shape[d])};`, `${p}r = ${p}q${d};`);
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

export const unfoldP = definePrimitive<Attrs>({
  name: 'unfold',
  infer([x], attrs) {
    const D = attrs.kernel.length;
    if (x.shape.length !== D + 2) throw new OpError('unfold', `a ${D}-D window needs input [batch, channels, ${D} spatial], got ${fmt(x.shape)}`);
    const outS = windowOut('unfold', x.shape.slice(2), attrs);
    return { shape: [x.shape[0], x.shape[1] * sizeOf(attrs.kernel), sizeOf(outS)], dtype: x.dtype };
  },
  vjp: (ct, [x], _out, attrs) => [fold(ct, x.shape.slice(2), attrs)],
  kernels: { cpu, gpu },
});

/** Windows of `x` [B, C, ...S] as columns: [B, C * prod(kernel), prod(outS)]. */
export const unfold = (x: Tensor, w: Window, padValue = 0): Tensor => bind(unfoldP, [x], { ...w, padValue });
