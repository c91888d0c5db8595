/**
 * BatchNorm's two modes against a plain float64 loop written from PyTorch's definition: training
 * normalises with the batch's biased variance and moves the running statistics (momentum 0.1,
 * unbiased variance); eval normalises with the running statistics and leaves them alone. The new
 * state is never a tracer, even when the step runs under grad.
 */
import test from 'tape';
import * as np from '../../core/index.js';
import * as nn from '../../nn/index.js';
import { close, input, nextKey } from '../helpers.js';

/** Per-channel view of x [B, C, ...S] as C arrays of values (host float64). */
function channels(x: np.Tensor): number[][] {
  const [B, C] = x.shape, S = x.size / (B * C), d = x.dataSync();
  return Array.from({ length: C }, (_, c) => Array.from({ length: B * S }, (_, i) => d[(Math.floor(i / S) * C + c) * S + (i % S)]));
}

test('training: batch statistics, and running statistics moved as PyTorch moves them', (t) => {
  const bn = nn.BatchNorm();
  const shape = [4, 3, 2, 5];
  const r = bn.init(nextKey(), shape, { dtype: 'float64' });
  const params = { weight: input([3]), bias: input([3]) };
  let state = r.state;
  const rm = [0, 0, 0], rv = [1, 1, 1];
  for (let step = 0; step < 3; step++) {
    const x = np.add(np.mul(input(shape), 2), 1);
    const out = bn.apply(params, state, x, { train: true });
    const w = params.weight.dataSync(), b = params.bias.dataSync();
    const want = np.zeros(shape, 'float64').dataSync().slice();
    channels(x).forEach((v, c) => {
      const n = v.length, mean = v.reduce((s, a) => s + a, 0) / n, biased = v.reduce((s, a) => s + (a - mean) ** 2, 0) / n;
      rm[c] = 0.9 * rm[c] + 0.1 * mean;
      rv[c] = 0.9 * rv[c] + 0.1 * biased * n / (n - 1);
      const S = shape[2] * shape[3];
      v.forEach((a, i) => { want[(Math.floor(i / S) * 3 + c) * S + (i % S)] = ((a - mean) / Math.sqrt(biased + 1e-5)) * w[c] + b[c]; });
    });
    close(t, out.y as np.Tensor, np.tensor(want, { shape }), `step ${step}: y = (x - batch mean) / sqrt(biased var + eps) * w + b`, { rtol: 1e-12, atol: 1e-12 });
    close(t, out.state.runningMean, np.tensor(rm, { dtype: 'float64' }), `step ${step}: running mean = 0.9 old + 0.1 batch mean`, { rtol: 1e-12 });
    close(t, out.state.runningVar, np.tensor(rv, { dtype: 'float64' }), `step ${step}: running var = 0.9 old + 0.1 unbiased batch var`, { rtol: 1e-12 });
    state = out.state;
  }
  // eval: the running statistics, untouched
  const x = input(shape);
  const ev = bn.apply(params, state, x, { train: false });
  t.equal(ev.state, state, 'eval returns the state unchanged');
  const w = params.weight.dataSync(), b = params.bias.dataSync();
  const want = Float64Array.from(x.dataSync(), (a, i) => { const c = Math.floor(i / 10) % 3; return ((a - rm[c]) / Math.sqrt(rv[c] + 1e-5)) * w[c] + b[c]; });
  close(t, ev.y as np.Tensor, np.tensor(want, { shape }), 'eval: y = (x - running mean) / sqrt(running var + eps) * w + b', { rtol: 1e-12, atol: 1e-12 });
  t.end();
});

test('train and eval differ as they should: a single batch is normalised in train, not in eval at init', (t) => {
  const bn = nn.BatchNorm();
  const r = bn.init(nextKey(), [64, 2]);
  const x = np.add(np.mul(np.random.normal(nextKey(), [64, 2]), 3), 5);
  const tr = channels(bn.apply(r.params, r.state, x, { train: true }).y as np.Tensor);
  const ev = channels(bn.apply(r.params, r.state, x, { train: false }).y as np.Tensor);
  const mean = (v: number[]) => v.reduce((s, a) => s + a, 0) / v.length;
  t.ok(tr.every((v) => Math.abs(mean(v)) < 1e-5), 'train: zero mean per channel');
  t.ok(ev.every((v) => Math.abs(mean(v) - 5) < 1), 'eval at init (mean 0, var 1): about the input itself');
  t.end();
});

test('the new state is concrete even when the step runs under grad', (t) => {
  const net = nn.serial([nn.Dense(4), nn.BatchNorm(), nn.Relu(), nn.Dense(1)]);
  const r = net.init(nextKey(), [8, 3]);
  const x = np.random.normal(nextKey(), [8, 3]);
  const [[loss, state], g] = np.valueAndGrad((p: nn.Tree) => {
    const o = net.apply(p, r.state, x, { train: true });
    return [np.mean(o.y as np.Tensor), o.state];
  }, { hasAux: true })(r.params);
  t.ok(Number.isFinite(loss.item()) && np.treeLeaves(g).length === 6, 'loss and six gradients');
  t.ok(np.treeLeaves(state).every((s) => s.concrete() === s), 'BatchNorm state carries no tracer out of grad');
  t.end();
});

test('a momentum override of 1 / (k + 1) on batch k makes the running statistics the plain mean of the batches (precise BN)', (t) => {
  const bn = nn.BatchNorm(), shape = [6, 2, 3];
  let state = bn.init(nextKey(), shape, { dtype: 'float64' }).state;
  const params = { weight: np.ones([2], 'float64'), bias: np.zeros([2], 'float64') };
  const means: number[][] = [], vars: number[][] = [];
  for (let k = 0; k < 3; k++) {
    const x = np.add(np.mul(input(shape), k + 1), 3 * k);
    channels(x).forEach((v, c) => {
      const n = v.length, m = v.reduce((s, a) => s + a, 0) / n;
      (means[c] ??= []).push(m);
      (vars[c] ??= []).push(v.reduce((s, a) => s + (a - m) ** 2, 0) / (n - 1));
    });
    state = bn.apply(params, state, x, { train: true, momentum: 1 / (k + 1) }).state;
  }
  const avg = (v: number[]) => v.reduce((s, a) => s + a, 0) / v.length;
  close(t, state.runningMean, np.tensor(means.map(avg), { dtype: 'float64' }), 'running mean = mean of the batch means; init (0) forgotten', { rtol: 1e-12 });
  close(t, state.runningVar, np.tensor(vars.map(avg), { dtype: 'float64' }), 'running var = mean of the unbiased batch variances; init (1) forgotten', { rtol: 1e-12 });
  t.end();
});

test('a momentum given as a float64 scalar tensor moves the statistics bit for bit as the number does, and a jitted pass traces once for every value', (t) => {
  const bn = nn.BatchNorm(), shape = [5, 16, 4];
  for (const dtype of ['float32', 'float64'] as const) {
    const init = bn.init(nextKey(), shape, { dtype });
    const xs = [0, 1, 2].map((k) => np.add(np.mul(input(shape, 'normal', dtype), k + 1), k));
    const pass = np.jit((st: nn.Tree, x: np.Tensor, momentum: np.Tensor) => bn.apply(init.params, st, x, { train: true, momentum }).state);
    // momenta whose coefficients (1 - m, m n / (n - 1)) round differently when computed in float32
    const momenta = [0.777, 1 / 11, 1 / 7];
    let byNumber = init.state, byTensor = init.state, jitted = init.state;
    xs.forEach((x, k) => {
      byNumber = bn.apply(init.params, byNumber, x, { train: true, momentum: momenta[k] }).state;
      byTensor = bn.apply(init.params, byTensor, x, { train: true, momentum: np.tensor(momenta[k], { dtype: 'float64' }) }).state;
      jitted = pass(jitted, x, np.tensor(momenta[k], { dtype: 'float64' }));
    });
    for (const [name, got] of [['a tensor', byTensor], ['jitted, a tensor', jitted]] as const) {
      for (const leaf of ['runningMean', 'runningVar'] as const) {
        t.deepEqual(Array.from(got[leaf].dataSync()), Array.from(byNumber[leaf].dataSync()), `${dtype}, ${name}: ${leaf} bit for bit`);
      }
    }
    t.equal(pass.traces, 1, `${dtype}: three momenta, one trace`);
  }
  t.end();
});
