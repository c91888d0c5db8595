/**
 * Optimizers as pure functions lifted over pytrees: `init(params) -> state` and
 * `update(grads, state, params) -> {params, state}`, nothing mutated. The update formulas are
 * PyTorch's (torch.optim.SGD, Adam, AdamW), including its first-step momentum buffer, its bias
 * correction and its two kinds of weight decay, so runs are comparable with the reference code.
 * The learning rate may be a schedule of the step count (see schedules.ts). Each update is an API
 * boundary (core's withScope): on a device backend, its intermediates are freed when it returns.
 */
import * as np from '../core/index.js';
import type { Tree } from './layer.js';
import { encodeTree } from './manifest.js';
import type { LearningRate } from './schedules.js';

/** An optimizer: its state from the params, and a pure update from gradients. */
export interface Optimizer<S = Tree> {
  readonly name: string;
  init(params: Tree): S;
  update(grads: Tree, state: S, params: Tree): { params: Tree; state: S };
  /**
   * The update in stages, for a caller that jits a step of its own with the update inside (trainStep
   * does): `update(g, s, p)` is `finish(s, apply(g, tensors, p, scalars).tensors)` with the params from
   * that apply, where `{scalars, tensors} = prepare(s, p)`. prepare and finish are host work (the step
   * count, a schedule's learning rate); apply is a pure function of tensors, to trace. Scalars that
   * change every step are tensors; static ones (SGD's first step) are plain values.
   * Absent where an update reads values on the host (clipped's norm).
   */
  readonly stages?: {
    prepare(state: S, params: Tree): { scalars: Tree; tensors: Tree };
    apply(grads: Tree, tensors: Tree, params: Tree, scalars: Tree): { params: Tree; tensors: Tree };
    finish(state: S, tensors: Tree): S;
  };
}

/** An optimizer from its stages: `update` runs them, apply jitted (one fused program per kind of tree). */
function staged<S>(name: string, init: (params: Tree) => S, stages: NonNullable<Optimizer<S>['stages']>): Optimizer<S> {
  const apply = np.jit(stages.apply);
  return {
    name, init, stages,
    update: (grads, state, params) => np.withScope(() => {
      const { scalars, tensors } = stages.prepare(state, params);
      const out = apply(grads, tensors, params, scalars);
      return { params: out.params, state: stages.finish(state, out.tensors) };
    }),
  };
}

const lrAt = (lr: LearningRate, step: number): number => (typeof lr === 'number' ? lr : lr(step));
/**
 * A number that changes every step (a learning rate, a bias correction) as a scalar for a jitted
 * update, on the params' backend (the default one may be another: params moved with toBackend).
 */
const f64 = (x: number, params: Tree) => np.tensor(x, { dtype: 'float64', backend: np.treeLeaves(params)[0]?.backend?.name });
const zerosLike = (tree: Tree): Tree => np.treeMap(tree, (p) => np.zerosLike(p));

/** SGD's hyperparameters, as torch.optim.SGD's (defaults 0 / false). */
export interface SgdOptions {
  momentum?: number;
  dampening?: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0, as PyTorch). */
  nesterov?: boolean;
  /** L2 penalty added to the gradient: g += weightDecay * p. */
  weightDecay?: number;
}

/**
 * SGD as torch.optim.SGD: g = grad + wd p; buf = g on the first step, else momentum buf + (1 - dampening) g;
 * step with buf, or g + momentum buf for Nesterov. State {step, momentum}.
 * `sgd(0.1, {momentum: 0.9, nesterov: true})`
 */
export function sgd(lr: LearningRate, { momentum = 0, dampening = 0, nesterov = false, weightDecay = 0 }: SgdOptions = {}): Optimizer {
  if (nesterov && (momentum <= 0 || dampening !== 0)) throw new Error('sgd: Nesterov momentum needs momentum > 0 and dampening 0');
  const decayed = (g: np.Tensor, p: np.Tensor) => (weightDecay ? np.add(g, np.mul(p, weightDecay)) : g);
  // the tensor work of one update (the learning rate comes in as a scalar tensor, so a schedule does
  // not trace again; `first` is static: two programs at most)
  return staged(`sgd(${momentum ? `momentum ${momentum}${nesterov ? ', nesterov' : ''}` : 'plain'})`,
    (params) => (momentum ? { step: 0, momentum: zerosLike(params) } : { step: 0 }), {
      prepare: (state, params) => ({ scalars: { lr: f64(lrAt(lr, state.step), params), first: momentum > 0 && state.step === 0 }, tensors: state.momentum ?? {} }),
      apply: (grads, momenta, params, { lr: lr_, first }) => {
        if (!momentum) return { params: np.treeZip([params, grads], (p, g) => np.sub(p, np.mul(decayed(g, p), np.astype(lr_, p.dtype)))), tensors: {} };
        const buf = np.treeZip([params, grads, momenta], (p, g, b) =>
          (first ? decayed(g, p) : np.add(np.mul(b, momentum), np.mul(decayed(g, p), 1 - dampening))));
        const next = np.treeZip([params, grads, buf], (p, g, b) =>
          np.sub(p, np.mul(nesterov ? np.add(decayed(g, p), np.mul(b, momentum)) : b, np.astype(lr_, p.dtype))));
        return { params: next, tensors: buf };
      },
      finish: (state, buf) => (momentum ? { step: state.step + 1, momentum: buf } : { step: state.step + 1 }),
    });
}

/** Adam's hyperparameters, as torch.optim.Adam's (b1 0.9, b2 0.999, eps 1e-8). */
export interface AdamOptions {
  b1?: number;
  b2?: number;
  eps?: number;
  /** Adam: L2 penalty added to the gradient (g += wd p). AdamW: decoupled decay (p *= 1 - lr wd). */
  weightDecay?: number;
}

function adamLike(kind: 'adam' | 'adamw', lr: LearningRate, { b1 = 0.9, b2 = 0.999, eps = 1e-8, weightDecay = kind === 'adamw' ? 1e-2 : 0 }: AdamOptions): Optimizer {
  // the tensor work of one update, fused per param when jitted (one pass over memory instead of a
  // dozen kernels); the numbers that change every step come in as float64 scalars, rounded to each
  // param's dtype as a number would be
  const apply = (grads: Tree, { mu, nu }: { mu: Tree; nu: Tree }, params: Tree, s: { stepSize: np.Tensor; bc2Sqrt: np.Tensor; decay: np.Tensor }) => {
    const gs = kind === 'adam' && weightDecay ? np.treeZip([grads, params], (g, p) => np.add(g, np.mul(p, weightDecay))) : grads;
    const mu2 = np.treeZip([mu, gs], (m, g) => np.add(np.mul(m, b1), np.mul(g, 1 - b1)));
    const nu2 = np.treeZip([nu, gs], (v, g) => np.add(np.mul(v, b2), np.mul(np.mul(g, g), 1 - b2)));
    const next = np.treeZip([params, mu2, nu2], (p, m, v) => {
      const base = kind === 'adamw' && weightDecay ? np.mul(p, np.astype(s.decay, p.dtype)) : p;
      const denom = np.add(np.div(np.sqrt(v), np.astype(s.bc2Sqrt, v.dtype)), eps);
      return np.sub(base, np.mul(np.div(m, denom), np.astype(s.stepSize, p.dtype)));
    });
    return { params: next, tensors: { mu: mu2, nu: nu2 } };
  };
  return staged(`${kind}(b1 ${b1}, b2 ${b2}, eps ${eps}, weight decay ${weightDecay})`, (params) => ({ step: 0, mu: zerosLike(params), nu: zerosLike(params) }), {
    prepare: (state, params) => {
      const t = state.step + 1, lr_ = lrAt(lr, state.step);
      const scalars = {
        stepSize: f64(lr_ / (1 - b1 ** t), params), bc2Sqrt: f64(Math.sqrt(1 - b2 ** t), params),
        decay: f64(1 - lr_ * weightDecay, params),
      };
      return { scalars, tensors: { mu: state.mu, nu: state.nu } };
    },
    apply: apply as never,
    finish: (state, { mu, nu }) => ({ step: state.step + 1, mu, nu }),
  });
}

/**
 * Adam as torch.optim.Adam (weight decay, if any, is the L2 kind: g += wd p). State {step, mu, nu}.
 * `adam(1e-4, {weightDecay: 1e-5})`
 */
export const adam = (lr: LearningRate, opts: AdamOptions = {}): Optimizer => adamLike('adam', lr, opts);

/**
 * AdamW as torch.optim.AdamW: decoupled weight decay p *= 1 - lr wd before the Adam step (default wd 1e-2).
 * `adamw(1e-3, {weightDecay: 0.05})`
 */
export const adamw = (lr: LearningRate, opts: AdamOptions = {}): Optimizer => adamLike('adamw', lr, opts);

/**
 * Scale a gradient tree so its global L2 norm is at most `maxNorm`, as torch.nn.utils.clip_grad_norm_
 * (coefficient maxNorm / (norm + 1e-6), capped at 1). Returns the clipped tree and the norm before clipping.
 * `const {grads, norm} = clipByGlobalNorm(g, 1.0)`
 */
export function clipByGlobalNorm(grads: Tree, maxNorm: number): { grads: Tree; norm: number } {
  const norm = Math.sqrt(np.treeLeaves(grads).reduce((s, g) => s + np.sum(np.mul(g, g)).item(), 0));
  const coef = maxNorm / (norm + 1e-6);
  return { grads: coef < 1 ? np.treeMap(grads, (g) => np.mul(g, coef)) : grads, norm };
}

/** `opt` with the gradients clipped to global norm `maxNorm` before every update. `clipped(adam(1e-3), 1)` */
export function clipped<S>(opt: Optimizer<S>, maxNorm: number): Optimizer<S> {
  return {
    name: `clipped(${opt.name}, ${maxNorm})`,
    init: opt.init,
    update: (grads, state, params) => opt.update(clipByGlobalNorm(grads, maxNorm).grads, state, params),
  };
}

/**
 * The path of the first tensor in `tree` holding a NaN or an Inf, or undefined if every value is
 * finite. One scalar read decides the common case (0 * x is 0 for finite x, NaN otherwise); only a
 * bad tree is searched leaf by leaf. `nonFinite({w: tensor([1, NaN])})` → 'w'
 */
export function nonFinite(tree: Tree): string | undefined {
  const { tensors, paths } = encodeTree(np.treePlain(tree));
  const probe = tensors.reduce((acc: np.Tensor, t) => np.add(acc, np.sum(np.mul(t, 0))), np.tensor(0));
  if (Number.isFinite(probe.item())) return undefined;
  const i = tensors.findIndex((t) => t.dataSync().some((v) => !Number.isFinite(v as number)));
  return i < 0 ? undefined : paths[i];
}
