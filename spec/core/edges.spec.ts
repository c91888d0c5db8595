/**
 * Edge cases a fuzz run found (issue 11): each was a silent wrong answer, a wrong error type, or an
 * OpError naming an internal op. Every assertion here failed before its fix. CPU only: the GPU holds
 * int32 and float64 in float32, which gpu.spec.ts covers on its own terms.
 */
import test from 'tape';
import * as np from '../../core/index.js';
import { close, opError } from '../helpers.js';

const I = (v: number[]) => np.tensor(new Int32Array(v));
const B = (v: boolean[]) => np.tensor(v);
const F64 = (v: number[]) => np.tensor(v, { dtype: 'float64' });
const INT_MIN = -2147483648, INT_MAX = 2147483647;

test('min is its own reduction: right for bool and at the int32 minimum', (t) => {
  t.deepEqual(np.min(B([true, false])).toArray(), false, 'min of [true, false] is false');
  t.equal(np.min(B([true, false])).dtype, 'bool', 'and stays bool');
  t.equal(np.min(I([5, INT_MIN, 3])).item(), INT_MIN, 'int32 minimum does not wrap');
  t.deepEqual(np.min(np.tensor([[4, 2], [INT_MIN, 7]], { dtype: 'int32' }), 1).toArray(), [2, INT_MIN], 'along an axis');
  t.ok(Number.isNaN(np.min(F64([1, NaN, -3])).item()), 'nan propagates');
  t.end();
});

test('bool arithmetic stays 0/1: add is or, mul is and, neg and sub are refused (numpy)', (t) => {
  t.deepEqual([...np.add(B([true, true, false]), B([true, false, false])).dataSync()], [1, 1, 0], 'add(true, true) stores 1');
  t.deepEqual(np.equal(np.add(B([true]), true), true).toArray(), [true], 'equal sees it as true');
  t.equal(np.sum(np.add(B([true, true]), true)).item(), 2, 'sum counts it once');
  t.deepEqual([...np.mul(B([true, true, false]), B([true, false, false])).dataSync()], [1, 0, 0], 'mul is and');
  t.deepEqual([...np.maximum(B([true, false]), B([false, false])).dataSync()], [1, 0], 'maximum is or');
  opError(t, () => np.neg(B([true])), 'neg', [/bool/, /logicalNot/], 'neg of bool');
  opError(t, () => np.sub(B([true]), B([false])), 'sub', [/bool/], 'sub of bools');
  t.deepEqual(np.sub(1, B([true, false])).toArray(), [0, 1], 'a number minus a mask is int32 arithmetic');
  t.deepEqual([...np.pad(B([true]), [[1, 1]], 2).dataSync()], [1, 1, 1], 'pad value 2 is stored as true');
  t.deepEqual([...np.pad(B([false]), [[1, 0]], 0.5).dataSync()], [1, 0], 'pad value 0.5 is stored as true');
  t.deepEqual(np.pad(I([7]), [[1, 0]], 2.9).toArray(), [2, 7], 'an int32 pad value truncates as astype does');
  t.end();
});

test('maxPool of int32 pads with the int32 minimum, not 0', (t) => {
  const x = np.reshape(I([-7, -9]), [1, 1, 1, 2]);
  t.deepEqual(np.maxPool(x, { kernel: [1, 2], stride: 1, padding: [[0, 0], [1, 1]] }).toArray(), [[[[-7, -7, -9]]]], 'padding never wins');
  const b = np.reshape(B([false]), [1, 1, 1, 1]);
  t.deepEqual(np.maxPool(b, { kernel: [1, 2], stride: 1, padding: [[0, 0], [1, 0]] }).toArray(), [[[[false]]]], 'bool pads with false');
  t.end();
});

test('numbers beyond int32 promote int32 tensors to float32; int32 mul and pow wrap; negative int powers raise', (t) => {
  t.deepEqual(np.less(I([5]), 3e9).toArray(), [true], 'less(5, 3e9)');
  t.deepEqual(np.equal(I([0]), 2 ** 32).toArray(), [false], '2^32 is not 0');
  const big = np.add(I([1]), 1e38);
  t.equal(big.dtype, 'float32', 'add(int32, 1e38) is float32');
  close(t, big, np.tensor([1e38]), 'add(int32, 1e38) is 1e38', { rtol: 1e-7 });
  t.equal(np.add(I([1]), -3e9).item(), Math.fround(-3e9 + 1), 'add(int32, -3e9)');
  t.equal(np.add(B([true]), 3e9).item(), Math.fround(3e9 + 1), 'a bool tensor beside 3e9 is float32');
  t.equal(np.add(I([1]), INT_MIN).dtype, 'int32', 'the int32 minimum itself stays int32');
  t.equal(np.mul(I([123456789]), 987654321).item(), Math.imul(123456789, 987654321), 'int32 mul wraps exactly');
  t.equal(np.mul(I([65536]), I([65536])).item(), 0, '2^16 * 2^16 wraps to 0');
  let p = 1;
  for (let i = 0; i < 40; i++) p = Math.imul(p, 3);
  t.equal(np.pow(I([3]), 40).item(), p, 'int32 pow wraps as repeated mul');
  t.equal(np.pow(I([2]), I([31])).item(), INT_MIN, '2^31 wraps to the minimum');
  t.deepEqual(np.pow(I([5, -2, 0]), 0).toArray(), [1, 1, 1], 'x^0 = 1');
  opError(t, () => np.pow(I([2]), -1), 'pow', [/negative/, /-1/], 'int32 to a negative power');
  opError(t, () => np.pow(I([2, 3]), I([1, -2])), 'pow', [/negative/], 'int32 to a negative int32 power');
  t.end();
});

test('crossEntropy checks its labels and stays finite for a -inf logit', (t) => {
  const logits = np.zeros([2, 3]);
  opError(t, () => np.crossEntropy(logits, np.reshape(I([0, 2]), [2, 1])), 'crossEntropy', [/\[2, 1\]/, /\[2\]/], 'labels [[0], [2]]');
  opError(t, () => np.crossEntropy(logits, I([1])), 'crossEntropy', [/\[1\]/, /\[2\]/], 'labels [1]');
  opError(t, () => np.crossEntropy(logits, np.tensor(1, { dtype: 'int32' })), 'crossEntropy', [/\[\]/, /\[2\]/], 'labels []');
  opError(t, () => np.crossEntropy(logits, I([0, 3])), 'crossEntropy', [/label 3/, /3 classes/], 'label 3 of 3 classes');
  opError(t, () => np.crossEntropy(logits, I([-1, 0])), 'crossEntropy', [/label -1/], 'label -1');
  opError(t, () => np.crossEntropy(logits, np.tensor([0, 1])), 'crossEntropy', [/int32/, /float32/], 'float labels');
  const l = np.tensor([[0, -Infinity, 0]]);
  close(t, np.crossEntropy(l, I([0])), np.tensor(Math.LN2), 'a -inf logit of another class', { rtol: 1e-6 });
  close(t, np.grad((z: np.Tensor) => np.crossEntropy(z, I([0])))(l), np.tensor([[-0.5, 0, 0.5]]), 'and its gradient', { rtol: 1e-6 });
  t.end();
});

test('logSoftmax and logSumExp keep precision far from 0 and follow scipy at inf', (t) => {
  close(t, np.logSoftmax(np.tensor([1e5, 1e5 + 1])), np.tensor([-1.3132616, -0.3132617]), 'float32 [1e5, 1e5 + 1]', { rtol: 1e-6 });
  close(t, np.logSoftmax(F64([1e300, 1e300])), F64([-Math.LN2, -Math.LN2]), 'float64 [1e300, 1e300]', { rtol: 1e-12 });
  close(t, np.logSumExp(F64([-1e39, -1e39])), np.tensor(-1e39, { dtype: 'float64' }), 'float64 -1e39 is not -inf', { rtol: 1e-12 });
  t.equal(np.logSumExp(np.tensor([Infinity, 1])).item(), Infinity, 'logSumExp([inf, 1]) is inf');
  t.equal(np.logSumExp(np.tensor([-Infinity, -Infinity])).item(), -Infinity, 'all -inf gives -inf');
  t.ok(Number.isNaN(np.logSumExp(np.tensor([NaN, 1])).item()), 'nan gives nan');
  t.end();
});

test('bad sizes and axes raise OpError naming the op', (t) => {
  const x = np.zeros([1, 1, 4, 4]), w = np.zeros([1, 1, 3, 3]);
  opError(t, () => np.conv(x, w, { padding: 0.5 }), 'conv', [/padding/, /0\.5/], 'conv padding 0.5');
  opError(t, () => np.conv(x, w, { padding: [[0, -1], [0, 0]] }), 'conv', [/padding/], 'conv padding -1');
  opError(t, () => np.maxPool(x, { kernel: 2, padding: 0.5 }), 'maxPool', [/padding/], 'maxPool padding 0.5');
  opError(t, () => np.broadcastTo(np.zeros([1]), [2.5]), 'broadcastTo', [/2\.5/], 'broadcastTo [2.5]');
  opError(t, () => np.broadcastTo(np.zeros([1]), [-1]), 'broadcastTo', [/-1/], 'broadcastTo [-1]');
  opError(t, () => np.oneHot(I([0]), -1), 'oneHot', [/-1/], 'oneHot(x, -1)');
  opError(t, () => np.oneHot(I([0]), 2.5), 'oneHot', [/2\.5/], 'oneHot(x, 2.5)');
  opError(t, () => np.mean(np.tensor(3), 0), 'mean', [/axis 0/, /rank 0/], 'mean of a scalar over axis 0');
  opError(t, () => np.sum(np.tensor(3), 0), 'sum', [/axis 0/], 'sum of a scalar over axis 0');
  opError(t, () => np.astype(np.zeros([1]), 'float16' as np.DType), 'astype', [/float16/], 'astype float16');
  t.equal(np.sum(np.tensor(true)).dtype, 'int32', 'sum of a bool scalar is int32');
  t.equal(np.sum(B([true, true]), []).dtype, 'int32', 'sum of bool over no axes is int32');
  t.end();
});

test('nan and inf follow numpy: pow at ±1, sign of -0, float to int32, sigmoid tails', (t) => {
  for (const dtype of ['float32', 'float64'] as const) {
    const a = np.tensor([1, 1, 1, -1, -1, 1, NaN], { dtype }), b = np.tensor([NaN, Infinity, -Infinity, Infinity, -Infinity, 0, 0], { dtype });
    t.deepEqual([...np.pow(a, b).dataSync()], [1, 1, 1, 1, 1, 1, 1], `${dtype} pow(1, nan), pow(±1, ±inf), x^0`);
  }
  t.ok(Object.is(np.sign(np.tensor([-0])).item(), 0), 'sign(-0) is +0 (numpy)');
  t.ok(Number.isNaN(np.sign(np.tensor([NaN])).item()), 'sign(nan) is nan');
  t.deepEqual(np.astype(F64([NaN, Infinity, -Infinity, 3e9, -3e9, 2.7, -2.7]), 'int32').toArray(),
    [0, INT_MAX, INT_MIN, INT_MAX, INT_MIN, 2, -2], 'float to int32 saturates, nan is 0');
  const s = np.sigmoid(np.tensor([-100])).item();
  t.ok(Math.abs(s - 3.7200759760208356e-44) < 0.05 * 3.72e-44, `float32 sigmoid(-100) is ${s}, about 3.72e-44 (the tanh form gives 0)`);
  close(t, np.sigmoid(F64([-700, 700, 0, -30])), F64([Math.exp(-700), 1, 0.5, 1 / (1 + Math.exp(30))]), 'float64 tails', { rtol: 1e-12 });
  t.ok(Number.isNaN(np.sigmoid(np.tensor([NaN])).item()), 'sigmoid(nan) is nan');
  t.deepEqual(np.sigmoid(I([0])).toArray(), [0.5], 'sigmoid of int32 is float32');
  close(t, np.grad((z: np.Tensor) => np.sum(np.sigmoid(z)))(F64([0, -3])), F64([0.25, Math.exp(-3) / (1 + Math.exp(-3)) ** 2]), 'gradient at 0 and below', { rtol: 1e-12 });
  t.end();
});

test('errors name the op the user called, not the primitives inside it', (t) => {
  const x = np.zeros([2, 3]);
  const cases: [string, () => unknown, RegExp[]][] = [
    ['softmax', () => np.softmax(x, 5), [/axis 5/]],
    ['softmax', () => np.softmax(np.zeros([2, 0])), [/size 0/]],
    ['logSoftmax', () => np.logSoftmax(x, 2), [/axis 2/]],
    ['logSumExp', () => np.logSumExp(x, 4), [/axis 4/]],
    ['crossEntropy', () => np.crossEntropy(np.zeros([2, 0]), I([0, 0])), []],
    ['lessEqual', () => np.lessEqual(x, np.zeros([4, 5])), [/\[2, 3\] and \[4, 5\]/]],
    ['oneHot', () => np.oneHot(I([0]), 2.5), []],
    ['relu', () => np.relu('x' as unknown as number), [/string/]],
    ['sigmoid', () => np.sigmoid('x' as unknown as number), [/string/]],
    ['variance', () => np.variance(x, 3), [/axis 3/]],
    ['l2Normalize', () => np.l2Normalize(x, 3), [/axis 3/]],
    ['clip', () => np.clip('a' as unknown as number, 0, 1), [/string/]],
    ['square', () => np.square('a' as unknown as number), [/string/]],
    ['reciprocal', () => np.reciprocal('a' as unknown as number), [/string/]],
    ['stack', () => np.stack([np.zeros([2]), np.zeros([3])]), [/\[2\]/, /\[3\]/]],
    ['globalMaxPool', () => np.globalMaxPool(np.zeros([1, 1, 0])), [/size 0/]],
  ];
  for (const [op, fn, pats] of cases) opError(t, fn, op, pats, `${op} names itself`);
  t.end();
});

test('found by spec/core/fuzz.spec.ts: flatten of size 0, full converts as astype, moments over nothing, matmulT names itself', (t) => {
  t.deepEqual(np.flatten(np.zeros([0, 3])).shape, [0, 3], 'flatten [0, 3] is [0, 3] (reshape to [0, -1] raised)');
  t.deepEqual(np.flatten(np.zeros([4, 0, 2]), 2).shape, [4, 0, 2], 'flatten [4, 0, 2] from axis 2');
  t.deepEqual(np.full([3], -Infinity, 'int32').toArray(), [INT_MIN, INT_MIN, INT_MIN], 'full int32 -inf saturates (was 0)');
  t.deepEqual(np.full([1], -3e9, 'int32').toArray(), [INT_MIN], 'full int32 -3e9 saturates (wrapped to 1294967296)');
  t.deepEqual([...np.full([2], 2, 'bool').dataSync()], [1, 1], 'full bool 2 stores 1');
  const [m, v] = np.moments(np.zeros([3, 0]), -1);
  t.ok([...m.dataSync(), ...v.dataSync()].length === 6 && [...m.dataSync(), ...v.dataSync()].every(Number.isNaN), 'moments over an empty axis are nan per row (were 0)');
  opError(t, () => np.matmulT(np.zeros([2, 2]), np.zeros([2, 2], 'float64')), 'matmulT', [/float32/, /float64/], 'matmulT of two dtypes');
  opError(t, () => np.matmul(np.zeros([2, 3]), np.zeros([2, 3])), 'matmul', [/inner/], 'matmul still names itself');
  t.end();
});
