/**
 * The training loop around the pure step: shuffles by epoch key, augments by step key, shows a
 * progress bar (loss, clips/s, ETA, files skipped), writes a checkpoint after every epoch, and resumes
 * from one exactly where it stopped: every key is derived from (seed, epoch, step), and the checkpoint
 * holds the whole state (params, BatchNorm statistics, optimizer moments, banks, the objective's
 * state and params, step) as one pytree.
 *
 * A source that decodes (a folder of videos) is asked for the next batch while this one trains, so
 * ffmpeg runs beside the step; clips it finds unusable are left out of their batches.
 *
 * A NaN or Inf in the loss or a gradient stops the run with a NonFiniteError naming the step and the
 * tensor; the checkpoint already in `dir` (the last good epoch) stays, since the bad step is never saved.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import * as np from '../core/index.js';
import * as nn from '../nn/index.js';
import type { Model } from './model.js';
import type { Objective } from './objectives.js';
import { getBatch, ready, type Source } from './source.js';
import { initState, NonFiniteError, type StepMetrics, type TrainConfig, type TrainState, trainStep } from './train.js';

export interface FitOptions {
  key: np.Key;
  /** write a checkpoint here after every epoch */
  dir?: string;
  /** continue from the checkpoint in `dir` if there is one */
  resume?: boolean;
  /** show a progress bar (default: when stderr is a terminal); otherwise one log line per epoch */
  progress?: boolean;
  /** a label for the progress line */
  name?: string;
  /** the state to start from (default: fresh from the key); lets several runs share one initialisation */
  init?: TrainState;
  /** called after each epoch with the state (after the objective's own `onEpoch`) */
  onEpoch?: (state: TrainState, epoch: number) => TrainState;
  /** called after every step with {step, epoch, loss, <the objective's logs>, clips_per_s} */
  onStep?: (row: Record<string, number>) => void;
  /** called once when the run resumes from a checkpoint, with its step */
  onResume?: (step: number) => void;
  /** where plain log lines go (default console.log) */
  log?: (line: string) => void;
  /** jit the step (default true; false runs it eagerly, e.g. to step through an objective) */
  jit?: boolean;
}

/** The state as a checkpoint: the whole state as one pytree (banks are their rows), the step in metadata. */
const toCheckpoint = ({ step, ...tree }: TrainState) => ({ tree, metadata: { step } });

function fromCheckpoint(dir: string, template: TrainState): TrainState {
  const { tree, metadata } = nn.loadCheckpoint(dir, { template: toCheckpoint(template).tree });
  return { ...tree, step: metadata.step as number };
}

/**
 * Train `model` with `objective` on every clip of `source` for cfg.epochs epochs.
 * `await fit(model, crossAvid, train, tinyTrain, {key: random.key(0), dir: 'runs/cross'})`
 */
export async function fit(model: Model, objective: Objective, source: Source, cfg: TrainConfig, opts: FitOptions): Promise<{ state: TrainState; history: StepMetrics[] }> {
  const [kInit, kOrder, kAug, kStep] = np.random.split(opts.key, 4);
  const perEpoch = Math.floor(source.n / cfg.batch), log = opts.log ?? console.log;
  if (perEpoch < 1) throw new Error(`fit: ${source.n} training clips make no batch of ${cfg.batch}`);
  let state = opts.init ?? initState(kInit, model, source, cfg, objective);
  if (opts.resume && opts.dir && existsSync(join(opts.dir, 'manifest.json'))) {
    state = fromCheckpoint(opts.dir, state);
    log(`resuming ${opts.name ?? 'run'} from ${opts.dir} at step ${state.step} (epoch ${state.step / perEpoch})`);
    opts.onResume?.(state.step);
  }
  const step = trainStep(model, objective, cfg, undefined, { jit: opts.jit });
  let told = false;
  const total = perEpoch * cfg.epochs;
  /** the clips of step s: a slice of its epoch's permutation (drawn once per epoch) */
  let orderOf: { epoch: number; order: Int32Array } = { epoch: -1, order: new Int32Array(0) };
  const batchOf = (s: number) => {
    const epoch = Math.floor(s / perEpoch), b = s % perEpoch;
    if (orderOf.epoch !== epoch) orderOf = { epoch, order: np.random.permutation(np.random.foldIn(kOrder, epoch), source.n).dataSync() as Int32Array };
    return Array.from(orderOf.order.subarray(b * cfg.batch, (b + 1) * cfg.batch));
  };
  const history: StepMetrics[] = [];
  const skipped = () => source.skipped?.().length ?? 0;
  const showBar = opts.progress ?? Boolean(process.stderr.isTTY);
  const bar = showBar ? new cliProgress.SingleBar({
    format: `${opts.name ?? 'train'} epoch {epoch}/${cfg.epochs} |{bar}| {value}/{total} loss {loss} | {rate} clips/s | ETA {eta_formatted} | {skipped} skipped`,
    hideCursor: true, clearOnComplete: false, stream: process.stderr,
  }, cliProgress.Presets.shades_classic) : undefined;
  bar?.start(total, state.step, { epoch: Math.floor(state.step / perEpoch) + 1, loss: '-', rate: '-', skipped: skipped() });
  const t0 = performance.now();
  let next = state.step < total ? ready(source, batchOf(state.step)) : undefined;
  let clips = 0;
  /** the step of the checkpoint in opts.dir that this run wrote or resumed from */
  let saved = opts.resume && opts.dir && existsSync(join(opts.dir, 'manifest.json')) ? state.step : undefined;
  /** a step that met a NaN or Inf was not applied (nor saved): say which checkpoint is the last good state */
  const stopped = (e: unknown) => {
    bar?.stop();
    next?.catch(() => {}); // the batch asked for ahead is not wanted now
    return !(e instanceof NonFiniteError) ? e : new NonFiniteError(e.step, e.tensor, saved === undefined
      ? 'no checkpoint was written' : `the checkpoint in ${opts.dir} (after step ${saved}) is the last good state`);
  };
  while (state.step < total) {
    const idx = await next!;
    // ask for the next batch now, so a decoding source works on it while this step runs
    next = state.step + 1 < total ? ready(source, batchOf(state.step + 1)) : undefined;
    const epoch = Math.floor(state.step / perEpoch) + 1;
    if (idx.length > 0) {
      const batch = getBatch(source, idx, np.random.foldIn(kAug, state.step), cfg);
      let r: ReturnType<typeof step>;
      try { r = step(state, batch, np.random.foldIn(kStep, state.step)); } catch (e) { throw stopped(e); }
      state = r.state;
      if (!told && step.eager && opts.jit !== false) log(`${opts.name ?? 'the run'}: the step runs eagerly (${step.eager.split(':').slice(0, 2).join(':')})`);
      told = true;
      history.push(r.metrics);
      clips += idx.length;
      const rate = clips / ((performance.now() - t0) / 1000);
      opts.onStep?.({ step: state.step, epoch, ...r.metrics, clips: idx.length, clips_per_s: rate });
      bar?.update(state.step, { epoch, loss: r.metrics.loss.toFixed(3), rate: rate.toFixed(1), skipped: skipped() });
    } else {
      state = { ...state, step: state.step + 1 }; // every clip of this batch was unusable
    }
    if (state.step % perEpoch === 0) {
      const e = state.step / perEpoch;
      if (objective.onEpoch) {
        const next = objective.onEpoch(state.objective.state, { epoch: e, banks: state.banks, key: np.random.foldIn(kInit, e) }); // kInit is otherwise only split, so this stream is its own
        state = { ...state, objective: { ...state.objective, state: next } };
      }
      if (opts.onEpoch) state = opts.onEpoch(state, e);
      if (opts.dir) { const c = toCheckpoint(state); nn.saveCheckpoint(opts.dir, c.tree, c.metadata); saved = state.step; }
      if (!bar) {
        const recent = history.slice(-perEpoch), mean = recent.reduce((a, m) => a + m.loss, 0) / Math.max(1, recent.length);
        const rate = clips / ((performance.now() - t0) / 1000);
        log(`${opts.name ?? 'train'} epoch ${e}/${cfg.epochs}: loss ${mean.toFixed(3)}, ${rate.toFixed(1)} clips/s${skipped() ? `, ${skipped()} files skipped` : ''}`);
      }
    }
  }
  bar?.stop();
  return { state, history };
}
