/**
 * The AVID encoders of shared/AVID.md, built from nn's blocks (avid/model.ts adds the heads and
 * runs them block by block). Each maps a clip to a globally max-pooled feature vector of the last
 * stage's width; the widths default to the tiny 16/32/64/128, the authors' are 64/128/256/512.
 */
import { BatchNorm } from './batchnorm.js';
import { Basic2dBlock, ConvBnRelu, R2plus1dBlock } from './blocks.js';
import { type Layer, serial } from './layer.js';
import { Conv2d, Conv3d, GlobalMaxPool, MaxPool, Relu } from './layers.js';

/** Options of the video encoder. */
export interface VideoEncoderOptions {
  /** Stage widths (default the tiny 16/32/64/128; the authors' are 64/128/256/512). */
  widths?: readonly number[];
  /**
   * The authors' stem ends with MaxPool3d((1,3,3), stride (1,2,2), padding (0,1,1)); AVID.md's table
   * leaves it out. Default true, as the authors' code.
   */
  stemPool?: boolean;
  /** (2+1)-D blocks per stage: 1 (the 9-layer net, default) or 2 (R(2+1)D-18, the authors' released net) */
  blocksPerStage?: number;
}

/**
 * R(2+1)D video encoder: Conv3d (3,7,7) stride (1,2,2) stem -> BN -> ReLU [-> max pool], one (2+1)-D block
 * per stage (stride 2 in t, h, w from the second stage on), global max pool. x [B, C, T, H, W] (C = 3 for RGB, 1 for grey) -> [B, widths[3]].
 * `videoEncoder()` on [16, 3, 8, 32, 32] gives [16, 128]
 */
export function videoEncoder(opts: VideoEncoderOptions = {}): Layer {
  const widths = opts.widths ?? [16, 32, 64, 128];
  return { ...serial({ ...videoStages(opts), pool: GlobalMaxPool() }), name: `videoEncoder(${widths.join('/')})` };
}

/** The video encoder's stages in order (stem, block1..block4), for running it block by block. */
export function videoStages({ widths = [16, 32, 64, 128], stemPool = true, blocksPerStage = 1 }: VideoEncoderOptions = {}): Record<string, Layer> {
  const stem: Record<string, Layer> = {
    conv: Conv3d(widths[0], [3, 7, 7], { stride: [1, 2, 2], padding: [1, 3, 3], bias: false }), bn: BatchNorm(), relu: Relu(),
  };
  if (stemPool) stem.pool = MaxPool([1, 3, 3], { stride: [1, 2, 2], padding: [0, 1, 1] });
  const stages: Record<string, Layer> = { stem: serial(stem) };
  widths.forEach((w, i) => {
    const first = R2plus1dBlock(i === 0 ? widths[0] : widths[i - 1], w, { stride: i === 0 ? 1 : 2 });
    // further blocks of a stage keep its width and size (R(2+1)D-18 has two)
    stages[`block${i + 1}`] = blocksPerStage === 1 ? first
      : serial(Object.fromEntries([first, ...Array.from({ length: blocksPerStage - 1 }, () => R2plus1dBlock(w, w))].map((b, j) => [`b${j + 1}`, b])));
  });
  return stages;
}

export interface AudioEncoderOptions {
  widths?: readonly number[];
  /**
   * Strides of the four blocks. AVID.md's table says 1,2,2,1 (the default here); the authors'
   * released Conv2D module uses 2,2,2,1.
   */
  strides?: readonly number[];
}

/**
 * The 9-layer 2-D audio convnet: 7x7 stride 2 stem -> BN -> ReLU, four blocks of two 3x3 conv -> BN
 * -> ReLU (no residual), global max pool. x [B, 1, time, freq] -> [B, widths[3]].
 * `audioEncoder()` on [16, 1, 100, 129] gives [16, 128]
 */
export function audioEncoder(opts: AudioEncoderOptions = {}): Layer {
  const widths = opts.widths ?? [16, 32, 64, 128];
  return { ...serial({ ...audioStages(opts), pool: GlobalMaxPool() }), name: `audioEncoder(${widths.join('/')})` };
}

/** The audio encoder's stages in order (stem, block1..block4), for running it block by block. */
export function audioStages({ widths = [16, 32, 64, 128], strides = [1, 2, 2, 1] }: AudioEncoderOptions = {}): Record<string, Layer> {
  const stages: Record<string, Layer> = { stem: ConvBnRelu(Conv2d(widths[0], 7, { stride: 2, padding: 3, bias: false })) };
  widths.forEach((w, i) => { stages[`block${i + 1}`] = Basic2dBlock(w, { stride: strides[i] }); });
  return stages;
}
