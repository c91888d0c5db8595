/**
 * The leaf layers: Dense, Conv1d/2d/3d, pooling, Relu, Dropout, Flatten, L2Normalize. Each is a
 * constructor taking hyperparameters (plain numbers, kept apart from the arrays) and returning an
 * (init, apply) pair; params are named as PyTorch names them (weight [out, in, ...k], bias [out]).
 */
import * as np from '../core/index.js';
import { asShape, asTensor, type Layer, outputShapeOf, type Shape, stateless } from './layer.js';
import { torchUniform } from './init.js';

const fmtShape = (s: Shape) => `[${s.join(', ')}]`;

/**
 * Fully connected: y = x W^T + b on the last axis, W [out, in] as torch.nn.Linear.
 * `Dense(128)`, `Dense(10, {bias: false})`
 */
export function Dense(out: number, { bias = true } = {}): Layer {
  const name = `Dense(${out})`;
  return {
    name,
    init(key, s, { dtype = 'float32' } = {}) {
      const shape = asShape(name, s);
      if (shape.length < 1) throw new Error(`${name}: input must have a feature axis, got shape []`);
      const fanIn = shape[shape.length - 1];
      const [kw, kb] = np.random.split(key);
      const weight = torchUniform(kw, [out, fanIn], fanIn, dtype);
      const params = bias ? { weight, bias: torchUniform(kb, [out], fanIn, dtype) } : { weight };
      return { params, state: {}, outputShape: [...shape.slice(0, -1), out] };
    },
    apply(p, state, input) {
      const x = asTensor(name, input);
      const lead = x.shape.slice(0, -1);
      const x2 = x.rank === 2 ? x : np.reshape(x, [-1, x.shape[x.rank - 1]]);
      let y = np.matmulT(x2, p.weight, false, true);
      if (p.bias) y = np.add(y, p.bias);
      return { y: x.rank === 2 ? y : np.reshape(y, [...lead, out]), state };
    },
  };
}

/** Conv's hyperparameters, as torch.nn.ConvNd's. */
export interface ConvLayerOptions {
  stride?: number | readonly number[];
  /** PyTorch's: a number or one per axis (symmetric), [before, after] pairs, or 'same' / 'valid'. Default 0. */
  padding?: np.Padding;
  dilation?: number | readonly number[];
  groups?: number;
  /** Default true, as PyTorch; convs followed by BatchNorm usually turn it off. */
  bias?: boolean;
}

const perAxis = (v: number | readonly number[] | undefined, d: number, dflt: number): number[] =>
  v === undefined ? new Array(d).fill(dflt) : typeof v === 'number' ? new Array(d).fill(v) : [...v];

/**
 * N-D convolution (cross-correlation, channels first), N = the kernel's length.
 * `Conv(16, [3, 3], {stride: 2, padding: 1})`; see Conv1d, Conv2d, Conv3d.
 */
export function Conv(out: number, kernel: readonly number[], opts: ConvLayerOptions = {}): Layer {
  const D = kernel.length, { bias = true, groups = 1 } = opts;
  const stride = perAxis(opts.stride, D, 1), dilation = perAxis(opts.dilation, D, 1), k = [...kernel];
  const name = `Conv${D}d(${out}, k=${fmtShape(k)}${stride.some((s) => s !== 1) ? `, s=${fmtShape(stride)}` : ''})`;
  const convOpts: np.ConvOptions = { stride, padding: opts.padding ?? 0, dilation, groups };
  return {
    name,
    init(key, s, { dtype = 'float32' } = {}) {
      const shape = asShape(name, s);
      if (shape.length !== D + 2) throw new Error(`${name}: input must be [batch, channels, ${D} spatial axes], got ${fmtShape(shape)}`);
      const cin = shape[1];
      if (cin % groups !== 0 || out % groups !== 0) throw new Error(`${name}: ${cin} input and ${out} output channels must divide into ${groups} groups`);
      const fanIn = (cin / groups) * k.reduce((a, b) => a * b, 1);
      const [kw, kb] = np.random.split(key);
      const weight = torchUniform(kw, [out, cin / groups, ...k], fanIn, dtype);
      const params = bias ? { weight, bias: torchUniform(kb, [out], fanIn, dtype) } : { weight };
      return { params, state: {}, outputShape: outputShapeOf(name, (x) => np.conv(x, weight, convOpts), shape, dtype) };
    },
    apply(p, state, input) {
      let y = np.conv(asTensor(name, input), p.weight, convOpts);
      if (p.bias) y = np.add(y, np.reshape(p.bias, [out, ...k.map(() => 1)]));
      return { y, state };
    },
  };
}

const fixed = (D: number, k: number | readonly number[]) => (typeof k === 'number' ? new Array(D).fill(k) : [...k]);
/** 1-D convolution, x [B, C, L]. `Conv1d(32, 3, {padding: 1})` */
export const Conv1d = (out: number, kernel: number | readonly number[], opts?: ConvLayerOptions) => Conv(out, fixed(1, kernel), opts);
/** 2-D convolution, x [B, C, H, W]. `Conv2d(16, 7, {stride: 2, padding: 3, bias: false})` */
export const Conv2d = (out: number, kernel: number | readonly number[], opts?: ConvLayerOptions) => Conv(out, fixed(2, kernel), opts);
/** 3-D convolution, x [B, C, T, H, W]. `Conv3d(16, [1, 3, 3], {padding: [0, 1, 1]})` */
export const Conv3d = (out: number, kernel: number | readonly number[], opts?: ConvLayerOptions) => Conv(out, fixed(3, kernel), opts);

/**
 * Max over sliding windows on every spatial axis (the input's rank decides how many); padding holds
 * -inf, as PyTorch's. Stride defaults to the window. `MaxPool([1, 3, 3], {stride: [1, 2, 2], padding: [0, 1, 1]})`
 */
export function MaxPool(kernel: number | readonly number[], opts: { stride?: number | readonly number[]; padding?: np.Padding } = {}): Layer {
  const name = `MaxPool(${JSON.stringify(kernel)})`;
  return stateless(name, (x) => np.maxPool(x, { kernel, stride: opts.stride, padding: opts.padding }));
}

/** Max over all spatial axes: [B, C, ...S] -> [B, C]. `GlobalMaxPool()` */
export const GlobalMaxPool = (): Layer => stateless('GlobalMaxPool', np.globalMaxPool);
/** Mean over all spatial axes: [B, C, ...S] -> [B, C]. `GlobalAvgPool()` */
export const GlobalAvgPool = (): Layer => stateless('GlobalAvgPool', np.globalAvgPool);

/** max(x, 0). NOTE: the derivative at 0 is 0, as PyTorch's. `Relu()` */
export const Relu = (): Layer => stateless('Relu', (x) => np.relu(x));

/** [B, ...] -> [B, prod(...)]. `Flatten()` */
export const Flatten = (): Layer => stateless('Flatten', (x) => np.flatten(x, 1));

/** x / max(||x||, eps) along `axis` (default last), as torch's F.normalize. `L2Normalize()` */
export const L2Normalize = (axis = -1, eps = 1e-12): Layer => stateless('L2Normalize', (x) => np.l2Normalize(x, axis, eps));

/**
 * Inverted dropout: in training, zero each element with probability `rate` and scale the rest by
 * 1 / (1 - rate), using the key passed to apply; in eval, the identity. `Dropout(0.5)`
 */
export function Dropout(rate: number): Layer {
  if (!(rate >= 0 && rate < 1)) throw new Error(`Dropout: rate must be in [0, 1), got ${rate}`);
  const name = `Dropout(${rate})`;
  return stateless(name, (x, { train, key }) => {
    if (!train || rate === 0) return x;
    if (!key) throw new Error(`${name}: training needs a random key: apply(params, state, x, {train: true, key})`);
    const keep = np.astype(np.random.bernoulli(key, 1 - rate, x.shape), x.dtype);
    return np.mul(x, np.mul(keep, 1 / (1 - rate)));
  });
}
