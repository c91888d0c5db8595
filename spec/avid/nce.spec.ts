/** NCE against a hand-computed example and its sanity value at random init; objectives; negatives. */
import test from 'tape';
import * as np from '../../core/index.js';
import { infoNce, nce, estimateZ, scores } from '../../avid/nce.js';
import { avidObjective, crossAvid, jointAvid, sampleNegatives, selfAvid } from '../../avid/objectives.js';
import { fromRows, initBank, lookup } from '../../avid/bank.js';
import { checkGrad } from '../helpers.js';

const f64 = (x: np.NestedArray) => np.tensor(x, { dtype: 'float64' });

test('NCE equals the formula worked by hand', (t) => {
  // x = [1, 0]; positive row [0.6, 0.8]; negatives [1, 0] and [0, 1]; T = 0.5, Z = 1.5, K = 2
  const x = f64([[1, 0]]), pos = f64([[0.6, 0.8]]), neg = f64([[[1, 0], [0, 1]]]);
  const sp = 1.2, sn = [2, 0], KZ = 2 * 1.5;
  const want = -Math.log(Math.exp(sp) / (Math.exp(sp) + KZ)) - sn.reduce((a, s) => a + Math.log(KZ / (Math.exp(s) + KZ)), 0);
  const got = nce(x, pos, neg, { temperature: 0.5, Z: 1.5 }).item();
  t.ok(Math.abs(got - want) < 1e-12, `nce ${got} vs hand ${want}`);
  const wantInfo = -Math.log(Math.exp(sp) / (Math.exp(sp) + Math.exp(2) + Math.exp(0)));
  t.ok(Math.abs(infoNce(x, pos, neg, { temperature: 0.5 }).item() - wantInfo) < 1e-12, 'infoNce by hand');
  t.ok(Math.abs(estimateZ(scores(x, pos, neg, 0.5).sNeg).item() - (Math.exp(2) + 1) / 2) < 1e-12, 'Z is the mean of e^s-');
  t.end();
});

test('NCE at random init: s std ~1.26, Z ~2.2, loss ~ log(K Z) + 1 (AVID.md sanity)', (t) => {
  const [k1, k2, k3] = np.random.split(np.random.key(0), 3);
  const B = 64, K = 1024, D = 128;
  const x = np.l2Normalize(np.random.normal(k1, [B, D]));
  const pos = np.l2Normalize(np.random.normal(k2, [B, D]));
  const neg = np.l2Normalize(np.random.normal(k3, [B, K, D]));
  const { sNeg } = scores(x, pos, neg, 0.07);
  const sd = Math.sqrt(np.variance(sNeg).item());
  const Z = estimateZ(sNeg).item();
  const loss = nce(x, pos, neg, { temperature: 0.07, Z }).item();
  t.ok(Math.abs(sd - 1.26) < 0.05, `score std ${sd.toFixed(3)}`);
  t.ok(Math.abs(Z - 2.2) < 0.15, `Z ${Z.toFixed(3)}`);
  t.ok(Math.abs(loss - (Math.log(K * Z) + 1)) < 0.2, `loss ${loss.toFixed(3)} vs log(KZ) + 1 = ${(Math.log(K * Z) + 1).toFixed(3)}`);
  t.end();
});

test('NCE and InfoNCE gradients match central differences', (t) => {
  const [k1, k2, k3] = np.random.split(np.random.key(1), 3);
  const x = np.l2Normalize(np.random.normal(k1, [3, 5], { dtype: 'float64' }));
  const pos = np.random.normal(k2, [3, 5], { dtype: 'float64' }), neg = np.random.normal(k3, [3, 4, 5], { dtype: 'float64' });
  checkGrad(t, (a) => nce(a, pos, neg, { temperature: 0.3, Z: 1.7 }), [x], 'nce');
  checkGrad(t, (a) => infoNce(a, pos, neg, { temperature: 0.3 }), [x], 'infoNce');
  t.end();
});

test('objectives: Z is estimated once then frozen; weights normalised; each term present', (t) => {
  const [k1, k2, k3, k4, k5] = np.random.split(np.random.key(2), 5);
  const n = 50, B = 8, K = 16;
  const banks = { video: initBank(k1, n, 16), audio: initBank(k2, n, 16) };
  const embeddings = { video: np.l2Normalize(np.random.normal(k3, [B, 16])), audio: np.l2Normalize(np.random.normal(k4, [B, 16])) };
  const indices = np.tensor(new Int32Array([0, 5, 7, 11, 20, 33, 41, 49]));
  const negatives = sampleNegatives(k5, indices, n, K);
  const input = { embeddings, banks, indices, negatives, temperature: 0.07, step: np.tensor(0, { dtype: 'int32' }), key: k5 };
  const run = (o: typeof crossAvid, Z = 0) => { const out = o.loss(input, { Z: np.tensor(Z) }, {}); return { ...out, Z: out.state.Z.item() }; };
  const c = run(crossAvid);
  const Z0 = crossAvid.init({ key: k5, n, dim: 16, banks }).state.Z;
  t.ok(Z0 instanceof np.Tensor && Z0.rank === 0 && Z0.item() === 0, 'an AVID objective starts with no Z (a scalar 0)');
  t.ok(c.state.Z.rank === 0 && c.Z > 0, 'one Z for the whole objective, as the authors\' single NCE criterion');
  const z = (term: 'v2a' | 'v2v') => estimateZ(scores(embeddings.video, lookup(banks[term === 'v2a' ? 'audio' : 'video'], indices), lookup(banks[term === 'v2a' ? 'audio' : 'video'], negatives), 0.07).sNeg).item();
  t.ok(Math.abs(c.Z - z('v2a')) < 1e-9, 'Cross estimates it from v2a, the first term scored');
  t.ok(Math.abs(run(jointAvid).Z - z('v2a')) < 1e-9, 'Joint from v2a too');
  t.ok(Math.abs(run(selfAvid).Z - z('v2v')) < 1e-9, 'Self from v2v');
  const withZ = (zz: number) => run(crossAvid, zz);
  t.equal(withZ(5).Z, 5, 'given Z is kept (frozen)');
  const a2v = nce(embeddings.audio, lookup(banks.video, indices), lookup(banks.video, negatives), { temperature: 0.07, Z: 5 }).item();
  t.ok(Math.abs(withZ(5).logs.loss_a2v.item() - a2v) < 1e-5, 'the second term uses the same Z, not its own');
  t.ok(Number.isFinite(c.logs.infonce.item()) && c.logs.infonce.item() > 0, `InfoNCE is logged beside NCE (${c.logs.infonce.item().toFixed(3)})`);
  const s = run(selfAvid, 3), j = run(jointAvid, 3), cz = run(crossAvid, 3);
  const mean = (o: typeof c, terms: string[]) => terms.reduce((a, k) => a + o.logs[`loss_${k}`].item(), 0) / terms.length;
  t.ok(Math.abs(cz.loss.item() - mean(cz, ['v2a', 'a2v'])) < 1e-5, 'cross = mean of its pair');
  t.ok(Math.abs(s.loss.item() - mean(s, ['v2v', 'a2a'])) < 1e-5, 'self = mean of its pair');
  t.ok(Math.abs(j.loss.item() - (cz.loss.item() + s.loss.item()) / 2) < 1e-4, 'joint = (self + cross) / 2 (with one Z)');
  t.end();
});

test('each AVID term by hand: its embedding, the bank it reads, its sign, and the weighted mean of the terms', (t) => {
  // 4 rows of 2 dims per bank, 2 items (rows 0 and 2), 2 negatives each, T = 0.5, Z = 1.5
  const V = [[1, 0], [0, 1], [-1, 0], [0.6, 0.8]], A = [[0, 1], [0.8, 0.6], [0, -1], [1, 0]];
  const ev = [[1, 0], [0, 1]], ea = [[0.6, 0.8], [-1, 0]], idx = [0, 2], negs = [[1, 3], [0, 1]], T = 0.5, Z = 1.5, K = 2;
  const bankOf = (r: number[][]) => fromRows(Float32Array.from(r.flat()), r.length, 2);
  const input = {
    embeddings: { video: np.tensor(ev), audio: np.tensor(ea) }, banks: { video: bankOf(V), audio: bankOf(A) },
    indices: np.tensor(Int32Array.from(idx)), negatives: np.tensor(Int32Array.from(negs.flat()), { shape: [2, 2] }),
    temperature: T, step: np.tensor(0, { dtype: 'int32' }), key: np.random.key(0),
  };
  const dot = (x: number[], y: number[]) => x[0] * y[0] + x[1] * y[1];
  // -log P(pos) - sum_k log P(neg_k), with P(pos) = e^s / (e^s + KZ) and P(neg) = KZ / (e^s + KZ): the textbook form, not softplus
  const hand = (emb: number[][], bank: number[][], z = Z) => idx.reduce((acc, r, i) => {
    const sp = dot(emb[i], bank[r]) / T;
    return acc - Math.log(Math.exp(sp) / (Math.exp(sp) + K * z)) - negs[i].reduce((a, j) => a + Math.log(K * z / (Math.exp(dot(emb[i], bank[j]) / T) + K * z)), 0);
  }, 0) / idx.length;
  const want = { v2a: hand(ev, A), a2v: hand(ea, V), v2v: hand(ev, V), a2a: hand(ea, A) };
  t.equal(new Set(Object.values(want).map((v) => v.toFixed(6))).size, 4, `the four terms differ here (${Object.entries(want).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ')}), so a swapped bank or embedding shows`);
  const near = (a: number, b: number) => Math.abs(a - b) < 1e-5 * Math.max(1, Math.abs(b));
  const joint = jointAvid.loss(input, { Z: np.tensor(Z) }, {});
  for (const term of ['v2a', 'a2v', 'v2v', 'a2a'] as const) {
    const got = joint.logs[`loss_${term}`].item();
    t.ok(near(got, want[term]), `${term}: ${got.toFixed(6)} = ${want[term].toFixed(6)} by hand`);
  }
  const check = (name: string, got: number, w: number) => t.ok(near(got, w), `${name}: ${got.toFixed(6)} = ${w.toFixed(6)} by hand`);
  check('Cross-AVID = (v2a + a2v) / 2', crossAvid.loss(input, { Z: np.tensor(Z) }, {}).loss.item(), (want.v2a + want.a2v) / 2);
  check('Self-AVID = (v2v + a2a) / 2', selfAvid.loss(input, { Z: np.tensor(Z) }, {}).loss.item(), (want.v2v + want.a2a) / 2);
  check('Joint-AVID = the mean of all four', joint.loss.item(), (want.v2a + want.a2v + want.v2v + want.a2a) / 4);
  check('weights 3 : 1 = (3 v2a + a2v) / 4', avidObjective({ v2a: 3, a2v: 1 }).loss(input, { Z: np.tensor(Z) }, {}).loss.item(), (3 * want.v2a + want.a2v) / 4);
  // without a Z, Cross estimates it from v2a's negatives: the mean of e^(<video embedding, audio row> / T)
  const zHand = idx.reduce((acc, _, i) => acc + negs[i].reduce((a, j) => a + Math.exp(dot(ev[i], A[j]) / T), 0), 0) / (idx.length * K);
  const est = crossAvid.loss(input, crossAvid.init({ key: np.random.key(0), n: 4, dim: 2, banks: input.banks }).state, {});
  check('Z estimated from v2a\'s negatives', est.state.Z.item(), zHand);
  check('and both terms use it', est.loss.item(), (hand(ev, A, zHand) + hand(ea, V, zHand)) / 2);
  t.end();
});

test('negatives never include the instance and cover the other rows uniformly', (t) => {
  const n = 10, B = 10, K = 5000;
  const indices = np.arange(n);
  const neg = sampleNegatives(np.random.key(3), indices, n, K).dataSync();
  let self = 0;
  const counts = new Array(n).fill(0);
  for (let i = 0; i < B; i++) for (let j = 0; j < K; j++) { const v = neg[i * K + j]; if (v === i) self++; if (i === 0) counts[v]++; }
  t.equal(self, 0, 'no item drew itself');
  t.ok(counts.slice(1).every((c) => Math.abs(c - K / (n - 1)) < 0.15 * K / (n - 1)), `uniform over the others: ${counts.join(' ')}`);
  t.end();
});
