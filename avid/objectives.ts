/**
 * AVID's objectives, as values of one small interface: `init` gives the objective's own state and
 * params (pytrees), `loss` maps a batch's embeddings, the banks, the negatives and that state to a
 * scalar loss, the next state and logs, and `onEpoch` may refresh the state between epochs. The
 * trainer threads, differentiates and checkpoints whatever is there, so a user-written objective,
 * stateless (`objective(f)`) or with state of its own, plugs in without touching library code
 * (examples/custom-objective.ts has one with a learned temperature).
 *
 * A term "v2a" contrasts the video embedding with the audio bank: its own audio row is the positive,
 * K other audio rows the negatives. Self-AVID uses v2v + a2a, Cross-AVID v2a + a2v, Joint all four.
 * Term weights are normalised to sum to 1, so each pair is averaged, as in the authors' code.
 */
import * as np from '../core/index.js';
import { type Bank, lookup } from './bank.js';
import { estimateZ, infoNceOfScores, nceOfScores, scores } from './nce.js';

export type Modality = 'video' | 'audio';
export type Term = 'v2v' | 'a2a' | 'v2a' | 'a2v';

export interface ObjectiveInput {
  /** L2-normalised embeddings [B, D] of the batch (the differentiated values) */
  embeddings: Record<Modality, np.Tensor>;
  /** the memory banks as they were before this step (constants) */
  banks: Record<Modality, Bank>;
  /** dataset index of each batch item, int32 [B] */
  indices: np.Tensor;
  /** negative indices, int32 [B, K], uniform over the other N - 1 rows, for every term of the step */
  negatives: np.Tensor;
  temperature: number;
  /** the step being taken, from 0: an int32 scalar, so a jitted step does not trace again per step */
  step: np.Tensor;
  /** a key for the objective's own random draws this step */
  key: np.Key;
}

/** What an objective's loss returns: the scalar to minimise, its state after this step, and scalars to log. */
export interface ObjectiveOutput<S> {
  loss: np.Tensor;
  state: S;
  logs: Record<string, np.Tensor>;
}

/** What an objective is told when training starts: where its state may come from. */
export interface ObjectiveContext {
  key: np.Key;
  /** training clips (bank rows) */
  n: number;
  /** embedding size */
  dim: number;
  /** the banks training starts from (random rows, or a previous stage's) */
  banks: Record<Modality, Bank>;
  /** the previous stage's objective state, when training continues from one (AVID -> CMA) */
  previous?: unknown;
}

/**
 * A training objective: a loss of the batch's embeddings against the banks, with state of its own
 * (NCE's Z, CMA's neighbours, a queue) and parameters of its own (a learned temperature). Both are
 * pytrees that the trainer threads through steps, differentiates (params) and checkpoints, with no
 * special case for any objective.
 * `const mine: Objective = objective(({embeddings, banks, indices, negatives, temperature}) => ({loss: ...}))`
 */
export interface Objective<S = any, P = any> {
  /** state and params at the start of training */
  init(ctx: ObjectiveContext): { state: S; params: P };
  /** the loss of one batch (differentiated with respect to the model's and `params`) and the state after it */
  loss(input: ObjectiveInput, state: S, params: P): ObjectiveOutput<S>;
  /** after every epoch (counted from 1), with the banks as they are then: e.g. CMA's neighbour refresh */
  onEpoch?(state: S, ctx: { epoch: number; banks: Record<Modality, Bank>; key: np.Key }): S;
}

/**
 * An objective without state or params from a plain loss function.
 * `objective(({embeddings, banks, indices, negatives, temperature}) => ({loss: infoNce(...)}))`
 */
export function objective(f: (input: ObjectiveInput) => { loss: np.Tensor; logs?: Record<string, np.Tensor> }): Objective<Record<string, never>, Record<string, never>> {
  return {
    init: () => ({ state: {}, params: {} }),
    loss: (input, state) => { const out = f(input); return { loss: out.loss, state, logs: out.logs ?? {} }; },
  };
}

const MOD: Record<'v' | 'a', Modality> = { v: 'video', a: 'audio' };

/**
 * NCE's state: its one frozen constant Z, a float32 scalar that is 0 until estimated (a tensor, not a
 * number, so a jitted step reads and writes it without leaving the device).
 */
export interface NceState { Z: np.Tensor }

/** The Z of a state that has not estimated it yet. */
export const noZ = (): np.Tensor => np.tensor(0);

/**
 * One NCE term: the embedding of `from` against the bank of `to`, with `Z` (a number, or a scalar
 * that is 0 until estimated: then, as when absent, Z is estimated from this term's scores), its
 * InfoNCE on the same scores for comparison, and the mean cosine similarity to the positive row and
 * to the negatives (constants, for logs: they should move apart).
 */
export function nceTerm(input: ObjectiveInput, term: Term, Z?: number | np.Tensor): { loss: np.Tensor; Z: np.Tensor; infoNce: np.Tensor; simPos: np.Tensor; simNeg: np.Tensor } {
  const x = input.embeddings[MOD[term[0] as 'v' | 'a']], bank = input.banks[MOD[term[2] as 'v' | 'a']];
  const pos = lookup(bank, input.indices), neg = lookup(bank, input.negatives);
  const s = scores(x, pos, neg, input.temperature);
  const z = typeof Z === 'number' ? np.tensor(Z) : Z === undefined ? estimateZ(s.sNeg) : np.where(np.greater(Z, 0), Z, estimateZ(s.sNeg));
  const sim = (u: np.Tensor) => np.mul(np.mean(np.stopGradient(u)), input.temperature);
  return { loss: nceOfScores(s, typeof Z === 'number' ? Z : z), Z: z, infoNce: np.stopGradient(infoNceOfScores(s)), simPos: sim(s.sPos), simNeg: sim(s.sNeg) };
}

/** The order the authors' criterion scores terms in: the first present one sets Z (v2a for Cross and Joint, v2v for Self). */
const ORDER: Term[] = ['v2a', 'a2v', 'v2v', 'a2a'];

export interface AvidOptions {
  /**
   * Steps before Z is frozen (default 0: the first batch's, as the authors). Until then Z is
   * estimated afresh every step; one epoch's steps freeze Z once the banks hold real embeddings
   * rather than their random initial rows (same-modality embeddings are far from isotropic, so the
   * first batch's Z can be far too small for Self-AVID).
   */
  zWarmupSteps?: number;
}

/**
 * The terms with `weights` (normalised to sum to 1), with one Z for all of them: the state's, or
 * estimated by the first term scored. Shared by AVID and CMA, which adds terms of its own.
 */
export function avidTerms(weights: Partial<Record<Term, number>>) {
  const entries = ORDER.filter((term) => weights[term]).map((term) => [term, weights[term]!] as [Term, number]);
  const total = entries.reduce((a, [, w]) => a + w, 0);
  if (!(total > 0)) throw new Error(`avidObjective: weights ${JSON.stringify(weights)} must have a positive sum`);
  return (input: ObjectiveInput, Z0?: number | np.Tensor): { loss: np.Tensor; Z: np.Tensor; logs: Record<string, np.Tensor> } => {
    const logs: Record<string, np.Tensor> = {};
    let loss: np.Tensor | undefined, infoNce: np.Tensor | undefined, Z = Z0, Zout: np.Tensor | undefined;
    for (const [term, w] of entries) {
      // NOTE: one Z for every term: the first term scored estimates it, the rest reuse it
      const t = nceTerm(input, term, Z);
      if (typeof Z !== 'number') Z = t.Z;
      Zout = t.Z;
      logs[`loss_${term}`] = np.stopGradient(t.loss);
      infoNce = infoNce ? np.add(infoNce, np.mul(t.infoNce, w / total)) : np.mul(t.infoNce, w / total);
      logs[`sim_pos_${term}`] = t.simPos;
      logs[`sim_neg_${term}`] = t.simNeg;
      const part = np.mul(t.loss, w / total);
      loss = loss ? np.add(loss, part) : part;
    }
    logs.infonce = infoNce!;
    return { loss: loss!, Z: Zout!, logs };
  };
}

/**
 * The AVID objective that sums NCE terms with `weights` (normalised to sum to 1); its state is
 * NCE's Z. `const cross = avidObjective({v2a: 1, a2v: 1})`
 */
export function avidObjective(weights: Partial<Record<Term, number>>, opts: AvidOptions = {}): Objective<NceState, Record<string, never>> {
  const terms = avidTerms(weights), warmup = opts.zWarmupSteps ?? 0;
  return {
    init: () => ({ state: { Z: noZ() }, params: {} }),
    loss(input, state) {
      const out = terms(input, state.Z);
      // NOTE: during the warm-up the estimate is not kept (Z stays 0), so the next step estimates again
      const Z = warmup ? np.where(np.lessEqual(np.add(input.step, 1), warmup), noZ(), out.Z) : out.Z;
      return { loss: out.loss, state: { Z }, logs: out.logs };
    },
  };
}

/** The terms of Self-AVID (each modality against its own bank), Cross-AVID (against the other's: the paper's winner) and Joint-AVID (both, equally). */
export const avidWeights = {
  self: { v2v: 1, a2a: 1 }, cross: { v2a: 1, a2v: 1 }, joint: { v2v: 1, a2a: 1, v2a: 1, a2v: 1 },
} as const satisfies Record<string, Partial<Record<Term, number>>>;

/** Self-AVID: each modality against its own bank. */
export const selfAvid = avidObjective(avidWeights.self);
/** Cross-AVID: each modality against the other's bank (the paper's winner). */
export const crossAvid = avidObjective(avidWeights.cross);
/** Joint-AVID: Self and Cross with equal weight. */
export const jointAvid = avidObjective(avidWeights.joint);

/**
 * Negatives for a batch: K indices per item, uniform with replacement over the other N - 1 rows
 * (draw from N - 1 and skip over the item's own index). int32 [B, K].
 */
export function sampleNegatives(key: np.Key, indices: np.Tensor, n: number, k: number): np.Tensor {
  const idx = indices.dataSync();
  return sampleExcluding(key, Int32Array.from(idx), 1, n, k);
}

/**
 * K indices per item, uniform with replacement over the rows not in its `m` excluded ones
 * (`excluded` [B, m], each row sorted ascending, distinct): draw from N - m, then step over the
 * excluded rows below, as the authors' CMA sampler does. int32 [B, K].
 */
export function sampleExcluding(key: np.Key, excluded: Int32Array, m: number, n: number, k: number): np.Tensor {
  const b = excluded.length / m;
  if (m >= n) throw new Error(`sampleExcluding: excluding ${m} of ${n} rows leaves none to draw`);
  const r = np.random.randint(key, [b, k], 0, n - m).dataSync();
  const out = new Int32Array(b * k);
  for (let i = 0; i < b; i++) {
    const ex = excluded.subarray(i * m, (i + 1) * m);
    for (let j = 0; j < k; j++) {
      let v = r[i * k + j];
      // the v-th allowed row: each excluded row at or below it pushes it up by one
      for (let e = 0; e < m && ex[e] <= v; e++) v++;
      out[i * k + j] = v;
    }
  }
  return np.tensor(out, { shape: [b, k] });
}
