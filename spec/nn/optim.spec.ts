/**
 * Optimizers against PyTorch's update formulas: first a few steps worked by hand (the numbers are
 * in the test), then several steps on a pytree against an independent float64 loop written from
 * the torch.optim documentation's pseudo-code, in float64 (1e-12) and float32 (1e-6).
 * Also the schedules' values, a schedule driving an optimizer, and clipping by global norm.
 */
import test from 'tape';
import * as np from '../../core/index.js';
import * as nn from '../../nn/index.js';
import { close } from '../helpers.js';

const f64 = (v: np.NestedArray) => np.tensor(v, { dtype: 'float64' });
const near = (t: import('tape').Test, got: number, want: number, msg: string, tol = 1e-12) =>
  t.ok(Math.abs(got - want) <= tol, `${msg}: ${got} vs ${want}`);

/** Run `opt` on one scalar parameter p0 through the gradients gs; the parameter after each step. */
function run(opt: nn.Optimizer, p0: number, gs: number[]): number[] {
  let params = { p: f64(p0) }, state = opt.init(params);
  return gs.map((g) => {
    ({ params, state } = opt.update({ p: f64(g) }, state, params));
    return params.p.item();
  });
}

test('worked by hand: SGD, momentum, Nesterov, weight decay; p0 = 1, lr 0.1, grads 0.5 then 0.25', (t) => {
  const [a1, a2] = run(nn.sgd(0.1), 1, [0.5, 0.25]);
  near(t, a1, 0.95, 'plain step 1: 1 - 0.1 * 0.5'); near(t, a2, 0.925, 'plain step 2: 0.95 - 0.1 * 0.25');
  // momentum 0.9: buf1 = g1 = 0.5 (PyTorch's first buffer is the gradient itself); buf2 = 0.9 * 0.5 + 0.25 = 0.7
  const [m1, m2] = run(nn.sgd(0.1, { momentum: 0.9 }), 1, [0.5, 0.25]);
  near(t, m1, 0.95, 'momentum step 1: buf = 0.5, p = 0.95'); near(t, m2, 0.88, 'momentum step 2: buf = 0.7, p = 0.95 - 0.07');
  // Nesterov: step with g + 0.9 buf: 0.5 + 0.45 = 0.95, then 0.25 + 0.63 = 0.88
  const [n1, n2] = run(nn.sgd(0.1, { momentum: 0.9, nesterov: true }), 1, [0.5, 0.25]);
  near(t, n1, 0.905, 'Nesterov step 1: 1 - 0.1 * 0.95'); near(t, n2, 0.817, 'Nesterov step 2: 0.905 - 0.1 * 0.88');
  // dampening 0.5: buf2 = 0.9 * 0.5 + 0.5 * 0.25 = 0.575
  const [, d2] = run(nn.sgd(0.1, { momentum: 0.9, dampening: 0.5 }), 1, [0.5, 0.25]);
  near(t, d2, 0.8925, 'dampening 0.5 step 2: buf = 0.575, p = 0.95 - 0.0575');
  // weight decay 0.1: g1 = 0.5 + 0.1 * 1 = 0.6 -> 0.94
  const [w1] = run(nn.sgd(0.1, { weightDecay: 0.1 }), 1, [0.5]);
  near(t, w1, 0.94, 'weight decay: g = 0.5 + 0.1 * 1, p = 1 - 0.06');
  t.end();
});

test('worked by hand: Adam, Adam with L2 decay, AdamW; p0 = 1, lr 0.1, grad 0.5', (t) => {
  // m1 = 0.05, v1 = 0.00025; bias-corrected m = 0.5, v = 0.25; step = 0.1 * 0.5 / (0.5 + 1e-8)
  const [a1] = run(nn.adam(0.1), 1, [0.5]);
  near(t, a1, 1 - 0.05 / (0.5 + 1e-8), 'Adam step 1 = 0.900000002');
  // step 2 with grad 0.25: m2 = 0.9 * 0.05 + 0.025 = 0.07, v2 = 0.999 * 0.00025 + 0.001 * 0.0625 = 0.00031225
  const [, a2] = run(nn.adam(0.1), 1, [0.5, 0.25]);
  const mh = 0.07 / (1 - 0.81), vh = 0.00031225 / (1 - 0.998001);
  near(t, a2, a1 - 0.1 * mh / (Math.sqrt(vh) + 1e-8), 'Adam step 2 (m2 0.07, v2 0.00031225)');
  // Adam L2: g = 0.5 + 0.1 * 1 = 0.6 -> corrected m 0.6, v 0.36, step 0.1 * 0.6 / (0.6 + 1e-8)
  const [l1] = run(nn.adam(0.1, { weightDecay: 0.1 }), 1, [0.5]);
  near(t, l1, 1 - 0.06 / (0.6 + 1e-8), 'Adam with L2 decay: the decay enters the gradient');
  // AdamW: p = 1 * (1 - 0.1 * 0.1) = 0.99, then the plain Adam step
  const [w1] = run(nn.adamw(0.1, { weightDecay: 0.1 }), 1, [0.5]);
  near(t, w1, 0.99 - 0.05 / (0.5 + 1e-8), 'AdamW: decoupled decay p *= 1 - lr wd, then the Adam step');
  t.end();
});

// ---- the same formulas, independently, over many steps and a pytree ----

type Cfg = { kind: 'sgd'; lr: number; momentum: number; dampening: number; nesterov: boolean; wd: number }
  | { kind: 'adam' | 'adamw'; lr: number; b1: number; b2: number; eps: number; wd: number };

/** torch.optim's pseudo-code for one scalar, in float64. */
function reference(cfg: Cfg, p0: number, grads: number[]): number[] {
  let p = p0, buf = 0, m = 0, v = 0;
  return grads.map((g0, i) => {
    const t = i + 1;
    let g = g0;
    if (cfg.kind === 'sgd') {
      if (cfg.wd) g += cfg.wd * p;
      if (cfg.momentum) {
        buf = t === 1 ? g : cfg.momentum * buf + (1 - cfg.dampening) * g;
        g = cfg.nesterov ? g + cfg.momentum * buf : buf;
      }
      p -= cfg.lr * g;
    } else {
      if (cfg.kind === 'adam' && cfg.wd) g += cfg.wd * p;
      if (cfg.kind === 'adamw') p *= 1 - cfg.lr * cfg.wd;
      m = cfg.b1 * m + (1 - cfg.b1) * g;
      v = cfg.b2 * v + (1 - cfg.b2) * g * g;
      const mh = m / (1 - cfg.b1 ** t), vh = v / (1 - cfg.b2 ** t);
      p -= (cfg.lr * mh) / (Math.sqrt(vh) + cfg.eps);
    }
    return p;
  });
}

const CONFIGS: [string, Cfg, nn.Optimizer][] = [
  ['sgd momentum 0.9 wd 1e-2', { kind: 'sgd', lr: 0.05, momentum: 0.9, dampening: 0, nesterov: false, wd: 1e-2 }, nn.sgd(0.05, { momentum: 0.9, weightDecay: 1e-2 })],
  ['sgd nesterov 0.8', { kind: 'sgd', lr: 0.05, momentum: 0.8, dampening: 0, nesterov: true, wd: 0 }, nn.sgd(0.05, { momentum: 0.8, nesterov: true })],
  ['sgd dampening 0.3', { kind: 'sgd', lr: 0.05, momentum: 0.9, dampening: 0.3, nesterov: false, wd: 0 }, nn.sgd(0.05, { momentum: 0.9, dampening: 0.3 })],
  ['adam', { kind: 'adam', lr: 1e-2, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0 }, nn.adam(1e-2)],
  ['adam L2 1e-2, b2 0.99', { kind: 'adam', lr: 1e-2, b1: 0.9, b2: 0.99, eps: 1e-6, wd: 1e-2 }, nn.adam(1e-2, { b2: 0.99, eps: 1e-6, weightDecay: 1e-2 })],
  ['adamw (default wd 1e-2)', { kind: 'adamw', lr: 1e-2, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 1e-2 }, nn.adamw(1e-2)],
];

test('several steps on a pytree match the float64 reference (1e-12 in float64, 1e-6 in float32)', (t) => {
  const p0 = [0.3, -1.2, 2.0, 0.7, -0.05];
  const gradAt = (step: number, j: number) => Math.sin(1.3 * step + j) * (j + 1) * 0.4;
  const steps = 6;
  for (const [name, cfg, opt] of CONFIGS) {
    const want = p0.map((p, j) => reference(cfg, p, Array.from({ length: steps }, (_, s) => gradAt(s, j))));
    for (const dtype of ['float64', 'float32'] as const) {
      const split = (v: number[]) => ({ w: np.tensor([[v[0], v[1]], [v[2], v[3]]], { dtype }), layers: [{ b: np.tensor([v[4]], { dtype }) }], step: 'static' });
      let params: nn.Tree = split(p0), state = opt.init(params);
      for (let s = 0; s < steps; s++) ({ params, state } = opt.update(split(p0.map((_, j) => gradAt(s, j))), state, params));
      const got = [...params.w.dataSync(), ...params.layers[0].b.dataSync()];
      const tol = dtype === 'float64' ? 1e-12 : 1e-6;
      close(t, { shape: [5], data: got }, { shape: [5], data: want.map((w) => w[steps - 1]) }, `${name}, ${dtype}, ${steps} steps`, { rtol: tol, atol: tol });
      t.equal(params.step, 'static', `${name}: static leaves pass through`);
      t.equal(state.step, steps, `${name}: the step count is in the state`);
    }
  }
  t.end();
});

test('schedules: constant, step, cosine, warm-up, and a schedule driving an optimizer', (t) => {
  t.equal(nn.constant(0.1)(1000), 0.1, 'constant');
  t.deepEqual([0, 9, 10, 25].map(nn.stepDecay(1, 10, 0.5)), [1, 1, 0.5, 0.25], 'stepDecay: 1 * 0.5^floor(step / 10)');
  const cos = nn.cosine(1, 100, 0.1);
  near(t, cos(0), 1, 'cosine starts at lr'); near(t, cos(50), 0.55, 'cosine midway is the mean'); near(t, cos(100), 0.1, 'cosine ends at minLr');
  near(t, cos(150), 0.1, 'and stays there');
  const w = nn.warmup(4, nn.stepDecay(1, 2, 0.5));
  t.deepEqual([0, 1, 2, 3, 4, 5, 6].map(w), [0, 0.25, 0.5, 0.75, 1, 1, 0.5], 'warm-up 4 steps, then the schedule from its step 0');
  const ps = run(nn.sgd(nn.stepDecay(0.1, 1, 0.5)), 1, [1, 1, 1]);
  close(t, { shape: [3], data: ps }, { shape: [3], data: [0.9, 0.85, 0.825] }, 'sgd with lr 0.1, 0.05, 0.025 by step', { rtol: 1e-12 });
  t.end();
});

test('clipByGlobalNorm and clipped() as torch.nn.utils.clip_grad_norm_', (t) => {
  const g = { a: f64([3, 0]), b: [f64([[0, 4]])] };
  const { grads, norm } = nn.clipByGlobalNorm(g, 1);
  near(t, norm, 5, 'global norm over the whole tree');
  const c = 1 / (5 + 1e-6);
  close(t, grads.a, f64([3 * c, 0]), 'scaled by maxNorm / (norm + 1e-6)', { rtol: 1e-12 });
  close(t, grads.b[0], f64([[0, 4 * c]]), 'every leaf scaled alike', { rtol: 1e-12 });
  t.equal(nn.clipByGlobalNorm(g, 10).grads, g, 'below the limit nothing changes');
  const [p] = run(nn.clipped(nn.sgd(1), 0.5), 0, [2]);
  near(t, p, -2 * 0.5 / (2 + 1e-6), 'clipped(sgd) steps with the clipped gradient');
  t.end();
});

test('nonFinite: the path of the first tensor holding a NaN or Inf, undefined when all are finite', (t) => {
  const T = (v: np.NestedArray) => np.tensor(v);
  t.equal(nn.nonFinite({ a: T([1, 2]), b: [T(3), T([[4]])] }), undefined, 'all finite');
  t.equal(nn.nonFinite({ a: T([1, 2]), b: [T(3), T([[4, NaN]])] }), 'b[1]', 'a NaN, by its path');
  t.equal(nn.nonFinite({ x: { y: T([-Infinity]) }, z: T([NaN]) }), 'x.y', '-Inf, and the first in tree order');
  t.equal(nn.nonFinite({ w: np.tensor([1e300, 2], { dtype: 'float64' }) }), undefined, 'large but finite float64 (not cast to float32 on the way)');
  t.equal(nn.nonFinite({}), undefined, 'an empty tree');
  t.end();
});

test('optimizer updates are jitted once per kind of tree: a schedule and the step count do not trace again', (t) => {
  const warn = console.warn, warnings: string[] = [];
  console.warn = (...a: unknown[]) => { warnings.push(a.join(' ')); };
  try {
    for (const opt of [nn.adam((s: number) => 1e-2 / (1 + s)), nn.sgd((s: number) => 0.1 / (1 + s), { momentum: 0.9 })]) {
      let p: nn.Tree = { w: np.tensor([1, -2, 3]) }, st = opt.init(p);
      for (let i = 0; i < 40; i++) ({ params: p, state: st } = opt.update({ w: np.tensor([0.5, 0.5, -1]) }, st, p));
      t.ok(np.treeLeaves(p)[0].dataSync().every(Number.isFinite), `${opt.name}: 40 steps`);
    }
  } finally { console.warn = warn; }
  t.deepEqual(warnings, [], 'no "traced 32 kinds of arguments" warning: the numbers that change per step come in as tensors');
  t.end();
});
