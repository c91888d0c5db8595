/**
 * Training stops at the first NaN or Inf in the loss or a gradient, naming the step and the tensor,
 * and never saves the bad state: the last good epoch's checkpoint stays in place and loads.
 */
import test from 'tape';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as np from '../../core/index.js';
import * as nn from '../../nn/index.js';
import { type DataConfig, synthetic } from '../../avid/data.js';
import { getBatch } from '../../avid/source.js';
import { avidModel, type ModelConfig } from '../../avid/model.js';
import { crossAvid, type Objective } from '../../avid/objectives.js';
import { initState, NonFiniteError, type TrainConfig, type TrainState, tinyTrain, trainStep } from '../../avid/train.js';
import { fit } from '../../avid/fit.js';

const data: DataConfig = { classes: 4, frames: 4, size: 16, fps: 16, sampleRate: 16000, audioSeconds: 0.5 };
const small: ModelConfig = { videoWidths: [4, 8, 8, 8], videoStemPool: true, audioWidths: [4, 8, 8, 8], audioStrides: [1, 2, 2, 1], head: [8, 8] };
const cfg: TrainConfig = { ...tinyTrain, batch: 4, negatives: 8, epochs: 2 };
const ds = synthetic(np.random.key(0), 16, data); // 4 steps an epoch
const model = avidModel(small);
const flat = (tree: unknown) => np.treeLeaves(tree).flatMap((t) => Array.from(t.dataSync()));

/** crossAvid, with `spoil` applied to its loss at the objective's step `at` (counted from 0). */
const spoiledAt = (at: number, spoil: (loss: np.Tensor, emb: { video: np.Tensor; audio: np.Tensor }) => np.Tensor): Objective => ({
  ...crossAvid,
  loss: (input, state, params) => {
    const out = crossAvid.loss(input, state, params);
    // reading the step on the host: the trainer cannot jit this objective and runs it eagerly
    return input.step.item() === at ? { ...out, loss: spoil(out.loss, input.embeddings) } : out;
  },
});

/** A step of s on the first batch must raise a NonFiniteError whose message matches `want`. */
function stopsAt(t: test.Test, step: (s: TrainState, b: ReturnType<typeof getBatch>, k: np.Key) => unknown, s: TrainState, want: RegExp): void {
  try {
    step(s, getBatch(ds, [0, 1, 2, 3]), np.random.key(2));
    t.fail('the step was taken');
  } catch (e) {
    t.ok(e instanceof NonFiniteError, 'a NonFiniteError');
    t.match(String((e as Error).message), want, (e as Error).message);
  }
}

test('a NaN loss at step 6 stops fit there; epoch 1 (step 4) stays the checkpoint and loads', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'avid-nan-'));
  let afterEpoch1: TrainState | undefined;
  const lines: string[] = [];
  try {
    await fit(model, spoiledAt(5, (l) => np.mul(l, NaN)), ds, cfg, {
      key: np.random.key(3), dir, progress: false, log: (l) => lines.push(l), onEpoch: (s, e) => { if (e === 1) afterEpoch1 = s; return s; },
    });
    t.fail('fit finished');
  } catch (e) {
    t.ok(e instanceof NonFiniteError, 'a NonFiniteError');
    t.match(String((e as Error).message), /^training stopped at step 6: the loss is not finite/, 'names the step and the loss');
    t.match(String((e as Error).message), new RegExp(`the checkpoint in ${dir} \\(after step 4\\) is the last good state`), 'names the good checkpoint');
  }
  t.ok(afterEpoch1, 'epoch 1 ran');
  const { step, ...good } = afterEpoch1!;
  const { tree, metadata } = nn.loadCheckpoint(dir, { template: good });
  t.deepEqual([step, metadata.step], [4, 4], 'the checkpoint is the one after epoch 1 (step 4)');
  t.deepEqual(flat(tree), flat(good), 'it holds epoch 1\'s whole state (params, BatchNorm, optimizer, banks), bit for bit');
  rmSync(dir, { recursive: true, force: true });
  t.end();
});

test('a NaN gradient names the param: the video side, while the loss stays finite', (t) => {
  const s = initState(np.random.key(1), model, ds, cfg, crossAvid);
  // + 0 * sum(sqrt(0 * video embedding)): the loss is unchanged, its gradient 0 * (0 / 0) = NaN
  const obj = spoiledAt(0, (l, emb) => np.add(l, np.mul(0, np.sum(np.sqrt(np.mul(emb.video, 0))))));
  stopsAt(t, trainStep(model, obj, cfg), s, /^training stopped at step 1: the gradient of params\.video\.\S+ is not finite/);
  t.end();
});

test('jitted, with the optimizer\'s update inside the program: a NaN gradient names the param and no state moves', (t) => {
  const s = initState(np.random.key(1), model, ds, cfg, crossAvid);
  const before = flat(s);
  // the same spoiled gradient as above, on every step and without a host read: the step stays jitted
  const obj: Objective = { ...crossAvid, loss: (input, state, params) => {
    const out = crossAvid.loss(input, state, params);
    return { ...out, loss: np.add(out.loss, np.mul(0, np.sum(np.sqrt(np.mul(input.embeddings.video, 0))))) };
  } };
  const step = trainStep(model, obj, cfg);
  stopsAt(t, step, s, /^training stopped at step 1: the gradient or update of params\.video\.\S+ is not finite/);
  t.equal(step.eager, undefined, 'the step was jitted');
  t.deepEqual(flat(s), before, 'the state passed in is unchanged');
  t.end();
});
