/**
 * The AVID pipeline end to end at toy size: encoder shapes, a deterministic training step, a user
 * objective plugged in, resume from a checkpoint continuing exactly, and evaluation's parts.
 */
import test from 'tape';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as np from '../../core/index.js';
import { type DataConfig, synthetic } from '../../avid/data.js';
import { getBatch, range } from '../../avid/source.js';
import { avidModel, type ModelConfig } from '../../avid/model.js';
import { avidObjective, crossAvid, type Objective } from '../../avid/objectives.js';
import { initState, type TrainConfig, tinyTrain, trainStep } from '../../avid/train.js';
import { fit } from '../../avid/fit.js';
import { classPrecisionAt, linearProbe, recallAt, type Report } from '../../avid/evaluate.js';
import { formatTable } from '../../avid/main.js';
import { learnedTemperature } from '../../examples/custom-objective.js';

const data: DataConfig = { classes: 4, frames: 4, size: 16, fps: 16, sampleRate: 16000, audioSeconds: 0.5 };
const small: ModelConfig = { videoWidths: [4, 8, 8, 8], videoStemPool: true, audioWidths: [4, 8, 8, 8], audioStrides: [1, 2, 2, 1], head: [8, 8] };
const cfg: TrainConfig = { ...tinyTrain, batch: 4, negatives: 8, epochs: 2 };
const ds = synthetic(np.random.key(0), 16, data);
const model = avidModel(small);
const flat = (tree: unknown) => np.treeLeaves(tree).flatMap((t) => Array.from(t.dataSync()));

test('encoders: block features and embeddings have the expected shapes', (t) => {
  const s = initState(np.random.key(1), model, ds, cfg, crossAvid);
  const b = getBatch(ds, [0, 1, 2]);
  t.deepEqual(b.video.shape, [3, 3, 4, 16, 16], 'video batch [B, 3, T, S, S]');
  t.deepEqual(b.audio.shape, [3, 1, 25, 129], 'audio batch [B, 1, time, 129]');
  t.deepEqual(model.features(s.params, s.bn, b.video, 'video').map((f) => f.shape), [[3, 4], [3, 8], [3, 8], [3, 8]], 'video block features');
  t.deepEqual(model.features(s.params, s.bn, b.audio, 'audio').map((f) => f.shape), [[3, 4], [3, 8], [3, 8], [3, 8]], 'audio block features');
  const { emb } = model.embed(s.params, s.bn, { video: b.video, audio: b.audio }, { train: false });
  t.deepEqual([emb.video.shape, emb.audio.shape], [[3, 8], [3, 8]], 'embeddings [B, 8]');
  const norms = np.sqrt(np.sum(np.square(emb.video), 1)).dataSync();
  t.ok(norms.every((v) => Math.abs(v - 1) < 1e-5), 'embeddings are unit vectors');
  t.end();
});

test('a two-step training run is deterministic, and a user objective plugs in', (t) => {
  const run = (objective: Objective = crossAvid) => {
    let s = initState(np.random.key(2), model, ds, cfg, objective);
    const step = trainStep(model, objective, cfg);
    const losses: number[] = [];
    for (let i = 0; i < 2; i++) {
      const r = step(s, getBatch(ds, [4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 3], np.random.key(10 + i)), np.random.key(20 + i));
      s = r.state;
      losses.push(r.metrics.loss);
    }
    return { s, losses };
  };
  const a = run(), b = run();
  t.deepEqual(a.losses, b.losses, `same losses ${a.losses.map((l) => l.toFixed(4)).join(', ')}`);
  t.deepEqual(flat(a.s.params), flat(b.s.params), 'bit-identical params');
  t.equal(a.s.step, 2, 'step count');
  t.deepEqual(Object.keys(a.s.objective.state), ['Z'], 'the objective\'s state is one Z');
  const zAt = (warmup: number) => {
    const objective = avidObjective({ v2a: 1, a2v: 1 }, { zWarmupSteps: warmup });
    let s = initState(np.random.key(2), model, ds, cfg, objective);
    const step = trainStep(model, objective, cfg), zs: (number | null)[] = [];
    for (let i = 0; i < 3; i++) { s = step(s, getBatch(ds, [4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 3], np.random.key(10 + i)), np.random.key(20 + i)).state; zs.push(s.objective.state.Z); }
    return zs;
  };
  const frozen = zAt(0), late = zAt(2);
  t.ok(frozen.every((z) => z === frozen[0]) && typeof frozen[0] === 'number', 'by default Z is the first batch\'s, then frozen');
  t.deepEqual(late.slice(0, 2), [null, null], 'with a warm-up of 2 steps no Z is kept for them');
  t.ok(late[2] !== null && late[2] !== frozen[0] && Number.isFinite(late[2]), `then the third step's estimate is frozen (${late[2]?.toFixed(3)} vs ${frozen[0]?.toFixed(3)})`);
  const c = run(learnedTemperature());
  t.ok(c.losses.every(Number.isFinite) && c.losses[0] !== a.losses[0], `a custom objective trains: ${c.losses.map((l) => l.toFixed(3)).join(', ')}`);
  const logT = c.s.objective.params.logT.item();
  t.ok(Math.abs(logT - Math.log(0.07)) > 1e-6, `its own parameter is differentiated and updated (T 0.07 -> ${Math.exp(logT).toFixed(5)})`);
  t.ok(c.s.objective.state.top1 > 0 || c.s.objective.state.top1 === 0, 'its own state is threaded through the steps');
  t.equal(c.s.opt.mu.objective.logT.shape.length, 0, 'the optimizer keeps moments for the objective\'s params beside the model\'s');
  t.end();
});

test('resume continues exactly where the run stopped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'avid-resume-'));
  const train = range(ds, 0, 8), quiet = { progress: false, log: () => {} };
  try {
    const straight = await fit(model, crossAvid, train, cfg, { key: np.random.key(3), ...quiet });
    await fit(model, crossAvid, train, { ...cfg, epochs: 1 }, { key: np.random.key(3), dir, ...quiet });
    const resumed = await fit(model, crossAvid, train, cfg, { key: np.random.key(3), dir, resume: true, ...quiet });
    t.equal(resumed.state.step, straight.state.step, 'same number of steps');
    t.deepEqual(flat(resumed.state.params), flat(straight.state.params), 'params bit-identical to the uninterrupted run');
    t.deepEqual(flat(resumed.state.opt), flat(straight.state.opt), 'optimizer state identical');
    t.deepEqual(resumed.state.objective, straight.state.objective, 'the objective\'s state (Z) restored');
    t.deepEqual(flat(resumed.state.banks), flat(straight.state.banks), 'banks restored (a bank is a pytree of its rows)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('evaluation parts: a linear probe separates separable data; recall@k of identical sets is 1', (t) => {
  const key = np.random.key(4);
  const y = np.tensor(Int32Array.from({ length: 60 }, (_, i) => i % 3));
  const x = np.add(np.random.normal(key, [60, 5], { std: 0.1 }), np.oneHot(y, 5));
  t.equal(linearProbe(x, y, x, y, 3), 1, 'probe accuracy 1 on separable data');
  const e = np.l2Normalize(np.random.normal(key, [20, 8]));
  t.deepEqual(recallAt(e, e, [1, 5]), [1, 1], 'recall@1 and @5 of a set against itself');
  const same = np.ones([20, 8]);
  t.deepEqual(recallAt(same, same, [1, 5]), [0, 0], 'collapsed embeddings: every tie counts against the query');
  const labels = Array.from({ length: 20 }, (_, i) => i % 4);
  t.deepEqual(classPrecisionAt(e, e, labels, [1]), [1], 'class precision@1 of a set against itself');
  t.equal(classPrecisionAt(same, same, labels, [5])[0], 0, 'collapsed: ties are broken against the query\'s class');
  const byClass = np.oneHot(np.tensor(Int32Array.from(labels)), 8);
  t.deepEqual(classPrecisionAt(byClass, byClass, labels, [1, 5]), [1, 1], 'embeddings that are the class: precision 1 at 1 and 5 (5 per class)');
  const test = range(ds, 8, 8);
  t.equal(getBatch(test, [1]).labels.item(), 9 % data.classes, 'range items come from the right instances');
  t.end();
});

test('fit asks a decoding source for the next batch before training this one, and leaves out unusable clips', async (t) => {
  const events: string[] = [];
  const base = range(ds, 0, 8);
  const source = {
    ...base,
    async prepare(indices: readonly number[]) { events.push(`prepare ${[...indices].sort().join(',')}`); return new Set([3]); },
    clip(i: number, view: Parameters<typeof base.clip>[1]) { events.push(`clip ${i}`); return base.clip(i, view); },
  };
  const { history } = await fit(model, crossAvid, source, { ...cfg, epochs: 1 }, { key: np.random.key(5), progress: false, log: () => {} });
  t.equal(history.length, 2, 'two steps');
  const firstClip = events.findIndex((e) => e.startsWith('clip'));
  t.deepEqual(events.slice(0, firstClip).map((e) => e.split(' ')[0]), ['prepare', 'prepare'], 'the second batch is requested before the first one is built');
  t.notOk(events.includes('clip 3'), 'a clip prepare calls unusable is never used');
  t.equal(events.filter((e) => e.startsWith('clip')).length, 7, 'the other 7 clips are');
});

test('the Table-1 layout: one report per row as is, several (seeds) as mean ± sd', (t) => {
  const report = (v: number): Report => ({
    probe: { video: [v, 0.5, 0.25, 0.125], audio: [0.5, 0.5, 0.5, v] }, best: { video: v, audio: v },
    retrieval: { v2a: [v / 10, v / 2], a2v: [0.01, 0.05] }, classRetrieval: { v2a: [0, 0], a2v: [0, 0] },
  });
  const one = formatTable([{ label: 'Cross-AVID', report: report(0.8) }]);
  t.ok(one.split('\n')[2].startsWith('Cross-AVID       80.0   50.0   25.0   12.5   80.0'), 'one report: plain percentages');
  const seeds = formatTable([{ label: 'Cross-AVID', report: [report(0.7), report(0.8), report(0.9)] }]);
  t.ok(seeds.split('\n')[2].includes('80.0±10.0'), `three seeds: mean ± sample sd (${seeds.split('\n')[2].slice(0, 40)})`);
  t.ok(seeds.split('\n')[2].includes('8.0±1.0 / 40.0±5.0'), 'retrieval too');
  t.end();
});
