/**
 * A minimal PNG encoder, so the report can inline images as data URLs without a dependency:
 * 8-bit RGB, every row with filter 0 (none), one IDAT chunk deflated by node:zlib, each chunk
 * closed by its CRC-32 (the IEEE polynomial, from a 256-entry table).
 */
import { deflateSync } from 'node:zlib';

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  for (let k = 0; k < 8; k++) n = n & 1 ? 0xedb88320 ^ (n >>> 1) : n >>> 1;
  return n >>> 0;
});

/** CRC-32 as PNG (and zip, and zlib.crc32) computes it. `crc32(Buffer.from('123456789'))  // 0xcbf43926` */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One chunk: length, type, data, CRC of type and data. */
function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** The PNG file of an RGB image, `rgb` row-major [height, width, 3]. `encodePng(2, 1, Uint8Array.of(255, 0, 0, 0, 0, 255))` */
export function encodePng(width: number, height: number, rgb: Uint8Array): Buffer {
  if (rgb.length !== width * height * 3) throw new Error(`encodePng: ${rgb.length} bytes is not ${width} x ${height} x 3`);
  const stride = width * 3 + 1, raw = Buffer.alloc(stride * height);   // each row: filter byte 0, then the pixels
  for (let y = 0; y < height; y++) raw.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), y * stride + 1);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;   // bit depth; then colour type 2 (RGB), compression 0, filter 0, interlace 0
  header[9] = 2;
  return Buffer.concat([SIGNATURE, chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
}

/** The image as a `data:` URL for an `<img src>`. `pngDataUrl(1, 1, Uint8Array.of(0, 0, 0))  // 'data:image/png;base64,iVBOR...'` */
export const pngDataUrl = (width: number, height: number, rgb: Uint8Array): string =>
  `data:image/png;base64,${encodePng(width, height, rgb).toString('base64')}`;
