/** Tensors as values: creation, reading back, printing, immutability, and the errors ops raise. */
import test from 'tape';
import { inspect } from 'node:util';
import * as np from '../../core/index.js';
import { opError, throwsWith } from '../helpers.js';

test('creation and read-back', (t) => {
  const x = np.tensor([[1, 2, 3], [4, 5, 6]]);
  t.deepEqual(x.shape, [2, 3], 'shape from nested arrays');
  t.equal(x.dtype, 'float32', 'float32 by default');
  t.deepEqual(x.toArray(), [[1, 2, 3], [4, 5, 6]], 'toArray gives nested arrays');
  t.ok(x.dataSync() instanceof Float32Array, 'dataSync gives the flat typed array');
  t.equal(np.tensor(new Int32Array([1, 2])).dtype, 'int32', 'typed arrays keep their dtype');
  t.equal(np.tensor([true, false]).dtype, 'bool', 'booleans give bool');
  t.deepEqual(np.tensor([true, false]).toArray(), [true, false], 'bool reads back as booleans');
  t.equal(np.tensor(3).rank, 0, 'a number is a scalar');
  t.deepEqual(np.tensor(new Float64Array(6), { shape: [2, 3] }).shape, [2, 3], 'flat data with a shape');
  t.deepEqual(np.arange(4).toArray(), [0, 1, 2, 3], 'arange');
  t.deepEqual(np.linspace(0, 1, 3).toArray(), [0, 0.5, 1], 'linspace');
  t.deepEqual(np.eye(2).toArray(), [[1, 0], [0, 1]], 'eye');
  t.deepEqual(np.full([2], 7, 'int32').toArray(), [7, 7], 'full');
  t.deepEqual(np.tensor([]).shape, [0], 'empty');
  t.end();
});

test('tensors are immutable values', (t) => {
  const src = new Float32Array([1, 2, 3]);
  const x = np.tensor(src);
  src[0] = 100;
  t.equal(x.dataSync()[0], 1, 'changing the source array does not change the tensor');
  const d = x.dataSync();
  d[1] = 100;
  t.equal(x.dataSync()[1], 2, 'changing what dataSync returned does not change the tensor');
  const y = np.reshape(x, [3, 1]);
  t.deepEqual(x.shape, [3], 'reshape returns a new tensor and leaves x alone');
  t.throws(() => { (x.shape as number[])[0] = 5; }, TypeError, 'shape is frozen');
  t.equal(y.size, 3, 'size');
  t.end();
});

test('printing like numpy', (t) => {
  t.equal(inspect(np.tensor([[1, 2], [3, 4]])), 'tensor([[1., 2.],\n        [3., 4.]], dtype=float32, shape=[2, 2])', 'small float matrix');
  t.equal(inspect(np.tensor(new Int32Array([1, 20]))), 'tensor([ 1, 20], dtype=int32, shape=[2])', 'ints right-aligned');
  t.equal(String(np.tensor([0.5, -1.25])), 'tensor([  0.5, -1.25], dtype=float32, shape=[2])', 'toString');
  const big = inspect(np.arange(2000));
  t.ok(big.includes('...') && big.length < 200, 'large tensors are summarised');
  t.equal(inspect(np.tensor([NaN, Infinity, -Infinity])), 'tensor([ nan,  inf, -inf], dtype=float32, shape=[3])', 'nan and inf');
  t.end();
});

test('errors name the op, the shapes and what was expected', (t) => {
  const a = np.zeros([2, 3]), b = np.zeros([4, 5]);
  throwsWith(t, () => np.add(a, b), [/^add:/, /\[2, 3\]/, /\[4, 5\]/, /broadcast/], 'add shape mismatch');
  throwsWith(t, () => np.matmul(a, b), [/^matmul:/, /\[2, 3\]/, /\[4, 5\]/, /3 vs 4/], 'matmul inner dimensions');
  throwsWith(t, () => np.matmul(np.zeros([2, 2], 'int32'), np.zeros([2, 2], 'int32')), [/matmul/, /float/, /int32/], 'matmul of ints');
  throwsWith(t, () => np.reshape(a, [4, 2]), [/^reshape:/, /\[2, 3\]/, /\[4, 2\]/], 'reshape size');
  throwsWith(t, () => np.gather(a, np.tensor(new Int32Array([0, 2]))), [/^gather:/, /index 2/, /2 rows/], 'gather index out of range');
  throwsWith(t, () => np.gather(a, np.tensor([0, 1])), [/^gather:/, /int32/, /float32/], 'gather with float indices');
  throwsWith(t, () => np.log(np.tensor(new Int32Array([1]))), [/^log:/, /float/, /int32/], 'log of ints');
  throwsWith(t, () => np.sum(a, 2), [/^sum:/, /axis 2/, /rank 2/], 'axis out of range');
  throwsWith(t, () => np.conv(np.zeros([1, 3, 8, 8]), np.zeros([4, 2, 3, 3])), [/^conv:/, /3 channels/, /\[4, 2, 3, 3\]/], 'conv channel mismatch');
  throwsWith(t, () => np.conv(np.zeros([3, 8, 8]), np.zeros([4, 3, 3, 3])), [/^conv:/, /\[3, 8, 8\]/, /batch/], 'conv missing batch axis');
  throwsWith(t, () => np.tensor([[1, 2], [3]]), [/^tensor:/, /ragged/], 'ragged nested array');
  throwsWith(t, () => np.tensor([1, 'a' as unknown as number]), [/^tensor:/, /"a"/], 'non-numbers');
  throwsWith(t, () => np.where(np.tensor([1, 0]), 1, 2), [/^where:/, /bool/, /float32/], 'where needs a bool condition');
  throwsWith(t, () => np.slice(np.zeros([3]), [2], [2]), [/^slice:/, /out of bounds/, /\[3\]/], 'slice out of bounds');
  throwsWith(t, () => np.concat([np.zeros([2, 3]), np.zeros([3, 2])], 0), [/^concat:/, /\[2, 3\]/, /\[3, 2\]/], 'concat shapes');
  throwsWith(t, () => np.transpose(a, [0, 0]), [/^transpose:/, /permutation/], 'bad perm');
  throwsWith(t, () => np.add(a, 'x' as unknown as number), [/^add:/, /string/], 'not a tensor');
  throwsWith(t, () => np.zeros([2], 'float16' as np.DType), [/dtype/, /float16/], 'unknown dtype');
  t.end();
});

test('tensor() from bad data: an OpError naming the element and what was wrong, never a crash', (t) => {
  const bad = (data: unknown, patterns: RegExp[], msg: string, opts?: np.CreateOptions) =>
    opError(t, () => np.tensor(data as number[], opts), 'tensor', patterns, msg);
  bad([[1, 2], [3]], [/ragged/, /data\[1\] has shape \[1\]/, /data\[0\] has \[2\]/], 'ragged rows');
  bad([[[1, 2], [3, 4]], [[1, 2], [3]]], [/ragged/, /data\[1\]\[1\]/], 'ragged deep inside: the path to it');
  bad([1, [2]], [/ragged/, /data\[1\]/], 'a number beside an array');
  bad([[2], 1], [/ragged/, /data\[1\] has shape \[\]/], 'an array beside a number');
  bad([1, 'a'], [/data\[1\] is "a"/, /numbers or booleans/], 'a string among numbers');
  bad([[1, 2], [3, null]], [/data\[1\]\[1\] is null/], 'a null');
  bad([1, undefined], [/data\[1\] is undefined/], 'an undefined');
  bad([1, 2n], [/data\[1\] is the BigInt 2n/], 'a BigInt (JSON cannot print one: this used to crash the message)');
  bad([1, {}], [/data\[1\] is an object/], 'an object');
  // eslint-disable-next-line no-sparse-arrays
  bad([1, , 3], [/data\[1\] is empty/, /sparse/], 'a hole in a sparse array (used to say "shape [3] needs 3 values, got 2")');
  bad([np.ones([2]), np.ones([2])], [/data\[0\] is a Tensor \[2\]/, /stack/], 'tensors in an array: points to stack');
  const circ: unknown[] = [1]; circ.push(circ);
  bad(circ, [/data\[1\] contains itself/], 'a circular array (used to overflow the stack)');
  bad('abc', [/data is "abc"/], 'a string alone');
  bad(new Uint16Array(2), [/Uint16Array needs a dtype/], 'a typed array with no storage dtype of its own (used to become bool)');
  bad(new BigInt64Array(2), [/BigInt64Array cannot be read/], 'a BigInt64Array (used to throw a TypeError)');
  bad(new Uint8Array([0, 1, 200]), [/read as bool/, /element 2 is 200/, /dtype/], 'bytes that are not 0/1 in a Uint8Array read as bool');
  bad([1, 2], [/shape \[3\] needs 3 values, got 2/], 'a shape that does not fit the data', { shape: [3] });
  bad([1, 2], [/non-negative integers/, /-1/], 'a negative shape', { shape: [-1, -2] });
  bad([1], [/unknown dtype "float16"/], 'an unknown dtype', { dtype: 'float16' as np.DType });
  t.deepEqual(np.tensor([NaN, 3e9, -3e9, 1.7, -1.7], { dtype: 'int32' }).toArray(), [0, 2147483647, -2147483648, 1, -1],
    'numbers into int32 convert as astype does (NaN 0, saturate, truncate), not wrap as an Int32Array stores');
  t.deepEqual(Array.from(np.tensor(new Float32Array([2, 0, NaN]), { dtype: 'bool' }).dataSync()), [1, 0, 1], 'into bool: != 0, stored as 0/1');
  t.deepEqual(np.tensor(new Uint16Array([7, 65535]) as unknown as Int32Array, { dtype: 'int32' }).toArray(), [7, 65535], 'a Uint16Array with a dtype converts');
  t.end();
});

test('weak typing of numbers and dtype promotion', (t) => {
  t.equal(np.mul(np.zeros([2]), 2).dtype, 'float32', 'a number keeps float32');
  t.equal(np.add(np.zeros([2], 'int32'), 1).dtype, 'int32', 'an integer keeps int32');
  t.equal(np.add(np.zeros([2], 'int32'), 0.5).dtype, 'float32', 'a fraction promotes int32 to float32');
  t.equal(np.add(np.zeros([2]), np.zeros([2], 'float64')).dtype, 'float64', 'float32 + float64 is float64');
  t.equal(np.div(np.ones([2], 'int32'), 2).dtype, 'float32', 'true division of ints');
  t.equal(np.sum(np.tensor([true, true, false])).item(), 2, 'sum of bools counts');
  t.end();
});
