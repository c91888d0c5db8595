/** @backends cpu gpu
 *
 * Soak: many Cross-AVID training steps of the tiny model (avidModel(tinyModel), tinyTrain, synthetic
 * clips of tinyData; a smaller model for the GPU in CI, see SIZE), sampling the JS heap (heapUsed + external: a CPU tensor's bytes live in an
 * ArrayBuffer, which heapUsed does not count), the RSS and the live GPU textures every few steps after
 * a warm-up, with a forced garbage collection before each sample (spec/run.ts starts node with
 * --expose-gc) and a turn of the event loop so FinalizationRegistry frees what the collection found.
 * It fails if the median of the last window of samples exceeds the first window's by more than a
 * bound: memory by BOUND_MB or BOUND_FRACTION of its start (whichever is larger), RSS by twice that,
 * and live GPU textures by TEXTURE_JITTER (a steady rise in live textures is a leak, however small;
 * but which textures a forced collection has freed by the time of a sample varies a little: CI saw
 * 1397 and 1399 in windows of the same run).
 *
 * CI runs a short soak (the default AVID_SOAK_STEPS, at AVID_SOAK_BATCH clips a step so it fits the
 * time budget); `npm run soak` runs thousands of steps on both backends. Figures are printed as
 * `# soak ...` lines.
 */
import test from 'tape';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as np from '../../core/index.js';
import { type DataConfig, synthetic, tinyData } from '../../avid/data.js';
import { getBatch } from '../../avid/source.js';
import { avidModel, type ModelConfig, tinyModel } from '../../avid/model.js';
import { crossAvid } from '../../avid/objectives.js';
import { initState, type TrainState, tinyTrain, trainStep } from '../../avid/train.js';

const envInt = (name: string, def: number) => {
  const v = process.env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name}: expected a positive integer, got ${JSON.stringify(v)}`);
  return n;
};

const backend = np.currentBackend();
const STEPS = envInt('AVID_SOAK_STEPS', backend === 'gpu' ? 20 : 48);
const BATCH = envInt('AVID_SOAK_BATCH', 2);
/**
 * tiny: the tiny default's model and clips. small: narrower layers on 4x16x16 clips, for the GPU in CI,
 * where llvmpipe takes about 90 s to compile the tiny model's kernels and 4 s a step.
 */
const SIZE = process.env.AVID_SOAK_SIZE ?? (backend === 'gpu' ? 'small' : 'tiny');
const sizes: Record<string, { model: ModelConfig; data: DataConfig }> = {
  tiny: { model: tinyModel, data: tinyData },
  small: {
    model: { videoWidths: [4, 8, 8, 8], videoStemPool: true, audioWidths: [4, 8, 8, 8], audioStrides: [1, 2, 2, 1], head: [8, 8] },
    data: { classes: 4, frames: 4, size: 16, fps: 16, sampleRate: 16000, audioSeconds: 0.5 },
  },
};
if (!(SIZE in sizes)) throw new Error(`AVID_SOAK_SIZE: expected one of ${Object.keys(sizes).join(', ')}, got ${JSON.stringify(SIZE)}`);
/** steps before the first sample: the GPU compiles its kernels, V8 warms its JIT, the pools fill */
const WARMUP = Math.min(8, Math.max(2, Math.floor(STEPS / 6)));
/** a sample every EVERY steps: about 60 samples however long the run */
const EVERY = Math.max(1, Math.floor((STEPS - WARMUP) / 60));
const BOUND_MB = 16, BOUND_FRACTION = 0.25, TEXTURE_JITTER = 4;
const MB = 1 << 20;

/** A full collection; node started without --expose-gc gets it switched on here. */
const gc: () => void = (globalThis as { gc?: () => void }).gc ?? (() => { setFlagsFromString('--expose-gc'); return runInNewContext('gc'); })();
const settle = async () => {
  gc();
  await new Promise((r) => setTimeout(r, 0)); // FinalizationRegistry callbacks run on a later turn
  gc();
};

interface Sample { step: number; heap: number; rss: number; textures: number; texBytes: number }
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };

/** Kept across steps when AVID_SOAK_LEAK=1, to prove the soak fails on a leak. */
const leaked: TrainState[] = [];

test(`soak: ${STEPS} ${SIZE} Cross-AVID steps on ${backend} keep memory and live textures flat`, async (t) => {
  const cfg = { ...tinyTrain, batch: BATCH };
  const ds = synthetic(np.random.key(0), 64, sizes[SIZE].data);
  const model = avidModel(sizes[SIZE].model);
  const step = trainStep(model, crossAvid, cfg);
  let state = initState(np.random.key(1), model, ds, cfg, crossAvid);
  const samples: Sample[] = [];
  let peakHeap = 0, peakRss = 0, peakTextures = 0;
  const t0 = performance.now();
  let tWarm = t0, losses = 0;
  for (let s = 0; s < STEPS; s++) {
    const idx = Array.from({ length: BATCH }, (_, j) => (s * BATCH + j) % ds.n);
    const batch = getBatch(ds, idx, np.random.foldIn(np.random.key(2), s), cfg);
    const r = step(state, batch, np.random.foldIn(np.random.key(3), s));
    state = r.state;
    if (Number.isFinite(r.metrics.loss)) losses++;
    if (process.env.AVID_SOAK_LEAK === '1') leaked.push(state);
    const m = process.memoryUsage(), g = np.gpuStats();
    peakHeap = Math.max(peakHeap, m.heapUsed + m.external);
    peakRss = Math.max(peakRss, m.rss);
    peakTextures = Math.max(peakTextures, g.textures);
    if (s + 1 === WARMUP) tWarm = performance.now();
    if (s + 1 >= WARMUP && (s + 1 - WARMUP) % EVERY === 0) {
      await settle();
      const a = process.memoryUsage(), b = np.gpuStats();
      samples.push({ step: s + 1, heap: a.heapUsed + a.external, rss: a.rss, textures: b.textures, texBytes: b.bytes });
    }
  }
  const msPerStep = (performance.now() - tWarm) / Math.max(1, STEPS - WARMUP);
  t.equal(losses, STEPS, 'every step gave a finite loss');
  t.equal(state.step, STEPS, 'the state counted every step');

  const w = Math.max(1, Math.floor(samples.length / 3));
  const first = samples.slice(0, w), last = samples.slice(-w);
  const at = (xs: Sample[], k: keyof Sample) => median(xs.map((x) => x[k]));
  const [heap0, heap1, rss0, rss1, tex0, tex1] = [at(first, 'heap'), at(last, 'heap'), at(first, 'rss'), at(last, 'rss'), at(first, 'textures'), at(last, 'textures')];
  const f = (b: number) => `${(b / MB).toFixed(1)} MB`;
  console.log(`# soak ${backend}: ${STEPS} steps of the ${SIZE} model, batch ${BATCH} (warm-up ${WARMUP}, a sample every ${EVERY}, windows of ${w} samples), ${msPerStep.toFixed(0)} ms/step after warm-up`);
  console.log(`# soak ${backend}: heap+external ${f(heap0)} -> ${f(heap1)} (peak ${f(peakHeap)}); rss ${f(rss0)} -> ${f(rss1)} (peak ${f(peakRss)}); ` +
    `live textures ${tex0} -> ${tex1} (peak ${peakTextures}, ${f(at(first, 'texBytes'))} -> ${f(at(last, 'texBytes'))})`);

  const heapBound = Math.max(BOUND_MB * MB, BOUND_FRACTION * heap0), rssBound = Math.max(2 * BOUND_MB * MB, 0.1 * rss0);
  t.ok(heap1 - heap0 <= heapBound, `heap+external grew ${f(heap1 - heap0)} from the first window to the last (bound ${f(heapBound)})`);
  t.ok(rss1 - rss0 <= rssBound, `rss grew ${f(rss1 - rss0)} (bound ${f(rssBound)})`);
  t.ok(tex1 - tex0 <= TEXTURE_JITTER, `live textures ${tex0} in the first window, ${tex1} in the last: no growth beyond the collector's jitter (${TEXTURE_JITTER})`);
  leaked.length = 0;
});
