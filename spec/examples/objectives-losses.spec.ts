/**
 * The three losses of examples/objectives.ts against cases worked by hand, so that a flipped sign, a
 * wrong axis or the wrong bank fails; their gradients against central differences.
 */
import test from 'tape';
import * as np from '../../core/index.js';
import { fromRows } from '../../avid/bank.js';
import { infoNce } from '../../avid/nce.js';
import { clipLoss, clipObjective, debiasedNce, debiasedObjective, infoNceObjective } from '../../examples/objectives.js';
import { checkGrad } from '../helpers.js';

const f64 = (x: np.NestedArray) => np.tensor(x, { dtype: 'float64' });
const softplus = (u: number) => Math.log1p(Math.exp(u));
const near = (a: number, b: number, tol = 1e-12) => Math.abs(a - b) <= tol * (1 + Math.abs(b));

test('CLIP loss equals the symmetric cross-entropy worked by hand', (t) => {
  // V = [[1, 0], [0, 1]], A = [[0.6, 0.8], [1, 0]], T = 0.5: logits V A^T / T = [[1.2, 2], [1.6, 0]], labels the diagonal
  const v = f64([[1, 0], [0, 1]]), a = f64([[0.6, 0.8], [1, 0]]);
  // rows (video -> audio): -log(e^1.2 / (e^1.2 + e^2)) = softplus(0.8), -log(e^0 / (e^1.6 + e^0)) = softplus(1.6)
  const rows = (softplus(2 - 1.2) + softplus(1.6 - 0)) / 2;
  // columns (audio -> video): column 0 is [1.2, 1.6] (label 0), column 1 is [2, 0] (label 1)
  const cols = (softplus(1.6 - 1.2) + softplus(2 - 0)) / 2;
  const got = clipLoss(v, a, 0.5).item();
  t.ok(near(got, (rows + cols) / 2), `clipLoss ${got} vs hand ${(rows + cols) / 2} (rows ${rows.toFixed(4)}, columns ${cols.toFixed(4)})`);
  t.ok(Math.abs(rows - cols) > 0.01, 'the case tells rows from columns');
  // swapping the modalities transposes the logits: the symmetric loss is the same
  t.ok(near(clipLoss(a, v, 0.5).item(), got), 'symmetric in video and audio');
  // aligned pairs score better than crossed ones
  t.ok(clipLoss(v, v, 0.5).item() < clipLoss(v, f64([[0, 1], [1, 0]]), 0.5).item(), 'matched pairs have the lower loss');
  checkGrad(t, (x, y) => clipLoss(x, y, 0.3), [f64([[0.3, -1, 0.2], [0.5, 0.1, -0.4], [-0.2, 0.7, 0.9]]), f64([[1, 0.2, -0.3], [0.1, -0.6, 0.8], [0.4, 0.4, 0.1]])], 'clipLoss');
  t.end();
});

test('debiased contrastive loss equals Chuang et al.\'s formula worked by hand, both sides of its clamp', (t) => {
  // x = [1, 0], positive [0.6, 0.8]: s+ = 1.2 at T = 0.5; K = 2
  const x = f64([[1, 0]]), pos = f64([[0.6, 0.8]]);
  const hand = (sNeg: number[], tau: number) => {
    const K = sNeg.length, ng = Math.max((sNeg.reduce((acc, s) => acc + Math.exp(s), 0) - K * tau * Math.exp(1.2)) / (1 - tau), K * Math.exp(-1 / 0.5));
    return { loss: Math.log(Math.exp(1.2) + ng) - 1.2, clamped: ng === K * Math.exp(-2) };
  };
  // negatives [1, 0] and [0, 1]: s- = 2 and 0, tau+ = 0.25, not clamped
  const near1 = hand([2, 0], 0.25), got1 = debiasedNce(x, pos, f64([[[1, 0], [0, 1]]]), { temperature: 0.5, tauPlus: 0.25 }).item();
  t.ok(!near1.clamped && near(got1, near1.loss), `unclamped: ${got1} vs hand ${near1.loss}`);
  // negatives [-1, 0] and [-0.6, -0.8]: s- = -2 and -1.2, so the debiased sum goes below K e^{-1/T} and is clamped there
  const far = hand([-2, -1.2], 0.25), got2 = debiasedNce(x, pos, f64([[[-1, 0], [-0.6, -0.8]]]), { temperature: 0.5, tauPlus: 0.25 }).item();
  t.ok(far.clamped && near(got2, far.loss), `clamped: ${got2} vs hand ${far.loss}`);
  // tau+ = 0 is InfoNCE
  const [k1, k2, k3] = np.random.split(np.random.key(3), 3);
  const xs = np.l2Normalize(np.random.normal(k1, [4, 6], { dtype: 'float64' }));
  const ps = np.l2Normalize(np.random.normal(k2, [4, 6], { dtype: 'float64' })), ns = np.l2Normalize(np.random.normal(k3, [4, 5, 6], { dtype: 'float64' }));
  t.ok(near(debiasedNce(xs, ps, ns, { temperature: 0.2, tauPlus: 0 }).item(), infoNce(xs, ps, ns, { temperature: 0.2 }).item()), 'tau+ = 0 gives InfoNCE');
  checkGrad(t, (a) => debiasedNce(a, ps, ns, { temperature: 0.3, tauPlus: 0.1 }), [xs], 'debiasedNce');
  t.end();
});

test('the objectives contrast each modality with the other one\'s bank, both ways averaged', (t) => {
  // two clips, 2-D rows: video bank and audio bank differ, so using the wrong bank changes every term
  const banks = { video: fromRows(Float32Array.from([1, 0, 0, 1]), 2, 2), audio: fromRows(Float32Array.from([0.6, 0.8, -0.8, 0.6]), 2, 2) };
  const embeddings = { video: np.tensor([[0.8, 0.6]]), audio: np.tensor([[0, 1]]) };
  const input = { embeddings, banks, indices: np.tensor(new Int32Array([0])), negatives: np.tensor(new Int32Array([1]), { shape: [1, 1] }), temperature: 0.5, step: np.tensor(0, { dtype: 'int32' }), key: np.random.key(0) };
  // video [0.8, 0.6] vs audio rows: own 0.96, negative -0.28; audio [0, 1] vs video rows: own 0, negative 1
  const v2a = softplus((-0.28 - 0.96) / 0.5), a2v = softplus((1 - 0) / 0.5);
  const got = infoNceObjective.loss(input, {}, {}).loss.item();
  t.ok(near(got, (v2a + a2v) / 2, 1e-6), `InfoNCE objective ${got} vs hand ${(v2a + a2v) / 2}`);
  const dcl = debiasedObjective(0).loss(input, {}, {}).loss.item();
  t.ok(near(dcl, got, 1e-6), `debiased objective with tau+ = 0 is the InfoNCE objective: ${dcl}`);
  // with tau+ = 0.25, K = 1: Ng = max((e^{s-} - 0.25 e^{s+}) / 0.75, e^{-2}) per direction
  const d = (sp: number, sn: number) => Math.log(Math.exp(sp) + Math.max((Math.exp(sn) - 0.25 * Math.exp(sp)) / 0.75, Math.exp(-2))) - sp;
  const dcl25 = debiasedObjective(0.25).loss(input, {}, {}).loss.item();
  t.ok(near(dcl25, (d(1.92, -0.56) + d(0, 2)) / 2, 1e-6), `debiased objective at tau+ 0.25: ${dcl25}`);
  const clip = clipObjective.loss(input, {}, {}).loss.item();
  t.ok(near(clip, 0, 1e-6), `CLIP on a batch of one is 0 (the pair is its own only candidate): ${clip}`);
  t.end();
});
