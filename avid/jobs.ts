/**
 * What each `avid` command does, as functions of decoded options (avid/cli.ts parses them): open the
 * data, train into a run folder, evaluate, export embeddings, write the report. A run folder's
 * config.json records everything needed to reopen its data the same way (clip settings, audio
 * statistics, seed), so `eval`, `embed` and `report` need nothing but --run.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';
import * as np from '../core/index.js';
import * as nn from '../nn/index.js';
import { synthetic, tinyData } from './data.js';
import { clipEmbeddings, evaluate, extract, recalibrate, reportJson } from './evaluate.js';
import { npy, safetensors } from './export.js';
import { formatTable, objectiveFor, type ObjectiveName, trainConfig, trainNamed } from './main.js';
import { crossAvid } from './objectives.js';
import { avidModel, type ModelConfig, ModelConfigC, tinyModel } from './model.js';
import { checkSavedOptions } from './options.js';
import { type ClipView, type EvalJson, type ReportData, writeReport } from './report.js';
import { appendMetrics, cutMetrics, readJson, readMetrics, runFiles, UsageError, writeAtomic, writeJson } from './run.js';
import { type ClipConfig, evalViews, type FreqStats, range, ready, type Source, specShape, subset } from './source.js';
import { initState } from './train.js';
import { openVideos, type Skip } from './videos.js';

export interface Job { log: (line: string) => void; progress: boolean; jit?: boolean }

/** The options a training run is made from (avid train's, as decoded by the CLI). */
export interface TrainOptions {
  data?: string; objective: ObjectiveName; epochs: number; batch: number; lr: number; negatives: number; zWarmup: number; seed: number;
  backend: 'cpu' | 'gpu'; train: number; test: number; frames: number; size: number; fps: number; sampleRate: number;
  audioSeconds: number; mels: number; maxSeconds: number; cache?: string; cacheGb: number; jobs?: number;
}

export interface Data { train: Source; test?: Source; skipped: () => readonly Skip[]; describe: string }

export const clipConfig = (o: TrainOptions): ClipConfig =>
  ({ frames: o.frames, size: o.size, fps: o.fps, sampleRate: o.sampleRate, audioSeconds: o.audioSeconds, ...(o.mels ? { mels: o.mels } : {}) });

/** Open the data the options name: a folder of videos, or the built-in synthetic clips from the seed. */
export async function openData(o: TrainOptions, job: Job, stats?: FreqStats): Promise<Data> {
  const clip = clipConfig(o);
  if (!o.data) {
    const [kData] = np.random.split(np.random.key(o.seed));
    const all = synthetic(kData, o.train + o.test, { ...tinyData, ...clip, mels: o.mels || undefined });
    return { train: range(all, 0, o.train), test: range(all, o.train, o.test), skipped: () => [], describe: `the built-in synthetic data (${o.train} train, ${o.test} test clips)` };
  }
  const v = await openVideos(o.data, clip, {
    cacheDir: o.cache, cacheBytes: o.cacheGb * 1e9, concurrency: o.jobs, maxSeconds: o.maxSeconds, stats, warn: (l) => job.log(`warning: ${l}`),
  });
  const n = (s?: Source) => s?.n ?? 0;
  return {
    train: v.train, test: v.test, skipped: v.skipped,
    describe: `${o.data}: ${n(v.train)} train${v.test ? `, ${n(v.test)} test` : ''} clips, ${v.listing.classes.length} classes, ${v.skipped().length} files skipped`,
  };
}

const RunConfigC = t.type({
  version: t.literal(1),
  options: t.UnknownRecord,
  stats: t.type({ mean: t.array(t.number), std: t.array(t.number) }),
  model: t.UnknownRecord,
});
export interface RunConfig { version: 1; options: TrainOptions; stats: { mean: number[]; std: number[] }; model: ModelConfig }

export function readRunConfig(dir: string): RunConfig {
  const file = runFiles(dir).config, r = RunConfigC.decode(readJson(file));
  if (isLeft(r)) throw new Error(`${file}: not a run config (${r.left.map((e) => e.context.map((c) => c.key).filter(Boolean).join('.')).join(', ')} wrong)`);
  // what the codec leaves open is checked here, so a hand-edited file fails by name, not deep in a layer
  checkSavedOptions(file, r.right.options);
  const m = ModelConfigC.decode(r.right.model);
  if (isLeft(m)) throw new Error(`${file}: "model" is not a model config (${[...new Set(m.left.map((e) => e.context.map((c) => c.key).filter(Boolean).join('.').replace(/^\d+\.?/, '') || 'model'))].join(', ')} wrong): ${JSON.stringify(r.right.model).slice(0, 200)}`);
  const { mean, std } = r.right.stats;
  if (mean.length !== std.length) throw new Error(`${file}: "stats": mean and std must be equally long, got ${mean.length} and ${std.length}`);
  return r.right as unknown as RunConfig;
}

const toStats = (s: RunConfig['stats']): FreqStats => ({ mean: Float32Array.from(s.mean), std: Float32Array.from(s.std) });

/** A run's model, its config, and its last checkpoint's params and BatchNorm state. */
export function loadRun(dir: string) {
  const cfg = readRunConfig(dir), files = runFiles(dir);
  if (!existsSync(join(files.checkpoint, 'manifest.json'))) throw new Error(`${dir}: no checkpoint yet (a run writes one after its first epoch)`);
  const { tree, metadata } = nn.loadCheckpoint(files.checkpoint);
  const model = avidModel(cfg.model);
  // a checkpoint of another model (config.json edited, or a checkpoint folder copied in) would otherwise run as whatever its weights say
  // param shapes do not depend on the clip size, so an input of the tiny default's size serves where options are missing
  const o = { ...tinyData, ...cfg.options }, [tf, fb] = specShape(clipConfig(o as TrainOptions));
  const want = model.init(np.random.key(0), { video: [1, 3, o.frames, o.size, o.size], audio: [1, 1, tf, fb] });
  const diffs = [...treeDiffs(want.params, tree.params, 'params'), ...treeDiffs(want.state, tree.bn, 'bn')];
  if (diffs.length) {
    throw new Error(`${files.checkpoint}: not a checkpoint of the model in ${files.config} (${diffs.length} difference${diffs.length > 1 ? 's' : ''}):\n  ${diffs.slice(0, 8).join('\n  ')}${diffs.length > 8 ? '\n  ...' : ''}`);
  }
  return { cfg, model, params: tree.params as nn.Tree, bn: tree.bn as nn.Tree, step: metadata.step as number };
}

/** Where tree `got` differs from `want` in keys or tensor shapes, one line each. */
function treeDiffs(want: unknown, got: unknown, path: string): string[] {
  if (want instanceof np.Tensor) {
    if (!(got instanceof np.Tensor)) return [`${path}: missing (a tensor [${want.shape.join(', ')}] expected)`];
    return want.shape.join() === got.shape.join() ? [] : [`${path}: shape [${got.shape.join(', ')}] in the checkpoint, [${want.shape.join(', ')}] in the model`];
  }
  if (want === null || typeof want !== 'object') return [];
  if (got === null || typeof got !== 'object') return [`${path}: missing`];
  const w = want as Record<string, unknown>, g = got as Record<string, unknown>;
  return [
    ...Object.keys(w).flatMap((k) => treeDiffs(w[k], g[k], `${path}.${k}`)),
    ...Object.keys(g).filter((k) => !(k in w)).map((k) => `${path}.${k}: in the checkpoint, not in the model`),
  ];
}

/** The keys every job derives from the seed: data, then the model's init (0) and training (1). */
const modelKey = (seed: number) => np.random.split(np.random.key(seed))[1];

/** `avid train`: train into `dir` (fresh, or resuming), then write the summary and the report. */
export async function runTrain(dir: string, given: TrainOptions, explicit: ReadonlySet<string>, resume: boolean, job: Job): Promise<void> {
  const files = runFiles(dir), t0 = performance.now();
  const saved = resume && existsSync(files.config) ? readRunConfig(dir) : undefined;
  if (saved) {
    // a resumed run keeps its own options; only the number of epochs may grow
    for (const k of explicit) {
      const was = (saved.options as unknown as Record<string, unknown>)[k], now = (given as unknown as Record<string, unknown>)[k];
      if (k !== 'epochs' && JSON.stringify(was) !== JSON.stringify(now)) throw new UsageError(`--${k} ${JSON.stringify(now)} differs from the run's ${JSON.stringify(was)}: --resume continues a run with its own options (only --epochs may change)`);
    }
  }
  // options added since the run was saved take their defaults
  const o: TrainOptions = saved ? { ...given, ...saved.options, epochs: explicit.has('epochs') ? given.epochs : saved.options.epochs } : given;
  const data = await openData(o, job, saved && toStats(saved.stats));
  job.log(`AVID ${o.objective} on ${data.describe}; backend ${np.currentBackend()}, ${np.cpuThreads()} cpu thread(s)`);
  const model = avidModel(tinyModel), cfg = trainConfig(o, data.train.n);
  // before the run folder holds anything, so that the corrected command may use it
  if (data.train.n < cfg.batch) throw new UsageError(`--batch ${cfg.batch}: ${data.train.n} training clip(s) make no batch; give --batch ${Math.max(1, data.train.n)} or less, or more clips`);
  if (!saved) writeJson(files.config, { version: 1, options: o, stats: { mean: Array.from(data.train.stats.mean), std: Array.from(data.train.stats.std) }, model: tinyModel });
  if (!existsSync(join(files.checkpoint, 'manifest.json'))) writeAtomic(files.metrics, '');
  // a staged objective (CMA) trains the stage it starts from into its own folder first
  const { state } = await trainNamed(o.objective, model, data.train, cfg, {
    key: modelKey(o.seed), dirFor: (name) => (name === o.objective ? files.checkpoint : join(dir, `checkpoint-${name}`)), resume: true,
    zWarmup: o.zWarmup, progress: job.progress, log: job.log, jit: job.jit, onStep: (row) => appendMetrics(dir, row), onResume: (step) => cutMetrics(dir, step),
  });
  const usable = async (s?: Source) => (s ? (await ready(s, Array.from({ length: s.n }, (_, i) => i))).length : 0);
  writeJson(files.summary, {
    clips: { train: await usable(data.train), test: await usable(data.test) }, skipped: data.skipped(), steps: state.step,
    seconds: Math.round((performance.now() - t0) / 1000), finished: true,
  });
  job.log(`trained ${state.step} steps; run folder ${dir}`);
  await runReport(dir, job, { model, params: state.params, bn: state.bn, data });
  job.log(`next: avid eval --run ${dir}`);
}

export interface EvalRequest { run?: string; data?: string; json?: string; windows: number; seed: number; baseline: boolean }

/** Open what `avid eval`/`embed`/`report` work on: a run's model and data (or random init from a seed). */
async function openRun(run: string, dataDir: string | undefined, job: Job) {
  const r = loadRun(run);
  const data = await openData({ ...r.cfg.options, data: dataDir ?? r.cfg.options.data }, job, toStats(r.cfg.stats));
  return { ...r, data };
}

/** `avid eval`: probes per block and retrieval, as EvalJson; a run also gets eval.json, the baseline and a new report. */
export async function runEval(o: EvalRequest, job: Job, defaults: TrainOptions): Promise<EvalJson> {
  const r = o.run ? await openRun(o.run, o.data, job) : undefined;
  const opts = r ? r.cfg.options : { ...defaults, data: o.data, seed: o.seed };
  const data = r ? r.data : await openData(opts, job);
  if (!data.test) throw new Error(`eval needs a test split: ${opts.data} has no test/ folder of class folders beside train/`);
  const model = r ? r.model : avidModel(tinyModel);
  const random = () => initState(np.random.foldIn(modelKey(opts.seed), 0), model, data.train, trainConfig(opts, data.train.n), crossAvid);
  job.log(`evaluating ${r ? o.run : `random init (seed ${opts.seed})`} on ${data.describe}, ${o.windows} windows per clip`);
  const rows = [];
  const { params, bn } = r ?? random();
  const report = await evaluate(model, params, bn, data.train, data.test, { windows: o.windows });
  rows.push({ label: r ? objectiveFor(opts.objective, opts).label : 'random init', report });
  const json = reportJson(report);
  if (o.run) {
    writeJson(runFiles(o.run).eval, json);
    if (o.baseline) {
      const init = random(), base = await evaluate(model, init.params, init.bn, data.train, data.test, { windows: o.windows });
      writeJson(runFiles(o.run).evalRandom, reportJson(base));
      rows.unshift({ label: 'random init', report: base });
    }
  }
  if (o.json) writeJson(o.json, json);
  job.log(`\n${formatTable(rows)}\n`);
  // the report shows the run's own data: reuse what is open unless eval looked at another folder
  if (o.run) await runReport(o.run, job, r && !o.data ? r : undefined);
  return json;
}

/** `avid embed`: every usable clip's video and audio embedding (train then test), and the clip list. */
export async function runEmbed(run: string, dataDir: string | undefined, out: string, windows: number, job: Job): Promise<void> {
  const r = await openRun(run, dataDir, job);
  const bn = await recalibrate(r.model, r.params, r.bn, r.data.train);
  const parts = [['train', r.data.train], ['test', r.data.test]] as const;
  const video: np.Tensor[] = [], audio: np.Tensor[] = [], rows: string[] = ['index\tsplit\tfile\tclass'];
  for (const [split, src] of parts) {
    if (!src) continue;
    const f = await extract(r.model, r.params, bn, src, { windows });
    video.push(clipEmbeddings(f, 'video'));
    audio.push(clipEmbeddings(f, 'audio'));
    for (const i of f.items) rows.push(`${rows.length - 1}\t${split}\t${src.names[i]}\t${src.labels[i] >= 0 ? src.classes[src.labels[i]] : ''}`);
  }
  const v = np.concat(video, 0), a = np.concat(audio, 0), [n, d] = v.shape;
  const names = rows.slice(1).map((l) => l.split('\t')[2]);
  writeFileSync(out, out.endsWith('.npy')
    ? npy(np.stack([v, a], 0).dataSync() as Float32Array, [2, n, d])
    : safetensors({ video: { data: v.dataSync() as Float32Array, shape: [n, d] }, audio: { data: a.dataSync() as Float32Array, shape: [n, d] } }, { clips: JSON.stringify(names) }));
  writeFileSync(`${out}.clips.tsv`, `${rows.join('\n')}\n`);
  job.log(`wrote ${n} clips' embeddings (${d}-d, video and audio) to ${out} and the clip list to ${out}.clips.tsv`);
}

/** What a clip looks like to the encoders, for the report: the centre window's frames and spectrogram. */
function clipView(src: Source, i: number): ClipView {
  const { frames: T, size: S } = src.cfg, [tf, fb] = specShape(src.cfg);
  const c = src.clip(i, evalViews(src.duration(i), src.cfg, 1)[0]);
  const data = new Uint8Array(T * S * S * 3);
  for (let f = 0; f < T; f++) for (let p = 0; p < S * S; p++) for (let ch = 0; ch < 3; ch++) {
    data[(f * S * S + p) * 3 + ch] = Math.max(0, Math.min(255, Math.round((c.video[(ch * T + f) * S * S + p] + 0.5) * 255)));
  }
  return { name: src.names[i], label: src.labels[i] >= 0 ? src.classes[src.labels[i]] : undefined, frames: { t: T, h: S, w: S, data }, spec: { frames: tf, bins: fb, data: c.spec } };
}

/** A run with its data open: what the report's embeddings and retrieval examples are computed from. */
type OpenRun = { model: ReturnType<typeof avidModel>; params: nn.Tree; bn: nn.Tree; data: Data };

/**
 * `avid report`: (re)write RUNDIR/report.html from the run folder and its data: `opened` when the
 * caller already has them (train, eval), else opened here if they still can be.
 */
export async function runReport(dir: string, job: Job, opened?: OpenRun): Promise<void> {
  const files = runFiles(dir), cfg = readRunConfig(dir);
  const evalOf = (file: string) => (existsSync(file) ? readJson(file) as EvalJson : undefined);
  const trained = evalOf(files.eval), random = evalOf(files.evalRandom);
  const summary = existsSync(files.summary) ? readJson(files.summary) as { skipped: Skip[]; clips: { train: number; test: number } } : undefined;
  const report: ReportData = {
    title: dir.split('/').filter(Boolean).pop() ?? dir,
    // the settings that applied: clip counts for the built-in data, decoding and cache for a folder
    config: Object.fromEntries(Object.entries({ ...cfg.options, data: cfg.options.data ?? 'built-in synthetic' })
      .filter(([k, v]) => v !== undefined && !(cfg.options.data ? ['train', 'test'] : ['maxSeconds', 'cache', 'cacheGb', 'jobs']).includes(k))),
    metrics: readMetrics(dir),
    eval: trained ? { trained, random } : undefined,
    data: { source: cfg.options.data ?? 'built-in synthetic data', clips: summary ? summary.clips.train + summary.clips.test : 0, skipped: summary?.skipped ?? [] },
  };
  try {
    const r = opened ?? await openRun(dir, undefined, { ...job, log: () => {} });
    const src = r.data.test ?? r.data.train;
    const bn = await recalibrate(r.model, r.params, r.bn, r.data.train);
    const shown = Array.from(np.random.permutation(np.random.key(1), src.n).dataSync()).slice(0, 300).sort((a, b) => a - b);
    const sub = subset(src, shown);
    const f = await extract(r.model, r.params, bn, sub);
    const ev = clipEmbeddings(f, 'video'), ea = clipEmbeddings(f, 'audio');
    report.embeddings = { points: ev.toArray() as number[][], labels: f.items.map((i) => sub.classes[sub.labels[i]] ?? 'unlabelled'), names: f.items.map((i) => sub.names[i]), modality: 'video' };
    const sim = np.matmulT(ev, ea, false, true).dataSync(), m = f.items.length;
    report.retrieval = [0, 1, 2].filter((q) => q < m).map((q) => {
      const direction = q < 2 ? 'v2a' as const : 'a2v' as const, row = (j: number) => (direction === 'v2a' ? sim[q * m + j] : sim[j * m + q]);
      const best = Array.from({ length: m }, (_, j) => j).sort((x, y) => row(y) - row(x)).slice(0, 3);
      return { direction, query: clipView(sub, f.items[q]), neighbours: best.map((j) => ({ ...clipView(sub, f.items[j]), similarity: row(j) })) };
    });
  } catch (e) {
    job.log(`report: no embeddings or retrieval examples (${(e as Error).message})`);
  }
  await writeReport(files.report, report);
  job.log(`wrote ${files.report}`);
}
