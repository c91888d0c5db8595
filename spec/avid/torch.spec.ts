/**
 * Interop with the AVID authors' PyTorch code (avid/torch.ts) and the safetensors reader under it:
 * our params round-trip through their state_dict names exactly; a torch replica of their modules
 * (facebookresearch/AVID-CMA models/*.py, same attribute names) loads our export with strict=True and
 * computes our embeddings and block features to 1e-4, and a state_dict it writes loads here; and
 * hostile or truncated safetensors files give errors naming the file and the field, never a crash
 * or a large allocation. The torch part needs /usr/bin/python3 with torch and numpy (Debian's
 * python3-torch, python3-numpy): skipped without them, a failure in CI.
 */
import test from 'tape';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as np from '../../core/index.js';
import * as nn from '../../nn/index.js';
import { program } from '../../avid/cli.js';
import { npy } from '../../avid/export.js';
import { avidModel, type ModelConfig, tinyModel } from '../../avid/model.js';
import { decodeSafetensors, MAX_HEADER, readSafetensors, safetensors } from '../../avid/safetensors.js';
import { authorsName, exportTorch, fromAuthors, importTorch, toAuthors } from '../../avid/torch.js';
import { inCi } from '../tools.js';

const tmp = mkdtempSync(join(tmpdir(), 'avid-torch-'));
test.onFinish(() => rmSync(tmp, { recursive: true, force: true }));

/** The authors' released structure (two blocks a stage, audio strides 2,2,2,1, a three-layer head) at small widths. */
const narrowAuthors: ModelConfig = { videoWidths: [8, 16, 24, 32], videoStemPool: true, videoBlocks: 2, audioWidths: [8, 16, 24, 32], audioStrides: [2, 2, 2, 1], head: [32, 32, 16] };
const configs: [string, ModelConfig][] = [['tinyModel', tinyModel], ['authors\' structure, narrow', narrowAuthors]];
const shapes = { video: [2, 3, 8, 32, 32], audio: [2, 1, 100, 40] };

/** A model whose every BatchNorm has non-trivial weights and eval statistics. */
function randomModel(cfg: ModelConfig, seed = 0) {
  const model = avidModel(cfg), { params, state } = model.init(np.random.key(seed), shapes);
  let k = np.random.key(seed + 100);
  const draw = (f: (key: np.Key) => np.Tensor) => { const [a, b] = np.random.split(k); k = a; return f(b); };
  const isBn = (path: string[]) => /^(bn|sptBn\d|tmpBn\d|outBn)$/.test(path[path.length - 2]);
  const walk = (tree: nn.Tree, f: (path: string[], x: np.Tensor) => np.Tensor, path: string[] = []): nn.Tree =>
    tree instanceof np.Tensor ? f(path, tree) : Object.fromEntries(Object.entries(tree).map(([n, v]) => [n, walk(v, f, [...path, n])]));
  const p = walk(params, (path, x) => (!isBn(path) ? x : path.at(-1) === 'weight'
    ? draw((key) => np.add(np.mul(np.random.normal(key, x.shape), 0.3), 1)) : draw((key) => np.mul(np.random.normal(key, x.shape), 0.2))));
  const bn = walk(state, (path, x) => (path.at(-1) === 'runningMean'
    ? draw((key) => np.mul(np.random.normal(key, x.shape), 0.3)) : draw((key) => np.random.uniform(key, x.shape, { minval: 0.5, maxval: 2 }))));
  return { model, params: p, bn };
}

const flat = (tree: nn.Tree, path = ''): [string, np.Tensor][] =>
  tree instanceof np.Tensor ? [[path, tree]] : Object.entries(tree).flatMap(([k, v]) => flat(v, path ? `${path}.${k}` : k));
/** Paths whose tensors differ (shape or any bit) between two trees, or that one lacks. */
function differences(a: nn.Tree, b: nn.Tree): string[] {
  const fa = new Map(flat(a)), fb = new Map(flat(b)), out: string[] = [];
  for (const [k, x] of fa) {
    const y = fb.get(k);
    const yd = y?.dataSync();
    if (!y || !yd || x.shape.join() !== y.shape.join() || x.dataSync().some((v, i) => !Object.is(v, yd[i]))) out.push(k);
  }
  for (const k of fb.keys()) if (!fa.has(k)) out.push(k);
  return out;
}
const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => { let m = a.length === b.length ? 0 : Infinity; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i])); return m; };

test('authors\' names: one rule per module, as their state_dict spells them', (t) => {
  const names = (cfg: ModelConfig) => {
    const { params, bn } = randomModel(cfg);
    return Object.keys(toAuthors(cfg, params, bn));
  };
  const tiny = names(tinyModel), narrow = names(narrowAuthors);
  for (const k of ['video_model.conv1.0.weight', 'video_model.conv1.1.running_var', 'video_model.conv2x.spt_conv1.weight', 'video_model.conv3x.res_conv.weight',
    'video_model.conv5x.out_bn.num_batches_tracked', 'audio_model.conv1.1.bias', 'audio_model.block4.bn2.running_mean', 'video_proj.projection.4.bias', 'audio_proj.projection.2.weight']) {
    t.ok(tiny.includes(k), `tinyModel (one block a stage) has ${k}`);
  }
  for (const k of ['video_model.conv2x.0.tmp_conv2.weight', 'video_model.conv2x.1.spt_bn1.weight', 'video_model.conv3x.0.res_conv.weight', 'video_model.conv5x.1.out_bn.running_var']) {
    t.ok(narrow.includes(k), `two blocks a stage (R(2+1)D-18) has ${k}`);
  }
  t.notOk(narrow.some((k) => k.includes('conv2x.0.res_conv') || k.includes('conv3x.1.res_conv')), 'a shortcut conv only where width or stride changes, as theirs');
  t.notOk(tiny.some((k) => /^(video|audio)_bn\./.test(k)), 'the default export folds our head BatchNorm: no keys outside their model');
  t.equal(narrow.filter((k) => k.endsWith('num_batches_tracked')).length, narrow.filter((k) => k.endsWith('running_mean')).length, 'num_batches_tracked beside every BatchNorm');
  t.throws(() => authorsName(['video', 'encoder', 'block1', 'mystery', 'weight']), /no authors' name for video\.encoder\.block1\.mystery\.weight/, 'an unknown part of the model is an error, not a guess');
  t.end();
});

for (const [label, cfg] of configs) {
  test(`${label}: ours -> authors -> ours is exact`, (t) => {
    const { model, params, bn } = randomModel(cfg);
    const kept = toAuthors(cfg, params, bn, { headBn: 'keep' });
    t.ok(kept['video_bn.running_var'] && kept['audio_bn.weight'], 'headBn keep: our BatchNorm as video_bn.* / audio_bn.*');
    const back = fromAuthors(cfg, kept);
    t.deepEqual(differences(back.params, params), [], 'params bit for bit');
    t.deepEqual(differences(back.bn, bn), [], 'BatchNorm statistics bit for bit');

    const file = join(tmp, `keep-${cfg.videoBlocks ?? 1}.safetensors`);
    exportTorch(file, cfg, params, bn, { headBn: 'keep' });
    const viaFile = importTorch(file);
    t.deepEqual(viaFile.cfg, cfg, 'the config comes back from the file\'s metadata');
    t.deepEqual([...differences(viaFile.params, params), ...differences(viaFile.bn, bn)], [], 'and the tensors, through a file');

    // folded: their architecture, our function (eval mode); theirs -> ours -> theirs is exact
    const folded = toAuthors(cfg, params, bn);
    const ours = fromAuthors(cfg, folded);
    const x = { video: np.random.normal(np.random.key(7), shapes.video), audio: np.random.normal(np.random.key(8), shapes.audio) };
    const e0 = model.embed(params, bn, x, { train: false }).emb, e1 = model.embed(ours.params, ours.bn, x, { train: false }).emb;
    const d = Math.max(maxAbs(e0.video.dataSync(), e1.video.dataSync()), maxAbs(e0.audio.dataSync(), e1.audio.dataSync()));
    t.ok(d < 1e-5, `folding the head BatchNorm keeps the embeddings (max |diff| ${d.toExponential(1)})`);
    const again = toAuthors(cfg, ours.params, ours.bn);
    const changed = Object.keys(folded).filter((k) => !again[k] || again[k].data.some((v, i) => v !== folded[k].data[i]));
    t.deepEqual(changed, [], 'their checkpoint -> ours (identity BatchNorm) -> theirs, bit for bit');
    t.end();
  });
}

test('fromAuthors: every missing, unexpected and mis-shaped key in one error; DataParallel\'s module. prefix is fine', (t) => {
  const { params, bn } = randomModel(tinyModel);
  const sd = toAuthors(tinyModel, params, bn);
  const prefixed = Object.fromEntries(Object.entries(sd).map(([k, v]) => [`module.${k}`, v]));
  t.deepEqual(differences(fromAuthors(tinyModel, prefixed).params, fromAuthors(tinyModel, sd).params), [], 'module.-prefixed keys (their checkpoint[\'model\']) load the same');
  const broken = { ...sd, 'video_model.conv9x.spt_conv1.weight': sd['video_model.conv2x.spt_conv1.weight'], 'audio_model.block1.conv1.weight': { data: new Float32Array(4), shape: [2, 2] } };
  delete (broken as Record<string, unknown>)['video_proj.projection.2.bias'];
  const message = (() => { try { fromAuthors(tinyModel, broken); return ''; } catch (e) { return (e as Error).message; } })();
  t.match(message, /3 problems/, 'one error for the three problems');
  t.match(message, /missing video_proj\.projection\.2\.bias \[128\] \(ours: video\.head\.fc2\.bias\)/, 'names the missing key, its shape and our path');
  t.match(message, /unexpected video_model\.conv9x\.spt_conv1\.weight/, 'names the unexpected key');
  t.match(message, /audio_model\.block1\.conv1\.weight: shape \[2, 2\], the model needs \[16, 16, 3, 3\]/, 'names the mis-shaped key and both shapes');
  t.throws(() => fromAuthors(narrowAuthors, sd), /does not fit the model/, 'a checkpoint of another config is refused');
  t.throws(() => toAuthors(narrowAuthors, params, bn), /not a model of this config/, 'params of another config are refused on export');
  t.end();
});

test('avid export --run writes the run\'s model in the authors\' layout', async (t) => {
  const { params, bn } = randomModel(tinyModel), run = join(tmp, 'run');
  nn.saveCheckpoint(join(run, 'checkpoint'), { params, bn }, { step: 3 });
  writeFileSync(join(run, 'config.json'), JSON.stringify({ version: 1, options: {}, stats: { mean: [], std: [] }, model: tinyModel }));
  const lines: string[] = [], out = join(tmp, 'run.safetensors');
  await program((l) => lines.push(l)).parseAsync(['export', '--run', run, '--out', out, '--keep-bn'], { from: 'user' });
  t.match(lines.join('\n'), /wrote .*run\.safetensors/, 'says what it wrote');
  const back = importTorch(out);
  t.deepEqual([...differences(back.params, params), ...differences(back.bn, bn)], [], 'the checkpoint\'s tensors, exactly');
  await program(() => {}).parseAsync(['export', '--run', run, '--out', join(tmp, 'x.npy')], { from: 'user' }).then(() => t.fail('accepted .npy'), (e) => t.match(String(e.message), /ending in \.safetensors/, '--out must be .safetensors'));
  t.end();
});

// ---- the reader against truncated and hostile files ----

/** A safetensors file from a header (object or raw text), data bytes, and optionally a forged header length. */
function forge(name: string, header: unknown, data = new Uint8Array(0), len?: bigint): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const bytes = new Uint8Array(8 + json.length + data.length);
  new DataView(bytes.buffer).setBigUint64(0, len ?? BigInt(json.length), true);
  bytes.set(json, 8);
  bytes.set(data, 8 + json.length);
  const file = join(tmp, name);
  writeFileSync(file, bytes);
  return file;
}
const gc = () => (globalThis as { gc?: () => void }).gc?.();

test('safetensors: writer and reader agree on every dtype, shapes [] and [0], and metadata', (t) => {
  const tensors = {
    a: { data: Float32Array.from([1.5, -2, 3, 4, 5, 6]), shape: [2, 3] }, b: { data: Float64Array.from([Math.PI]), shape: [] },
    c: { data: Int32Array.from([-7, 8]), shape: [2] }, d: { data: BigInt64Array.from([2n ** 40n]), shape: [1] }, e: { data: new Float32Array(0), shape: [0, 5] },
  };
  const back = decodeSafetensors(safetensors(tensors, { note: 'hi' }), 'mem');
  t.deepEqual(back.metadata, { note: 'hi' });
  for (const [k, v] of Object.entries(tensors)) {
    t.deepEqual([back.tensors[k].data.constructor.name, back.tensors[k].shape, Array.from(back.tensors[k].data as ArrayLike<unknown>)], [v.data.constructor.name, v.shape, Array.from(v.data as ArrayLike<unknown>)], `${k}: ${v.data.constructor.name} [${v.shape}]`);
  }
  t.end();
});

test('safetensors: hostile headers give an error naming the file and the field, and allocate nothing big', (t) => {
  const f32 = (n: number) => new Uint8Array(4 * n);
  const cases: [string, string, RegExp][] = [
    ['empty header', forge('empty.safetensors', ''), /empty\.safetensors: header is not valid JSON/],
    ['header length beyond the file', forge('long.safetensors', {}, f32(1), 1000n), /long\.safetensors: header length 1000 runs past the end of the file \(14 bytes/],
    ['header length 2^60', forge('huge.safetensors', {}, f32(1), 2n ** 60n), /huge\.safetensors: header length 1152921504606846976 is over the 100000000-byte cap/],
    ['not JSON', forge('json.safetensors', '{"a": {"dtype": "F32",'), /json\.safetensors: header is not valid JSON/],
    ['not an object', forge('array.safetensors', [1, 2]), /array\.safetensors: header is not a JSON object/],
    ['entry not an object', forge('entry.safetensors', { w: 3 }), /entry\.safetensors: tensor "w" is not an object/],
    ['bad dtype', forge('dtype.safetensors', { w: { dtype: 'Q8', shape: [1], data_offsets: [0, 1] } }, f32(1)), /dtype\.safetensors: tensor "w": dtype "Q8" is not one of F32, F64, I32, I64/],
    ['half precision', forge('f16.safetensors', { w: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } }, f32(1)), /f16\.safetensors: tensor "w": dtype "F16" .*convert it to float32/],
    ['negative shape', forge('neg.safetensors', { w: { dtype: 'F32', shape: [-1, 4], data_offsets: [0, 16] } }, f32(4)), /neg\.safetensors: tensor "w": shape \[-1,4\] is not an array of non-negative integers/],
    ['fractional shape', forge('frac.safetensors', { w: { dtype: 'F32', shape: [2.5], data_offsets: [0, 10] } }, f32(3)), /frac\.safetensors: tensor "w": shape \[2\.5\]/],
    ['string shape', forge('str.safetensors', { w: { dtype: 'F32', shape: ['4'], data_offsets: [0, 16] } }, f32(4)), /str\.safetensors: tensor "w": shape \["4"\]/],
    ['shape 2^53 x 2^53', forge('big.safetensors', { w: { dtype: 'F32', shape: [2 ** 52, 2 ** 52], data_offsets: [0, 16] } }, f32(4)), /big\.safetensors: tensor "w": data_offsets \[0, 16\] hold 16 bytes but shape .* needs more than 2\^53/],
    ['offsets past the data', forge('past.safetensors', { w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32(3)), /past\.safetensors: tensor "w": data_offsets \[0, 16\] run past the data section's 12 bytes/],
    ['offsets reversed', forge('rev.safetensors', { w: { dtype: 'F32', shape: [1], data_offsets: [8, 4] } }, f32(3)), /rev\.safetensors: tensor "w": data_offsets \[8,4\] is not \[begin, end\]/],
    ['offsets not two', forge('three.safetensors', { w: { dtype: 'F32', shape: [1], data_offsets: [0, 4, 8] } }, f32(3)), /three\.safetensors: tensor "w": data_offsets \[0,4,8\]/],
    ['overlapping', forge('overlap.safetensors', { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, z: { dtype: 'F32', shape: [1], data_offsets: [20, 24] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, f32(6)),
      /overlap\.safetensors: tensor "b": data_offsets \[8, 16\] overlap tensor "a"'s \[0, 16\]/],
    ['size mismatch', forge('model.safetensors', { 'video.stem.0.weight': { dtype: 'F32', shape: [4, 4], data_offsets: [0, 12] } }, f32(3)),
      /model\.safetensors: tensor "video\.stem\.0\.weight": data_offsets \[0, 12\] hold 12 bytes but shape \[4, 4\] of F32 needs 64/],
    ['metadata not strings', forge('meta.safetensors', { __metadata__: { n: 3 } }), /meta\.safetensors: __metadata__\.n is not a string/],
  ];
  writeFileSync(join(tmp, 'short.safetensors'), new Uint8Array(5));
  cases.push(['five bytes', join(tmp, 'short.safetensors'), /short\.safetensors: 5 bytes, too short/]);
  gc();
  const before = process.memoryUsage().arrayBuffers;
  for (const [what, file, re] of cases) t.throws(() => readSafetensors(file), re, what);
  gc();
  const grown = process.memoryUsage().arrayBuffers - before;
  t.ok(grown < 4e6, `no large allocation (array buffers grew ${grown} bytes)`);
  t.equal(MAX_HEADER, 100_000_000, 'the header cap is 100 MB');
  t.end();
});

test('safetensors: every truncation of a file, and random byte damage, is an error naming the file (never a crash)', (t) => {
  const good = safetensors({ w: { data: Float32Array.from([1, 2, 3, 4]), shape: [2, 2] }, n: { data: BigInt64Array.from([5n]), shape: [] } }, { a: 'b' });
  const file = join(tmp, 'cut.safetensors');
  const outcome = (bytes: Uint8Array) => {
    writeFileSync(file, bytes);
    try { readSafetensors(file); return 'read'; } catch (e) { return e instanceof Error && e.message.startsWith(`${file}: `) ? 'named' : `other: ${e}`; }
  };
  const cuts = Array.from({ length: good.length }, (_, n) => outcome(good.subarray(0, n)));
  t.deepEqual([...new Set(cuts)], ['named'], `all ${good.length} truncations: an error naming the file`);
  let seed = 1;
  const rand = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
  const seen = new Set<string>();
  for (let i = 0; i < 300; i++) {
    const bad = Uint8Array.from(good);
    for (let j = 0; j < 1 + rand(3); j++) bad[rand(bad.length)] = rand(256);
    seen.add(outcome(bad));
  }
  t.deepEqual([...seen].filter((o) => o !== 'read' && o !== 'named'), [], `300 damaged copies: each read or refused by name (${[...seen].join(', ')})`);
  t.end();
});

// ---- against PyTorch: a replica of the authors' modules loads our export with strict=True ----

const PYTHON = '/usr/bin/python3';
const torchHere = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8' }).status === 0;

/** The authors' modules (facebookresearch/AVID-CMA models/network_blocks.py, video.py, audio.py, av_wrapper.py) with their attribute names. */
const script = String.raw`
import json, struct, sys
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(1)

def load_safetensors(path):  # by hand: 8-byte little-endian header length, JSON header, raw bytes
    raw = open(path, 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    header, kinds, out = json.loads(raw[8:8 + n]), {'F32': np.float32, 'F64': np.float64, 'I32': np.int32, 'I64': np.int64}, {}
    for name, e in header.items():
        if name != '__metadata__':
            b, end = e['data_offsets']
            out[name] = torch.from_numpy(np.frombuffer(raw[8 + n + b:8 + n + end], dtype=kinds[e['dtype']]).reshape(e['shape']).copy())
    return out

def save_safetensors(tensors, path):
    header, blobs, off = {}, [], 0
    for k, v in tensors.items():
        a = v.detach().contiguous().numpy()
        header[k] = {'dtype': {'float32': 'F32', 'int64': 'I64'}[str(a.dtype)], 'shape': list(a.shape), 'data_offsets': [off, off + a.nbytes]}
        blobs.append(a.tobytes()); off += a.nbytes
    h = json.dumps(header).encode(); h += b' ' * (-len(h) % 8)
    open(path, 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(blobs))

# Their modules and attribute names; widths, blocks per stage and audio strides are parameters here where their code fixes them.
class Basic2DBlock(nn.Module):
    def __init__(self, in_planes, out_planes, stride=(1, 1)):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, out_planes, kernel_size=(3, 3), padding=(1, 1), stride=stride, bias=False)
        self.bn1 = nn.BatchNorm2d(out_planes)
        self.conv2 = nn.Conv2d(out_planes, out_planes, kernel_size=(3, 3), padding=(1, 1), bias=False)
        self.bn2 = nn.BatchNorm2d(out_planes)
        self.relu = nn.ReLU(inplace=True)
    def forward(self, x):
        return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))))

class BasicR2P1DBlock(nn.Module):
    def __init__(self, in_planes, out_planes, stride=(1, 1, 1)):
        super().__init__()
        self.spt_conv1 = nn.Conv3d(in_planes, out_planes, kernel_size=(1, 3, 3), stride=(1, stride[1], stride[2]), padding=(0, 1, 1), bias=False)
        self.spt_bn1 = nn.BatchNorm3d(out_planes)
        self.tmp_conv1 = nn.Conv3d(out_planes, out_planes, kernel_size=(3, 1, 1), stride=(stride[0], 1, 1), padding=(1, 0, 0), bias=False)
        self.tmp_bn1 = nn.BatchNorm3d(out_planes)
        self.spt_conv2 = nn.Conv3d(out_planes, out_planes, kernel_size=(1, 3, 3), padding=(0, 1, 1), bias=False)
        self.spt_bn2 = nn.BatchNorm3d(out_planes)
        self.tmp_conv2 = nn.Conv3d(out_planes, out_planes, kernel_size=(3, 1, 1), padding=(1, 0, 0), bias=False)
        self.out_bn = nn.BatchNorm3d(out_planes)
        self.relu = nn.ReLU(inplace=True)
        self.res = in_planes != out_planes or any(s != 1 for s in stride)
        if self.res:
            self.res_conv = nn.Conv3d(in_planes, out_planes, kernel_size=(1, 1, 1), stride=stride, bias=False)
    def forward(self, x):
        m = self.relu(self.tmp_bn1(self.tmp_conv1(self.relu(self.spt_bn1(self.spt_conv1(x))))))
        m = self.tmp_conv2(self.relu(self.spt_bn2(self.spt_conv2(m))))
        return self.relu(self.out_bn(m + (self.res_conv(x) if self.res else x)))

class R2Plus1D(nn.Module):
    def __init__(self, widths, blocks, channels=3, stem_pool=True):
        super().__init__()
        # theirs always pools after the stem; a config without the pool (tinyModel) builds it without
        pool = [nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))] if stem_pool else []
        self.conv1 = nn.Sequential(nn.Conv3d(channels, widths[0], kernel_size=(3, 7, 7), padding=(1, 3, 3), stride=(1, 2, 2), bias=False),
                                   nn.BatchNorm3d(widths[0]), nn.ReLU(inplace=True), *pool)
        for i, w in enumerate(widths):
            stage = [BasicR2P1DBlock(widths[max(i - 1, 0)], w, (2, 2, 2) if i else (1, 1, 1))] + [BasicR2P1DBlock(w, w) for _ in range(blocks - 1)]
            setattr(self, 'conv%dx' % (i + 2), stage[0] if blocks == 1 else nn.Sequential(*stage))
        self.pool, self.out_dim, self.names = nn.AdaptiveMaxPool3d((1, 1, 1)), widths[-1], ['conv%dx' % (i + 2) for i in range(4)]

class Conv2D(nn.Module):
    def __init__(self, widths, strides):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(1, widths[0], kernel_size=7, padding=3, stride=2, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        for i, w in enumerate(widths):
            setattr(self, 'block%d' % (i + 1), Basic2DBlock(widths[max(i - 1, 0)], w, stride=(strides[i], strides[i])))
        self.pool, self.out_dim, self.names = nn.AdaptiveMaxPool2d((1, 1)), widths[-1], ['block%d' % (i + 1) for i in range(4)]

def encode(net, x):  # their forward(return_embs=True): every block's output, then the pool
    x, feats = net.conv1(x), []
    for name in net.names:
        x = getattr(net, name)(x); feats.append(x)
    return net.pool(x).flatten(1), [f.amax(dim=tuple(range(2, f.dim()))) for f in feats]

class Head(nn.Module):
    def __init__(self, input_dim, proj_dims):
        super().__init__()
        projection = []
        for i, d in enumerate(proj_dims):
            projection += [nn.Linear(input_dim, d)]; input_dim = d
            if i < len(proj_dims) - 1: projection += [nn.ReLU(inplace=True)]
        self.projection = nn.Sequential(*projection)
    def forward(self, x): return self.projection(x)

class AV_Wrapper(nn.Module):
    def __init__(self, video_model, audio_model, proj_dim, our_bn=False):
        super().__init__()
        self.video_model, self.audio_model = video_model, audio_model
        self.video_proj, self.audio_proj = Head(video_model.out_dim, proj_dim), Head(audio_model.out_dim, proj_dim)
        if our_bn:  # ours, not theirs: the BatchNorm between pooled features and head that headBn 'keep' exports
            self.video_bn, self.audio_bn = nn.BatchNorm1d(video_model.out_dim), nn.BatchNorm1d(audio_model.out_dim)
    def run(self, video, audio, out, tag):
        for m, x in (('video', video), ('audio', audio)):
            pooled, feats = encode(getattr(self, m + '_model'), x)
            if hasattr(self, m + '_bn'): pooled = getattr(self, m + '_bn')(pooled)
            np.save('%s/%s_%s_emb.npy' % (out, tag, m), F.normalize(getattr(self, m + '_proj')(pooled), dim=1).numpy())  # their criterion normalises
            for i, f in enumerate(feats): np.save('%s/%s_%s_block%d.npy' % (out, tag, m, i + 1), f.numpy())

d = sys.argv[1]
cfg = json.load(open(d + '/config.json'))
def build(our_bn=False):
    return AV_Wrapper(R2Plus1D(cfg['videoWidths'], cfg.get('videoBlocks', 1), stem_pool=cfg['videoStemPool']), Conv2D(cfg['audioWidths'], cfg['audioStrides']), cfg['head'], our_bn)
video, audio = torch.from_numpy(np.load(d + '/video.npy')), torch.from_numpy(np.load(d + '/audio.npy'))
report = {}
with torch.no_grad():
    for tag, our_bn in (('fold', False), ('keep', True)):
        model = build(our_bn)
        model.load_state_dict(load_safetensors('%s/%s.safetensors' % (d, tag)), strict=True)
        model.eval().run(video, audio, d, tag)
    report['keep_into_theirs'] = build().load_state_dict(load_safetensors(d + '/keep.safetensors'), strict=False).unexpected_keys
    torch.manual_seed(0)  # theirs: a fresh model with non-trivial BatchNorm statistics, saved as their checkpoint['model'] is
    theirs = build()
    for mod in theirs.modules():
        if isinstance(mod, nn.modules.batchnorm._BatchNorm):
            mod.weight.uniform_(0.5, 1.5); mod.bias.normal_(0, 0.2); mod.running_mean.normal_(0, 0.3); mod.running_var.uniform_(0.5, 2); mod.num_batches_tracked.fill_(7)
    theirs.eval().run(video, audio, d, 'theirs')
    save_safetensors({'module.' + k: v for k, v in theirs.state_dict().items()}, d + '/theirs.safetensors')
print(json.dumps(report))
`;

/** A float32 .npy file as written by NumPy (version 1.0 header). */
function readNpy(file: string): { data: Float32Array; shape: number[] } {
  const b = readFileSync(file), n = b.readUInt16LE(8), header = b.subarray(10, 10 + n).toString('latin1');
  if (!header.includes("'descr': '<f4'")) throw new Error(`${file}: not little-endian float32: ${header}`);
  const shape = /'shape': \(([^)]*)\)/.exec(header)![1].split(',').filter((s) => s.trim()).map(Number);
  return { data: new Float32Array(b.buffer.slice(b.byteOffset + 10 + n, b.byteOffset + b.length)), shape };
}

if (!torchHere) {
  const why = `${PYTHON} with torch and numpy is missing (apt-get install python3-torch python3-numpy)`;
  if (inCi) test('PyTorch is available', (t) => { t.fail(`${why}; .ci/run must install it`); t.end(); });
  else test(`needs PyTorch: ${why}`, { skip: true }, (t) => { t.comment(`skipped: ${why}`); t.end(); });
} else {
  writeFileSync(join(tmp, 'authors.py'), script);
  for (const [label, cfg] of configs) {
    test(`PyTorch, ${label}: a replica of the authors' modules loads our export strictly and computes what we do`, (t) => {
      const dir = mkdtempSync(join(tmp, 'torch-'));
      const { model, params, bn } = randomModel(cfg, 3);
      const x = { video: np.random.normal(np.random.key(11), shapes.video), audio: np.random.normal(np.random.key(12), shapes.audio) };
      writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
      writeFileSync(join(dir, 'video.npy'), npy(x.video.dataSync() as Float32Array, shapes.video));
      writeFileSync(join(dir, 'audio.npy'), npy(x.audio.dataSync() as Float32Array, shapes.audio));
      exportTorch(join(dir, 'fold.safetensors'), cfg, params, bn);
      exportTorch(join(dir, 'keep.safetensors'), cfg, params, bn, { headBn: 'keep' });
      const r = spawnSync(PYTHON, [join(tmp, 'authors.py'), dir], { encoding: 'utf8' });
      if (r.status !== 0) { t.fail(`python exited ${r.status}:\n${r.stderr.slice(-3000)}`); t.end(); return; }
      const report = JSON.parse(r.stdout.trim().split('\n').pop()!);
      t.deepEqual(report.keep_into_theirs.sort(), ['audio_bn.bias', 'audio_bn.num_batches_tracked', 'audio_bn.running_mean', 'audio_bn.running_var', 'audio_bn.weight',
        'video_bn.bias', 'video_bn.num_batches_tracked', 'video_bn.running_mean', 'video_bn.running_var', 'video_bn.weight'], 'headBn keep: their model sees exactly our BatchNorm\'s keys as unexpected');

      const compare = (tag: string, p: nn.Tree, s: nn.Tree) => {
        const emb = model.embed(p, s, x, { train: false }).emb;
        for (const m of ['video', 'audio'] as const) {
          const want = readNpy(join(dir, `${tag}_${m}_emb.npy`));
          const d = maxAbs(emb[m].dataSync(), want.data);
          t.ok(d < 1e-4, `${tag}: ${m} embeddings [${want.shape}] match torch's (max |diff| ${d.toExponential(1)})`);
          const feats = model.features(p, s, x[m], m);
          const fd = Math.max(...feats.map((f, i) => maxAbs(f.dataSync(), readNpy(join(dir, `${tag}_${m}_block${i + 1}.npy`)).data)));
          const big = Math.max(1, ...feats.flatMap((f) => Array.from(f.dataSync(), Math.abs)));
          t.ok(fd < 1e-4 * big, `${tag}: ${m} block1..4 features match (max |diff| ${fd.toExponential(1)}, largest value ${big.toFixed(1)})`);
        }
      };
      compare('fold', params, bn);
      compare('keep', params, bn);
      const theirs = importTorch(join(dir, 'theirs.safetensors'), cfg);
      compare('theirs', theirs.params, theirs.bn);
      t.end();
    });
  }
}
