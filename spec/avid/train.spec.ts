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
import { type Batch, getBatch, range } from '../../avid/source.js';
import { rows } from '../../avid/bank.js';
import { sampleNegatives } from '../../avid/objectives.js';
import { avidModel, type ModelConfig } from '../../avid/model.js';
import { avidObjective, crossAvid, type Objective } from '../../avid/objectives.js';
import { initState, type TrainConfig, type TrainState, tinyTrain, trainStep } from '../../avid/train.js';
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

/**
 * What trainStep sees inside a step, rebuilt outside it: it splits its key into (negatives, dropout,
 * objective), embeds in training mode with the pre-step params, and draws min(K, n - 1) negatives.
 */
function stepInputs(s: TrainState, batch: Batch, key: np.Key) {
  const [kNeg, kDrop] = np.random.split(key, 3);
  const { emb } = model.embed(s.params, s.bn, { video: batch.video, audio: batch.audio }, { train: true, key: kDrop });
  const n = s.banks.video.n, K = Math.min(cfg.negatives, n - 1);
  return { video: emb.video.dataSync(), audio: emb.audio.dataSync(), negatives: sampleNegatives(kNeg, batch.indices, n, K).dataSync(), K };
}

/** NCE's Z as AVID sets it, by a plain loop: the mean over the batch and its negatives of exp(<video embedding, audio bank row> / T). */
function firstZ(s: TrainState, batch: Batch, key: np.Key): number {
  const { video, negatives, K } = stepInputs(s, batch, key), bank = rows(s.banks.audio).dataSync(), D = s.banks.audio.dim, B = batch.indices.shape[0];
  let sum = 0;
  for (let i = 0; i < B; i++) for (let j = 0; j < K; j++) {
    let dot = 0;
    for (let d = 0; d < D; d++) dot += video[i * D + d] * bank[negatives[i * K + j] * D + d];
    sum += Math.exp(dot / cfg.temperature);
  }
  return sum / (B * K);
}

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
  // evaluation's one pass: the same block features, and the embedding the eval-mode tower gives
  for (const m of ['video', 'audio'] as const) {
    const d = model.describe(s.params, s.bn, b[m], m);
    const same = (x: np.Tensor, y: np.Tensor) => x.dataSync().every((v, i) => v === y.dataSync()[i]);
    t.ok(d.blocks.every((f, k) => same(f, model.features(s.params, s.bn, b[m], m)[k])) && same(d.emb, emb[m]), `${m}: describe gives features' blocks and embed's embeddings, bit for bit`);
  }
  t.end();
});

test('a two-step training run is deterministic, and a user objective plugs in', (t) => {
  const run = (objective: Objective = crossAvid) => {
    let s = initState(np.random.key(2), model, ds, cfg, objective);
    const step = trainStep(model, objective, cfg);
    const losses: number[] = [], zs: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      const r = step(s, getBatch(ds, [4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 3], np.random.key(10 + i)), np.random.key(20 + i));
      s = r.state;
      losses.push(r.metrics.loss);
      zs.push(s.objective.state.Z?.item());
    }
    return { s, losses, zs };
  };
  const a = run(), b = run();
  t.deepEqual(a.losses, b.losses, `same losses ${a.losses.map((l) => l.toFixed(4)).join(', ')}`);
  t.deepEqual(flat(a.s.params), flat(b.s.params), 'bit-identical params');
  t.equal(a.s.step, 2, 'step count');
  t.deepEqual(Object.keys(a.s.objective.state), ['Z'], 'the objective\'s state is one Z');
  const s0 = initState(np.random.key(2), model, ds, cfg, crossAvid), want = firstZ(s0, getBatch(ds, [0, 1, 2, 3], np.random.key(10)), np.random.key(20));
  t.ok(Math.abs((a.zs[0] as number) - want) < 1e-4 * want, `Z after step 1 is the first batch's mean e^(v2a negative score), by hand ${want.toFixed(5)} (got ${a.zs[0]})`);
  t.equal(a.zs[1], a.zs[0], 'and step 2 keeps it as it is (frozen)');
  const zAt = (warmup: number) => {
    const objective = avidObjective({ v2a: 1, a2v: 1 }, { zWarmupSteps: warmup });
    let s = initState(np.random.key(2), model, ds, cfg, objective);
    const step = trainStep(model, objective, cfg), zs: (number | null)[] = [];
    for (let i = 0; i < 3; i++) { s = step(s, getBatch(ds, [4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 3], np.random.key(10 + i)), np.random.key(20 + i)).state; zs.push(s.objective.state.Z.item()); }
    return zs;
  };
  const frozen = zAt(0), late = zAt(2);
  t.ok(frozen.every((z) => z === frozen[0]) && typeof frozen[0] === 'number', 'by default Z is the first batch\'s, then frozen');
  t.deepEqual(late.slice(0, 2), [0, 0], 'with a warm-up of 2 steps no Z is kept for them (0: not yet)');
  t.ok(late[2] !== 0 && late[2] !== frozen[0] && Number.isFinite(late[2]), `then the third step's estimate is frozen (${late[2]?.toFixed(3)} vs ${frozen[0]?.toFixed(3)})`);
  const c = run(learnedTemperature());
  t.ok(c.losses.every(Number.isFinite) && c.losses[0] !== a.losses[0], `a custom objective trains: ${c.losses.map((l) => l.toFixed(3)).join(', ')}`);
  const logT = c.s.objective.params.logT.item();
  t.ok(Math.abs(logT - Math.log(0.07)) > 1e-6, `its own parameter is differentiated and updated (T 0.07 -> ${Math.exp(logT).toFixed(5)})`);
  t.ok(c.s.objective.state.top1 > 0 || c.s.objective.state.top1 === 0, 'its own state is threaded through the steps');
  t.equal(c.s.opt.mu.objective.logT.shape.length, 0, 'the optimizer keeps moments for the objective\'s params beside the model\'s');
  t.end();
});

test('the jitted step (the default) gives the eager step\'s state bit for bit, traces once, and falls back for objectives it cannot trace', (t) => {
  const batches = [0, 1, 2].map((i) => getBatch(ds, [4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 3], np.random.key(10 + i), cfg));
  const trainWith = (objective: Objective, jit: boolean) => {
    let s = initState(np.random.key(2), model, ds, cfg, objective);
    const step = trainStep(model, objective, cfg, undefined, { jit });
    const losses: number[] = [];
    batches.forEach((b, i) => { const r = step(s, b, np.random.key(20 + i)); s = r.state; losses.push(r.metrics.loss, r.metrics.infonce); });
    return { s, losses, step };
  };
  // Cross, and Self with a Z warm-up (Z 0 for two steps, then estimated): state threaded as tensors
  for (const [name, objective] of [['Cross-AVID', crossAvid], ['Self-AVID, Z warm-up 2', avidObjective({ v2v: 1, a2a: 1 }, { zWarmupSteps: 2 })]] as const) {
    const j = trainWith(objective, true), e = trainWith(objective, false);
    t.equal(j.step.eager, undefined, `${name}: the step is jitted`);
    t.equal(j.step.traces, 1, `${name}: traced once for 3 steps (keys, the step count, Z and the banks are not baked in)`);
    t.equal(e.step.eager, 'jit: false', `${name}: and jit: false runs it eagerly`);
    const tol = np.getBackend().name === 'cpu' ? 0 : 1e-3;
    const flatJ = flat(j.s), flatE = flat(e.s);
    const worst = flatJ.reduce((w, v, i) => Math.max(w, Math.abs(v - flatE[i]) / Math.max(1, Math.abs(flatE[i]))), 0);
    t.ok(flatJ.length === flatE.length && worst <= tol, `${name}: every leaf of the state after 3 steps (params, BatchNorm, Adam, banks, Z) ${tol ? `within ${tol}` : 'bit-identical'} (worst ${worst.toExponential(1)})`);
    t.ok(j.losses.every((l, i) => Math.abs(l - e.losses[i]) <= tol * Math.abs(l)), `${name}: losses and logs ${j.losses.map((l) => l.toFixed(4)).join(' ')}`);
  }
  // an objective that reads a value on the host cannot be traced: the step says so and runs eagerly
  const peeking: Objective = { ...crossAvid, loss: (input, state, params) => (input.step.item() >= 0 ? crossAvid.loss(input, state, params) : crossAvid.loss(input, state, params)) };
  const p = trainWith(peeking, true), c = trainWith(crossAvid, false);
  t.ok(/cannot read the values of a traced tensor/.test(p.step.eager ?? ''), `a peeking objective runs eagerly: ${p.step.eager?.slice(0, 60)}...`);
  t.deepEqual(p.losses, c.losses, 'with the same numbers');
  t.end();
});

test('a training step moves exactly the batch\'s bank rows, each toward its own new embedding', (t) => {
  const s0 = initState(np.random.key(6), model, ds, cfg, crossAvid), start = rows(s0.banks.video).dataSync().slice();
  const idx = [3, 7, 1, 12], batch = getBatch(ds, idx, np.random.key(30), cfg), key = np.random.key(31);
  const m = 0.7; // not 1/2, so a step that swapped the row's and the embedding's weights would show
  const s1 = trainStep(model, crossAvid, { ...cfg, momentum: m })(s0, batch, key).state;
  const emb = stepInputs(s0, batch, key), D = s0.banks.video.dim;
  for (const mod of ['video', 'audio'] as const) {
    const before = rows(s0.banks[mod]).dataSync(), after = rows(s1.banks[mod]).dataSync(), e = emb[mod];
    const others = Array.from({ length: ds.n }, (_, r) => r).filter((r) => !idx.includes(r));
    const changed = others.filter((r) => before.subarray(r * D, (r + 1) * D).some((v, d) => !Object.is(v, after[r * D + d])));
    t.deepEqual(changed, [], `${mod}: the ${others.length} rows outside the batch are bit-identical`);
    let worst = 0;
    idx.forEach((r, i) => {
      // row <- normalize(m row + (1 - m) embedding), in float64
      const v = Array.from({ length: D }, (_, d) => m * before[r * D + d] + (1 - m) * e[i * D + d]), norm = Math.hypot(...v);
      v.forEach((x, d) => { worst = Math.max(worst, Math.abs(x / norm - after[r * D + d])); });
    });
    t.ok(worst < 1e-6, `${mod}: each batch row is normalize(${m} row + ${(1 - m).toFixed(1)} its item's embedding) (worst error ${worst.toExponential(1)})`);
    t.ok(idx.every((r) => Math.abs(after[r * D] - before[r * D]) > 1e-4), `${mod}: and every batch row moved`);
  }
  t.deepEqual(Array.from(rows(s0.banks.video).dataSync()), Array.from(start), 'the bank of the state stepped from is untouched');
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
    const init = initState(np.random.key(0), model, train, cfg, crossAvid).bn; // running statistics start the same whatever the key
    t.notDeepEqual(flat(straight.state.bn), flat(init), 'BatchNorm running statistics moved during training (so the next check can fail)');
    t.deepEqual(flat(resumed.state.bn), flat(straight.state.bn), 'BatchNorm running statistics bit-identical to the uninterrupted run');
    t.deepEqual(resumed.state.objective, straight.state.objective, 'the objective\'s state (Z) restored');
    t.deepEqual(flat(resumed.state.banks), flat(straight.state.banks), 'banks restored (a bank is a pytree of its rows)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the linear probe: fitted on the train split, scored on the test split against its labels', (t) => {
  const [k1, k2] = np.random.split(np.random.key(4));
  const labels = (shift: number) => np.tensor(Int32Array.from({ length: 60 }, (_, i) => (i + shift) % 3));
  const draw = (key: np.Key, y: np.Tensor) => np.add(np.random.normal(key, [60, 5], { std: 0.1 }), np.oneHot(y, 5));
  // the test split lists its classes in another order than the train split, so a probe that scored
  // the train rows, or compared with the train labels, would get none right
  const yTrain = labels(0), yTest = labels(1), xTrain = draw(k1, yTrain), xTest = draw(k2, yTest);
  t.equal(linearProbe(xTrain, yTrain, xTest, yTest, 3), 1, 'accuracy 1 on separable data, test rows unseen');
  t.equal(linearProbe(xTrain, yTrain, xTest, yTrain, 3), 0, 'accuracy 0 against labels that are not the test rows\' classes');
  t.equal(linearProbe(xTrain, labels(2), xTest, yTest, 3), 0, 'accuracy 0 when the train labels name every class wrongly: it learns them');
  // two windows per clip, clip-major (clip i's windows are rows 2i, 2i + 1): labels are per clip
  const twice = (x: np.Tensor) => np.reshape(np.broadcastTo(np.expandDims(x, 1), [60, 2, 5]), [120, 5]);
  t.equal(linearProbe(twice(xTrain), yTrain, twice(xTest), yTest, 3, { windows: 2 }), 1, 'with 2 windows per clip: trained on every window with its clip\'s label, scored per clip');
  t.equal(linearProbe(twice(xTrain), yTrain, twice(xTest), yTrain, 3, { windows: 2 }), 0, 'against the clip\'s own label');
  // one window per training clip and two per test clip (compare's evaluation): each split read with its own count
  t.equal(linearProbe(xTrain, yTrain, twice(xTest), yTest, 3, { windows: 2, trainWindows: 1 }), 1, 'trained on 1 window per clip, scored on 2');
  t.equal(linearProbe(twice(xTrain), yTrain, xTest, yTest, 3, { windows: 1, trainWindows: 2 }), 1, 'trained on 2 windows per clip, scored on 1');
  t.end();
});

test('recall@k by hand: ranks counted with ties against the query; collapsed embeddings score no better than chance', (t) => {
  // candidates at 0, 90, 180, 270 degrees; query 0 is its own (rank 0), query 1 is nearer candidate 0
  // than its own (rank 1), query 2 faces away from its own (rank 3), query 3 ties its own with candidate 0 (rank 1)
  const c = np.tensor([[1, 0], [0, 1], [-1, 0], [0, -1]]);
  const q = np.tensor([[1, 0], [1, 0.1], [1, 0], [1, -1]]);
  t.deepEqual(recallAt(q, c, [1, 2, 4]), [1 / 4, 3 / 4, 1], 'recall@1, @2, @4 = 1/4, 3/4, 1');
  const e = np.l2Normalize(np.random.normal(np.random.key(4), [20, 8]));
  t.deepEqual(recallAt(e, e, [1, 5]), [1, 1], 'recall@1 and @5 of a set against itself');
  const same = np.ones([20, 8]), got = recallAt(same, same, [1, 5]);
  t.ok(got[0] <= 1 / 20 && got[1] <= 5 / 20, `collapsed embeddings score ${got.join(', ')}, no better than chance (${1 / 20}, ${5 / 20})`);
  t.deepEqual(got, [0, 0], 'in fact 0: every tie counts against the query');
  const labels = Array.from({ length: 20 }, (_, i) => i % 4);
  t.deepEqual(classPrecisionAt(e, e, labels, [1]), [1], 'class precision@1 of a set against itself');
  t.equal(classPrecisionAt(same, same, labels, [5])[0], 0, 'collapsed: ties are broken against the query\'s class');
  const byClass = np.oneHot(np.tensor(Int32Array.from(labels)), 8);
  t.deepEqual(classPrecisionAt(byClass, byClass, labels, [1, 5]), [1, 1], 'embeddings that are the class: precision 1 at 1 and 5 (5 per class)');
  t.end();
});

test('range items come from the right instances', (t) => {
  // an offset that is not a multiple of the classes, so a range that ignored it would get other labels
  const part = range(ds, 5, 8), item = 1;
  t.equal(getBatch(part, [item]).labels.item(), (5 + item) % data.classes, 'the label of item 5 + 1');
  t.equal(part.names[item], ds.names[5 + item], 'its name');
  t.deepEqual(Array.from(getBatch(part, [item]).video.dataSync()), Array.from(getBatch(ds, [5 + item]).video.dataSync()), 'its frames');
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
