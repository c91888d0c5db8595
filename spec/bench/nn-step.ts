/**
 * `npx tsx spec/bench/nn-step.ts [--quick] [--batch 16] [--only video,audio] [--backends ours,tfjs-cpu,tfjs-wasm] [--json FILE]`
 *
 * One training step (forward, backward, Adam) of the tiny AVID encoders, built from nn/ layers,
 * against the same networks written with tfjs ops (cpu and wasm backends) in the same process:
 * - video: R(2+1)D, widths 16/32/64/128, one block per stage, input 3 x 8 x 32 x 32;
 * - audio: the 9-layer 2-D convnet, widths 16/32/64/128, input 1 x 100 x 129.
 * Batch 16, BatchNorm in training mode (running statistics updated in both), loss mean(features^2).
 * tfjs gets our initial params (transposed to channels-last) and PyTorch's padding, so the first
 * losses must agree: that check is printed, and a network whose tfjs port disagrees is not timed.
 * Prints the median ms per step, clips per second and our ratios over each tfjs backend.
 */
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import path from 'node:path';
import * as np from '../../core/index.js';
import * as nn from '../../nn/index.js';

// ---------------------------------------------------------------- the networks

interface Net { name: string; layer: nn.Layer; clip: number[]; desc: string }
const NETS: Net[] = [
  { name: 'video', layer: nn.videoEncoder(), clip: [3, 8, 32, 32], desc: 'R(2+1)D 16/32/64/128, 3x8x32x32' },
  { name: 'audio', layer: nn.audioEncoder(), clip: [1, 100, 129], desc: '9-layer 2-D convnet 16/32/64/128, 1x100x129' },
];

function parseArgs(argv: string[]) {
  const o = { quick: false, batch: 16, only: NETS.map((n) => n.name), backends: ['ours', 'tfjs-cpu', 'tfjs-wasm'], json: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], next = () => { if (i + 1 >= argv.length) throw new Error(`${a} needs a value`); return argv[++i]; };
    if (a === '--quick') o.quick = true;
    else if (a === '--batch') o.batch = Number(next());
    else if (a === '--only') o.only = next().split(',');
    else if (a === '--backends') o.backends = next().split(',');
    else if (a === '--json') o.json = next();
    else throw new Error(`unknown argument ${a}; see the header of spec/bench/nn-step.ts`);
  }
  return o;
}

/** Median wall time of `step` (ms) after one warm-up call, over `runs` runs. */
function median(step: () => unknown, runs: number): number {
  step();
  const ts: number[] = [];
  for (let i = 0; i < runs; i++) { const t0 = performance.now(); step(); ts.push(performance.now() - t0); }
  ts.sort((a, b) => a - b);
  return ts.length % 2 ? ts[ts.length >> 1] : (ts[ts.length / 2 - 1] + ts[ts.length / 2]) / 2;
}

// ---------------------------------------------------------------- ours

/** What each contender offers: a training step (returns the loss) and a training-mode forward (returns sum of features). */
interface Runner { step(): number; forward(): number }

/** `net` on our `backend`: a training step (valueAndGrad + Adam, BatchNorm state carried) and a forward pass. */
function ours(net: Net, backend: string, params0: nn.Tree, state0: nn.Tree, x0: np.Tensor): Runner {
  const move = <T>(t: T): T => np.treeMap(t, (l) => np.toBackend(l, backend));
  let params = move(params0), state = move(state0);
  const x = np.toBackend(x0, backend);
  const opt = nn.adam(1e-4);
  let optState = opt.init(params);
  const lossAndGrad = np.valueAndGrad((p: nn.Tree, s: nn.Tree) => {
    const o = net.layer.apply(p, s, x, { train: true });
    return [np.mean(np.square(o.y as np.Tensor)), o.state];
  }, { hasAux: true });
  return {
    step() {
      const [[loss, s], g] = lossAndGrad(params, state);
      ({ params, state: optState } = opt.update(g, optState, params));
      state = s;
      return loss.item();
    },
    forward: () => np.withScope(() => np.sum(net.layer.apply(params, state, x, { train: true }).y as np.Tensor)).item(),
  };
}

// ---------------------------------------------------------------- the same networks in tfjs

type Tf = any;

/** Our params as tf variables in channels-last layout: conv [O, I, ...k] -> [...k, I, O]. */
function toTf(tf: Tf, tree: nn.Tree): { tree: any; vars: any[] } {
  const [leaves, def] = np.treeFlatten(tree);
  const vars = leaves.map((t) => {
    const perm = t.rank === 5 ? [2, 3, 4, 1, 0] : t.rank === 4 ? [2, 3, 1, 0] : null;
    const v = tf.tensor(t.dataSync(), [...t.shape]);
    return tf.variable(perm ? tf.transpose(v, perm) : v);
  });
  return { tree: np.treeUnflatten(def, vars), vars };
}

type BnRun = { s: { runningMean: any; runningVar: any }; mean: any; variance: any; count: number };

/**
 * The networks' forward passes in tfjs ops (NDHWC / NHWC) with PyTorch's padding and BatchNorm in
 * training mode; each BN's batch statistics are recorded in `runs` for the running-average update.
 * P and S are our params and state trees with tf variables as leaves, so paths match ours.
 */
function tfForward(tf: Tf, name: string, runs: BnRun[]) {
  const conv = (x: any, w: any, stride: number[], pad: number[]) => {
    const k = w.shape.slice(0, -2) as number[];
    const same = stride.every((st) => st === 1) && k.every((kk, i) => pad[i] * 2 === kk - 1);
    const padded = same || pad.every((q) => q === 0) ? x : tf.pad(x, [[0, 0], ...pad.map((q) => [q, q]), [0, 0]]);
    const mode = same ? 'same' : 'valid';
    return k.length === 3 ? tf.conv3d(padded, w, stride, mode) : tf.conv2d(padded, w, stride, mode);
  };
  const bn = (x: any, p: any, s: any) => {
    const { mean, variance } = tf.moments(x, [...Array(x.rank - 1).keys()]);
    runs.push({ s, mean: tf.keep(mean), variance: tf.keep(variance), count: x.size / x.shape[x.rank - 1] });
    // NOTE: tfjs 4.22's batchNorm gradient fails on rank-5 inputs (a tile/transpose rank error); per-channel
    // normalisation is the same on [B, T, H * W, C], and that reshape is free
    const x4 = x.rank === 5 ? tf.reshape(x, [x.shape[0], x.shape[1], -1, x.shape[4]]) : x;
    return tf.reshape(tf.batchNorm(x4, mean, variance, p.bias, p.weight, 1e-5), x.shape);
  };
  const cbr = (x: any, p: any, s: any, stride: number[], pad: number[]) => tf.relu(bn(conv(x, p.conv.weight, stride, pad), p.bn, s.bn));
  if (name === 'video') {
    const block = (x: any, p: any, s: any, st: number) => {
      const m = p.res.path, ms = s.res.path;
      let h = tf.relu(bn(conv(x, m.sptConv1.weight, [1, st, st], [0, 1, 1]), m.sptBn1, ms.sptBn1));
      h = tf.relu(bn(conv(h, m.tmpConv1.weight, [st, 1, 1], [1, 0, 0]), m.tmpBn1, ms.tmpBn1));
      h = tf.relu(bn(conv(h, m.sptConv2.weight, [1, 1, 1], [0, 1, 1]), m.sptBn2, ms.sptBn2));
      h = conv(h, m.tmpConv2.weight, [1, 1, 1], [1, 0, 0]);
      const res = p.res.shortcut.weight ? conv(x, p.res.shortcut.weight, [st, st, st], [0, 0, 0]) : x;
      return tf.relu(bn(tf.add(h, res), p.outBn, s.outBn));
    };
    return (P: any, S: any, x: any) => {
      let h = cbr(x, P.stem, S.stem, [1, 2, 2], [1, 3, 3]);
      // max pool (1,3,3) stride (1,2,2) padding (0,1,1); after ReLU, zero padding never wins
      h = tf.maxPool3d(tf.pad(h, [[0, 0], [0, 0], [1, 1], [1, 1], [0, 0]]), [1, 3, 3], [1, 2, 2], 'valid');
      [1, 2, 2, 2].forEach((st, i) => { h = block(h, P[`block${i + 1}`], S[`block${i + 1}`], st); });
      return tf.max(h, [1, 2, 3]);
    };
  }
  return (P: any, S: any, x: any) => {
    let h = cbr(x, P.stem, S.stem, [2, 2], [3, 3]);
    [1, 2, 2, 1].forEach((st, i) => {
      const p = P[`block${i + 1}`], s = S[`block${i + 1}`];
      h = cbr(cbr(h, p.conv1, s.conv1, [st, st], [1, 1]), p.conv2, s.conv2, [1, 1], [1, 1]);
    });
    return tf.max(h, [1, 2]);
  };
}

/** `net` in tfjs: a training step (variableGrads, tf.train.adam, running statistics) and a forward pass. */
function tfjs(tf: Tf, net: Net, params0: nn.Tree, state0: nn.Tree, x0: np.Tensor): Runner {
  const { tree: P, vars } = toTf(tf, params0), S = toTf(tf, state0).tree;
  const perm = x0.rank === 5 ? [0, 2, 3, 4, 1] : [0, 2, 3, 1];
  const x = tf.transpose(tf.tensor(x0.dataSync(), [...x0.shape]), perm);
  const opt = tf.train.adam(1e-4, 0.9, 0.999, 1e-8);
  const step = () => {
    const runs: BnRun[] = [];
    const forward = tfForward(tf, net.name, runs);
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(forward(P, S, x))), vars);
    opt.applyGradients(grads);
    for (const r of runs) {
      const unbiased = r.count / (r.count - 1);
      tf.tidy(() => {
        r.s.runningMean.assign(tf.add(tf.mul(r.s.runningMean, 0.9), tf.mul(r.mean, 0.1)));
        r.s.runningVar.assign(tf.add(tf.mul(r.s.runningVar, 0.9), tf.mul(r.variance, 0.1 * unbiased)));
      });
      tf.dispose([r.mean, r.variance]);
    }
    const loss = value.dataSync()[0];
    tf.dispose([value, ...Object.values(grads)]);
    return loss;
  };
  const forward = () => {
    const runs: BnRun[] = [];
    const y = tf.tidy(() => tf.sum(tfForward(tf, net.name, runs)(P, S, x)));
    const v = y.dataSync()[0];
    tf.dispose([y, ...runs.flatMap((r) => [r.mean, r.variance])]);
    return v;
  };
  return { step, forward };
}

async function loadTf(backend: 'cpu' | 'wasm'): Promise<{ tf: Tf; info: string }> {
  const tf: Tf = await import('@tensorflow/tfjs');
  tf.enableProdMode();
  if (backend === 'wasm') {
    const wasm: any = await import('@tensorflow/tfjs-backend-wasm');
    const req = createRequire(import.meta.url);
    wasm.setWasmPaths(path.dirname(req.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + '/');
  }
  if (!(await tf.setBackend(backend))) throw new Error(`tf.setBackend('${backend}') failed`);
  await tf.ready();
  const info = backend === 'wasm' ? `simd=${await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')} threads=${(await import('@tensorflow/tfjs-backend-wasm') as any).getThreadsCount()}` : 'pure JS, 1 thread';
  return { tf, info: `tfjs ${tf.version_core} ${backend} (${info})` };
}

// ---------------------------------------------------------------- main

interface Row { net: string; kind: 'step' | 'forward'; backend: string; ms: number; clipsPerSec: number; vsTfjsCpu?: number; vsTfjsWasm?: number }

const errText = (e: unknown) => String((e as Error)?.message ?? e).split('\n')[0];
const agree = (a: number, b: number) => Math.abs(a - b) <= 1e-3 * Math.max(1, Math.abs(b));

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const runs = args.quick ? 1 : 3, budgetMs = args.quick ? 20_000 : 60_000;
  console.log(`nn-step: the tiny AVID encoders, batch ${args.batch}: a training step (forward, backward, Adam) and a training-mode forward`);
  console.log(`median of up to ${runs} runs after a warm-up (fewer when a run is slow: about ${budgetMs / 1000} s per row)`);
  console.log(`host: ${cpus()[0]?.model ?? '?'} x${availableParallelism()}, node ${process.version}, our cpu threads ${np.cpuThreads()}`);
  const ourBackends = np.backendNames().filter((b) => b === 'cpu' || (b === 'gpu' && np.gpuStatus().ok));
  const skipped = np.backendNames().filter((b) => !ourBackends.includes(b));
  if (skipped.length) console.log(`ours: skipping backend(s) ${skipped.join(', ')}: ${skipped.includes('gpu') ? (np.gpuStatus() as { reason: string }).reason : 'unavailable'}`);
  const rows: Row[] = [];
  for (const net of NETS.filter((n) => args.only.includes(n.name))) {
    const shape = [args.batch, ...net.clip];
    const { params, state } = net.layer.init(np.random.key(0), shape);
    const x = np.random.normal(np.random.key(1), shape);
    console.log(`\n${net.name}: ${net.desc}, ${nn.paramCount(params)} params`);
    const record = (backend: string, kind: Row['kind'], first: { ms: number }, fn: () => number) => {
      const n = Math.max(1, Math.min(runs, Math.floor(budgetMs / first.ms)));
      const ms = n === 1 && first.ms > budgetMs ? first.ms : median(fn, n);
      rows.push({ net: net.name, kind, backend, ms, clipsPerSec: (1000 * args.batch) / ms });
      console.log(`  ${backend.padEnd(10)} ${kind.padEnd(8)} ${ms.toFixed(0).padStart(8)} ms  ${((1000 * args.batch) / ms).toFixed(2).padStart(8)} clips/s`);
    };
    /** Time a runner's forward and step, checking their first values against ours (the reference). */
    const contend = (backend: string, r: Runner, ref?: { fwd: number; loss: number }) => {
      const timed = (f: () => number) => { const t0 = performance.now(); const v = f(); return { v, ms: performance.now() - t0 }; };
      const fwd = timed(r.forward);
      if (ref && !agree(fwd.v, ref.fwd)) { console.log(`  ${backend}: forward gives ${fwd.v}, ours ${ref.fwd}: not the same network; not timed`); return undefined; }
      record(backend, 'forward', fwd, r.forward);
      let loss = NaN;
      try {
        const st = timed(r.step);
        loss = st.v;
        if (ref && !agree(st.v, ref.loss)) { console.log(`  ${backend}: first loss ${st.v}, ours ${ref.loss}: not the same network; step not timed`); return undefined; }
        record(backend, 'step', st, r.step);
      } catch (e) { console.log(`  ${backend}: no training step: ${errText(e)}`); }
      return { fwd: fwd.v, loss };
    };
    let ref: { fwd: number; loss: number } | undefined;
    if (args.backends.includes('ours')) for (const b of ourBackends) {
      const got = contend(b === 'cpu' ? 'ours' : `ours-${b}`, ours(net, b, params, state, x), ref);
      ref ??= got;
    }
    if (ref) console.log(`  (ours: forward sum ${ref.fwd.toPrecision(7)}, first loss ${ref.loss.toPrecision(7)}; tfjs must agree to 1e-3)`);
    for (const tb of ['cpu', 'wasm'] as const) {
      if (!args.backends.includes(`tfjs-${tb}`)) continue;
      try {
        const { tf, info } = await loadTf(tb);
        console.log(`  tfjs-${tb}: ${info}`);
        contend(`tfjs-${tb}`, tfjs(tf, net, params, state, x), ref);
      } catch (e) {
        console.log(`  tfjs-${tb}: unavailable: ${errText(e)}`);
      }
    }
  }
  for (const r of rows) {
    const peer = (b: string) => rows.find((q) => q.net === r.net && q.kind === r.kind && q.backend === b);
    r.vsTfjsCpu = peer('tfjs-cpu') ? r.clipsPerSec / peer('tfjs-cpu')!.clipsPerSec : undefined;
    r.vsTfjsWasm = peer('tfjs-wasm') ? r.clipsPerSec / peer('tfjs-wasm')!.clipsPerSec : undefined;
  }
  const f = (v?: number) => (v === undefined ? '-' : `${v.toFixed(2)}x`);
  console.log(`\n${'net'.padEnd(6)} ${'what'.padEnd(8)} ${'backend'.padEnd(10)} ${'ms'.padStart(8)} ${'clips/s'.padStart(8)} ${'vs tfjs-cpu'.padStart(12)} ${'vs tfjs-wasm'.padStart(13)}`);
  for (const r of rows) {
    console.log(`${r.net.padEnd(6)} ${r.kind.padEnd(8)} ${r.backend.padEnd(10)} ${r.ms.toFixed(0).padStart(8)} ${r.clipsPerSec.toFixed(2).padStart(8)} ${f(r.vsTfjsCpu).padStart(12)} ${f(r.vsTfjsWasm).padStart(13)}`);
  }
  if (args.json) { writeFileSync(args.json, JSON.stringify(rows, null, 1)); console.log(`wrote ${args.json}`); }
}

main().catch((e) => { console.error(e); process.exitCode = 1; });
