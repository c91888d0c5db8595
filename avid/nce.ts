/**
 * Noise-contrastive estimation as AVID uses it (Wu et al. 2018), and InfoNCE for comparison.
 *
 * Scores are s = <x, row> / T. With a constant Z, an instance's own row is "data" with probability
 * P(pos) = e^s+ / (e^s+ + K Z) and each of K noise rows is "noise" with P(neg) = K Z / (e^s- + K Z).
 * Both logs are softplus terms, which is how they are computed here (no overflow, no log 0):
 *   -log P(pos) = softplus(log KZ - s+),   -log P(neg) = softplus(s- - log KZ).
 * NOTE: Z is the mean of e^s- over the *first* batch, then frozen (and saved with the run). It is a
 * constant of the loss, never differentiated: `estimateZ` gives it (a scalar tensor, so a jitted
 * step never reads it on the host), the caller keeps it. Z may be a number or a scalar tensor.
 */
import * as np from '../core/index.js';

/** log(1 + e^u), stable for any u. */
export const softplus = (u: np.Tensor): np.Tensor => np.add(np.relu(u), np.log(np.add(1, np.exp(np.neg(np.abs(u))))));

/** Scores of the positive row [B] and of the negatives [B, K], divided by the temperature. */
export function scores(x: np.Tensor, pos: np.Tensor, neg: np.Tensor, temperature: number): { sPos: np.Tensor; sNeg: np.Tensor } {
  if (x.rank !== 2 || pos.rank !== 2 || neg.rank !== 3 || neg.shape[0] !== x.shape[0] || neg.shape[2] !== x.shape[1] || pos.shape[0] !== x.shape[0]) {
    throw new Error(`nce: embeddings [${x.shape}], positives [${pos.shape}] and negatives [${neg.shape}] must be [B, D], [B, D] and [B, K, D]`);
  }
  const sPos = np.div(np.sum(np.mul(x, pos), -1), temperature);
  const sNeg = np.div(np.squeeze(np.matmul(neg, np.expandDims(x, -1)), -1), temperature);
  return { sPos, sNeg };
}

/** Z = mean of e^s- (the value AVID freezes after the first batch), a scalar tensor. */
export const estimateZ = (sNeg: np.Tensor): np.Tensor => np.mean(np.exp(np.stopGradient(sNeg)));

/** log(K Z), a constant of the loss: in float64 for a number Z, else a (non-differentiated) scalar. */
export const logKZ = (K: number, Z: number | np.Tensor): number | np.Tensor =>
  (typeof Z === 'number' ? Math.log(K * Z) : np.stopGradient(np.log(np.mul(Z, K))));

/**
 * AVID's NCE loss, mean over the batch of [-log P(pos) - sum_k log P(neg_k)].
 * `nce(x, pos, neg, {temperature: 0.07, Z: 2.2})`
 */
export function nce(x: np.Tensor, pos: np.Tensor, neg: np.Tensor, opts: { temperature: number; Z: number | np.Tensor }): np.Tensor {
  return nceOfScores(scores(x, pos, neg, opts.temperature), opts.Z);
}

/** NCE from scores already computed (`scores(x, pos, neg, T)`), K = sNeg's last axis. */
export function nceOfScores({ sPos, sNeg }: { sPos: np.Tensor; sNeg: np.Tensor }, Z: number | np.Tensor): np.Tensor {
  const c = logKZ(sNeg.shape[sNeg.rank - 1], Z);
  return np.mean(np.add(softplus(np.sub(c, sPos)), np.sum(softplus(np.sub(sNeg, c)), -1)));
}

/**
 * InfoNCE: cross-entropy of picking the positive among [positive, negatives], mean over the batch.
 * `infoNce(x, pos, neg, {temperature: 0.07})`
 */
export function infoNce(x: np.Tensor, pos: np.Tensor, neg: np.Tensor, opts: { temperature: number }): np.Tensor {
  return infoNceOfScores(scores(x, pos, neg, opts.temperature));
}

/** InfoNCE from scores already computed. */
export function infoNceOfScores({ sPos, sNeg }: { sPos: np.Tensor; sNeg: np.Tensor }): np.Tensor {
  return np.mean(np.sub(np.logSumExp(np.concat([np.expandDims(sPos, -1), sNeg], -1), -1), sPos));
}
