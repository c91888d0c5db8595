/**
 * BatchNorm's channel loops as WebAssembly SIMD (core/cpu/channels.ts), against the JavaScript loops
 * they stand in for. The same values are laid out twice: [B, C, S] over axes [0, 2] takes the wasm
 * loops, and [B, S, C] over [0, 1] (the channel last: runs of one) the JavaScript ones. Elementwise
 * results (the forward pass, with and without relu; the input cotangent, with and without relu's
 * mask) must agree bit for bit; sums (the statistics, the parameters' cotangents) add in another
 * order and must agree to float32 rounding. Runs whose length is not a multiple of 4, one channel,
 * one row, and nan, infinities, -0 and subnormals among the values.
 */
import test from 'tape';
import * as np from '../../core/index.js';
import { bind } from '../../core/trace.js';
import { batchNormTrainP } from '../../core/prims/batchNormTrain.js';
import { batchNormGradP } from '../../core/prims/batchNormGrad.js';
import { batchNormParamGradP } from '../../core/prims/batchNormParamGrad.js';
import { channelStats } from '../../core/cpu/channels.js';
import { gemmKernel } from '../../core/cpu/pool.js';
import { close, input } from '../helpers.js';

np.setBackend('cpu');

/** Bit for bit, nan matching nan. */
function same(t: test.Test, got: np.Tensor, want: np.Tensor, msg: string): void {
  const a = got.dataSync(), b = want.dataSync();
  const bad = Array.from(a).findIndex((v, i) => !Object.is(v, b[i]) && !(Number.isNaN(v) && Number.isNaN(b[i])));
  t.ok(bad < 0 && a.length === b.length, bad < 0 ? msg : `${msg}: element ${bad} is ${a[bad]}, expected ${b[bad]}`);
}

/** float32 [B, C, S] with, when `edgy`, nan, infinities, -0 and subnormals in channel 0 and the last. */
function values(B: number, C: number, S: number, edgy: boolean): np.Tensor {
  const xs = Array.from(input([B, C, S], 'normal', 'float32').dataSync());
  if (edgy) {
    const at = (b: number, c: number, s: number) => (b * C + c) * S + s;
    [[0, 0, 1, NaN], [B - 1, 0, S - 1, Infinity], [0, C - 1, 2, -Infinity], [0, C - 1, 3, -0], [B - 1, C - 1, S - 2, 1e-40], [0, C - 1, S - 1, -1e-42]]
      .forEach(([b, c, s, v]) => { xs[at(b, c, s)] = v; });
  }
  return np.reshape(np.tensor(xs, { dtype: 'float32' }), [B, C, S]);
}

const shapes: [number, number, number, boolean][] = [[3, 5, 37, false], [2, 4, 42, true], [1, 3, 64, true], [4, 1, 19, false], [2, 6, 16, true]];

test('the wasm channel loops are the ones running float32 [B, C, S] (unless AVID_GEMM=js)', (t) => {
  const before = channelStats.calls;
  np.moments(values(2, 3, 20, false), [0, 2]);
  t.equal(channelStats.calls > before, gemmKernel() === 'wasm-simd', `gemm kernel ${gemmKernel()}: wasm channel calls ${channelStats.calls - before}`);
  t.end();
});

for (const [B, C, S, edgy] of shapes) {
  test(`BatchNorm's channel loops as wasm SIMD, [${B}, ${C}, ${S}]${edgy ? ' with nan, infinities, -0 and subnormals' : ''}: the JavaScript loops' values`, (t) => {
    const x = values(B, C, S, edgy), xt = np.transpose(x, [0, 2, 1]); // [B, S, C]: runs of one channel value, JavaScript
    const back = (y: np.Tensor) => np.transpose(y, [0, 2, 1]);
    const w = input([C], 'positive', 'float32'), b = input([C], 'normal', 'float32');
    const A = [0, 2], At = [0, 1], eps = 1e-5;
    const calls = channelStats.calls;
    // the statistics (sums: float32 rounding of float64 sums in another order)
    const st = np.stack(np.moments(x, A)), stt = np.stack(np.moments(xt, At));
    close(t, st, stt, 'moments', { rtol: 1e-6, atol: 1e-7 });
    // a clean stack for the elementwise kernels, so that both see the same statistics
    const stats = np.stack([input([C], 'normal', 'float32'), np.add(np.abs(input([C], 'normal', 'float32')), 0.5)]);
    for (const relu of [false, true]) {
      const y = bind(batchNormTrainP, [x, w, b, stats], { axes: A, eps, relu }), yt = bind(batchNormTrainP, [xt, w, b, stats], { axes: At, eps, relu });
      same(t, y, back(yt), `batchNormTrain${relu ? ' + relu' : ''}`);
    }
    const g = values(B, C, S, edgy), gt = np.transpose(g, [0, 2, 1]);
    // relu's output where the mask comes from: zeros (every seventh value, as relu makes them), -0 and nan too
    const r = np.mul(values(B, C, S, edgy), np.reshape(np.tensor(Array.from({ length: B * C * S }, (_, i) => (i % 7 === 3 ? 0 : 1)), { dtype: 'float32' }), [B, C, S]));
    const rt = np.transpose(r, [0, 2, 1]);
    for (const mask of [false, true]) {
      const ins = mask ? [r] : [], inst = mask ? [rt] : [];
      const p = bind(batchNormParamGradP, [x, g, stats, ...ins], { axes: A, eps, mask }), pt = bind(batchNormParamGradP, [xt, gt, stats, ...inst], { axes: At, eps, mask });
      close(t, p, pt, `batchNormParamGrad${mask ? ' masked' : ''}`, { rtol: 1e-6, atol: 1e-7 });
      const sums = np.stack([np.add(np.abs(input([C], 'normal', 'float32')), 0.1), input([C], 'normal', 'float32')]);
      const d = bind(batchNormGradP, [x, w, g, stats, sums, ...ins], { axes: A, eps, mask });
      const dt = bind(batchNormGradP, [xt, w, gt, stats, sums, ...inst], { axes: At, eps, mask });
      same(t, d, back(dt), `batchNormGrad${mask ? ' masked' : ''}`);
    }
    if (gemmKernel() === 'wasm-simd') t.equal(channelStats.calls - calls, 7, 'seven kernels ran as wasm: the moments, two forward, two of each backward');
    t.end();
  });
}
