/**
 * The main job (`npm start`): train AVID on the built-in synthetic data and print a table shaped like
 * the paper's Table 1: rows are objectives (and random init), columns the linear-probe accuracy after
 * each block and the best block, for video and audio, plus cross-modal retrieval.
 *
 *   npm start                          Cross-AVID vs random init
 *   npm start -- --objectives self,cross,joint --epochs 4
 *   npm start -- --resume              continue the runs in runs/ from their last checkpoints
 *
 * Options are decoded with io-ts: a bad value is reported with its name and what was expected.
 */
import { join } from 'node:path';
import * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';
import * as np from '../core/index.js';
import { synthetic, tinyData } from './data.js';
import { range } from './source.js';
import { evaluate, type Report } from './evaluate.js';
import { fit } from './fit.js';
import { avidModel, tinyModel } from './model.js';
import { crossAvid, jointAvid, type Objective, selfAvid } from './objectives.js';
import { cmaNeighbours, cmaObjective } from './cma.js';
import { initState, tinyTrain, type TrainState } from './train.js';

const Positive = t.refinement(t.number, (n) => Number.isInteger(n) && n > 0, 'PositiveInteger');
const Rate = t.refinement(t.number, (n) => n > 0 && n < 1, 'LearningRate');
const ObjectiveName = t.keyof({ self: null, cross: null, joint: null, cma: null });
const Options = t.type({
  objectives: t.array(ObjectiveName),
  epochs: Positive,
  train: Positive,
  test: Positive,
  batch: Positive,
  negatives: Positive,
  lr: Rate,
  seed: t.number,
  backend: t.keyof({ cpu: null, gpu: null }),
  dir: t.string,
  resume: t.boolean,
});
type Options = t.TypeOf<typeof Options>;

const defaults: Options = {
  objectives: ['cross'], epochs: tinyTrain.epochs, train: 384, test: 192, batch: tinyTrain.batch,
  negatives: tinyTrain.negatives, lr: tinyTrain.lr, seed: 0, backend: 'cpu', dir: 'runs', resume: false,
};

/** Parse `--name value` / `--flag` arguments into Options, or exit with a message naming the bad one. */
export function parseOptions(argv: readonly string[]): Options {
  const raw: Record<string, unknown> = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}'; options look like --epochs 3`);
    const name = a.slice(2);
    if (!(name in defaults)) throw new Error(`unknown option --${name}; known: ${Object.keys(defaults).map((k) => `--${k}`).join(' ')}`);
    const d = (defaults as Record<string, unknown>)[name];
    if (typeof d === 'boolean') { raw[name] = true; continue; }
    const v = argv[++i];
    if (v === undefined) throw new Error(`--${name} needs a value`);
    raw[name] = Array.isArray(d) ? v.split(',') : typeof d === 'number' ? Number(v) : v;
  }
  const r = Options.decode(raw);
  if (isLeft(r)) {
    // name the option and what it wants, not io-ts's whole type
    const why = r.left.map((e) => {
      const path = e.context.filter((c) => c.key !== '' && !/^\d+$/.test(c.key)).map((c) => c.key);
      const name = path[0] ?? '?';
      return `--${name}: expected ${e.context[e.context.length - 1].type.name}, got ${JSON.stringify(argvValue(argv, name))}`;
    });
    throw new Error(`bad option ${[...new Set(why)].join('; ')}`);
  }
  return r.right;
}

/** What the user typed for --name (for error messages). */
const argvValue = (argv: readonly string[], name: string) => argv[argv.indexOf(`--${name}`) + 1];

/** The objectives npm start can train; CMA starts as Cross-AVID and adds its terms once the first epoch's banks give neighbours. */
function objectiveFor(name: string, train: number): { label: string; objective: Objective; onEpoch?: (s: TrainState) => TrainState } {
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

export async function main(argv: readonly string[]): Promise<void> {
  const o = parseOptions(argv);
  np.setBackend(o.backend);
  const t0 = performance.now();
  const key = np.random.key(o.seed);
  const [kData, kModel] = np.random.split(key);
  const all = synthetic(kData, o.train + o.test, tinyData);
  const trainSet = range(all, 0, o.train), testSet = range(all, o.train, o.test);
  const model = avidModel(tinyModel);
  const cfg = { ...tinyTrain, epochs: o.epochs, batch: o.batch, lr: o.lr, negatives: Math.min(o.negatives, o.train - 1) };
  console.log(`AVID on the built-in synthetic data: ${o.train} training and ${o.test} test clips, ${tinyData.classes} hidden classes ` +
    `(chance ${(100 / tinyData.classes).toFixed(1)}%); backend ${np.currentBackend()}, ${np.cpuThreads()} cpu thread(s)`);
  console.log(`tiny encoders (video R(2+1)D ${tinyModel.videoWidths.join('/')}, audio 9-layer ${tinyModel.audioWidths.join('/')}), ` +
    `batch ${cfg.batch}, ${cfg.negatives} negatives, T ${cfg.temperature}, Adam lr ${cfg.lr}, ${cfg.epochs} epochs`);

  const rows: { label: string; report: Report }[] = [];
  // every method starts from these weights, and the baseline row evaluates them untrained
  const init = initState(np.random.foldIn(kModel, 0), model, trainSet, cfg);
  rows.push({ label: 'random init', report: await evaluate(model, init.params, init.bn, trainSet, testSet) });
  console.log(`evaluated random init (${((performance.now() - t0) / 1000).toFixed(0)} s)`);

  for (const name of o.objectives) {
    const { label, objective, onEpoch } = objectiveFor(name, o.train);
    const { state } = await fit(model, objective, trainSet, cfg, {
      key: np.random.foldIn(kModel, 1), init, dir: join(o.dir, name), resume: o.resume, name: label, onEpoch,
    });
    rows.push({ label, report: await evaluate(model, state.params, state.bn, trainSet, testSet) });
    console.log(`trained and evaluated ${label} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
  console.log(`\n${formatTable(rows)}\n`);
  console.log(`total ${((performance.now() - t0) / 1000).toFixed(0)} s; checkpoints in ${o.dir}/`);
}
