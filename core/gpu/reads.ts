/**
 * Cheaper index arithmetic in the shaders gpu.js writes. gpu.js finds the texel of a flat index k
 * with integer division (k mod width, k / width), and every fragment splits its own index into
 * (x, y, z) with three more. Software rasterisers and many GPUs have no vector integer divide: it
 * runs lane by lane. In headless Chromium (SwiftShader) elementwise kernels ran about 20% faster
 * without it (on llvmpipe, no difference measured). We rewrite three functions of the generated shader:
 *
 * - getMemoryOptimized32 (every read of a tensor, stored four values to a texel) and getImage2D (a
 *   read of a texel of an internal layout): divide in float, then correct (`flatTexel`, which every
 *   shader then has, and kernels' own GLSL may call too).
 *     r = floor((k + 0.5) / w) is the row or one off it (a float divide may miss by an ulp or two);
 *     c = k - r w is then exact (both are integers below 2^24), and its sign or overflow says which
 *     way to step r. Past 2^24 float has no integers to work with; the backend's own index math
 *     (core/gpu/shader.ts's coords) is exact only below that too.
 * - indexTo3D (each fragment's thread id): a 1-D output, which is every kernel but matmul's
 *   multiply, skips the division altogether.
 *
 * Exactness is the spec's business: the webgl and gpu specs compare every primitive with the cpu.
 * `fastReads(gpuJs)` patches gpu.js's WebGL2 and WebGL kernel classes (headless-gl's derives from
 * WebGL's) once; if gpu.js ever writes these functions differently it refuses loudly rather than run
 * the slow path unnoticed.
 */
type GpuJs = typeof import('gpu.js');
type KernelClass = { prototype: { getFragmentShader(args: unknown): string } };

/** gpu.js 2.24's getImage2D, in its WebGL2 (`texture`) and WebGL (`texture2D`) spellings. */
const slowRead = (sample: string) => `vec4 getImage2D(sampler2D tex, ivec2 texSize, ivec3 texDim, int z, int y, int x) {
  int index = x + texDim.x * (y + texDim.y * z);
  int w = texSize.x;
  vec2 st = vec2(float(integerMod(index, w)), float(index / w)) + 0.5;
  return ${sample}(tex, st / vec2(texSize));
}`;

/** `flatTexel(i, w)`: where flat texel i of a texture w texels wide is, as texel coordinates of its centre. */
const flatTexel = `vec2 flatTexel(float i, float w) {
  float r = floor((i + 0.5) / w);
  float c = i - r * w;
  r += float(c >= w) - float(c < 0.0);
  return vec2(i - r * w, r) + 0.5;
}`;

const fastRead = (sample: string) => `vec4 getImage2D(sampler2D tex, ivec2 texSize, ivec3 texDim, int z, int y, int x) {
  return ${sample}(tex, flatTexel(float(x + texDim.x * (y + texDim.y * z)), float(texSize.x)) / vec2(texSize));
}`;

/** gpu.js's read of a tensor stored four values to a texel (every tensor, see core/gpu/backend.ts), its body replaced. */
const slowPacked = /float getMemoryOptimized32\(sampler2D tex, ivec2 texSize, ivec3 texDim, int z, int y, int x\) \{\n[^}]*\n\}/;
const fastPacked = (sample: string) => `${flatTexel}

float getMemoryOptimized32(sampler2D tex, ivec2 texSize, ivec3 texDim, int z, int y, int x) {
  float i = float(x + texDim.x * (y + texDim.y * z));
  // i / 4 exactly (i * 0.25 is; i + 0.5, which this once added, rounds past 2^23)
  float t = floor(i * 0.25);
  float c = i - t * 4.0;
  vec4 v = ${sample}(tex, flatTexel(t, float(texSize.x)) / vec2(texSize));
  return c < 0.5 ? v.r : c < 1.5 ? v.g : c < 2.5 ? v.b : v.a;
}`;

const slowId = 'ivec3 indexTo3D(int idx, ivec3 texDim) {\n';
const fastId = `${slowId}  if (texDim.y == 1 && texDim.z == 1) return ivec3(idx, 0, 0);\n`;

const patched = new WeakSet<object>();

export function fastReads(gpuJs: GpuJs): void {
  const classes = gpuJs as unknown as Record<string, KernelClass | undefined>;
  for (const [name, sample] of [['WebGL2Kernel', 'texture'], ['WebGLKernel', 'texture2D']] as const) {
    const K = classes[name];
    if (!K || patched.has(K.prototype)) continue;
    const make = K.prototype.getFragmentShader;
    K.prototype.getFragmentShader = function (this: { compiledFragmentShader: string | null }, args: unknown): string {
      const src = make.call(this, args);
      if (src.includes(fastId)) return src;
      if (!src.includes(slowRead(sample)) || !src.includes(slowId) || !slowPacked.test(src)) {
        throw new Error(`gpu: ${name}'s shader no longer has the getImage2D, getMemoryOptimized32 and indexTo3D that core/gpu/reads.ts rewrites: was gpu.js upgraded?`);
      }
      return (this.compiledFragmentShader = src.replace(slowRead(sample), fastRead(sample)).replace(slowPacked, fastPacked(sample)).replace(slowId, fastId));
    };
    patched.add(K.prototype);
  }
}
