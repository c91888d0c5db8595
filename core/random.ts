/**
 * Splittable random keys (JAX's design): a key is an immutable value; `split` makes independent
 * child keys, `foldIn` mixes in a number, and every sampler is a pure function of (key, shape).
 * Bits come from the Threefry-2x32 block cipher (20 rounds) run in counter mode on the host, so the
 * same key gives the same numbers on every run and every backend. No Math.random anywhere.
 */
import { alloc, type DType, isFloat } from './dtype.js';
import { tensor } from './creation.js';
import { checkShape, ConcretizationError, OpError, sizeOf } from './shape.js';
import type { Tensor } from './tensor.js';

/** A PRNG key: two 32-bit words. Make one with `key(seed)`; never reuse one for two purposes. */
export class Key {
  constructor(readonly k0: number, readonly k1: number) { Object.freeze(this); }
  toString(): string { return `Key(0x${this.k0.toString(16).padStart(8, '0')}, 0x${this.k1.toString(16).padStart(8, '0')})`; }
  [Symbol.for('nodejs.util.inspect.custom')](): string { return this.toString(); }
}

const rotl = (v: number, r: number) => ((v << r) | (v >>> (32 - r))) >>> 0;
const ROT = [[13, 15, 26, 6], [17, 29, 16, 24]];

/** Threefry-2x32 of the counter (x0, x1) under key (k0, k1): two pseudo-random 32-bit words. */
export function threefry2x32(k0: number, k1: number, x0: number, x1: number): [number, number] {
  const ks = [k0 >>> 0, k1 >>> 0, (k0 ^ k1 ^ 0x1bd11bda) >>> 0];
  x0 = (x0 + ks[0]) >>> 0; x1 = (x1 + ks[1]) >>> 0;
  for (let round = 0; round < 5; round++) {
    for (const r of ROT[round % 2]) { x0 = (x0 + x1) >>> 0; x1 = rotl(x1, r) ^ x0; x1 >>>= 0; }
    x0 = (x0 + ks[(round + 1) % 3]) >>> 0;
    x1 = (x1 + ks[(round + 2) % 3] + round + 1) >>> 0;
  }
  return [x0, x1];
}

/**
 * `n` random 32-bit words from `key`: word i is half of the cipher of counter floor(i / 2).
 * threefry2x32 written out for the counter loop (no arrays per block), the same words: every sampler
 * and the synthetic data draw through here.
 */
export function bits(k: Key, n: number): Uint32Array {
  checkKey('random.bits', k);
  const out = new Uint32Array(n);
  const k0 = k.k0 >>> 0, k1 = k.k1 >>> 0, k2 = (k0 ^ k1 ^ 0x1bd11bda) >>> 0;
  const [r0, r1, r2, r3] = ROT[0], [r4, r5, r6, r7] = ROT[1];
  for (let i = 0; i < n; i += 2) {
    let x0 = ((i >>> 1) + k0) >>> 0, x1 = k1;
    for (let round = 0; round < 5; round++) {
      const even = (round & 1) === 0;
      x0 = (x0 + x1) >>> 0; x1 = (rotl(x1, even ? r0 : r4) ^ x0) >>> 0;
      x0 = (x0 + x1) >>> 0; x1 = (rotl(x1, even ? r1 : r5) ^ x0) >>> 0;
      x0 = (x0 + x1) >>> 0; x1 = (rotl(x1, even ? r2 : r6) ^ x0) >>> 0;
      x0 = (x0 + x1) >>> 0; x1 = (rotl(x1, even ? r3 : r7) ^ x0) >>> 0;
      const a = (round + 1) % 3, b = (round + 2) % 3;
      x0 = (x0 + (a === 0 ? k0 : a === 1 ? k1 : k2)) >>> 0;
      x1 = (x1 + (b === 0 ? k0 : b === 1 ? k1 : k2) + round + 1) >>> 0;
    }
    out[i] = x0;
    if (i + 1 < n) out[i + 1] = x1;
  }
  return out;
}

/**
 * Keys a jitted function receives in place of its key arguments. Bits come from the host, so a
 * traced program cannot draw from a key that changes per call; a jitted function may pass keys on,
 * split them and fold numbers in (a model hands each layer its own), but drawing from one raises.
 */
const tracedKeys = new WeakSet<Key>();

/** @internal A stand-in for a key argument of a jitted function: any use of it raises. */
export function tracedKey(): Key {
  const k = new Key(0, 0);
  tracedKeys.add(k);
  return k;
}

/** A key `split` and `foldIn` may derive from: a traced key's children are traced keys. */
function parentKey(op: string, k: unknown): Key {
  if (!(k instanceof Key)) throw new OpError(op, `expected a random key (from random.key(seed) or split), got ${k === null ? 'null' : typeof k}`);
  return k;
}

function checkKey(op: string, k: unknown): Key {
  if (!(k instanceof Key)) throw new OpError(op, `expected a random key (from random.key(seed) or split), got ${k === null ? 'null' : typeof k}`);
  if (tracedKeys.has(k)) {
    throw new ConcretizationError(op, 'a random key passed to a jitted function cannot be used inside it (random bits are drawn on the host, ' +
      'and a traced program would reuse one draw every call): draw the random tensors outside jit and pass them in');
  }
  return k;
}

/** A key from an integer seed. `key(0)` */
export function key(seed: number): Key {
  if (!Number.isSafeInteger(seed)) throw new OpError('random.key', `seed must be an integer, got ${seed}`);
  return new Key(Math.floor(seed / 2 ** 32) >>> 0, seed >>> 0);
}

/** `n` (default 2) independent keys. `const [k1, k2] = split(k)` */
export function split(k: Key, n = 2): Key[] {
  parentKey('random.split', k);
  if (tracedKeys.has(k)) return Array.from({ length: n }, tracedKey);
  const [a, b] = [new Uint32Array(n), new Uint32Array(n)];
  for (let i = 0; i < n; i++) [a[i], b[i]] = threefry2x32(k.k0, k.k1, i, 0x9e3779b9);
  return Array.from({ length: n }, (_, i) => new Key(a[i], b[i]));
}

/** A new key from `k` and an integer (a step count, a layer index). `foldIn(k, step)` */
export function foldIn(k: Key, data: number): Key {
  parentKey('random.foldIn', k);
  if (tracedKeys.has(k)) return tracedKey();
  const [a, b] = threefry2x32(k.k0, k.k1, data >>> 0, 0x7f4a7c15);
  return new Key(a, b);
}

/** Uniform floats in [0, 1) as float64s with 53 random bits each (host side). */
function uniform01(k: Key, n: number): Float64Array {
  const w = bits(k, 2 * n), out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = ((w[2 * i] >>> 5) * 67108864 + (w[2 * i + 1] >>> 6)) / 9007199254740992;
  return out;
}

function floatDtype(op: string, d: DType): DType {
  if (!isFloat(d)) throw new OpError(op, `dtype must be float32 or float64, got ${d}`);
  return d;
}

const make = (values: ArrayLike<number>, shape: number[], dtype: DType): Tensor => {
  const buf = alloc(dtype, values.length);
  buf.set(values);
  return tensor(buf, { shape, dtype });
};

/** Uniform in [minval, maxval). `uniform(key(0), [2, 3])` */
export function uniform(k: Key, shape: readonly number[], opts: { minval?: number; maxval?: number; dtype?: DType } = {}): Tensor {
  checkKey('random.uniform', k);
  const s = checkShape('random.uniform', shape), dtype = floatDtype('random.uniform', opts.dtype ?? 'float32');
  const lo = opts.minval ?? 0, hi = opts.maxval ?? 1;
  const u = uniform01(k, sizeOf(s));
  for (let i = 0; i < u.length; i++) u[i] = lo + (hi - lo) * u[i];
  return make(u, s, dtype);
}

/** Standard normal samples (Box-Muller). `normal(key(0), [3])` */
export function normal(k: Key, shape: readonly number[], opts: { dtype?: DType; mean?: number; std?: number } = {}): Tensor {
  checkKey('random.normal', k);
  const s = checkShape('random.normal', shape), dtype = floatDtype('random.normal', opts.dtype ?? 'float32');
  const n = sizeOf(s), u = uniform01(k, 2 * Math.ceil(n / 2)), out = new Float64Array(n);
  const m = opts.mean ?? 0, sd = opts.std ?? 1;
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - u[i])), t = 2 * Math.PI * u[i + 1];
    out[i] = m + sd * r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = m + sd * r * Math.sin(t);
  }
  return make(out, s, dtype);
}

/** Integers uniform in [lo, hi) as int32. `randint(key(0), [4], 0, 10)` */
export function randint(k: Key, shape: readonly number[], lo: number, hi: number): Tensor {
  checkKey('random.randint', k);
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi <= lo) throw new OpError('random.randint', `needs integers lo < hi, got [${lo}, ${hi})`);
  const s = checkShape('random.randint', shape), u = uniform01(k, sizeOf(s));
  return make(u.map((v) => lo + Math.floor(v * (hi - lo))), s, 'int32');
}

/** A random ordering of 0..n-1 (Fisher-Yates), as int32. `permutation(key(0), 5)` */
export function permutation(k: Key, n: number): Tensor {
  checkKey('random.permutation', k);
  const p = new Int32Array(n).map((_, i) => i), u = uniform01(k, n);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(u[i] * (i + 1));
    const t = p[i]; p[i] = p[j]; p[j] = t;
  }
  return tensor(p);
}

/**
 * `shape` draws from 0..n-1 as int32: with replacement (default) uniform, without it a permutation's
 * prefix. `choice(key(0), 10, [3], {replace: false})`
 */
export function choice(k: Key, n: number, shape: readonly number[], opts: { replace?: boolean } = {}): Tensor {
  const s = checkShape('random.choice', shape), m = sizeOf(s);
  if (opts.replace ?? true) return randint(k, s, 0, n);
  if (m > n) throw new OpError('random.choice', `cannot draw ${m} of ${n} without replacement`);
  return make(permutation(k, n).dataSync().subarray(0, m), s, 'int32');
}

/** Bool samples that are true with probability p. `bernoulli(key(0), 0.5, [4])` */
export function bernoulli(k: Key, p: number, shape: readonly number[]): Tensor {
  checkKey('random.bernoulli', k);
  const s = checkShape('random.bernoulli', shape), u = uniform01(k, sizeOf(s));
  return make(u.map((v) => (v < p ? 1 : 0)), s, 'bool');
}
