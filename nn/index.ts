/**
 * The public face of nn/: stax-style layers with explicit state, combinators, blocks, the tiny AVID
 * encoders, optimizers, schedules and checkpoints, all pure functions over pytrees.
 * `import * as nn from './nn/index.js'` then `const net = nn.serial([nn.Dense(64), nn.Relu(), nn.Dense(1)])`.
 */
export {
  type Layer, type Init, type InitOptions, type ApplyOptions, type Shape, type Shapes, type Value, type Tree, type Part, type Children,
  serial, parallel, fanOut, residual, Identity, FanInSum, FanInConcat, stateless, paramCount, asTensor, asShape, isShape,
} from './layer.js';
export { Dense, Conv, Conv1d, Conv2d, Conv3d, MaxPool, GlobalMaxPool, GlobalAvgPool, Relu, Flatten, L2Normalize, Dropout, type ConvLayerOptions } from './layers.js';
export { BatchNorm, type BatchNormOptions } from './batchnorm.js';
export { MLP, ConvBnRelu, R2plus1dBlock, Basic2dBlock } from './blocks.js';
export { videoEncoder, audioEncoder, videoStages, audioStages, type VideoEncoderOptions, type AudioEncoderOptions } from './models.js';
export { torchUniform } from './init.js';
export { summary } from './summary.js';
export { sgd, adam, adamw, clipByGlobalNorm, clipped, nonFinite, type Optimizer, type SgdOptions, type AdamOptions } from './optim.js';
export { constant, stepDecay, cosine, warmup, type Schedule, type LearningRate } from './schedules.js';
export { saveCheckpoint, loadCheckpoint, type LoadOptions } from './checkpoint.js';
// pytree helpers live in core; re-exported here because params, grads and optimizer state are pytrees
export { treeMap, treeZip, treeFlatten, treeUnflatten, treeLeaves } from '../core/index.js';
