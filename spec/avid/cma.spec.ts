/** AVID+CMA: neighbours by min(video cosine, audio cosine), computed in chunks, match a direct search. */
import test from 'tape';
import * as np from '../../core/index.js';
import { initBank, rows } from '../../avid/bank.js';
import { cmaNeighbours, cmaObjective } from '../../avid/cma.js';
import { sampleNegatives } from '../../avid/objectives.js';

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
    want.push(...others.slice(0, k));
  }
  for (const chunk of [4, 16, 256]) {
    const got = Array.from(cmaNeighbours(banks, k, chunk).dataSync());
    t.deepEqual(got, want, `chunk ${chunk}: same neighbours as the direct search`);
  }
  t.end();
});

test('the CMA objective adds within-modal terms and needs neighbours', (t) => {
  const [k1, k2, k3, k4, k5] = np.random.split(np.random.key(1), 5);
  const n = 30, B = 4;
  const banks = { video: initBank(k1, n, 8), audio: initBank(k2, n, 8) };
  const embeddings = { video: np.l2Normalize(np.random.normal(k3, [B, 8])), audio: np.l2Normalize(np.random.normal(k4, [B, 8])) };
  const indices = np.tensor(new Int32Array([0, 3, 7, 9]));
  const input = { embeddings, banks, indices, negatives: sampleNegatives(k5, indices, n, 6), Z: {}, temperature: 0.1 };
  t.throws(() => cmaObjective()(input), /neighbours is missing/, 'without neighbours it says what to compute');
  const out = cmaObjective()({ ...input, neighbours: cmaNeighbours(banks, 3) });
  t.deepEqual(Object.keys(out.Z), ['nce'], 'the CMA terms reuse AVID\'s one Z');
  t.ok(Number.isFinite(out.loss.item()) && 'loss_cma_video' in out.logs, `finite loss ${out.loss.item().toFixed(3)} with CMA logs`);
  t.end();
});
