/**
 * The public face of avid/ (the package's `avid-fn/avid` entry): the model, data sources, objectives
 * (Self-, Cross-, Joint-AVID, CMA, or your own), the pure training step and loop, evaluation, and
 * the PyTorch hand-off. The CLI (`avid`) and its job plumbing stay behind it, in cli.ts and jobs.ts.
 */
export { avidModel, tinyModel, authorsModel, type Model, type ModelConfig, type Modality } from './model.js';
export { synthetic, tinyData, type DataConfig } from './data.js';
export {
  fromArrays, subset, range, getBatch, plainView,
  type Source, type Clip, type ClipConfig, type AugmentConfig, type Arrays, type Batch, type View,
} from './source.js';
export { openVideos, type VideoOptions, type VideoData } from './videos.js';
export { initBank, lookup, update as updateBank, rows as bankRows, fromRows as bankFromRows, type Bank } from './bank.js';
export { nce, infoNce, nceOfScores, infoNceOfScores, scores, softplus } from './nce.js';
export {
  objective, avidObjective, avidTerms, avidWeights, selfAvid, crossAvid, jointAvid, nceTerm, sampleNegatives, sampleExcluding,
  type Objective, type ObjectiveInput, type ObjectiveOutput, type ObjectiveContext, type Term, type AvidOptions,
} from './objectives.js';
export { cmaObjective, cmaNeighbours, cmaK, type CmaOptions, type CmaState } from './cma.js';
export { initState, continueFrom, trainStep, NonFiniteError, tinyTrain, avidOptimizer, type TrainConfig, type TrainState, type StepMetrics } from './train.js';
export { fit, type FitOptions } from './fit.js';
export { evaluate, extract, linearProbe, recallAt, classPrecisionAt, type Report, type Features, type EvalOptions } from './evaluate.js';
export { compare, formatTable, trainConfig, type CompareOptions, type ObjectiveName } from './main.js';
export { exportTorch, importTorch, toAuthors, fromAuthors } from './torch.js';
export { safetensors, readSafetensors, decodeSafetensors } from './export.js';
