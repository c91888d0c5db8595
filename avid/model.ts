/**
 * The AVID model: a video encoder (R(2+1)D), an audio encoder (the 9-layer 2-D convnet), and per
 * modality an MLP head to a 128-d unit vector. Built from nn/ layers; params and BatchNorm state are
 * plain pytrees {video: {stem, block1..4, head}, audio: {...}}.
 *
 * NOTE: a BatchNorm sits between the pooled features and the head. The authors' head is a bare MLP;
 * with the tiny encoders, whose max-pooled features are all positive and share one large component,
 * that gives bunched embeddings (mean pairwise cosine of eval-mode test embeddings 0.87 video / 0.94
 * audio at init, 0.98 / 0.95 after 4 short epochs of Cross-AVID on 128 clips, measured), and NCE
 * drifts further into the collapse. With the BatchNorm the cosine starts at 0.67 / 0.61 (eval mode;
 * training mode 0.61 / 0.58 on a batch).
 * (Eval-mode embeddings used to stay bunched, cosine 0.84 or worse, while training-mode ones spread:
 * that was evaluation's BatchNorm recalibration keeping a trace of the init statistics, fixed there.)
 *
 * NOTE: the authors' stem ends with a (1,3,3) max pool of stride 2: at their 112x112 input block4
 * works on 4x4 (7x7 before its stride). At the tiny 32x32 the same stem leaves block3 2x2x2 and block4
 * 1x1x1, so the tiny default drops the pool (`videoStemPool: false`): blocks 1-4 see 16, 8, 4 and 2
 * pixels square, as the authors' see 28, 14, 7 and 4. It costs about 7% more per training step.
 *
 * `features` runs an encoder block by block and returns every block's globally max-pooled output:
 * the per-block features that AVID's linear probes evaluate (paper Table 1's block1..block4).
 */
import * as t from 'io-ts';
import * as np from '../core/index.js';
import * as nn from '../nn/index.js';

export interface ModelConfig {
  /** video stage widths: tiny 16/32/64/128, the authors' 64/128/256/512 */
  videoWidths: number[];
  /** the authors' stem ends with a (1,3,3) max pool; the tiny default leaves it out (see the NOTE above) */
  videoStemPool: boolean;
  /** (2+1)-D blocks per stage: tiny 1, the authors' released R(2+1)D-18 2 (default 1) */
  videoBlocks?: number;
  audioWidths: number[];
  /** strides of the four audio blocks (the earlier small model 1,2,2,1; the authors' released Conv2D 2,2,2,1) */
  audioStrides: number[];
  /** widths of the head's Linear layers, ending with the embedding size (authors: proj_dim [512, 512, 128]) */
  head: number[];
  /** a BatchNorm between the pooled features and the head (default true; see the NOTE above) */
  headBn?: boolean;
}

const Widths = t.array(t.refinement(t.number, (n) => Number.isInteger(n) && n > 0, 'PositiveInt'));

/** A ModelConfig as read from a file (a run's config.json, a safetensors file's metadata). */
export const ModelConfigC = t.intersection([
  t.type({ videoWidths: Widths, videoStemPool: t.boolean, audioWidths: Widths, audioStrides: Widths, head: Widths }),
  t.partial({ videoBlocks: t.refinement(t.number, (n) => Number.isInteger(n) && n > 0, 'PositiveInt'), headBn: t.boolean }),
]);

/**
 * The tiny default: the authors' layer structure (stem, four stages of one (2+1)-D block, the 9-layer
 * audio net, a three-layer head) at a quarter of their widths, for 32x32 clips on a CPU; no stem pool,
 * so the deep video blocks keep spatial extent at 32x32.
 */
export const tinyModel: ModelConfig = {
  videoWidths: [16, 32, 64, 128], videoStemPool: false, audioWidths: [16, 32, 64, 128], audioStrides: [1, 2, 2, 1], head: [128, 128, 128],
};

/** The authors' released model: R(2+1)D-18 video (two blocks per stage), Conv2D audio with strides 2,2,2,1, proj_dim [512, 512, 128]. */
export const authorsModel: ModelConfig = {
  videoWidths: [64, 128, 256, 512], videoStemPool: true, videoBlocks: 2, audioWidths: [64, 128, 256, 512], audioStrides: [2, 2, 2, 1], head: [512, 512, 128],
};

export type Modality = 'video' | 'audio';

const videoStages = (cfg: ModelConfig) => nn.videoStages({ widths: cfg.videoWidths, stemPool: cfg.videoStemPool, blocksPerStage: cfg.videoBlocks ?? 1 });
const audioStages = (cfg: ModelConfig) => nn.audioStages({ widths: cfg.audioWidths, strides: cfg.audioStrides });

export interface Model {
  readonly cfg: ModelConfig;
  init(key: np.Key, shapes: Record<Modality, number[]>): { params: nn.Tree; state: nn.Tree };
  /** unit embeddings [B, D] of both modalities, and the new BatchNorm state */
  embed(params: nn.Tree, state: nn.Tree, x: Record<Modality, np.Tensor>, opts: nn.ApplyOptions): { emb: Record<Modality, np.Tensor>; state: nn.Tree };
  /** globally max-pooled features [B, C] after each block (eval mode) */
  features(params: nn.Tree, state: nn.Tree, x: np.Tensor, m: Modality): np.Tensor[];
  /** those features and the unit embeddings [B, D] of one modality, from one eval-mode pass (what evaluation reads) */
  describe(params: nn.Tree, state: nn.Tree, x: np.Tensor, m: Modality): { blocks: np.Tensor[]; emb: np.Tensor };
}

/** The model for `cfg`. `avidModel(tinyModel)` */
export function avidModel(cfg: ModelConfig = tinyModel): Model {
  const stages: Record<Modality, Record<string, nn.Layer>> = { video: videoStages(cfg), audio: audioStages(cfg) };
  const encoder = (m: Modality) => nn.serial({ ...stages[m], pool: nn.GlobalMaxPool() });
  // what a tower does after its encoder's pool (which is the last block's pooled features)
  const tailLayers = () => ({ ...(cfg.headBn ?? true ? { bn: nn.BatchNorm() } : {}), head: nn.MLP(cfg.head), norm: nn.L2Normalize() });
  const towers = { video: nn.serial({ encoder: encoder('video'), ...tailLayers() }), audio: nn.serial({ encoder: encoder('audio'), ...tailLayers() }) };
  const tail = nn.serial(tailLayers());
  const features = (params: nn.Tree, state: nn.Tree, x: np.Tensor, m: Modality) => {
    const p = params[m].encoder, s = state[m].encoder;
    const out: np.Tensor[] = [];
    let h: nn.Value = x;
    for (const [name, layer] of Object.entries(stages[m])) {
      h = layer.apply(p[name], s[name], h, { train: false }).y;
      if (name.startsWith('block')) out.push(np.globalMaxPool(h as np.Tensor));
    }
    return out;
  };
  return {
    cfg,
    init(key, shapes) {
      const [kv, ka] = np.random.split(key);
      const v = towers.video.init(kv, shapes.video), a = towers.audio.init(ka, shapes.audio);
      return { params: { video: v.params, audio: a.params }, state: { video: v.state, audio: a.state } };
    },
    embed(params, state, x, opts) {
      const v = towers.video.apply(params.video, state.video, x.video, opts);
      const a = towers.audio.apply(params.audio, state.audio, x.audio, opts);
      return { emb: { video: v.y as np.Tensor, audio: a.y as np.Tensor }, state: { video: v.state, audio: a.state } };
    },
    features,
    describe(params, state, x, m) {
      const blocks = features(params, state, x, m);
      const { encoder: _p, ...p } = params[m], { encoder: _s, ...s } = state[m];
      return { blocks, emb: tail.apply(p, s, blocks[blocks.length - 1], { train: false }).y as np.Tensor };
    },
  };
}
