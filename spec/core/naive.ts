/**
 * Naive reference implementations: each output element computed from its definition by index
 * arithmetic, with no blocking, no strides tricks and no shared code with core/. Slow and obvious.
 */
import * as np from '../../core/index.js';
import type { Nd } from '../helpers.js';

export const nd = (t: np.Tensor): Nd => ({ shape: [...t.shape], data: Float64Array.from(t.dataSync()) });

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Every index tuple of `shape` in row-major order. */
export function* indices(shape: number[]): Generator<number[]> {
  const n = size(shape), idx = new Array(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    yield [...idx];
    for (let d = shape.length - 1; d >= 0; d--) { if (++idx[d] < shape[d]) break; idx[d] = 0; }
  }
}

export function at(a: Nd, idx: number[]): number {
  let off = 0;
  for (let d = 0; d < a.shape.length; d++) off = off * a.shape[d] + idx[d];
  return a.data[off];
}

export function build(shape: number[], f: (idx: number[]) => number): Nd {
  const data = new Float64Array(size(shape));
  let i = 0;
  for (const idx of indices(shape)) data[i++] = f(idx);
  return { shape, data };
}

/** Read `a` at an index of the broadcast shape of rank `r`. */
const bAt = (a: Nd, idx: number[]) => at(a, a.shape.map((d, i) => (d === 1 ? 0 : idx[idx.length - a.shape.length + i])));

export function bshape(...ss: number[][]): number[] {
  const r = Math.max(...ss.map((s) => s.length));
  // the size other than 1 (0 included: [0] and [1] broadcast to [0]), else 1
  return Array.from({ length: r }, (_, i) => ss.map((s) => s[s.length - r + i] ?? 1).find((d) => d !== 1) ?? 1);
}

export const map = (a: Nd, f: (x: number) => number): Nd => build(a.shape, (i) => f(at(a, i)));
export const zip = (a: Nd, b: Nd, f: (x: number, y: number) => number): Nd =>
  build(bshape(a.shape, b.shape), (i) => f(bAt(a, i), bAt(b, i)));
export const select = (c: Nd, a: Nd, b: Nd): Nd =>
  build(bshape(c.shape, a.shape, b.shape), (i) => (bAt(c, i) ? bAt(a, i) : bAt(b, i)));

export function reduce(a: Nd, axes: number[], init: number, f: (acc: number, x: number) => number): Nd {
  const out = a.shape.filter((_, i) => !axes.includes(i));
  const red = axes.map((i) => a.shape[i]);
  return build(out, (o) => {
    let acc = init;
    for (const r of indices(red)) {
      const full: number[] = [];
      let oi = 0, ri = 0;
      for (let d = 0; d < a.shape.length; d++) full.push(axes.includes(d) ? r[ri++] : o[oi++]);
      acc = f(acc, at(a, full));
    }
    return acc;
  });
}

/** [2, ...kept]: the mean over `axes`, then the mean squared deviation from it. */
export function moments(a: Nd, axes: number[]): Nd {
  const n = size(axes.map((i) => a.shape[i]));
  const mean = reduce(a, axes, 0, (s, v) => s + v);
  const m = mean.data.length;
  const md = Float64Array.from(mean.data, (v) => v / n);
  const kept = a.shape.filter((_, i) => !axes.includes(i)), red = axes.map((i) => a.shape[i]);
  const data = new Float64Array(2 * m);
  data.set(md);
  let o = 0;
  for (const k of indices(kept)) {
    let q = 0;
    for (const r of indices(red)) {
      const full: number[] = [];
      let ki = 0, ri = 0;
      for (let d = 0; d < a.shape.length; d++) full.push(axes.includes(d) ? r[ri++] : k[ki++]);
      q += (at(a, full) - md[o]) ** 2;
    }
    data[m + o] = q / n;
    o++;
  }
  return { shape: [2, ...kept], data };
}

/** The flat index among the axes not in `axes` (the channel) of index tuple `i`. */
function channel(shape: number[], axes: number[], i: number[]): number {
  let o = 0;
  shape.forEach((d, k) => { if (!axes.includes(k)) o = o * d + i[k]; });
  return o;
}

/**
 * BatchNorm with the statistics `st` ([2, ...kept]: mean, biased variance; by default the batch's own
 * over `axes`): (x - mean) / sqrt(var + eps) * w + b per channel.
 */
export function batchNorm(x: Nd, w: Nd, b: Nd, axes: number[], eps: number, st = moments(x, axes)): Nd {
  const m = w.data.length;
  return build(x.shape, (i) => {
    const o = channel(x.shape, axes, i);
    return (at(x, i) - st.data[o]) / Math.sqrt(st.data[m + o] + eps) * w.data[o] + b.data[o];
  });
}

/**
 * Its input cotangent for g: w / sqrt(var + eps) * (g - sum(g) / n - xhat * sum(g * xhat) / n) per
 * channel, with the sums `p` [sum(g * xhat), sum(g)] (by default g's own).
 */
export function batchNormGrad(x: Nd, w: Nd, g: Nd, axes: number[], eps: number, st = moments(x, axes), p = batchNormParamGrad(x, g, axes, eps, st)): Nd {
  const m = w.data.length, n = size(axes.map((a) => x.shape[a]));
  return build(x.shape, (i) => {
    const o = channel(x.shape, axes, i), inv = 1 / Math.sqrt(st.data[m + o] + eps);
    return w.data[o] * inv * (at(g, i) - p.data[m + o] / n - (at(x, i) - st.data[o]) * inv * p.data[o] / n);
  });
}

/** [sum(g * xhat), sum(g)] per channel: the weight's and bias's cotangents of batchNorm. */
export function batchNormParamGrad(x: Nd, g: Nd, axes: number[], eps: number, st = moments(x, axes)): Nd {
  const m = st.data.length / 2;
  const data = new Float64Array(2 * m);
  for (const i of indices(x.shape)) {
    const o = channel(x.shape, axes, i);
    data[o] += at(g, i) * (at(x, i) - st.data[o]) / Math.sqrt(st.data[m + o] + eps);
    data[m + o] += at(g, i);
  }
  return { shape: [2, ...x.shape.filter((_, k) => !axes.includes(k))], data };
}

export function argmax(a: Nd, axis: number): Nd {
  const out = a.shape.filter((_, i) => i !== axis);
  return build(out, (o) => {
    let best = -Infinity, bi = 0;
    for (let j = 0; j < a.shape[axis]; j++) {
      const v = at(a, [...o.slice(0, axis), j, ...o.slice(axis)]);
      if (v > best) { best = v; bi = j; }
    }
    return bi;
  });
}

export function matmul(a: Nd, b: Nd): Nd {
  const [M, K] = a.shape.slice(-2), N = b.shape[b.shape.length - 1];
  const batch = bshape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  return build([...batch, M, N], (idx) => {
    const bi = idx.slice(0, -2), [m, n] = idx.slice(-2);
    const ab = a.shape.slice(0, -2).map((d, i) => (d === 1 ? 0 : bi[bi.length - (a.shape.length - 2) + i]));
    const bb = b.shape.slice(0, -2).map((d, i) => (d === 1 ? 0 : bi[bi.length - (b.shape.length - 2) + i]));
    let s = 0;
    for (let k = 0; k < K; k++) s += at(a, [...ab, m, k]) * at(b, [...bb, k, n]);
    return s;
  });
}

export const transpose = (a: Nd, perm: number[]): Nd => build(perm.map((p) => a.shape[p]), (idx) => {
  const src: number[] = [];
  perm.forEach((p, i) => { src[p] = idx[i]; });
  return at(a, src);
});

/** a with its elements reversed along `axes`. */
export const flip = (a: Nd, axes: number[]): Nd => build(a.shape, (idx) => at(a, idx.map((v, d) => (axes.includes(d) ? a.shape[d] - 1 - v : v))));

export const bcast = (a: Nd, shape: number[]): Nd => build(shape, (i) => bAt(a, i));
export const slice = (a: Nd, begin: number[], sz: number[]): Nd => build(sz, (i) => at(a, i.map((v, d) => v + begin[d])));
export const pad = (a: Nd, pads: [number, number][], value: number): Nd =>
  build(a.shape.map((d, i) => d + pads[i][0] + pads[i][1]), (i) => {
    const src = i.map((v, d) => v - pads[d][0]);
    return src.every((v, d) => v >= 0 && v < a.shape[d]) ? at(a, src) : value;
  });

export function concat(xs: Nd[], axis: number): Nd {
  const shape = [...xs[0].shape];
  shape[axis] = xs.reduce((s, x) => s + x.shape[axis], 0);
  return build(shape, (i) => {
    let k = i[axis];
    for (const x of xs) {
      if (k < x.shape[axis]) return at(x, i.map((v, d) => (d === axis ? k : v)));
      k -= x.shape[axis];
    }
    return NaN;
  });
}

export const gather = (x: Nd, idx: Nd): Nd =>
  build([...idx.shape, ...x.shape.slice(1)], (i) => at(x, [at(idx, i.slice(0, idx.shape.length)), ...i.slice(idx.shape.length)]));

export function scatterAdd(src: Nd, idx: Nd, n: number): Nd {
  const rest = src.shape.slice(idx.shape.length);
  const out = build([n, ...rest], () => 0);
  const data = out.data as Float64Array;
  for (const i of indices(idx.shape)) {
    const r = at(idx, i);
    for (const j of indices(rest)) {
      let off = r;
      for (let d = 0; d < rest.length; d++) off = off * rest[d] + j[d];
      data[off] += at(src, [...i, ...j]);
    }
  }
  return out;
}

/** Direct N-D convolution from the definition: y[b, o, p] = sum_{c, k} x[b, g*Cg + c, p*s - pad + k*d] w[o, c, k]. */
export function conv(x: Nd, w: Nd, stride: number[], padLo: number[], outS: number[], dil: number[], groups: number): Nd {
  const [B, C, ...S] = x.shape, [O, Cg, ...K] = w.shape;
  void B; void C;
  const Og = O / groups;
  return build([x.shape[0], O, ...outS], ([b, o, ...p]) => {
    const g = Math.floor(o / Og);
    let s = 0;
    for (let c = 0; c < Cg; c++) {
      for (const k of indices(K)) {
        const q = p.map((v, d) => v * stride[d] - padLo[d] + k[d] * dil[d]);
        if (q.some((v, d) => v < 0 || v >= S[d])) continue;
        s += at(x, [b, g * Cg + c, ...q]) * at(w, [o, c, ...k]);
      }
    }
    return s;
  });
}

/** The weights' cotangent of conv (one group) for the output's cotangent ct: sum over b and positions of ct x. */
export function convWeightGrad(x: Nd, ct: Nd, K: number[], stride: number[], padLo: number[], dil: number[]): Nd {
  const [B, C, ...S] = x.shape, [, O, ...outS] = ct.shape;
  return build([O, C, ...K], ([o, c, ...k]) => {
    let s = 0;
    for (let b = 0; b < B; b++) {
      for (const p of indices(outS)) {
        const q = p.map((v, d) => v * stride[d] - padLo[d] + k[d] * dil[d]);
        if (q.some((v, d) => v < 0 || v >= S[d])) continue;
        s += at(ct, [b, o, ...p]) * at(x, [b, c, ...q]);
      }
    }
    return s;
  });
}

export function unfold(x: Nd, K: number[], stride: number[], padLo: number[], outS: number[], dil: number[], padValue: number): Nd {
  const [B, C, ...S] = x.shape, Kp = size(K), L = size(outS);
  const ks = [...indices(K)], ps = [...indices(outS)];
  return build([B, C * Kp, L], ([b, ck, l]) => {
    const c = Math.floor(ck / Kp), k = ks[ck % Kp], p = ps[l];
    const q = p.map((v, d) => v * stride[d] - padLo[d] + k[d] * dil[d]);
    return q.some((v, d) => v < 0 || v >= S[d]) ? padValue : at(x, [b, c, ...q]);
  });
}

export function fold(cols: Nd, C: number, S: number[], K: number[], stride: number[], padLo: number[], outS: number[], dil: number[]): Nd {
  const B = cols.shape[0], Kp = size(K), L = size(outS);
  const out = build([B, C, ...S], () => 0), data = out.data as Float64Array;
  const ks = [...indices(K)], ps = [...indices(outS)];
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let kk = 0; kk < Kp; kk++) for (let l = 0; l < L; l++) {
    const q = ps[l].map((v, d) => v * stride[d] - padLo[d] + ks[kk][d] * dil[d]);
    if (q.some((v, d) => v < 0 || v >= S[d])) continue;
    let off = b * C + c;
    for (let d = 0; d < S.length; d++) off = off * S[d] + q[d];
    data[off] += at(cols, [b, c * Kp + kk, l]);
  }
  return out;
}
