/**
 * Training AVID as a pure step: (state, batch, key) -> {state, metrics}. The state holds everything
 * that changes (params, BatchNorm statistics, optimizer moments, both memory banks, the objective's
 * own state and params, the step count), so a checkpoint of it resumes a run exactly. The objective
 * is any value of avid/objectives.ts's interface: Cross-AVID, or one a user writes; its state (NCE's
 * Z, CMA's neighbours, a learned temperature) is a pytree the step threads without knowing what it is.
 */
import * as np from '../core/index.js';
import * as nn from '../nn/index.js';
import { type Bank, initBank, update } from './bank.js';
import { type AugmentConfig, type Batch, type Source, specShape } from './source.js';
import type { Model } from './model.js';
import { type Objective, sampleNegatives } from './objectives.js';

export type { Objective };

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
}

export const tinyTrain: TrainConfig = {
  batch: 16, negatives: 256, temperature: 0.07, momentum: 0.5, lr: 5e-4, weightDecay: 1e-5, epochs: 12, cropScale: [0.4, 1], flip: true, maxOffset: 0.5,
};

export interface TrainState {
  params: nn.Tree;
  bn: nn.Tree;
  opt: nn.Tree;
  /** the memory banks (each a pytree of one [N, D] tensor) */
  banks: { video: Bank; audio: Bank };
  /** the objective's own state (NCE's Z, CMA's neighbours, ...) and trainable params */
  objective: { state: nn.Tree; params: nn.Tree };
  step: number;
}

export interface StepMetrics { loss: number; [name: string]: number }

/**
 * Training met a NaN or an Inf: in the loss or in the gradient of a param (`tensor`, e.g.
 * 'the gradient of params.video.stem.w'), at `step` (counted from 1, as onStep's rows). The step
 * that met it is not applied; fit adds which checkpoint is the last good state.
 */
export class NonFiniteError extends Error {
  constructor(readonly step: number, readonly tensor: string, readonly kept?: string) {
    super(`training stopped at step ${step}: ${tensor} is not finite (NaN or Inf)${kept ? `; ${kept}` : ''}`);
    this.name = 'NonFiniteError';
  }
}

/** Adam with L2 weight decay, as the authors train (AVID.md). */
export const avidOptimizer = (cfg: TrainConfig): nn.Optimizer => nn.adam(cfg.lr, { weightDecay: cfg.weightDecay });

/** What the optimizer updates: the model's params and the objective's. */
const trainable = (params: nn.Tree, objective: nn.Tree) => ({ model: params, objective });

/**
 * The starting state for training `objective` on `src`: fresh params, one random unit bank row per
 * clip, the objective's initial state. The model's params and banks depend on `key` alone, so every
 * objective started from one key starts from the same weights.
 */
export function initState(key: np.Key, model: Model, src: Source, cfg: TrainConfig, objective: Objective, optimizer = avidOptimizer(cfg)): TrainState {
  const [km, kv, ka, ko] = np.random.split(key, 4);
  const { frames, size } = src.cfg, [tf, fb] = specShape(src.cfg);
  const { params, state } = model.init(km, { video: [cfg.batch, 3, frames, size, size], audio: [cfg.batch, 1, tf, fb] });
  const dim = model.cfg.head[model.cfg.head.length - 1];
  const banks = { video: initBank(kv, src.n, dim), audio: initBank(ka, src.n, dim) };
  const obj = objective.init({ key: ko, n: src.n, dim, banks });
  return { params, bn: state, opt: optimizer.init(trainable(params, obj.params)), banks, objective: obj, step: 0 };
}

/**
 * A next stage of training from a trained state (AVID -> CMA, as the authors): its weights,
 * BatchNorm statistics and banks, `objective` initialised from them and from the previous
 * objective's state, a fresh optimizer, step 0. `continueFrom(avid, cma, cfg, random.key(2))`
 */
export function continueFrom(prev: TrainState, objective: Objective, cfg: TrainConfig, key: np.Key, optimizer = avidOptimizer(cfg)): TrainState {
  const dim = prev.banks.video.dim;
  const obj = objective.init({ key, n: prev.banks.video.n, dim, banks: prev.banks, previous: prev.objective.state });
  return { params: prev.params, bn: prev.bn, opt: optimizer.init(trainable(prev.params, obj.params)), banks: prev.banks, objective: obj, step: 0 };
}

/**
 * The training step for a model, objective and config: embed both modalities (training mode), take
 * the objective's loss and its gradient, apply the optimizer, then move the batch's bank rows toward
 * the new embeddings. A non-finite loss or gradient raises NonFiniteError instead of taking the step.
 * `const step = trainStep(model, crossAvid, tinyTrain)`
 */
export function trainStep(model: Model, objective: Objective, cfg: TrainConfig, optimizer = avidOptimizer(cfg)) {
  return (state: TrainState, batch: Batch, key: np.Key): { state: TrainState; metrics: StepMetrics } => np.withScope(() => {
    const [kNeg, kDrop, kObj] = np.random.split(key, 3);
    const n = state.banks.video.n;
    const negatives = sampleNegatives(kNeg, batch.indices, n, Math.min(cfg.negatives, n - 1));
    const lossFn = (p: { model: nn.Tree; objective: nn.Tree }) => {
      const { emb, state: bn } = model.embed(p.model, state.bn, { video: batch.video, audio: batch.audio }, { train: true, key: kDrop });
      const out = objective.loss({
        embeddings: emb, banks: state.banks, indices: batch.indices, negatives, temperature: cfg.temperature, step: state.step, key: kObj,
      }, state.objective.state, p.objective);
      return [out.loss, { emb, bn, objective: out.state, logs: out.logs }];
    };
    const current = trainable(state.params, state.objective.params);
    const [[loss, aux], grads] = np.valueAndGrad(lossFn, { hasAux: true })(current);
    // a NaN or Inf stops training here, before it reaches the params, the banks or a checkpoint
    if (!Number.isFinite((loss as np.Tensor).item())) throw new NonFiniteError(state.step + 1, 'the loss');
    const bad = nn.nonFinite({ params: grads.model, objective: { params: grads.objective } });
    if (bad) throw new NonFiniteError(state.step + 1, `the gradient of ${bad}`);
    const { params: next, state: opt } = optimizer.update(grads, state.opt, current) as { params: { model: nn.Tree; objective: nn.Tree }; state: nn.Tree };
    const banks = {
      video: update(state.banks.video, batch.indices, aux.emb.video, cfg.momentum),
      audio: update(state.banks.audio, batch.indices, aux.emb.audio, cfg.momentum),
    };
    const metrics: StepMetrics = { loss: (loss as np.Tensor).item() };
    for (const [k, v] of Object.entries(aux.logs as Record<string, np.Tensor>)) metrics[k] = v.item();
    return {
      state: { params: next.model, bn: aux.bn, opt, banks, objective: { state: aux.objective, params: next.objective }, step: state.step + 1 },
      metrics,
    };
  });
}
