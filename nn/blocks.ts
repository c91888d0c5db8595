/**
 * Blocks built only from layers and combinators: an MLP, conv -> BN -> ReLU, the (2+1)-D residual
 * block of the AVID video network and the plain 2-D block of its audio network. Param names follow
 * the authors' PyTorch modules (sptConv1 for spt_conv1, outBn for out_bn, ...).
 */
import { BatchNorm } from './batchnorm.js';
import { Identity, type Layer, residual, serial } from './layer.js';
import { Conv2d, Conv3d, Dense, Relu } from './layers.js';

/**
 * Dense layers of the given widths with ReLU between them (not after the last unless `finalRelu`);
 * params {fc1, fc2, ...}. `MLP([128, 128, 128])`
 */
export function MLP(widths: readonly number[], { bias = true, finalRelu = false } = {}): Layer {
  const parts: Record<string, Layer> = {};
  widths.forEach((w, i) => {
    parts[`fc${i + 1}`] = Dense(w, { bias });
    if (i < widths.length - 1 || finalRelu) parts[`relu${i + 1}`] = Relu();
  });
  return { ...serial(parts), name: `MLP(${widths.join('-')})` };
}

/** Conv (no bias) -> BatchNorm -> ReLU; params {conv, bn}. `ConvBnRelu(Conv2d(16, 7, {stride: 2, padding: 3, bias: false}))` */
export const ConvBnRelu = (conv: Layer): Layer => ({ ...serial({ conv, bn: BatchNorm(), relu: Relu() }), name: `ConvBnRelu(${conv.name})` });

/**
 * The (2+1)-D residual block of AVID's R(2+1)D (the authors' BasicR2P1DBlock), mid width = out width:
 *   main = tmpConv2(relu(sptBn2(sptConv2(relu(tmpBn1(tmpConv1(relu(sptBn1(sptConv1(x))))))))))
 *   y = relu(outBn(main + shortcut(x)))
 * NOTE: the residual is added *before* the last BatchNorm, and the shortcut is a bare 1x1x1 strided
 * conv (no BN) when the width or the stride changes, else the identity. Spatial kernels (1, k, k)
 * take the spatial stride, temporal kernels (k, 1, 1) the temporal one.
 * `R2plus1dBlock(16, 32, {stride: 2})`
 */
export function R2plus1dBlock(cin: number, cout: number, { stride = 1 as number | readonly [number, number, number], k = 3 } = {}): Layer {
  const [st, sh, sw] = typeof stride === 'number' ? [stride, stride, stride] : stride;
  const p = Math.floor(k / 2), nb = { bias: false };
  const spatial = (s: [number, number, number]) => Conv3d(cout, [1, k, k], { stride: s, padding: [0, p, p], ...nb });
  const temporal = (s: [number, number, number]) => Conv3d(cout, [k, 1, 1], { stride: s, padding: [p, 0, 0], ...nb });
  const main = serial({
    sptConv1: spatial([1, sh, sw]), sptBn1: BatchNorm(), relu1: Relu(),
    tmpConv1: temporal([st, 1, 1]), tmpBn1: BatchNorm(), relu2: Relu(),
    sptConv2: spatial([1, 1, 1]), sptBn2: BatchNorm(), relu3: Relu(),
    tmpConv2: temporal([1, 1, 1]),
  });
  const project = cin !== cout || st !== 1 || sh !== 1 || sw !== 1;
  const shortcut = project ? Conv3d(cout, 1, { stride: [st, sh, sw], ...nb }) : Identity();
  const block = serial({ res: residual(main, shortcut), outBn: BatchNorm(), relu: Relu() });
  return { ...block, name: `R2plus1dBlock(${cin}->${cout}${project ? `, s=${[st, sh, sw].join('x')}` : ''})` };
}

/**
 * The audio network's block (the authors' Basic2DBlock): two 3x3 conv -> BN -> ReLU, the first
 * strided, no residual; params {conv1, conv2}. `Basic2dBlock(32, {stride: 2})`
 */
export function Basic2dBlock(cout: number, { stride = 1 as number | readonly [number, number] } = {}): Layer {
  const nb = { bias: false, padding: 1 };
  const block = serial({ conv1: ConvBnRelu(Conv2d(cout, 3, { stride, ...nb })), conv2: ConvBnRelu(Conv2d(cout, 3, nb)) });
  return { ...block, name: `Basic2dBlock(${cout}${stride === 1 ? '' : `, s=${JSON.stringify(stride)}`})` };
}
