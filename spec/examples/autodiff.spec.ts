/** examples/autodiff.ts runs, and the relations it prints hold: the walkthrough's numbers agree with each other. */
import test from 'tape';
import { spawnSync } from 'node:child_process';

test('examples/autodiff.ts: each step agrees with the others', (t) => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'examples/autodiff.ts'], { encoding: 'utf8' });
  t.equal(r.status, 0, `exits 0 ${r.stderr.slice(-300)}`);
  const line = (start: string): any => JSON.parse(r.stdout.split('\n').find((l) => l.startsWith(start))!.slice(44).trim());
  const near = (a: number, b: number, tol = 1e-5) => Math.abs(a - b) <= tol * (1 + Math.abs(b));
  // f(x) = tanh(x)^2 x, so f'(x) = tanh^2 + 2 x tanh (1 - tanh^2)
  const d = [0.5, 1, 2].map((x) => { const th = Math.tanh(x); return th * th + 2 * x * th * (1 - th * th); });
  t.ok(line('pullback(ones)').every((v: number, i: number) => near(v, d[i])), 'the pullback of ones is f\'(x)');
  t.ok(near(line('jvp along e0')[0], d[0]) && line('jvp along e0')[1] === 0, 'jvp along e0 is column 0 of the diagonal Jacobian');
  const hv = [line('H v, reverse over reverse'), line('H v, forward over reverse'), line('H v from the full Hessian')];
  t.ok(hv.every((h) => h.every((v: number, i: number) => near(v, hv[0][i]))), 'three Hessian-vector products agree');
  t.deepEqual(line('grad of sum(3 clipGrad(x))'), [1, 1, 1], 'customVjp clipped the gradient 3 to 1');
  t.deepEqual(line('grad of sum(stopGradient(x) * x)'), [0.5, 1, 2], 'stopGradient leaves x');
  const per = line('per-example d loss / d b'), batch = line('d loss / d b');
  t.ok(batch.every((b: number, j: number) => near(per[0][j] + per[1][j], b, 1e-4)), 'per-example gradients sum to the batch gradient');
  t.ok(near(line('directional derivative, central'), line('directional derivative, <grad'), 1e-4), 'finite differences agree with the gradient');
  t.end();
});
