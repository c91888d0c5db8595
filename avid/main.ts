/**
 * The main job (`npm start`, `avid compare`): train AVID on the built-in synthetic data and print a
 * table shaped like the paper's Table 1: rows are objectives (and random init), columns the
 * linear-probe accuracy after each block and the best block, for video and audio, plus cross-modal
 * retrieval. Its options are parsed by the CLI (avid/cli.ts).
 *
 *   npm start                          Cross-AVID vs random init
 *   npm start -- --objectives self,cross,joint --epochs 4
 *   npm start -- --resume              continue the runs in runs/ from their last checkpoints
 */
import { join } from 'node:path';
import * as np from '../core/index.js';
import { synthetic, tinyData } from './data.js';
import { evaluate, type Report, reportJson } from './evaluate.js';
import { writeJson } from './run.js';
import { fit, type FitOptions } from './fit.js';
import { avidModel, type Model, tinyModel } from './model.js';
import { avidObjective, avidWeights, crossAvid, type Objective } from './objectives.js';
import { cmaObjective } from './cma.js';
import { range, type Source } from './source.js';
import { continueFrom, initState, type StepMetrics, type TrainConfig, tinyTrain, type TrainState } from './train.js';

export type ObjectiveName = 'self' | 'cross' | 'joint' | 'cma';

export interface CompareOptions {
  objectives: ObjectiveName[];
  epochs: number;
  train: number;
  test: number;
  batch: number;
  negatives: number;
  zWarmup: number;
  lr: number;
  seed: number;
  /** how many seeds, from `seed` on (default 1) */
  seeds?: number;
  /** jit the training step (default true) */
  jit?: boolean;
  dir: string;
  resume: boolean;
  /** write every seed's figures here */
  json?: string;
  /** windows averaged per test clip (default 10, as the authors); probes are fitted on one per training clip */
  windows?: number;
}

/** The stage that AVID+CMA starts from, and how long CMA trains after it: half the epochs, refreshing neighbours four times. */
export const cmaStage = (epochs: number) => {
  const stageEpochs = Math.max(1, Math.round(epochs / 2));
  return { from: 'cross' as const, epochs: stageEpochs, refreshEvery: Math.max(1, Math.round(stageEpochs / 4)) };
};

/**
 * The objectives the CLI can train. AVID+CMA is the authors' second stage: it starts from a trained
 * Cross-AVID state (`from`) and trains for `epochs` more.
 */
export function objectiveFor(name: ObjectiveName, o: { epochs: number; zWarmupSteps?: number }): { label: string; objective: Objective; from?: ObjectiveName; epochs: number } {
  const avid = { zWarmupSteps: o.zWarmupSteps };
  switch (name) {
    case 'self': return { label: 'Self-AVID', objective: avidObjective(avidWeights.self, avid), epochs: o.epochs };
    case 'cross': return { label: 'Cross-AVID', objective: avidObjective(avidWeights.cross, avid), epochs: o.epochs };
    case 'joint': return { label: 'Joint-AVID', objective: avidObjective(avidWeights.joint, avid), epochs: o.epochs };
    default: {
      const stage = cmaStage(o.epochs);
      return { label: 'AVID+CMA', objective: cmaObjective({ refreshEvery: stage.refreshEvery }), from: stage.from, epochs: stage.epochs };
    }
  }
}

export interface TrainNamedOptions extends Omit<FitOptions, 'init' | 'dir' | 'name' | 'key'> {
  /** the model's initial weights and banks come from this key (the same for every objective), training's from its fold 1 */
  key: np.Key;
  /** the checkpoint folder of each objective's run */
  dirFor: (name: ObjectiveName) => string;
  zWarmup: number;
  /** runs already trained in this process, by name (filled in) */
  trained?: Map<ObjectiveName, TrainState>;
}

/**
 * Train objective `name` into `dirFor(name)`, resuming when asked; a staged objective (CMA) first
 * trains, or resumes, or reuses the stage it starts from. Only the last stage reports its steps.
 * Gives the final state and the metrics of the steps taken (none when the run was already trained).
 */
export async function trainNamed(name: ObjectiveName, model: Model, source: Source, cfg: TrainConfig, o: TrainNamedOptions): Promise<{ state: TrainState; history: StepMetrics[] }> {
  const trained = o.trained ?? new Map<ObjectiveName, TrainState>();
  const done = trained.get(name);
  if (done) return { state: done, history: [] };
  const zWarmupSteps = o.zWarmup * Math.floor(source.n / cfg.batch);
  const { label, objective, from, epochs } = objectiveFor(name, { epochs: cfg.epochs, zWarmupSteps });
  const init = from
    ? continueFrom((await trainNamed(from, model, source, cfg, { ...o, trained, onStep: undefined, onResume: undefined })).state, objective, cfg, np.random.foldIn(o.key, 2))
    : initState(np.random.foldIn(o.key, 0), model, source, cfg, objective);
  const { state, history } = await fit(model, objective, source, { ...cfg, epochs }, { ...o, key: np.random.foldIn(o.key, 1), init, dir: o.dirFor(name), name: label });
  trained.set(name, state);
  return { state, history };
}

/** "loss a -> b, InfoNCE c -> d" over the first and the last epoch of `history`, for the log. */
function trend(history: StepMetrics[], perEpoch: number): string {
  if (history.length < 2 * perEpoch) return '';
  const avg = (rows: StepMetrics[], k: string) => rows.reduce((a, r) => a + r[k], 0) / rows.length;
  const first = history.slice(0, perEpoch), last = history.slice(-perEpoch);
  const keys = ['loss', 'infonce'].filter((k) => k in history[0]);
  return keys.map((k) => `${k === 'loss' ? 'loss' : 'InfoNCE'} ${avg(first, k).toFixed(2)} -> ${avg(last, k).toFixed(2)}`).join(', ');
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** The sample standard deviation (n - 1), 0 for one value. */
const sd = (xs: number[]) => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));

/**
 * Table 1's layout: one row per method, probe accuracy per block and best, for video then audio,
 * and retrieval. A row of several reports (seeds) shows mean +- sd.
 */
export function formatTable(rows: { label: string; report: Report | Report[] }[]): string {
  const all = rows.map((r) => (Array.isArray(r.report) ? r.report : [r.report]));
  const many = all.some((rs) => rs.length > 1), w = many ? 10 : 6;
  const cell = (xs: number[]) => (many ? `${(100 * mean(xs)).toFixed(1)}±${(100 * sd(xs)).toFixed(1)}` : (100 * xs[0]).toFixed(1)).padStart(w);
  const blocks = all[0][0].probe.video.length;
  const head = [...Array.from({ length: blocks }, (_, k) => `block${k + 1}`.padStart(w)), 'best'.padStart(w)].join(' ');
  const retW = many ? 2 * w + 3 : 14;
  const lines = [
    `${''.padEnd(14)} ${'video linear probe (%)'.padEnd(head.length)}   ${'audio linear probe (%)'.padEnd(head.length)}   retrieval R@1 / R@5 (%)`,
    `${'method'.padEnd(14)} ${head}   ${head}   ${'video->audio'.padEnd(retW)} audio->video`,
  ];
  rows.forEach(({ label }, i) => {
    const rs = all[i];
    const probe = (m: 'video' | 'audio') => [...rs[0].probe[m].map((_, k) => cell(rs.map((r) => r.probe[m][k]))), cell(rs.map((r) => r.best[m]))].join(' ');
    const ret = (d: 'v2a' | 'a2v') => `${cell(rs.map((r) => r.retrieval[d][0])).trim()} / ${cell(rs.map((r) => r.retrieval[d][1])).trim()}`.padEnd(retW);
    lines.push(`${label.padEnd(14)} ${probe('video')}   ${probe('audio')}   ${ret('v2a')} ${ret('a2v')}`);
  });
  return lines.join('\n');
}

/** One report in a line, so a long run's log keeps each row's figures before the table: best and block4 per modality, R@1. */
function brief(r: Report): string {
  const pct = (x: number) => (100 * x).toFixed(1);
  return `video best ${pct(r.best.video)}, block4 ${pct(r.probe.video.at(-1)!)}; audio best ${pct(r.best.audio)}, block4 ${pct(r.probe.audio.at(-1)!)}; R@1 ${pct(r.retrieval.v2a[0])} / ${pct(r.retrieval.a2v[0])}`;
}

/** The training config for `n` clips from the CLI's options. */
export const trainConfig = (o: { epochs: number; batch: number; lr: number; negatives: number }, n: number): TrainConfig => ({
  ...tinyTrain, epochs: o.epochs, batch: o.batch, lr: o.lr, negatives: Math.min(o.negatives, n - 1),
});

/** `avid compare` (npm start): each objective against random init on the built-in data, as Table 1; over several seeds, mean +- sd. */
export async function compare(o: CompareOptions, log: (line: string) => void = console.log): Promise<void> {
  const t0 = performance.now(), seeds = Array.from({ length: o.seeds ?? 1 }, (_, i) => o.seed + i);
  const model = avidModel(tinyModel);
  const cfg = trainConfig(o, o.train);
  const evalOpts = { windows: o.windows ?? 10, trainWindows: 1 };
  log(`AVID on the built-in synthetic data: ${o.train} training and ${o.test} test clips, ${tinyData.classes} hidden classes ` +
    `(chance ${(100 / tinyData.classes).toFixed(1)}%, retrieval R@1 chance ${(100 / o.test).toFixed(2)}%); backend ${np.currentBackend()}, ${np.cpuThreads()} cpu thread(s)`);
  log(`tiny encoders (video R(2+1)D ${tinyModel.videoWidths.join('/')}, audio 9-layer ${tinyModel.audioWidths.join('/')}), ` +
    `batch ${cfg.batch}, ${cfg.negatives} negatives, T ${cfg.temperature}, Adam lr ${cfg.lr}, ${cfg.epochs} epochs, ` +
    `NCE's Z ${o.zWarmup ? `frozen after ${o.zWarmup} epoch${o.zWarmup > 1 ? 's' : ''}` : 'from the first batch'}; ` +
    `test clips averaged over ${evalOpts.windows} window${evalOpts.windows > 1 ? 's' : ''}` +
    `${seeds.length > 1 ? `, seeds ${seeds.join(', ')}` : ''}`);
  const labels = ['random init', ...o.objectives.map((name) => objectiveFor(name, cfg).label)];
  const reports: Report[][] = labels.map(() => []);
  for (const seed of seeds) {
    const [kData, kModel] = np.random.split(np.random.key(seed));
    const all = synthetic(kData, o.train + o.test, tinyData);
    const trainSet = range(all, 0, o.train), testSet = range(all, o.train, o.test);
    const dir = seeds.length > 1 ? join(o.dir, `seed${seed}`) : o.dir;
    // every method starts from these weights, and the baseline row evaluates them untrained
    const init = initState(np.random.foldIn(kModel, 0), model, trainSet, cfg, crossAvid);
    reports[0].push(await evaluate(model, init.params, init.bn, trainSet, testSet, evalOpts));
    log(`evaluated random init${seeds.length > 1 ? ` (seed ${seed})` : ''}: ${brief(reports[0].at(-1)!)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    const trained = new Map<ObjectiveName, TrainState>();
    for (const [i, name] of o.objectives.entries()) {
      const { state, history } = await trainNamed(name, model, trainSet, cfg, { key: kModel, dirFor: (m) => join(dir, m), resume: o.resume, zWarmup: o.zWarmup, log, trained, jit: o.jit });
      reports[i + 1].push(await evaluate(model, state.params, state.bn, trainSet, testSet, evalOpts));
      const moved = trend(history, Math.floor(o.train / cfg.batch));
      log(`trained and evaluated ${labels[i + 1]}${seeds.length > 1 ? ` (seed ${seed})` : ''}: ${brief(reports[i + 1].at(-1)!)}${moved ? `; first to last epoch ${moved}` : ''} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    }
  }
  const rows = labels.map((label, i) => ({ label, report: reports[i] }));
  log(`\n${formatTable(rows)}\n`);
  if (o.json) {
    writeJson(o.json, { options: { ...o, json: undefined }, seeds, rows: rows.map((r) => ({ label: r.label, seeds: r.report.map(reportJson) })) });
    log(`per-seed figures in ${o.json}`);
  }
  log(`total ${((performance.now() - t0) / 1000).toFixed(0)} s; checkpoints in ${o.dir}/`);
}
