/**
 * AVID+CMA (cross-modal agreement), as the authors' second stage: start from a trained Cross-AVID
 * state (its weights, banks and Z), and add within-modal terms whose positives are each instance's
 * top-k neighbours by min(video-bank cosine, audio-bank cosine), i.e. instances that look alike
 * *and* sound alike. Negatives are drawn from the rows that are not among an instance's positives.
 * Neighbours are recomputed every few epochs from the banks, in chunks of rows so the N x N
 * similarity never exists at once. The neighbours and Z are the objective's state, so a checkpoint
 * holds them like anything else.
 *
 * The authors' config (InstX-N1024-PosW-N64-Top32): loss = 1/2 (v2a + a2v)/2 + 1/2 (pos-v2v + pos-a2a)/2,
 * K = 1024 cross-modal and the first 64 of them within-modal, k = 32 of 232k clips, neighbours
 * refreshed every 5 of 20 epochs, one NCE criterion (AVID's Z, restored from its checkpoint).
 */
import * as np from '../core/index.js';
import { type Bank, lookup, rows } from './bank.js';
import { avidTerms, type Modality, noZ, type Objective, type ObjectiveContext, sampleExcluding, type Term } from './objectives.js';
import { logKZ, softplus } from './nce.js';

/** Each row's k neighbours by min(video cosine, audio cosine), itself excluded, ascending by index: int32 [N, k]. */
export function cmaNeighbours(banks: Record<Modality, Bank>, k: number, chunk = 256): np.Tensor {
  const n = banks.video.n;
  if (!Number.isInteger(k) || k < 1 || k >= n) throw new Error(`cmaNeighbours: k must be an integer in [1, ${n - 1}], got ${k}`);
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
      // sorted by index, as the authors keep them, so negatives can step over them
      out.set(order.slice(0, k).sort((p, q) => p - q), (c0 + i) * k);
    }
  }
  return np.tensor(out, { shape: [n, k] });
}

/**
 * Within-modal NCE with several positives, as the authors' criterion: the mean over an item's
 * neighbours of -log P(pos), plus the sum over the negatives of -log P(neg), K = the negatives given.
 */
function cmaTerm(x: np.Tensor, bank: Bank, positives: np.Tensor, negatives: np.Tensor, temperature: number, Z: np.Tensor): np.Tensor {
  const score = (r: np.Tensor) => np.div(np.squeeze(np.matmul(r, np.expandDims(x, -1)), -1), temperature);
  const sPos = score(lookup(bank, positives)), sNeg = score(lookup(bank, negatives)); // [B, k], [B, K]
  const c = logKZ(negatives.shape[1], Z);
  return np.mean(np.add(np.mean(softplus(np.sub(c, sPos)), -1), np.sum(softplus(np.sub(sNeg, c)), -1)));
}

export interface CmaOptions {
  /** the instance-discrimination terms (default Cross-AVID's v2a + a2v) */
  base?: Partial<Record<Term, number>>;
  /** neighbours per instance (authors 32 of 232k clips; default `cmaK(n)`) */
  k?: number;
  /** negatives of the within-modal terms: the first this many of the step's (authors 64 of 1024; default K / 16) */
  negativesWithin?: number;
  /** refresh the neighbours after every this many epochs (authors 5 of a 20-epoch stage; default 5) */
  refreshEvery?: number;
  /** weight of the CMA terms against the instance terms, normalised to sum to 1 (authors 1 : 1) */
  weight?: number;
}

/** CMA's state: NCE's one Z (a scalar; 0 until estimated) and the neighbours [N, k]. */
export interface CmaState { Z: np.Tensor; neighbours: np.Tensor }

/** The default k for n clips: 32 as the authors once there are 2048 clips or more, n / 64 below that (6 for 384), at least 1. */
export const cmaK = (n: number): number => Math.max(1, Math.min(32, Math.floor(n / 64), n - 2));

/**
 * AVID+CMA as an objective. Its `init` takes the neighbours from the banks it starts from and Z
 * from the previous stage's state, so start it from a trained AVID state: `continueFrom(avid, cma,
 * cfg, key)` (avid/train.ts). `const cma = cmaObjective({refreshEvery: 2})`
 */
export function cmaObjective(opts: CmaOptions = {}): Objective<CmaState, Record<string, never>> {
  const terms = avidTerms(opts.base ?? { v2a: 1, a2v: 1 });
  const weight = opts.weight ?? 1, every = opts.refreshEvery ?? 5;
  const kOf = (n: number) => opts.k ?? cmaK(n);
  return {
    init(ctx: ObjectiveContext) {
      const prev = ctx.previous as { Z?: unknown } | undefined;
      const Z = prev?.Z instanceof np.Tensor ? prev.Z : typeof prev?.Z === 'number' ? np.tensor(prev.Z) : noZ();
      return { state: { Z, neighbours: cmaNeighbours(ctx.banks, kOf(ctx.n)) }, params: {} };
    },
    loss(input, state) {
      const n = input.banks.video.n, K = input.negatives.shape[1];
      const nb = np.gather(state.neighbours, input.indices); // [B, k], each row ascending
      const k = nb.shape[1];
      // negatives uniform over the rows that are not the item's positives (the authors' sampler: the item itself may be drawn)
      const negatives = sampleExcluding(input.key, nb.dataSync() as Int32Array, k, n, Math.min(K, n - k));
      const inst = terms({ ...input, negatives }, state.Z);
      const Kw = Math.max(1, Math.min(negatives.shape[1], opts.negativesWithin ?? Math.round(K / 16)));
      const within = np.slice(negatives, [0, 0], [-1, Kw]);
      const logs = { ...inst.logs };
      let cma: np.Tensor | undefined;
      for (const m of ['video', 'audio'] as const) {
        const t = cmaTerm(input.embeddings[m], input.banks[m], nb, within, input.temperature, inst.Z);
        logs[`loss_cma_${m}`] = np.stopGradient(t);
        cma = cma ? np.add(cma, np.mul(t, 0.5)) : np.mul(t, 0.5);
      }
      const loss = np.add(np.mul(inst.loss, 1 / (1 + weight)), np.mul(cma!, weight / (1 + weight)));
      return { loss, state: { ...state, Z: inst.Z }, logs };
    },
    onEpoch(state, { epoch, banks }) {
      return epoch % every === 0 ? { ...state, neighbours: cmaNeighbours(banks, state.neighbours.shape[1]) } : state;
    },
  };
}
