/**
 * gradCheck: a report per argument tensor of grad against float64 central differences. It passes a
 * correct gradient to ~1e-9, flags a wrong hand-written one, skips int tensors and names a bad output.
 */
import test from 'tape';
import * as np from '../../core/index.js';
import { throwsWith } from '../helpers.js';

const params = { w: np.random.normal(np.random.key(1), [3, 2]), b: np.zeros([2]) };
const x = np.random.normal(np.random.key(2), [4, 3]);
const loss = (p: typeof params, xs: np.Tensor) => np.sum(np.square(np.tanh(np.add(np.matmul(xs, p.w), p.b))));

test('a correct gradient agrees with central differences for every argument tensor', (t) => {
  const rows = np.gradCheck(loss, [params, x]);
  t.deepEqual(rows.map((r) => r.path), ['0.b', '0.w', '1'], 'one row per float tensor, by argument and pytree key');
  t.deepEqual(rows.map((r) => r.shape), [[2], [3, 2], [4, 3]], 'with their shapes');
  t.ok(rows.every((r) => r.relError < 1e-6), `relative errors ${rows.map((r) => r.relError.toExponential(1)).join(', ')}`);
  t.ok(rows.every((r) => Math.abs(r.analytic) > 1e-3), 'along directions where the derivative is not zero');
  t.ok(!/above/.test(np.formatGradCheck(rows)), 'and the table flags none');
  t.end();
});

test('a wrong hand-written gradient is flagged, and int arguments are skipped', (t) => {
  const half = np.customVjp((a: np.Tensor) => np.mul(a, a), (a: np.Tensor) => [np.mul(a, a), a], (a, ct) => [np.mul(ct, a)]); // should be 2 a ct
  const rows = np.gradCheck((z: np.Tensor, k: np.Tensor) => np.sum(np.mul(half(z), np.astype(k, 'float32'))), [x, np.tensor([[1, 2, 3]], { dtype: 'int32' })]);
  t.equal(rows.length, 1, 'the int32 argument has no row');
  t.ok(Math.abs(rows[0].relError - 0.5) < 1e-6, `grad is half the finite difference: relative error ${rows[0].relError}`);
  t.match(np.formatGradCheck(rows), /<- above/, 'the table flags it');
  throwsWith(t, () => np.gradCheck((z: np.Tensor) => np.mul(z, 2), [x]), [/gradCheck/, /scalar/], 'a non-scalar output is named');
  t.end();
});
