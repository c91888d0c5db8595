/** @backends gpu
 *
 * The same layer on every other backend agrees with the CPU (the reference): outputs, new state and
 * gradients, and one optimizer step, in float32 with a device tolerance. A backend that cannot run
 * here (the gpu backend without a GL context) is reported as skipped, not passed.
 */
import test from 'tape';
import * as np from '../../core/index.js';
import * as nn from '../../nn/index.js';
import { close, nextKey } from '../helpers.js';

const TOL = { rtol: 1e-4, atol: 1e-5 };

const CASES: { layer: nn.Layer; shape: number[] }[] = [
  { layer: nn.Dense(5), shape: [4, 3] },
  { layer: nn.Conv2d(4, 3, { stride: 2, padding: 1 }), shape: [2, 3, 7, 6] },
  { layer: nn.Conv3d(4, [3, 1, 1], { padding: [1, 0, 0], bias: false }), shape: [2, 3, 4, 3, 3] },
  { layer: nn.BatchNorm(), shape: [3, 2, 4, 4] },
  { layer: nn.MaxPool([1, 3, 3], { stride: [1, 2, 2], padding: [0, 1, 1] }), shape: [2, 2, 3, 6, 6] },
  { layer: nn.serial([nn.GlobalMaxPool(), nn.L2Normalize()]), shape: [2, 3, 4, 5] },
  { layer: nn.Dropout(0.5), shape: [4, 6] },
  { layer: nn.MLP([8, 8, 3]), shape: [5, 4] },
  { layer: nn.R2plus1dBlock(3, 4, { stride: 2 }), shape: [2, 3, 4, 6, 6] },
  { layer: nn.Basic2dBlock(4, { stride: 2 }), shape: [2, 3, 6, 6] },
];

/** Why `name` cannot run here, or null if it can. */
function unavailable(name: string): string | null {
  if (name === 'gpu') { const s = np.gpuStatus(); return s.ok ? null : s.reason; }
  try { np.toBackend(np.ones([1]), name).dataSync(); return null; } catch (e) { return (e as Error).message; }
}

const move = <T>(tree: T, name: string): T => np.treeMap(tree, (t) => np.toBackend(t, name));

/** Output, new state and gradient of sum(y * w) w.r.t. params, with everything on the current backend. */
function run(layer: nn.Layer, params: nn.Tree, state: nn.Tree, x: np.Tensor, w: np.Tensor, train: boolean, key: np.Key) {
  const f = (p: nn.Tree) => {
    const o = layer.apply(p, state, x, { train, key });
    return [np.sum(np.mul(o.y as np.Tensor, w)), [o.y, o.state]];
  };
  const [[, [y, s]], g] = np.valueAndGrad(f, { hasAux: true })(params);
  return { y, s, g };
}

const others = np.backendNames().filter((n) => n !== 'cpu');
// cpu is the reference: AVID_BACKEND=gpu makes gpu the default in this run, and without this the
// first case's reference would be computed on gpu too, comparing gpu with itself
np.setBackend('cpu');

test('the backends under test: cpu is the reference and gpu is registered beside it', (t) => {
  t.comment(`registered backends: ${np.backendNames().join(', ')}; compared with cpu: ${others.join(', ') || 'none'}`);
  t.equal(np.currentBackend(), 'cpu', 'references are computed on cpu');
  t.ok(others.includes('gpu'), 'gpu is registered, so a test below compares it (none would run, and the file would pass, if it were not)');
  t.end();
});

for (const name of others) {
  test(`every layer on ${name} agrees with cpu (outputs, state, gradients) to rtol ${TOL.rtol}`, (t) => {
    const why = unavailable(name);
    if (why) { t.skip(`${name} cannot run here: ${why}`); t.end(); return; }
    for (const { layer, shape } of CASES) {
      const r = layer.init(nextKey(), shape);
      const x = np.random.normal(nextKey(), shape);
      const w = np.random.normal(nextKey(), r.outputShape as number[]);
      const key = nextKey();
      for (const train of [true, false]) {
        const ref = run(layer, r.params, r.state, x, w, train, key);
        np.setBackend(name);
        try {
          const got = run(layer, move(r.params, name), move(r.state, name), np.toBackend(x, name), np.toBackend(w, name), train, key);
          const tag = `${layer.name} (${train ? 'train' : 'eval'}) on ${name}`;
          close(t, got.y, ref.y, `${tag}: output`, TOL);
          np.treeLeaves(got.s).forEach((s, i) => close(t, s, np.treeLeaves(ref.s)[i], `${tag}: state ${i}`, TOL));
          np.treeLeaves(got.g).forEach((g, i) => close(t, g, np.treeLeaves(ref.g)[i], `${tag}: gradient ${i}`, TOL));
        } finally { np.setBackend('cpu'); }
      }
    }
    t.end();
  });

  test(`an Adam step on ${name} agrees with cpu`, (t) => {
    const why = unavailable(name);
    if (why) { t.skip(`${name} cannot run here: ${why}`); t.end(); return; }
    const params = { w: np.random.normal(nextKey(), [4, 3]), b: np.random.normal(nextKey(), [3]) };
    const grads = np.treeMap(params, (p) => np.random.normal(nextKey(), [...p.shape]));
    const opt = nn.adamw(1e-2);
    const ref = opt.update(grads, opt.init(params), params);
    np.setBackend(name);
    try {
      const p = move(params, name);
      const got = opt.update(move(grads, name), opt.init(p), p);
      np.treeLeaves(got.params).forEach((g, i) => close(t, g, np.treeLeaves(ref.params)[i], `adamw params ${i} on ${name}`, TOL));
    } finally { np.setBackend('cpu'); }
    // params moved to the backend while the default stays cpu: each optimizer's per-step scalars go where the params are
    for (const o of [nn.adamw(1e-2), nn.adam(1e-2, { weightDecay: 1e-3 }), nn.sgd(1e-2), nn.sgd(1e-2, { momentum: 0.9 })]) {
      const p = move(params, name), want = o.update(grads, o.init(params), params);
      const got = o.update(move(grads, name), o.init(p), p);
      np.treeLeaves(got.params).forEach((g, i) => {
        t.equal(g.backend!.name, name, `${o.name}: params ${i} stay on ${name}`);
        close(t, g, np.treeLeaves(want.params)[i], `${o.name}: params ${i}, default backend cpu`, TOL);
      });
    }
    t.end();
  });
}
