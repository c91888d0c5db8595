/** Random keys: determinism, independence of split keys, and the samplers' distributions. */
import test from 'tape';
import * as np from '../../core/index.js';
import { throwsWith } from '../helpers.js';

const { random } = np;
const arr = (t: np.Tensor) => Array.from(t.dataSync());

test('the same key gives the same numbers; different keys give different numbers', (t) => {
  const k = random.key(42);
  t.deepEqual(arr(random.normal(k, [100])), arr(random.normal(random.key(42), [100])), 'normal is a function of the key');
  t.deepEqual(arr(random.uniform(k, [7])), arr(random.uniform(k, [7])), 'uniform is a function of the key');
  const [a, b] = random.split(k);
  t.notDeepEqual(arr(random.normal(a, [10])), arr(random.normal(b, [10])), 'split keys differ');
  t.notDeepEqual(arr(random.normal(random.foldIn(k, 1), [10])), arr(random.normal(random.foldIn(k, 2), [10])), 'foldIn differs by data');
  t.deepEqual(random.split(k, 3).map(String), random.split(random.key(42), 3).map(String), 'split is deterministic');
  // a fixed value: changes to the generator must be deliberate (they change every seeded result)
  t.deepEqual(random.threefry2x32(0, 0, 0, 0), [0x6b200159, 0x99ba4efe], 'Threefry-2x32 known-answer test (Salmon et al.)');
  t.deepEqual(random.threefry2x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff), [0x1cb996fc, 0xbb002be7], 'Threefry-2x32 known answer, all ones');
  // bits runs the cipher written out for its counter loop: word i must be half of threefry2x32(key, (i / 2, 0))
  let bad = 0;
  for (const seed of [0, 1, 42, 0x7fffffff]) for (const key of [random.key(seed), ...random.split(random.key(seed), 3)]) {
    for (const n of [1, 2, 7, 64]) {
      const w = random.bits(key, n);
      for (let i = 0; i < n; i++) if (w[i] !== random.threefry2x32(key.k0, key.k1, i >>> 1, 0)[i & 1]) bad++;
    }
  }
  t.equal(bad, 0, 'bits = threefry2x32 of the counter, word for word, over 16 keys and odd and even lengths');
  t.end();
});

test('samplers have the right ranges and moments', (t) => {
  const n = 20000;
  const u = arr(random.uniform(random.key(1), [n], { minval: 2, maxval: 5 }));
  t.ok(u.every((v) => v >= 2 && v < 5), 'uniform within [2, 5)');
  t.ok(Math.abs(u.reduce((a, b) => a + b) / n - 3.5) < 0.03, 'uniform mean 3.5');
  const z = arr(random.normal(random.key(2), [n], { dtype: 'float64' }));
  const m = z.reduce((a, b) => a + b) / n, v = z.reduce((a, b) => a + (b - m) ** 2, 0) / n;
  t.ok(Math.abs(m) < 0.03 && Math.abs(v - 1) < 0.04, `normal mean ${m.toFixed(3)} var ${v.toFixed(3)}`);
  const r = arr(random.randint(random.key(3), [n], -2, 3));
  t.ok(r.every((x) => Number.isInteger(x) && x >= -2 && x < 3), 'randint in [-2, 3)');
  t.equal(new Set(r).size, 5, 'randint hits every value');
  const p = arr(random.permutation(random.key(4), 50));
  t.deepEqual([...p].sort((a, b) => a - b), [...Array(50).keys()], 'permutation is a permutation');
  const c = arr(random.choice(random.key(5), 10, [10], { replace: false }));
  t.equal(new Set(c).size, 10, 'choice without replacement has no repeats');
  t.equal(random.choice(random.key(6), 3, [100]).dtype, 'int32', 'choice with replacement gives int32');
  const bern = arr(random.bernoulli(random.key(7), 0.3, [n]));
  t.ok(Math.abs(bern.reduce((a, b) => a + b) / n - 0.3) < 0.02, 'bernoulli rate 0.3');
  t.end();
});

test('random errors', (t) => {
  throwsWith(t, () => random.normal(42 as unknown as np.Key, [2]), [/random.normal/, /key/], 'a number is not a key');
  throwsWith(t, () => random.randint(random.key(0), [2], 3, 3), [/randint/, /lo < hi/], 'empty range');
  throwsWith(t, () => random.uniform(random.key(0), [2, -1]), [/shape/, /-1/], 'negative shape');
  t.end();
});
