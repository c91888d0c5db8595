/**
 * avid/index.ts for browsers, swapped in by bundlers through package.json's "browser" field (as
 * nn/checkpoint.browser.ts is): the same names, where everything a training step needs is the real
 * thing (the model, the synthetic data and sources, banks, NCE and the objectives, CMA, the pure
 * step, evaluation), and the names whose modules read or write files, run ffmpeg or draw a terminal
 * progress bar are stubs that throw on use, so a page that imports them still bundles. Those are
 * openVideos (ffmpeg), fit and compare (checkpoints on disk, cli-progress), formatTable and
 * trainConfig (they live in main.ts beside compare), and the PyTorch / safetensors hand-off (torch.ts
 * and safetensors.ts read files with node:fs). In a page, train with trainStep in a loop.
 * spec/browser/bundle.spec.ts checks that the two entries export the same names and that a browser
 * bundle of this one holds no Node-only module.
 */
export { avidModel, tinyModel, authorsModel, type Model, type ModelConfig, type Modality } from './model.js';
export { synthetic, tinyData, type DataConfig } from './data.js';
export {
  fromArrays, subset, range, getBatch, plainView,
  type Source, type Clip, type ClipConfig, type AugmentConfig, type Arrays, type Batch, type View,
} from './source.js';
export { initBank, lookup, update as updateBank, rows as bankRows, fromRows as bankFromRows, type Bank } from './bank.js';
export { nce, infoNce, nceOfScores, infoNceOfScores, scores, softplus } from './nce.js';
export {
  objective, avidObjective, avidTerms, avidWeights, selfAvid, crossAvid, jointAvid, nceTerm, sampleNegatives, sampleExcluding,
  type Objective, type ObjectiveInput, type ObjectiveOutput, type ObjectiveContext, type Term, type AvidOptions,
} from './objectives.js';
export { cmaObjective, cmaNeighbours, cmaK, type CmaOptions, type CmaState } from './cma.js';
export { initState, continueFrom, trainStep, NonFiniteError, tinyTrain, avidOptimizer, type TrainConfig, type TrainState, type StepMetrics } from './train.js';
export { evaluate, extract, linearProbe, recallAt, classPrecisionAt, type Report, type Features, type EvalOptions } from './evaluate.js';
export type { VideoOptions, VideoData } from './videos.js';
export type { FitOptions } from './fit.js';
export type { CompareOptions, ObjectiveName } from './main.js';

type Fn = (...args: never[]) => unknown;
/** A stand-in for a Node-only function: same type, throws saying where it runs. */
const nodeOnly = <F extends Fn>(name: string, why: string): F => ((() => {
  throw new Error(`avid-fn/avid: ${name} runs in Node only (${why}); a browser page can train with trainStep in a loop`);
}) as unknown) as F;

export const openVideos = nodeOnly<typeof import('./videos.js').openVideos>('openVideos', 'it decodes with ffmpeg');
export const fit = nodeOnly<typeof import('./fit.js').fit>('fit', 'it writes checkpoints to disk and draws a terminal progress bar');
export const compare = nodeOnly<typeof import('./main.js').compare>('compare', 'it trains with fit and writes run files');
export const formatTable = nodeOnly<typeof import('./main.js').formatTable>('formatTable', 'it lives in main.ts beside compare');
export const trainConfig = nodeOnly<typeof import('./main.js').trainConfig>('trainConfig', 'it lives in main.ts beside compare');
const torch = 'torch.ts writes and reads files with node:fs';
export const exportTorch = nodeOnly<typeof import('./torch.js').exportTorch>('exportTorch', torch);
export const importTorch = nodeOnly<typeof import('./torch.js').importTorch>('importTorch', torch);
export const toAuthors = nodeOnly<typeof import('./torch.js').toAuthors>('toAuthors', torch);
export const fromAuthors = nodeOnly<typeof import('./torch.js').fromAuthors>('fromAuthors', torch);
const st = 'safetensors.ts reads files with node:fs';
export const safetensors = nodeOnly<typeof import('./safetensors.js').safetensors>('safetensors', st);
export const readSafetensors = nodeOnly<typeof import('./safetensors.js').readSafetensors>('readSafetensors', st);
export const decodeSafetensors = nodeOnly<typeof import('./safetensors.js').decodeSafetensors>('decodeSafetensors', st);
