/** A minimal PNG writer (8-bit RGB or 8-bit palette, no interlace): enough for pictures without an image library. */
import { deflateSync } from 'node:zlib';
import { crc32 } from '../tokens/crc32.js';

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** Encodes `rgb` (width·height·3 bytes, rows top to bottom) as a PNG file. */
export function encodePng(width: number, height: number, rgb: Uint8Array): Uint8Array {
  return pngFile(width, height, 2, rgb, 3);
}

/**
 * Encodes a paletted picture: `indices` (width·height bytes, rows top to bottom) into `palette`
 * (up to 256 colours, 3 bytes each).
 */
export function encodePngIndexed(width: number, height: number, palette: Uint8Array, indices: Uint8Array): Uint8Array {
  if (palette.length % 3 !== 0 || palette.length > 768) throw new Error(`png: a palette is up to 256 RGB colours (got ${palette.length} bytes)`);
  return pngFile(width, height, 3, indices, 1, chunk('PLTE', palette));
}

/** The file around `pixels` (`bytesPerPixel` per pixel) of colour type `colourType`. */
function pngFile(width: number, height: number, colourType: number, pixels: Uint8Array, bytesPerPixel: number, ...extra: Uint8Array[]): Uint8Array {
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, colourType, 0, 0, 0], 8); // bit depth 8
  // Each row starts with filter type 0 (none).
  const stride = width * bytesPerPixel;
  const raw = new Uint8Array(height * (1 + stride));
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * stride, (y + 1) * stride), y * (1 + stride) + 1);
  const parts = [Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a), chunk('IHDR', header), ...extra, chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
