/**
 * AVID+CMA (cross-modal agreement): a second stage whose extra within-modal positives are each
 * instance's top-k neighbours by min(video-bank cosine, audio-bank cosine), i.e. instances that look
 * alike *and* sound alike. Neighbours are recomputed every few epochs from the banks, in chunks of
 * rows so the N x N similarity never exists at once.
 */
import * as np from '../core/index.js';
import { type Bank, lookup, rows } from './bank.js';
import { avidObjective, type Modality, type Objective, type Term, Z_KEY } from './objectives.js';
import { softplus } from './nce.js';

/** Each row's k neighbours by min(video cosine, audio cosine), itself excluded: int32 [N, k]. */
export function cmaNeighbours(banks: Record<Modality, Bank>, k: number, chunk = 256): np.Tensor {
  const n = banks.video.n;
  if (k < 1 || k >= n) throw new Error(`cmaNeighbours: k must be in [1, ${n - 1}], got ${k}`);
  const V = rows(banks.video), A = rows(banks.audio);
  const out = new Int32Array(n * k);
  for (let c0 = 0; c0 < n; c0 += chunk) {
    const m = Math.min(chunk, n - c0);
    const sim = np.minimum(
      np.matmulT(np.slice(V, [c0, 0], [m, -1]), V, false, true),
      np.matmulT(np.slice(A, [c0, 0], [m, -1]), A, false, true)).dataSync();
    for (let i = 0; i < m; i++) {
      const row = sim.subarray(i * n, (i + 1) * n);
      const order = Array.from({ length: n }, (_, j) => j).filter((j) => j !== c0 + i);
      order.sort((p, q) => row[q] - row[p]);
      out.set(order.slice(0, k), (c0 + i) * k);
    }
  }
  return np.tensor(out, { shape: [n, k] });
}

/**
 * Within-modal NCE with several positives: the mean over an item's neighbours of -log P(pos), plus
 * the negatives' terms, with the objective's one frozen Z (AVID's, as the authors reuse it).
 */
function cmaTerm(x: np.Tensor, bank: Bank, neighbours: np.Tensor, negatives: np.Tensor, temperature: number, Z: number): np.Tensor {
  const pos = lookup(bank, neighbours); // [B, k, D]
  const neg = lookup(bank, negatives); // [B, K, D]
  const score = (rows: np.Tensor) => np.div(np.squeeze(np.matmul(rows, np.expandDims(x, -1)), -1), temperature);
  const sPos = score(pos), sNeg = score(neg);
  const logKZ = Math.log(negatives.shape[1] * Z);
  return np.mean(np.add(np.mean(softplus(np.sub(logKZ, sPos)), -1), np.sum(softplus(np.sub(sNeg, logKZ)), -1)));
}

/**
 * AVID+CMA: a base AVID objective (Cross by default) plus within-modal terms whose positives are
 * the CMA neighbours; `input.neighbours` must be set (from `cmaNeighbours`). `cmaWeight` scales
 * the CMA terms against the base.
 */
export function cmaObjective(base: Partial<Record<Term, number>> = { v2a: 1, a2v: 1 }, cmaWeight = 1): Objective {
  const baseObjective = avidObjective(base);
  return (input) => {
    if (!input.neighbours) throw new Error('cmaObjective: input.neighbours is missing; compute it with cmaNeighbours(banks, k)');
    const out = baseObjective(input);
    const nb = np.gather(input.neighbours, input.indices); // [B, k]
    let loss = out.loss;
    for (const m of ['video', 'audio'] as const) {
      const t = cmaTerm(input.embeddings[m], input.banks[m], nb, input.negatives, input.temperature, out.Z[Z_KEY]);
      out.logs[`loss_cma_${m}`] = np.stopGradient(t);
      loss = np.add(loss, np.mul(t, cmaWeight / 2));
    }
    return { loss, Z: out.Z, logs: out.logs };
  };
}
