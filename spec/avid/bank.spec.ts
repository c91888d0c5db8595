/** The memory bank as a value: updates keep rows unit-norm, touch only the batch rows, and leave the old bank intact. */
import test from 'tape';
import * as np from '../../core/index.js';
import { type Bank, fromRows, initBank, lookup, rows, update } from '../../avid/bank.js';
import { throwsWith } from '../helpers.js';

test('init, lookup and rows agree; rows are unit vectors', (t) => {
  const b = initBank(np.random.key(0), 1000, 8);
  const all = rows(b);
  t.deepEqual(all.shape, [1000, 8], 'rows shape');
  const norms = np.sqrt(np.sum(np.square(all), 1)).dataSync();
  t.ok(norms.every((v) => Math.abs(v - 1) < 1e-5), 'unit rows');
  const idx = np.tensor(new Int32Array([999, 0, 517, 517]), { shape: [2, 2] });
  const got = lookup(b, idx);
  t.deepEqual(got.shape, [2, 2, 8], 'lookup keeps the index shape');
  t.deepEqual(Array.from(got.dataSync().slice(0, 8)), Array.from(all.dataSync().slice(999 * 8, 1000 * 8)), 'row 999');
  t.end();
});

test('update: moved rows are normalize(m row + (1 - m) e); other rows and the old bank unchanged', (t) => {
  const n = 300, d = 4;
  const b0 = initBank(np.random.key(1), n, d);
  const before = rows(b0).dataSync();
  const idx = np.tensor(new Int32Array([3, 150, 299]));
  const emb = np.l2Normalize(np.random.normal(np.random.key(2), [3, d]));
  const b1 = update(b0, idx, emb, 0.5);
  const after = rows(b1).dataSync(), e = emb.dataSync();
  t.deepEqual(Array.from(rows(b0).dataSync()), Array.from(before), 'the old bank is unchanged');
  let others = true;
  for (let r = 0; r < n; r++) {
    const k = [3, 150, 299].indexOf(r);
    if (k < 0) { for (let j = 0; j < d; j++) if (after[r * d + j] !== before[r * d + j]) others = false; continue; }
    const v = Array.from({ length: d }, (_, j) => 0.5 * before[r * d + j] + 0.5 * e[k * d + j]);
    const norm = Math.hypot(...v);
    t.ok(v.every((x, j) => Math.abs(x / norm - after[r * d + j]) < 1e-6), `row ${r} moved as the formula says`);
    t.ok(Math.abs(Math.hypot(...Array.from(after.slice(r * d, r * d + d))) - 1) < 1e-6, `row ${r} unit norm`);
  }
  t.ok(others, 'rows outside the batch are bit-identical');
  const c = fromRows(Float32Array.from(before), n, d);
  t.deepEqual(Array.from(rows(c).dataSync()), Array.from(before), 'fromRows round-trips');
  t.end();
});

test('bank errors name the op and the index', (t) => {
  const b = initBank(np.random.key(0), 10, 4);
  throwsWith(t, () => lookup(b, np.tensor(new Int32Array([10]))), [/lookup/, /index 10/, /10 rows/], 'lookup out of range');
  throwsWith(t, () => update(b, np.tensor(new Int32Array([1])), np.zeros([2, 4]), 0.5), [/update/, /\[2,4\]/, /\[1, 4\]/], 'embeddings shape');
  t.end();
});

test('a bank passed to a jitted function arrives as its rows: lookups there are a gather, equal to the host\'s', (t) => {
  const b = initBank(np.random.key(4), 37, 8);
  const idx = np.tensor(Int32Array.from([5, 0, 36, 5, 12, 1]), { shape: [2, 3] });
  const f = np.jit((bank: Bank, i: np.Tensor) => ({ got: lookup(bank, i), all: rows(bank) }));
  const out = f(b, idx);
  t.deepEqual(Array.from(out.got.dataSync()), Array.from(lookup(b, idx).dataSync()), 'lookup inside jit = lookup outside, [2, 3, 8]');
  t.deepEqual(out.got.shape, [2, 3, 8], 'shape [...indices, dim]');
  t.deepEqual(Array.from(out.all.dataSync()), Array.from(rows(b).dataSync()), 'rows inside jit = rows outside');
  const moved = update(b, np.tensor(Int32Array.from([5])), np.l2Normalize(np.ones([1, 8])), 0.5);
  t.notDeepEqual(Array.from(f(moved, idx).got.dataSync()), Array.from(out.got.dataSync()), 'a new bank, same program: its own rows');
  t.equal(f.traces, 1, 'one trace for both banks');
  t.throws(() => np.jit((bank: Bank) => update(bank, np.tensor(Int32Array.from([1])), np.ones([1, 8]), 0.5))(b), /update|jit/, 'an update inside jit is refused with an error, not a wrong bank');
  t.end();
});
