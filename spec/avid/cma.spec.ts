/** AVID+CMA: neighbours by min(video cosine, audio cosine), computed in chunks, match a direct search; the authors' loss, negatives and Z; stages. */
import test from 'tape';
import * as np from '../../core/index.js';
import { initBank, lookup, rows } from '../../avid/bank.js';
import { cmaNeighbours, cmaObjective } from '../../avid/cma.js';
import { synthetic } from '../../avid/data.js';
import { avidModel } from '../../avid/model.js';
import { crossAvid, sampleExcluding, sampleNegatives } from '../../avid/objectives.js';
import { getBatch } from '../../avid/source.js';
import { continueFrom, initState, tinyTrain, trainStep } from '../../avid/train.js';

test('cmaNeighbours equals a direct top-k of min(video, audio) cosine, whatever the chunk size', (t) => {
  const [k1, k2] = np.random.split(np.random.key(0));
  const n = 37, k = 5;
  const banks = { video: initBank(k1, n, 6), audio: initBank(k2, n, 6) };
  const V = rows(banks.video).dataSync(), A = rows(banks.audio).dataSync();
  const cos = (M: ArrayLike<number>, i: number, j: number) => { let s = 0; for (let d = 0; d < 6; d++) s += M[i * 6 + d] * M[j * 6 + d]; return s; };
  const want: number[] = [];
  for (let i = 0; i < n; i++) {
    const others = Array.from({ length: n }, (_, j) => j).filter((j) => j !== i);
    others.sort((p, q) => Math.min(cos(V, i, q), cos(A, i, q)) - Math.min(cos(V, i, p), cos(A, i, p)));
    want.push(...others.slice(0, k).sort((p, q) => p - q)); // kept ascending by index, as the authors do
  }
  for (const chunk of [4, 16, 256]) {
    const got = Array.from(cmaNeighbours(banks, k, chunk).dataSync());
    t.deepEqual(got, want, `chunk ${chunk}: same neighbours as the direct search`);
  }
  t.end();
});

test('negatives step over the excluded rows: never drawn, the rest uniform', (t) => {
  const n = 12, m = 3, K = 6000;
  const excluded = new Int32Array([0, 5, 11, 2, 3, 4]); // two items, each row ascending
  const neg = sampleExcluding(np.random.key(7), excluded, m, n, K).dataSync();
  for (let i = 0; i < 2; i++) {
    const ex = new Set(excluded.subarray(i * m, (i + 1) * m)), counts = new Array(n).fill(0);
    for (let j = 0; j < K; j++) counts[neg[i * K + j]]++;
    t.ok([...ex].every((e) => counts[e] === 0), `item ${i}: no excluded row drawn`);
    const allowed = counts.filter((_, r) => !ex.has(r));
    t.ok(allowed.every((c) => Math.abs(c - K / (n - m)) < 0.15 * K / (n - m)), `item ${i}: the ${n - m} others about equally often (${allowed.join(' ')})`);
  }
  t.deepEqual(Array.from(sampleExcluding(np.random.key(8), new Int32Array([4, 9]), 1, 10, 50).dataSync()),
    Array.from(sampleNegatives(np.random.key(8), np.tensor(new Int32Array([4, 9])), 10, 50).dataSync()), 'excluding only the item itself is sampleNegatives');
  t.end();
});

test('the CMA objective: the authors\' loss, their negatives, AVID\'s Z, neighbours refreshed every few epochs', (t) => {
  const [k1, k2, k3, k4, k5] = np.random.split(np.random.key(1), 5);
  const n = 30, B = 4, D = 8, K = 16, T = 0.1;
  const banks = { video: initBank(k1, n, D), audio: initBank(k2, n, D) };
  const embeddings = { video: np.l2Normalize(np.random.normal(k3, [B, D])), audio: np.l2Normalize(np.random.normal(k4, [B, D])) };
  const indices = np.tensor(new Int32Array([0, 3, 7, 9]));
  const input = { embeddings, banks, indices, negatives: sampleNegatives(k5, indices, n, K), temperature: T, step: np.tensor(0, { dtype: 'int32' }), key: k5 };
  const cma = cmaObjective({ k: 3, negativesWithin: 4, refreshEvery: 2 });
  const s0 = cma.init({ key: k5, n, dim: D, banks, previous: { Z: 2.5 } });
  t.equal(s0.state.Z.item(), 2.5, 'Z comes from the AVID stage it starts from');
  t.deepEqual(Array.from(s0.state.neighbours.dataSync()), Array.from(cmaNeighbours(banks, 3).dataSync()), 'neighbours from the banks it starts from');
  t.equal(cma.init({ key: k5, n, dim: D, banks }).state.Z.item(), 0, 'without a previous stage, Z is 0: estimated on the first batch');
  const out = cma.loss(input, s0.state, {});
  t.equal(out.state.Z.item(), 2.5, 'and reused, never re-estimated');
  // by hand: the same negatives (drawn avoiding the positives), the authors' weights and K's
  const nb = np.gather(s0.state.neighbours, indices), negatives = sampleExcluding(k5, nb.dataSync() as Int32Array, 3, n, K);
  const nbv = nb.dataSync(), negv = negatives.dataSync();
  let overlap = 0;
  for (let i = 0; i < B; i++) for (let j = 0; j < K; j++) if (Array.from(nbv.subarray(i * 3, i * 3 + 3)).includes(negv[i * K + j])) overlap++;
  t.equal(overlap, 0, 'no negative is one of the item\'s positives');
  const Z = 2.5, sp = (u: number) => Math.log1p(Math.exp(u));
  const row = (b: typeof banks.video, r: number) => lookup(b, np.tensor(new Int32Array([r]))).dataSync();
  const dot = (x: ArrayLike<number>, y: ArrayLike<number>) => { let a = 0; for (let d = 0; d < D; d++) a += x[d] * y[d]; return a; };
  const emb = { video: embeddings.video.dataSync(), audio: embeddings.audio.dataSync() };
  const term = (m: 'video' | 'audio', bank: typeof banks.video, pos: number[][], nk: number) => {
    let total = 0;
    for (let i = 0; i < B; i++) {
      const x = emb[m].subarray(i * D, (i + 1) * D), logKZ = Math.log(nk * Z);
      total += pos[i].reduce((a, p) => a + sp(logKZ - dot(x, row(bank, p)) / T), 0) / pos[i].length;
      for (let j = 0; j < nk; j++) total += sp(dot(x, row(bank, negv[i * K + j])) / T - logKZ);
    }
    return total / B;
  };
  const self = Array.from(indices.dataSync(), (r) => [r]), positives = Array.from({ length: B }, (_, i) => Array.from(nbv.subarray(i * 3, i * 3 + 3)));
  const inst = (term('video', banks.audio, self, K) + term('audio', banks.video, self, K)) / 2;
  const within = (term('video', banks.video, positives, 4) + term('audio', banks.audio, positives, 4)) / 2;
  t.ok(Math.abs(out.loss.item() - (inst + within) / 2) < 1e-3 * Math.abs(inst + within), `loss ${out.loss.item().toFixed(4)} = 1/2 cross + 1/2 within-modal CMA (${((inst + within) / 2).toFixed(4)}), within-modal over the first 4 negatives`);
  // each term on its own, so a term reading the other modality's bank, or logged under the other's name, shows
  const want = {
    loss_v2a: term('video', banks.audio, self, K), loss_a2v: term('audio', banks.video, self, K),
    loss_cma_video: term('video', banks.video, positives, 4), loss_cma_audio: term('audio', banks.audio, positives, 4),
  };
  for (const [name, w] of Object.entries(want)) {
    const got = out.logs[name].item();
    t.ok(Math.abs(got - w) < 1e-4 * Math.abs(w), `${name} ${got.toFixed(4)} = ${w.toFixed(4)} by hand`);
  }
  const w3 = cmaObjective({ k: 3, negativesWithin: 4, weight: 3 }).loss(input, s0.state, {}).loss.item(), want3 = inst / 4 + (3 / 4) * within;
  t.ok(Math.abs(w3 - want3) < 1e-3 * Math.abs(want3), `weight 3: loss ${w3.toFixed(4)} = 1/4 cross + 3/4 CMA (${want3.toFixed(4)})`);
  const moved = { video: initBank(k3, n, D), audio: initBank(k4, n, D) };
  const e1 = cma.onEpoch!(s0.state, { epoch: 1, banks: moved, key: k5 }), e2 = cma.onEpoch!(s0.state, { epoch: 2, banks: moved, key: k5 });
  t.equal(e1, s0.state, 'epoch 1: neighbours kept');
  t.deepEqual(Array.from(e2.neighbours.dataSync()), Array.from(cmaNeighbours(moved, 3).dataSync()), 'epoch 2: recomputed from the banks as they are then');
  t.end();
});

test('continueFrom starts a stage from a trained state: its weights and banks, a fresh optimizer, step 0', (t) => {
  const data = { classes: 2, frames: 4, size: 16, fps: 16, sampleRate: 16000, audioSeconds: 0.5 };
  const ds = synthetic(np.random.key(0), 8, data);
  const model = avidModel({ videoWidths: [4, 4, 4, 4], videoStemPool: true, audioWidths: [4, 4, 4, 4], audioStrides: [1, 2, 2, 1], head: [8, 8] });
  const cfg = { ...tinyTrain, batch: 4, negatives: 6 };
  let avid = initState(np.random.key(1), model, ds, cfg, crossAvid);
  avid = trainStep(model, crossAvid, cfg)(avid, getBatch(ds, [0, 1, 2, 3], np.random.key(2)), np.random.key(3)).state;
  const next = continueFrom(avid, cmaObjective({ k: 2 }), cfg, np.random.key(4));
  t.equal(next.params, avid.params, 'same weights');
  t.equal(next.banks, avid.banks, 'same banks');
  t.equal(next.objective.state.Z, avid.objective.state.Z, 'AVID\'s Z');
  t.equal(next.step, 0, 'step 0');
  t.ok(np.treeLeaves(next.opt).every((x) => x.dataSync().every((v: number) => v === 0)), 'a fresh optimizer');
  const r = trainStep(model, cmaObjective({ k: 2 }), cfg)(next, getBatch(ds, [4, 5, 6, 7], np.random.key(5)), np.random.key(6));
  t.ok(Number.isFinite(r.metrics.loss) && 'loss_cma_video' in r.metrics, `a CMA step trains (loss ${r.metrics.loss.toFixed(3)})`);
  t.end();
});
