/**
 * Backends: where tensor data lives and where primitive kernels run.
 *
 * The contract is narrow, as in tfjs-core's kernel registry but without the ceremony: a backend
 * stores buffers and runs a primitive *by name*. Each primitive file registers its own kernel for
 * each backend, so swapping one kernel (say, a WebAssembly SIMD matmul) touches one place and never
 * the primitive's vjp or its callers.
 */
import type { DType, TypedArray } from './dtype.js';
import type { Shape } from './shape.js';
import { env } from './platform/platform.js';

/** Shape and dtype: all an op needs to know of a value to check it (JAX's "abstract value"). */
export interface Aval { readonly shape: Shape; readonly dtype: DType }

/** A concrete argument handed to a kernel: the backend's buffer and its aval. */
export interface KernelArg<B = unknown> extends Aval { readonly buf: B }

export type Kernel<B = unknown, A = any> = (inputs: KernelArg<B>[], attrs: A, out: Aval) => B;

// ---- the GPU backend's side of the contract: what a primitive's gpu kernel is given and returns ----

/** A tensor's storage on the GPU: a float32 RGBA texture holding `size` values in row-major order, four to a texel. */
export interface GpuBuf {
  /** the gpu.js texture, or null for an empty tensor */
  readonly tex: unknown;
  readonly size: number;
  /** values known on the host when the buffer was made by an upload (used to check indices cheaply) */
  readonly host?: Float32Array;
}

/** How a primitive's GPU kernel runs shaders: provided by the GPU backend. */
export interface GpuContext {
  /**
   * Compile (once) and run `src` over `size` output elements with `inputs` as the kernel's arguments.
   * `glsl`: GLSL functions the kernel may call (gpu.js native functions), for what gpu.js's
   * JavaScript cannot say: one function per entry, returning float or vec4. It may read an argument
   * X's texture as `user_X`, of size `user_XSize` in texels, with GLSL ES 3's `texture()` (WebGL1's
   * texture2D() is swapped in), and call `flatTexel` (core/gpu/reads.ts).
   */
  run(src: string, inputs: readonly GpuBuf[], size: number, glsl?: readonly string[]): GpuBuf;
  /**
   * The same, four elements a thread: `src` returns `[a, b, c, d]`, elements 4i..4i+3 of the output
   * for thread i, as tensors are stored four values to a texel. Elementwise kernels run so
   * (core/gpu/shader.ts's `elementwiseShader`): a thread reads an input of the output's shape as one
   * texel, where a kernel written per element fetches it four times.
   */
  run4(src: string, inputs: readonly GpuBuf[], size: number, glsl?: readonly string[]): GpuBuf;
  /**
   * run4 writing `targets` (2 to the backend's maxFusedOutputs, at most 8) tensors of `size` at once:
   * the first as `src` returns it, the others as its GLSL sets `target1` .. `target7` (vec4, the same
   * four elements of each). jit's sibling fusion runs so: Adam's two moments and its update, from one
   * read of each operand, for two params of one shape at once.
   */
  run4Many(src: string, inputs: readonly GpuBuf[], size: number, targets: number, glsl: readonly string[]): GpuBuf[];
  /**
   * A kernel over an internal layout, `targets` (at most 4) RGBA texels a thread: `output` is a 1-
   * or 2-D grid ([x, y]; a 2-D grid of more than one row is a texture of exactly that size), and a
   * thread writes a texel to each target, the first as `src` returns it (`[a, b, c, d]`), the others
   * as its GLSL sets `target1`, `target2`, `target3` (vec4). Returns one buffer per target, each of
   * the grid's size. Such buffers never become tensors: a gathering kernel reads them back into the
   * flat layout (as matmul's do).
   */
  runTargets(src: string, inputs: readonly GpuBuf[], output: readonly number[], targets: number, glsl: readonly string[]): GpuBuf[];
  /** The largest texture width or height this GPU allows. */
  readonly maxTextureSize: number;
  /**
   * Whether the renderer runs on the CPU (Mesa's llvmpipe, SwiftShader): there texture fetches and
   * arithmetic, not launches, bound a kernel, and fewer, larger launches stop paying sooner.
   */
  readonly software: boolean;
  /** Free a buffer made by run, run4 or runTargets that no tensor will own (a kernel's own scratch). */
  release(buf: GpuBuf): void;
  /** Read a buffer back (for the rare kernel that must check values on the host, like gather's indices). */
  read(buf: GpuBuf): Float32Array;
}

/**
 * A primitive's GPU kernel. It must launch the same shaders, in the same order, for the same avals
 * and attrs: the backend records the launches of a kind of call once and replays them after
 * (core/gpu/backend.ts `taped`, `specialise`). One that reads values back (`ctx.read`) is never
 * recorded.
 */
export type GpuKernel<A = any> = (ctx: GpuContext, inputs: KernelArg<GpuBuf>[], attrs: A, out: Aval) => GpuBuf;

/** A primitive's kernels by backend name: the CPU's over typed arrays, the GPU's over textures, any other backend's under its name. */
export type Kernels<A = any> = { readonly cpu?: Kernel<TypedArray, A>; readonly gpu?: GpuKernel<A>; readonly [backend: string]: unknown };

export interface Backend<B = unknown> {
  readonly name: string;
  /**
   * Copy host data into a new buffer. The caller never touches `data` again. A backend that cannot
   * hold some value exactly raises an OpError naming `op`, the public op making the tensor.
   */
  upload(data: TypedArray, aval: Aval, op?: string): B;
  /** Read a buffer back to host memory as a fresh typed array the caller may keep. */
  read(buf: B, aval: Aval): TypedArray;
  /** The kernel this backend runs for a primitive, if it has one. */
  kernel(prim: string): Kernel<B> | undefined;
  /**
   * A kernel for one step of a jitted program (the same avals and attrs at every call), made once
   * per step where the backend can do better than `kernel`: the GPU's records its first call's
   * launches and replays them, without the primitive's JavaScript.
   */
  specialise?(prim: string): Kernel<B> | undefined;
  /** Why this backend cannot run here, or undefined if it can. */
  unavailable?(): string | undefined;
  /** Note that `owner` (a tensor) refers to `buf`, for backends that free memory themselves. */
  retain?(owner: object, buf: B): void;
  /** Start collecting the buffers made from now on (an API boundary such as grad begins). */
  beginScope?(): void;
  /** Free the buffers made since the matching beginScope, except those in `keep`. */
  endScope?(keep: readonly B[]): void;
  /** Keep `buf` out of every open scope: it lives as long as a tensor refers to it (jit's constants). */
  pin?(buf: B): void;
  /**
   * The most results one of jit's fused kernels should write (absent: 1). Where a kernel launch
   * costs more than a pass over memory (a GPU's), jit merges sibling elementwise groups of one shape
   * into one kernel with several outputs; where it does not (the CPU), one output a loop is faster.
   */
  readonly maxFusedOutputs?: number;
}

const registry = new Map<string, Backend<any>>();
let current = 'cpu';

export function registerBackend(b: Backend<any>): void { registry.set(b.name, b); }

export function getBackend(name: string = current): Backend<any> {
  const b = registry.get(name);
  if (!b) throw new Error(`backend '${name}' is not available; known: ${[...registry.keys()].join(', ')}`);
  return b;
}

/**
 * The backend new tensors are created on. `setBackend('gpu')`
 * A backend that cannot start here (no GPU context) is reported once and the CPU backend serves,
 * unless AVID_REQUIRE_GPU=1, when it is an error (CI uses this so a fallback cannot pass as a GPU run).
 */
export function setBackend(name: string): void {
  const b = getBackend(name);
  const why = b.unavailable?.();
  if (why) {
    if (env('AVID_REQUIRE_GPU') === '1') throw new Error(why);
    if (!warned.has(name)) { warned.add(name); console.warn(`${why}; using the cpu backend`); }
    current = 'cpu';
    return;
  }
  current = name;
}
const warned = new Set<string>();
export function currentBackend(): string { return current; }
export function backendNames(): string[] { return [...registry.keys()]; }
