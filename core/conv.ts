/**
 * Convolution and pooling in any number of spatial dimensions, as compositions: unfold the windows
 * into columns (im2col), then one batched matmul with the filters. Their gradients come from unfold's
 * (fold) and matmul's rules, and grad of grad works. Two cases take faster routes to the same values:
 * stride-1 convs pull back through a transposed conv (convUnitStride), and convs of data with stride 1
 * along the first axis sum that axis's taps over smaller columns (convByFirstTaps).
 * Layout is channels-first, as PyTorch: x [batch, channels, ...spatial], w [out, in / groups, ...kernel].
 */
import { fmt, named, OpError, sizeOf } from './shape.js';
import { lowest } from './dtype.js';
import type { Tensor } from './tensor.js';
import { customVjp } from './autodiff.js';
import { matmul } from './prims/matmul.js';
import { transpose } from './prims/transpose.js';
import { max } from './prims/max.js';
import { reshape } from './prims/reshape.js';
import { fold } from './prims/fold.js';
import { unfold, type Window, windowOut } from './prims/unfold.js';
import { colsMatmul, colsWeightGrad, conv2d, CONV2D_MIN_POSITIONS, flippedT } from './prims/conv2d.js';
import { mean } from './ops.js';

export type Padding = number | readonly number[] | readonly (readonly [number, number])[] | 'same' | 'valid';

export interface ConvOptions {
  stride?: number | readonly number[];
  padding?: Padding;
  dilation?: number | readonly number[];
  groups?: number;
}

function perAxis(op: string, name: string, v: number | readonly number[] | undefined, d: number, dflt: number): number[] {
  const a = v === undefined ? new Array(d).fill(dflt) : typeof v === 'number' ? new Array(d).fill(v) : [...v];
  if (a.length !== d || !a.every((x) => Number.isInteger(x) && x >= 1)) {
    throw new OpError(op, `${name} ${JSON.stringify(v)} must be a positive integer or one per spatial axis (${d})`);
  }
  return a;
}

/** [before, after] padding per axis; 'same' as TensorFlow (output = ceil(input / stride)). */
function resolvePadding(op: string, p: Padding | undefined, spatial: readonly number[], kernel: number[], stride: number[], dilation: number[]): [number, number][] {
  const pads = padPairs(op, p, spatial, kernel, stride, dilation);
  if (!pads.flat().every((v) => Number.isInteger(v) && v >= 0)) throw new OpError(op, `padding ${JSON.stringify(p)} must be non-negative integers`);
  return pads;
}

function padPairs(op: string, p: Padding | undefined, spatial: readonly number[], kernel: number[], stride: number[], dilation: number[]): [number, number][] {
  const d = spatial.length;
  if (p === undefined || p === 'valid') return new Array(d).fill(0).map(() => [0, 0]);
  if (p === 'same') {
    return spatial.map((s, i) => {
      const out = Math.ceil(s / stride[i]);
      const total = Math.max(0, (out - 1) * stride[i] + (kernel[i] - 1) * dilation[i] + 1 - s);
      return [Math.floor(total / 2), total - Math.floor(total / 2)];
    });
  }
  if (typeof p === 'number') return new Array(d).fill(0).map(() => [p, p]);
  if (p.length === d && p.every((x) => typeof x === 'number')) return (p as number[]).map((x) => [x, x]);
  if (p.length === d && p.every((x) => Array.isArray(x) && x.length === 2)) return (p as [number, number][]).map(([a, b]) => [a, b]);
  throw new OpError(op, `padding ${JSON.stringify(p)} must be 'same', 'valid', a number, one per axis, or [before, after] per axis`);
}

/**
 * N-D convolution (cross-correlation, as in PyTorch): x [B, C, ...S], w [O, C / groups, ...K].
 * `conv(x, w, {stride: 2, padding: 'same'})`; 1-, 2- and 3-D by the rank of w.
 */
export const conv = named('conv', (x: Tensor, w: Tensor, opts: ConvOptions = {}): Tensor => {
  const D = w.rank - 2;
  if (D < 1) throw new OpError('conv', `weights must be [out, in / groups, ...kernel], got ${fmt(w.shape)}`);
  if (x.rank !== D + 2) throw new OpError('conv', `a ${D}-D kernel ${fmt(w.shape)} needs input [batch, channels, ${D} spatial axes], got ${fmt(x.shape)}`);
  const [B, C, ...S] = x.shape;
  const [O, Cg, ...K] = w.shape;
  const groups = opts.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1 || C % groups !== 0 || O % groups !== 0 || Cg * groups !== C) {
    throw new OpError('conv', `input has ${C} channels and weights ${fmt(w.shape)} expect ${Cg} per group x ${groups} group(s)`);
  }
  const stride = perAxis('conv', 'stride', opts.stride, D, 1);
  const dilation = perAxis('conv', 'dilation', opts.dilation, D, 1);
  const win: Window = { kernel: K, stride, dilation, padding: resolvePadding('conv', opts.padding, S, K, stride, dilation) };
  const outS = windowOut('conv', S, win);
  if (D === 2 && groups === 1 && x.dtype === w.dtype && onCpu(x) && (sizeOf(outS) >= CONV2D_MIN_POSITIONS || B === 1)) return conv2d(x, w, win);
  if (D === 3 && groups === 1 && x.dtype === w.dtype && onCpu(x)) {
    const y = conv3dAs2d(x, w, win, outS);
    if (y) return y;
  }
  const transposable = win.padding.every(([lo, hi], d) => Math.max(lo, hi) <= (K[d] - 1) * dilation[d]);
  if (groups === 1 && stride.every((s) => s === 1) && transposable) return convUnitStride(x, w, win, outS);
  const firstTaps = D > 1 && K[0] > 1 && stride[0] === 1 && Math.max(...win.padding[0]) <= (K[0] - 1) * dilation[0];
  if (groups === 1 && firstTaps && isData(x)) return convByFirstTaps(x, w, win, outS);
  const cols = unfold(x, win); // [B, C * prod(K), L]
  const kp = sizeOf(K), L = sizeOf(outS);
  const y = groups === 1
    ? colsMatmul(reshape(w, [O, C * kp]), cols)
    : matmul(reshape(w, [groups, O / groups, Cg * kp]), reshape(cols, [B, groups, Cg * kp, L]));
  return reshape(y, [B, O, ...outS]);
});

/**
 * The two halves of a (2+1)-D block's factored 3-D conv as conv2d, on the CPU where conv2d fuses
 * im2col into its GEMM: a temporal conv ([kt, 1, 1], nothing done along H and W) is a 2-D conv of
 * [B, C, T, H * W] with a [kt, 1] kernel, a free reshape either side; a spatial conv ([1, kh, kw],
 * nothing done along T) is a 2-D conv of the frames, [B * T, C, H, W], with the batch and time axes
 * swapped around it. Undefined for other 3-D convs, which take the generic routes.
 */
function conv3dAs2d(x: Tensor, w: Tensor, win: Window, outS: number[]): Tensor | undefined {
  const [B, C, T, H, W] = x.shape, [O, , kt, kh, kw] = w.shape, [To, Ho, Wo] = outS;
  const plain = (d: number) => win.stride[d] === 1 && win.dilation[d] === 1 && win.padding[d][0] === 0 && win.padding[d][1] === 0;
  if (kh === 1 && kw === 1 && plain(1) && plain(2) && (To * H * W >= CONV2D_MIN_POSITIONS || B === 1)) {
    const time: Window = { kernel: [kt, 1], stride: [win.stride[0], 1], dilation: [win.dilation[0], 1], padding: [win.padding[0], [0, 0]] };
    return reshape(conv2d(reshape(x, [B, C, T, H * W]), reshape(w, [O, C, kt, 1]), time), [B, O, To, H, W]);
  }
  if (kt === 1 && plain(0) && (Ho * Wo >= CONV2D_MIN_POSITIONS || B * T === 1)) {
    const frames = reshape(transpose(x, [0, 2, 1, 3, 4]), [B * T, C, H, W]);
    const space: Window = { kernel: [kh, kw], stride: win.stride.slice(1), dilation: win.dilation.slice(1), padding: win.padding.slice(1) };
    const y = conv2d(frames, reshape(w, [O, C, kh, kw]), space);
    return transpose(reshape(y, [B, T, O, Ho, Wo]), [0, 2, 1, 3, 4]);
  }
  return undefined;
}

/**
 * Whether t is data: traced by no vjp or vmap (a jit tracer is data too: it has no primal). The same
 * routes must be taken eagerly and under jit, or jit would not give eager's numbers bit for bit.
 */
const isData = (t: Tensor): boolean => !t.trace || (t.primal === undefined && t.bdim === undefined);

/** Whether t's value lives on the CPU backend, where conv2d fuses im2col into its GEMM. */
const onCpu = (t: Tensor): boolean => t.concrete().backend?.name === 'cpu';

/**
 * A stride-1 convolution (one group) with its own pullback. The input's cotangent is itself such a
 * convolution: of dy with the weights transposed (in <-> out) and reversed along every spatial axis,
 * padded by (K - 1) * dilation - pad on each side. Computed so, it is an unfold (block copies, see
 * unfold.ts) and one matmul; the generic rule (matmul's vjp, then unfold's: fold) instead multiplies
 * into [B, C * prod(K), L] columns and adds them back with a JS loop over every entry. For a 3x3
 * conv of [16, 16, 50, 65] that pullback goes from 26.7 to 18.3 ms.
 * The forward pass is the generic one; grad of grad differentiates through this pullback (ops only).
 */
function convUnitStride(x: Tensor, w: Tensor, win: Window, outS: number[]): Tensor {
  const [B, C] = x.shape, [O, , ...K] = w.shape, kp = sizeOf(K), L = sizeOf(outS);
  const forward = (xx: Tensor, ww: Tensor): [Tensor, Tensor] => {
    const cols = unfold(xx, win);
    return [reshape(colsMatmul(reshape(ww, [O, C * kp]), cols), [B, O, ...outS]), cols];
  };
  const back: Window = { ...win, padding: win.padding.map(([lo, hi], d) => [(K[d] - 1) * win.dilation[d] - lo, (K[d] - 1) * win.dilation[d] - hi]) };
  return customVjp(
    function conv(xx: Tensor, ww: Tensor) { return forward(xx, ww)[0]; },
    (xx: Tensor, ww: Tensor) => { const [y, cols] = forward(xx, ww); return [y, { cols, ww }]; },
    ({ cols, ww }, ct, need) => [
      need[0] ? reshape(colsMatmul(flippedT(ww), unfold(ct, back)), x.shape) : null,
      need[1] ? reshape(colsWeightGrad(reshape(ct, [B, O, L]), cols), w.shape) : null,
    ],
  )(x, w);
}

/**
 * A conv of data (x traced by no vjp) whose first spatial axis has stride 1, such as a video stem
 * ([3, 7, 7], stride [1, 2, 2]), as a sum over that axis's kernel taps: each tap multiplies the same
 * columns, those of a window spanning one position of the first axis, and lands shifted along it by
 * the tap's offset. The columns are built once, K[0] times smaller (19 MB instead of 58 MB for the
 * video stem, where writing fresh memory is most of an unfold's cost): 62 -> 13 ms. All taps' weights
 * are stacked into one matmul, and the shifted sum is a fold along the first axis (taps reversed, so
 * its window is a plain one), whose pullback is one unfold of dy. On the CPU, a 3-D conv's columns
 * are not written at all: the product is a conv2d of the frames with the stacked taps.
 * Only for data: were x differentiated, its cotangent would sum K[0] column-sized terms before fold.
 */
function convByFirstTaps(x: Tensor, w: Tensor, win: Window, outS: number[]): Tensor {
  const [B, C, ...S] = x.shape, [O, , ...K] = w.shape, K0 = K[0], d = win.dilation[0], [lo, hi] = win.padding[0];
  const rest = { kernel: [1, ...K.slice(1)], stride: win.stride, dilation: win.dilation, padding: [[0, 0] as [number, number], ...win.padding.slice(1)] };
  const kp = sizeOf(K.slice(1)), inner = sizeOf(outS.slice(1));
  // the taps' weights as rows (o, K0 - 1 - t): [O * K0, C * prod(K')]
  const taps = reshape(transpose(reshape(w, [O, C, K0, kp]), [0, 2, 1, 3], [2]), [O * K0, C * kp]);
  let z: Tensor; // [B, O * K0, S0 * inner]
  if (S.length === 3 && onCpu(x) && x.dtype === w.dtype && inner >= CONV2D_MIN_POSITIONS) {
    // on the CPU, each frame a 2-D conv (conv2d: im2col fused into the GEMM, the columns never
    // written), the taps' weights stacked as its output channels
    const [T, H, W] = S;
    const frames = reshape(transpose(x, [0, 2, 1, 3, 4]), [B * T, C, H, W]);
    const space: Window = { kernel: K.slice(1), stride: win.stride.slice(1), dilation: win.dilation.slice(1), padding: win.padding.slice(1) };
    const zf = conv2d(frames, reshape(taps, [O * K0, C, ...K.slice(1)]), space); // [B * T, O * K0, ...outS']
    z = reshape(transpose(reshape(zf, [B, T, O * K0, inner]), [0, 2, 1, 3]), [B, O * K0, T * inner]);
  } else {
    const cols = unfold(x, rest); // [B, C * prod(K'), S0 * prod(outS')]: every position of the first axis
    z = matmul(taps, cols);
  }
  // output position f of the first axis takes tap t from input position f - lo + t d: fold's window,
  // with the reversed tap k = K0 - 1 - t, reads f = s - ((K0 - 1) d - lo) + k d
  const shifts: Window = { kernel: [K0, 1], stride: [1, 1], dilation: [d, 1], padding: [[(K0 - 1) * d - lo, (K0 - 1) * d - hi], [0, 0]] };
  return reshape(fold(z, [outS[0], inner], shifts), [B, O, ...outS]);
}

export interface PoolOptions {
  /** Window size per spatial axis (or one for all). */
  kernel: number | readonly number[];
  /** Default: the window size (non-overlapping windows). */
  stride?: number | readonly number[];
  padding?: Padding;
}

/**
 * Max over sliding windows of x [B, C, ...S]; padded positions never win (they hold the dtype's
 * least value: -inf, the int32 minimum, false). `maxPool(x, {kernel: 2})` halves every spatial axis.
 */
export const maxPool = named('maxPool', (x: Tensor, opts: PoolOptions): Tensor => {
  const D = x.rank - 2;
  if (D < 1) throw new OpError('maxPool', `input must be [batch, channels, ...spatial], got ${fmt(x.shape)}`);
  const [B, C, ...S] = x.shape;
  const kernel = perAxis('maxPool', 'kernel', opts.kernel, D, 1);
  const stride = perAxis('maxPool', 'stride', opts.stride ?? kernel, D, 1);
  const dilation = new Array(D).fill(1);
  const win: Window = { kernel, stride, dilation, padding: resolvePadding('maxPool', opts.padding, S, kernel, stride, dilation) };
  const outS = windowOut('maxPool', S, win);
  const cols = reshape(unfold(x, win, lowest(x.dtype)), [B, C, sizeOf(kernel), sizeOf(outS)]);
  return reshape(max(cols, 2), [B, C, ...outS]);
});

const spatialAxes = (x: Tensor, op: string): number[] => {
  if (x.rank < 3) throw new OpError(op, `input must be [batch, channels, ...spatial], got ${fmt(x.shape)}`);
  return [...Array(x.rank - 2).keys()].map((i) => i + 2);
};

/** Max over all spatial axes: [B, C, ...S] -> [B, C]. */
export const globalMaxPool = named('globalMaxPool', (x: Tensor): Tensor => max(x, spatialAxes(x, 'globalMaxPool')));

/** Mean over all spatial axes: [B, C, ...S] -> [B, C]. */
export const globalAvgPool = named('globalAvgPool', (x: Tensor): Tensor => mean(x, spatialAxes(x, 'globalAvgPool')));
