/**
 * A gradient-check report (JAX's check_grads, PyTorch's gradcheck, as a table): for each float tensor
 * of the arguments, the derivative of the scalar `f` along a random direction d, once from `grad`
 * (<grad, d>) and once from float64 central differences ((f(x + e d) - f(x - e d)) / 2e), and their
 * relative error. Everything is cast to float64 first, so the differences measure the gradient, not
 * float32 rounding.
 * `console.log(formatGradCheck(gradCheck(loss, [params, batch])))`
 */
import { grad } from './autodiff.js';
import { isFloat } from './dtype.js';
import { flatten, unflatten } from './pytree.js';
import { OpError } from './shape.js';
import { Tensor } from './tensor.js';
import * as random from './random.js';
import { astype } from './prims/cast.js';
import { add } from './prims/add.js';
import { mul } from './prims/mul.js';
import { sum } from './prims/sum.js';

export interface GradCheckRow {
  /** which tensor: the argument's position, then its pytree keys (`0.w`, `1`) */
  path: string;
  shape: number[];
  analytic: number;
  numeric: number;
  /** |analytic - numeric| / max(|analytic|, |numeric|, 1e-12) */
  relError: number;
}

/** Pytree paths of a tree's tensors, in flatten's order: `0.w`, `1`, `params.layers.0.bias`. */
function paths(tree: unknown, at = ''): string[] {
  if (tree instanceof Tensor) return [at || '.'];
  if (Array.isArray(tree)) return tree.flatMap((c, i) => paths(c, at ? `${at}.${i}` : String(i)));
  if (typeof tree === 'object' && tree !== null && Object.getPrototypeOf(tree) === Object.prototype) {
    return Object.keys(tree).sort().flatMap((k) => paths((tree as Record<string, unknown>)[k], at ? `${at}.${k}` : k));
  }
  return [];
}

/**
 * One row per float tensor among `args` (f's arguments, any pytrees): `f`'s directional derivative
 * by grad and by central differences (step `eps`, default 1e-6) along a random direction from `key`.
 * `gradCheck((w, x) => np.sum(np.tanh(np.matmul(x, w))), [w, x])`
 */
export function gradCheck(f: (...args: any[]) => Tensor, args: readonly unknown[], opts: { eps?: number; key?: random.Key } = {}): GradCheckRow[] {
  const eps = opts.eps ?? 1e-6;
  const [leaves, def] = flatten([...args]);
  const names = paths(args);
  const x64 = leaves.map((t) => (isFloat(t.dtype) ? astype(t, 'float64') : t));
  const call = (xs: Tensor[]) => {
    const y = f(...unflatten<unknown[]>(def, xs));
    if (!(y instanceof Tensor) || y.size !== 1) throw new OpError('gradCheck', 'the function must return a scalar tensor');
    return sum(y);
  };
  const g = grad((xs: Tensor[]) => call(xs))(x64) as Tensor[];
  const keys = random.split(opts.key ?? random.key(0), Math.max(1, leaves.length));
  const rows: GradCheckRow[] = [];
  x64.forEach((x, i) => {
    if (!isFloat(x.dtype)) return;
    const d = random.normal(keys[i], [...x.shape], { dtype: 'float64' });
    const at = (s: number) => call(x64.map((y, j) => (j === i ? add(y, mul(d, s * eps)) : y))).item();
    const numeric = (at(1) - at(-1)) / (2 * eps);
    const analytic = sum(mul(g[i], d)).item();
    rows.push({ path: names[i], shape: [...x.shape], analytic, numeric, relError: Math.abs(analytic - numeric) / Math.max(Math.abs(analytic), Math.abs(numeric), 1e-12) });
  });
  return rows;
}

/** The report as a text table, worst error last flagged when above `tol` (default 1e-6). */
export function formatGradCheck(rows: readonly GradCheckRow[], tol = 1e-6): string {
  const w = Math.max(4, ...rows.map((r) => r.path.length));
  const lines = [`${'path'.padEnd(w)}  ${'shape'.padEnd(14)} ${'grad . d'.padStart(14)} ${'finite diff'.padStart(14)} ${'rel. error'.padStart(10)}`];
  for (const r of rows) {
    lines.push(`${r.path.padEnd(w)}  ${`[${r.shape.join(', ')}]`.padEnd(14)} ${r.analytic.toPrecision(8).padStart(14)} ${r.numeric.toPrecision(8).padStart(14)} ${r.relError.toExponential(1).padStart(10)}${r.relError > tol ? '  <- above ' + tol : ''}`);
  }
  return lines.join('\n');
}
