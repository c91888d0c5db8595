/**
 * `npx tsx spec/bench/paired.ts [--only matmul,conv2d] [--rounds 12] [--ms 150]`
 *
 * Ours against tfjs-wasm on the cases of index.ts, measured for a shared machine: the two backends
 * take turns in short bursts (--ms each, --rounds times), and each reports its best time and its
 * median time over all bursts. Load from other processes comes and goes over seconds, so
 * back-to-back medians as index.ts takes them can differ by 2x between two runs; taking turns puts
 * both backends under the same load, and the best time approaches what each does on a free core.
 */
import { availableParallelism } from 'node:os';
import { convFlops, makeChain, randn } from './data.js';
import { tfjs } from './peers.js';
import { ours } from './ours.js';
import type { Adapter, Job } from './harness.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const only = opt('--only', 'matmul,conv2d').split(','), rounds = Number(opt('--rounds', '12')), burst = Number(opt('--ms', '150'));

interface Case { op: string; size: string; flops: number; job: (ad: Adapter) => Promise<Job> }
const cases: Case[] = [
  ...[256, 512, 1024].map((n): Case => {
    const a = randn(n * n, n), b = randn(n * n, n + 1);
    return { op: 'matmul', size: `${n}`, flops: 2 * n ** 3, job: (ad) => ad.matmul(a, b, n) };
  }),
  ...(['conv2d', 'conv2d_grad'] as const).map((op): Case => {
    const spec = makeChain([8, 32, 32, 32], [[64, 3, 3]], op === 'conv2d_grad');
    return { op, size: 'N8 C32->64 32x32 k3', flops: convFlops(spec), job: (ad) => ad.conv(spec) };
  }),
].filter((c) => only.includes(c.op));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

async function main() {
  const adapters = [ours(), tfjs('wasm')];
  for (const ad of adapters) console.log(`${ad.name}: ${await ad.setup()}`);
  console.log(`node ${process.version}, ${availableParallelism()} cores; ${rounds} rounds of ${burst} ms bursts each`);
  for (const c of cases) {
    const jobs = await Promise.all(adapters.map((ad) => c.job(ad)));
    const times = adapters.map(() => [] as number[]);
    for (const j of jobs) { j.run(); j.run(); }
    for (let r = 0; r < rounds; r++) {
      jobs.forEach((j, i) => {
        const t0 = performance.now();
        do { const s = performance.now(); j.run(); times[i].push(performance.now() - s); } while (performance.now() - t0 < burst);
      });
    }
    jobs.forEach((j) => j.dispose());
    const best = times.map((t) => Math.min(...t)), med = times.map(median);
    const g = (ms: number) => (c.flops / ms / 1e6).toFixed(1);
    console.log(`${c.op.padEnd(11)} ${c.size.padEnd(20)} ours ${g(best[0])} / ${g(med[0])}  tfjs-wasm ${g(best[1])} / ${g(med[1])} GFLOP/s (best / median)`
      + `  ratio best ${(best[1] / best[0]).toFixed(2)}x, median ${(med[1] / med[0]).toFixed(2)}x`);
  }
}
main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
