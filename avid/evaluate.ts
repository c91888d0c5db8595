/**
 * Evaluation as in AVID.md, on frozen encoders:
 * - linear probe per block: globally pooled block features -> BatchNorm (standardised with the train
 *   split's statistics, no affine) -> a linear softmax classifier trained on the train split; test
 *   accuracy per block and the best block (paper Table 1's columns);
 * - cross-modal retrieval recall@1 and @5 (video -> audio and audio -> video) on the test split.
 * The same evaluation of randomly initialised encoders is the baseline every number is judged against.
 */
import * as np from '../core/index.js';
import * as nn from '../nn/index.js';
import { type Dataset, getBatch } from './data.js';
import type { Modality, Model } from './model.js';

export interface Features {
  /** per block, [n, C] */
  blocks: Record<Modality, np.Tensor[]>;
  /** unit embeddings [n, D] */
  emb: Record<Modality, np.Tensor>;
  labels: np.Tensor;
}

/** Block features and embeddings of `indices` (no augmentation, eval mode), in batches. */
export function extract(model: Model, params: nn.Tree, state: nn.Tree, ds: Dataset, indices: readonly number[], batch = 32): Features {
  const parts: Features[] = [];
  for (let i = 0; i < indices.length; i += batch) {
    const b = getBatch(ds, indices.slice(i, i + batch));
    parts.push(np.withScope(() => ({
      blocks: { video: model.features(params, state, b.video, 'video'), audio: model.features(params, state, b.audio, 'audio') },
      emb: model.embed(params, state, { video: b.video, audio: b.audio }, { train: false }).emb,
      labels: b.labels,
    })));
  }
  const cat = (f: (p: Features) => np.Tensor) => np.concat(parts.map(f), 0);
  const nBlocks = parts[0].blocks.video.length;
  return {
    blocks: {
      video: Array.from({ length: nBlocks }, (_, k) => cat((p) => p.blocks.video[k])),
      audio: Array.from({ length: nBlocks }, (_, k) => cat((p) => p.blocks.audio[k])),
    },
    emb: { video: cat((p) => p.emb.video), audio: cat((p) => p.emb.audio) },
    labels: cat((p) => p.labels),
  };
}

/**
 * Test accuracy of a linear softmax classifier on standardised features, trained full-batch with Adam.
 * `linearProbe(trainX, trainY, testX, testY, 8)`
 */
export function linearProbe(trainX: np.Tensor, trainY: np.Tensor, testX: np.Tensor, testY: np.Tensor, classes: number,
  { steps = 300, lr = 0.05, weightDecay = 1e-3 } = {}): number {
  const mean = np.mean(trainX, 0), std = np.add(np.sqrt(np.variance(trainX, 0)), 1e-5);
  const norm = (x: np.Tensor) => np.div(np.sub(x, mean), std);
  const xtr = norm(trainX), xte = norm(testX);
  const d = trainX.shape[1];
  let p = { w: np.zeros([d, classes]), b: np.zeros([classes]) };
  const opt = nn.adam(lr, { weightDecay });
  let s = opt.init(p);
  const loss = (q: typeof p) => np.crossEntropy(np.add(np.matmul(xtr, q.w), q.b), trainY);
  for (let i = 0; i < steps; i++) {
    const g = np.grad(loss)(p);
    ({ params: p, state: s } = opt.update(g, s, p));
  }
  const pred = np.argmax(np.add(np.matmul(xte, p.w), p.b), 1);
  return np.mean(np.astype(np.equal(pred, testY), 'float32')).item();
}

/** recall@k of retrieving each query's own item among all candidates by cosine similarity. */
export function recallAt(queries: np.Tensor, candidates: np.Tensor, ks: readonly number[]): number[] {
  const sim = np.matmulT(queries, candidates, false, true).dataSync();
  const n = queries.shape[0], m = candidates.shape[0];
  const hits = ks.map(() => 0);
  for (let i = 0; i < n; i++) {
    const own = sim[i * m + i];
    let rank = 0;
    for (let j = 0; j < m; j++) if (j !== i && sim[i * m + j] > own) rank++;
    ks.forEach((k, q) => { if (rank < k) hits[q]++; });
  }
  return hits.map((h) => h / n);
}

export interface Report {
  /** linear-probe test accuracy per block, by modality */
  probe: Record<Modality, number[]>;
  best: Record<Modality, number>;
  retrieval: { v2a: [number, number]; a2v: [number, number] };
}

/**
 * BatchNorm statistics recomputed for the frozen network ("precise BN"): forward passes in training
 * mode over `batches` batches of `indices` (no augmentation), keeping only the new running statistics.
 * NOTE: running averages collected while the weights were still moving lag the final network; with
 * few, small batches that lag made eval-mode embeddings nearly identical across clips (measured).
 * Evaluation recalibrates every model it compares, the random-init baseline included.
 */
export function recalibrate(model: Model, params: nn.Tree, state: nn.Tree, ds: Dataset, indices: readonly number[], { batches = 40, batch = 16 } = {}): nn.Tree {
  let s = state;
  for (let b = 0; b < batches; b++) {
    const idx = Array.from({ length: batch }, (_, j) => indices[(b * batch + j) % indices.length]);
    const x = getBatch(ds, idx);
    s = np.withScope(() => model.embed(params, s, { video: x.video, audio: x.audio }, { train: true }).state);
  }
  return s;
}

/** Probe every block of both encoders and measure retrieval, after recalibrating BatchNorm on the train split. */
export function evaluate(model: Model, params: nn.Tree, state0: nn.Tree, ds: Dataset, train: readonly number[], test: readonly number[]): Report {
  const state = recalibrate(model, params, state0, ds, train);
  const tr = extract(model, params, state, ds, train), te = extract(model, params, state, ds, test);
  const probe = {} as Record<Modality, number[]>, best = {} as Record<Modality, number>;
  for (const m of ['video', 'audio'] as const) {
    probe[m] = tr.blocks[m].map((x, k) => linearProbe(x, tr.labels, te.blocks[m][k], te.labels, ds.cfg.classes));
    best[m] = Math.max(...probe[m]);
  }
  const v2a = recallAt(te.emb.video, te.emb.audio, [1, 5]) as [number, number];
  const a2v = recallAt(te.emb.audio, te.emb.video, [1, 5]) as [number, number];
  return { probe, best, retrieval: { v2a, a2v } };
}
