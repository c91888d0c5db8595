/**
 * Writing your own contrastive objective: a plain function with avid/objectives.ts's signature plugs
 * into training without touching library code. Here, cross-modal InfoNCE against the memory banks
 * (softmax over the positive and K negatives) instead of AVID's NCE, in a dozen lines.
 *
 *   npx tsx examples/custom-objective.ts
 */
import * as np from '../core/index.js';
import { lookup } from '../avid/bank.js';
import { synthetic } from '../avid/data.js';
import { getBatch } from '../avid/source.js';
import { avidModel, tinyModel } from '../avid/model.js';
import { infoNce } from '../avid/nce.js';
import type { Objective } from '../avid/objectives.js';
import { initState, tinyTrain, trainStep } from '../avid/train.js';

/** Cross-modal InfoNCE: video against the audio bank and audio against the video bank, averaged. */
export const crossInfoNce: Objective = ({ embeddings, banks, indices, negatives, temperature, Z }) => {
  const term = (x: np.Tensor, bank: typeof banks.video) => infoNce(x, lookup(bank, indices), lookup(bank, negatives), { temperature });
  const v2a = term(embeddings.video, banks.audio), a2v = term(embeddings.audio, banks.video);
  return { loss: np.mul(np.add(v2a, a2v), 0.5), Z: { ...Z }, logs: { v2a: np.stopGradient(v2a), a2v: np.stopGradient(a2v) } };
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const ds = synthetic(np.random.key(0), 64);
  const model = avidModel(tinyModel), cfg = { ...tinyTrain, batch: 8, negatives: 32 };
  let state = initState(np.random.key(1), model, ds, cfg);
  const step = trainStep(model, crossInfoNce, cfg);
  for (let i = 0; i < 3; i++) {
    const batch = getBatch(ds, Array.from({ length: 8 }, (_, j) => 8 * i + j), np.random.key(10 + i));
    const r = step(state, batch, np.random.key(i));
    state = r.state;
    console.log(`step ${i + 1}: InfoNCE ${r.metrics.loss.toFixed(3)} (v2a ${r.metrics.v2a.toFixed(3)}, a2v ${r.metrics.a2v.toFixed(3)})`);
  }
}
