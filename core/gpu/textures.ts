/**
 * Recycled output textures. gpu.js gives every run of an immutable kernel a fresh output texture
 * (createTexture, then texImage2D with no data) and deletes it when the tensor holding it dies. WebGL
 * promises that a fresh texture reads as zeros, so each one costs a clear of its whole size on the
 * driver's side: on an H100 through ANGLE a 1M-element elementwise kernel spent about 4 ms on that
 * and microseconds computing. tfjs's webgl backend keeps a texture manager for the same reason.
 *
 * `recycleTextures(texture, cap)` patches gpu.js's GL texture class once: a texture whose last holder is
 * deleted goes to a pool keyed by (width, height, format, type) instead of to gl.deleteTexture, and a
 * kernel that needs a new output texture takes one of its size from the pool first. A recycled texture
 * holds stale values, which is safe: a kernel draws every texel of its output. GL orders the commands,
 * so a texture that a queued kernel still reads is overwritten only after that read. The pool keeps at
 * most `cap` bytes; past that, textures are deleted as before. `AVID_GPU_POOL_MB=0` turns recycling off.
 */
type GlTex = WebGLTexture & { _refs?: number };
interface TexWrapper {
  texture: GlTex; size: [number, number]; context: WebGLRenderingContext; _deleted?: boolean; internalFormat: number; textureFormat: number; textureType: number;
  kernel?: { context?: WebGLRenderingContext; textureCache?: GlTex[]; deleteTexture?(t: GlTex): void };
  newTexture(): void; delete(): void;
}

/** Textures waiting for reuse, by `w x h : format : type`, and the bytes they hold. */
const pool = new Map<string, GlTex[]>();
const stats = { bytes: 0, reused: 0, fresh: 0, deleted: 0, cap: 0 };
const keyOf = (t: TexWrapper) => `${t.size[0]}x${t.size[1]}:${t.internalFormat}:${t.textureType}`;
const bytesOf = (t: TexWrapper) => t.size[0] * t.size[1] * 16; // RGBA float32: every texture this backend makes

let patched = false;

export function recycleTextures(sample: object, capBytes: number): void {
  stats.cap = capBytes;
  if (patched || capBytes <= 0) return;
  // gpu.js does not export its GL texture class: it is the prototype of `sample` (a kernel's output
  // texture) that defines newTexture
  let GLTexture = Object.getPrototypeOf(sample) as TexWrapper | null;
  while (GLTexture && !Object.prototype.hasOwnProperty.call(GLTexture, 'newTexture')) GLTexture = Object.getPrototypeOf(GLTexture);
  if (!GLTexture || !Object.prototype.hasOwnProperty.call(GLTexture, 'delete')) {
    throw new Error('gpu: gpu.js no longer has the GLTexture.newTexture and delete that core/gpu/textures.ts patches: was gpu.js upgraded?');
  }
  const fresh = GLTexture.newTexture;
  GLTexture.newTexture = function (this: TexWrapper) {
    const t = pool.get(keyOf(this))?.pop();
    if (!t) { stats.fresh++; return fresh.call(this); } // gpu.js's own: createTexture, its parameters, texImage2D
    this.texture._refs!--;
    t._refs = 1;
    this.texture = t;
    stats.bytes -= bytesOf(this);
    stats.reused++;
  };
  const drop = GLTexture.delete;
  GLTexture.delete = function (this: TexWrapper) {
    const t = this.texture;
    if (this._deleted || (t._refs ?? 0) > 1 || !this.kernel?.context || stats.bytes + bytesOf(this) > stats.cap) {
      if (!this._deleted && (t._refs ?? 0) <= 1) stats.deleted++;
      return drop.call(this);
    }
    this._deleted = true;
    t._refs = 0;
    // a kernel's first output texture sits in its textureCache, which kernel.destroy() deletes
    const cache = this.kernel.textureCache, i = cache ? cache.indexOf(t) : -1;
    if (i >= 0) cache!.splice(i, 1);
    const key = keyOf(this);
    const list = pool.get(key);
    if (list) list.push(t); else pool.set(key, [t]);
    stats.bytes += bytesOf(this);
  };
  patched = true;
}

/** How the pool has done: textures reused, made fresh, deleted, and the bytes it holds now. */
export function textureStats(): { reused: number; fresh: number; deleted: number; pooledBytes: number; capBytes: number } {
  return { reused: stats.reused, fresh: stats.fresh, deleted: stats.deleted, pooledBytes: stats.bytes, capBytes: stats.cap };
}
