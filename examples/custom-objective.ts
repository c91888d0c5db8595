/**
 * Writing your own contrastive objective. An objective is `{init, loss, onEpoch?}`: `init` gives its
 * own params and state (pytrees), `loss` maps a batch's embeddings and the memory banks to a scalar,
 * and the trainer differentiates, updates and checkpoints whatever the objective keeps, with no
 * library code to touch. Here: cross-modal InfoNCE against the banks (softmax over the positive and
 * K negatives) with a *learned* temperature, as CLIP does, and a state that tracks the softmax's
 * accuracy (how often the positive scores highest) as a running mean.
 *
 *   npx tsx examples/custom-objective.ts
 */
import * as np from '../core/index.js';
import { lookup } from '../avid/bank.js';
import { synthetic } from '../avid/data.js';
import { getBatch } from '../avid/source.js';
import { avidModel, tinyModel } from '../avid/model.js';
import { infoNceOfScores } from '../avid/nce.js';
import type { Objective } from '../avid/objectives.js';
import { initState, tinyTrain, trainStep } from '../avid/train.js';

/** Params: the log of the temperature (learned). State: a running mean of the positive's top-1 rate (not differentiated). */
type P = { logT: np.Tensor };
type S = { top1: number };

/** Cross-modal InfoNCE with a learned temperature, starting at T = `t0`. */
export const learnedTemperature = (t0 = 0.07): Objective<S, P> => ({
  init: () => ({ params: { logT: np.full([], Math.log(t0)) }, state: { top1: 0 } }),
  loss({ embeddings, banks, indices, negatives }, state, { logT }) {
    const invT = np.exp(np.neg(logT));
    const term = (x: np.Tensor, bank: typeof banks.video) => {
      const sPos = np.mul(np.sum(np.mul(x, lookup(bank, indices)), -1), invT);
      const sNeg = np.mul(np.squeeze(np.matmul(lookup(bank, negatives), np.expandDims(x, -1)), -1), invT);
      const top1 = np.mean(np.astype(np.greater(np.stopGradient(sPos), np.max(np.stopGradient(sNeg), -1)), 'float32')).item();
      return { loss: infoNceOfScores({ sPos, sNeg }), top1 };
    };
    const v2a = term(embeddings.video, banks.audio), a2v = term(embeddings.audio, banks.video);
    const top1 = 0.9 * state.top1 + 0.1 * (v2a.top1 + a2v.top1) / 2;
    return {
      loss: np.mul(np.add(v2a.loss, a2v.loss), 0.5),
      state: { top1 },
      logs: { temperature: np.exp(np.stopGradient(logT)), top1: np.full([], top1) },
    };
  },
});

if (import.meta.url === `file://${process.argv[1]}`) {
  const ds = synthetic(np.random.key(0), 64);
  const model = avidModel(tinyModel), cfg = { ...tinyTrain, batch: 8, negatives: 32, lr: 1e-2 };
  const objective = learnedTemperature();
  let state = initState(np.random.key(1), model, ds, cfg, objective);
  const step = trainStep(model, objective, cfg);
  for (let i = 0; i < 4; i++) {
    const batch = getBatch(ds, Array.from({ length: 8 }, (_, j) => 8 * i + j), np.random.key(10 + i));
    const r = step(state, batch, np.random.key(i));
    state = r.state;
    console.log(`step ${i + 1}: InfoNCE ${r.metrics.loss.toFixed(3)}, temperature ${r.metrics.temperature.toFixed(4)}, top-1 (running) ${r.metrics.top1.toFixed(3)}`);
  }
}
