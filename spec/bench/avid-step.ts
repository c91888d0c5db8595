/**
 * `npx tsx spec/bench/avid-step.ts [--backends cpu,gpu]`: clips per second of one Cross-AVID training
 * step (both encoders and heads forward and backward, Adam, both bank updates) at the tiny default,
 * on each backend, median of several steps after a warm-up. The gpu row needs a display (xvfb-run).
 */
import * as np from '../../core/index.js';
import { ensureDisplay } from '../../core/gpu/display.js';
import { synthetic, tinyData } from '../../avid/data.js';
import { getBatch, specShape } from '../../avid/source.js';
import { avidModel, tinyModel } from '../../avid/model.js';
import { crossAvid } from '../../avid/objectives.js';
import { initState, tinyTrain, trainStep } from '../../avid/train.js';

ensureDisplay();
const arg = process.argv.indexOf('--backends');
const backends = arg > 0 ? process.argv[arg + 1].split(',') : ['cpu', 'gpu'];
const ds = synthetic(np.random.key(0), 256, tinyData);
const model = avidModel(tinyModel), cfg = tinyTrain;
console.log(`Cross-AVID training step, tiny default (batch ${cfg.batch}, video 3x${tinyData.frames}x${tinyData.size}x${tinyData.size}, audio 1x${specShape(ds.cfg).join('x')}, ${cfg.negatives} negatives)`);
for (const b of backends) {
  if (b === 'gpu' && !np.gpuStatus().ok) { console.log(`  gpu: skipped (${(np.gpuStatus() as { reason: string }).reason})`); continue; }
  np.setBackend(b);
  let state = initState(np.random.key(1), model, ds, cfg, crossAvid);
  const step = trainStep(model, crossAvid, cfg);
  const batches = Array.from({ length: 6 }, (_, i) => getBatch(ds, Array.from({ length: cfg.batch }, (_, j) => i * cfg.batch + j), np.random.key(10 + i), cfg));
  const times: number[] = [];
  batches.forEach((batch, i) => {
    const t0 = performance.now();
    state = step(state, batch, np.random.key(i)).state;
    if (i >= 2) times.push(performance.now() - t0); // the first steps compile (gpu) and warm the JIT
  });
  const ms = times.sort((x, y) => x - y)[times.length >> 1];
  console.log(`  ${b}: ${ms.toFixed(0)} ms/step, ${((cfg.batch * 1000) / ms).toFixed(1)} clips/s`);
}
process.exit(0);
