/**
 * Test helpers: closeness of tensors to references, and gradient checks by float64 central
 * differences along a random direction (the JAX way: one directional derivative per check).
 */
import type { Test } from 'tape';
import * as np from '../core/index.js';

export type Nd = { shape: number[]; data: ArrayLike<number> };

/** The backend this run tests (spec/run.ts runs backend-generic files once per backend). */
export const backend = np.currentBackend();
export const onGpu = backend === 'gpu';

/** A tolerance for this backend: the GPU computes in float32, so it never asks for less than that. */
export const tolFor = ({ rtol = 1e-5, atol = 1e-6 } = {}) =>
  onGpu ? { rtol: Math.max(rtol, 3e-5), atol: Math.max(atol, 3e-5) } : { rtol, atol };

/** |a - b| <= atol + rtol |b| elementwise, shapes equal; reports the worst element. */
export function close(t: Test, actual: np.Tensor | Nd, expected: np.Tensor | Nd, msg: string, tol: { rtol?: number; atol?: number } = {}): void {
  const { rtol, atol } = tolFor(tol);
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
  const wOn = new Map<string, np.Tensor>();
  return (...zs: np.Tensor[]) => {
    const b = zs[0].concrete().backend!.name;
    if (!wOn.has(b)) wOn.set(b, np.toBackend(w, b));
    return np.sum(np.mul(np.astype(f(...zs), 'float64'), wOn.get(b)!));
  };
}

const dot = (a: np.Tensor, b: np.Tensor) => np.sum(np.mul(a, b)).item();
const toCpu = (x: np.Tensor) => np.toBackend(x, 'cpu');

/**
 * Check the vjp of `f` at `xs` against central differences along a random direction v:
 * <grad L(x), v> == (L(x + eps v) - L(x - eps v)) / 2 eps, for L = sum(f(x) * w).
 * With `second`, also check grad of grad the same way on x -> <grad L(x), u>.
 * On the GPU (float32) the derivative is the GPU's and the differences are taken in float64 on
 * the CPU from the same inputs, with a float32 tolerance.
 */
export function checkGrad(t: Test, f: (...xs: np.Tensor[]) => np.Tensor, xs: np.Tensor[], msg: string,
  { eps = 1e-6, rtol = 1e-6, second = false } = {}): void {
  const argnums = xs.flatMap((x, i) => (isDiff(x) ? [i] : []));
  if (argnums.length === 0) return;
  const L = weightedLoss(f, xs);
  const dirs = xs.map((x) => (isDiff(x) ? np.random.normal(nextKey(), [...x.shape], { dtype: 'float64' }) : x));
  const shift = (s: number) => xs.map((x, i) => (isDiff(x) ? np.add(toCpu(x), np.mul(toCpu(dirs[i]), s)) : toCpu(x)));
  const tol = onGpu ? 3e-4 : rtol;
  compare(t, L, xs, argnums, dirs, shift, eps, tol, `${msg}: vjp`);
  if (second) {
    const us = xs.map((x) => (isDiff(x) ? np.random.normal(nextKey(), [...x.shape], { dtype: 'float64' }) : x));
    const gL = np.grad(L, { argnums });
    const M = (...zs: np.Tensor[]) => {
      const gs = gL(...zs) as np.Tensor[];
      const b = gs[0].concrete().backend!.name;
      return argnums.map((a, j) => np.sum(np.mul(gs[j], np.toBackend(us[a], b)))).reduce((p, q) => np.add(p, q));
    };
    compare(t, M, xs, argnums, dirs, shift, eps * 10, onGpu ? 1e-3 : rtol * 100, `${msg}: grad of grad`);
  }
}

function compare(t: Test, L: (...xs: np.Tensor[]) => np.Tensor, xs: np.Tensor[], argnums: number[], dirs: np.Tensor[],
  shift: (s: number) => np.Tensor[], eps: number, rtol: number, msg: string): void {
  const gs = np.grad(L, { argnums })(...xs) as np.Tensor[];
  const analytic = argnums.reduce((acc, a, j) => acc + dot(gs[j], dirs[a]), 0);
  // the size of the terms summed, so float32 rounding is judged against it, not against a cancelled total
  const scale = argnums.reduce((acc, a, j) => acc + dot(np.abs(gs[j]), np.abs(dirs[a])), 0);
  let numeric: number;
  try {
    numeric = (L(...shift(eps)).item() - L(...shift(-eps)).item()) / (2 * eps);
  } catch (e) {
    // f closes over GPU tensors, so it cannot run on the CPU copies: difference in float32 on the GPU,
    // with a step and a tolerance fit for float32
    if (!onGpu || !/different backends/.test(String(e))) throw e;
    const h = 1e-2, at = (s: number) => xs.map((x, i) => (isDiff(x) ? np.add(x, np.mul(np.toBackend(dirs[i], 'gpu'), s)) : x));
    numeric = (L(...at(h)).item() - L(...at(-h)).item()) / (2 * h);
    rtol = Math.max(rtol, 1e-2);
  }
  const tol = rtol * Math.max(1, Math.abs(analytic), Math.abs(numeric), onGpu ? scale : 0);
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

/** `fn` throws an OpError whose message starts with `op:` and matches every pattern. */
export function opError(t: Test, fn: () => unknown, op: string, patterns: RegExp[], msg: string): void {
  try {
    fn();
    t.fail(`${msg}: did not throw`);
  } catch (e) {
    const m = String((e as Error).message);
    const bad = [new RegExp(`^${op}: `), ...patterns].filter((p) => !p.test(m));
    if (!(e instanceof np.OpError)) t.fail(`${msg}: threw ${(e as Error).name}, not OpError (${m})`);
    else if (bad.length) t.fail(`${msg}: message "${m}" lacks ${bad.join(', ')}`);
    else t.pass(`${msg} (${m})`);
  }
}
