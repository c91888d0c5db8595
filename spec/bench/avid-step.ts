/**
 * `npx tsx spec/bench/avid-step.ts [--backends cpu,gpu] [--rounds 6] [--warmup 4] [--each]`: one Cross-AVID training step
 * (both encoders and heads forward and backward, Adam, both bank updates) at the tiny default, eager
 * against jitted (trainStep's `jit` option), on each backend. The two take turns, a step each, from
 * the same state, so load from other jobs falls on both; the best step of each is reported, and their
 * ratio, and the median over rounds of each round's eager / jit ratio (the pair ran back to back, so
 * a burst of load falls on both: steadier than the bests on a busy machine). The gpu row needs a
 * display (xvfb-run). `--each` prints every round as it ends, warm-up ones too (the first traces and
 * compiles), so a run cut short by a time limit still says how far it got. `--profile` times
 * one more step of each, kernel by kernel, each launch waited for (core/gpu/backend.ts gpuProfile);
 * `--cpu-prof DIR` writes V8 CPU profiles of 5 more steps of each to DIR/step-{eager,jit}.cpuprofile.
 */
import * as np from '../../core/index.js';
import { ensureDisplay } from '../../core/gpu/display.js';
import { gpuProfile } from '../../core/gpu/backend.js';
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { synthetic, tinyData } from '../../avid/data.js';
import { getBatch, specShape } from '../../avid/source.js';
import { avidModel, tinyModel } from '../../avid/model.js';
import { crossAvid } from '../../avid/objectives.js';
import { initState, tinyTrain, trainStep } from '../../avid/train.js';

ensureDisplay();
const opt = (name: string, dflt: string) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : dflt; };
const backends = opt('backends', 'cpu,gpu').split(','), rounds = Number(opt('rounds', '6')), warmup = Number(opt('warmup', '4'));
const each = process.argv.includes('--each'), profile = process.argv.includes('--profile'), cpuProf = opt('cpu-prof', '');
const ds = synthetic(np.random.key(0), 256, tinyData);
const model = avidModel(tinyModel), cfg = tinyTrain;
console.log(`Cross-AVID training step, tiny default (batch ${cfg.batch}, video 3x${tinyData.frames}x${tinyData.size}x${tinyData.size}, ` +
  `audio 1x${specShape(ds.cfg).join('x')}, ${cfg.negatives} negatives), threads ${process.env.AVID_THREADS ?? 'default'}, best of ${rounds} after ${warmup} warm-up steps`);
for (const b of backends) {
  if (b === 'gpu' && !np.gpuStatus().ok) { console.log(`  gpu: skipped (${(np.gpuStatus() as { reason: string }).reason})`); continue; }
  np.setBackend(b);
  const start = initState(np.random.key(1), model, ds, cfg, crossAvid);
  const steps = { eager: trainStep(model, crossAvid, cfg, undefined, { jit: false }), jit: trainStep(model, crossAvid, cfg) };
  const state = { eager: start, jit: start };
  const best = { eager: Infinity, jit: Infinity }, ratios: number[] = [], launches = { eager: 0, jit: 0 };
  const batch = (i: number) => getBatch(ds, Array.from({ length: cfg.batch }, (_, j) => ((i * cfg.batch) + j) % ds.n), np.random.key(10 + i), cfg);
  for (let i = 0; i < rounds + warmup; i++) {
    const bt = batch(i);
    const ms = { eager: 0, jit: 0 };
    for (const mode of (i % 2 ? ['jit', 'eager'] : ['eager', 'jit']) as ('eager' | 'jit')[]) {
      const t0 = performance.now(), r0 = np.gpuStats().runs;
      state[mode] = steps[mode](state[mode], bt, np.random.key(i)).state;
      np.treeLeaves(state[mode].params)[0].dataSync(); // wait for the device
      ms[mode] = performance.now() - t0;
      launches[mode] = np.gpuStats().runs - r0;
      if (i >= warmup) best[mode] = Math.min(best[mode], ms[mode]); // the first steps trace, compile and warm V8
    }
    if (i >= warmup) ratios.push(ms.eager / ms.jit);
    if (each) console.log(`  ${b} round ${i + 1}${i < warmup ? ' (warm-up)' : ''}: eager ${ms.eager.toFixed(0)} ms, jit ${ms.jit.toFixed(0)} ms`);
  }
  if (profile && b === 'gpu') {
    // one more step of each, every launch waited for and timed by kernel
    for (const mode of ['eager', 'jit'] as const) {
      gpuProfile(true);
      const t0 = performance.now();
      state[mode] = steps[mode](state[mode], batch(rounds + warmup), np.random.key(99)).state;
      np.treeLeaves(state[mode].params)[0].dataSync();
      const ms = performance.now() - t0, rows = gpuProfile(false), sum = rows.reduce((a, r) => a + r.ms, 0);
      console.log(`  ${mode}, profiled: ${ms.toFixed(0)} ms, ${rows.reduce((a, r) => a + r.runs, 0)} launches, ${sum.toFixed(0)} ms in them; the top 15:`);
      for (const r of rows.slice(0, 15)) console.log(`    ${r.ms.toFixed(1).padStart(7)} ms ${String(r.runs).padStart(4)}x  ${r.kernel}`);
    }
  }
  if (cpuProf && b === 'gpu') {
    // a few more steps of each under V8's sampling profiler, for where the host's time goes
    const session = new Session();
    session.connect();
    const post = (method: string, params?: object) => new Promise<any>((ok, fail) => session.post(method, params, (e, r) => (e ? fail(e) : ok(r))));
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 100 });
    for (const mode of ['eager', 'jit'] as const) {
      await post('Profiler.start');
      for (let k = 0; k < 5; k++) {
        state[mode] = steps[mode](state[mode], batch(k), np.random.key(200 + k)).state;
        np.treeLeaves(state[mode].params)[0].dataSync();
      }
      const { profile: p } = await post('Profiler.stop');
      writeFileSync(join(cpuProf, `step-${mode}.cpuprofile`), JSON.stringify(p));
      console.log(`  ${mode}: 5 steps profiled into ${join(cpuProf, `step-${mode}.cpuprofile`)}`);
    }
    session.disconnect();
  }
  if (steps.jit.eager) console.log(`  ${b}: the jitted step ran eagerly: ${steps.jit.eager}`);
  const cps = (ms: number) => ((cfg.batch * 1000) / ms).toFixed(1);
  console.log(`  ${b}: eager ${best.eager.toFixed(0)} ms/step (${cps(best.eager)} clips/s), jit ${best.jit.toFixed(0)} ms/step (${cps(best.jit)} clips/s): jit ${(best.eager / best.jit).toFixed(2)}x; ` +
    `median of the rounds' ratios ${ratios.sort((a, b) => a - b)[Math.floor(ratios.length / 2)].toFixed(2)}x` +
    (b === 'gpu' ? `; kernel launches a step: eager ${launches.eager}, jit ${launches.jit}` : ''));
}
process.exit(0);
