/**
 * Arrays in files that NumPy and PyTorch read without this library: .npy (NumPy's format, version 1.0)
 * and .safetensors (an 8-byte little-endian header length, a JSON header, then the raw bytes).
 *
 *   np.load('emb.npy')                          # NumPy
 *   safetensors.torch.load_file('emb.safetensors')
 *
 * The safetensors writer and its checking reader live in safetensors.ts; they are re-exported here.
 */
export { safetensors, readSafetensors, decodeSafetensors } from './safetensors.js';

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
