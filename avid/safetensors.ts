/**
 * The .safetensors format, both ways: an 8-byte little-endian header length n, n bytes of JSON
 * ({name: {dtype, shape, data_offsets: [begin, end]}, __metadata__: {key: string}}), then the raw
 * little-endian bytes, offsets counted from the end of the header. PyTorch reads it with
 * `safetensors.torch.load_file`, or by hand in a dozen lines of NumPy.
 *
 * The reader trusts nothing in a file: it checks the header length against the file and a cap,
 * every entry's dtype, shape and offsets against each other and the file, and that no two tensors
 * share bytes, all before it allocates a tensor; it then reads each tensor straight into its own
 * typed array. A truncated or hostile file gives an Error that names the file and the field.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';

/** The arrays a tensor may be held in, and the safetensors dtype of each. */
export type StArray = Float32Array | Float64Array | Int32Array | BigInt64Array;
export type StDtype = 'F32' | 'F64' | 'I32' | 'I64';
export interface StTensor { data: StArray; shape: readonly number[] }

const itemSize: Record<StDtype, number> = { F32: 4, F64: 8, I32: 4, I64: 8 };
const dtypeOf = (a: StArray): StDtype => (a instanceof Float32Array ? 'F32' : a instanceof Float64Array ? 'F64' : a instanceof Int32Array ? 'I32' : 'I64');
const arrayOf = (dtype: StDtype, buf: ArrayBuffer): StArray =>
  dtype === 'F32' ? new Float32Array(buf) : dtype === 'F64' ? new Float64Array(buf) : dtype === 'I32' ? new Int32Array(buf) : new BigInt64Array(buf);
const bytes = (a: StArray) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** The largest header the reader accepts (the format's own reference reader allows 100 MB too). */
export const MAX_HEADER = 100_000_000;

function littleEndianOnly(file: string): void {
  if (endianness() !== 'LE') throw new Error(`${file}: safetensors is little-endian and this host is big-endian; not supported`);
}

/**
 * The bytes of a .safetensors file with named tensors and string metadata.
 * `safetensors({video: {data, shape: [n, 128]}}, {clips: '["a.mp4"]'})`
 */
export function safetensors(tensors: Record<string, StTensor>, metadata: Record<string, string> = {}): Uint8Array {
  littleEndianOnly('safetensors');
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (t.shape.reduce((a, b) => a * b, 1) !== t.data.length) throw new Error(`safetensors: tensor "${name}": ${t.data.length} values do not fill shape [${t.shape.join(', ')}]`);
    header[name] = { dtype: dtypeOf(t.data), shape: [...t.shape], data_offsets: [offset, offset + t.data.byteLength] };
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

/** What a reader reads from: a file or bytes in memory. `read` fills `into` from `pos`, returns the count. */
interface Source { size: number; read(into: Uint8Array, pos: number): number }

interface Entry { name: string; dtype: StDtype; shape: number[]; begin: number; end: number }

/** Check a parsed header against the data section's length; the entries in header order, or an Error naming `file` and the field. */
function entries(file: string, header: unknown, dataLength: number): { list: Entry[]; metadata: Record<string, string> } {
  const fail = (msg: string): never => { throw new Error(`${file}: ${msg}`); };
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('header is not a JSON object');
  const metadata: Record<string, string> = {};
  const list: Entry[] = [];
  for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
    const at = `tensor ${JSON.stringify(name)}`;
    if (name === '__metadata__') {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) fail('__metadata__ is not an object of strings');
      for (const [k, s] of Object.entries(v as object)) metadata[k] = typeof s === 'string' ? s : fail(`__metadata__.${k} is not a string`);
      continue;
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(`${at} is not an object {dtype, shape, data_offsets}`);
    const { dtype, shape, data_offsets: off } = v as Record<string, unknown>;
    if (typeof dtype !== 'string' || !(dtype in itemSize)) {
      fail(`${at}: dtype ${JSON.stringify(dtype)} is not one of ${Object.keys(itemSize).join(', ')}${dtype === 'F16' || dtype === 'BF16' ? ' (convert it to float32 first: v.float())' : ''}`);
    }
    const index = (x: unknown) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
    if (!Array.isArray(shape) || !shape.every(index)) fail(`${at}: shape ${JSON.stringify(shape)} is not an array of non-negative integers`);
    if (!Array.isArray(off) || off.length !== 2 || !off.every(index) || off[0] > off[1]) fail(`${at}: data_offsets ${JSON.stringify(off)} is not [begin, end] with 0 <= begin <= end`);
    const [begin, end] = off as number[];
    if (end > dataLength) fail(`${at}: data_offsets [${begin}, ${end}] run past the data section's ${dataLength} bytes (truncated file?)`);
    let need = itemSize[dtype as StDtype];
    for (const d of shape as number[]) need *= d; // bounded: a product over end - begin fails below
    if (!Number.isSafeInteger(need) || need !== end - begin) {
      fail(`${at}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes but shape [${(shape as number[]).join(', ')}] of ${dtype} needs ${Number.isSafeInteger(need) ? need : 'more than 2^53'}`);
    }
    list.push({ name, dtype: dtype as StDtype, shape: shape as number[], begin, end });
  }
  // sorted by where they begin, each non-empty tensor must begin after every earlier one ends
  let prev: Entry | undefined;
  for (const e of list.filter((x) => x.end > x.begin).sort((a, b) => a.begin - b.begin)) {
    if (prev && e.begin < prev.end) fail(`tensor ${JSON.stringify(e.name)}: data_offsets [${e.begin}, ${e.end}] overlap tensor ${JSON.stringify(prev.name)}'s [${prev.begin}, ${prev.end}]`);
    if (!prev || e.end > prev.end) prev = e;
  }
  return { list, metadata };
}

function decode(file: string, src: Source): { tensors: Record<string, StTensor>; metadata: Record<string, string> } {
  littleEndianOnly(file);
  const fail = (msg: string): never => { throw new Error(`${file}: ${msg}`); };
  if (src.size < 8) fail(`${src.size} bytes, too short for a safetensors file (it starts with an 8-byte header length)`);
  const len8 = new Uint8Array(8);
  src.read(len8, 0);
  const n = new DataView(len8.buffer).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER)) fail(`header length ${n} is over the ${MAX_HEADER}-byte cap`);
  if (n > BigInt(src.size - 8)) fail(`header length ${n} runs past the end of the file (${src.size} bytes; truncated?)`);
  const head = new Uint8Array(Number(n));
  if (src.read(head, 8) !== head.length) fail('the header could not be read in full (file truncated while reading?)');
  let header: unknown;
  try { header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(head)); } catch (e) { fail(`header is not valid JSON (${(e as Error).message})`); }
  const dataStart = 8 + head.length;
  const { list, metadata } = entries(file, header, src.size - dataStart);
  const tensors: Record<string, StTensor> = {};
  for (const e of list) {
    const buf = new ArrayBuffer(e.end - e.begin); // a fresh buffer, so the typed array is aligned
    if (src.read(new Uint8Array(buf), dataStart + e.begin) !== buf.byteLength) fail(`tensor ${JSON.stringify(e.name)}: its bytes could not be read in full (file truncated while reading?)`);
    tensors[e.name] = { data: arrayOf(e.dtype, buf), shape: e.shape };
  }
  return { tensors, metadata };
}

/**
 * The tensors and metadata of a .safetensors file, read tensor by tensor after the header checks out.
 * `const {tensors, metadata} = readSafetensors('model.safetensors')`
 */
export function readSafetensors(file: string): { tensors: Record<string, StTensor>; metadata: Record<string, string> } {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    return decode(file, { size, read: (into, pos) => { let got = 0; for (let r; got < into.length && (r = readSync(fd, into, got, into.length - got, pos + got)) > 0;) got += r; return got; } });
  } finally { closeSync(fd); }
}

/** The same from bytes in memory; `name` is what errors call them. `decodeSafetensors(safetensors({...}), 'mine')` */
export function decodeSafetensors(data: Uint8Array, name = 'safetensors'): { tensors: Record<string, StTensor>; metadata: Record<string, string> } {
  return decode(name, { size: data.length, read: (into, pos) => { const part = data.subarray(pos, pos + into.length); into.set(part); return part.length; } });
}
