/**
 * A primitive is a name plus rules (autodidax's vocabulary): a shape rule that checks inputs and
 * gives the output's shape and dtype, kernels per backend, and a vjp rule written with public ops
 * (so the pullback itself can be differentiated). Everything else in the library composes these.
 */
import type { Aval, Kernels } from './backend.js';
import type { Tensor } from './tensor.js';
import type { BatchRule } from './batching.js';
import type { DType } from './dtype.js';

/**
 * What an elementwise primitive (one output element from the same element of each broadcast input)
 * tells vmap and jit: vmap gives it the shared elementwise batching rule, and jit fuses chains of such
 * primitives into one kernel, which needs the op's scalar form for each backend.
 */
export interface Elementwise<A = {}> {
  /** The scalar function for these input dtypes (the CPU kernel's own; jit's fused loop calls it). */
  cpu(inputs: readonly DType[], attrs: A, out: DType): (...xs: number[]) => number;
  /** A GLSL-ready expression of the input expressions `xs` (the gpu kernel's own). */
  gpu(xs: readonly string[], inputs: readonly DType[], attrs: A, out: DType): string;
  /** Inputs must have the output's shape (no broadcasting): vmap then broadcasts unbatched inputs itself. */
  sameShape?: boolean;
  /** Whether jit may fuse it for these input dtypes (default: always). */
  fusible?(inputs: readonly DType[]): boolean;
}

export interface Primitive<A = {}> {
  readonly name: string;
  /** Check the inputs and give the output's aval, or throw an OpError naming the op. */
  infer(inputs: readonly Aval[], attrs: A): Aval;
  /**
   * Cotangents for each input given the output's cotangent `ct`; `null` where an input gets none
   * (integer inputs, indices, masks). Written with public ops only. Absent for ops with no derivative.
   * `need[i]` says whether input i is being differentiated; a rule may skip the others' work.
   */
  vjp?(ct: Tensor, inputs: readonly Tensor[], out: Tensor, attrs: A, need: readonly boolean[]): (Tensor | null)[];
  /** Kernels by backend name: the CPU reference, the GPU's shaders; another backend may add its own (registerKernel). */
  readonly kernels: Kernels<A>;
  /** How to run on a batch under vmap (default: the elementwise rule, or a loop over the batch). */
  batch?: BatchRule<A>;
  /** Set for elementwise primitives: their scalar forms, for vmap's shared rule and jit's fusion. */
  elementwise?: Elementwise<A>;
}

const prims = new Map<string, Primitive<any>>();
/** The kernel registry: backend name -> primitive name -> kernel. Backends look kernels up here by name. */
const registry = new Map<string, Map<string, unknown>>();

/** Register a primitive and its kernels. */
export function definePrimitive<A>(p: Primitive<A>): Primitive<A> {
  if (prims.has(p.name)) throw new Error(`primitive '${p.name}' defined twice`);
  prims.set(p.name, p);
  registerKernels(p.name, p.kernels);
  return p;
}

/** Register a kernel for `prim` on `backend`: how a new backend brings kernels for existing primitives. */
export function registerKernel(backend: string, prim: string, kernel: unknown): void {
  let byPrim = registry.get(backend);
  if (!byPrim) registry.set(backend, (byPrim = new Map()));
  byPrim.set(prim, kernel);
}

/** Register every kernel of a record by backend (jit's fused groups, made at run time, come this way). */
export function registerKernels(prim: string, kernels: Kernels<any>): void {
  for (const [backend, k] of Object.entries(kernels)) if (k) registerKernel(backend, prim, k);
}

/** The kernel `backend` runs for `prim`, if any. */
export const kernelFor = (backend: string, prim: string): unknown => registry.get(backend)?.get(prim);

/** Every primitive, for table-driven tests. */
export function allPrimitives(): Primitive<any>[] { return [...prims.values()]; }
