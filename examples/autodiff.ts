/**
 * An autodiff walkthrough, each step printed: vjp and its pullback, grad over a pytree, grad of grad
 * (a Hessian-vector product, two ways), jvp, customVjp, stopGradient, per-example gradients with
 * vmap, and a finite-difference check written out in the open. `npx tsx examples/autodiff.ts`
 */
import * as np from '../core/index.js';

const f64 = (x: np.NestedArray) => np.tensor(x, { dtype: 'float64' });
const round = (a: unknown): unknown => (Array.isArray(a) ? a.map(round) : Number((a as number).toPrecision(6)));
const show = (what: string, t: np.Tensor | number) =>
  console.log(`${what.padEnd(44)} ${JSON.stringify(round(typeof t === 'number' ? t : t.toArray()))}`);

// 1. vjp: the value and a pullback, a function from output cotangents to input cotangents
const f = (x: np.Tensor) => np.mul(np.square(np.tanh(x)), x);
const x = f64([0.5, 1, 2]);
const [y, pullback] = np.vjp(f, x);
show('f(x) = tanh(x)^2 x', y);
show('pullback(ones): df/dx elementwise', pullback(np.onesLike(y))[0]);

// 2. grad over a pytree: the gradient has the params' structure
const params = { w: f64([[1, -2], [0.5, 3]]), b: f64([0.1, -0.1]) };
const loss = (p: typeof params, xs: np.Tensor) => np.sum(np.square(np.tanh(np.add(np.matmul(xs, p.w), p.b))));
const xs = f64([[1, 2], [-1, 0.5]]);
const g = np.grad(loss)(params, xs);
show('d loss / d w', g.w);
show('d loss / d b', g.b);

// 3. grad of grad: a Hessian-vector product, reverse over reverse and forward over reverse
const h = (v: np.Tensor) => np.sum(np.mul(np.square(v), np.tanh(v)));
const v = f64([0.3, -1.2]), dir = f64([1, 2]);
const hvpRev = np.grad((u: np.Tensor) => np.sum(np.mul(np.grad(h)(u), dir)))(v);
const [, hvpFwd] = np.jvp(np.grad(h), [v], [dir]);
show('H v, reverse over reverse', hvpRev);
show('H v, forward over reverse', hvpFwd);
show('H v from the full Hessian (jacfwd of jacrev)', np.matmul(np.hessian(h)(v), dir));

// 4. jvp: the directional derivative, pushed forward
const [, tangent] = np.jvp(f, [x], [f64([1, 0, 0])]);
show('jvp along e0: column 0 of the Jacobian', tangent);

// 5. customVjp: a hand-written derivative (here a clipped gradient, as in gradient clipping)
const clipGrad = np.customVjp((a: np.Tensor) => a, (a: np.Tensor) => [a, null], (_res, ct) => [np.clip(ct, -1, 1)]);
show('grad of sum(3 clipGrad(x)): clipped to 1', np.grad((a: np.Tensor) => np.sum(np.mul(clipGrad(a), 3)))(x));

// 6. stopGradient: a constant to the derivative, a value to the forward pass
show('grad of sum(stopGradient(x) * x) = x', np.grad((a: np.Tensor) => np.sum(np.mul(np.stopGradient(a), a)))(x));

// 7. vmap(grad): one gradient per example, without a loop
const perExample = np.vmap(np.grad((p: typeof params, row: np.Tensor) => loss(p, np.reshape(row, [1, 2]))), { inAxes: [null, 0] })(params, xs);
show('per-example d loss / d b (rows sum to d/db)', perExample.b);

// 8. a finite-difference check, in the open: (L(p + e d) - L(p - e d)) / 2e against <grad, d>
const d = { w: f64([[0.3, -0.1], [0.2, 0.5]]), b: f64([-0.4, 0.7]) };
const eps = 1e-6;
const shifted = (s: number) => np.treeZip([params, d], (p, q) => np.add(p, np.mul(q, s * eps))) as typeof params;
const numeric = (loss(shifted(1), xs).item() - loss(shifted(-1), xs).item()) / (2 * eps);
const analytic = np.treeLeaves(np.treeZip([g, d], (a, q) => np.sum(np.mul(a, q)))).reduce((s, t) => s + t.item(), 0);
show('directional derivative, central difference', numeric);
show('directional derivative, <grad, d>', analytic);
