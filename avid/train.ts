/**
 * Training AVID as a pure step: (state, batch, key) -> {state, metrics}. The state holds everything
 * that changes (params, BatchNorm statistics, optimizer moments, both memory banks, NCE's frozen Z,
 * the step count), so a checkpoint of it resumes a run exactly. The objective is any function of
 * avid/objectives.ts's signature: Cross-AVID by default, or one a user writes.
 */
import * as np from '../core/index.js';
import * as nn from '../nn/index.js';
import { type Bank, initBank, update } from './bank.js';
import { type AugmentConfig, type Batch, type Source, specShape } from './source.js';
import type { Model } from './model.js';
import { type Objective, sampleNegatives } from './objectives.js';

export interface TrainConfig extends AugmentConfig {
  batch: number;
  /** negatives per item (AVID: 1024; scaled down for small datasets, at most n - 1) */
  negatives: number;
  temperature: number;
  /** memory bank momentum m: row <- normalize(m row + (1 - m) embedding) */
  momentum: number;
  lr: number;
  weightDecay: number;
  epochs: number;
  /**
   * Steps before NCE's Z is frozen (default 0: the first batch's, as the authors). Until then Z is
   * estimated afresh every step; set it to one epoch's steps to freeze Z once the banks hold real
   * embeddings rather than their random initial rows (same-modality embeddings are far from isotropic,
   * so the first batch's Z can be far too small for Self-AVID).
   */
  zWarmupSteps?: number;
}

export const tinyTrain: TrainConfig = {
  batch: 16, negatives: 256, temperature: 0.07, momentum: 0.5, lr: 5e-4, weightDecay: 1e-5, epochs: 12, cropScale: [0.4, 1], flip: true, maxOffset: 0.5,
};

export interface TrainState {
  params: nn.Tree;
  bn: nn.Tree;
  opt: nn.Tree;
  banks: { video: Bank; audio: Bank };
  Z: Record<string, number>;
  step: number;
  /** CMA's neighbours [N, k], when the objective uses them */
  neighbours?: np.Tensor;
}

export interface StepMetrics { loss: number; [name: string]: number }

/** Adam with L2 weight decay, as the authors train (AVID.md). */
export const avidOptimizer = (cfg: TrainConfig): nn.Optimizer => nn.adam(cfg.lr, { weightDecay: cfg.weightDecay });

/** The starting state for training on `src`: fresh params, one random unit bank row per clip, no Z yet. */
export function initState(key: np.Key, model: Model, src: Source, cfg: TrainConfig, optimizer = avidOptimizer(cfg)): TrainState {
  const [km, kv, ka] = np.random.split(key, 3);
  const { frames, size } = src.cfg, [tf, fb] = specShape(src.cfg);
  const { params, state } = model.init(km, { video: [cfg.batch, 3, frames, size, size], audio: [cfg.batch, 1, tf, fb] });
  const dim = model.cfg.head[model.cfg.head.length - 1];
  return { params, bn: state, opt: optimizer.init(params), banks: { video: initBank(kv, src.n, dim), audio: initBank(ka, src.n, dim) }, Z: {}, step: 0 };
}

/**
 * The training step for a model, objective and config: embed both modalities (training mode), take
 * the objective's loss and its gradient, apply the optimizer, then move the batch's bank rows toward
 * the new embeddings. `const step = trainStep(model, crossAvid, tinyTrain)`
 */
export function trainStep(model: Model, objective: Objective, cfg: TrainConfig, optimizer = avidOptimizer(cfg)) {
  return (state: TrainState, batch: Batch, key: np.Key): { state: TrainState; metrics: StepMetrics } => np.withScope(() => {
    const [kNeg, kDrop] = np.random.split(key);
    const n = state.banks.video.n;
    const negatives = sampleNegatives(kNeg, batch.indices, n, Math.min(cfg.negatives, n - 1));
    const lossFn = (params: nn.Tree) => {
      const { emb, state: bn } = model.embed(params, state.bn, { video: batch.video, audio: batch.audio }, { train: true, key: kDrop });
      const out = objective({
        embeddings: emb, banks: state.banks, indices: batch.indices, negatives,
        Z: state.Z, temperature: cfg.temperature, neighbours: state.neighbours,
      });
      return [out.loss, { emb, bn, Z: out.Z, logs: out.logs }];
    };
    const [[loss, aux], grads] = np.valueAndGrad(lossFn, { hasAux: true })(state.params);
    const { params, state: opt } = optimizer.update(grads, state.opt, state.params);
    const banks = {
      video: update(state.banks.video, batch.indices, aux.emb.video, cfg.momentum),
      audio: update(state.banks.audio, batch.indices, aux.emb.audio, cfg.momentum),
    };
    const metrics: StepMetrics = { loss: (loss as np.Tensor).item() };
    for (const [k, v] of Object.entries(aux.logs as Record<string, np.Tensor>)) metrics[k] = v.item();
    // NOTE: during the warm-up the estimate is not kept, so the next step estimates again
    const Z = state.step + 1 <= (cfg.zWarmupSteps ?? 0) ? state.Z : aux.Z;
    return { state: { ...state, params, opt, bn: aux.bn, banks, Z, step: state.step + 1 }, metrics };
  });
}
