/** Exits 0 if the gpu backend starts here (used by spec/run.ts before the GPU runs). */
import { gpuStatus } from '../core/index.js';

const s = gpuStatus();
console.log(s.ok ? `gpu: ${s.mode} (${s.kernelClass})` : s.reason);
process.exitCode = s.ok ? 0 : 1;
