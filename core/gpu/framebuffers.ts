/**
 * Lighter framebuffer bookkeeping for headless-GL (Node's WebGL). On every bindFramebuffer and
 * framebufferTexture2D, headless-GL re-checks the framebuffer and then detaches and re-attaches every
 * attachment point natively: with WEBGL_draw_buffers (which matmul and multi-output kernels use) that
 * is 8 colour points and 3 others, 22 native calls, and gpu.js binds and attaches on each kernel run.
 * Measured on llvmpipe, a small kernel made 24 native framebufferTexture2D calls.
 *
 * `lightFramebuffers(gl)` replaces that step on headless-GL's context class with one that keeps,
 * per framebuffer, what is attached natively at each point, and calls GL only where that differs
 * from what the framebuffer should hold: the attachment when the framebuffer is complete, nothing
 * when it is not (as headless-GL does). Attachments are compared as objects, so a texture that
 * reuses a deleted one's GL name is still attached anew. In a browser the context has no such
 * step and nothing is patched.
 */
type Attachment = { _: number } | null | undefined;
interface Framebuffer {
  _status: number;
  _attachments: Record<number, Attachment>;
  _attachmentFace: Record<number, number>;
  _attachmentLevel: Record<number, number>;
  /** what each attachment point holds natively: [object, face, level] */
  _native?: Map<number, [Attachment, number, number]>;
}
interface HeadlessGl {
  _updateFramebufferAttachments(fb: Framebuffer): void;
  _getAttachments(): number[];
  _preCheckFramebufferStatus(fb: Framebuffer): number;
}

const FRAMEBUFFER = 0x8d40, COMPLETE = 0x8cd5, TEXTURE_2D = 0xde1, RENDERBUFFER = 0x8d41;

let patched = false;

export function lightFramebuffers(gl: object): void {
  if (patched) return;
  let proto = Object.getPrototypeOf(gl) as HeadlessGl | null;
  while (proto && !Object.prototype.hasOwnProperty.call(proto, '_updateFramebufferAttachments')) proto = Object.getPrototypeOf(proto);
  if (!proto) return; // a browser's WebGL: nothing to lighten
  // the native methods headless-GL's JavaScript class wraps (its `super`)
  const native = Object.getPrototypeOf(proto) as { framebufferTexture2D: Function; framebufferRenderbuffer: Function };
  if (typeof native.framebufferTexture2D !== 'function' || typeof native.framebufferRenderbuffer !== 'function') {
    throw new Error('gpu: headless-GL no longer has the native framebufferTexture2D that core/gpu/framebuffers.ts calls: was gl upgraded?');
  }
  patched = true;
  proto._updateFramebufferAttachments = function (this: HeadlessGl, fb: Framebuffer) {
    fb._status = this._preCheckFramebufferStatus(fb);
    const complete = fb._status === COMPLETE;
    const held = (fb._native ??= new Map());
    for (const point of this._getAttachments()) {
      const want: Attachment = complete ? fb._attachments[point] ?? null : null;
      const face = fb._attachmentFace[point] ?? TEXTURE_2D, level = fb._attachmentLevel[point] ?? 0;
      const was = held.get(point);
      if ((was?.[0] ?? null) === want && (!want || (was![1] === face && was![2] === level))) continue;
      const isRenderbuffer = want && want.constructor.name === 'WebGLRenderbuffer';
      if (isRenderbuffer) native.framebufferRenderbuffer.call(this, FRAMEBUFFER, point, RENDERBUFFER, want._ | 0);
      else native.framebufferTexture2D.call(this, FRAMEBUFFER, point, face, want ? want._ | 0 : 0, level);
      if (want) held.set(point, [want, face, level]);
      else held.delete(point);
    }
  };
}
