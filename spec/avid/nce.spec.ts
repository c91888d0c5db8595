/** NCE against a hand-computed example and its sanity value at random init; objectives; negatives. */
import test from 'tape';
import * as np from '../../core/index.js';
import { infoNce, nce, estimateZ, scores } from '../../avid/nce.js';
import { crossAvid, jointAvid, sampleNegatives, selfAvid } from '../../avid/objectives.js';
import { initBank, lookup } from '../../avid/bank.js';
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
  t.ok(Math.abs(estimateZ(scores(x, pos, neg, 0.5).sNeg) - (Math.exp(2) + 1) / 2) < 1e-12, 'Z is the mean of e^s-');
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
  const Z = estimateZ(sNeg);
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
  const input = { embeddings, banks, indices, negatives, temperature: 0.07, step: 0, key: k5 };
  const run = (o: typeof crossAvid, Z: number | null = null) => { const out = o.loss(input, { Z }, {}); return { ...out, Z: out.state.Z! }; };
  const c = run(crossAvid);
  t.deepEqual(crossAvid.init({ key: k5, n, dim: 16, banks }).state, { Z: null }, 'an AVID objective starts with no Z');
  t.ok(typeof c.Z === 'number', 'one Z for the whole objective, as the authors\' single NCE criterion');
  const z = (term: 'v2a' | 'v2v') => estimateZ(scores(embeddings.video, lookup(banks[term === 'v2a' ? 'audio' : 'video'], indices), lookup(banks[term === 'v2a' ? 'audio' : 'video'], negatives), 0.07).sNeg);
  t.ok(Math.abs(c.Z - z('v2a')) < 1e-9, 'Cross estimates it from v2a, the first term scored');
  t.ok(Math.abs(run(jointAvid).Z - z('v2a')) < 1e-9, 'Joint from v2a too');
  t.ok(Math.abs(run(selfAvid).Z - z('v2v')) < 1e-9, 'Self from v2v');
  const withZ = (zz: number) => run(crossAvid, zz);
  t.deepEqual(withZ(5).state, { Z: 5 }, 'given Z is kept (frozen)');
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
