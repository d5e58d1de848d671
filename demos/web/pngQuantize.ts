/**
 * Shrinks a screenshot: decodes an 8-bit RGB(A) PNG and writes it again with a palette of 256 of
 * its colours (every other colour goes to its nearest). A page of flat colours and two
 * spectrograms has under 2000 colours, so this is close to lossless at under half the bytes.
 */
import { inflateSync } from 'node:zlib';
import { encodePngIndexed } from '../../src/io/png.js';

interface Rgb8 {
  width: number;
  height: number;
  /** width·height·3 bytes. */
  rgb: Uint8Array;
}

/** Decodes a non-interlaced 8-bit RGB or RGBA PNG (alpha dropped). */
export function decodePngRgb(png: Uint8Array): Rgb8 {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Uint8Array[] = [];
  for (let p = 8; p < png.length; ) {
    const length = view.getUint32(p);
    const type = String.fromCharCode(...png.subarray(p + 4, p + 8));
    const data = png.subarray(p + 8, p + 8 + length);
    if (type === 'IHDR') {
      width = view.getUint32(p + 8);
      height = view.getUint32(p + 12);
      const [depth, colourType, , , interlace] = data.subarray(8, 13);
      if (depth !== 8 || (colourType !== 2 && colourType !== 6) || interlace !== 0) throw new Error('png: only 8-bit RGB(A) without interlace is read');
      channels = colourType === 2 ? 3 : 4;
    } else if (type === 'IDAT') idat.push(data);
    p += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const rgb = new Uint8Array(width * height * 3);
  let prev = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const cur = new Uint8Array(stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? cur[i - channels]! : 0;
      const b = prev[i]!;
      const c = i >= channels ? prev[i - channels]! : 0;
      let predicted = 0;
      if (filter === 1) predicted = a;
      else if (filter === 2) predicted = b;
      else if (filter === 3) predicted = (a + b) >> 1;
      else if (filter === 4) {
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        predicted = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      cur[i] = (line[i]! + predicted) & 255;
    }
    for (let x = 0; x < width; x++) rgb.set(cur.subarray(x * channels, x * channels + 3), (y * width + x) * 3);
    prev = cur;
  }
  return { width, height, rgb };
}

const distance = (p: number, q: number): number => ((p >> 16) - (q >> 16)) ** 2 + (((p >> 8) & 255) - ((q >> 8) & 255)) ** 2 + ((p & 255) - (q & 255)) ** 2;

/**
 * The picture as a paletted PNG: its 128 most frequent colours (the page's flat colours and
 * text), then, one at a time, the colour farthest from all chosen so far (so rare colours such as
 * the top of a colour bar keep a near match), up to 256.
 */
export function quantizePng(png: Uint8Array): Uint8Array {
  const { width, height, rgb } = decodePngRgb(png);
  const counts = new Map<number, number>();
  for (let i = 0; i < rgb.length; i += 3) {
    const key = (rgb[i]! << 16) | (rgb[i + 1]! << 8) | rgb[i + 2]!;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const colours = [...counts.entries()].sort((x, y) => y[1] - x[1]).map(([key]) => key);
  const palette = colours.slice(0, 128);
  const gap = colours.map((c) => Math.min(...palette.map((p) => distance(p, c))));
  while (palette.length < 256) {
    let far = 0;
    for (let i = 1; i < colours.length; i++) if (gap[i]! > gap[far]!) far = i;
    if (!(gap[far]! > 0)) break;
    const chosen = colours[far]!;
    palette.push(chosen);
    for (let i = 0; i < colours.length; i++) gap[i] = Math.min(gap[i]!, distance(chosen, colours[i]!));
  }
  const index = new Map<number, number>();
  const nearest = (key: number): number => {
    let found = index.get(key);
    if (found !== undefined) return found;
    let best = Infinity;
    found = 0;
    for (let k = 0; k < palette.length; k++) {
      const d = distance(palette[k]!, key);
      if (d < best) {
        best = d;
        found = k;
      }
    }
    index.set(key, found);
    return found;
  };
  const indices = new Uint8Array(width * height);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j++) indices[j] = nearest((rgb[i]! << 16) | (rgb[i + 1]! << 8) | rgb[i + 2]!);
  const paletteBytes = new Uint8Array(palette.length * 3);
  palette.forEach((p, k) => paletteBytes.set([p >> 16, (p >> 8) & 255, p & 255], 3 * k));
  return encodePngIndexed(width, height, paletteBytes, indices);
}
