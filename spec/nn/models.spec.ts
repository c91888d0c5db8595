/**
 * The tiny AVID encoders: their shapes along the stages at AVID.md's tiny input, their parameter
 * counts worked out by hand, a float64 gradient check through a narrow version of each, and a few
 * Adam steps that lower a loss (the whole stack: layers, BatchNorm state, grad, optimizer).
 */
import test from 'tape';
import * as np from '../../core/index.js';
import * as nn from '../../nn/index.js';
import { nextKey } from '../helpers.js';
import { checkLayerGrad, checkShapes } from './util.js';

const stageShapes = (r: nn.Init) => Object.fromEntries((r.parts ?? []).map((p) => [p.path, p.outputShape]));

test('video encoder: stage shapes at 3 x 8 x 32 x 32 and the parameter count', (t) => {
  const r = nn.videoEncoder().init(nextKey(), [16, 3, 8, 32, 32]);
  t.deepEqual(stageShapes(r), {
    stem: [16, 16, 8, 8, 8], block1: [16, 16, 8, 8, 8], block2: [16, 32, 4, 4, 4], block3: [16, 64, 2, 2, 2], block4: [16, 128, 1, 1, 1], pool: [16, 128],
  }, 'stem /2 then max pool /2 in space; stages 2-4 halve t, h, w');
  // stem conv 16*3*3*7*7 + BN; a block: spatial 1x3x3 (cin, then c inputs), temporal 3x1x1 twice, 4 BNs, 1x1x1 projection
  const block = (cin: number, c: number, proj: boolean) => c * cin * 9 + c * c * 3 + c * c * 9 + c * c * 3 + 4 * 2 * c + (proj ? c * cin : 0);
  const want = 16 * 3 * 3 * 49 + 32 + block(16, 16, false) + block(16, 32, true) + block(32, 64, true) + block(64, 128, true);
  t.equal(nn.paramCount(r.params), want, `${want} params`);
  // R(2+1)D-18: a second block per stage keeps the stage's width and size
  const r18 = nn.videoEncoder({ blocksPerStage: 2 }).init(nextKey(), [2, 3, 8, 32, 32]);
  t.deepEqual(stageShapes(r18).block2, [2, 32, 4, 4, 4], 'two blocks per stage: same stage shapes');
  const want18 = want + block(16, 16, false) + block(32, 32, false) + block(64, 64, false) + block(128, 128, false);
  t.equal(nn.paramCount(r18.params), want18, `R(2+1)D-18 layout: ${want18} params (one more block per stage)`);
  t.end();
});

test('audio encoder: stage shapes at 1 x 100 x 129 and the parameter count', (t) => {
  const r = nn.audioEncoder().init(nextKey(), [16, 1, 100, 129]);
  t.deepEqual(stageShapes(r), {
    stem: [16, 16, 50, 65], block1: [16, 16, 50, 65], block2: [16, 32, 25, 33], block3: [16, 64, 13, 17], block4: [16, 128, 13, 17], pool: [16, 128],
  }, 'stem /2, then block strides 1, 2, 2, 1 (AVID.md)');
  const blk = (cin: number, c: number) => c * cin * 9 + c * c * 9 + 4 * c;
  t.equal(nn.paramCount(r.params), 16 * 49 + 32 + blk(16, 16) + blk(16, 32) + blk(32, 64) + blk(64, 128), 'params');
  const authors = nn.audioEncoder({ strides: [2, 2, 2, 1] }).init(nextKey(), [2, 1, 100, 129]);
  t.deepEqual(authors.outputShape, [2, 128], 'the authors\' strides 2, 2, 2, 1 are an option');
  t.end();
});

test('narrow encoders: shapes and float64 gradients end to end', (t) => {
  for (const c of [
    { layer: nn.videoEncoder({ widths: [2, 3, 3, 4] }), shape: [2, 1, 4, 12, 12] },
    { layer: nn.audioEncoder({ widths: [2, 3, 3, 4] }), shape: [2, 1, 12, 14] },
  ]) { checkShapes(t, c); checkLayerGrad(t, c); }
  t.end();
});

test('a few Adam steps on the video encoder lower a loss, with BatchNorm state carried along', (t) => {
  const net = nn.serial({ enc: nn.videoEncoder({ widths: [4, 8, 8, 8] }), head: nn.MLP([8, 4]), norm: nn.L2Normalize() });
  const x = np.random.normal(nextKey(), [4, 3, 4, 16, 16]);
  const target = nn.L2Normalize().apply({}, {}, np.random.normal(nextKey(), [4, 4]), { train: false }).y as np.Tensor;
  const r = net.init(nextKey(), [4, 3, 4, 16, 16]);
  const vg = np.valueAndGrad((p: nn.Tree, s: nn.Tree) => {
    const o = net.apply(p, s, x, { train: true });
    return [np.mean(np.square(np.sub(o.y as np.Tensor, target))), o.state];
  }, { hasAux: true });
  const opt = nn.adam(1e-2);
  let params = r.params, state = r.state, os = opt.init(params);
  const losses: number[] = [];
  for (let i = 0; i < 8; i++) {
    const [[l, s], g] = vg(params, state);
    losses.push(l.item());
    ({ params, state: os } = opt.update(g, os, params));
    state = s;
  }
  t.ok(losses[7] < 0.8 * losses[0], `loss ${losses[0].toFixed(4)} -> ${losses[7].toFixed(4)}`);
  t.notDeepEqual(state.enc.block1.outBn.runningMean.toArray(), r.state.enc.block1.outBn.runningMean.toArray(), 'running statistics moved');
  t.end();
});
