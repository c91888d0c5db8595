/**
 * `npx tsx spec/bench/conv-wgrad.ts [rounds]`: conv2d's weight gradient on the CPU in float32, the
 * fused primitive (conv2dWeightGrad: im2col packed straight from the image inside the wasm GEMM)
 * against the route it replaced (unfold, then matmul per image summed over the batch: colsWeightGrad),
 * at the bench's conv and the AVID encoders' shapes. The two take turns in one process, so load from
 * other jobs falls on both; the best of each is reported, with their largest difference.
 * AVID_THREADS=1 for one core.
 */
import * as np from '../../core/index.js';
import { colsWeightGrad } from '../../core/prims/conv2d.js';
import { conv2dWeightGrad } from '../../core/prims/conv2dWeightGrad.js';
import { unfold } from '../../core/prims/unfold.js';

np.setBackend('cpu');
type Pad = [number, number][];
const shapes: [string, number[], number, number[], number[], Pad][] = [
  ['bench: N8 C32->64 32x32 k3', [8, 32, 32, 32], 64, [3, 3], [1, 1], [[1, 1], [1, 1]]],
  ['audio stem 1->16 100x40 k7 s2', [16, 1, 100, 40], 16, [7, 7], [2, 2], [[3, 3], [3, 3]]],
  ['audio 16->16 50x20 k3', [16, 16, 50, 20], 16, [3, 3], [1, 1], [[1, 1], [1, 1]]],
  ['audio 16->32 50x20 k3 s2', [16, 16, 50, 20], 32, [3, 3], [2, 2], [[1, 1], [1, 1]]],
  ['audio 32->32 25x10 k3', [16, 32, 25, 10], 32, [3, 3], [1, 1], [[1, 1], [1, 1]]],
  ['audio 128->128 13x5 k3', [16, 128, 13, 5], 128, [3, 3], [1, 1], [[1, 1], [1, 1]]],
  ['video spatial 128 frames 16->16 16x16 k3', [128, 16, 16, 16], 16, [3, 3], [1, 1], [[1, 1], [1, 1]]],
  ['video temporal 16->16 8x256 k3x1', [16, 16, 8, 256], 16, [3, 1], [1, 1], [[1, 1], [0, 0]]],
];
const rounds = Number(process.argv[2] ?? 9);
console.log(`conv2d weight gradient, float32, threads ${process.env.AVID_THREADS ?? 'default'}, best of ${rounds}`);
for (const [name, xs, O, K, s, p] of shapes) {
  const win = { kernel: K, stride: s, padding: p, dilation: [1, 1] };
  const [OH, OW] = [0, 1].map((d) => Math.floor((xs[2 + d] + p[d][0] + p[d][1] - K[d]) / s[d]) + 1);
  const x = np.astype(np.random.normal(np.random.key(1), xs), 'float32');
  const ct = np.astype(np.random.normal(np.random.key(2), [xs[0], O, OH, OW]), 'float32');
  const routes = {
    unfold: () => np.reshape(colsWeightGrad(np.reshape(ct, [xs[0], O, OH * OW]), unfold(x, win)), [O, xs[1], ...K]),
    fused: () => conv2dWeightGrad(x, ct, win),
  };
  const a = routes.unfold().dataSync(), b = routes.fused().dataSync();
  let diff = 0, mag = 0;
  for (let i = 0; i < a.length; i++) { diff = Math.max(diff, Math.abs(a[i] - b[i])); mag = Math.max(mag, Math.abs(a[i])); }
  const best = { unfold: Infinity, fused: Infinity };
  for (let r = 0; r < rounds; r++) {
    for (const k of (r % 2 ? ['fused', 'unfold'] : ['unfold', 'fused']) as (keyof typeof best)[]) {
      const t0 = performance.now();
      routes[k]().dataSync();
      best[k] = Math.min(best[k], performance.now() - t0);
    }
  }
  console.log(`  ${name.padEnd(42)} unfold + matmul ${best.unfold.toFixed(2).padStart(6)} ms, fused ${best.fused.toFixed(2).padStart(6)} ms: ` +
    `${(best.unfold / best.fused).toFixed(2)}x (largest difference ${diff.toExponential(1)} in values up to ${mag.toExponential(1)})`);
}
process.exit(0);
