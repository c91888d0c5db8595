/**
 * `npx tsx spec/bench/loops.ts [--against DIR] [--runs 15] [--only name,name]`
 *
 * The CPU loops (core/cpu/loops.ts) on the shapes that matter: unary and binary elementwise ops with
 * and without broadcasting, where, sum and max over leading, trailing and inner axes, the moments and
 * BatchNorm primitives, a jit-fused chain, and the AVID video encoder's forward and backward pass.
 * With --against DIR (another checkout of this repository, e.g. `git archive` of an older commit),
 * the same cases run on both libraries in one process, taking turns call by call, so both see the
 * same load on a shared machine; prints the best ms of each and the ratio this / that.
 */
import { resolve } from 'node:path';

const arg = (name: string, dflt: string) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : dflt; };
const against = arg('--against', '');
const runs = Number(arg('--runs', '15'));
const only = arg('--only', '').split(',').filter(Boolean);

type Lib = { np: any; nn: any; label: string };
const load = async (dir: string, label: string): Promise<Lib> => ({
  np: await import(resolve(dir, 'core/index.ts')), nn: await import(resolve(dir, 'nn/index.ts')), label,
});
const libs = [await load(resolve(import.meta.dirname, '../..'), 'this')];
if (against) libs.push(await load(against, 'that'));
for (const { np } of libs) np.setBackend('cpu');

/** A case: from a library, a function that runs it once and reads the result back. */
type Case = [string, (np: any, nn: any) => () => unknown];
const N = 1 << 20;
const cases: Case[] = [
  ['exp [1M]', (np) => { const x = np.random.normal(np.random.key(0), [N]); return () => np.exp(x).dataSync(); }],
  ['add [1M] + [1M]', (np) => { const x = np.random.normal(np.random.key(0), [N]), y = np.random.normal(np.random.key(1), [N]); return () => np.add(x, y).dataSync(); }],
  ['mul [8,32,64,64] * [1,32,1,1]', (np) => { const x = np.random.normal(np.random.key(0), [8, 32, 64, 64]), y = np.random.normal(np.random.key(1), [1, 32, 1, 1]); return () => np.mul(x, y).dataSync(); }],
  ['add [4096,256] + [256]', (np) => { const x = np.random.normal(np.random.key(0), [4096, 256]), y = np.random.normal(np.random.key(1), [256]); return () => np.add(x, y).dataSync(); }],
  ['sub [1024,1] - [1,1024]', (np) => { const x = np.random.normal(np.random.key(0), [1024, 1]), y = np.random.normal(np.random.key(1), [1, 1024]); return () => np.sub(x, y).dataSync(); }],
  ['greater int32 [1M] > 0', (np) => { const x = np.astype(np.mul(np.random.normal(np.random.key(0), [N]), 100), 'int32'); return () => np.greater(x, 0).dataSync(); }],
  ['add [64 x 16 x 64] small, 64 calls', (np) => { const x = np.random.normal(np.random.key(0), [16, 64]), y = np.random.normal(np.random.key(1), [64]); return () => { for (let i = 0; i < 64; i++) np.add(x, y).dataSync(); }; }],
  ['where relu mask [1M]', (np) => { const x = np.random.normal(np.random.key(0), [N]); const c = np.greater(x, 0); return () => np.where(c, x, 0).dataSync(); }],
  ['where float64 [8,32,64,64] by [8,1,64,64]', (np) => { const x = np.astype(np.random.normal(np.random.key(0), [8, 32, 64, 64]), 'float64'); const c = np.greater(np.random.normal(np.random.key(1), [8, 1, 64, 64]), 0); return () => np.where(c, x, 1).dataSync(); }],
  ['sum all [1M]', (np) => { const x = np.random.normal(np.random.key(0), [N]); return () => np.sum(x).dataSync(); }],
  ['sum [8,32,64,64] over 0,2,3', (np) => { const x = np.random.normal(np.random.key(0), [8, 32, 64, 64]); return () => np.sum(x, [0, 2, 3]).dataSync(); }],
  ['sum [1024,1024] over 0', (np) => { const x = np.random.normal(np.random.key(0), [1024, 1024]); return () => np.sum(x, 0).dataSync(); }],
  ['max [1024,1024] over 1', (np) => { const x = np.random.normal(np.random.key(0), [1024, 1024]); return () => np.max(x, 1).dataSync(); }],
  // a fresh x each call (x * 1, timed in both): the statistics of a buffer once seen may be cached
  ['x * 1, then moments over 0,2,3 [8,32,64,64]', (np) => { const x = np.random.normal(np.random.key(0), [8, 32, 64, 64]); return () => np.moments(np.mul(x, 1), [0, 2, 3])[1].dataSync(); }],
  ['BatchNorm train fwd+bwd [8,32,64,64]', (np, nn) => {
    const layer = nn.BatchNorm(), x = np.random.normal(np.random.key(0), [8, 32, 64, 64]);
    const { params, state } = layer.init(np.random.key(1), x.shape);
    const f = (p: any, xb: any) => np.sum(np.mul(layer.apply(p, state, xb, { train: true }).y, xb));
    const g = np.grad(f, { argnums: [0, 1] });
    return () => { const [gp, gx] = g(params, x); gx.dataSync(); gp.weight.dataSync(); };
  }],
  ['jit 10-op chain [1M]', (np) => {
    const chain = (x: any, s: any) => {
      const y = np.add(np.mul(x, s), 0.5), z = np.maximum(y, np.mul(y, 0.1)), q = np.sub(np.mul(z, z), x);
      return np.minimum(np.div(q, np.add(np.abs(q), 1)), 0.9);
    };
    const x = np.random.normal(np.random.key(0), [N]), s = np.tensor(1.5), jc = np.jit(chain);
    return () => jc(x, s).dataSync();
  }],
  ...[false, true].map((jitted): Case => [`video encoder fwd+bwd, batch 8 (${jitted ? 'jit' : 'eager'})`, (np, nn) => {
    const layer = nn.videoEncoder(), clip = [8, 3, 8, 32, 32];
    const { params, state } = layer.init(np.random.key(1), clip);
    const input = np.random.normal(np.random.key(2), clip);
    const loss = (p: any, st: any, xb: any) => { const o = layer.apply(p, st, xb, { train: true }); return [np.mean(np.square(o.y)), o.state]; };
    const vg = np.valueAndGrad(loss, { hasAux: true }), f = jitted ? np.jit(vg) : vg;
    return () => f(params, state, input)[0][0].item();
  }]),
];

console.log(`best of ${runs} calls${against ? `, this = ${resolve(import.meta.dirname, '../..')} against that = ${against}` : ''}`);
for (const [name, make] of cases) {
  if (only.length && !only.some((o) => name.includes(o))) continue;
  const fs = libs.map(({ np, nn }) => make(np, nn));
  for (let i = 0; i < 2; i++) fs.forEach((f) => f());
  const best = fs.map(() => Infinity);
  for (let i = 0; i < runs; i++) {
    fs.forEach((f, k) => { const t0 = performance.now(); f(); best[k] = Math.min(best[k], performance.now() - t0); });
  }
  const cols = best.map((t, k) => `${libs[k].label} ${t.toFixed(2).padStart(8)} ms`).join('   ');
  console.log(`  ${name.padEnd(44)} ${cols}${against ? `   this/that ${(best[0] / best[1]).toFixed(2)}` : ''}`);
}
process.exit(0);
