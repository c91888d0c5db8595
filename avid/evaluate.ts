/**
 * Evaluation as in AVID.md, on frozen encoders:
 * - linear probe per block: globally pooled block features -> BatchNorm (standardised with the train
 *   split's statistics, no affine) -> a linear softmax classifier trained on the train split; test
 *   accuracy per block and the best block (paper Table 1's columns);
 * - cross-modal retrieval on the test split (video -> audio and audio -> video): instance recall@1
 *   and @5 (the clip's own other half), and class precision@1 and @5 (neighbours of its class).
 * With `windows` > 1 every test clip is seen through that many evenly spaced windows (the authors use
 * 10): probes average their predicted probabilities per test clip, and retrieval averages a clip's
 * embeddings. The training clips, on which probes are fitted, are seen through `trainWindows` (by
 * default as many; 1 is the authors' one random clip per sample, here the middle window). The same
 * evaluation of randomly initialised encoders is the baseline every number is judged against.
 */
import * as np from '../core/index.js';
import * as nn from '../nn/index.js';
import { evalViews, getBatch, ready, type Source } from './source.js';
import type { Modality, Model } from './model.js';

export interface Features {
  /** per block, [n * windows, C] (clip-major: clip i's windows are rows i * windows ...) */
  blocks: Record<Modality, np.Tensor[]>;
  /** unit embeddings [n * windows, D] */
  emb: Record<Modality, np.Tensor>;
  /** labels [n] of the clips */
  labels: np.Tensor;
  /** the source items these rows are (usable ones only) */
  items: number[];
  windows: number;
}

/**
 * Block features and embeddings of every usable clip of `src` (eval mode, no augmentation), each
 * through `windows` evenly spaced windows. `await extract(model, params, bn, test, {windows: 10})`
 */
export async function extract(model: Model, params: nn.Tree, state: nn.Tree, src: Source, { windows = 1, batch = 32 } = {}): Promise<Features> {
  const items = await ready(src, Array.from({ length: src.n }, (_, i) => i));
  if (items.length === 0) throw new Error('extract: the source has no usable clips');
  const rows = items.flatMap((i) => evalViews(src.duration(i), src.cfg, windows).map((view) => ({ i, view })));
  const parts: Omit<Features, 'labels' | 'items' | 'windows'>[] = [];
  // one traced program per batch size (the last batch may be smaller); on the CPU its numbers are eager's, bit for bit
  const pass = np.jit((p: nn.Tree, s: nn.Tree, video: np.Tensor, audio: np.Tensor) => {
    const v = model.describe(p, s, video, 'video'), a = model.describe(p, s, audio, 'audio');
    return { blocks: { video: v.blocks, audio: a.blocks }, emb: { video: v.emb, audio: a.emb } };
  });
  for (let r = 0; r < rows.length; r += batch) {
    const chunk = rows.slice(r, r + batch);
    const b = getBatch(src, chunk.map((c) => c.i), undefined, undefined, chunk.map((c) => c.view));
    parts.push(np.withScope(() => pass(params, state, b.video, b.audio)));
  }
  const cat = (f: (p: (typeof parts)[number]) => np.Tensor) => np.concat(parts.map(f), 0);
  const nBlocks = parts[0].blocks.video.length;
  return {
    blocks: {
      video: Array.from({ length: nBlocks }, (_, k) => cat((p) => p.blocks.video[k])),
      audio: Array.from({ length: nBlocks }, (_, k) => cat((p) => p.blocks.audio[k])),
    },
    emb: { video: cat((p) => p.emb.video), audio: cat((p) => p.emb.audio) },
    labels: np.tensor(Int32Array.from(items, (i) => src.labels[i])),
    items, windows,
  };
}

/** Each clip's embedding: the mean of its windows' embeddings, renormalised. [n, D] */
export function clipEmbeddings(f: Features, m: Modality): np.Tensor {
  const e = f.emb[m];
  return np.l2Normalize(np.mean(np.reshape(e, [e.shape[0] / f.windows, f.windows, e.shape[1]]), 1));
}

/**
 * Test accuracy of a linear softmax classifier on standardised features, trained full-batch with Adam.
 * Rows come in groups of windows per clip (labels are per clip): `trainWindows` rows per training clip,
 * all used, and `windows` per test clip, whose prediction is the mean of its rows' probabilities.
 * `linearProbe(trainX, trainY, testX, testY, 8)`
 */
export function linearProbe(trainX: np.Tensor, trainY: np.Tensor, testX: np.Tensor, testY: np.Tensor, classes: number,
  { steps = 300, lr = 0.05, weightDecay = 1e-3, windows = 1, trainWindows = windows }: { steps?: number; lr?: number; weightDecay?: number; windows?: number; trainWindows?: number } = {}): number {
  const mean = np.mean(trainX, 0), std = np.add(np.sqrt(np.variance(trainX, 0)), 1e-5);
  const norm = (x: np.Tensor) => np.div(np.sub(x, mean), std);
  const xtr = norm(trainX), xte = norm(testX);
  const ytr = trainWindows === 1 ? trainY : np.reshape(np.broadcastTo(np.expandDims(trainY, 1), [trainY.shape[0], trainWindows]), [-1]);
  const d = trainX.shape[1];
  let p = { w: np.zeros([d, classes]), b: np.zeros([classes]) };
  const opt = nn.adam(lr, { weightDecay });
  let s = opt.init(p);
  const loss = (q: typeof p) => np.crossEntropy(np.add(np.matmul(xtr, q.w), q.b), ytr);
  for (let i = 0; i < steps; i++) {
    const g = np.grad(loss)(p);
    ({ params: p, state: s } = opt.update(g, s, p));
  }
  const probs = np.softmax(np.add(np.matmul(xte, p.w), p.b), -1);
  const pred = np.argmax(np.mean(np.reshape(probs, [testY.shape[0], windows, classes]), 1), 1);
  return np.mean(np.astype(np.equal(pred, testY), 'float32')).item();
}
/**
 * recall@k of retrieving each query's own item among all candidates by cosine similarity.
 * NOTE: a tie counts against the query, so collapsed embeddings (all equal) score 0, below chance (k / n), never 100%.
 */
export function recallAt(queries: np.Tensor, candidates: np.Tensor, ks: readonly number[]): number[] {
  const sim = np.matmulT(queries, candidates, false, true).dataSync();
  const n = queries.shape[0], m = candidates.shape[0];
  const hits = ks.map(() => 0);
  for (let i = 0; i < n; i++) {
    const own = sim[i * m + i];
    let rank = 0;
    for (let j = 0; j < m; j++) if (j !== i && sim[i * m + j] >= own) rank++;
    ks.forEach((k, q) => { if (rank < k) hits[q]++; });
  }
  return hits.map((h) => h / n);
}

/**
 * Class-level retrieval: the share of each query's k nearest candidates (its own item included) that
 * have the query's class, averaged over queries. Ties at the cut are broken against the query.
 * `classPrecisionAt(video, audio, labels, [1, 5])`
 */
export function classPrecisionAt(queries: np.Tensor, candidates: np.Tensor, labels: ArrayLike<number>, ks: readonly number[]): number[] {
  const sim = np.matmulT(queries, candidates, false, true).dataSync();
  const n = queries.shape[0], m = candidates.shape[0];
  const sums = ks.map(() => 0);
  for (let i = 0; i < n; i++) {
    const same = (j: number) => labels[j] === labels[i];
    // most similar first; among equals, other classes first (pessimistic)
    const order = Array.from({ length: m }, (_, j) => j).sort((a, b) => sim[i * m + b] - sim[i * m + a] || Number(same(a)) - Number(same(b)));
    ks.forEach((k, q) => { sums[q] += order.slice(0, k).filter(same).length / k; });
  }
  return sums.map((s) => s / n);
}

export interface Report {
  /** linear-probe test accuracy per block, by modality */
  probe: Record<Modality, number[]>;
  best: Record<Modality, number>;
  retrieval: { v2a: [number, number]; a2v: [number, number] };
  /** same-class precision at 1 and 5 */
  classRetrieval: { v2a: [number, number]; a2v: [number, number] };
}

/**
 * BatchNorm statistics recomputed for the frozen network ("precise BN"): forward passes in training
 * mode over `batches` batches of `src`'s clips in a fixed shuffled order (no augmentation), each
 * BatchNorm's running statistics becoming the plain mean of the batches' (momentum 1 / (k + 1) on
 * batch k), so the statistics the weights were trained with are forgotten entirely. By default each
 * clip is seen about twice, in at most 40 batches.
 * NOTE: an exponential average (momentum 0.1) over 40 batches keeps 1.5% of the old statistics, and at
 * init those are (mean 0, var 1) while a layer's true variance can be far below 1: every eval-mode
 * layer then shrinks its output, the shrinking compounds through the ~20 BatchNorms, and eval-mode
 * features came out nearly constant (pooled-feature variance 0.0003 vs 0.65 in training mode;
 * embeddings' mean pairwise cosine 0.999 in eval mode vs 0.6 in training mode, on one batch).
 * Evaluation recalibrates every model it compares, the random-init baseline included.
 */
export async function recalibrate(model: Model, params: nn.Tree, state: nn.Tree, src: Source, { batch = 16, batches = Math.min(40, Math.max(4, Math.ceil((2 * src.n) / batch))) } = {}): Promise<nn.Tree> {
  // a fixed shuffle, so a folder sorted by class still gives batches of every class
  const order = Array.from(np.random.permutation(np.random.key(0), src.n).dataSync());
  const usable = await ready(src, order);
  if (usable.length === 0) throw new Error('recalibrate: the source has no usable clips');
  // jitted (one trace: the momentum comes in as a tensor), with the eager pass's statistics bit for bit on the CPU
  const pass = np.jit((p: nn.Tree, st: nn.Tree, video: np.Tensor, audio: np.Tensor, momentum: np.Tensor) =>
    model.embed(p, st, { video, audio }, { train: true, momentum }).state);
  let s = state;
  for (let b = 0; b < batches; b++) {
    const idx = Array.from({ length: Math.min(batch, usable.length) }, (_, j) => usable[(b * batch + j) % usable.length]);
    const x = getBatch(src, idx);
    s = pass(params, s, x.video, x.audio, np.tensor(1 / (b + 1), { dtype: 'float64' }));
  }
  return s;
}

export interface EvalOptions {
  /** windows per test clip (the authors use 10) */
  windows?: number;
  /** windows per training clip, on which the probes are fitted (default: `windows`) */
  trainWindows?: number;
}

/**
 * Probe every block of both encoders (fitted on `train`, scored on `test`) and measure retrieval on
 * `test`, after recalibrating BatchNorm on `train`. Both need labels.
 * `await evaluate(model, state.params, state.bn, train, test, {windows: 10})`
 */
export async function evaluate(model: Model, params: nn.Tree, state0: nn.Tree, train: Source, test: Source, { windows = 1, trainWindows = windows }: EvalOptions = {}): Promise<Report> {
  const classes = train.classes.length;
  for (const [name, src] of [['train', train], ['test', test]] as const) {
    if (classes < 2 || src.labels.some((l) => l < 0)) throw new Error(`evaluate: the ${name} clips need class labels (at least 2 classes; a folder's clips get theirs from the folder holding them)`);
  }
  const state = await recalibrate(model, params, state0, train);
  const tr = await extract(model, params, state, train, { windows: trainWindows }), te = await extract(model, params, state, test, { windows });
  const probe = {} as Record<Modality, number[]>, best = {} as Record<Modality, number>;
  for (const m of ['video', 'audio'] as const) {
    probe[m] = tr.blocks[m].map((x, k) => linearProbe(x, tr.labels, te.blocks[m][k], te.labels, classes, { windows, trainWindows }));
    best[m] = Math.max(...probe[m]);
  }
  const ev = clipEmbeddings(te, 'video'), ea = clipEmbeddings(te, 'audio');
  const v2a = recallAt(ev, ea, [1, 5]) as [number, number];
  const a2v = recallAt(ea, ev, [1, 5]) as [number, number];
  const labels = te.labels.dataSync();
  const classRetrieval = { v2a: classPrecisionAt(ev, ea, labels, [1, 5]) as [number, number], a2v: classPrecisionAt(ea, ev, labels, [1, 5]) as [number, number] };
  return { probe, best, retrieval: { v2a, a2v }, classRetrieval };
}

/** A report as the JSON `avid eval` writes: percentages, `{video: {block1, ..., best}, audio: {...}, retrieval: {v2a_r1, a2v_r1, v2a_r5, a2v_r5}}`. */
export function reportJson(r: Report) {
  const pct = (x: number) => Math.round(1000 * x) / 10;
  const blocks = (m: Modality) => ({ ...Object.fromEntries(r.probe[m].map((v, k) => [`block${k + 1}`, pct(v)])), best: pct(r.best[m]) });
  return {
    video: blocks('video'), audio: blocks('audio'),
    retrieval: {
      v2a_r1: pct(r.retrieval.v2a[0]), a2v_r1: pct(r.retrieval.a2v[0]), v2a_r5: pct(r.retrieval.v2a[1]), a2v_r5: pct(r.retrieval.a2v[1]),
      v2a_class_p1: pct(r.classRetrieval.v2a[0]), a2v_class_p1: pct(r.classRetrieval.a2v[0]), v2a_class_p5: pct(r.classRetrieval.v2a[1]), a2v_class_p5: pct(r.classRetrieval.a2v[1]),
    },
  };
}
