/** @backends cpu gpu
 *
 * Autodiff: grad of grad (a Hessian-vector product), forward mode, pytrees, argnums and hasAux,
 * customVjp and stopGradient, and the errors grad raises for a function it cannot differentiate.
 */
import test from 'tape';
import * as np from '../../core/index.js';
import { checkGrad, close, input, onGpu, throwsWith } from '../helpers.js';

const f64 = (x: np.NestedArray) => np.tensor(x, { dtype: 'float64' });

test('grad of a simple polynomial, and of its gradient', (t) => {
  const f = (x: np.Tensor) => np.sum(np.pow(x, 3));
  const x = f64([1, -2, 3]);
  close(t, np.grad(f)(x), f64([3, 12, 27]), 'd/dx x^3 = 3x^2');
  close(t, np.grad((y: np.Tensor) => np.sum(np.grad(f)(y)))(x), f64([6, -12, 18]), 'd2/dx2 x^3 = 6x');
  const third = np.grad((z: np.Tensor) => np.sum(np.grad((y: np.Tensor) => np.sum(np.grad(f)(y)))(z)))(x);
  close(t, third, f64([6, 6, 6]), 'third derivative is 6');
  t.end();
});

test('Hessian-vector product: forward-over-reverse equals reverse-over-reverse equals the exact Hessian', (t) => {
  // f(x) = sum(tanh(A x)^2) + (x . x)^2 / 4, Hessian known in closed form
  const A = input([4, 3]);
  const f = (x: np.Tensor) => np.add(np.sum(np.square(np.tanh(np.matmul(A, x)))), np.div(np.square(np.sum(np.square(x))), 4));
  const x = input([3]), v = input([3]);
  const [, hvpFwd] = np.jvp(np.grad(f), [x], [v]);
  const hvpRev = np.grad((y: np.Tensor) => np.sum(np.mul(np.grad(f)(y), v)))(x);
  // exact: H = A^T diag(2 (1 - 3 t^2)(1 - t^2)) A + (x.x) I + 2 x x^T with t = tanh(A x)
  const tt = np.tanh(np.matmul(A, x));
  const d = np.mul(np.mul(2, np.sub(1, np.mul(3, np.square(tt)))), np.sub(1, np.square(tt)));
  const H = np.add(np.add(np.matmul(np.transpose(A), np.mul(np.expandDims(d, 1), A)), np.mul(np.sum(np.square(x)), np.eye(3, 'float64'))),
    np.mul(2, np.matmul(np.expandDims(x, 1), np.expandDims(x, 0))));
  const exact = np.matmul(H, v);
  close(t, hvpRev, exact, 'reverse-over-reverse HVP', { rtol: 1e-10, atol: 1e-12 });
  close(t, hvpFwd, exact, 'forward-over-reverse HVP', { rtol: 1e-10, atol: 1e-12 });
  t.end();
});

test('jvp matches vjp: <J t, u> == <t, J^T u>', (t) => {
  const f = (a: np.Tensor, b: np.Tensor) => np.softmax(np.matmul(a, np.tanh(b)));
  const a = input([3, 4]), b = input([4, 2]);
  const ta = input([3, 4]), tb = input([4, 2]), u = input([3, 2]);
  const [y, jt] = np.jvp(f, [a, b], [ta, tb]);
  const [y2, pb] = np.vjp(f, a, b);
  const [ga, gb] = pb(u);
  close(t, y, y2, 'same primal output');
  const lhs = np.sum(np.mul(jt, u)).item();
  const rhs = np.sum(np.mul(ga, ta)).item() + np.sum(np.mul(gb, tb)).item();
  t.ok(Math.abs(lhs - rhs) < (onGpu ? 1e-4 : 1e-12) * Math.max(1, Math.abs(lhs)), `dot-product test ${lhs} vs ${rhs}`);
  t.end();
});

test('pytree arguments and outputs', (t) => {
  const params = { w: input([3, 2]), layers: [{ b: input([2]) }, { b: input([2]) }], name: 'mlp', n: 3 };
  const x = input([5, 3]);
  const loss = (p: typeof params, x: np.Tensor) =>
    np.sum(np.square(np.add(np.add(np.matmul(x, p.w), p.layers[0].b), np.mul(p.layers[1].b, p.n))));
  const g = np.grad(loss)(params, x);
  t.deepEqual(Object.keys(g).sort(), ['layers', 'n', 'name', 'w'], 'gradient has the params structure');
  t.equal(g.name, 'mlp', 'static leaves pass through');
  t.deepEqual(g.layers[1].b.shape, [2], 'nested leaf shape');
  // each leaf against a finite-difference check on that leaf alone
  checkGrad(t, (w) => loss({ ...params, w }, x), [params.w], 'pytree leaf w');
  checkGrad(t, (b) => loss({ ...params, layers: [params.layers[0], { b }] }, x), [params.layers[1].b], 'pytree leaf layers[1].b');
  close(t, g.layers[1].b, np.grad((b: np.Tensor) => loss({ ...params, layers: [params.layers[0], { b }] }, x))(params.layers[1].b), 'same gradient through the tree');
  const [out, pb] = np.vjp((a: np.Tensor) => ({ s: np.sum(a), d: [np.mul(a, 2)] }), x);
  t.deepEqual(out.d[0].shape, [5, 3], 'pytree output');
  const [ga] = pb({ s: np.tensor(1, { dtype: 'float64' }), d: [np.ones([5, 3], 'float64')] });
  close(t, ga, np.full([5, 3], 3, 'float64'), 'pullback of a pytree output');
  t.end();
});

test('argnums, hasAux and valueAndGrad', (t) => {
  const f = (a: np.Tensor, b: np.Tensor) => np.sum(np.mul(a, b));
  const a = f64([1, 2]), b = f64([3, 4]);
  close(t, np.grad(f, { argnums: 1 })(a, b), a, 'argnums 1');
  const [ga, gb] = np.grad(f, { argnums: [0, 1] })(a, b);
  close(t, ga, b, 'argnums [0, 1] first');
  close(t, gb, a, 'argnums [0, 1] second');
  const [[v, aux], g] = np.valueAndGrad((x: np.Tensor) => [np.sum(np.square(x)), { norm: np.sqrt(np.sum(np.square(x))) }], { hasAux: true })(a);
  t.equal(v.item(), 5, 'value');
  t.ok(Math.abs(aux.norm.item() - Math.sqrt(5)) < (onGpu ? 1e-6 : 1e-12), 'aux passes through');
  close(t, g, f64([2, 4]), 'gradient with aux');
  t.end();
});

test('customVjp uses the given backward rule; stopGradient blocks cotangents', (t) => {
  // a straight-through estimator: forward rounds, backward passes ct unchanged
  const roundSte = np.customVjp(
    (x: np.Tensor) => np.astype(np.astype(np.add(x, 0.5), 'int32'), x.dtype),
    (x: np.Tensor) => [np.astype(np.astype(np.add(x, 0.5), 'int32'), x.dtype), null],
    (_res, ct) => [ct],
  );
  const x = f64([0.2, 1.7]);
  close(t, roundSte(x), f64([0, 2]), 'custom forward');
  close(t, np.grad((y: np.Tensor) => np.sum(np.mul(roundSte(y), f64([3, 5]))))(x), f64([3, 5]), 'custom backward');
  close(t, np.grad((y: np.Tensor) => np.mul(np.stopGradient(y), y))(f64(3)), f64(3), 'stopGradient: d/dx (c x) = c');
  // a custom rule for a numerically hard function: log(1 + e^x) with a stable derivative
  const softplus = np.customVjp(
    (x: np.Tensor) => np.add(np.maximum(x, 0), np.log(np.add(1, np.exp(np.neg(np.abs(x)))))),
    (x: np.Tensor) => [np.add(np.maximum(x, 0), np.log(np.add(1, np.exp(np.neg(np.abs(x)))))), x],
    (x, ct) => [np.mul(ct, np.sigmoid(x))],
  );
  checkGrad(t, softplus, [input([6])], 'customVjp softplus', { second: true });
  close(t, np.grad((y: np.Tensor) => np.sum(softplus(y)))(f64([1000, -1000])), f64([1, 0]), 'no overflow at +-1000');
  t.end();
});

test('nested vjp keeps perturbations apart', (t) => {
  // the classic perturbation-confusion test: d/dx [x * d/dy (x + y)] at y = 1 is 1, not 2
  const g = np.grad((x: np.Tensor) => np.mul(x, np.grad((y: np.Tensor) => np.add(x, y))(f64(1))))(f64(1));
  close(t, g, f64(1), 'no perturbation confusion');
  t.end();
});

test('grad errors name the problem', (t) => {
  throwsWith(t, () => np.grad((x: np.Tensor) => np.mul(x, 2))(f64([1, 2])), [/grad/, /scalar/, /\[2\]/], 'non-scalar output');
  throwsWith(t, () => np.grad((x: np.Tensor) => np.greater(np.sum(x), 0))(f64([1])), [/float/, /bool/], 'bool output');
  throwsWith(t, () => np.grad((_x: np.Tensor) => 3 as unknown as np.Tensor)(f64([1])), [/scalar tensor/, /number/], 'not a tensor');
  throwsWith(t, () => np.grad((x: np.Tensor) => np.sum(x), { argnums: 2 })(f64([1])), [/argnums/, /out of range/], 'bad argnums');
  const [, pb] = np.vjp((x: np.Tensor) => np.mul(x, 2), f64([1, 2]));
  throwsWith(t, () => pb(f64([1, 2, 3])), [/vjp/, /cotangent/, /\[3\]/, /\[2\]/], 'cotangent of the wrong shape');
  t.end();
});

test('gradients of integer inputs are zero and vjp of a constant function is zero', (t) => {
  const idx = np.tensor(new Int32Array([0, 2]));
  const x = f64([[1, 2], [3, 4], [5, 6]]);
  const [gx, gi] = np.grad((x: np.Tensor, i: np.Tensor) => np.sum(np.gather(x, i)), { argnums: [0, 1] })(x, idx);
  close(t, gx, f64([[1, 1], [0, 0], [1, 1]]), 'gather vjp scatters');
  t.equal(gi.dtype, 'int32', 'index cotangent keeps its dtype');
  close(t, np.grad((_x: np.Tensor) => f64(7))(f64([1, 2])), f64([0, 0]), 'constant function');
  t.end();
});

test('hasAux returns values, not tracers of the ended trace', (t) => {
  const x = f64([1, 2]);
  const [[, aux], g] = np.valueAndGrad((a: np.Tensor) => [np.sum(np.square(a)), { twice: np.mul(a, 2) }], { hasAux: true })(x);
  t.equal(aux.twice.trace, undefined, 'aux is concrete');
  close(t, g, f64([2, 4]), 'gradient');
  // under an outer grad, aux is a tracer of the outer level (so it can still be differentiated there)
  const outer = np.grad((b: np.Tensor) => {
    const [[, inner]] = np.valueAndGrad((a: np.Tensor) => [np.sum(np.square(a)), np.mul(a, 3)], { hasAux: true })(b);
    return np.sum(inner);
  })(x);
  close(t, outer, f64([3, 3]), 'aux differentiable by an outer grad');
  t.end();
});
