/** The teaching engine and the library agree on values and gradients of the same expression (micrograd's test). */
import test from 'tape';
import * as np from '../../core/index.js';
import { Value } from '../../examples/micrograd.js';

test('micrograd and core give the same value and gradients', (t) => {
  const a0 = -4, b0 = 2;
  // micrograd's sanity expression
  const a = new Value(a0), b = new Value(b0);
  let c = a.add(b), d = a.mul(b).add(b.pow(3));
  c = c.add(c.add(1)); c = c.add(new Value(1).add(c).add(a.neg()));
  d = d.add(d.mul(2).add(b.add(a).relu())); d = d.add(d.mul(3).add(b.sub(a).relu()));
  const e = c.sub(d), f = e.pow(2);
  let g = f.div(2); g = g.add(new Value(10).div(f));
  g.backward();

  const expr = (A: np.Tensor, B: np.Tensor) => {
    let C = np.add(A, B), D = np.add(np.mul(A, B), np.pow(B, 3));
    C = np.add(C, np.add(C, 1)); C = np.add(C, np.sub(np.add(1, C), A));
    D = np.add(D, np.add(np.mul(D, 2), np.relu(np.add(B, A)))); D = np.add(D, np.add(np.mul(D, 3), np.relu(np.sub(B, A))));
    const E = np.sub(C, D), F = np.pow(E, 2);
    return np.add(np.div(F, 2), np.div(10, F));
  };
  const A = np.tensor(a0, { dtype: 'float64' }), B = np.tensor(b0, { dtype: 'float64' });
  const [G, [gA, gB]] = np.valueAndGrad(expr, { argnums: [0, 1] })(A, B);
  t.ok(Math.abs(G.item() - g.data) < 1e-9, `value ${G.item()} vs ${g.data}`);
  t.ok(Math.abs(gA.item() - a.grad) < 1e-9, `da ${gA.item()} vs ${a.grad}`);
  t.ok(Math.abs(gB.item() - b.grad) < 1e-9, `db ${gB.item()} vs ${b.grad}`);
  t.ok(Math.abs(g.data - 24.70408163265306) < 1e-9, 'micrograd\'s published value 24.7041');
  t.end();
});
