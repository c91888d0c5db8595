/**
 * Test helpers: closeness of tensors to references, and gradient checks by float64 central
 * differences along a random direction (the JAX way: one directional derivative per check).
 */
import type { Test } from 'tape';
import * as np from '../core/index.js';

export type Nd = { shape: number[]; data: ArrayLike<number> };

/** |a - b| <= atol + rtol |b| elementwise, shapes equal; reports the worst element. */
export function close(t: Test, actual: np.Tensor | Nd, expected: np.Tensor | Nd, msg: string, { rtol = 1e-5, atol = 1e-6 } = {}): void {
  const a = actual instanceof np.Tensor ? { shape: [...actual.shape], data: actual.dataSync() } : actual;
  const e = expected instanceof np.Tensor ? { shape: [...expected.shape], data: expected.dataSync() } : expected;
  if (a.shape.length !== e.shape.length || a.shape.some((d, i) => d !== e.shape[i])) {
    t.deepEqual(a.shape, e.shape, `${msg}: shape`);
    return;
  }
  let worst = -1, worstErr = 0;
  for (let i = 0; i < a.data.length; i++) {
    const x = a.data[i], y = e.data[i];
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    if (x === y) continue;
    const err = Math.abs(x - y) - (atol + rtol * Math.abs(y));
    if (!(err <= 0) && (worst < 0 || err > worstErr || Number.isNaN(err))) { worst = i; worstErr = err; }
  }
  if (worst < 0) t.pass(msg);
  else t.fail(`${msg}: element ${worst} is ${a.data[worst]}, expected ${e.data[worst]} (rtol ${rtol}, atol ${atol})`);
}

let seed = 1000;
/** A fresh deterministic key for each call. */
export const nextKey = () => np.random.key(seed++);

export type Kind = 'normal' | 'positive' | 'int' | 'bool' | { int: number } | { fixed: np.Tensor };

/** A random input of `shape` and `kind` (float64 unless integer or bool). */
export function input(shape: number[], kind: Kind = 'normal', dtype: np.DType = 'float64'): np.Tensor {
  if (typeof kind === 'object' && 'fixed' in kind) return kind.fixed;
  if (typeof kind === 'object') return np.random.randint(nextKey(), shape, 0, kind.int);
  if (kind === 'int') return np.random.randint(nextKey(), shape, -5, 5);
  if (kind === 'bool') return np.random.bernoulli(nextKey(), 0.5, shape);
  const x = np.random.normal(nextKey(), shape, { dtype });
  return kind === 'positive' ? np.add(np.abs(x), 0.5) : x;
}

const isDiff = (x: np.Tensor) => x.dtype === 'float64' || x.dtype === 'float32';

/** sum(f(...xs) * w) for a fixed random weight w of f's output shape: a scalar loss that sees every output. */
function weightedLoss(f: (...xs: np.Tensor[]) => np.Tensor, xs: np.Tensor[]) {
  const y0 = f(...xs);
  const w = np.random.normal(nextKey(), [...y0.shape], { dtype: 'float64' });
  return (...zs: np.Tensor[]) => np.sum(np.mul(np.astype(f(...zs), 'float64'), w));
}

const dot = (a: np.Tensor, b: np.Tensor) => np.sum(np.mul(a, b)).item();

/**
 * Check the vjp of `f` at `xs` against central differences along a random direction v:
 * <grad L(x), v> == (L(x + eps v) - L(x - eps v)) / 2 eps, for L = sum(f(x) * w).
 * With `second`, also check grad of grad the same way on x -> <grad L(x), u>.
 */
export function checkGrad(t: Test, f: (...xs: np.Tensor[]) => np.Tensor, xs: np.Tensor[], msg: string,
  { eps = 1e-6, rtol = 1e-6, second = false } = {}): void {
  const argnums = xs.flatMap((x, i) => (isDiff(x) ? [i] : []));
  if (argnums.length === 0) return;
  const L = weightedLoss(f, xs);
  const dirs = xs.map((x) => (isDiff(x) ? np.random.normal(nextKey(), [...x.shape], { dtype: 'float64' }) : x));
  const shift = (s: number) => xs.map((x, i) => (isDiff(x) ? np.add(x, np.mul(dirs[i], s)) : x));
  compare(t, L, xs, argnums, dirs, shift, eps, rtol, `${msg}: vjp`);
  if (second) {
    const us = xs.map((x) => (isDiff(x) ? np.random.normal(nextKey(), [...x.shape], { dtype: 'float64' }) : x));
    const gL = np.grad(L, { argnums });
    const M = (...zs: np.Tensor[]) => {
      const gs = gL(...zs) as np.Tensor[];
      return argnums.map((a, j) => np.sum(np.mul(gs[j], us[a]))).reduce((p, q) => np.add(p, q));
    };
    compare(t, M, xs, argnums, dirs, shift, eps * 10, rtol * 100, `${msg}: grad of grad`);
  }
}

function compare(t: Test, L: (...xs: np.Tensor[]) => np.Tensor, xs: np.Tensor[], argnums: number[], dirs: np.Tensor[],
  shift: (s: number) => np.Tensor[], eps: number, rtol: number, msg: string): void {
  const gs = np.grad(L, { argnums })(...xs) as np.Tensor[];
  const analytic = argnums.reduce((acc, a, j) => acc + dot(gs[j], dirs[a]), 0);
  const numeric = (L(...shift(eps)).item() - L(...shift(-eps)).item()) / (2 * eps);
  const tol = rtol * Math.max(1, Math.abs(analytic), Math.abs(numeric));
  if (Math.abs(analytic - numeric) <= tol) t.pass(msg);
  else t.fail(`${msg}: analytic ${analytic} vs numeric ${numeric} (diff ${Math.abs(analytic - numeric).toExponential(2)} > ${tol.toExponential(2)})`);
}

/** Expect `fn` to throw an error whose message matches every pattern. */
export function throwsWith(t: Test, fn: () => unknown, patterns: RegExp[], msg: string): void {
  try {
    fn();
    t.fail(`${msg}: did not throw`);
  } catch (e) {
    const m = String((e as Error).message);
    const missing = patterns.filter((p) => !p.test(m));
    if (missing.length === 0) t.pass(`${msg} (${m})`);
    else t.fail(`${msg}: message "${m}" lacks ${missing.join(', ')}`);
  }
}
