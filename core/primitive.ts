/**
 * A primitive is a name plus rules (autodidax's vocabulary): a shape rule that checks inputs and
 * gives the output's shape and dtype, kernels per backend, and a vjp rule written with public ops
 * (so the pullback itself can be differentiated). Everything else in the library composes these.
 */
import type { Aval, Kernel } from './backend.js';
import type { TypedArray } from './dtype.js';
import type { GpuKernel } from './gpu/shader.js';
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
  /** Kernels by backend: the CPU reference, and the GPU's (shaders run by core/gpu/backend.ts). */
  readonly kernels: { cpu?: Kernel<TypedArray, A>; gpu?: GpuKernel<A> };
  /** How to run on a batch under vmap (default: the elementwise rule, or a loop over the batch). */
  batch?: BatchRule<A>;
  /** Set for elementwise primitives: their scalar forms, for vmap's shared rule and jit's fusion. */
  elementwise?: Elementwise<A>;
}

const prims = new Map<string, Primitive<any>>();

/** Register a primitive; its kernels are looked up by backends through `kernelFor`. */
export function definePrimitive<A>(p: Primitive<A>): Primitive<A> {
  if (prims.has(p.name)) throw new Error(`primitive '${p.name}' defined twice`);
  prims.set(p.name, p);
  return p;
}

const extra = new Map<string, Primitive<any>['kernels']>();

/** Kernels made at run time (jit's fused groups): found by `kernelFor`, not listed as primitives. */
export function registerKernels(name: string, kernels: Primitive<any>['kernels']): void { extra.set(name, kernels); }

export function kernelFor(backend: string, prim: string): unknown {
  return ((prims.get(prim)?.kernels ?? extra.get(prim)) as Record<string, unknown> | undefined)?.[backend];
}

/** Every primitive, for table-driven tests. */
export function allPrimitives(): Primitive<any>[] { return [...prims.values()]; }
