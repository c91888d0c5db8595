/**
 * The measuring half of the benchmark: what a backend adapter must offer, how one job is timed
 * (warm up, then repeat until the time budget is spent, report the median), how each backend is
 * first checked against naive float64 references, and how rows, ratios and the table are made.
 * A ratio column is this row's GFLOP/s over that peer's on the same (op, size): for our rows
 * that is ours/peer; a peer's own column reads 1.
 */
import { type ConvChain, naiveChain, naiveMatmul, randn, relErr, makeChain } from './data.js';

/** A prepared computation: inputs already on the backend; `run` computes and waits for the data. */
export interface Job {
  run(): unknown;
  /** Run once and return the outputs in canonical layout (NC + spatial; weights O I + kernel). */
  result(): Promise<ArrayLike<number>[]>;
  dispose(): void;
}

export interface Adapter {
  name: string;
  /** Load and initialise; returns a description for the header. Throws if unavailable. */
  setup(): Promise<string>;
  matmul(a: Float32Array, b: Float32Array, n: number): Promise<Job>;
  /** A chain of stride-1 'same' convs; with spec.grad the gradient of sum(output) w.r.t. x and every weight. */
  conv(spec: ConvChain): Promise<Job>;
}

export interface Row {
  op: string; size: string; backend: string; gflops: number;
  ratio_vs_tfjs_cpu: number | null; ratio_vs_tfjs_wasm: number | null; ratio_vs_jaxjs: number | null;
}
export const PEER_COLUMNS = [['ratio_vs_tfjs_cpu', 'tfjs-cpu'], ['ratio_vs_tfjs_wasm', 'tfjs-wasm'], ['ratio_vs_jaxjs', 'jax-js']] as const;

export interface TimingOptions { minMs: number; minRuns: number; warmup: number }

/** Median wall time (ms) of `run` after `warmup` calls; at least minRuns runs and minMs in total. */
export async function measure(run: () => unknown, o: TimingOptions): Promise<{ ms: number; runs: number }> {
  for (let i = 0; i < o.warmup; i++) await run();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < o.minRuns || performance.now() - start < o.minMs) {
    const t0 = performance.now();
    const r = run();
    if (r instanceof Promise) await r;
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const m = times.length >> 1;
  return { ms: times.length % 2 ? times[m] : (times[m - 1] + times[m]) / 2, runs: times.length };
}

/** Small cases with a naive answer; an op family whose check fails is not timed for that backend. */
export const CHECKS: { family: string; make: () => { job: (a: Adapter) => Promise<Job>; want: ArrayLike<number>[] } }[] = [
  { family: 'matmul', make: () => {
    const n = 67, a = randn(n * n, 11), b = randn(n * n, 12);
    return { job: (ad) => ad.matmul(a, b, n), want: [naiveMatmul(a, b, n)] };
  } },
  ...([['conv2d', makeChain([2, 3, 6, 7], [[5, 3, 3]], false, 21)],
    ['conv2d_grad', makeChain([2, 3, 6, 7], [[5, 3, 3]], true, 22)],
    ['conv2plus1d', makeChain([2, 3, 3, 5, 6], [[4, 1, 3, 3], [4, 3, 1, 1]], false, 23)]] as const)
    .map(([family, spec]) => ({ family, make: () => ({ job: (ad: Adapter) => ad.conv(spec), want: naiveChain(spec) }) })),
];

/** Families (op names) whose small case this adapter gets right; prints the others. */
export async function verify(ad: Adapter, families: Set<string>): Promise<Set<string>> {
  const ok = new Set<string>();
  for (const c of CHECKS) {
    if (!families.has(c.family)) continue;
    try {
      const { job, want } = c.make();
      const j = await job(ad);
      const got = await j.result();
      j.dispose();
      const errs = want.map((w, i) => (got[i] ? relErr(got[i], w) : Infinity));
      const worst = Math.max(...errs);
      if (got.length === want.length && worst < 1e-4) ok.add(c.family);
      else console.log(`  ! ${ad.name}: ${c.family} WRONG on the check case (rel err ${errs.map((e) => e.toExponential(1)).join(', ')}), not timed`);
    } catch (e) {
      console.log(`  ! ${ad.name}: ${c.family} failed on the check case, not timed: ${String((e as Error)?.message ?? e).split('\n')[0]}`);
    }
  }
  return ok;
}

/** Fill each row's ratio columns from the peer rows of the same (op, size). */
export function addRatios(rows: Row[]): Row[] {
  for (const r of rows) for (const [key, peer] of PEER_COLUMNS) {
    const p = rows.find((q) => q.op === r.op && q.size === r.size && q.backend === peer);
    r[key] = p ? r.gflops / p.gflops : null;
  }
  return rows;
}

export function printTable(rows: Row[]): void {
  const head = ['op', 'size', 'backend', 'GFLOP/s', ...PEER_COLUMNS.map(([, p]) => `vs ${p}`)];
  const body = rows.map((r) => [r.op, r.size, r.backend, r.gflops.toFixed(2),
    ...PEER_COLUMNS.map(([k]) => (r[k] == null ? '-' : `${r[k]!.toFixed(2)}x`))]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  console.log(line(head));
  console.log(w.map((n) => '-'.repeat(n)).join('  '));
  let prev = '';
  for (const [i, b] of body.entries()) {
    const key = rows[i].op + rows[i].size;
    if (prev && key !== prev) console.log('');
    prev = key;
    console.log(line(b));
  }
}
