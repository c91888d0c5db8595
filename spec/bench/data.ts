/**
 * Shared inputs and ground truth for the benchmark: every backend gets the very same Float32Arrays
 * (seeded, standard normal), in our canonical layout (NC + spatial, weights O I + kernel). Peers
 * that want another layout permute them outside the timed region. The naive references here are
 * float64 loops used only on small sizes, to prove each backend computes the right thing.
 */

/** Seeded standard-normal floats (mulberry32 + Box-Muller). */
export function randn(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const u = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return out;
}

const prod = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);

/** out[j] with out.shape = perm.map(p => shape[p]), like np.transpose(x, perm). */
export function permute(x: ArrayLike<number>, shape: readonly number[], perm: readonly number[]): Float32Array {
  const r = shape.length, out = new Float32Array(x.length);
  const stride = new Array(r).fill(1);
  for (let i = r - 2; i >= 0; i--) stride[i] = stride[i + 1] * shape[i + 1];
  const oshape = perm.map((p) => shape[p]), ostride = perm.map((p) => stride[p]);
  const idx = new Array(r).fill(0);
  for (let j = 0; j < out.length; j++) {
    let src = 0;
    for (let d = 0; d < r; d++) src += idx[d] * ostride[d];
    out[j] = x[src];
    for (let d = r - 1; d >= 0 && ++idx[d] === oshape[d]; d--) idx[d] = 0;
  }
  return out;
}
export const invPerm = (p: readonly number[]) => p.map((_, i) => p.indexOf(i));

export function naiveMatmul(a: Float32Array, b: Float32Array, n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) {
    const aik = a[i * n + k];
    for (let j = 0; j < n; j++) c[i * n + j] += aik * b[k * n + j];
  }
  return c;
}

/** One layer: x [N, C, ...S] (S of rank 1-3), w [O, C, ...K] with odd K, stride 1, 'same' padding. */
export interface Layer { data: Float32Array; shape: number[] }
export interface ConvChain { x: Float32Array; xShape: number[]; layers: Layer[]; grad: boolean }

/**
 * Forward of one 'same' conv; with `ct` (cotangent of y) also dx and dw. Spatial rank is padded
 * to 3 with leading 1s, which leaves the row-major data unchanged.
 */
export function naiveConv(x: ArrayLike<number>, xShape: number[], w: ArrayLike<number>, wShape: number[], ct?: ArrayLike<number>) {
  const pad3 = (s: number[]) => [...new Array(3 - s.length).fill(1), ...s];
  const [N, C] = xShape, [O] = wShape;
  const [D, H, W] = pad3(xShape.slice(2)), [KD, KH, KW] = pad3(wShape.slice(2));
  const [pd, ph, pw] = [(KD - 1) / 2, (KH - 1) / 2, (KW - 1) / 2];
  const S = D * H * W, KS = KD * KH * KW;
  const y = new Float64Array(N * O * S), dx = new Float64Array(x.length), dw = new Float64Array(w.length);
  for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) for (let d = 0; d < D; d++) for (let h = 0; h < H; h++) for (let q = 0; q < W; q++) {
    const yi = ((n * O + o) * D + d) * H * W + h * W + q, g = ct ? ct[yi] : 0;
    let acc = 0;
    for (let c = 0; c < C; c++) for (let a = 0; a < KD; a++) for (let b = 0; b < KH; b++) for (let e = 0; e < KW; e++) {
      const id = d + a - pd, ih = h + b - ph, iw = q + e - pw;
      if (id < 0 || id >= D || ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
      const xi = (n * C + c) * S + (id * H + ih) * W + iw, wi = (o * C + c) * KS + (a * KH + b) * KW + e;
      acc += x[xi] * w[wi];
      if (ct) { dx[xi] += g * w[wi]; dw[wi] += g * x[xi]; }
    }
    y[yi] = acc;
  }
  return { y, yShape: [N, O, ...xShape.slice(2)], dx, dw };
}

/** Reference outputs of a chain: [y] forward, or [dx, dw] (single layer) for the gradient of sum(y). */
export function naiveChain(spec: ConvChain): Float64Array[] {
  if (spec.grad) {
    if (spec.layers.length !== 1) throw new Error('naive gradient is for one layer only');
    const l = spec.layers[0], yLen = spec.xShape[0] * l.shape[0] * prod(spec.xShape.slice(2));
    const r = naiveConv(spec.x, spec.xShape, l.data, l.shape, new Float64Array(yLen).fill(1));
    return [r.dx, r.dw];
  }
  let cur: ArrayLike<number> = spec.x, shape = spec.xShape;
  for (const l of spec.layers) ({ y: cur, yShape: shape } = naiveConv(cur, shape, l.data, l.shape));
  return [cur as Float64Array];
}

/** max |got - want| / max |want|; Infinity on a length mismatch or NaN. */
export function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let e = 0, m = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= e)) e = Number.isNaN(d) ? Infinity : d;
    m = Math.max(m, Math.abs(want[i]));
  }
  return e / (m || 1);
}

export function convFlops(spec: ConvChain): number {
  let flops = 0, c = spec.xShape[1];
  const N = spec.xShape[0], S = prod(spec.xShape.slice(2));
  for (const l of spec.layers) { flops += 2 * N * l.shape[0] * S * c * prod(l.shape.slice(2)); c = l.shape[0]; }
  return spec.grad ? 3 * flops : flops;
}

/** A conv chain with random data: xShape [N, C, ...S], then per layer [Cout, ...kernel]. */
export function makeChain(xShape: number[], layers: [number, ...number[]][], grad: boolean, seed = 1): ConvChain {
  let c = xShape[1], s = seed;
  const ls = layers.map(([o, ...k]) => {
    const shape = [o, c, ...k], fanIn = c * prod(k);
    const data = randn(prod(shape), ++s).map((v) => v / Math.sqrt(fanIn));
    c = o;
    return { data, shape };
  });
  return { x: randn(prod(xShape), seed), xShape, layers: ls, grad };
}
