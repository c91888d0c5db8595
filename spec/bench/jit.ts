/**
 * `npx tsx spec/bench/jit.ts [--backends cpu,gpu] [--size 1048576] [--runs 9]`
 *
 * What jit buys, on each backend, in one process (the gpu rows need a display: xvfb-run):
 * - a 10-op elementwise chain on `size` float32 elements: eager (10 kernels, 10 buffers) against
 *   jit (one fused kernel), with a readback in each timing;
 * - the tiny AVID encoders' forward and backward pass (nn-step's networks, batch 8): valueAndGrad
 *   against jit(valueAndGrad), which replays the recorded program without re-tracing the JS, fuses
 *   its elementwise chains and BatchNorm's relu (forward and backward), and on the CPU recycles the
 *   memory of the values it drops.
 * Prints the best ms of --runs calls of each (taking turns) and the ratio eager / jit.
 */
import * as np from '../../core/index.js';
import * as nn from '../../nn/index.js';
import { ensureDisplay } from '../../core/gpu/display.js';

ensureDisplay();
const arg = (name: string, dflt: string) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : dflt; };
const backends = arg('--backends', 'cpu,gpu').split(',');
const size = Number(arg('--size', String(1 << 20)));
const runs = Number(arg('--runs', '9'));

/**
 * The best ms of `a` and of `b` (each must read its result back) over `runs` calls of each, taking
 * turns after two warm-up calls: on a machine shared with other jobs both then see the same load,
 * and the best is the steadiest estimate of what the code costs.
 */
function bestOf(a: () => unknown, b: () => unknown): [number, number] {
  a(); b(); a(); b();
  const t = [Infinity, Infinity];
  for (let i = 0; i < runs; i++) {
    [a, b].forEach((f, k) => { const t0 = performance.now(); f(); t[k] = Math.min(t[k], performance.now() - t0); });
  }
  return [t[0], t[1]];
}

/** Ten elementwise ops: a scale and shift, a leaky relu, a square, a gate, a clip. */
const chain = (x: np.Tensor, s: np.Tensor) => {
  const y = np.add(np.mul(x, s), 0.5);                 // 2
  const z = np.maximum(y, np.mul(y, 0.1));             // 4
  const q = np.sub(np.mul(z, z), x);                   // 6
  const g = np.div(q, np.add(np.abs(q), 1));           // 9
  return np.minimum(g, 0.9);                           // 10
};

const row = (what: string, [eager, jitted]: [number, number]) =>
  console.log(`  ${what.padEnd(44)} eager ${eager.toFixed(1).padStart(8)} ms   jit ${jitted.toFixed(1).padStart(8)} ms   jit speed-up ${(eager / jitted).toFixed(2)}x`);

for (const b of backends) {
  if (b === 'gpu' && !np.gpuStatus().ok) { console.log(`${b}: skipped (${(np.gpuStatus() as { reason: string }).reason})`); continue; }
  np.setBackend(b);
  console.log(`${b} backend${b === 'cpu' ? `, ${np.cpuThreads()} threads` : ''}:`);
  const x = np.random.normal(np.random.key(0), [size]), s = np.tensor(1.5);
  const jc = np.jit(chain);
  const p = jc.program(x, s);
  row(`10-op chain, ${size} elements (${p.stats.kernels} kernel)`, bestOf(() => chain(x, s).dataSync(), () => jc(x, s).dataSync()));

  for (const [name, layer, clip] of [['video', nn.videoEncoder(), [3, 8, 32, 32]], ['audio', nn.audioEncoder(), [1, 100, 129]]] as const) {
    const { params, state } = layer.init(np.random.key(1), [8, ...clip]);
    const input = np.random.normal(np.random.key(2), [8, ...clip]);
    const loss = (p: nn.Tree, st: nn.Tree, xb: np.Tensor) => {
      const o = layer.apply(p, st, xb, { train: true });
      return [np.mean(np.square(o.y as np.Tensor)), o.state];
    };
    const vg = np.valueAndGrad(loss, { hasAux: true });
    const jvg = np.jit(vg);
    const prog = jvg.program(params, state, input);
    const read = (r: [[np.Tensor, unknown], unknown]) => r[0][0].item();
    row(`${name} encoder fwd+bwd, batch 8 (${prog.stats.kernels}/${prog.stats.eqns} kernels)`,
      bestOf(() => read(vg(params, state, input)), () => read(jvg(params, state, input))));
  }
}
process.exit(0);
