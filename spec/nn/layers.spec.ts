/**
 * Every layer: the output shape init promises is the one apply gives (train and eval), and the
 * gradient with respect to input and params agrees with float64 central differences. Then the
 * layers' own semantics: Dense and Conv against direct formulas, PyTorch's init bounds, Dropout's
 * keyed masks, and the (2+1)-D block against the authors' forward written out with core ops.
 */
import test from 'tape';
import * as np from '../../core/index.js';
import * as nn from '../../nn/index.js';
import { close, input, nextKey, throwsWith } from '../helpers.js';
import { checkLayerGrad, checkShapes, type LayerCase } from './util.js';

const CASES: LayerCase[] = [
  { layer: nn.Dense(5), shape: [4, 3] },
  { layer: nn.Dense(5, { bias: false }), shape: [2, 3, 3] },
  { layer: nn.Conv1d(4, 3, { padding: 1 }), shape: [2, 3, 7] },
  { layer: nn.Conv2d(4, 3, { stride: 2, padding: 1 }), shape: [2, 3, 7, 6] },
  { layer: nn.Conv2d(4, [3, 2], { padding: 'same', dilation: [2, 1], groups: 2 }), shape: [2, 4, 6, 5] },
  { layer: nn.Conv3d(4, [1, 3, 3], { stride: [1, 2, 2], padding: [0, 1, 1], bias: false }), shape: [2, 3, 3, 5, 5] },
  { layer: nn.Conv3d(4, [3, 1, 1], { stride: [2, 1, 1], padding: [1, 0, 0] }), shape: [2, 3, 5, 2, 3] },
  { layer: nn.BatchNorm(), shape: [5, 3] },
  { layer: nn.BatchNorm(), shape: [3, 2, 4, 4] },
  { layer: nn.MaxPool(2), shape: [2, 3, 6, 5] },
  { layer: nn.MaxPool([1, 3, 3], { stride: [1, 2, 2], padding: [0, 1, 1] }), shape: [2, 2, 3, 6, 6] },
  { layer: nn.GlobalMaxPool(), shape: [2, 3, 4, 5] },
  { layer: nn.GlobalAvgPool(), shape: [2, 3, 2, 4, 5] },
  { layer: nn.Relu(), shape: [3, 5] },
  { layer: nn.Flatten(), shape: [2, 3, 4] },
  { layer: nn.L2Normalize(), shape: [3, 5] },
  { layer: nn.Dropout(0.3), shape: [4, 6] },
  { layer: nn.MLP([6, 5, 2]), shape: [4, 3] },
  { layer: nn.ConvBnRelu(nn.Conv2d(4, 3, { padding: 1, bias: false })), shape: [2, 3, 5, 5] },
  { layer: nn.Basic2dBlock(4, { stride: 2 }), shape: [2, 3, 6, 6] },
  { layer: nn.R2plus1dBlock(3, 4, { stride: 2 }), shape: [2, 3, 4, 6, 6] },
  { layer: nn.R2plus1dBlock(3, 3), shape: [2, 3, 3, 4, 4] },
];

test('every layer: init output shape = apply output shape, in train and in eval', (t) => {
  for (const c of CASES) checkShapes(t, c);
  t.end();
});

test('every layer: gradient w.r.t. input and params by float64 central differences', (t) => {
  for (const c of CASES) {
    checkLayerGrad(t, c);
    if (c.layer.name === 'BatchNorm' || c.layer.name.startsWith('Dropout')) checkLayerGrad(t, { ...c, train: false });
  }
  t.end();
});

test('Dense is x W^T + b with W [out, in], on any number of leading axes', (t) => {
  const layer = nn.Dense(3);
  const { params } = layer.init(nextKey(), [2, 4, 5], { dtype: 'float64' });
  const x = input([2, 4, 5]);
  const { y } = layer.apply(params, {}, x, { train: false });
  const X = x.toArray() as number[][][], W = params.weight.toArray() as number[][], b = params.bias.toArray() as number[];
  const want = X.map((m) => m.map((row) => W.map((w, o) => w.reduce((s, wi, i) => s + wi * row[i], b[o]))));
  close(t, y as np.Tensor, np.tensor(want, { dtype: 'float64' }), 'Dense on [2, 4, 5]', { rtol: 1e-12 });
  t.deepEqual(params.weight.shape, [3, 5], 'weight is [out, in] as torch.nn.Linear');
  t.end();
});

test('Conv adds its bias per output channel to core conv', (t) => {
  const layer = nn.Conv2d(4, 3, { stride: [1, 2], padding: [1, 0] });
  const { params } = layer.init(nextKey(), [2, 3, 5, 7], { dtype: 'float64' });
  const x = input([2, 3, 5, 7]);
  const { y } = layer.apply(params, {}, x, { train: false });
  const want = np.add(np.conv(x, params.weight, { stride: [1, 2], padding: [1, 0] }), np.reshape(params.bias, [1, 4, 1, 1]));
  close(t, y as np.Tensor, want, 'Conv2d = conv + bias', { rtol: 1e-12 });
  t.end();
});

test('initialisation as PyTorch: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases, BN 1/0/0/1', (t) => {
  const check = (name: string, w: np.Tensor, fanIn: number) => {
    const b = 1 / Math.sqrt(fanIn), v = Array.from(w.dataSync());
    const maxAbs = Math.max(...v.map(Math.abs)), mean = v.reduce((s, a) => s + a, 0) / v.length;
    const variance = v.reduce((s, a) => s + (a - mean) ** 2, 0) / v.length;
    t.ok(maxAbs <= b && maxAbs > 0.97 * b, `${name}: max |w| ${maxAbs.toFixed(5)} within and near the bound ${b.toFixed(5)}`);
    t.ok(Math.abs(mean) < 0.05 * b && Math.abs(variance / (b * b / 3) - 1) < 0.06, `${name}: mean ~0 and variance ~bound^2/3 (${(variance / (b * b / 3)).toFixed(3)})`);
  };
  const conv = nn.Conv3d(64, [1, 3, 3], { groups: 2 }).init(nextKey(), [1, 32, 2, 8, 8]).params;
  check('Conv3d weight (fan_in = 16 * 9)', conv.weight, 16 * 9);
  const dense = nn.Dense(300).init(nextKey(), [1, 200]).params;
  check('Dense weight (fan_in = 200)', dense.weight, 200);
  check('Dense bias', dense.bias, 200);
  t.equal(conv.weight.dtype, 'float32', 'float32 by default');
  const bn = nn.BatchNorm().init(nextKey(), [1, 3, 4], { dtype: 'float64' });
  t.deepEqual([bn.params.weight.toArray(), bn.params.bias.toArray(), bn.state.runningMean.toArray(), bn.state.runningVar.toArray()],
    [[1, 1, 1], [0, 0, 0], [0, 0, 0], [1, 1, 1]], 'BatchNorm: weight 1, bias 0, running mean 0, running var 1');
  t.equal(bn.params.weight.dtype, 'float64', 'the dtype option reaches params and state');
  t.end();
});

test('Dropout: keyed masks in training, identity in eval, an error without a key', (t) => {
  const d = nn.Dropout(0.25), x = np.ones([200, 100]);
  throwsWith(t, () => d.apply({}, {}, x, { train: true }), [/Dropout\(0.25\)/, /key/], 'training without a key');
  t.equal(d.apply({}, {}, x, { train: false }).y, x, 'eval is the identity');
  const k = nextKey();
  const y = (d.apply({}, {}, x, { train: true, key: k }).y as np.Tensor).dataSync();
  const zeros = y.filter((v) => v === 0).length / y.length;
  t.ok(Math.abs(zeros - 0.25) < 0.01, `about a quarter dropped (${zeros.toFixed(4)})`);
  t.ok(y.every((v) => v === 0 || Math.abs(v - 4 / 3) < 1e-6), 'the rest scaled by 1 / (1 - rate)');
  const again = (d.apply({}, {}, x, { train: true, key: k }).y as np.Tensor).dataSync();
  t.deepEqual(Array.from(again), Array.from(y), 'same key, same mask');
  const other = (d.apply({}, {}, x, { train: true, key: nextKey() }).y as np.Tensor).dataSync();
  t.notDeepEqual(Array.from(other), Array.from(y), 'another key, another mask');
  t.end();
});

test('R2plus1dBlock = the authors\' BasicR2P1DBlock forward, written out with core ops', (t) => {
  for (const [cin, cout, stride, shape] of [[3, 4, 2, [2, 3, 4, 6, 6]], [4, 4, 1, [2, 4, 3, 4, 4]]] as const) {
    const block = nn.R2plus1dBlock(cin, cout, { stride });
    const r = block.init(nextKey(), shape, { dtype: 'float64' });
    const x = input([...shape]);
    const P = r.params.res.path, S = r.params.res.shortcut;
    const bn = (z: np.Tensor, p: { weight: np.Tensor; bias: np.Tensor }) => {
      const axes = [0, 2, 3, 4], c = (v: np.Tensor) => np.reshape(v, [1, -1, 1, 1, 1]);
      const m = np.mean(z, axes, { keepdims: true }), v = np.variance(z, axes, { keepdims: true });
      return np.add(np.mul(np.div(np.sub(z, m), np.sqrt(np.add(v, 1e-5))), c(p.weight)), c(p.bias));
    };
    const spt = (z: np.Tensor, w: np.Tensor, s: number) => np.conv(z, w, { stride: [1, s, s], padding: [0, 1, 1] });
    const tmp = (z: np.Tensor, w: np.Tensor, s: number) => np.conv(z, w, { stride: [s, 1, 1], padding: [1, 0, 0] });
    let main = tmp(np.relu(bn(spt(x, P.sptConv1.weight, stride), P.sptBn1)), P.tmpConv1.weight, stride);
    main = np.relu(bn(main, P.tmpBn1));
    main = tmp(np.relu(bn(spt(main, P.sptConv2.weight, 1), P.sptBn2)), P.tmpConv2.weight, 1);
    const res = S.weight ? np.conv(x, S.weight, { stride }) : x;
    const want = np.relu(bn(np.add(main, res), r.params.outBn));
    const { y } = block.apply(r.params, r.state, x, { train: true });
    close(t, y as np.Tensor, want, `${block.name}: relu(outBn(main + shortcut))`, { rtol: 1e-10, atol: 1e-12 });
    t.equal(!!S.weight, cin !== cout || stride !== 1, `${block.name}: a 1x1x1 conv shortcut exactly when the shape changes`);
  }
  t.end();
});

test('layer errors name the layer and what it expected', (t) => {
  throwsWith(t, () => nn.Conv2d(4, 3).init(nextKey(), [2, 3, 5]), [/Conv2d/, /\[batch, channels, 2 spatial axes\]/, /\[2, 3, 5\]/], 'Conv2d on a 1-D input');
  throwsWith(t, () => nn.Conv2d(4, 5).init(nextKey(), [2, 3, 3, 3]), [/Conv2d/, /does not fit/], 'kernel larger than the input');
  throwsWith(t, () => nn.Conv2d(4, 3, { groups: 2 }).init(nextKey(), [2, 3, 5, 5]), [/3 input and 4 output channels/, /2 groups/], 'groups that do not divide');
  throwsWith(t, () => nn.BatchNorm().apply(...(() => { const r = nn.BatchNorm().init(nextKey(), [1, 3]); return [r.params, r.state] as const; })(), np.ones([1, 3]), { train: true }),
    [/BatchNorm/, /more than one value per channel/], 'BatchNorm training on one value per channel');
  throwsWith(t, () => nn.Dense(3).apply(nn.Dense(3).init(nextKey(), [2, 2]).params, {}, [np.ones([2, 2])], { train: false }), [/Dense\(3\)/, /one tensor/], 'Dense given an array');
  t.end();
});
