/**
 * AVID's objectives as plain functions of one signature: embeddings, banks, indices, negatives and
 * hyperparameters in; a scalar loss, the frozen Z constants and logs out. A user-written objective
 * with this signature plugs into training without touching library code (examples/custom-objective.ts).
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
  /** negative indices, int32 [B, K], shared by every term of the step */
  negatives: np.Tensor;
  /**
   * NCE's frozen constant, under `Z.nce`: one for the whole objective, as the authors' single NCE
   * criterion holds; missing, it is estimated from this batch (the first) by the first term scored
   */
  Z: Readonly<Record<string, number>>;
  temperature: number;
  /** CMA only: each instance's k cross-modal-agreement neighbours, int32 [N, k] */
  neighbours?: np.Tensor;
}

export interface ObjectiveOutput {
  loss: np.Tensor;
  /** Z after this step: the input's, or the one estimated now */
  Z: Record<string, number>;
  /** values to report, by name (scalars) */
  logs: Record<string, np.Tensor>;
}

export type Objective = (input: ObjectiveInput) => ObjectiveOutput;

const MOD: Record<'v' | 'a', Modality> = { v: 'video', a: 'audio' };

/** The key of the objective's one NCE constant in `Z`. */
export const Z_KEY = 'nce';

/**
 * One NCE term: the embedding of `from` against the bank of `to`, with `Z` (or, if undefined, Z
 * estimated from this term's scores), its InfoNCE on the same scores for comparison, and the mean
 * cosine similarity to the positive row and to the negatives (constants, for logs: they should
 * move apart).
 */
export function nceTerm(input: ObjectiveInput, term: Term, Z?: number): { loss: np.Tensor; Z: number; infoNce: np.Tensor; simPos: np.Tensor; simNeg: np.Tensor } {
  const x = input.embeddings[MOD[term[0] as 'v' | 'a']], bank = input.banks[MOD[term[2] as 'v' | 'a']];
  const pos = lookup(bank, input.indices), neg = lookup(bank, input.negatives);
  const s = scores(x, pos, neg, input.temperature);
  const z = Z ?? estimateZ(s.sNeg);
  const sim = (u: np.Tensor) => np.mul(np.mean(np.stopGradient(u)), input.temperature);
  return { loss: nceOfScores(s, z), Z: z, infoNce: np.stopGradient(infoNceOfScores(s)), simPos: sim(s.sPos), simNeg: sim(s.sNeg) };
}

/** The order the authors' criterion scores terms in: the first present one sets Z (v2a for Cross and Joint, v2v for Self). */
const ORDER: Term[] = ['v2a', 'a2v', 'v2v', 'a2a'];

/**
 * The objective that sums NCE terms with `weights` (normalised to sum to 1).
 * `const cross = avidObjective({v2a: 1, a2v: 1})`
 */
export function avidObjective(weights: Partial<Record<Term, number>>): Objective {
  const entries = ORDER.filter((term) => weights[term]).map((term) => [term, weights[term]!] as [Term, number]);
  const total = entries.reduce((a, [, w]) => a + w, 0);
  if (!(total > 0)) throw new Error(`avidObjective: weights ${JSON.stringify(weights)} must have a positive sum`);
  return (input) => {
    const Z: Record<string, number> = { ...input.Z };
    const logs: Record<string, np.Tensor> = {};
    let loss: np.Tensor | undefined, infoNce: np.Tensor | undefined;
    for (const [term, w] of entries) {
      // NOTE: one Z for every term: the first term scored estimates it, the rest reuse it
      const t = nceTerm(input, term, Z[Z_KEY]);
      Z[Z_KEY] = t.Z;
      logs[`loss_${term}`] = np.stopGradient(t.loss);
      infoNce = infoNce ? np.add(infoNce, np.mul(t.infoNce, w / total)) : np.mul(t.infoNce, w / total);
      logs[`sim_pos_${term}`] = t.simPos;
      logs[`sim_neg_${term}`] = t.simNeg;
      const part = np.mul(t.loss, w / total);
      loss = loss ? np.add(loss, part) : part;
    }
    logs.infonce = infoNce!;
    return { loss: loss!, Z, logs };
  };
}

/** Self-AVID: each modality against its own bank. */
export const selfAvid = avidObjective({ v2v: 1, a2a: 1 });
/** Cross-AVID: each modality against the other's bank (the paper's winner). */
export const crossAvid = avidObjective({ v2a: 1, a2v: 1 });
/** Joint-AVID: Self and Cross with equal weight. */
export const jointAvid = avidObjective({ v2v: 1, a2a: 1, v2a: 1, a2v: 1 });

/**
 * Negatives for a batch: K indices per item, uniform with replacement over the other N - 1 rows
 * (draw from N - 1 and skip over the item's own index). int32 [B, K].
 */
export function sampleNegatives(key: np.Key, indices: np.Tensor, n: number, k: number): np.Tensor {
  const idx = indices.dataSync(), b = idx.length;
  const r = np.random.randint(key, [b, k], 0, n - 1).dataSync();
  const out = new Int32Array(b * k);
  for (let i = 0; i < b; i++) for (let j = 0; j < k; j++) { const v = r[i * k + j]; out[i * k + j] = v >= idx[i] ? v + 1 : v; }
  return np.tensor(out, { shape: [b, k] });
}
