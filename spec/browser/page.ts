/**
 * The test page of spec/browser/webgl.spec.ts, bundled for the browser by esbuild (package.json's
 * "browser" field swaps in core/platform/browser.ts and nn/checkpoint.browser.ts). It runs nothing on
 * load: the spec calls `avidPage.<check>()` through page.evaluate and gets plain JSON back (values as
 * number arrays, so Node compares them); each check also appends rows to the page's table, which the
 * spec screenshots.
 */
import * as np from '../../core/index.js';
import * as nn from '../../nn/index.js';

/** One output of one case, on both backends. */
export interface Compared { name: string; shape: number[]; dtype: string; gpu: number[]; cpu: number[] }

const TOL = { rtol: 3e-5, atol: 3e-5 };

/** The worst |gpu - cpu| - (atol + rtol |cpu|), for the page's own table (Node asserts with spec/helpers' close). */
function excess(c: Compared): number {
  let worst = -Infinity;
  c.cpu.forEach((y, i) => {
    const x = c.gpu[i];
    if ((Number.isNaN(x) && Number.isNaN(y)) || x === y) return;
    const e = Math.abs(x - y) - (TOL.atol + TOL.rtol * Math.abs(y));
    worst = Math.max(worst, Number.isNaN(e) ? Infinity : e);
  });
  return worst;
}

function row(cells: (string | number)[], ok?: boolean): void {
  const tr = document.createElement('tr');
  for (const c of cells) {
    const td = document.createElement('td');
    td.textContent = typeof c === 'number' ? (Number.isInteger(c) ? String(c) : c.toExponential(2)) : c;
    tr.append(td);
  }
  if (ok !== undefined) tr.className = ok ? 'ok' : 'bad';
  document.querySelector('tbody')!.append(tr);
}

function section(title: string): void {
  const tr = document.createElement('tr');
  const th = document.createElement('th');
  th.colSpan = 4;
  th.textContent = title;
  tr.append(th);
  document.querySelector('tbody')!.append(tr);
}

const key = (i: number) => np.random.key(100 + i);
const normal = (i: number, shape: number[]) => np.random.normal(key(i), shape);
const positive = (i: number, shape: number[]) => np.add(np.abs(normal(i, shape)), 0.5);

type Out = np.Tensor | Record<string, np.Tensor>;
/** A case: its inputs (made on the cpu, moved to each backend) and the function of them. */
interface Case { name: string; inputs: () => np.Tensor[]; f: (...xs: np.Tensor[]) => Out }

const mlpParams = () => [normal(40, [6, 16]), np.mul(normal(41, [16]), 0.1), normal(42, [16, 3]), np.mul(normal(43, [3]), 0.1), normal(44, [8, 6]),
  np.random.randint(key(45), [8], 0, 3)];
const mlpLoss = (w1: np.Tensor, b1: np.Tensor, w2: np.Tensor, b2: np.Tensor, x: np.Tensor, labels: np.Tensor) =>
  np.crossEntropy(np.add(np.matmul(np.tanh(np.add(np.matmul(x, w1), b1)), w2), b2), labels);

const CASES: Case[] = [
  {
    name: 'unary', inputs: () => [normal(1, [7, 33]), positive(2, [7, 33])],
    f: (x, p) => ({ exp: np.exp(x), log: np.log(p), tanh: np.tanh(x), sqrt: np.sqrt(p), neg: np.neg(x), abs: np.abs(x), sign: np.sign(x), sigmoid: np.sigmoid(x), relu: np.relu(x) }),
  },
  {
    name: 'binary, broadcast [3,1,5] with [4,5]', inputs: () => [normal(3, [3, 1, 5]), normal(4, [4, 5]), positive(5, [4, 5]), positive(6, [3, 1, 5])],
    f: (a, b, pb, pa) => ({
      add: np.add(a, b), sub: np.sub(a, b), mul: np.mul(a, b), div: np.div(a, pb), pow: np.pow(pa, b), maximum: np.maximum(a, b),
      minimum: np.minimum(a, b), less: np.less(a, b), where: np.where(np.greater(a, b), a, np.mul(b, 2)), scalar: np.add(np.mul(a, 3), 1),
    }),
  },
  {
    name: 'reductions', inputs: () => [normal(7, [5, 6, 7])],
    f: (x) => ({
      sumAll: np.sum(x), sum1: np.sum(x, 1), sum02: np.sum(x, [0, 2], { keepdims: true }), maxLast: np.max(x, -1), maxAll: np.max(x),
      min0: np.min(x, 0), argmax: np.argmax(x, 1), mean: np.mean(x, [1, 2]), logSumExp: np.logSumExp(x, -1), softmax: np.softmax(x, 1),
    }),
  },
  {
    name: 'matmul', inputs: () => [normal(8, [37, 29]), normal(9, [29, 41]), normal(10, [2, 3, 17, 33]), normal(11, [33, 9]), normal(12, [9, 33])],
    f: (a, b, c, d, e) => ({ plain: np.matmul(a, b), batched: np.matmul(c, d), transB: np.matmulT(c, e, false, true) }),
  },
  {
    name: 'conv (np.conv) and pooling', inputs: () => [normal(13, [2, 3, 11, 11]), normal(14, [4, 3, 3, 3]), normal(15, [2, 4, 9]), normal(16, [6, 2, 3])],
    f: (x, w, x1, w1) => ({
      same2: np.conv(x, w, { stride: 2, padding: 'same' }), valid: np.conv(x, w), dilated: np.conv(x, w, { dilation: 2, padding: 2 }),
      grouped1d: np.conv(x1, w1, { groups: 2, padding: 1 }), maxPool: np.maxPool(x, { kernel: 3, stride: 2, padding: 1 }), avg: np.globalAvgPool(x),
    }),
  },
  {
    name: 'layout: transpose, reshape, slice, pad, concat, gather', inputs: () => [normal(17, [3, 4, 5]), normal(18, [3, 2, 5]), np.tensor([2, 0, 0, 1, 2], { dtype: 'int32', backend: 'cpu' })],
    f: (x, y, idx) => ({
      transpose: np.transpose(x, [2, 0, 1]), reshape: np.reshape(np.transpose(x, [1, 0, 2]), [4, 15]), slice: np.slice(x, [1, 0, 2], [2, 3, 2]),
      pad: np.pad(x, [[1, 0], [0, 2], [1, 1]], -1), concat: np.concat([x, y], 1), gather: np.gather(x, idx), scatterAdd: np.scatterAdd(np.gather(x, idx), idx, 3),
      broadcastTo: np.broadcastTo(np.slice(x, [0, 0, 0], [1, 4, 5]), [3, 4, 5]),
    }),
  },
  {
    name: 'grad of a small MLP\'s cross-entropy', inputs: mlpParams,
    f: (w1, b1, w2, b2, x, labels) => {
      const [loss, [g1, gb1, g2, gb2]] = np.valueAndGrad(mlpLoss, { argnums: [0, 1, 2, 3] })(w1, b1, w2, b2, x, labels) as [np.Tensor, np.Tensor[]];
      return { loss, w1: g1, b1: gb1, w2: g2, b2: gb2 };
    },
  },
];

/** Run one case's function on `backend`, its inputs moved there; outputs as plain arrays. */
function runOn(c: Case, inputs: np.Tensor[], backend: string): Record<string, np.Tensor> {
  np.setBackend(backend);
  const out = c.f(...inputs.map((x) => np.toBackend(x, backend)));
  return out instanceof np.Tensor ? { out } : out;
}

const plain = (x: np.Tensor) => Array.from(x.dataSync() as ArrayLike<number>);

/**
 * How far step i's loss (from 0) may part between gpu and cpu in avidPage.avid. Step 1 computes from
 * the same params: float32 rounding. After it, Adam's first update is about lr * sign(grad) for every
 * param, so a gradient within rounding of zero can step either way, and the runs part. Measured on
 * the cpu alone, the gradients given noise of 1e-6 of each one's largest value (float32 rounding):
 * the losses parted by up to 6.4e-4 at step 2, 3.6e-3 at step 3, 1.4e-2 at step 4.
 */
export const avidStepRtol = (i: number): number => [1e-5, 2e-3, 1e-2][i] ?? 3e-2;

export const avidPage = {
  /** What the gpu backend runs on here, and the browser's WebGL2 renderer. */
  status() {
    const canvas = document.createElement('canvas');
    const gl = canvas.getContext('webgl2');
    const dbg = gl?.getExtension('WEBGL_debug_renderer_info');
    const renderer = gl ? String(gl.getParameter(dbg ? dbg.UNMASKED_RENDERER_WEBGL : gl.RENDERER)) : 'no webgl2 context';
    np.setBackend('gpu');
    const s = np.gpuStatus();
    np.setBackend('cpu');
    const info = { gpuJsLoaded: typeof (globalThis as { GPU?: unknown }).GPU === 'function', status: s, backends: np.backendNames(), renderer, userAgent: navigator.userAgent, gemm: np.gemmKernel() };
    document.querySelector('#status')!.textContent = s.ok ? `gpu.js ${s.kernelClass} (mode ${s.mode}) on ${renderer}` : `gpu backend unavailable: ${s.reason}`;
    return info;
  },

  /** Every case on gpu and on cpu, from the same inputs. */
  primitives(): Compared[] {
    const all: Compared[] = [];
    for (const c of CASES) {
      section(c.name);
      const inputs = c.inputs().map((x) => np.toBackend(x, 'cpu'));
      const gpu = runOn(c, inputs, 'gpu'), cpu = runOn(c, inputs, 'cpu');
      np.setBackend('cpu');
      for (const k of Object.keys(cpu)) {
        const r: Compared = { name: `${c.name}: ${k}`, shape: [...cpu[k].shape], dtype: cpu[k].dtype, gpu: plain(gpu[k]), cpu: plain(cpu[k]) };
        const e = excess(r), diff = r.cpu.reduce((m, y, i) => (r.gpu[i] === y ? m : Math.max(m, Math.abs(r.gpu[i] - y))), 0);
        row([k, `[${r.shape.join(',')}] ${r.dtype}`, `${e <= 0 ? 'ok' : `over by ${e.toExponential(2)}`}, max |gpu - cpu| ${diff === 0 ? '0' : diff.toExponential(1)}`,
          gpu[k].concrete().backend!.name], e <= 0);
        all.push(r);
      }
    }
    return all;
  },

  /** A jitted fused elementwise chain (and a jitted grad) on gpu against eager gpu and cpu. */
  jit() {
    section('jit');
    const chain = (x: np.Tensor, y: np.Tensor) => np.mul(np.tanh(np.add(np.mul(x, 2), y)), np.exp(np.neg(np.square(np.sub(x, 0.5)))));
    const jchain = np.jit(chain);
    const x = normal(20, [64, 65]), y = normal(21, [65]);
    np.setBackend('gpu');
    const xg = np.toBackend(x, 'gpu'), yg = np.toBackend(y, 'gpu');
    const prog = jchain.program(xg, yg);
    const jitted = jchain(xg, yg), eager = chain(xg, yg);
    // crossEntropy reads its labels (to refuse one out of range), so under jit they are a constant, not an argument
    const gradW1 = (labels: np.Tensor) => np.grad((w1: np.Tensor, b1: np.Tensor, w2: np.Tensor, b2: np.Tensor, x: np.Tensor) => mlpLoss(w1, b1, w2, b2, x, labels));
    const [w1, b1, w2, b2, xs, labels] = mlpParams(), ps = [w1, b1, w2, b2, xs].map((p) => np.toBackend(p, 'gpu')) as [np.Tensor, np.Tensor, np.Tensor, np.Tensor, np.Tensor];
    const labelsGpu = np.toBackend(labels, 'gpu');
    const gJit = np.jit(gradW1(labelsGpu))(...ps) as np.Tensor;
    const gEager = gradW1(labelsGpu)(...ps) as np.Tensor;
    np.setBackend('cpu');
    const cpu = chain(x, y);
    const gCpu = gradW1(labels)(w1, b1, w2, b2, xs) as np.Tensor;
    const out = {
      stats: prog.stats, program: prog.toString(), backend: jitted.concrete().backend!.name,
      chain: { shape: [...jitted.shape], jit: plain(jitted), eager: plain(eager), cpu: plain(cpu) },
      grad: { shape: [...gJit.shape], jit: plain(gJit), eager: plain(gEager), cpu: plain(gCpu) },
    };
    row(['fused chain', `${prog.stats.eqns} equations in ${prog.stats.kernels} kernel(s)`, `${prog.stats.fused} fused`, out.backend], prog.stats.fused > 0);
    row(['jit(grad(mlp))', `[${out.grad.shape.join(',')}]`, '', out.backend]);
    return out;
  },

  /** A few Adam steps of a small nn.serial regression on gpu (and the same on cpu): the loss falls. */
  train(steps = 25) {
    section('training: nn.serial Dense/Relu, adam');
    const net = nn.serial([nn.Dense(32), nn.Relu(), nn.Dense(32), nn.Relu(), nn.Dense(1)]);
    const run = (backend: string) => {
      np.setBackend(backend);
      const x = np.toBackend(np.random.uniform(key(30), [64, 4], { minval: -1, maxval: 1 }), backend);
      const target = np.sum(np.mul(np.tanh(np.mul(x, 2)), np.tensor([1, -2, 0.5, 3])), -1, { keepdims: true });
      const init = net.init(key(31), [-1, 4]);
      let params = np.treeMap(init.params, (p) => np.toBackend(p, backend));
      const opt = nn.adam(1e-2);
      let state = opt.init(params);
      const loss = (p: nn.Tree) => np.mean(np.square(np.sub(net.apply(p, init.state, x, { train: true }).y as np.Tensor, target)));
      // the gradient jitted, Adam's update after it (jitted itself; its step count would retrace an enclosing jit)
      const grad = np.jit(np.valueAndGrad(loss));
      const step = (p: nn.Tree, s: nn.Tree) => {
        const [l, g] = grad(p);
        return { l, ...opt.update(g, s, p) };
      };
      const losses: number[] = [];
      for (let i = 0; i < steps; i++) {
        const r = step(params, state);
        ({ params, state } = r);
        losses.push(r.l.item());
      }
      np.setBackend('cpu');
      return { losses, backend: np.treeLeaves(params)[0].concrete().backend!.name };
    };
    const gpu = run('gpu'), cpu = run('cpu');
    row(['gpu loss', `${gpu.losses[0].toFixed(4)} -> ${gpu.losses[steps - 1].toFixed(4)}`, `${steps} steps`, gpu.backend], gpu.losses[steps - 1] < gpu.losses[0] / 2);
    row(['cpu loss', `${cpu.losses[0].toFixed(4)} -> ${cpu.losses[steps - 1].toFixed(4)}`, `${steps} steps`, cpu.backend]);
    return { gpu, cpu };
  },

  /**
   * A few Cross-AVID training steps of the tiny model (avid/train.ts's trainStep, through the browser
   * entry of avid-fn/avid) on gpu and on cpu from the same initial state, batches and keys. The clips
   * are smaller than tinyData's (4 frames of 16x16, 1 s of audio) and the dataset has `n` of them, so
   * the steps are quick; the model is tinyModel as it is. Returns each step's metrics and ms, and the
   * kernel classes gpu.js ran the gpu run's kernels as.
   */
  async avid(steps = 3, n = 16, batch = 8) {
    const avid = await import('../../avid/index.js');
    section(`AVID: ${steps} Cross-AVID steps of the tiny model, ${n} synthetic clips, batch ${batch}`);
    const dataCfg = { ...avid.tinyData, frames: 4, size: 16, audioSeconds: 1, seconds: 3 };
    const cfg = { ...avid.tinyTrain, batch, negatives: n - 1 };
    const model = avid.avidModel(avid.tinyModel);
    np.setBackend('cpu');
    const ds = avid.synthetic(np.random.key(0), n, dataCfg);
    const batches = Array.from({ length: steps }, (_, i) =>
      avid.getBatch(ds, Array.from({ length: batch }, (_, j) => (i * batch + j) % n), np.random.key(10 + i), cfg));
    const run = (backend: string) => {
      np.setBackend(backend);
      const runs0 = np.gpuStats().runs;
      let state = avid.initState(np.random.key(1), model, ds, cfg, avid.crossAvid);
      const step = avid.trainStep(model, avid.crossAvid, cfg);
      const metrics: Record<string, number>[] = [], ms: number[] = [];
      for (let i = 0; i < steps; i++) {
        const b = batches[i];
        const moved = { video: np.toBackend(b.video, backend), audio: np.toBackend(b.audio, backend), indices: np.toBackend(b.indices, backend), labels: np.toBackend(b.labels, backend) };
        const t0 = performance.now();
        const r = step(state, moved, np.random.key(20 + i));
        ms.push(performance.now() - t0);
        state = r.state;
        metrics.push(r.metrics);
      }
      const stats = np.gpuStats();
      np.setBackend('cpu');
      return { metrics, ms, backend: np.treeLeaves(state.params)[0].concrete().backend!.name, gpuRuns: stats.runs - runs0, classes: stats.classes };
    };
    const gpu = run('gpu'), cpu = run('cpu');
    for (let i = 0; i < steps; i++) {
      const g = gpu.metrics[i].loss, c = cpu.metrics[i].loss;
      row([`step ${i + 1} loss`, `gpu ${g.toFixed(5)}, cpu ${c.toFixed(5)}`, `|diff| ${Math.abs(g - c).toExponential(1)}`, `${gpu.ms[i].toFixed(0)} / ${cpu.ms[i].toFixed(0)} ms`],
        Number.isFinite(g) && Math.abs(g - c) <= 1e-4 + avidStepRtol(i) * Math.abs(c));
    }
    row(['gpu kernels', Object.entries(gpu.classes).map(([k, v]) => `${v} ${k}`).join(', '), `${gpu.gpuRuns} runs`, gpu.backend]);
    return { gpu, cpu };
  },

  /** matmul n x n with a readback, ours (gpu) against tfjs's webgl backend: median ms of `reps` runs. */
  async timing(sizes = [512, 1024], reps = 3) {
    const { timeMatmul } = await import('./timing.js');
    const r = await timeMatmul(sizes, reps);
    section(`timing: matmul with readback, median of ${reps}; tfjs ${r.tfjs} webgl (WebGL ${r.webglVersion})`);
    for (const m of r.rows) row([`matmul ${m.n}`, `ours ${m.oursMs.toFixed(0)} ms, tfjs ${m.tfjsMs.toFixed(0)} ms`, `ours / tfjs ${(m.oursMs / m.tfjsMs).toFixed(2)}`, 'gpu']);
    return r;
  },

  /** One training step of a small MLP with a readback: ours jitted and eager (gpu) against tfjs webgl. */
  async mlpTiming(reps = 5, warm = 2) {
    const { timeMlp } = await import('./timing.js');
    const r = await timeMlp(reps, warm);
    section(`timing: MLP ${r.widths.join('-')} training step (batch ${r.batch}, Adam) with readback, median of ${reps}`);
    row(['ours jit', `${r.oursJitMs.toFixed(1)} ms`, `tfjs / ours ${(r.tfjsMs / r.oursJitMs).toFixed(2)}x`, 'gpu']);
    row(['ours eager', `${r.oursEagerMs.toFixed(1)} ms`, `tfjs / ours ${(r.tfjsMs / r.oursEagerMs).toFixed(2)}x`, 'gpu']);
    row(['tfjs webgl', `${r.tfjsMs.toFixed(1)} ms`, '', 'webgl']);
    return r;
  },
};

(globalThis as { avidPage?: typeof avidPage }).avidPage = avidPage;
