/**
 * Three published contrastive objectives, each a short function, trained beside Cross-AVID on the
 * built-in synthetic data with the same model, data, seed and budget, and evaluated as `npm start`
 * evaluates (BatchNorm recalibrated on the training split, linear probes per block, cross-modal
 * instance retrieval on the test split). Prints one table.
 *
 *   npx tsx examples/objectives.ts                                   # the default budget (below), ~5 min
 *   npx tsx examples/objectives.ts --train 384 --test 192 --epochs 18   # npm start's budget (slow)
 *
 * Options: --train N, --test N (clips), --epochs N, --batch N, --negatives K, --lr R, --seed S, and
 * --no-baseline to leave out the random-init row (the spec's CI-sized run).
 */
import { parseArgs } from 'node:util';
import * as np from '../core/index.js';
import { type Bank, lookup } from '../avid/bank.js';
import { synthetic, tinyData } from '../avid/data.js';
import { evaluate, type Report } from '../avid/evaluate.js';
import { fit } from '../avid/fit.js';
import { trainConfig } from '../avid/main.js';
import { avidModel, tinyModel } from '../avid/model.js';
import { infoNce, scores } from '../avid/nce.js';
import { avidObjective, avidWeights, objective, type Objective, type ObjectiveInput } from '../avid/objectives.js';
import { range } from '../avid/source.js';
import { initState } from '../avid/train.js';

/** The mean of a term in each direction: video against the audio bank and audio against the video bank. */
const bothWays = (term: (x: np.Tensor, bank: Bank) => np.Tensor, { embeddings: e, banks }: ObjectiveInput) =>
  np.mul(np.add(term(e.video, banks.audio), term(e.audio, banks.video)), 0.5);

/**
 * Cross-modal InfoNCE against the memory banks (Oord, Li and Vinyals 2018, "Representation Learning
 * with Contrastive Predictive Coding"): each clip's video embedding must pick its own audio bank row
 * out of that row and K bank negatives (softmax cross-entropy at the fixed temperature), and its audio
 * embedding its own video row; the two directions are averaged.
 */
export const infoNceObjective = objective((input) => ({
  loss: bothWays((x, bank) => infoNce(x, lookup(bank, input.indices), lookup(bank, input.negatives), { temperature: input.temperature }), input),
}));

/**
 * CLIP's symmetric loss (Radford et al. 2021, "Learning Transferable Visual Models From Natural
 * Language Supervision"): logits[i, j] = <video_i, audio_j> / T over the batch, and cross-entropy with
 * the diagonal as the labels along each row (video -> audio) and along each column (audio -> video),
 * averaged. No memory bank: the other B - 1 clips of the batch are the negatives. (CLIP learns T;
 * here it is fixed, as for the others.)
 */
export function clipLoss(video: np.Tensor, audio: np.Tensor, temperature: number): np.Tensor {
  const logits = np.div(np.matmulT(video, audio, false, true), temperature);
  const labels = np.arange(video.shape[0]);
  return np.mul(np.add(np.crossEntropy(logits, labels), np.crossEntropy(np.transpose(logits), labels)), 0.5);
}

/** CLIP's loss on the batch's embeddings (the banks are kept up to date by the trainer but not read). */
export const clipObjective = objective(({ embeddings, temperature }) => ({ loss: clipLoss(embeddings.video, embeddings.audio, temperature) }));

/**
 * The debiased contrastive loss (Chuang et al. 2020, "Debiased Contrastive Learning", eq. 6 and their
 * code): negatives drawn uniformly include, with probability tau+ (the class prior), clips of the
 * anchor's own class. With s = <x, row> / T, K negatives and
 *   Ng = max((sum_k e^{s-_k} - K tau+ e^{s+}) / (1 - tau+), K e^{-1/T}),
 * the loss is -log(e^{s+} / (e^{s+} + Ng)), mean over the batch. tau+ = 0 gives InfoNCE. Unit
 * embeddings and bank rows keep |s| <= 1/T, so the exponentials stay finite.
 */
export function debiasedNce(x: np.Tensor, pos: np.Tensor, neg: np.Tensor, { temperature, tauPlus }: { temperature: number; tauPlus: number }): np.Tensor {
  const { sPos, sNeg } = scores(x, pos, neg, temperature);
  const K = sNeg.shape[sNeg.rank - 1], ePos = np.exp(sPos);
  const ng = np.maximum(np.div(np.sub(np.sum(np.exp(sNeg), -1), np.mul(ePos, K * tauPlus)), 1 - tauPlus), K * Math.exp(-1 / temperature));
  return np.mean(np.sub(np.log(np.add(ePos, ng)), sPos));
}

/** Debiased cross-modal InfoNCE against the banks; tau+ defaults to 1/8, the built-in data's class prior. */
export const debiasedObjective = (tauPlus = 1 / tinyData.classes) => objective((input) => ({
  loss: bothWays((x, bank) => debiasedNce(x, lookup(bank, input.indices), lookup(bank, input.negatives), { temperature: input.temperature, tauPlus }), input),
}));

export interface Budget { train: number; test: number; epochs: number; batch: number; negatives: number; lr: number; seed: number }
/** About 5 minutes on two busy cores (290 s); `npm start` trains 384 clips for 18 epochs. */
export const defaultBudget: Budget = { train: 64, test: 64, epochs: 6, batch: 8, negatives: 63, lr: 2e-3, seed: 0 };

export interface Row { label: string; firstLoss: number; finalLoss: number; report: Report; seconds: number }

/** Train each method from the same initial weights on the same clips, then evaluate it; the random-init row evaluates those weights untrained. */
export async function compareObjectives(b: Budget, { baseline = true, log = console.log as (line: string) => void } = {}): Promise<Row[]> {
  const methods: [string, Objective][] = [
    // Z frozen after the first epoch, as `npm start` freezes it (--z-warmup 1)
    ['Cross-AVID', avidObjective(avidWeights.cross, { zWarmupSteps: Math.floor(b.train / b.batch) })],
    ['InfoNCE', infoNceObjective],
    ['CLIP', clipObjective],
    ['DCL', debiasedObjective()],
  ];
  const model = avidModel(tinyModel), cfg = trainConfig(b, b.train);
  const [kData, kModel] = np.random.split(np.random.key(b.seed));
  const all = synthetic(kData, b.train + b.test, tinyData);
  const trainSet = range(all, 0, b.train), testSet = range(all, b.train, b.test);
  const perEpoch = Math.floor(b.train / cfg.batch);
  const rows: Row[] = [];
  let t0 = performance.now();
  if (baseline) {
    const init = initState(np.random.foldIn(kModel, 0), model, trainSet, cfg, methods[0][1]);
    rows.push({ label: 'random init', firstLoss: NaN, finalLoss: NaN, report: await evaluate(model, init.params, init.bn, trainSet, testSet), seconds: (performance.now() - t0) / 1000 });
    log(`random init: evaluated in ${rows[0].seconds.toFixed(0)} s`);
  }
  for (const [label, obj] of methods) {
    t0 = performance.now();
    const start = initState(np.random.foldIn(kModel, 0), model, trainSet, cfg, obj);
    const { state, history } = await fit(model, obj, trainSet, cfg, { key: np.random.foldIn(kModel, 1), init: start, name: label, progress: false, log: () => {} });
    const epochMean = (rs: typeof history) => rs.reduce((a, r) => a + r.loss, 0) / rs.length;
    const report = await evaluate(model, state.params, state.bn, trainSet, testSet);
    const row = { label, firstLoss: epochMean(history.slice(0, perEpoch)), finalLoss: epochMean(history.slice(-perEpoch)), report, seconds: (performance.now() - t0) / 1000 };
    log(`${label}: loss ${row.firstLoss.toFixed(3)} -> ${row.finalLoss.toFixed(3)} (first to last epoch), trained and evaluated in ${row.seconds.toFixed(0)} s`);
    rows.push(row);
  }
  return rows;
}

/** One line per method: its loss (mean over the first and the last epoch), R@1 both ways and the best block's linear probe per modality, in %. */
export function formatRows(rows: Row[], test: number): string {
  const pct = (x: number) => (100 * x).toFixed(1).padStart(8);
  const loss = (x: number) => (Number.isNaN(x) ? '-' : x.toFixed(3)).padStart(9);
  return [
    `${'method'.padEnd(12)} ${'loss first'.padStart(10)} ${'final'.padStart(9)} ${'R@1 v->a'.padStart(9)} ${'a->v'.padStart(8)} ${'probe video'.padStart(12)} ${'audio'.padStart(8)}`,
    ...rows.map((r) => `${r.label.padEnd(12)} ${loss(r.firstLoss).padStart(10)} ${loss(r.finalLoss)} ${pct(r.report.retrieval.v2a[0]).padStart(9)} ${pct(r.report.retrieval.a2v[0])} ${pct(r.report.best.video).padStart(12)} ${pct(r.report.best.audio)}`),
    `(R@1 chance ${(100 / test).toFixed(1)}%, probe chance ${(100 / tinyData.classes).toFixed(1)}%; probe: the best block's test accuracy, as npm start's "best" column; losses are on different scales)`,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values: { 'no-baseline': noBaseline, ...values } } = parseArgs({
    options: { ...Object.fromEntries(Object.keys(defaultBudget).map((k) => [k, { type: 'string' }])) as Record<keyof Budget, { type: 'string' }>, 'no-baseline': { type: 'boolean' } },
  });
  const b = { ...defaultBudget, ...Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Number(v)])) } as Budget;
  const bad = Object.entries(b).find(([k, v]) => !(Number.isFinite(v) && v >= 0 && (k === 'lr' || Number.isInteger(v))));
  if (bad) { console.error(`--${bad[0]} ${bad[1]}: want a ${bad[0] === 'lr' ? 'non-negative number' : 'non-negative integer'}`); process.exit(2); }
  b.negatives = Math.min(b.negatives, b.train - 1);
  const t0 = performance.now();
  console.log(`${b.train} training and ${b.test} test clips of the built-in data, ${b.epochs} epochs, batch ${b.batch}, ${b.negatives} bank negatives, Adam lr ${b.lr}, T ${trainConfig(b, b.train).temperature}, seed ${b.seed}`);
  const rows = await compareObjectives(b, { baseline: !noBaseline });
  console.log(`\n${formatRows(rows, b.test)}\n\ntotal ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
