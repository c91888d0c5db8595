/**
 * core/ alone fitting a real model: a two-layer MLP classifying three interleaved spirals, trained by
 * full-batch gradient descent with momentum, everything (data, init, updates) a pure function of one
 * random key. `npx tsx examples/spirals.ts`
 */
import * as np from '../core/index.js';

const { random } = np;
type Params = { w1: np.Tensor; b1: np.Tensor; w2: np.Tensor; b2: np.Tensor };

/** Three spirals of `n` points each in the plane, with labels 0..2. */
function spirals(key: np.Key, n: number): { x: np.Tensor; y: np.Tensor } {
  const noise = random.normal(key, [3 * n, 2], { std: 0.1 }).dataSync();
  const xs = new Float32Array(3 * n * 2), ys = new Int32Array(3 * n);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i++) {
      const r = i / n, th = c * (2 * Math.PI / 3) + 4 * r;
      const k = c * n + i;
      xs[2 * k] = r * Math.sin(th) + noise[2 * k] * r;
      xs[2 * k + 1] = r * Math.cos(th) + noise[2 * k + 1] * r;
      ys[k] = c;
    }
  }
  return { x: np.tensor(xs, { shape: [3 * n, 2] }), y: np.tensor(ys) };
}

function init(key: np.Key, hidden: number): Params {
  const [k1, k2] = random.split(key);
  const uni = (k: np.Key, shape: number[], fanIn: number) => random.uniform(k, shape, { minval: -1 / Math.sqrt(fanIn), maxval: 1 / Math.sqrt(fanIn) });
  return { w1: np.mul(uni(k1, [2, hidden], 2), Math.sqrt(6)), b1: np.zeros([hidden]), w2: uni(k2, [hidden, 3], hidden), b2: np.zeros([3]) };
}

const predict = (p: Params, x: np.Tensor) => np.add(np.matmul(np.relu(np.add(np.matmul(x, p.w1), p.b1)), p.w2), p.b2);
const loss = (p: Params, x: np.Tensor, y: np.Tensor) => np.crossEntropy(predict(p, x), y);
const accuracy = (p: Params, x: np.Tensor, y: np.Tensor) => np.mean(np.astype(np.equal(np.argmax(predict(p, x), 1), y), 'float32')).item();

const [kData, kInit] = random.split(random.key(0));
const { x, y } = spirals(kData, 200);
let params = init(kInit, 64);
let velocity = np.treeMap(params, (p) => np.zerosLike(p));
const lossAndGrad = np.valueAndGrad(loss);
const lr = 0.5, beta = 0.9, steps = 600;

console.log(`Fitting a 2-64-3 MLP to three spirals (${x.shape[0]} points) with valueAndGrad and momentum SGD`);
console.log('step   loss    accuracy');
const t0 = performance.now();
for (let step = 0; step <= steps; step++) {
  const [l, g] = lossAndGrad(params, x, y);
  if (step % 100 === 0) console.log(`${String(step).padStart(4)}  ${l.item().toFixed(4)}  ${(100 * accuracy(params, x, y)).toFixed(1)}%`);
  velocity = np.treeZip<Params>([velocity, g], (v, gi) => np.add(np.mul(v, beta), gi));
  params = np.treeZip<Params>([params, velocity], (p, v) => np.sub(p, np.mul(v, lr)));
}
const acc = accuracy(params, x, y);
console.log(`final training accuracy ${(100 * acc).toFixed(1)}% in ${((performance.now() - t0) / 1000).toFixed(1)} s (random guessing: 33%)`);
if (acc < 0.9) { console.error('the model did not fit: something is wrong'); process.exitCode = 1; }
