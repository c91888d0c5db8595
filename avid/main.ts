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
import { evaluate, type Report } from './evaluate.js';
import { fit } from './fit.js';
import { avidModel, tinyModel } from './model.js';
import { crossAvid, jointAvid, type Objective, selfAvid } from './objectives.js';
import { cmaNeighbours, cmaObjective } from './cma.js';
import { range } from './source.js';
import { initState, type TrainConfig, tinyTrain, type TrainState } from './train.js';

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
  dir: string;
  resume: boolean;
}

/** The objectives the CLI can train; CMA starts as Cross-AVID and adds its terms once the first epoch's banks give neighbours. */
export function objectiveFor(name: ObjectiveName, train: number): { label: string; objective: Objective; onEpoch?: (s: TrainState) => TrainState } {
  switch (name) {
    case 'self': return { label: 'Self-AVID', objective: selfAvid };
    case 'cross': return { label: 'Cross-AVID', objective: crossAvid };
    case 'joint': return { label: 'Joint-AVID', objective: jointAvid };
    default: {
      const cma = cmaObjective();
      return {
        label: 'AVID+CMA',
        objective: (input) => (input.neighbours ? cma(input) : crossAvid(input)),
        onEpoch: (s) => ({ ...s, neighbours: cmaNeighbours(s.banks, Math.min(8, train - 1)) }),
      };
    }
  }
}

const pct = (x: number) => (100 * x).toFixed(1).padStart(6);

/** Table 1's layout: one row per method, probe accuracy per block and best, for video then audio. */
export function formatTable(rows: { label: string; report: Report }[]): string {
  const blocks = rows[0].report.probe.video.length;
  const head = [...Array.from({ length: blocks }, (_, k) => `block${k + 1}`.padStart(6)), '  best'].join(' ');
  const lines = [
    `${''.padEnd(14)} ${'video linear probe (%)'.padEnd(head.length)}   ${'audio linear probe (%)'.padEnd(head.length)}   retrieval R@1 / R@5 (%)`,
    `${'method'.padEnd(14)} ${head}   ${head}   ${'video->audio'.padEnd(14)} audio->video`,
  ];
  for (const { label, report: r } of rows) {
    const probe = (m: 'video' | 'audio') => [...r.probe[m].map(pct), pct(r.best[m])].join(' ');
    const ret = (p: [number, number]) => `${pct(p[0]).trim()} / ${pct(p[1]).trim()}`.padEnd(14);
    lines.push(`${label.padEnd(14)} ${probe('video')}   ${probe('audio')}   ${ret(r.retrieval.v2a)} ${ret(r.retrieval.a2v)}`);
  }
  return lines.join('\n');
}

/** The training config for `n` clips from the CLI's options. */
export const trainConfig = (o: { epochs: number; batch: number; lr: number; negatives: number; zWarmup?: number }, n: number): TrainConfig => ({
  ...tinyTrain, epochs: o.epochs, batch: o.batch, lr: o.lr, negatives: Math.min(o.negatives, n - 1),
  zWarmupSteps: (o.zWarmup ?? 0) * Math.floor(n / o.batch),
});

/** `avid compare` (npm start): each objective against random init on the built-in data, as Table 1. */
export async function compare(o: CompareOptions, log: (line: string) => void = console.log): Promise<void> {
  const t0 = performance.now();
  const key = np.random.key(o.seed);
  const [kData, kModel] = np.random.split(key);
  const all = synthetic(kData, o.train + o.test, tinyData);
  const trainSet = range(all, 0, o.train), testSet = range(all, o.train, o.test);
  const model = avidModel(tinyModel);
  const cfg = trainConfig(o, o.train);
  log(`AVID on the built-in synthetic data: ${o.train} training and ${o.test} test clips, ${tinyData.classes} hidden classes ` +
    `(chance ${(100 / tinyData.classes).toFixed(1)}%); backend ${np.currentBackend()}, ${np.cpuThreads()} cpu thread(s)`);
  log(`tiny encoders (video R(2+1)D ${tinyModel.videoWidths.join('/')}, audio 9-layer ${tinyModel.audioWidths.join('/')}), ` +
    `batch ${cfg.batch}, ${cfg.negatives} negatives, T ${cfg.temperature}, Adam lr ${cfg.lr}, ${cfg.epochs} epochs`);

  const rows: { label: string; report: Report }[] = [];
  // every method starts from these weights, and the baseline row evaluates them untrained
  const init = initState(np.random.foldIn(kModel, 0), model, trainSet, cfg);
  rows.push({ label: 'random init', report: await evaluate(model, init.params, init.bn, trainSet, testSet) });
  log(`evaluated random init (${((performance.now() - t0) / 1000).toFixed(0)} s)`);

  for (const name of o.objectives) {
    const { label, objective, onEpoch } = objectiveFor(name, o.train);
    const { state } = await fit(model, objective, trainSet, cfg, {
      key: np.random.foldIn(kModel, 1), init, dir: join(o.dir, name), resume: o.resume, name: label, onEpoch, log,
    });
    rows.push({ label, report: await evaluate(model, state.params, state.bn, trainSet, testSet) });
    log(`trained and evaluated ${label} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
  log(`\n${formatTable(rows)}\n`);
  log(`total ${((performance.now() - t0) / 1000).toFixed(0)} s; checkpoints in ${o.dir}/`);
}
