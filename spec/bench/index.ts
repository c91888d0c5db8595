/**
 * `npm run bench [-- --json FILE] [--only matmul,conv2d,conv2d_grad,conv2plus1d] [--quick]
 *   [--backends ours,ours-gpu,ours-gpu+read,tfjs-cpu,tfjs-wasm,jax-js] [--jax-threads N]`
 *
 * One process times our CPU backend and its rivals on the same inputs: matmul (256, 512, 1024),
 * a 3x3 conv2d forward and forward+backward, and a (2+1)-D video conv block. Each backend is first
 * checked against naive references on small cases; a backend that fails to load or gets an op
 * wrong is skipped for it, with a message. Prints GFLOP/s and ratios; --json writes the rows.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { type Adapter, type Job, type Row, type TimingOptions, addRatios, measure, printTable, verify } from './harness.js';
import { type ConvChain, convFlops, makeChain, randn } from './data.js';
import { jaxjs, tfjs } from './peers.js';
import { ensureDisplay } from '../../core/gpu/display.js';

ensureDisplay(); // the gpu rows need headless-GL, which needs a display (Xvfb)
import { ours } from './ours.js';

function parseArgs(argv: string[]) {
  const o = { json: '', only: [] as string[], quick: false, backends: [] as string[], jaxThreads: availableParallelism() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], next = () => { if (i + 1 >= argv.length) throw new Error(`${a} needs a value`); return argv[++i]; };
    if (a === '--json') o.json = next();
    else if (a === '--only') o.only = next().split(',');
    else if (a === '--backends') o.backends = next().split(',');
    else if (a === '--jax-threads') o.jaxThreads = Number(next());
    else if (a === '--quick') o.quick = true;
    else throw new Error(`unknown argument ${a}; see the header of spec/bench/index.ts`);
  }
  return o;
}

interface Case { op: string; size: string; flops: number; job: (ad: Adapter) => Promise<Job> }

function cases(): Case[] {
  const mm = [256, 512, 1024].map((n): Case => {
    const a = randn(n * n, n), b = randn(n * n, n + 1);
    return { op: 'matmul', size: `${n}`, flops: 2 * n ** 3, job: (ad) => ad.matmul(a, b, n) };
  });
  const conv = (op: string, size: string, spec: ConvChain): Case => ({ op, size, flops: convFlops(spec), job: (ad) => ad.conv(spec) });
  const c2 = 'N8 C32->64 32x32 k3';
  return [
    ...mm,
    conv('conv2d', c2, makeChain([8, 32, 32, 32], [[64, 3, 3]], false)),
    conv('conv2d_grad', c2, makeChain([8, 32, 32, 32], [[64, 3, 3]], true)),
    conv('conv2plus1d', 'N4 C16->32->32 8x16x16 k133,k311', makeChain([4, 16, 8, 16, 16], [[32, 1, 3, 3], [32, 3, 1, 1]], false)),
  ];
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const timing: TimingOptions = { minMs: args.quick ? 200 : 1000, minRuns: 3, warmup: 2 };
  const all = cases().filter((c) => !args.only.length || args.only.includes(c.op));
  const families = new Set(all.map((c) => c.op));
  let adapters = [ours(), ours('gpu', false), ours('gpu', true), tfjs('cpu'), tfjs('wasm'), jaxjs(args.jaxThreads)];
  if (args.backends.length) adapters = adapters.filter((a) => args.backends.includes(a.name));

  console.log(`bench: node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), `
    + `median of >= ${timing.minRuns} runs / ${timing.minMs} ms after ${timing.warmup} warm-up calls`);
  const live: { ad: Adapter; ok: Set<string> }[] = [];
  for (const ad of adapters) {
    try {
      const info = await ad.setup();
      console.log(`  ${ad.name.padEnd(9)} ${info}`);
      live.push({ ad, ok: await verify(ad, families) });
    } catch (e) {
      console.log(`  ${ad.name.padEnd(9)} SKIPPED, failed to load: ${String((e as Error)?.message ?? e).split('\n')[0]}`);
    }
  }
  console.log('');

  const rows: Row[] = [];
  for (const c of all) {
    for (const { ad, ok } of live) {
      if (!ok.has(c.op)) continue;
      try {
        const job = await c.job(ad);
        const { ms, runs } = await measure(() => job.run(), timing);
        job.dispose();
        const gflops = c.flops / (ms * 1e6);
        rows.push({ op: c.op, size: c.size, backend: ad.name, gflops, ratio_vs_tfjs_cpu: null, ratio_vs_tfjs_wasm: null, ratio_vs_jaxjs: null });
        console.log(`  ${c.op} ${c.size}  ${ad.name}: ${gflops.toFixed(2)} GFLOP/s (median ${ms.toFixed(2)} ms of ${runs})`);
      } catch (e) {
        console.log(`  ${c.op} ${c.size}  ${ad.name}: FAILED ${String((e as Error)?.message ?? e).split('\n')[0]}`);
      }
    }
  }
  console.log('');
  printTable(addRatios(rows));
  if (args.json) {
    writeFileSync(args.json, JSON.stringify(rows, null, 2) + '\n');
    console.log(`\nwrote ${rows.length} rows to ${args.json}`);
  }
}

// exit explicitly: worker pools (ours, jax-js) must not keep the process alive
main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
