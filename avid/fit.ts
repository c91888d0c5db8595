/**
 * The training loop around the pure step: shuffles by epoch key, augments by step key, shows a
 * progress bar (loss, clips/s, ETA), writes a checkpoint after every epoch, and resumes from one
 * exactly where it stopped: every key is derived from (seed, epoch, step), and the checkpoint holds
 * the whole state (params, BatchNorm statistics, optimizer moments, banks, Z, step).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import * as np from '../core/index.js';
import * as nn from '../nn/index.js';
import { fromRows, rows } from './bank.js';
import { type Dataset, getBatch } from './data.js';
import type { Model } from './model.js';
import type { Objective } from './objectives.js';
import { initState, type StepMetrics, type TrainConfig, type TrainState, trainStep } from './train.js';

export interface FitOptions {
  key: np.Key;
  /** write a checkpoint here after every epoch */
  dir?: string;
  /** continue from the checkpoint in `dir` if there is one */
  resume?: boolean;
  /** show a progress bar (default: when stderr is a terminal) */
  progress?: boolean;
  /** a label for the progress line */
  name?: string;
  /** the state to start from (default: fresh from the key); lets several runs share one initialisation */
  init?: TrainState;
  /** called after each epoch with the state, e.g. to refresh CMA neighbours */
  onEpoch?: (state: TrainState, epoch: number) => TrainState;
}

/** The state as a checkpoint: tensors in the tree, the rest in metadata. */
function toCheckpoint(s: TrainState) {
  return {
    tree: { params: s.params, bn: s.bn, opt: s.opt, banks: { video: rows(s.banks.video), audio: rows(s.banks.audio) }, ...(s.neighbours ? { neighbours: s.neighbours } : {}) },
    metadata: { Z: s.Z, step: s.step },
  };
}

function fromCheckpoint(dir: string, template: TrainState): TrainState {
  const want = toCheckpoint(template).tree;
  const { tree, metadata } = nn.loadCheckpoint(dir, { template: want });
  const bank = (t: np.Tensor) => fromRows(t.dataSync() as Float32Array, t.shape[0], t.shape[1]);
  return {
    params: tree.params, bn: tree.bn, opt: tree.opt, banks: { video: bank(tree.banks.video), audio: bank(tree.banks.audio) },
    Z: metadata.Z as Record<string, number>, step: metadata.step as number, ...(tree.neighbours ? { neighbours: tree.neighbours } : {}),
  };
}

/**
 * Train `model` with `objective` on the `train` indices of `ds` for cfg.epochs epochs.
 * `fit(model, crossAvid, ds, trainIdx, tinyTrain, {key: random.key(0), dir: 'runs/cross'})`
 */
export function fit(model: Model, objective: Objective, ds: Dataset, train: readonly number[], cfg: TrainConfig, opts: FitOptions): { state: TrainState; history: StepMetrics[] } {
  const [kInit, kOrder, kAug, kStep] = np.random.split(opts.key, 4);
  const perEpoch = Math.floor(train.length / cfg.batch);
  if (perEpoch < 1) throw new Error(`fit: ${train.length} training items make no batch of ${cfg.batch}`);
  let state = opts.init ?? initState(kInit, model, ds, cfg);
  if (opts.resume && opts.dir && existsSync(join(opts.dir, 'manifest.json'))) {
    state = fromCheckpoint(opts.dir, state);
    console.log(`resuming ${opts.name ?? 'run'} from ${opts.dir} at step ${state.step} (epoch ${state.step / perEpoch})`);
  }
  const step = trainStep(model, objective, cfg);
  const history: StepMetrics[] = [];
  const showBar = opts.progress ?? Boolean(process.stderr.isTTY);
  const bar = showBar ? new cliProgress.SingleBar({
    format: `${opts.name ?? 'train'} epoch {epoch}/${cfg.epochs} |{bar}| {value}/{total} loss {loss} | {rate} clips/s | ETA {eta_formatted}`,
    hideCursor: true, clearOnComplete: false, stream: process.stderr,
  }, cliProgress.Presets.shades_classic) : undefined;
  const total = perEpoch * cfg.epochs;
  bar?.start(total, state.step, { epoch: Math.floor(state.step / perEpoch) + 1, loss: '-', rate: '-' });
  const t0 = performance.now(), step0 = state.step;
  while (state.step < total) {
    const epoch = Math.floor(state.step / perEpoch), b = state.step % perEpoch;
    const order = np.random.permutation(np.random.foldIn(kOrder, epoch), train.length).dataSync();
    const idx = Array.from(order.subarray(b * cfg.batch, (b + 1) * cfg.batch), (j) => train[j]);
    const batch = getBatch(ds, idx, np.random.foldIn(kAug, state.step), cfg.cropScale, cfg.flip, cfg.maxOffset);
    const r = step(state, batch, np.random.foldIn(kStep, state.step));
    state = r.state;
    history.push(r.metrics);
    const rate = ((state.step - step0) * cfg.batch) / ((performance.now() - t0) / 1000);
    bar?.update(state.step, { epoch: Math.floor((state.step - 1) / perEpoch) + 1, loss: r.metrics.loss.toFixed(3), rate: rate.toFixed(1) });
    if (state.step % perEpoch === 0) {
      const e = state.step / perEpoch;
      if (opts.onEpoch) state = opts.onEpoch(state, e);
      if (opts.dir) { const c = toCheckpoint(state); nn.saveCheckpoint(opts.dir, c.tree, c.metadata); }
      if (!bar) {
        const recent = history.slice(-perEpoch), mean = recent.reduce((a, m) => a + m.loss, 0) / recent.length;
        console.log(`${opts.name ?? 'train'} epoch ${e}/${cfg.epochs}: loss ${mean.toFixed(3)}, ${rate.toFixed(1)} clips/s`);
      }
    }
  }
  bar?.stop();
  return { state, history };
}
