/**
 * Evaluation's parts at toy size: extract's rows (clip-major windows, eval mode, batching invisible,
 * unusable clips left out), clip embeddings, recalibrate's BatchNorm statistics (the plain mean over
 * its batches, the old statistics forgotten), and evaluate's report and refusals.
 */
import test from 'tape';
import * as np from '../../core/index.js';
import { synthetic } from '../../avid/data.js';
import { avidModel } from '../../avid/model.js';
import { evalViews, getBatch, range, type Source } from '../../avid/source.js';
import { clipEmbeddings, evaluate, extract, recalibrate } from '../../avid/evaluate.js';
import { initState, tinyTrain } from '../../avid/train.js';
import { crossAvid } from '../../avid/objectives.js';
import { close } from '../helpers.js';

const data = { classes: 2, frames: 4, size: 16, fps: 16, sampleRate: 16000, audioSeconds: 0.5 };
const ds = synthetic(np.random.key(0), 12, data);
const model = avidModel({ videoWidths: [4, 4, 4, 4], videoStemPool: true, audioWidths: [4, 4, 4, 4], audioStrides: [1, 2, 2, 1], head: [8, 8] });
const s = initState(np.random.key(1), model, ds, { ...tinyTrain, batch: 4, negatives: 6 }, crossAvid);
const leaves = (tree: unknown) => np.treeLeaves(tree);

test('extract: every clip through each window, clip-major, in eval mode, whatever the batch size; unusable clips left out', async (t) => {
  const src = range(ds, 0, 5), W = 2;
  const f = await extract(model, s.params, s.bn, src, { windows: W, batch: 3 });
  t.deepEqual([f.emb.video.shape, f.emb.audio.shape, f.blocks.video.map((b) => b.shape[0])], [[10, 8], [10, 8], [10, 10, 10, 10]], '5 clips x 2 windows rows');
  t.deepEqual(f.items, [0, 1, 2, 3, 4], 'items');
  t.deepEqual(Array.from(f.labels.dataSync()), [0, 1, 0, 1, 0], 'one label per clip');
  // row 2i + k is clip i through its k-th evenly spaced window, embedded in eval mode on its own
  const views = evalViews(src.duration(3), src.cfg, W);
  const b = getBatch(src, [3], undefined, undefined, [views[1]]);
  const one = model.embed(s.params, s.bn, { video: b.video, audio: b.audio }, { train: false }).emb;
  close(t, np.slice(f.emb.video, [7, 0], [1, -1]), one.video, 'row 7 = clip 3, window 2 (video)', { rtol: 1e-5, atol: 1e-6 });
  close(t, np.slice(f.emb.audio, [7, 0], [1, -1]), one.audio, 'row 7 = clip 3, window 2 (audio)', { rtol: 1e-5, atol: 1e-6 });
  t.ok(views[1].start > views[0].start, 'the two windows differ');
  const g = await extract(model, s.params, s.bn, src, { windows: W, batch: 32 });
  close(t, g.emb.video, f.emb.video, 'batch size 32 gives the rows batch size 3 gives', { rtol: 1e-5, atol: 1e-6 });
  // clip embeddings by hand: clip 0's windows [1, 0] and [0, 1] average to [1/2, 1/2], renormalised [0.7071, 0.7071]; clip 1's are both [0.6, 0.8]
  const hand = { ...f, windows: 2, emb: { video: np.tensor([[1, 0], [0, 1], [0.6, 0.8], [0.6, 0.8]]), audio: np.zeros([4, 2]) } };
  close(t, clipEmbeddings(hand, 'video'), np.tensor([[Math.SQRT1_2, Math.SQRT1_2], [0.6, 0.8]]), 'clip embedding = normalize(mean of its own windows)', { rtol: 1e-6, atol: 1e-7 });
  const flaky: Source = { ...src, prepare: async () => new Set([1]) };
  const h = await extract(model, s.params, s.bn, flaky, { windows: 1 });
  t.deepEqual([h.items, Array.from(h.labels.dataSync()), h.emb.video.shape[0]], [[0, 2, 3, 4], [0, 0, 1, 0], 4], 'an unusable clip is left out of rows, items and labels');
  t.end();
});

test('recalibrate: BatchNorm statistics become the plain mean of its batches\' statistics, forgetting the old ones', async (t) => {
  const src = range(ds, 0, 8);
  // the statistics one batch gives on its own (momentum 1), in recalibrate's fixed order: permutation(key 0)
  const order = Array.from(np.random.permutation(np.random.key(0), src.n).dataSync());
  const statsOf = (idx: number[]) => { const x = getBatch(src, idx); return model.embed(s.params, s.bn, { video: x.video, audio: x.audio }, { train: true, momentum: 1 }).state; };
  const A = leaves(statsOf(order.slice(0, 4))), B = leaves(statsOf(order.slice(4, 8)));
  const r2 = leaves(await recalibrate(model, s.params, s.bn, src, { batch: 4, batches: 2 }));
  t.equal(r2.length, A.length, `${A.length} state leaves`);
  let worst = 0, moved = 0;
  r2.forEach((r, i) => {
    const want = np.div(np.add(A[i], B[i]), 2).dataSync(), got = r.dataSync();
    got.forEach((v, j) => { worst = Math.max(worst, Math.abs(v - want[j]) / (1e-6 + Math.abs(want[j]))); });
    if (A[i].dataSync().some((v, j) => Math.abs(v - B[i].dataSync()[j]) > 1e-6)) moved++;
  });
  t.ok(moved > 0, `the two batches' statistics differ in ${moved} leaves, so their mean is not either one`);
  t.ok(worst < 1e-4, `2 batches: every statistic is the mean of the two batches' (worst relative error ${worst.toExponential(1)})`);
  // starting from other running statistics changes nothing: the old ones are forgotten entirely
  const garbage = np.treeMap(s.bn, (x) => np.add(np.mul(x, 3), 5));
  const r2b = leaves(await recalibrate(model, s.params, garbage, src, { batch: 4, batches: 2 }));
  const diff = Math.max(...r2b.map((r, i) => Math.max(...Array.from(r.dataSync(), (v, j) => Math.abs(v - r2[i].dataSync()[j])))));
  t.ok(diff < 1e-6, `the same from other starting running statistics (largest difference ${diff.toExponential(1)})`);
  t.end();
});

test('evaluate: a report of probes per block and retrieval, each a rate; unlabelled sources refused', async (t) => {
  const train = range(ds, 0, 8), test_ = range(ds, 8, 4);
  const r = await evaluate(model, s.params, s.bn, train, test_);
  for (const m of ['video', 'audio'] as const) {
    t.equal(r.probe[m].length, 4, `${m}: one probe per block`);
    t.ok(r.probe[m].every((p) => p >= 0 && p <= 1 && Number.isInteger(p * 4)), `${m}: accuracies are k / 4 test clips (${r.probe[m].join(', ')})`);
    t.equal(r.best[m], Math.max(...r.probe[m]), `${m}: best is the best block`);
  }
  const rates = [...r.retrieval.v2a, ...r.retrieval.a2v, ...r.classRetrieval.v2a, ...r.classRetrieval.a2v];
  t.ok(rates.every((p) => p >= 0 && p <= 1), `retrieval rates in [0, 1] (${rates.map((p) => p.toFixed(2)).join(', ')})`);
  t.ok(r.retrieval.v2a[1] >= r.retrieval.v2a[0] && r.retrieval.a2v[1] >= r.retrieval.a2v[0], 'recall@5 >= recall@1');
  const unlabelled: Source = { ...test_, labels: new Int32Array(4).fill(-1) };
  try { await evaluate(model, s.params, s.bn, train, unlabelled); t.fail('an unlabelled test split was accepted'); } catch (e) {
    t.ok(/test clips need class labels/.test((e as Error).message), `an unlabelled test split is refused (${(e as Error).message.slice(0, 60)}...)`);
  }
  t.end();
});
