/**
 * Combinators: how serial, parallel, fanOut and residual shape params, state, outputs and keys;
 * their errors; the summary; and two small fits (XOR and a 1-D regression) of combinator-built MLPs
 * trained with valueAndGrad and Adam.
 */
import test from 'tape';
import * as np from '../../core/index.js';
import * as nn from '../../nn/index.js';
import { close, input, nextKey, throwsWith } from '../helpers.js';
import { checkLayerGrad, checkShapes } from './util.js';

const shapesOf = (tree: nn.Tree) => np.treeMap(tree, (x) => [...x.shape]);

test('serial: an array gives array params, a record gives params by name', (t) => {
  const arr = nn.serial([nn.Dense(4), nn.Relu(), nn.Dense(2)]).init(nextKey(), [3, 5]);
  t.deepEqual(shapesOf(arr.params), [{ weight: [4, 5], bias: [4] }, {}, { weight: [2, 4], bias: [2] }], 'array params');
  t.deepEqual(arr.outputShape, [3, 2], 'output shape flows through');
  const net = nn.serial({ stem: nn.serial({ conv: nn.Conv2d(4, 3, { bias: false }), bn: nn.BatchNorm() }), head: nn.Flatten() });
  const rec = net.init(nextKey(), [2, 1, 5, 5]);
  t.deepEqual(shapesOf(rec.params), { stem: { conv: { weight: [4, 1, 3, 3] }, bn: { weight: [4], bias: [4] } }, head: {} }, 'params read {stem: {conv, bn}, head}');
  t.deepEqual(Object.keys(rec.state.stem.bn), ['runningMean', 'runningVar'], 'state mirrors params');
  const out = net.apply(rec.params, rec.state, input([2, 1, 5, 5], 'normal', 'float32'), { train: true });
  t.notDeepEqual(out.state.stem.bn.runningMean.toArray(), rec.state.stem.bn.runningMean.toArray(), 'training returns new BN state at its path');
  t.equal(out.state.head, rec.state.head, 'stateless children pass their state through');
  throwsWith(t, () => nn.serial({ 1: nn.Relu(), a: nn.Relu() }), [/serial/, /'1'/, /reorder/], 'integer child names are refused');
  t.end();
});

test('parallel and fanOut map arrays and records of inputs to outputs', (t) => {
  const par = nn.parallel([nn.Dense(2), nn.Dense(3)]);
  const r = par.init(nextKey(), [[4, 5], [4, 6]]);
  t.deepEqual(r.outputShape, [[4, 2], [4, 3]], 'parallel output shapes');
  const y = par.apply(r.params, r.state, [np.ones([4, 5]), np.ones([4, 6])], { train: false }).y as np.Tensor[];
  t.deepEqual(y.map((v) => v.shape), [[4, 2], [4, 3]], 'parallel outputs');
  throwsWith(t, () => par.apply(r.params, r.state, np.ones([4, 5]), { train: false }), [/parallel/, /input must be an array of 2/, /tensor \[4, 5\]/], 'parallel given one tensor');
  const fan = nn.fanOut({ wide: nn.Dense(8), same: nn.Identity() });
  const f = fan.init(nextKey(), [2, 3]);
  t.deepEqual(f.outputShape, { wide: [2, 8], same: [2, 3] }, 'fanOut record output shapes');
  const x = np.ones([2, 3]);
  const out = fan.apply(f.params, f.state, x, { train: false }).y as { wide: np.Tensor; same: np.Tensor };
  t.equal(out.same, x, 'fanOut feeds the same input to every child');
  t.deepEqual(out.wide.shape, [2, 8], 'and collects outputs by name');
  const cat = nn.serial([nn.fanOut([nn.Dense(2), nn.Dense(3)]), nn.FanInConcat(1)]);
  t.deepEqual(cat.init(nextKey(), [5, 4]).outputShape, [5, 5], 'fanOut then FanInConcat');
  t.end();
});

test('residual: path(x) + shortcut(x), params {path, shortcut}, and a clear error when shapes differ', (t) => {
  const res = nn.residual(nn.Dense(3));
  const r = res.init(nextKey(), [2, 3], { dtype: 'float64' });
  t.deepEqual(Object.keys(r.params), ['path', 'shortcut'], 'params {path, shortcut}');
  const x = input([2, 3]);
  const inner = nn.Dense(3).apply(r.params.path, {}, x, { train: false }).y as np.Tensor;
  close(t, res.apply(r.params, r.state, x, { train: false }).y as np.Tensor, np.add(inner, x), 'identity shortcut adds the input', { rtol: 1e-12 });
  throwsWith(t, () => nn.residual(nn.Dense(4)).init(nextKey(), [2, 3]), [/residual/, /\[2, 4\]/, /\[2, 3\]/, /projection/], 'shape mismatch');
  const sum = nn.serial([nn.fanOut([nn.Identity(), nn.Identity()]), nn.FanInSum()]);
  const rs = sum.init(nextKey(), [2, 3]);
  close(t, sum.apply(rs.params, rs.state, x, { train: false }).y as np.Tensor, np.mul(x, 2), 'fanOut + FanInSum', { rtol: 0 });
  t.end();
});

test('combinators fold a distinct key into each child (two Dropouts, two masks)', (t) => {
  const net = nn.fanOut([nn.Dropout(0.5), nn.Dropout(0.5)]);
  const r = net.init(nextKey(), [50, 50]);
  const [a, b] = net.apply(r.params, r.state, np.ones([50, 50]), { train: true, key: nextKey() }).y as np.Tensor[];
  t.notDeepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()), 'sibling Dropouts draw different masks');
  t.end();
});

test('combinator-built nets: shapes and gradients through parallel, fanOut and residual outputs', (t) => {
  const cases = [
    { layer: nn.parallel({ a: nn.Dense(2), b: nn.serial([nn.Conv1d(2, 3, { padding: 1 }), nn.GlobalAvgPool()]) }), shape: { a: [3, 4], b: [3, 2, 5] } },
    { layer: nn.serial([nn.fanOut([nn.Dense(4), nn.serial([nn.Dense(4), nn.Relu()])]), nn.FanInSum(), nn.L2Normalize()]), shape: [3, 5] },
    { layer: nn.residual(nn.serial([nn.Conv2d(3, 3, { padding: 1 }), nn.BatchNorm(), nn.Relu()]), nn.Conv2d(3, 1)), shape: [2, 2, 4, 4] },
  ];
  for (const c of cases) { checkShapes(t, c); checkLayerGrad(t, c); }
  t.end();
});

test('summary and paramCount', (t) => {
  const net = nn.serial({ stem: nn.ConvBnRelu(nn.Conv2d(8, 3, { bias: false, padding: 1 })), pool: nn.GlobalMaxPool(), head: nn.MLP([16, 4]) });
  const s = nn.summary(net, [2, 3, 8, 8]);
  const n = 8 * 3 * 9 + 16 + (8 * 16 + 16) + (16 * 4 + 4);
  t.equal(nn.paramCount(net.init(nextKey(), [2, 3, 8, 8]).params), n, `paramCount = ${n}`);
  for (const re of [/stem: ConvBnRelu\(Conv2d\(8/, /conv: Conv2d.*\[2, 8, 8, 8\]\s+216/, /pool: GlobalMaxPool\s+\[2, 8\]\s+0/, /fc2: Dense\(4\)\s+\[2, 4\]\s+68/, new RegExp(`${n} params, 16 state values`)]) {
    t.ok(re.test(s), `summary has ${re}`);
  }
  t.comment(`\n${s}`);
  t.end();
});

/** Train `net` on (x, y) with Adam on mean squared error; returns the final loss. */
function fit(net: nn.Layer, x: np.Tensor, y: np.Tensor, steps: number, lr: number): number {
  const r = net.init(np.random.key(7), [...x.shape]);
  const loss = (p: nn.Tree) => np.mean(np.square(np.sub(net.apply(p, r.state, x, { train: true }).y as np.Tensor, y)));
  const vg = np.valueAndGrad(loss);
  const opt = nn.adam(lr);
  let params = r.params, state = opt.init(params), l = Infinity;
  for (let i = 0; i < steps; i++) {
    const [v, g] = vg(params);
    l = v.item();
    ({ params, state } = opt.update(g, state, params));
  }
  void l;
  return loss(params).item();
}

test('a combinator-built MLP fits XOR', (t) => {
  const x = np.tensor([[0, 0], [0, 1], [1, 0], [1, 1]]), y = np.tensor([[0], [1], [1], [0]]);
  const net = nn.serial({ hidden: nn.Dense(16), act: nn.Relu(), out: nn.Dense(1) });
  const l = fit(net, x, y, 300, 0.03);
  t.ok(l < 1e-3, `XOR mean squared error ${l.toExponential(2)} < 1e-3`);
  t.end();
});

test('an MLP fits y = sin(3x) on [-1, 1]', (t) => {
  const x = np.reshape(np.linspace(-1, 1, 64), [64, 1]);
  const y = np.tensor(Float32Array.from(x.dataSync(), (v) => Math.sin(3 * v)), { shape: [64, 1] });
  const l = fit(nn.MLP([32, 32, 1]), x, y, 600, 0.01);
  t.ok(l < 2e-3, `regression mean squared error ${l.toExponential(2)} < 2e-3`);
  t.end();
});
