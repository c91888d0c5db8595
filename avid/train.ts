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
  batch: 16, negatives: 256, temperature: 0.07, momentum: 0.5, lr: 5e-4, weightDecay: 1e-5, epochs: 18, cropScale: [0.4, 1], flip: true, maxOffset: 0.5,
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

/** How a training step runs. */
export interface StepOptions {
  /**
   * Trace the loss and its gradient once and run them as a compiled program (core/jit.ts), the
   * optimizer as its own (default true). An objective that needs host values inside (CMA's neighbour
   * sampler) cannot be traced: the step then runs eagerly, and says why in `step.eager`.
   */
  jit?: boolean;
}

/**
 * The training step: a function of (state, batch, key); `eager` says why it is not jitted, if it is
 * not, and `traces` how many programs it has traced (one, unless shapes change).
 */
export type Step = ((state: TrainState, batch: Batch, key: np.Key) => { state: TrainState; metrics: StepMetrics }) & { readonly eager?: string; readonly traces: number };

/**
 * The training step for a model, objective and config: embed both modalities (training mode), take
 * the objective's loss and its gradient, apply the optimizer, then move the batch's bank rows toward
 * the new embeddings. A non-finite loss or gradient raises NonFiniteError instead of taking the step.
 * Random draws (the negatives) happen on the host; the loss, its gradient, the logs and a finiteness
 * probe are one pure function of tensors, jitted by default, and all the scalars come back in one read.
 * `const step = trainStep(model, crossAvid, tinyTrain)`
 */
export function trainStep(model: Model, objective: Objective, cfg: TrainConfig, optimizer = avidOptimizer(cfg), opts: StepOptions = {}): Step {
  type Trainable = { model: nn.Tree; objective: nn.Tree };
  type Prepared = { scalars: nn.Tree; tensors: nn.Tree };
  const gradStep = (current: Trainable, bn: nn.Tree, objState: nn.Tree, banks: TrainState['banks'], batch: Pick<Batch, 'video' | 'audio' | 'indices'>, negatives: np.Tensor, step: np.Tensor, kDrop: np.Key, kObj: np.Key, opt?: Prepared) => {
    const lossFn = (p: Trainable) => {
      const { emb, state: bn2 } = model.embed(p.model, bn, { video: batch.video, audio: batch.audio }, { train: true, key: kDrop });
      const out = objective.loss({
        embeddings: emb, banks, indices: batch.indices, negatives, temperature: cfg.temperature, step, key: kObj,
      }, objState, p.objective);
      return [out.loss, { emb, bn: bn2, objective: out.state, logs: out.logs }];
    };
    const [[loss, aux], grads] = np.valueAndGrad(lossFn, { hasAux: true })(current);
    const { logs, ...rest } = aux as { logs: Record<string, np.Tensor>; emb: Record<'video' | 'audio', np.Tensor>; bn: nn.Tree; objective: nn.Tree };
    // the update itself, where the optimizer has stages and the step is jitted: one program, whose
    // gradients need not be written out (BatchNorm's weight and bias, rows of one sum, are read in place)
    const updated = opt && optimizer.stages!.apply(grads, opt.tensors, current, opt.scalars);
    // the loss, the logs and a probe that is 0 when every gradient (or, updated here, every new param)
    // is finite (0 * x is NaN otherwise): one read. Over the tensors joined end to end, one sum: a GPU
    // launches about ten kernels for it, not one per tensor; the copy costs the CPU about a millisecond
    const leaves = np.treeLeaves(updated ? updated.params : grads).map((g) => np.reshape(np.astype(g, (loss as np.Tensor).dtype), [-1]));
    const probe = leaves.length ? np.sum(np.mul(np.concat(leaves), 0)) : np.tensor(0);
    const scalars = np.stack([loss as np.Tensor, probe, ...Object.values(logs)].map((v) => np.astype(np.reshape(v, []), (loss as np.Tensor).dtype)));
    const res: typeof rest & { scalars: np.Tensor; names: string[]; grads?: nn.Tree; updated?: { params: nn.Tree; tensors: nn.Tree } } = { scalars, names: Object.keys(logs), ...rest };
    return Object.assign(res, updated ? { updated } : { grads });
  };
  const jitted = np.jit(gradStep);
  let eager: string | undefined = opts.jit === false ? 'jit: false' : undefined;
  const run = (...args: Parameters<typeof gradStep>) => {
    if (eager === undefined) {
      try {
        return jitted(...args);
      } catch (e) {
        // an objective that reads values on the host cannot be traced: run it as it is, from now on
        if (!(e instanceof np.ConcretizationError)) throw e;
        eager = e.message;
      }
    }
    // eagerly, the optimizer's own update (jitted) follows
    const [current, bn, objState, banks, batch, negatives, step, kDrop, kObj] = args;
    return gradStep(current, bn, objState, banks, batch, negatives, step, kDrop, kObj);
  };
  const step = (state: TrainState, batch: Batch, key: np.Key): { state: TrainState; metrics: StepMetrics } => np.withScope(() => {
    const [kNeg, kDrop, kObj] = np.random.split(key, 3);
    const n = state.banks.video.n;
    const negatives = sampleNegatives(kNeg, batch.indices, n, Math.min(cfg.negatives, n - 1));
    const current = trainable(state.params, state.objective.params);
    // with jit, the optimizer's update goes into the program: its host work (the step's scalars) here
    const prepared = eager === undefined ? optimizer.stages?.prepare(state.opt, current) : undefined;
    const out = run(current, state.bn, state.objective.state, state.banks, { video: batch.video, audio: batch.audio, indices: batch.indices }, negatives, np.tensor(state.step, { dtype: 'int32' }), kDrop, kObj, prepared);
    const [loss, probe, ...logs] = Array.from(out.scalars.dataSync() as Float32Array | Float64Array);
    // a NaN or Inf stops training here, before it reaches the params, the banks or a checkpoint
    if (!Number.isFinite(loss)) throw new NonFiniteError(state.step + 1, 'the loss');
    if (!Number.isFinite(probe)) {
      // a non-finite gradient makes its param's update non-finite too (NaN, or an infinite step)
      const seen = (out.updated?.params ?? out.grads) as Trainable;
      const bad = nn.nonFinite({ params: seen.model, objective: { params: seen.objective } });
      throw new NonFiniteError(state.step + 1, `the gradient ${out.updated ? 'or update ' : ''}of ${bad ?? 'a param'}`);
    }
    const { params: next, state: opt } = (out.updated
      ? { params: out.updated.params, state: optimizer.stages!.finish(state.opt, out.updated.tensors) }
      : optimizer.update(out.grads!, state.opt, current)) as { params: Trainable; state: nn.Tree };
    const banks = {
      video: update(state.banks.video, batch.indices, out.emb.video, cfg.momentum),
      audio: update(state.banks.audio, batch.indices, out.emb.audio, cfg.momentum),
    };
    const metrics: StepMetrics = { loss };
    out.names.forEach((k, i) => { metrics[k] = logs[i]; });
    return {
      state: { params: next.model, bn: out.bn, opt, banks, objective: { state: out.objective, params: next.objective }, step: state.step + 1 },
      metrics,
    };
  });
  return Object.defineProperties(step, { eager: { get: () => eager }, traces: { get: () => jitted.traces } }) as Step;
}
