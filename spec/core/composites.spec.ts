/** @backends cpu gpu gpu-hw
 *
 * Compositions (conv, pooling, softmax and friends): forward against naive references and gradients
 * by central differences. They have no vjp of their own, so this checks the primitives compose.
 */
import test from 'tape';
import * as np from '../../core/index.js';
import { checkGrad, close, input } from '../helpers.js';
import * as ref from './naive.js';

test('conv in 1, 2 and 3 D with stride, padding, dilation and groups', (t) => {
  const cases: { x: number[]; w: number[]; opts: np.ConvOptions; lo: number[]; outS: number[] }[] = [
    { x: [2, 3, 9], w: [4, 3, 3], opts: { padding: 1 }, lo: [1], outS: [9] },
    { x: [2, 4, 8, 7], w: [6, 2, 3, 3], opts: { stride: 2, padding: 'same', groups: 2 }, lo: [0, 1], outS: [4, 4] },
    { x: [1, 2, 6, 6], w: [3, 2, 3, 2], opts: { dilation: [2, 1], padding: [[1, 2], [0, 1]] }, lo: [1, 0], outS: [5, 6] },
    { x: [2, 3, 4, 6, 6], w: [4, 3, 1, 3, 3], opts: { padding: [0, 1, 1], stride: [1, 2, 2] }, lo: [0, 1, 1], outS: [4, 3, 3] },
    { x: [2, 4, 5, 3, 3], w: [4, 4, 3, 1, 1], opts: { padding: 'same' }, lo: [1, 0, 0], outS: [5, 3, 3] },
    // 128 or more output positions per image: the per-image matmuls (fewer fold the batch into one)
    { x: [2, 2, 12, 12], w: [3, 2, 3, 3], opts: { padding: 1 }, lo: [1, 1], outS: [12, 12] },
    { x: [2, 2, 23, 24], w: [3, 2, 3, 3], opts: { stride: 2, padding: 1 }, lo: [1, 1], outS: [12, 12] },
    // a (2+1)-D block's halves with enough positions to run as conv2d on the cpu (conv3dAs2d): spatial, then temporal
    { x: [2, 2, 3, 12, 12], w: [4, 2, 1, 3, 3], opts: { padding: [0, 1, 1] }, lo: [0, 1, 1], outS: [3, 12, 12] },
    { x: [1, 3, 6, 16, 17], w: [2, 3, 1, 3, 3], opts: { padding: [0, 1, 1], stride: [1, 2, 1], dilation: [1, 1, 2] }, lo: [0, 1, 1], outS: [6, 8, 15] },
    { x: [2, 3, 6, 8, 8], w: [4, 3, 3, 1, 1], opts: { padding: [1, 0, 0], stride: [2, 1, 1] }, lo: [1, 0, 0], outS: [3, 8, 8] },
  ];
  for (const c of cases) {
    const x = input(c.x), w = input(c.w);
    const y = np.conv(x, w, c.opts);
    const D = c.w.length - 2;
    const stride = typeof c.opts.stride === 'number' ? new Array(D).fill(c.opts.stride) : c.opts.stride ?? new Array(D).fill(1);
    const dil = c.opts.dilation ? [...(c.opts.dilation as number[])] : new Array(D).fill(1);
    close(t, y, ref.conv(ref.nd(x), ref.nd(w), stride as number[], c.lo, c.outS, dil, c.opts.groups ?? 1), `conv ${JSON.stringify(c.opts)} x [${c.x}] w [${c.w}]`, { rtol: 1e-12, atol: 1e-12 });
    checkGrad(t, (a, b) => np.conv(a, b, c.opts), [x, w], `conv grad [${c.x}] * [${c.w}]`, { second: D < 3 });
  }
  t.end();
});

test('float32 (2+1)-D convs on the cpu run as conv2d and match the float64 reference', (t) => {
  for (const c of [
    { x: [2, 3, 4, 12, 12], w: [5, 3, 1, 3, 3], opts: { padding: [0, 1, 1] }, lo: [0, 1, 1], outS: [4, 12, 12] },
    { x: [2, 5, 4, 8, 8], w: [3, 5, 3, 1, 1], opts: { padding: [1, 0, 0] }, lo: [1, 0, 0], outS: [4, 8, 8] },
  ] as { x: number[]; w: number[]; opts: np.ConvOptions; lo: number[]; outS: number[] }[]) {
    const x = input(c.x), w = input(c.w);
    const y = np.conv(np.astype(x, 'float32'), np.astype(w, 'float32'), c.opts);
    close(t, y, ref.conv(ref.nd(x), ref.nd(w), [1, 1, 1], c.lo, c.outS, [1, 1, 1], 1), `float32 conv ${JSON.stringify(c.opts)} x [${c.x}] w [${c.w}]`, { rtol: 1e-4, atol: 1e-4 });
    const g = np.grad((a: np.Tensor, b: np.Tensor) => np.sum(np.square(np.conv(a, b, c.opts))), { argnums: [0, 1] });
    const [g32, g64] = [g(np.astype(x, 'float32'), np.astype(w, 'float32')), g(x, w)];
    close(t, g32[0], g64[0], 'its input gradient against float64', { rtol: 1e-3, atol: 1e-3 });
    close(t, g32[1], g64[1], 'its weight gradient against float64', { rtol: 1e-3, atol: 1e-3 });
  }
  t.end();
});

test('conv of data whose first axis has stride 1 and the others not (a video stem), and its weight gradient', (t) => {
  // x is no function's argument here, so conv may split the first axis's kernel taps (see conv.ts)
  for (const c of [
    { x: [2, 3, 4, 7, 6], w: [4, 3, 3, 3, 2], opts: { stride: [1, 2, 2], padding: [1, 1, 0] }, lo: [1, 1, 0], outS: [4, 4, 3] },
    // 16 positions a frame or more: on the CPU a conv2d of the frames with the taps stacked
    { x: [2, 3, 4, 10, 9], w: [4, 3, 3, 3, 3], opts: { stride: [1, 2, 2], padding: [1, 1, 1] }, lo: [1, 1, 1], outS: [4, 5, 5] },
    { x: [1, 2, 3, 8, 8], w: [2, 2, 2, 3, 3], opts: { stride: [1, 1, 2], dilation: [2, 1, 1], padding: [[1, 1], [0, 0], [1, 1]] }, lo: [1, 0, 1], outS: [3, 6, 4] },
    { x: [1, 2, 5, 6], w: [3, 2, 2, 3], opts: { stride: [1, 2], dilation: [2, 1], padding: [[2, 0], [1, 1]] }, lo: [2, 1], outS: [5, 3] },
  ] as { x: number[]; w: number[]; opts: np.ConvOptions; lo: number[]; outS: number[] }[]) {
    const x = input(c.x), w = input(c.w);
    const dil = (c.opts.dilation as number[] | undefined) ?? c.w.slice(2).map(() => 1);
    close(t, np.conv(x, w, c.opts), ref.conv(ref.nd(x), ref.nd(w), c.opts.stride as number[], c.lo, c.outS, dil, 1), `conv ${JSON.stringify(c.opts)} x [${c.x}] w [${c.w}]`, { rtol: 1e-12, atol: 1e-12 });
    checkGrad(t, (b) => np.conv(x, b, c.opts), [w], `conv weight grad [${c.x}] * [${c.w}]`, { second: true });
  }
  t.end();
});

test('maxPool and global pools', (t) => {
  const x = input([2, 3, 6, 5]);
  const y = np.maxPool(x, { kernel: 3, stride: 2, padding: 1 });
  const want = ref.build([2, 3, 3, 3], ([b, c, i, j]) => {
    let m = -Infinity;
    for (let di = 0; di < 3; di++) for (let dj = 0; dj < 3; dj++) {
      const p = i * 2 - 1 + di, q = j * 2 - 1 + dj;
      if (p >= 0 && p < 6 && q >= 0 && q < 5) m = Math.max(m, ref.at(ref.nd(x), [b, c, p, q]));
    }
    return m;
  });
  close(t, y, want, 'maxPool 3x3 stride 2 pad 1', { rtol: 0, atol: 0 });
  checkGrad(t, (a) => np.maxPool(a, { kernel: 2 }), [x], 'maxPool grad');
  const v = input([2, 3, 4, 5, 6]);
  close(t, np.globalMaxPool(v), ref.reduce(ref.nd(v), [2, 3, 4], -Infinity, Math.max), 'globalMaxPool 3-D');
  close(t, np.globalAvgPool(v), ref.map(ref.reduce(ref.nd(v), [2, 3, 4], 0, (a, b) => a + b), (s) => s / 120), 'globalAvgPool 3-D', { rtol: 1e-12 });
  checkGrad(t, np.globalMaxPool, [v], 'globalMaxPool grad');
  t.end();
});

test('softmax, logSoftmax, logSumExp, l2Normalize, sigmoid, relu, mean, variance', (t) => {
  const x = input([3, 5]);
  const X = ref.nd(x);
  const lse = ref.map(ref.reduce(X, [1], 0, (a, v) => a + Math.exp(v)), Math.log);
  close(t, np.logSumExp(x, 1), lse, 'logSumExp', { rtol: 1e-12 });
  close(t, np.softmax(x), ref.build([3, 5], ([i, j]) => Math.exp(ref.at(X, [i, j]) - ref.at(lse, [i]))), 'softmax', { rtol: 1e-12 });
  close(t, np.logSoftmax(x), ref.build([3, 5], ([i, j]) => ref.at(X, [i, j]) - ref.at(lse, [i])), 'logSoftmax', { rtol: 1e-12 });
  const norms = ref.map(ref.reduce(X, [1], 0, (a, v) => a + v * v), Math.sqrt);
  close(t, np.l2Normalize(x), ref.build([3, 5], ([i, j]) => ref.at(X, [i, j]) / ref.at(norms, [i])), 'l2Normalize', { rtol: 1e-12 });
  close(t, np.sigmoid(x), ref.map(X, (v) => 1 / (1 + Math.exp(-v))), 'sigmoid', { rtol: 1e-12 });
  close(t, np.relu(x), ref.map(X, (v) => Math.max(v, 0)), 'relu');
  close(t, np.mean(x, 0), ref.map(ref.reduce(X, [0], 0, (a, v) => a + v), (s) => s / 3), 'mean', { rtol: 1e-12 });
  for (const [name, f] of [['softmax', np.softmax], ['logSoftmax', np.logSoftmax], ['logSumExp', (a: np.Tensor) => np.logSumExp(a, 1)],
    ['l2Normalize', np.l2Normalize], ['sigmoid', np.sigmoid], ['variance', (a: np.Tensor) => np.variance(a, 0)]] as [string, (a: np.Tensor) => np.Tensor][]) {
    checkGrad(t, f, [x], `${name} grad`, { second: true });
  }
  checkGrad(t, np.crossEntropy, [x, np.tensor(new Int32Array([0, 4, 2]))], 'crossEntropy grad', { second: true });
  close(t, np.logSumExp(np.tensor([1000, 1000], { dtype: 'float64' })), np.tensor(1000 + Math.log(2), { dtype: 'float64' }), 'logSumExp does not overflow');
  close(t, np.logSumExp(np.tensor([-Infinity, -Infinity])), np.tensor(-Infinity), 'logSumExp of all -inf is -inf');
  close(t, np.l2Normalize(np.zeros([2, 3])), np.zeros([2, 3]), 'l2Normalize keeps zero vectors at zero');
  close(t, np.grad((a: np.Tensor) => np.sum(np.relu(a)))(np.tensor([-1, 0, 2])), np.tensor([0, 0, 1]), 'relu derivative is 0 at 0');
  t.end();
});
