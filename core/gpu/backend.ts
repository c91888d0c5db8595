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
import { type Aval, type Backend, type Kernel, type KernelArg, registerBackend } from '../backend.js';
import { alloc, type TypedArray } from '../dtype.js';
import { kernelFor } from '../primitive.js';
import { platform } from '../platform/node.js';
import { env } from '../platform/platform.js';
import { fmt, OpError, sizeOf } from '../shape.js';
import { fastReads } from './reads.js';
import { recycleTextures } from './textures.js';
import { lightFramebuffers } from './framebuffers.js';
import { checkExactInt, EXACT_INT, type GpuBuf, type GpuContext, type GpuKernel, kernelKey, MAX_KERNEL_INPUTS } from './shader.js';

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
  /** the GL renderer's name, and whether it runs on the CPU (GpuContext.software) */
  renderer: string;
  software: boolean;
  /** how many render targets a kernel may write: MAX_DRAW_BUFFERS, at most 8 (WebGL2 promises 4) */
  targets: number;
  /** compiled kernels by source, then by output and inputs, then GLSL */
  cache: Map<string, Map<string, [readonly string[], GpuKernelFn][]>>;
  live: Set<Buf>;
  dummy: Buf;
  compiles: number;
  runs: number;
  /** launches replayed from jit's recordings (specialise) */
  replayed: number;
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
    const gl = (probe.kernel as unknown as { context: WebGLRenderingContext }).context, renderer = rendererOf(gl);
    // MAX_DRAW_BUFFERS (WebGL2) is MAX_DRAW_BUFFERS_WEBGL (WEBGL_draw_buffers): 0x8824 either way
    const targets = Math.max(1, Math.min(8, Number(gl.getParameter(0x8824)) || 4));
    const s: State = { gpu, gpuJs, mode: gpu.mode, kernelClass, renderer, software: isSoftware(renderer), targets, cache: new Map(), live: new Set(), dummy: undefined as unknown as Buf, compiles: 0, runs: 0, replayed: 0 };
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

/** The renderer's name, unmasked where the browser allows (as WEBGL_debug_renderer_info tells it). */
function rendererOf(gl: WebGLRenderingContext): string {
  const dbg = gl.getExtension('WEBGL_debug_renderer_info');
  return String(gl.getParameter(dbg ? dbg.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
}

/**
 * Whether the renderer runs on the CPU: Mesa's llvmpipe and softpipe, SwiftShader, Windows' WARP by
 * name. headless-GL names none (its RENDERER is 'ANGLE', and it has no debug extension), and counts
 * as one unless AVID_GPU_SOFTWARE=0 says otherwise: set that on a machine with a real GPU.
 * AVID_GPU_SOFTWARE=1 forces it anywhere.
 */
function isSoftware(renderer: string): boolean {
  const forced = env('AVID_GPU_SOFTWARE');
  if (forced === '0' || forced === '1') return forced === '1';
  return /llvmpipe|softpipe|swiftshader|basic render driver|software/i.test(renderer) || renderer === 'ANGLE';
}

/** Whether the GPU backend can run here, and if not, why; what it runs as, and on which renderer. Probes once. */
export function gpuStatus(): { ok: true; mode: string; kernelClass: string; renderer: string; software: boolean } | { ok: false; reason: string } {
  try {
    const s = start();
    return { ok: true, mode: s.mode, kernelClass: s.kernelClass, renderer: s.renderer, software: s.software };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}

function compile(src: string, output: readonly number[], inputs: readonly Buf[], vec4: boolean, glsl: readonly string[], targets = 1): GpuKernelFn {
  const s = start();
  // keyed by the source, then the sizes, then the GLSL compared string by string: a memoised
  // source keeps its hash, where one key joining the sources (kilobytes for matmul) would be copied
  // and hashed anew at every launch
  let bySrc = s.cache.get(src);
  if (!bySrc) s.cache.set(src, (bySrc = new Map()));
  const key = `${output.join('x')}|${vec4}|${targets}|${inputs.map((b) => `${b.size}${b.grid ? 'g' : ''}`).join(',')}`;
  let byGlsl = bySrc.get(key);
  if (!byGlsl) bySrc.set(key, (byGlsl = []));
  let k = byGlsl.find(([g]) => g.length === glsl.length && g.every((x, i) => x === glsl[i]))?.[1];
  if (!k) {
    // WebGL1 (and so headless-gl) spells GLSL's texture() texture2D(); render target i is gpu.js's sub-kernel result
    const webgl1 = s.kernelClass !== 'WebGL2Kernel';
    const nativeFunctions = glsl.map((source) => {
      const [, type, name] = /^(\w+)\s+(\w+)\s*\(/.exec(source)!;
      source = source.replace(/\btarget([1-7])\b/g, 'subKernelResult_target$1');
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
    byGlsl.push([glsl, k]);
    s.compiles++;
  }
  return k;
}

function track(b: Buf): Buf {
  start().live.add(b);
  scopeStack[scopeStack.length - 1]?.add(b);
  return b;
}

/**
 * How a context method's launch turns what gpu.js returns into buffers: `run` one texture of floats,
 * `run4` one of texels rewrapped as a tensor's, `run4Many` several such, `runTargets` several grids.
 */
type Kind = 'run' | 'run4' | 'run4Many' | 'runTargets';

/** One launch as a context method asked for it: its kernel, compiled, and the output it writes. */
interface Launch {
  readonly kind: Kind;
  readonly k: GpuKernelFn;
  /** the tensor size of each result (run, run4, run4Many) or the grid's (runTargets) */
  readonly size: number;
  readonly targets: number;
  /** for errors */
  readonly src: string;
  readonly glsl: readonly string[];
}

/** The buffers a kernel reads: live ones, an empty tensor's stood in for by a one-texel dummy. */
function readable(inputs: readonly GpuBuf[], src: string): Buf[] {
  const s = start();
  if (inputs.length > MAX_KERNEL_INPUTS) throw new Error(`gpu: a kernel reads at most ${MAX_KERNEL_INPUTS} tensors (texture units), this one ${inputs.length}: split the work\n--- source ---\n${src.slice(0, 400)}`);
  return inputs.map((b) => {
    const buf = b as Buf;
    if (buf.freed) throw new Error('gpu: this tensor\'s memory was released when the grad/step that made it returned; return it (or pass it as aux) to keep it');
    return buf.tex ? buf : s.dummy;
  });
}

/** The launch a context method asks for (compiling its kernel the first time), not yet run. */
function prepare(kind: Kind, src: string, bufs: readonly Buf[], output: readonly number[], glsl: readonly string[], targets: number): Launch {
  const vec4 = kind !== 'run';
  const grid = kind === 'run4' || kind === 'run4Many' ? [Math.ceil(output[0] / 4)] : output;
  const k = compile(src, grid, bufs, vec4, glsl, targets);
  const size = kind === 'runTargets' ? output.reduce((a, b) => a * b, 1) * 4 : output[0];
  return { kind, k, size, targets, src, glsl };
}

const ran = new WeakSet<GpuKernelFn>();

/**
 * While profiling (AVID_GPU_PROFILE=1, or gpuProfile(true)) every launch waits for the GPU
 * (gl.finish) and its time is added up by kernel source and output size. It slows everything down:
 * it is for finding which kernels a step spends its time in on a real GPU (avid-step.ts --profile).
 */
let profiling = env('AVID_GPU_PROFILE') === '1';
const profile = new Map<string, { ms: number; runs: number }>();

/**
 * The kernels timed since the last call, by total ms, largest first; then profiling goes on or off
 * as `on` says (unchanged without it). `gpuProfile(true); step(); gpuProfile(false)` → that step's rows
 */
export function gpuProfile(on?: boolean): { kernel: string; ms: number; runs: number }[] {
  const rows = [...profile].map(([kernel, v]) => ({ kernel, ...v })).sort((a, b) => b.ms - a.ms);
  profile.clear();
  if (on !== undefined) profiling = on;
  return rows;
}

/** Run a prepared launch on `bufs` and wrap its output as the context method returns it. */
function fire(l: Launch, bufs: readonly Buf[]): Buf | Buf[] {
  const s = start();
  let out: unknown;
  try {
    // gpu.js compiles on a kernel's first run: AVID_GPU_SLOW_COMPILE_MS=N reports those over N ms
    const t0 = slowCompileMs !== undefined && !ran.has(l.k) ? performance.now() : undefined;
    const p0 = profiling ? performance.now() : 0;
    out = l.k(...bufs.map((b) => b.tex));
    if (profiling) {
      (l.k.kernel as unknown as { context: { finish(): void } }).context.finish();
      const key = `${l.size}x${l.targets} ${l.src.replace(/\s+/g, ' ').slice(0, 140)}`, e = profile.get(key) ?? { ms: 0, runs: 0 };
      profile.set(key, { ms: e.ms + performance.now() - p0, runs: e.runs + 1 });
    }
    if (t0 !== undefined) ran.add(l.k);
    s.runs++;
    if (t0 !== undefined && performance.now() - t0 > slowCompileMs!) {
      console.warn(`gpu: a kernel took ${(performance.now() - t0).toFixed(0)} ms to compile and run first (${bufs.length} inputs, ${l.src.length + l.glsl.join('').length} characters of source): ${l.src.slice(0, 160).replace(/\s+/g, ' ')}`);
    }
  } catch (e) {
    throw new Error(`gpu: kernel failed to compile or run: ${(e as Error).message}\n--- source ---\n${[l.src, ...l.glsl].join('\n')}`);
  }
  const texs = out as Record<string, Buf['tex']>, at = (i: number) => texs[i ? `target${i}` : 'result'];
  switch (l.kind) {
    case 'run': return track(new Buf(out as Buf['tex'], l.size));
    case 'run4': return asTensor(out as Buf['tex'], l.size);
    case 'run4Many': return Array.from({ length: l.targets }, (_, i) => asTensor(at(i), l.size));
    case 'runTargets': return Array.from({ length: l.targets }, (_, i) => track(new Buf(at(i), l.size, undefined, true)));
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

/** Check a context method's arguments; its output is empty (nothing to launch) when it returns buffers. */
function empty(kind: Kind, size: number, targets: number): Buf | Buf[] | undefined {
  if (kind === 'run4Many' && !(targets >= 2 && targets <= start().targets)) throw new Error(`gpu: run4Many writes 2 to ${start().targets} tensors, not ${targets}`);
  // WebGL2 promises 4 draw buffers, no more
  if (kind === 'runTargets' && !(targets >= 1 && targets <= 4)) throw new Error(`gpu: runTargets writes 1 to 4 render targets, not ${targets}`);
  if ((kind === 'run4Many' || kind === 'runTargets') && !multipleTargets()) {
    throw new Error(`gpu: this WebGL has no multiple render targets (WEBGL_draw_buffers), which ${kind === 'runTargets' ? 'matmul needs; use the cpu backend' : 'a kernel with several outputs needs'}`);
  }
  if (size !== 0) return undefined;
  return kind === 'run4Many' ? Array.from({ length: targets }, () => new Buf(null, 0)) : new Buf(null, 0);
}

/**
 * A context whose launches `observe` sees, each as it runs: the GPU context itself when absent
 * (backend.ts's own), or a recording one (jit's steps, `specialise`).
 */
function makeContext(observe?: { launch(l: Launch, inputs: readonly GpuBuf[], out: Buf | Buf[]): void; release(b: GpuBuf): void; read(): void }): GpuContext {
  const go = (kind: Kind, src: string, inputs: readonly GpuBuf[], output: readonly number[], glsl: readonly string[], targets: number): Buf | Buf[] => {
    // a primitive's own scratch past 2^24 (its output was checked already: `sized`)
    if (kind !== 'runTargets' && output[0] > EXACT_INT) checkSize('gpu', { shape: [output[0]], dtype: 'float32' });
    const none = empty(kind, kind === 'runTargets' ? 1 : output[0], targets);
    if (none) { observe?.launch({ kind, k: undefined as never, size: 0, targets, src, glsl }, inputs, none); return none; }
    const bufs = readable(inputs, src);
    const l = prepare(kind, src, bufs, output, glsl, targets);
    const out = fire(l, bufs);
    observe?.launch(l, inputs, out);
    return out;
  };
  return {
    run: (src, inputs, size, glsl = []) => go('run', src, inputs, [size], glsl, 1) as Buf,
    run4: (src, inputs, size, glsl = []) => go('run4', src, inputs, [size], glsl, 1) as Buf,
    run4Many: (src, inputs, size, targets, glsl) => go('run4Many', src, inputs, [size], glsl, targets) as Buf[],
    runTargets: (src, inputs, output, targets, glsl) => go('runTargets', src, inputs, output, glsl, targets) as Buf[],
    get software() {
      return start().software;
    },
    get maxTextureSize() {
      return (start().gpu as unknown as { Kernel: { features: { maxTextureSize: number } } }).Kernel.features.maxTextureSize;
    },
    release(buf) {
      observe?.release(buf);
      free(buf as Buf);
    },
    read(buf) {
      observe?.read();
      const b = buf as Buf;
      if (b.freed) throw new Error('gpu: this tensor\'s memory was released when the grad/step that made it returned; return it (or pass it as aux) to keep it');
      if (!b.tex) return new Float32Array(0);
      // every tensor's texture is RGBA, four values a texel in order (Array(4) outputs' toArray would nest them)
      return b.host ? b.host.slice() : b.tex.renderValues().slice(0, b.size);
    },
  };
}

const context = makeContext();

/** Where a recorded launch finds a buffer: the step's input `arg`, or result `i` of launch `made`. */
type Ref = { arg: number } | { made: number; i: number };
type Recorded = { launch: Launch; ins: Ref[] } | { release: Ref };
interface Tape { steps: Recorded[]; result: Ref | Ref[] }

/**
 * The primitive's GPU kernel specialised to one step of a jitted program, whose avals and attrs are
 * the same at every call. The first call runs the kernel as usual and records its launches: each
 * one's compiled kernel, and where its inputs come from (the step's inputs, or an earlier launch's
 * results), and the scratch buffers it releases. Later calls replay the tape: the primitive's
 * JavaScript, which writes its shaders and looks them up, does not run again. A kernel that reads
 * values back (gather checking its indices) or launches on buffers of its own is never recorded.
 */
function specialise(prim: string): Kernel<GpuBuf> | undefined {
  const base = kernelFor('gpu', prim) as GpuKernel | undefined;
  // one step is one kind of call: a single tape, and no key to make at each call
  return base && sized(prim, taped(base, () => ''));
}

/**
 * Refuse a tensor of more than 2^24 elements: shaders index in float32, whose integers are exact
 * only that far (a larger one read and wrote the wrong elements, silently).
 */
function checkSize(op: string, aval: Aval): void {
  const n = sizeOf(aval.shape);
  if (n > EXACT_INT) {
    throw new OpError(op, `a ${fmt(aval.shape)} tensor has ${n} elements, more than the gpu backend can index (2^24 = ${EXACT_INT}: ` +
      'shaders count in float32); use a smaller batch or the cpu backend');
  }
}

/** A kernel that checks its output's size first (inputs were some kernel's output, or an upload). */
const sized = (prim: string, k: Kernel<GpuBuf>): Kernel<GpuBuf> => (inputs, attrs, out) => {
  checkSize(prim, out);
  return k(inputs, attrs, out);
};

/**
 * Run `base` on a context that records its launches: the result, and the tape (null where the
 * kernel read values back or launched on buffers of its own; undefined where one buffer came as two
 * inputs, so the tape could not say which input a launch read: record another call).
 */
function record(base: GpuKernel, inputs: KernelArg<GpuBuf>[], attrs: unknown, out: Aval): { result: GpuBuf; tape: Tape | null | undefined } {
  const args = inputs.map((x) => x.buf);
  if (new Set(args).size < args.length) return { result: base(context, inputs, attrs, out), tape: undefined };
  const made: (Buf | Buf[])[] = [], steps: Recorded[] = [];
  let ok = true;
  const ref = (b: GpuBuf): Ref => {
    const arg = args.indexOf(b);
    if (arg >= 0) return { arg };
    for (let j = made.length - 1; j >= 0; j--) {
      const m = made[j], i = Array.isArray(m) ? m.indexOf(b as Buf) : m === b ? 0 : -1;
      if (i >= 0) return { made: j, i };
    }
    ok = false;
    return { arg: -1 };
  };
  const ctx = makeContext({
    launch(launch, ins, res) { steps.push({ launch, ins: ins.map(ref) }); made.push(res); },
    release(b) { steps.push({ release: ref(b) }); },
    read() { ok = false; },
  });
  const res = base(ctx, inputs, attrs, out) as GpuBuf | GpuBuf[];
  const result = Array.isArray(res) ? res.map(ref) : ref(res);
  return { result: res as GpuBuf, tape: ok ? { steps, result } : null };
}

/**
 * `base` with its tapes kept by kind of call (`keyOf`: avals and attrs, for eager calls): a kernel
 * launches the same shaders for the same avals and attrs, so each kind records once and replays after.
 */
function taped(base: GpuKernel, keyOf: (inputs: readonly Aval[], attrs: unknown, out: Aval) => string = kernelKey): Kernel<GpuBuf> {
  const tapes = new Map<string, Tape | null>();
  return (inputs, attrs, out) => {
    const key = keyOf(inputs, attrs, out);
    const tape = tapes.get(key);
    if (tape) return replay(tape, inputs.map((x) => x.buf)) as GpuBuf;
    if (tape === null) return base(context, inputs, attrs, out);
    const r = record(base, inputs, attrs, out);
    if (r.tape !== undefined) tapes.set(key, r.tape);
    return r.result;
  };
}

/** Run a tape's launches on the step's input buffers: what the recorded kernel did, without its JavaScript. */
function replay(tape: Tape, args: readonly GpuBuf[]): GpuBuf | GpuBuf[] {
  const made: (Buf | Buf[])[] = [];
  const get = (r: Ref): GpuBuf => {
    if ('arg' in r) return args[r.arg];
    const m = made[r.made];
    return Array.isArray(m) ? m[r.i] : m;
  };
  for (const st of tape.steps) {
    if ('release' in st) { free(get(st.release) as Buf); continue; }
    const l = st.launch;
    made.push(l.size === 0 ? empty(l.kind, 0, l.targets)! : fire(l, readable(st.ins.map(get), l.src)));
    if (l.size) start().replayed++;
  }
  return Array.isArray(tape.result) ? tape.result.map(get) : get(tape.result);
}

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

/** Each GPU kernel bound to the context, as `gpu.kernel` hands it out (made once, not per launch). */
const bound = new WeakMap<GpuKernel, Kernel<GpuBuf>>();

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
    return multipleTargets() ? start().targets : 1;
  },
  unavailable() {
    const s = gpuStatus();
    return s.ok ? undefined : s.reason;
  },
  upload(data, aval, op = 'tensor') {
    checkSize(op, aval);
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
  specialise,
  kernel(prim) {
    const k = kernelFor('gpu', prim) as GpuKernel | undefined;
    if (!k) return undefined;
    let run = bound.get(k);
    if (!run) bound.set(k, (run = sized(prim, taped(k))));
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
 * Live GPU buffers and their bytes, kernel compile and run counts (`replayed`: runs from jit's
 * recorded steps, Backend.specialise), and how many compiled kernels
 * gpu.js runs as each kernel class now (it can swap a kernel for its CPU fallback after a failed
 * build, so the probe's class alone does not prove every kernel ran on WebGL), and the largest
 * texture side this GPU allows.
 */
export function gpuStats(): { textures: number; bytes: number; kernels: number; compiles: number; runs: number; replayed: number; classes: Record<string, number>; maxTextureSize: number } {
  if (!state) return { textures: 0, bytes: 0, kernels: 0, compiles: 0, runs: 0, replayed: 0, classes: {}, maxTextureSize: 0 };
  let bytes = 0;
  for (const b of state.live) bytes += 4 * b.size;
  const classes: Record<string, number> = {};
  for (const bySrc of state.cache.values()) {
    for (const [, k] of [...bySrc.values()].flat()) {
      const c = kernelClassOf(state.gpuJs, k.kernel.constructor);
      classes[c] = (classes[c] ?? 0) + 1;
    }
  }
  return { textures: state.live.size, bytes, kernels: state.compiles, compiles: state.compiles, runs: state.runs, replayed: state.replayed, classes, maxTextureSize: context.maxTextureSize };
}

registerBackend(gpu);

