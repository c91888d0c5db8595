/** @backends cpu gpu gpu-hw
 *
 * Every primitive, table-driven: the forward result against a naive reference from spec/core/naive.ts,
 * and the vjp (and grad of grad) against float64 central differences along a random direction, over
 * shapes that include broadcasting and size-1 axes. A primitive with no row here fails the last test.
 */
import test from 'tape';
import * as np from '../../core/index.js';
import { checkGrad, close, input, type Kind, type Nd } from '../helpers.js';
import * as ref from './naive.js';
import { conv2d } from '../../core/prims/conv2d.js';
import { conv2dWeightGrad } from '../../core/prims/conv2dWeightGrad.js';

type F = (...xs: np.Tensor[]) => np.Tensor;
interface Case {
  prim: string;
  label: string;
  inputs: () => np.Tensor[];
  f: F;
  ref: (...xs: Nd[]) => Nd;
  /** differentiable: check the vjp (default true when some input is float) */
  grad?: boolean;
  /** also check grad of grad (default true) */
  second?: boolean;
  tol?: { rtol?: number; atol?: number };
  /** finite-difference settings, where float32 rounding inside the op needs a wider step */
  fd?: { eps: number; rtol: number };
}

const cases: Case[] = [];
const ins = (...specs: [number[], Kind?][]) => () => specs.map(([s, k]) => input(s, k));

const BINARY_SHAPES: [number[], number[]][] = [[[3, 4], [3, 4]], [[3, 4], [4]], [[2, 1, 4], [3, 1]], [[], [2, 3]], [[1], [5]], [[2, 3, 1, 1], [1, 1, 2, 1]]];
const UNARY_SHAPES: number[][] = [[], [5], [2, 3, 4], [1, 3, 1]];

const unary: [string, F, (x: number) => number, Kind][] = [
  ['neg', np.neg, (x) => -x, 'normal'],
  ['exp', np.exp, Math.exp, 'normal'],
  ['log', np.log, Math.log, 'positive'],
  ['sqrt', np.sqrt, Math.sqrt, 'positive'],
  ['tanh', np.tanh, Math.tanh, 'normal'],
  ['abs', np.abs, Math.abs, 'normal'],
  ['sign', np.sign, Math.sign, 'normal'],
  ['relu', np.relu, (x) => Math.max(x, 0), 'normal'],
];
for (const [prim, f, g, kind] of unary) {
  for (const s of UNARY_SHAPES) cases.push({ prim, label: `${prim} [${s}]`, inputs: ins([s, kind]), f, ref: (x) => ref.map(x, g) });
}
for (const s of UNARY_SHAPES) {
  cases.push({ prim: 'reluGrad', label: `reluGrad [${s}]`, inputs: ins([s], [s]), f: np.reluGrad, ref: (x, g) => ref.zip(x, g, (a, b) => (a > 0 ? b : 0)) });
}
cases.push({ prim: 'reluGrad', label: 'reluGrad at nan, ±0, ±inf', inputs: () => [np.tensor([NaN, -0, 0, -Infinity, Infinity, -1e-30, 1e-30, 3], { dtype: 'float64' }), input([8])], f: np.reluGrad, ref: (x, g) => ref.zip(x, g, (a, b) => (a > 0 ? b : 0)), grad: false });
// relu on float32 works on the bits: the sign clears, except for nan, which passes as in maximum(x, 0)
cases.push({ prim: 'relu', label: 'relu of nan, ±0, ±inf', inputs: () => [np.tensor([NaN, -0, 0, -Infinity, Infinity, -1e-40, 3], { dtype: 'float64' })], f: np.relu, ref: (x) => ref.map(x, (v) => Math.max(v, 0)), grad: false });
for (const s of UNARY_SHAPES) {
  cases.push({ prim: 'cast', label: `cast f64->f32 [${s}]`, inputs: ins([s]), f: (x) => np.astype(x, 'float32'), ref: (x) => ref.map(x, Math.fround), tol: { rtol: 0, atol: 0 }, fd: { eps: 1e-2, rtol: 1e-4 } });
  cases.push({ prim: 'cast', label: `cast f64->int32 [${s}]`, inputs: () => [np.mul(input(s), 4)], f: (x) => np.astype(x, 'int32'), ref: (x) => ref.map(x, Math.trunc), grad: false });
}

const binary: [string, F, (a: number, b: number) => number, Kind, Kind, boolean?][] = [
  ['add', np.add, (a, b) => a + b, 'normal', 'normal'],
  ['sub', np.sub, (a, b) => a - b, 'normal', 'normal'],
  ['mul', np.mul, (a, b) => a * b, 'normal', 'normal'],
  ['div', np.div, (a, b) => a / b, 'normal', 'positive'],
  ['pow', np.pow, Math.pow, 'positive', 'normal'],
  ['maximum', np.maximum, Math.max, 'normal', 'normal'],
  ['minimum', np.minimum, Math.min, 'normal', 'normal'],
  ['equal', np.equal, (a, b) => +(a === b), { int: 3 }, { int: 3 }, false],
  ['less', np.less, (a, b) => +(a < b), 'normal', 'normal', false],
  ['greater', np.greater, (a, b) => +(a > b), 'normal', 'normal', false],
  ['greaterEqual', np.greaterEqual, (a, b) => +(a >= b), { int: 3 }, { int: 3 }, false],
  ['lessEqual', np.lessEqual, (a, b) => +(a <= b), { int: 3 }, { int: 3 }, false],
];
for (const [prim, f, g, ka, kb, diff] of binary) {
  for (const [sa, sb] of BINARY_SHAPES) {
    cases.push({ prim, label: `${prim} [${sa}] [${sb}]`, inputs: ins([sa, ka], [sb, kb]), f, ref: (a, b) => ref.zip(a, b, g), grad: diff });
  }
}
for (const [sc, sa, sb] of [[[3, 4], [3, 4], [3, 4]], [[3, 1], [4], [1, 4]], [[2, 3], [], [2, 1]]] as number[][][]) {
  cases.push({ prim: 'where', label: `where [${sc}] [${sa}] [${sb}]`, inputs: ins([sc, 'bool'], [sa], [sb]), f: np.where, ref: ref.select });
}

const reductions: [number[], number[] | undefined][] = [[[2, 3, 4], undefined], [[2, 3, 4], [1]], [[2, 3, 4], [0, 2]], [[5], [0]], [[3, 1, 4], [2]], [[2, 3, 4], [1, 2]]];
for (const [s, axes] of reductions) {
  const all = axes ?? s.map((_, i) => i);
  cases.push({ prim: 'sum', label: `sum [${s}] axes ${axes ?? 'all'}`, inputs: ins([s]), f: (x) => np.sum(x, axes), ref: (x) => ref.reduce(x, all, 0, (a, v) => a + v) });
  cases.push({ prim: 'max', label: `max [${s}] axes ${axes ?? 'all'}`, inputs: ins([s]), f: (x) => np.max(x, axes), ref: (x) => ref.reduce(x, all, -Infinity, Math.max) });
  cases.push({ prim: 'min', label: `min [${s}] axes ${axes ?? 'all'}`, inputs: ins([s]), f: (x) => np.min(x, axes), ref: (x) => ref.reduce(x, all, Infinity, Math.min) });
}
for (const [s, axes] of [...reductions, [[4, 3, 2, 5], [0, 2, 3]], [[6, 2, 9], [0, 2]]] as [number[], number[] | undefined][]) {
  const all = axes ?? s.map((_, i) => i);
  cases.push({ prim: 'moments', label: `moments [${s}] axes ${axes ?? 'all'}`, inputs: ins([s]), f: (x) => np.stack(np.moments(x, axes)), ref: (x) => ref.moments(x, all) });
}
for (const [s, axes] of [[[4, 3, 2, 5], [0, 2, 3]], [[6, 4], [0]], [[3, 2, 4], [0, 2]], [[2, 3, 2, 1, 2], [0, 2, 3, 4]]] as [number[], number[]][]) {
  const kept = s.filter((_, i) => !axes.includes(i)), eps = 1e-5;
  const st: [number[], Kind] = [[2, ...kept], 'positive'], keep = s.map((d, i) => (axes.includes(i) ? 1 : d)); // [mean, variance]
  cases.push({ prim: 'batchNormTrain', label: `batchNormTrain [${s}] axes ${axes}`, inputs: ins([s], [kept], [kept], st), f: (x, w, b, m) => np.batchNormTrain(x, w, b, m, axes, eps), ref: (x, w, b, m) => ref.batchNorm(x, w, b, axes, eps, m) });
  cases.push({ prim: 'batchNormGrad', label: `batchNormGrad [${s}] axes ${axes}`, inputs: ins([s], [kept], [s], st, [[2, ...kept]]), f: (x, w, g, m, p) => np.batchNormGrad(x, w, g, m, p, axes, eps), ref: (x, w, g, m, p) => ref.batchNormGrad(x, w, g, axes, eps, m, p) });
  cases.push({ prim: 'batchNormParamGrad', label: `batchNormParamGrad [${s}] axes ${axes}`, inputs: ins([s], [s], st), f: (x, g, m) => np.batchNormParamGrad(x, g, m, axes, eps), ref: (x, g, m) => ref.batchNormParamGrad(x, g, axes, eps, m) });
  // BatchNorm as a whole: the statistics from x, batchNormTrain's pullback the whole gradient; the
  // statistics used beside y as well (their gradient must then add to y's, neither lost nor counted twice)
  cases.push({ prim: 'batchNormTrain', label: `batchNorm [${s}] axes ${axes}`, inputs: ins([s], [kept], [kept]), f: (x, w, b) => np.batchNorm(x, w, b, axes, eps)[0], ref: (x, w, b) => ref.batchNorm(x, w, b, axes, eps) });
  cases.push({
    prim: 'batchNormTrain', label: `batchNorm [${s}] axes ${axes}, y + mean * variance`, inputs: ins([s], [kept], [kept]),
    f: (x, w, b) => { const [y, m, v] = np.batchNorm(x, w, b, axes, eps); return np.add(y, np.reshape(np.mul(m, v), keep)); },
    ref: (x, w, b) => { const y = ref.batchNorm(x, w, b, axes, eps), mv = ref.moments(x, axes), c = mv.data.length / 2; return ref.zip(y, { shape: keep, data: Float64Array.from({ length: c }, (_, o) => mv.data[o] * mv.data[c + o]) }, (a, z) => a + z); },
  });
}
cases.push({ prim: 'max', label: 'max with ties shares the cotangent', inputs: () => [np.tensor([[1, 3, 3], [2, 2, 0]], { dtype: 'float64' })], f: (x) => np.max(x, 1), ref: (x) => ref.reduce(x, [1], -Infinity, Math.max), second: false });
cases.push({ prim: 'min', label: 'min with ties shares the cotangent', inputs: () => [np.tensor([[1, 1, 3], [2, 2, 0]], { dtype: 'float64' })], f: (x) => np.min(x, 1), ref: (x) => ref.reduce(x, [1], Infinity, Math.min), second: false });
for (const [s, axis] of [[[2, 3, 4], 1], [[7], 0], [[3, 4], -1]] as [number[], number][]) {
  cases.push({ prim: 'argmax', label: `argmax [${s}] axis ${axis}`, inputs: ins([s]), f: (x) => np.argmax(x, axis), ref: (x) => ref.argmax(x, axis < 0 ? axis + s.length : axis) });
}

for (const [s, t] of [[[2, 3, 4], [6, 4]], [[2, 3], [3, 1, 2]], [[4], [2, 2]], [[1], []]] as number[][][]) {
  cases.push({ prim: 'reshape', label: `reshape [${s}] -> [${t}]`, inputs: ins([s]), f: (x) => np.reshape(x, t), ref: (x) => ({ shape: t, data: x.data }) });
}
// the last two: blocks of 8 x 9 = 72 adjacent elements moved whole (a (2+1)-D conv's frames), with a size-1 axis between
for (const [s, p] of [[[2, 3], [1, 0]], [[2, 3, 4], [2, 0, 1]], [[2, 1, 3, 2], [3, 1, 0, 2]], [[2, 3, 2, 8, 9], [0, 2, 1, 3, 4]], [[3, 2, 1, 8, 9], [1, 0, 2, 3, 4]]] as number[][][]) {
  cases.push({ prim: 'transpose', label: `transpose [${s}] [${p}]`, inputs: ins([s]), f: (x) => np.transpose(x, p), ref: (x) => ref.transpose(x, p) });
}
// with axes flipped: a conv's kernel reversed along its taps with in and out channels swapped, a
// flipped last axis (no block copies), flips alone, a flipped axis of 1 (nothing to do)
for (const [s, p, f] of [[[3, 2, 4], [1, 0, 2], [2]], [[2, 3, 4], [2, 0, 1], [0, 2]], [[4, 5], [0, 1], [1]], [[2, 3, 2, 8, 9], [0, 1, 2, 3, 4], [3, 4]], [[2, 1, 3], [1, 0, 2], [1]]] as number[][][]) {
  cases.push({ prim: 'transpose', label: `transpose [${s}] [${p}] flipping [${f}]`, inputs: ins([s]), f: (x) => np.transpose(x, p, f), ref: (x) => ref.transpose(ref.flip(x, f), p) });
}
for (const [s, t] of [[[3], [2, 3]], [[3, 1], [3, 4]], [[], [2, 2]], [[1, 2, 1], [3, 2, 2]]] as number[][][]) {
  cases.push({ prim: 'broadcastTo', label: `broadcastTo [${s}] -> [${t}]`, inputs: ins([s]), f: (x) => np.broadcastTo(x, t), ref: (x) => ref.bcast(x, t) });
}
for (const [s, b, z] of [[[5], [1], [3]], [[4, 5], [1, 2], [2, 3]], [[2, 3, 4], [0, 1, 0], [2, 1, 4]]] as number[][][]) {
  cases.push({ prim: 'slice', label: `slice [${s}] at [${b}] size [${z}]`, inputs: ins([s]), f: (x) => np.slice(x, b, z), ref: (x) => ref.slice(x, b, z) });
}
for (const [s, p, v] of [[[3], [[1, 2]], 0], [[2, 3], [[0, 1], [2, 0]], 0], [[1, 2, 2], [[1, 1], [0, 0], [1, 2]], -1.5]] as [number[], [number, number][], number][]) {
  cases.push({ prim: 'pad', label: `pad [${s}] ${JSON.stringify(p)} value ${v}`, inputs: ins([s]), f: (x) => np.pad(x, p, v), ref: (x) => ref.pad(x, p, v) });
}
for (const [shapes, axis] of [[[[2], [3]], 0], [[[2, 3], [2, 1], [2, 2]], 1], [[[1, 2, 2], [3, 2, 2]], 0]] as [number[][], number][]) {
  cases.push({ prim: 'concat', label: `concat ${JSON.stringify(shapes)} axis ${axis}`, inputs: () => shapes.map((s) => input(s)), f: (...xs) => np.concat(xs, axis), ref: (...xs) => ref.concat(xs, axis) });
}
for (const [xs, is] of [[[5, 3], [4]], [[4], [2, 3]], [[3, 2, 2], [5]]] as number[][][]) {
  cases.push({ prim: 'gather', label: `gather [${xs}] by [${is}]`, inputs: ins([xs], [is, { int: xs[0] }]), f: np.gather, ref: ref.gather });
  const n = xs[0];
  cases.push({ prim: 'scatterAdd', label: `scatterAdd [${[...is, ...xs.slice(1)]}] into ${n}`, inputs: ins([[...is, ...xs.slice(1)]], [is, { int: n }]), f: (s, i) => np.scatterAdd(s, i, n), ref: (s, i) => ref.scatterAdd(s, i, n) });
}
for (const [sa, sb] of [[[3, 4], [4, 5]], [[2, 3, 4], [4, 2]], [[2, 1, 3, 4], [3, 4, 2]], [[1, 1], [1, 1]], [[70, 40], [40, 33]], [[2, 65, 9], [2, 9, 67]], [[3, 2, 5, 1], [2, 1, 4]], [[4, 1], [1, 7]]] as number[][][]) {
  cases.push({ prim: 'matmul', label: `matmul [${sa}] @ [${sb}]`, inputs: ins([sa], [sb]), f: np.matmul, ref: ref.matmul, second: sa[0] < 10 });
}
// a transpose over a contracted axis of size 1 is taken as a reshape (outer products)
cases.push({ prim: 'matmul', label: 'matmulT [2,1,3]ᵀ @ [2,1,4]', inputs: ins([[2, 1, 3]], [[2, 1, 4]]), f: (a, b) => np.matmulT(a, b, true, false), ref: (a, b) => ref.matmul(ref.transpose(a, [0, 2, 1]), b) });
cases.push({ prim: 'matmul', label: 'matmulT [3,1] @ [4,1]ᵀ', inputs: ins([[3, 1]], [[4, 1]]), f: (a, b) => np.matmulT(a, b, false, true), ref: (a, b) => ref.matmul(a, ref.transpose(b, [1, 0])) });
cases.push({ prim: 'matmul', label: 'matmulT [4,3]ᵀ @ [5,4]ᵀ', inputs: ins([[4, 3]], [[5, 4]]), f: (a, b) => np.matmulT(a, b, true, true), ref: (a, b) => ref.matmul(ref.transpose(a, [1, 0]), ref.transpose(b, [1, 0])) });
// every side a multiple of 4: the GPU multiplies texels of the operands as stored, without packing
for (const [sa, sb, ta, tb] of [[[8, 12], [12, 4], false, false], [[2, 1, 8, 4], [3, 4, 12], false, false], [[12, 8], [12, 4], true, false],
  [[8, 12], [4, 12], false, true], [[2, 12, 8], [4, 12], true, true], [[4, 4], [1, 4, 8], true, false]] as [number[], number[], boolean, boolean][]) {
  const T = (x: Nd, t: boolean) => (t ? ref.transpose(x, x.shape.map((_, d, all) => (d < all.length - 2 ? d : d === all.length - 2 ? d + 1 : d - 1))) : x);
  cases.push({ prim: 'matmul', label: `matmulT [${sa}]${ta ? 'ᵀ' : ''} @ [${sb}]${tb ? 'ᵀ' : ''}`, inputs: ins([sa], [sb]), f: (a, b) => np.matmulT(a, b, ta, tb), ref: (a, b) => ref.matmul(T(a, ta), T(b, tb)) });
}

type Win = { K: number[]; s: number[]; p: [number, number][]; d: number[] };
const windows: [number[], Win, number?][] = [
  [[2, 3, 7], { K: [3], s: [1], p: [[1, 1]], d: [1] }],
  [[1, 2, 5, 6], { K: [3, 2], s: [2, 1], p: [[1, 0], [0, 1]], d: [1, 2] }],
  [[2, 1, 4, 4, 3], { K: [2, 3, 1], s: [1, 1, 2], p: [[0, 0], [1, 1], [0, 1]], d: [1, 1, 1] }],
  // stride 1, 'same' padding: the CPU copies rows that continue each other as one block (short and long ones)
  [[1, 2, 4, 5], { K: [3, 3], s: [1, 1], p: [[1, 1], [1, 1]], d: [1, 1] }],
  [[1, 2, 9, 10], { K: [3, 3], s: [1, 1], p: [[1, 1], [1, 1]], d: [1, 1] }, -1.5],
];
const outOf = (S: number[], w: Win) => S.map((s, i) => Math.floor((s + w.p[i][0] + w.p[i][1] - (w.K[i] - 1) * w.d[i] - 1) / w.s[i]) + 1);
for (const [xs, w, pad = 0] of windows) {
  const win = { kernel: w.K, stride: w.s, padding: w.p, dilation: w.d };
  const outS = outOf(xs.slice(2), w), lo = w.p.map(([a]) => a);
  cases.push({ prim: 'unfold', label: `unfold [${xs}] kernel [${w.K}]${pad ? ` pad value ${pad}` : ''}`, inputs: ins([xs]), f: (x) => np.unfold(x, win, pad), ref: (x) => ref.unfold(x, w.K, w.s, lo, outS, w.d, pad) });
  const L = outS.reduce((a, b) => a * b, 1), Kp = w.K.reduce((a, b) => a * b, 1);
  cases.push({ prim: 'fold', label: `fold into [${xs}] kernel [${w.K}]`, inputs: ins([[xs[0], xs[1] * Kp, L]]), f: (c) => np.fold(c, xs.slice(2), win), ref: (c) => ref.fold(c, xs[1], xs.slice(2), w.K, w.s, lo, outS, w.d) });
}

// conv2d (internal: conv takes it for one-group 2-D convs on the CPU). Its vjp has two routes for x:
// unit stride with padding <= (K - 1) dilation is a conv2d again; anything else goes through fold.
// w's is conv2dWeightGrad (float64 here: the fallback; its float32 wasm kernel is in gemm.spec.ts).
const convs: [number[], number[], Win][] = [
  [[1, 2, 5, 6], [3, 2, 3, 2], { K: [3, 2], s: [2, 1], p: [[1, 0], [0, 1]], d: [1, 2] }],
  [[2, 3, 4, 5], [2, 3, 3, 3], { K: [3, 3], s: [1, 1], p: [[1, 1], [1, 1]], d: [1, 1] }],
  [[1, 2, 6, 5], [3, 2, 2, 3], { K: [2, 3], s: [1, 1], p: [[0, 1], [2, 0]], d: [2, 1] }],
  [[2, 1, 3, 4], [2, 1, 3, 3], { K: [3, 3], s: [1, 1], p: [[3, 0], [0, 3]], d: [1, 1] }], // padding past K - 1
  [[1, 2, 7, 9], [1, 2, 1, 1], { K: [1, 1], s: [3, 2], p: [[0, 0], [0, 0]], d: [1, 1] }],
];
for (const [xs, ws, w] of convs) {
  const win = { kernel: w.K, stride: w.s, padding: w.p, dilation: w.d };
  const outS = outOf(xs.slice(2), w), lo = w.p.map(([a]) => a);
  cases.push({ prim: 'conv2d', label: `conv2d [${xs}] * [${ws}] stride [${w.s}] padding ${JSON.stringify(w.p)} dilation [${w.d}]`, inputs: ins([xs], [ws]), f: (x, k) => conv2d(x, k, win), ref: (x, k) => ref.conv(x, k, w.s, lo, outS, w.d, 1) });
  // its weight gradient, bilinear in x and ct: grad of grad is conv2d's vjp again
  const cts = [xs[0], ws[0], ...outS];
  cases.push({ prim: 'conv2dWeightGrad', label: `conv2dWeightGrad [${xs}] and ct [${cts}] stride [${w.s}] padding ${JSON.stringify(w.p)} dilation [${w.d}]`, inputs: ins([xs], [cts]), f: (x, ct) => conv2dWeightGrad(x, ct, win), ref: (x, ct) => ref.convWeightGrad(x, ct, w.K, w.s, lo, w.d) });
}

test('primitives: forward matches the naive reference, vjp matches central differences', (t) => {
  for (const c of cases) {
    const xs = c.inputs();
    const y = c.f(...xs);
    close(t, y, c.ref(...xs.map(ref.nd)), `${c.label}: forward`, c.tol ?? { rtol: 1e-12, atol: 1e-12 });
    const diff = c.grad ?? true;
    if (diff && xs.some((x) => x.dtype === 'float64') && y.dtype !== 'bool' && y.dtype !== 'int32') {
      checkGrad(t, c.f, xs, c.label, { second: c.second ?? true, ...c.fd });
    }
  }
  t.end();
});

test('primitives: float32 forward agrees with float64 within float32 rounding', (t) => {
  for (const c of cases.filter((c) => c.prim !== 'cast')) {
    const xs = c.inputs();
    const x32 = xs.map((x) => (x.dtype === 'float64' ? np.astype(x, 'float32') : x));
    const y = c.f(...x32);
    const y64 = c.f(...xs).dtype; t.equal(y.dtype, y64 === 'float64' ? 'float32' : y64, `${c.label}: float32 in gives ${y64 === 'float64' ? 'float32' : y64} out, as float64 in gives ${y64}`);
    close(t, np.astype(y, 'float64'), c.ref(...x32.map(ref.nd)), `${c.label}: float32 forward`, { rtol: 2e-6, atol: 2e-6 });
  }
  t.end();
});

test('every registered primitive has a row in this table', (t) => {
  const covered = new Set(cases.map((c) => c.prim));
  for (const p of np.allPrimitives()) t.ok(covered.has(p.name), `primitive '${p.name}' is tested`);
  t.end();
});
