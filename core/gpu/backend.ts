/**
 * The GPU backend: every primitive runs as a gpu.js kernel (headless-GL in Node, WebGL2/WebGL in a
 * browser). Tensors stay on the GPU as float32 textures between kernels and are read back only when
 * asked for values. A texture holds four values to an RGBA texel, in order (gpu.js's
 * "memory-optimized" layout), as tfjs's WebGL backend does: a software rasteriser or a GPU pays per
 * fragment and per fetch, and this quarters both. Kernels read any tensor as a flat array (`a[k]`);
 * a kernel written per element (`run`) computes four a thread through gpu.js's optimizeFloatMemory,
 * an elementwise one (`run4`) computes four from one fetch of each same-shaped input.
 *
 * gpu.js discipline, each rule learned the hard way:
 * - every kernel is `pipeline: true, immutable: true`: without immutable, a kernel reuses its output
 *   texture and a second call silently overwrites the first result;
 * - precision 'single' (the 'unsigned' packing loses precision and turns nan/inf into -1.7e38);
 * - kernels are compiled once per (source, output size, input sizes) and cached; `warmup` compiles early;
 * - without a display headless-GL has no context and gpu.js quietly falls back to its WebAssembly or
 *   CPU mode: we check the kernel class that actually ran and refuse to call that a GPU.
 * - int32 lives in float32 textures too, exact within ±2^24: upload refuses values beyond that
 *   (checkExactInt), and an int32 read rounds and saturates (2^31 - 1 is 2^31 in float32);
 * - subnormal floats flush to 0 (WebGL does); the README's table under Backends says so.
 *
 * Memory is the library's job, not the user's (no dispose, no tidy). A buffer is freed when no tensor
 * refers to it any more (a FinalizationRegistry, counting aliases such as reshape's), and eagerly at
 * API boundaries (grad, valueAndGrad, an optimizer step): see `core/memory.ts`.
 */
import { type Backend, type Kernel, registerBackend } from '../backend.js';
import { alloc, type TypedArray } from '../dtype.js';
import { kernelFor } from '../primitive.js';
import { platform } from '../platform/node.js';
import { env } from '../platform/platform.js';
import { sizeOf } from '../shape.js';
import { fastReads } from './reads.js';
import { recycleTextures } from './textures.js';
import { lightFramebuffers } from './framebuffers.js';
import { checkExactInt, type GpuBuf, type GpuContext, type GpuKernel, MAX_KERNEL_INPUTS } from './shader.js';

// gpu.js is CommonJS and pulls in headless-gl; the platform loads it only when the GPU is first used.
type GpuJs = typeof import('gpu.js');
type GpuKernelFn = ((...args: unknown[]) => unknown) & { kernel: { constructor: { name: string } } };

/** The kernel classes that are real GPU paths; anything else is gpu.js falling back. */
const GPU_KERNEL_CLASSES = new Set(['HeadlessGLKernel', 'WebGL2Kernel', 'WebGLKernel', 'WebGPUKernel']);

/**
 * The name gpu.js exports a kernel's class under, found by identity: gpu-browser.min.js minifies
 * class names, so `constructor.name` there may read "e" (its WebAssembly fallback does).
 */
function kernelClassOf(gpuJs: GpuJs, ctor: unknown): string {
  const names = [...GPU_KERNEL_CLASSES, 'WebAssemblyKernel', 'CPUKernel'];
  return names.find((n) => (gpuJs as unknown as Record<string, unknown>)[n] === ctor) ?? ((ctor as { name?: string }).name || 'an unnamed class');
}

class Buf implements GpuBuf {
  refs = 0;
  freed = false;
  /** `grid`: an internal layout's texels (runTargets), not a tensor's four values a texel */
  constructor(readonly tex: { delete(): void; renderValues(): Float32Array } | null, readonly size: number, readonly host?: Float32Array, readonly grid = false) {}
}

interface State {
  gpu: InstanceType<GpuJs['GPU']>;
  gpuJs: GpuJs;
  mode: string;
  kernelClass: string;
  cache: Map<string, GpuKernelFn>;
  live: Set<Buf>;
  dummy: Buf;
  compiles: number;
  runs: number;
}

let state: State | undefined;
let failure: string | undefined;
const slowCompileMs = env('AVID_GPU_SLOW_COMPILE_MS') !== undefined ? Number(env('AVID_GPU_SLOW_COMPILE_MS')) : undefined;

function start(): State {
  if (state) return state;
  if (failure) throw new Error(failure);
  const mode = env('AVID_GPU_MODE') ?? platform.gpuMode;
  try {
    const gpuJs = platform.gpuJs(), { GPU } = gpuJs;
    fastReads(gpuJs);
    const gpu = new GPU({ mode: mode as 'headlessgl' });
    const probe = gpu.createKernel(function (this: { thread: { x: number } }, a: number[]) { return a[this.thread.x] * 2; },
      { output: [2], precision: 'single', pipeline: false }) as unknown as GpuKernelFn;
    const out = probe([1, 2]) as Float32Array;
    const kernelClass = kernelClassOf(gpuJs, probe.kernel.constructor);
    if (!GPU_KERNEL_CLASSES.has(kernelClass) || out[1] !== 4) {
      throw new Error(`gpu.js ran the probe kernel as ${kernelClass}, not on a GPU` +
        (mode === 'headlessgl' ? ' (headless-GL needs a display: run under `xvfb-run -a`)' : ''));
    }
    if (env('AVID_GPU_LIGHT_FRAMEBUFFERS') !== '0') lightFramebuffers((probe.kernel as unknown as { context: object }).context);
    const s: State = { gpu, gpuJs, mode: gpu.mode, kernelClass, cache: new Map(), live: new Set(), dummy: undefined as unknown as Buf, compiles: 0, runs: 0 };
    state = s;
    s.dummy = upload(new Float32Array(1));
    s.live.delete(s.dummy);
    recycleTextures(s.dummy.tex!, Number(env('AVID_GPU_POOL_MB') ?? 256) * 2 ** 20);
    return s;
  } catch (e) {
    failure = `gpu backend unavailable: ${(e as Error).message}`;
    throw new Error(failure);
  }
}

/** Whether the GPU backend can run here, and if not, why. Probes once. */
export function gpuStatus(): { ok: true; mode: string; kernelClass: string } | { ok: false; reason: string } {
  try {
    const s = start();
    return { ok: true, mode: s.mode, kernelClass: s.kernelClass };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}

function compile(src: string, output: readonly number[], inputs: readonly Buf[], vec4: boolean, glsl: readonly string[], targets = 1): GpuKernelFn {
  const s = start();
  const key = `${output.join('x')}|${vec4}|${targets}|${inputs.map((b) => `${b.size}${b.grid ? 'g' : ''}`).join(',')}|${src}|${glsl.join('|')}`;
  let k = s.cache.get(key);
  if (!k) {
    // WebGL1 (and so headless-gl) spells GLSL's texture() texture2D(); render target i is gpu.js's sub-kernel result
    const webgl1 = s.kernelClass !== 'WebGL2Kernel';
    const nativeFunctions = glsl.map((source) => {
      const [, type, name] = /^(\w+)\s+(\w+)\s*\(/.exec(source)!;
      source = source.replace(/\btarget([1-3])\b/g, 'subKernelResult_target$1');
      return { name, source: webgl1 ? source.replace(/\btexture\(/g, 'texture2D(') : source, returnType: type === 'vec4' ? 'Array(4)' : 'Number' };
    });
    const settings = {
      output: [...output], precision: 'single', pipeline: true, immutable: true, tactic: 'precision',
      ...(vec4 ? { returnType: 'Array(4)' } : { optimizeFloatMemory: true }), ...(glsl.length ? { nativeFunctions } : {}),
    } as never;
    if (targets === 1) k = s.gpu.createKernel(src, settings) as unknown as GpuKernelFn;
    else {
      // gpu.js writes a sub-kernel's result to a render target of its own; ours are identities, called
      // (never at run time) only so that gpu.js declares them, and the kernel's GLSL sets their results
      const names = Array.from({ length: targets - 1 }, (_, i) => `target${i + 1}`);
      const calls = `if (this.thread.x < -1.0) { const d_ = [0.0, 0.0, 0.0, 0.0]; ${names.map((n) => `${n}(d_);`).join(' ')} }`;
      k = s.gpu.createKernelMap(Object.fromEntries(names.map((n) => [n, function (v: number[]) { return v; }])) as never,
        src.replace('{', `{\n  ${calls}`) as never, settings) as unknown as GpuKernelFn;
    }
    s.cache.set(key, k);
    s.compiles++;
  }
  return k;
}

function track(b: Buf): Buf {
  start().live.add(b);
  scopeStack[scopeStack.length - 1]?.add(b);
  return b;
}

/** Run a kernel over `output` (a grid of floats, or with vec4 of RGBA texels) and return its texture, or its `targets` textures. */
function launch(src: string, inputs: readonly GpuBuf[], output: readonly number[], vec4: boolean, glsl: readonly string[], targets = 1): Buf['tex'] {
  const s = start();
  if (inputs.length > MAX_KERNEL_INPUTS) throw new Error(`gpu: a kernel reads at most ${MAX_KERNEL_INPUTS} tensors (texture units), this one ${inputs.length}: split the work\n--- source ---\n${src.slice(0, 400)}`);
  const bufs = inputs.map((b) => {
    const buf = b as Buf;
    if (buf.freed) throw new Error('gpu: this tensor\'s memory was released when the grad/step that made it returned; return it (or pass it as aux) to keep it');
    return buf.tex ? buf : s.dummy;
  });
  const compiles = s.compiles;
  const k = compile(src, output, bufs, vec4, glsl, targets);
  try {
    const t0 = s.compiles > compiles && slowCompileMs !== undefined ? performance.now() : undefined;
    const tex = k(...bufs.map((b) => b.tex)) as Buf['tex'];
    s.runs++;
    // gpu.js compiles on a kernel's first run: AVID_GPU_SLOW_COMPILE_MS=N reports those over N ms
    if (t0 !== undefined && performance.now() - t0 > slowCompileMs!) {
      console.warn(`gpu: a kernel took ${(performance.now() - t0).toFixed(0)} ms to compile and run first (${inputs.length} inputs, ${src.length + glsl.join('').length} characters of source): ${src.slice(0, 160).replace(/\s+/g, ' ')}`);
    }
    return tex;
  } catch (e) {
    throw new Error(`gpu: kernel failed to compile or run: ${(e as Error).message}\n--- source ---\n${src}`);
  }
}

/** Whether this WebGL can write several render targets at once (WebGL2, or WebGL1's WEBGL_draw_buffers). */
const multipleTargets = (): boolean => (start().gpu as unknown as { Kernel: { features: { kernelMap: boolean } } }).Kernel.features.kernelMap;

/**
 * A tensor of `size` values from a vec4 kernel's output: gpu.js made an Array(4) texture, texel for
 * texel what it reads as a tensor (optimizeFloatMemory's layout), rewrapped as the texture class gpu.js
 * gives tensors (kernels check the class), sharing the GL texture.
 */
function asTensor(grid: Buf['tex'], size: number): Buf {
  const g = grid as unknown as Record<string, unknown> & { delete(): void };
  const Tensor = (start().dummy.tex as object).constructor as new (settings: object) => Buf['tex'];
  const tex = new Tensor({ ...g, output: [size], dimensions: [size, 1, 1] });
  g.delete();
  return track(new Buf(tex, size));
}

const context: GpuContext = {
  run(src, inputs, size, glsl = []) {
    return size === 0 ? new Buf(null, 0) : track(new Buf(launch(src, inputs, [size], false, glsl), size));
  },
  run4(src, inputs, size, glsl = []) {
    if (size === 0) return new Buf(null, 0);
    return asTensor(launch(src, inputs, [Math.ceil(size / 4)], true, glsl), size);
  },
  run4Many(src, inputs, size, targets, glsl) {
    if (!(targets >= 2 && targets <= 4)) throw new Error(`gpu: run4Many writes 2 to 4 tensors, not ${targets}`);
    if (!multipleTargets()) throw new Error('gpu: this WebGL has no multiple render targets (WEBGL_draw_buffers) for a kernel with several outputs');
    if (size === 0) return Array.from({ length: targets }, () => new Buf(null, 0));
    const texs = launch(src, inputs, [Math.ceil(size / 4)], true, glsl, targets) as unknown as Record<string, Buf['tex']>;
    return Array.from({ length: targets }, (_, i) => asTensor(texs[i ? `target${i}` : 'result'], size));
  },
  runTargets(src, inputs, output, targets, glsl) {
    // WebGL2 promises 4 draw buffers, no more
    if (!(targets >= 1 && targets <= 4)) throw new Error(`gpu: runTargets writes 1 to 4 render targets, not ${targets}`);
    if (!multipleTargets()) throw new Error('gpu: this WebGL has no multiple render targets (WEBGL_draw_buffers), which matmul needs; use the cpu backend');
    const size = output.reduce((a, b) => a * b, 1) * 4;
    const texs = launch(src, inputs, output, true, glsl, targets) as unknown as Record<string, Buf['tex']>;
    return Array.from({ length: targets }, (_, i) => track(new Buf(texs[i ? `target${i}` : 'result'], size, undefined, true)));
  },
  get maxTextureSize() {
    return (start().gpu as unknown as { Kernel: { features: { maxTextureSize: number } } }).Kernel.features.maxTextureSize;
  },
  release(buf) {
    free(buf as Buf);
  },
  read(buf) {
    const b = buf as Buf;
    if (b.freed) throw new Error('gpu: this tensor\'s memory was released when the grad/step that made it returned; return it (or pass it as aux) to keep it');
    if (!b.tex) return new Float32Array(0);
    // every tensor's texture is RGBA, four values a texel in order (Array(4) outputs' toArray would nest them)
    return b.host ? b.host.slice() : b.tex.renderValues().slice(0, b.size);
  },
};

function upload(data: Float32Array): Buf {
  if (data.length === 0) return new Buf(null, 0);
  const k = compile('function (a) { return a[this.thread.x]; }', [data.length], [], false, []);
  const tex = k(data) as Buf['tex'];
  return track(new Buf(tex, data.length, data));
}

function free(b: Buf): void {
  if (b.freed || !b.tex) return;
  b.freed = true;
  b.tex.delete();
  state?.live.delete(b);
}

// ---- memory: reference counts from tensors, and scopes at API boundaries ----

const registry = new FinalizationRegistry<Buf>((b) => { if (--b.refs <= 0) free(b); });
const scopeStack: Set<Buf>[] = [];

export const gpu: Backend<GpuBuf> & {
  retain(owner: object, buf: GpuBuf): void;
  beginScope(): void;
  endScope(keep: readonly GpuBuf[]): void;
  pin(buf: GpuBuf): void;
} = {
  name: 'gpu',
  // a launch costs about 0.2 ms of JavaScript on an H100's host, a pass over a param microseconds;
  // several outputs need WebGL's multiple render targets (WEBGL_draw_buffers, or WebGL2)
  get maxFusedOutputs() {
    return multipleTargets() ? 4 : 1;
  },
  unavailable() {
    const s = gpuStatus();
    return s.ok ? undefined : s.reason;
  },
  upload(data, aval, op = 'tensor') {
    start();
    if (aval.dtype === 'int32') checkExactInt(op, data, 'int32 value');
    const f = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
    return upload(f);
  },
  read(buf, aval) {
    const values = context.read(buf);
    const out = alloc(aval.dtype, sizeOf(aval.shape)) as TypedArray;
    if (aval.dtype === 'bool') for (let i = 0; i < out.length; i++) out[i] = values[i] !== 0 ? 1 : 0;
    // int32 rounds (shaders compute in float: a GPU's pow may miss an integer) and saturates (2^31 - 1 is 2^31 in float32)
    else if (aval.dtype === 'int32') for (let i = 0; i < out.length; i++) out[i] = Math.min(Math.max(Math.round(values[i]), -2147483648), 2147483647);
    else out.set(values);
    return out;
  },
  kernel(prim) {
    const k = kernelFor('gpu', prim) as GpuKernel | undefined;
    if (!k) return undefined;
    const run: Kernel<GpuBuf> = (inputs, attrs, out) => k(context, inputs, attrs, out);
    return run;
  },
  retain(owner, buf) {
    const b = buf as Buf;
    b.refs++;
    registry.register(owner, b);
  },
  beginScope() { scopeStack.push(new Set()); },
  pin(buf) { for (const scope of scopeStack) scope.delete(buf as Buf); },
  endScope(keep) {
    const made = scopeStack.pop();
    if (!made) return;
    const kept = new Set(keep as Buf[]);
    const parent = scopeStack[scopeStack.length - 1];
    for (const b of made) {
      if (kept.has(b)) parent?.add(b);
      else free(b);
    }
  },
};

/**
 * Compile every kernel `f(...args)` needs now, so the first real call does not pay for it
 * (gpu.js compiles a shader on its first run, 50-300 ms each). Returns how many were compiled.
 * `warmup(step, state, batch)`
 */
export function warmup<Args extends unknown[]>(f: (...args: Args) => unknown, ...args: Args): number {
  const before = state?.compiles ?? 0;
  f(...args);
  return (state?.compiles ?? 0) - before;
}

/** Wait until every queued kernel has finished (gl.finish): for timing kernels without a readback. */
export function gpuFinish(): void {
  (state?.gpu as unknown as { context?: { finish(): void } } | undefined)?.context?.finish();
}

/**
 * Live GPU buffers and their bytes, kernel compile and run counts, and how many compiled kernels
 * gpu.js runs as each kernel class now (it can swap a kernel for its CPU fallback after a failed
 * build, so the probe's class alone does not prove every kernel ran on WebGL), and the largest
 * texture side this GPU allows.
 */
export function gpuStats(): { textures: number; bytes: number; kernels: number; compiles: number; runs: number; classes: Record<string, number>; maxTextureSize: number } {
  if (!state) return { textures: 0, bytes: 0, kernels: 0, compiles: 0, runs: 0, classes: {}, maxTextureSize: 0 };
  let bytes = 0;
  for (const b of state.live) bytes += 4 * b.size;
  const classes: Record<string, number> = {};
  for (const k of state.cache.values()) {
    const c = kernelClassOf(state.gpuJs, k.kernel.constructor);
    classes[c] = (classes[c] ?? 0) + 1;
  }
  return { textures: state.live.size, bytes, kernels: state.cache.size, compiles: state.compiles, runs: state.runs, classes, maxTextureSize: context.maxTextureSize };
}

registerBackend(gpu);

