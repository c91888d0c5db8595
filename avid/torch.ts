/**
 * Checkpoints in the AVID authors' PyTorch layout (facebookresearch/AVID-CMA), as safetensors: a model
 * prototyped here loads into their `AV_Wrapper(R2Plus1D, Conv2D, proj_dim)` with
 * `load_state_dict(..., strict=True)`, and a checkpoint of theirs, converted, loads here.
 *
 * Our params are already in torch's layouts (Conv weight [out, in, ...k], Linear weight [out, in]);
 * what changes is the names. One rule per module maps our pytree path to their state_dict key
 * (models/video.py, audio.py, network_blocks.py, av_wrapper.py):
 *   video.encoder.stem.{conv,bn}                 video_model.conv1.{0,1}
 *   video.encoder.block2.b1.res.path.sptConv1    video_model.conv3x.0.spt_conv1   (one block a stage: conv3x.spt_conv1)
 *   video.encoder.block2.b1.res.shortcut         video_model.conv3x.0.res_conv
 *   video.encoder.block2.b1.outBn                video_model.conv3x.0.out_bn
 *   audio.encoder.block1.conv2.{conv,bn}         audio_model.block1.{conv2,bn2}
 *   video.head.fc{1,2,3}                         video_proj.projection.{0,2,4}
 * and BatchNorm's runningMean/runningVar are running_mean/running_var, beside num_batches_tracked (I64).
 * Their AV_Wrapper returns the heads' outputs unnormalised; their NCE criterion F.normalize's them,
 * where our model ends with L2Normalize.
 *
 * NOTE: their classes fix what our config varies: R2Plus1D's widths 64/128/256/512 (depth 10: one
 * block a stage, 18: two), Conv2D's widths and its block strides 2,2,2,1, the stem's max pool. So
 * `authorsModel` loads into their code as it is; a smaller model (tinyModel: quarter widths, audio
 * strides 1,2,2,1, no stem pool at 32x32) has their names and layouts but needs their classes built
 * with its widths, strides and stem (the file's metadata holds the config), as
 * spec/avid/torch.spec.ts's torch replica does. Neither strides nor the pool leave a trace in the
 * weights, so only the metadata tells them apart.
 *
 * NOTE: our model has a BatchNorm between the pooled features and each head (avid/model.ts says why);
 * theirs does not. Exporting folds it, by default, into the head's first Linear: in eval mode a
 * BatchNorm is x * s + t per feature (s = weight / sqrt(var + eps), t = bias - mean * s), so
 * W x' + b with x' = x * s + t is (W diag(s)) x + (W t + b): the same embeddings, in their
 * architecture. What is lost is the BatchNorm's training-mode behaviour, which their model never
 * had. `{headBn: 'keep'}` instead writes it as video_bn.* / audio_bn.*, names that are ours, not
 * theirs (their code then needs strict=False, or a BatchNorm1d module of that name). Importing a
 * file without those keys gives an identity BatchNorm (weight 1, bias 0, mean 0, var 1 - eps), so
 * eval-mode embeddings are theirs exactly; training here would bring the BatchNorm back into play.
 *
 *   const {params, state} = avidModel(authorsModel).init(key, {video: [1, 3, 8, 112, 112], audio: [1, 1, 200, 257]})
 *   exportTorch('avid.safetensors', authorsModel, params, state)       // then, in their repo:
 *   # sd = {k: torch.from_numpy(v) for k, v in safetensors.numpy.load_file('avid.safetensors').items()}
 *   # av_wrapper('R2Plus1D', {'depth': 18}, 'Conv2D', {'depth': 10}, proj_dim=[512, 512, 128]).load_state_dict(sd)
 *   # their av_wrapper(..., checkpoint=f) and eval scripts read torch.save({'model': {'module.' + k: v ...}}, f)
 *   const {params, bn, cfg} = importTorch('avid_kinetics.safetensors')  // theirs, converted with
 *   # save_file({k.replace('module.', '', 1): v for k, v in torch.load(f)['model'].items()}, out)
 */
import { isLeft } from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { writeFileSync } from 'node:fs';
import * as np from '../core/index.js';
import type * as nn from '../nn/index.js';
import { authorsModel, avidModel, type ModelConfig, ModelConfigC } from './model.js';
import { readSafetensors, safetensors, type StTensor } from './safetensors.js';

/** A state_dict: names to arrays and shapes, as safetensors holds them. */
export type TorchTensors = Record<string, StTensor>;

/** nn.BatchNorm's default eps, which avid/model.ts's BatchNorms all use (as torch's). */
const EPS = 1e-5;

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const stage = (i: string, b?: string) => `conv${Number(i) + 1}x${b ? `.${Number(b) - 1}` : ''}`;
const videoModule = (m: string) => (m === 'res.shortcut' ? 'res_conv' : snake(m.replace(/^res\.path\./, '')));

/** Our path (as 'video.head.fc1.weight') to their key; each rule is one kind of module. */
const rules: [RegExp, (...g: string[]) => string][] = [
  [/^(video|audio)\.encoder\.stem\.(conv|bn)\.(\w+)$/, (m, mod, leaf) => `${m}_model.conv1.${mod === 'conv' ? 0 : 1}.${snake(leaf)}`],
  [/^video\.encoder\.block(\d)\.(?:b(\d+)\.)?(res\.path\.\w+|res\.shortcut|outBn)\.(\w+)$/, (i, b, mod, leaf) => `video_model.${stage(i, b)}.${videoModule(mod)}.${snake(leaf)}`],
  [/^audio\.encoder\.block(\d)\.conv([12])\.(conv|bn)\.(\w+)$/, (i, k, mod, leaf) => `audio_model.block${i}.${mod}${k}.${snake(leaf)}`],
  [/^(video|audio)\.head\.fc(\d+)\.(weight|bias)$/, (m, k, leaf) => `${m}_proj.projection.${2 * (Number(k) - 1)}.${leaf}`],
  [/^(video|audio)\.bn\.(\w+)$/, (m, leaf) => `${m}_bn.${snake(leaf)}`], // ours, not the authors'
];

/**
 * The authors' state_dict key of one of our params or BatchNorm statistics, by its path.
 * `authorsName(['video', 'encoder', 'block1', 'res', 'path', 'sptConv1', 'weight'])` is 'video_model.conv2x.spt_conv1.weight'
 */
export function authorsName(path: readonly string[]): string {
  const p = path.join('.');
  for (const [re, name] of rules) {
    const g = re.exec(p);
    if (g) return name(...g.slice(1));
  }
  throw new Error(`torch: no authors' name for ${p} (a part of the model this mapping does not know)`);
}

/** Every tensor of a pytree with its path. */
function leaves(tree: nn.Tree, path: string[] = []): [string[], np.Tensor][] {
  if (tree instanceof np.Tensor) return [[path, tree]];
  return Object.entries(tree ?? {}).flatMap(([k, v]) => leaves(v, [...path, k]));
}

/** The tree with each tensor replaced by f(path, tensor). */
function mapPaths(tree: nn.Tree, f: (path: string[], x: np.Tensor) => np.Tensor, path: string[] = []): nn.Tree {
  if (tree instanceof np.Tensor) return f(path, tree);
  if (Array.isArray(tree)) return tree.map((v, i) => mapPaths(v, f, [...path, String(i)]));
  return Object.fromEntries(Object.entries(tree ?? {}).map(([k, v]) => [k, mapPaths(v, f, [...path, k])]));
}

const f32 = (x: np.Tensor) => (x.dtype === 'float32' ? x.dataSync() as Float32Array : Float32Array.from(x.dataSync()));

/** Their R2Plus1D always max-pools after the stem; without that pool the names fit and the function differs. */

/** The first Linear of a head with the BatchNorm before it folded in (eval mode), computed in float64. */
function foldBn(w: np.Tensor, b: np.Tensor, bnParams: nn.Tree, bnState: nn.Tree): { weight: StTensor; bias: StTensor } {
  const [out, inp] = w.shape, W = w.dataSync(), B = b.dataSync();
  const g = bnParams.weight.dataSync(), beta = bnParams.bias.dataSync(), mean = bnState.runningMean.dataSync(), v = bnState.runningVar.dataSync();
  const s = new Float64Array(inp), sh = new Float64Array(inp);
  for (let i = 0; i < inp; i++) { s[i] = g[i] / Math.sqrt(v[i] + EPS); sh[i] = beta[i] - mean[i] * s[i]; }
  const weight = new Float32Array(out * inp), bias = new Float32Array(out);
  for (let o = 0; o < out; o++) {
    let acc = B[o];
    for (let i = 0; i < inp; i++) { weight[o * inp + i] = W[o * inp + i] * s[i]; acc += W[o * inp + i] * sh[i]; }
    bias[o] = acc;
  }
  return { weight: { data: weight, shape: [out, inp] }, bias: { data: bias, shape: [out] } };
}

export interface ToAuthorsOptions {
  /** Our BatchNorm before each head: folded into the head's first Linear (default), or kept as video_bn.* / audio_bn.*. */
  headBn?: 'fold' | 'keep';
}

/**
 * Our params and BatchNorm state as the authors' AV_Wrapper state_dict (float32; num_batches_tracked 0).
 * `toAuthors(tinyModel, params, state)['video_proj.projection.0.weight'].shape` is [128, 128]
 */
export function toAuthors(cfg: ModelConfig, params: nn.Tree, bn: nn.Tree, { headBn = 'fold' }: ToAuthorsOptions = {}): TorchTensors {
  checkAgainst(cfg, params, bn);
  const out: TorchTensors = {};
  for (const m of ['video', 'audio'] as const) {
    const skip = (path: string[]) => headBn === 'fold' && path[1] === 'bn';
    for (const [path, x] of leaves(params[m], [m])) if (!skip(path)) out[authorsName(path)] = { data: f32(x), shape: x.shape };
    for (const [path, x] of leaves(bn[m], [m])) {
      if (skip(path)) continue;
      const name = authorsName(path);
      out[name] = { data: f32(x), shape: x.shape };
      // torch counts batches beside the statistics; it only reads the count when momentum is None, which neither side uses
      if (path.at(-1) === 'runningVar') out[name.replace(/running_var$/, 'num_batches_tracked')] = { data: new BigInt64Array(1), shape: [] };
    }
    if (headBn === 'fold' && params[m].bn) { // a model built with headBn: false has none to fold
      const fc = params[m].head.fc1, folded = foldBn(fc.weight, fc.bias, params[m].bn, bn[m].bn);
      out[`${m}_proj.projection.0.weight`] = folded.weight;
      out[`${m}_proj.projection.0.bias`] = folded.bias;
    }
  }
  return out;
}

/** A fresh model of `cfg` (its init), for the structure and shapes a checkpoint must have. */
function template(cfg: ModelConfig, videoChannels: number) {
  return avidModel(cfg).init(np.random.key(0), { video: [1, videoChannels, 8, 32, 32], audio: [1, 1, 100, 40] });
}

/** Throw, listing them, if params or bn differ in paths or shapes from a model of `cfg`. */
function checkAgainst(cfg: ModelConfig, params: nn.Tree, bn: nn.Tree): void {
  const { params: p, state: s } = template(cfg, params?.video?.encoder?.stem?.conv?.weight?.shape?.[1] ?? 3);
  const shapes = (tree: nn.Tree) => new Map(leaves(tree).map(([path, x]) => [path.join('.'), x.shape.join(', ')]));
  const diffs: string[] = [];
  for (const [what, have, want] of [['params', params, p], ['bn', bn, s]] as const) {
    const h = shapes(have), w = shapes(want);
    for (const [k, sh] of w) if (!h.has(k)) diffs.push(`${what}.${k}: missing`); else if (h.get(k) !== sh) diffs.push(`${what}.${k}: shape [${h.get(k)}], the model needs [${sh}]`);
    for (const k of h.keys()) if (!w.has(k)) diffs.push(`${what}.${k}: not in the model`);
  }
  if (diffs.length) throw new Error(`toAuthors: params and bn are not a model of this config (${diffs.length}):\n  ${diffs.slice(0, 20).join('\n  ')}${diffs.length > 20 ? '\n  ...' : ''}`);
}

/**
 * The reverse: a state_dict of the authors' AV_Wrapper (keys may carry DataParallel's 'module.')
 * as our params and BatchNorm state for `cfg`. Missing, unexpected and mis-shaped keys are all
 * listed in one Error. `const {params, bn} = fromAuthors(authorsModel, readSafetensors(f).tensors)`
 */
export function fromAuthors(cfg: ModelConfig, tensors: TorchTensors): { params: nn.Tree; bn: nn.Tree } {
  const named = Object.keys(tensors).every((k) => k.startsWith('module.'))
    ? Object.fromEntries(Object.entries(tensors).map(([k, v]) => [k.slice('module.'.length), v])) : tensors;
  const { params: p, state: s } = template(cfg, named['video_model.conv1.0.weight']?.shape[1] ?? 3);
  const used = new Set<string>(), problems: string[] = [];
  const hasBn = new Set(Object.keys(named).filter((k) => /^(video|audio)_bn\./.test(k)).map((k) => k.split('_')[0]));
  const identity: Record<string, number> = { weight: 1, bias: 0, runningMean: 0, runningVar: 1 - EPS };
  const take = (path: string[], like: np.Tensor): np.Tensor => {
    if (path[1] === 'bn' && !hasBn.has(path[0])) return np.full(like.shape, identity[path.at(-1)!], 'float32');
    const name = authorsName(path), v = named[name], ours = `(ours: ${path.join('.')})`;
    used.add(name);
    if (name.endsWith('running_var')) used.add(name.replace(/running_var$/, 'num_batches_tracked'));
    if (!v) { problems.push(`missing ${name} [${like.shape.join(', ')}] ${ours}`); return like; }
    if (v.shape.join() !== like.shape.join()) { problems.push(`${name}: shape [${v.shape.join(', ')}], the model needs [${like.shape.join(', ')}] ${ours}`); return like; }
    if (!(v.data instanceof Float32Array || v.data instanceof Float64Array)) { problems.push(`${name}: integer data, a float tensor expected ${ours}`); return like; }
    return np.tensor(v.data instanceof Float32Array ? v.data : Float32Array.from(v.data), { shape: v.shape });
  };
  const params = mapPaths(p, take), bn = mapPaths(s, take);
  const extra = Object.keys(named).filter((k) => !used.has(k));
  for (const k of extra) problems.push(`unexpected ${k} [${named[k].shape.join(', ')}] (not in a model of this config)`);
  if (problems.length) {
    throw new Error(`fromAuthors: the state_dict does not fit the model (${problems.length} problem${problems.length > 1 ? 's' : ''}):\n  ${problems.slice(0, 30).join('\n  ')}${problems.length > 30 ? `\n  ... and ${problems.length - 30} more` : ''}`);
  }
  return { params, bn };
}


/**
 * Write `params` and `bn` as a safetensors file in the authors' layout; the config goes in its metadata.
 * `exportTorch('avid.safetensors', tinyModel, params, state)`
 */
export function exportTorch(file: string, cfg: ModelConfig, params: nn.Tree, bn: nn.Tree, opts: ToAuthorsOptions = {}): void {
  const headBn = opts.headBn ?? 'fold';
  writeFileSync(file, safetensors(toAuthors(cfg, params, bn, { headBn }), {
    format: 'state_dict of AV_Wrapper, facebookresearch/AVID-CMA models/av_wrapper.py',
    'avid_fn.model': JSON.stringify(cfg),
    'avid_fn.head_bn': headBn === 'fold' ? 'folded into video_proj.projection.0 and audio_proj.projection.0 (eval mode)'
      : 'kept as video_bn.* and audio_bn.*: BatchNorm1d between the pooled features and the head, not in the authors\' model',
  }));
}

/**
 * Read a safetensors state_dict in the authors' layout: ours (the config from its metadata) or
 * theirs (give `cfg`; without one, their released model `authorsModel` is assumed).
 * NOTE: strides leave no trace in the weights, so a wrong `cfg.audioStrides` loads without complaint.
 * `const {cfg, params, bn} = importTorch('avid.safetensors')`
 */
export function importTorch(file: string, cfg?: ModelConfig): { cfg: ModelConfig; params: nn.Tree; bn: nn.Tree } {
  const { tensors, metadata } = readSafetensors(file);
  let config = cfg ?? authorsModel;
  if (!cfg && metadata['avid_fn.model'] !== undefined) {
    let raw: unknown;
    try { raw = JSON.parse(metadata['avid_fn.model']); } catch { raw = undefined; }
    const r = ModelConfigC.decode(raw);
    if (isLeft(r)) throw new Error(`${file}: metadata avid_fn.model is not a model config: ${metadata['avid_fn.model'].slice(0, 200)}`);
    config = r.right;
  }
  try {
    return { cfg: config, ...fromAuthors(config, tensors) };
  } catch (e) { throw new Error(`${file}: ${(e as Error).message}`); }
}
