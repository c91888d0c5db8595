/**
 * The public face of core/: tensors, ops, autodiff, random keys, pytrees and backends.
 * `import * as np from './core/index.js'` then `np.grad(x => np.sum(np.mul(x, x)))(np.tensor([1, 2]))`.
 */
import './cpu/backend.js';
import './gpu/backend.js';
import { setBackend } from './backend.js';
import { env } from './platform/platform.js';

export { Tensor, isTensor } from './tensor.js';
export type { DType, TypedArray } from './dtype.js';
export { ConcretizationError, OpError, type Shape } from './shape.js';
export { tensor, zeros, ones, full, zerosLike, onesLike, arange, linspace, eye, toBackend, type NestedArray, type CreateOptions } from './creation.js';
export { setBackend, currentBackend, backendNames, getBackend } from './backend.js';
export { allPrimitives, type Primitive } from './primitive.js';

export { neg } from './prims/neg.js';
export { exp } from './prims/exp.js';
export { log } from './prims/log.js';
export { sqrt } from './prims/sqrt.js';
export { tanh } from './prims/tanh.js';
export { abs } from './prims/abs.js';
export { sign } from './prims/sign.js';
export { astype } from './prims/cast.js';
export { add } from './prims/add.js';
export { sub } from './prims/sub.js';
export { mul } from './prims/mul.js';
export { div } from './prims/div.js';
export { pow } from './prims/pow.js';
export { maximum } from './prims/maximum.js';
export { minimum } from './prims/minimum.js';
export { equal, less, greater, lessEqual, greaterEqual } from './prims/compare.js';
export { where } from './prims/where.js';
export { sum } from './prims/sum.js';
export { moments, stackedMoments } from './prims/moments.js';
export { batchNorm, batchNormTrain } from './prims/batchNormTrain.js';
export { batchNormGrad } from './prims/batchNormGrad.js';
export { batchNormParamGrad } from './prims/batchNormParamGrad.js';
export { reluGrad } from './prims/reluGrad.js';
export { max } from './prims/max.js';
export { min } from './prims/min.js';
export { argmax } from './prims/argmax.js';
export { reshape } from './prims/reshape.js';
export { flip, transpose } from './prims/transpose.js';
export { broadcastTo } from './prims/broadcastTo.js';
export { slice } from './prims/slice.js';
export { pad } from './prims/pad.js';
export { concat } from './prims/concat.js';
export { gather } from './prims/gather.js';
export { scatterAdd } from './prims/scatterAdd.js';
export { matmul, matmulT } from './prims/matmul.js';
export { unfold } from './prims/unfold.js';
export { fold } from './prims/fold.js';
export type { TensorLike } from './prims/_elementwise.js';

export {
  mean, variance, relu, sigmoid, square, logSumExp, logSoftmax, softmax, l2Normalize,
  expandDims, squeeze, stack, flatten, logicalNot, oneHot, crossEntropy, reciprocal, clip,
} from './ops.js';
export { conv, maxPool, globalMaxPool, globalAvgPool, type ConvOptions, type PoolOptions, type Padding } from './conv.js';
export { vjp, grad, valueAndGrad, jvp, customVjp, stopGradient, type GradOptions } from './autodiff.js';
export { vmap, jacrev, jacfwd, hessian, type VmapOptions, type InAxes } from './vmap.js';
export { moveAxis } from './batching.js';
export { makeTrace, toDot, toSvg, type DotOptions } from './graph.js';
export { gradCheck, formatGradCheck, type GradCheckRow } from './gradcheck.js';
export { jit, evalShape, Program, MAX_FUSED_INPUTS, type Jitted, type JitOptions } from './jit.js';
export { flatten as treeFlatten, unflatten as treeUnflatten, treeMap, treeZip, treeLeaves, plain as treePlain, rebuild as treeRebuild, PYTREE, type PyTreeNode, type TreeDef } from './pytree.js';
export { cpuThreads, gemmKernel } from './cpu/pool.js';
export { gpuStatus, gpuStats, gpuFinish, warmup } from './gpu/backend.js';
export { textureStats } from './gpu/textures.js';
export { withScope } from './memory.js';
export { debugNans, NanError } from './nans.js';
export { profileKernels } from './trace.js';

import * as random from './random.js';
export { random };
export type { Key } from './random.js';

// AVID_BACKEND=gpu chooses the default backend for a whole run (tests, benchmarks, npm start).
const initial = env('AVID_BACKEND');
if (initial) setBackend(initial);
