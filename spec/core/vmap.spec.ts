/**
 * vmap, table-driven over every primitive: vmap of a one-example function against a JS loop over the
 * examples (their results stacked), with the batch at axis 0, at the last axis, in the middle, and
 * each input of a several-input op shared in turn (inAxes null); float64 within 1e-12, int and bool
 * exactly. The same rows also run under grad (grad of vmap, vmap of grad) and vmap of vmap. Then
 * per-example gradients of an MLP, jacrev / jacfwd / hessian against central differences, outAxes,
 * and the errors. A primitive with no row fails the table's last test.
 */
import test from 'tape';
import * as np from '../../core/index.js';
import { close, input, type Kind, throwsWith } from '../helpers.js';
import { conv2d } from '../../core/prims/conv2d.js';
import { conv2dWeightGrad } from '../../core/prims/conv2dWeightGrad.js';

type F = (...xs: np.Tensor[]) => np.Tensor;
interface Case {
  prim: string;
  label: string;
  /** one example's inputs: shape and kind */
  ins: [number[], Kind?][];
  f: F;
}

const cases: Case[] = [];
const add = (prim: string, label: string, ins: [number[], Kind?][], f: F) => cases.push({ prim, label: `${prim} ${label}`, ins, f });

for (const [prim, f, kind] of [['neg', np.neg, 'normal'], ['exp', np.exp, 'normal'], ['log', np.log, 'positive'], ['sqrt', np.sqrt, 'positive'],
  ['tanh', np.tanh, 'normal'], ['abs', np.abs, 'normal'], ['sign', np.sign, 'normal'], ['relu', np.relu, 'normal']] as [string, F, Kind][]) {
  add(prim, '[2, 3]', [[[2, 3], kind]], f);
}
add('cast', 'f64 -> f32 [2, 3]', [[[2, 3]]], (x) => np.astype(x, 'float32'));
add('cast', 'f64 -> int32 [4]', [[[4]]], (x) => np.astype(np.mul(x, 4), 'int32'));
add('reluGrad', '[2, 3]', [[[2, 3]], [[2, 3]]], np.reluGrad);
for (const [prim, f, ka, kb] of [['add', np.add], ['sub', np.sub], ['mul', np.mul], ['div', np.div, 'normal', 'positive'],
  ['pow', np.pow, 'positive', 'normal'], ['maximum', np.maximum], ['minimum', np.minimum], ['equal', np.equal, { int: 3 }, { int: 3 }],
  ['less', np.less], ['greater', np.greater], ['lessEqual', np.lessEqual, { int: 3 }, { int: 3 }], ['greaterEqual', np.greaterEqual, { int: 3 }, { int: 3 }],
] as [string, F, Kind?, Kind?][]) {
  for (const [sa, sb] of [[[2, 3], [3]], [[], [2, 3]], [[2, 1], [1, 3]]]) add(prim, `[${sa}] [${sb}]`, [[sa, ka], [sb, kb]], f);
}
add('where', '[2, 3] [3] [2, 1]', [[[2, 3], 'bool'], [[3]], [[2, 1]]], np.where);
for (const [s, axes] of [[[2, 3, 4], [1]], [[2, 3, 4], [0, 2]], [[2, 3], undefined], [[5], [0]]] as [number[], number[] | undefined][]) {
  add('sum', `[${s}] axes ${axes ?? 'all'}`, [[s]], (x) => np.sum(x, axes));
  add('max', `[${s}] axes ${axes ?? 'all'}`, [[s]], (x) => np.max(x, axes));
  add('min', `[${s}] axes ${axes ?? 'all'}`, [[s]], (x) => np.min(x, axes));
}
add('sum', 'of bools [2, 3] axis 1', [[[2, 3], 'bool']], (x) => np.sum(x, 1));
add('max', 'of int32 [2, 3] axis 0', [[[2, 3], 'int']], (x) => np.max(x, 0));
for (const [s, axis] of [[[2, 3, 4], 1], [[5], 0], [[3, 4], -1]] as [number[], number][]) add('argmax', `[${s}] axis ${axis}`, [[s]], (x) => np.argmax(x, axis));
for (const [s, axes] of [[[2, 3, 4], [0, 2]], [[4, 3], [1]]] as [number[], number[]][]) {
  add('moments', `[${s}] axes ${axes}`, [[s]], (x) => np.stack(np.moments(x, axes)));
}
for (const [s, axes] of [[[4, 3, 2], [0, 2]], [[5, 3], [0]]] as [number[], number[]][]) {
  const kept = s.filter((_, i) => !axes.includes(i)), eps = 1e-5;
  const st: [number[], Kind] = [[2, ...kept], 'positive']; // [mean, variance]
  add('batchNormTrain', `[${s}] axes ${axes}`, [[s], [kept], [kept], st], (x, w, b, m) => np.batchNormTrain(x, w, b, m, axes, eps));
  add('batchNormTrain', `as batchNorm [${s}] axes ${axes}`, [[s], [kept], [kept]], (x, w, b) => np.batchNorm(x, w, b, axes, eps)[0]);
  add('batchNormGrad', `[${s}] axes ${axes}`, [[s], [kept], [s], st, [[2, ...kept]]], (x, w, g, m, p) => np.batchNormGrad(x, w, g, m, p, axes, eps));
  add('batchNormParamGrad', `[${s}] axes ${axes}`, [[s], [s], st], (x, g, m) => np.batchNormParamGrad(x, g, m, axes, eps));
}
for (const [s, t] of [[[2, 3, 4], [6, 4]], [[2, 3], [3, 1, 2]], [[4], [2, 2]]]) add('reshape', `[${s}] -> [${t}]`, [[s]], (x) => np.reshape(x, t));
for (const [s, p] of [[[2, 3, 4], [2, 0, 1]], [[2, 3], [1, 0]]]) add('transpose', `[${s}] [${p}]`, [[s]], (x) => np.transpose(x, p));
add('transpose', '[2, 3, 4] [1, 0, 2] flipping [0, 2]', [[[2, 3, 4]]], (x) => np.transpose(x, [1, 0, 2], [0, 2]));
for (const [s, t] of [[[3], [2, 3]], [[3, 1], [2, 3, 4]], [[], [2, 2]]]) add('broadcastTo', `[${s}] -> [${t}]`, [[s]], (x) => np.broadcastTo(x, t));
add('slice', '[4, 5] at [1, 2] size [2, 3]', [[[4, 5]]], (x) => np.slice(x, [1, 2], [2, 3]));
add('slice', '[5] at [3]', [[[5]]], (x) => np.slice(x, [3]));
add('pad', '[2, 3] [[0, 1], [2, 0]] value -1.5', [[[2, 3]]], (x) => np.pad(x, [[0, 1], [2, 0]], -1.5));
add('pad', 'bool [3] [[1, 1]]', [[[3], 'bool']], (x) => np.pad(x, [[1, 1]]));
add('concat', '[2, 3] [2, 1] [2, 2] axis 1', [[[2, 3]], [[2, 1]], [[2, 2]]], (...xs) => np.concat(xs, 1));
add('concat', '[2] [3] axis 0', [[[2]], [[3]]], (...xs) => np.concat(xs, 0));
add('gather', '[5, 3] by [4]', [[[5, 3]], [[4], { int: 5 }]], np.gather);
add('gather', '[4] by [2, 3]', [[[4]], [[2, 3], { int: 4 }]], np.gather);
add('scatterAdd', '[4, 3] into 5', [[[4, 3]], [[4], { int: 5 }]], (s, i) => np.scatterAdd(s, i, 5));
add('scatterAdd', '[2, 3] by [2, 3] into 4', [[[2, 3]], [[2, 3], { int: 4 }]], (s, i) => np.scatterAdd(s, i, 4));
for (const [sa, sb] of [[[3, 4], [4, 5]], [[2, 3, 4], [4, 2]], [[4], [4, 5]], [[3, 4], [4]], [[2, 1, 3, 4], [3, 4, 2]]]) {
  add('matmul', `[${sa}] @ [${sb}]`, [[sa], [sb]], np.matmul);
}
add('matmul', 'matmulT [4, 3]ᵀ @ [5, 4]ᵀ', [[[4, 3]], [[5, 4]]], (a, b) => np.matmulT(a, b, true, true));
add('matmul', 'matmulT [3, 4] @ [5, 4]ᵀ', [[[3, 4]], [[5, 4]]], (a, b) => np.matmulT(a, b, false, true));
const win1 = { kernel: [3], stride: [1], padding: [[1, 1]] as [number, number][], dilation: [1] };
const win2 = { kernel: [3, 2], stride: [2, 1], padding: [[1, 0], [0, 1]] as [number, number][], dilation: [1, 2] };
add('unfold', '[2, 3, 7] kernel [3]', [[[2, 3, 7]]], (x) => np.unfold(x, win1));
add('unfold', '[1, 2, 5, 6] kernel [3, 2] pad value 2', [[[1, 2, 5, 6]]], (x) => np.unfold(x, win2, 2));
add('fold', 'into [2, 3, 7] kernel [3]', [[[2, 9, 7]]], (c) => np.fold(c, [7], win1));
add('fold', 'into [1, 2, 5, 6] kernel [3, 2]', [[[1, 12, 10]]], (c) => np.fold(c, [5, 6], win2));
const win3 = { kernel: [3, 2], stride: [1, 2], padding: [[1, 1], [0, 1]] as [number, number][], dilation: [1, 1] };
add('conv2d', '[2, 3, 5, 6] with [4, 3, 3, 2]', [[[2, 3, 5, 6]], [[4, 3, 3, 2]]], (x, w) => conv2d(x, w, win3));
add('conv2dWeightGrad', '[2, 3, 5, 6] and ct [2, 4, 5, 3]', [[[2, 3, 5, 6]], [[2, 4, 5, 3]]], (x, ct) => conv2dWeightGrad(x, ct, win3));

const B = 3;
const isFloat = (x: np.Tensor) => x.dtype === 'float64' || x.dtype === 'float32';
/** Example j of a batch along `axis`. */
const take = (x: np.Tensor, axis: number, j: number) => np.squeeze(np.slice(x, x.shape.map((_, d) => (d === axis ? j : 0)), x.shape.map((n, d) => (d === axis ? 1 : n))), axis);
/** The loop vmap must agree with: f on each example (shared inputs as they are), stacked along `outAxis`. */
function loop(f: F, xs: np.Tensor[], axes: (number | null)[], outAxis = 0): np.Tensor {
  const n = xs.find((_, i) => axes[i] !== null)!.shape[axes.find((a) => a !== null)!];
  const ys = Array.from({ length: n }, (_, j) => f(...xs.map((x, i) => (axes[i] === null ? x : take(x, axes[i]!, j)))));
  return np.stack(ys, outAxis);
}
/** Same values and dtype: exact for int and bool, within 1e-12 for floats. */
function same(t: test.Test, got: np.Tensor, want: np.Tensor, msg: string): void {
  if (got.dtype !== want.dtype) { t.fail(`${msg}: dtype ${got.dtype}, expected ${want.dtype}`); return; }
  close(t, got, want, msg, isFloat(want) ? { rtol: 1e-12, atol: 1e-12 } : { rtol: 0, atol: 0 });
}

/** Where each input's batch goes, per variant: all at 0, all last, all in the middle, and each input shared in turn. */
function variants(c: Case): [string, (number | null)[]][] {
  const ranks = c.ins.map(([s]) => s.length);
  const v: [string, (number | null)[]][] = [
    ['axis 0', ranks.map(() => 0)], ['last axis', ranks.map((r) => r)], ['middle axis', ranks.map((r) => Math.ceil(r / 2))],
  ];
  if (ranks.length > 1) ranks.forEach((_, k) => v.push([`input ${k} shared`, ranks.map((r, i) => (i === k ? null : r))]));
  return v;
}
/** Inputs for a variant: batched ones with B examples along their axis, shared ones as one example. */
function inputsFor(c: Case, axes: (number | null)[], size = B): np.Tensor[] {
  return c.ins.map(([s, kind], i) => (axes[i] === null ? input(s, kind) : np.moveAxis(input([size, ...s], kind), 0, axes[i]!)));
}
const attempt = (t: test.Test, msg: string, body: () => void) => {
  try { body(); } catch (e) { t.fail(`${msg}: threw ${(e as Error).message}`); }
};

test('vmap of every primitive matches a loop over the examples', (t) => {
  for (const c of cases) {
    for (const [name, axes] of variants(c)) {
      attempt(t, `${c.label}, ${name}`, () => {
        const xs = inputsFor(c, axes);
        same(t, np.vmap(c.f, { inAxes: axes })(...xs), loop(c.f, xs, axes), `${c.label}, ${name}`);
      });
    }
  }
  t.end();
});

test('vmap of vmap of every primitive matches a double loop', (t) => {
  for (const c of cases) {
    attempt(t, `${c.label}: vmap of vmap`, () => {
      // x [B2, B1, ...]: the outer vmap maps axis 1, the inner one axis 0; the second input is shared by the inner one
      const inner = c.ins.map((_, i) => (i === 1 ? null : 0));
      const xs = c.ins.map(([s, kind], i) => (inner[i] === null ? input([B, ...s], kind) : np.moveAxis(input([B, 2, ...s], kind), 0, 1)));
      const got = np.vmap((...ys: np.Tensor[]) => np.vmap(c.f, { inAxes: inner })(...ys), { inAxes: c.ins.map((_, i) => (inner[i] === null ? 0 : 1)) })(...xs);
      const want = np.stack(Array.from({ length: B }, (_, j) => loop(c.f, xs.map((x, i) => take(x, inner[i] === null ? 0 : 1, j)), inner)));
      same(t, got, want, `${c.label}: vmap of vmap`);
    });
  }
  t.end();
});

test('grad of vmap and vmap of grad of every differentiable primitive match the loop', (t) => {
  for (const c of cases) {
    const axes = c.ins.map(([s], i) => (i === 1 ? null : s.length)); // batch last; the second input shared
    attempt(t, `${c.label}: grad`, () => {
      const xs = inputsFor(c, axes);
      const argnums = xs.flatMap((x, i) => (isFloat(x) ? [i] : []));
      if (!argnums.length || !isFloat(c.f(...inputsFor(c, c.ins.map(() => null))))) return;
      const w = input([B, ...c.f(...xs.map((x, i) => (axes[i] === null ? x : take(x, axes[i]!, 0)))).shape]);
      const L = (y: np.Tensor) => np.sum(np.mul(np.astype(y, 'float64'), w));
      const g1 = np.grad((...zs: np.Tensor[]) => L(np.vmap(c.f, { inAxes: axes })(...zs)), { argnums })(...xs) as np.Tensor[];
      const g2 = np.grad((...zs: np.Tensor[]) => L(loop(c.f, zs, axes)), { argnums })(...xs) as np.Tensor[];
      argnums.forEach((a, j) => same(t, g1[j], g2[j], `${c.label}: grad of vmap, input ${a}`));
      // per-example gradients: example j's loss weighted by w[j]
      const lossJ = (wj: np.Tensor, ...zs: np.Tensor[]) => np.sum(np.mul(np.astype(c.f(...zs), 'float64'), wj));
      const per = np.grad(lossJ, { argnums: argnums.map((a) => a + 1) });
      const g3 = np.vmap(per, { inAxes: [0, ...axes] })(w, ...xs) as np.Tensor[];
      const g4 = argnums.map((_, k) => np.stack(Array.from({ length: B }, (_, j) =>
        (per(take(w, 0, j), ...xs.map((x, i) => (axes[i] === null ? x : take(x, axes[i]!, j)))) as np.Tensor[])[k])));
      argnums.forEach((a, k) => same(t, g3[k], g4[k], `${c.label}: vmap of grad, input ${a}`));
    });
  }
  t.end();
});

test('a batch of size 0 gives an empty result of the right shape', (t) => {
  for (const c of cases) {
    attempt(t, `${c.label}: size 0`, () => {
      const axes = c.ins.map(() => 0), xs = inputsFor(c, axes, 0);
      const one = c.f(...inputsFor(c, c.ins.map(() => null)));
      const y = np.vmap(c.f)(...xs);
      t.deepEqual([y.shape, y.dtype], [[0, ...one.shape], one.dtype], `${c.label}: size 0`);
    });
  }
  t.end();
});

test('every registered primitive has a row in this table, and every non-elementwise one a batching rule of its own', (t) => {
  const covered = new Set(cases.map((c) => c.prim));
  for (const p of np.allPrimitives()) {
    t.ok(covered.has(p.name), `primitive '${p.name}' is tested`);
    t.ok(p.batch || p.elementwise, `primitive '${p.name}' has a batching rule (not the loop fallback)`);
  }
  t.end();
});

// ---- transformations built on it ----

const f64 = (x: np.NestedArray) => np.tensor(x, { dtype: 'float64' });

test('per-example gradients of an MLP: vmap(grad(loss)) equals a loop of grad', (t) => {
  const params = { w1: input([6, 5]), b1: input([5]), w2: input([5, 3]), b2: input([3]) };
  const loss = (p: typeof params, x: np.Tensor, y: np.Tensor) => {
    const h = np.tanh(np.add(np.matmul(x, p.w1), p.b1));
    return np.crossEntropy(np.expandDims(np.add(np.matmul(h, p.w2), p.b2), 0), np.expandDims(y, 0));
  };
  const xs = input([4, 6]), ys = np.tensor([0, 2, 1, 2], { dtype: 'int32' });
  const per = np.vmap(np.grad(loss), { inAxes: [null, 0, 0] })(params, xs, ys);
  for (const k of ['w1', 'b1', 'w2', 'b2'] as const) {
    t.deepEqual(per[k].shape, [4, ...params[k].shape], `${k}: one gradient per example`);
    const want = np.stack([0, 1, 2, 3].map((j) => np.grad(loss)(params, take(xs, 0, j), take(ys, 0, j))[k]));
    close(t, per[k], want, `${k}: per-example gradient`, { rtol: 1e-10, atol: 1e-12 });
  }
  // their mean is the gradient of the mean loss
  const meanLoss = (p: typeof params) => np.mean(np.vmap((x: np.Tensor, y: np.Tensor) => loss(p, x, y))(xs, ys));
  const g = np.grad(meanLoss)(params);
  close(t, np.mean(per.w1, 0), g.w1, 'grad of vmap: the mean of per-example gradients', { rtol: 1e-10, atol: 1e-12 });
  t.end();
});

/** The Jacobian [...out, ...in] of f at x by float64 central differences. */
function numericJacobian(f: (x: np.Tensor) => np.Tensor, x: np.Tensor, h = 1e-6): np.Tensor {
  const cols = Array.from({ length: x.size }, (_, j) => {
    const e = np.reshape(np.tensor(Array.from({ length: x.size }, (_, i) => (i === j ? h : 0)), { dtype: 'float64' }), x.shape);
    return np.div(np.sub(f(np.add(x, e)), f(np.sub(x, e))), 2 * h);
  });
  const J = np.stack(cols, -1); // [...out, x.size]
  return np.reshape(J, [...J.shape.slice(0, -1), ...x.shape]);
}

test('jacrev and jacfwd match central differences; hessian matches second differences', (t) => {
  const A = input([3, 4]), x = input([2, 4]);
  const f = (z: np.Tensor) => np.mul(np.tanh(np.matmul(z, np.transpose(A))), np.sum(np.square(z))); // [2, 4] -> [2, 3]
  const J = numericJacobian(f, x);
  t.deepEqual(J.shape, [2, 3, 2, 4], 'Jacobian shape [...out, ...in]');
  close(t, np.jacrev(f)(x), J, 'jacrev', { rtol: 1e-7, atol: 1e-8 });
  close(t, np.jacfwd(f)(x), J, 'jacfwd', { rtol: 1e-7, atol: 1e-8 });
  const s = (z: np.Tensor) => np.add(np.sum(np.square(np.tanh(np.matmul(A, z)))), np.mul(np.sum(np.exp(np.mul(z, 0.3))), np.sum(np.square(z)))); // [4] -> scalar
  const z = input([4]), h = 1e-4;
  const at = (d: number[]) => s(np.add(z, f64(d))).item();
  const H = Array.from({ length: 4 }, (_, i) => Array.from({ length: 4 }, (_, j) => {
    const e = (a: number, b: number) => [0, 1, 2, 3].map((k) => (k === i ? a : 0) + (k === j ? b : 0));
    return (at(e(h, h)) - at(e(h, -h)) - at(e(-h, h)) + at(e(-h, -h))) / (4 * h * h);
  }));
  // second differences at h = 1e-4 err by a few 1e-7 (rounding, about eps |s| / h^2, and truncation, h^2):
  // atol 1e-7 held only for some inputs, and these come from a seed counter that every row above advances
  close(t, np.hessian(s)(z), f64(H), 'hessian', { rtol: 1e-6, atol: 1e-6 });
  close(t, np.hessian(s)(z), np.transpose(np.hessian(s)(z)), 'hessian is symmetric', { rtol: 1e-12, atol: 1e-12 });
  t.end();
});

test('outAxes places the batch in each output; outputs that ignore the batch are broadcast', (t) => {
  const x = input([3, 2, 4]);
  const f = (v: np.Tensor) => np.sum(v, 1);
  same(t, np.vmap(f, { outAxes: 1 })(x), loop(f, [x], [0], 1), 'outAxes 1');
  same(t, np.vmap(f, { outAxes: -1 })(x), loop(f, [x], [0], 1), 'outAxes -1');
  const [a, b] = np.vmap((v: np.Tensor) => [np.sum(v, 0), np.mul(v, 2)], { outAxes: [0, 2] })(x);
  same(t, a, loop((v) => np.sum(v, 0), [x], [0]), 'outAxes [0, 2]: first output');
  same(t, b, loop((v) => np.mul(v, 2), [x], [0], 2), 'outAxes [0, 2]: second output');
  const c = input([5]);
  same(t, np.vmap((_v: np.Tensor) => c, { outAxes: 1 })(x), np.broadcastTo(np.reshape(c, [5, 1]), [5, 3]), 'an output that ignores the batch is broadcast');
  t.end();
});

test('vmap errors say what is wrong', (t) => {
  const x = input([3, 2]), y = input([4, 2]);
  const isVmap = (fn: () => unknown, pats: RegExp[], msg: string) => {
    try { fn(); t.fail(`${msg}: did not throw`); } catch (e) {
      t.ok(e instanceof np.OpError && e.op === 'vmap', `${msg}: an OpError of vmap`);
      throwsWith(t, () => { throw e; }, pats, msg);
    }
  };
  isVmap(() => np.vmap(np.add)(x, y), [/^vmap: batch sizes differ/, /argument 0 has 3 along axis 0/, /argument 1 has 4 along axis 0/], 'inconsistent batch sizes');
  isVmap(() => np.vmap((p: { a: np.Tensor; b: np.Tensor }) => np.add(p.a, p.b))({ a: x, b: y }), [/batch sizes differ/, /tensor 1 has 4/], 'inconsistent sizes inside a pytree');
  isVmap(() => np.vmap(np.neg, { inAxes: 2 })(x), [/inAxes 2 is out of range/, /argument 0/, /\[3, 2\]/], 'inAxes out of range');
  isVmap(() => np.vmap(np.neg, { inAxes: 0.5 })(x), [/inAxes 0.5/], 'inAxes not an integer');
  isVmap(() => np.vmap(np.add, { inAxes: [0] })(x, x), [/inAxes has 1 entries for 2 arguments/], 'inAxes of the wrong length');
  isVmap(() => np.vmap(np.neg, { inAxes: [null] })(x), [/no argument is batched/], 'nothing batched');
  isVmap(() => np.vmap(np.neg, { outAxes: 2 })(x), [/outAxes 2 is out of range/, /\[2\]/], 'outAxes out of range');
  isVmap(() => np.vmap((v: np.Tensor) => [v, v], { outAxes: [0] })(x), [/outAxes has 1 entries/, /2 outputs/], 'outAxes of the wrong length');
  throwsWith(t, () => np.vmap((v: np.Tensor) => v.dataSync())(x), [/vmap/, /cannot read the values of one example/], 'reading values inside vmap');
  // folded into the batch's rows, index 3 of example 0 (or -1 of example 1) would read a row of another example
  for (const bad of [[[3], [0]], [[0], [-1]]]) {
    const idx = np.tensor(bad, { dtype: 'int32' });
    throwsWith(t, () => np.vmap((v: np.Tensor, i: np.Tensor) => np.gather(v, i))(input([2, 3, 2]), idx), [/gather/, /out of range/], `gather: index ${bad} out of range is refused`);
    throwsWith(t, () => np.vmap((v: np.Tensor, i: np.Tensor) => np.scatterAdd(v, i, 3))(input([2, 1, 2]), idx), [/scatterAdd/, /out of range/], `scatterAdd: index ${bad} out of range is refused`);
  }
  t.end();
});
