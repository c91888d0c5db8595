/**
 * A small model fitted with layer combinators and an optimizer: an MLP learns three interleaved
 * spirals. The forward and backward pass are jitted; Adam updates the params. `npx tsx examples/fit.ts`
 */
import * as np from '../core/index.js';
import * as nn from '../nn/index.js';

// three spirals of 100 points each (labels 0..2), made on the host
const n = 100, noise = np.random.normal(np.random.key(0), [3 * n], { std: 0.02 }).dataSync();
const xy: number[][] = [], ys: number[] = [];
for (let k = 0; k < 3 * n; k++) {
  const c = Math.floor(k / n), r = (k % n) / n + noise[k], th = 4 * ((k % n) / n) + (c * 2 * Math.PI) / 3;
  xy.push([r * Math.sin(th), r * Math.cos(th)]);
  ys.push(c);
}
const x = np.tensor(xy), labels = np.tensor(ys, { dtype: 'int32' });

const model = nn.serial([nn.Dense(64), nn.Relu(), nn.Dense(64), nn.Relu(), nn.Dense(3)]);
let { params, state } = model.init(np.random.key(7), [3 * n, 2]);
const opt = nn.adam(1e-2);
let optState = opt.init(params);

const loss = (p: nn.Tree) => np.crossEntropy(model.apply(p, state, x, { train: true }).y as np.Tensor, labels);
const lossAndGrad = np.jit(np.valueAndGrad(loss));
for (let step = 0; step <= 300; step++) {
  const [l, g] = lossAndGrad(params);
  ({ params, state: optState } = opt.update(g, optState, params));
  if (step % 100 === 0) console.log(`step ${step}: loss ${l.item().toFixed(4)}`);
}
const predicted = np.argmax(model.apply(params, state, x, { train: false }).y as np.Tensor, -1);
console.log(`training accuracy ${(100 * np.mean(np.astype(np.equal(predicted, labels), 'float32')).item()).toFixed(1)}%`);
