/**
 * Arrays in files that NumPy and PyTorch read without this library: .npy (NumPy's format, version 1.0)
 * and .safetensors (an 8-byte little-endian header length, a JSON header, then the raw bytes).
 *
 *   np.load('emb.npy')                          # NumPy
 *   safetensors.torch.load_file('emb.safetensors')
 */
type Array32 = Float32Array | Int32Array;

const descr = (a: Array32) => (a instanceof Float32Array ? '<f4' : '<i4');
const bytes = (a: Array32) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** The bytes of a .npy file holding `data` with `shape` (C order). `npy(new Float32Array(6), [2, 3])` */
export function npy(data: Array32, shape: readonly number[]): Uint8Array {
  if (shape.reduce((a, b) => a * b, 1) !== data.length) throw new Error(`npy: ${data.length} values do not fill shape [${shape}]`);
  const dict = `{'descr': '${descr(data)}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  // magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64, ending in \n
  const len = Math.ceil((10 + dict.length + 1) / 64) * 64 - 10;
  const header = `${dict}${' '.repeat(len - dict.length - 1)}\n`;
  const out = new Uint8Array(10 + len + data.byteLength);
  out.set([0x93, ...Buffer.from('NUMPY'), 1, 0, len & 0xff, len >> 8]);
  out.set(Buffer.from(header, 'latin1'), 10);
  out.set(bytes(data), 10 + len);
  return out;
}

/**
 * The bytes of a .safetensors file with named tensors and string metadata.
 * `safetensors({video: {data, shape: [n, 128]}}, {clips: '["a.mp4"]'})`
 */
export function safetensors(tensors: Record<string, { data: Array32; shape: readonly number[] }>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.data instanceof Float32Array ? 'F32' : 'I32', shape: [...t.shape], data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const head = Buffer.concat([json, Buffer.from(' '.repeat((8 - (json.length % 8)) % 8))]); // padded to 8 bytes
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const t of Object.values(tensors)) { out.set(bytes(t.data), at); at += t.data.byteLength; }
  return out;
}
