/**
 * A tensor bundle: named float32 arrays plus JSON metadata in one file.
 * Layout: ASCII "VQB1", u32 LE header length, UTF-8 JSON header
 * { meta, tensors: [{ name, shape, offset }] }, zero padding to 4 bytes, then the
 * float32 LE data (offsets in floats). Used for model weights and training checkpoints.
 */
import { promises as fs } from 'node:fs';
import { VqcodecError } from '../errors.js';
import type { NamedArrays } from '../model/params.js';
import { writeFileAtomic } from './atomic.js';

const MAGIC = 'VQB1';

export interface Bundle {
  meta: Record<string, unknown>;
  arrays: NamedArrays;
}

export function encodeBundle(bundle: Bundle): Uint8Array {
  const entries: { name: string; shape: number[]; offset: number }[] = [];
  let floats = 0;
  for (const [name, a] of Object.entries(bundle.arrays)) {
    entries.push({ name, shape: a.shape, offset: floats });
    floats += a.data.length;
  }
  const header = new TextEncoder().encode(JSON.stringify({ meta: bundle.meta, tensors: entries }));
  const dataStart = Math.ceil((8 + header.length) / 4) * 4;
  const out = new Uint8Array(dataStart + floats * 4);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(4, header.length, true);
  out.set(header, 8);
  const data = new Float32Array(out.buffer, dataStart, floats);
  for (const [i, a] of Object.values(bundle.arrays).entries()) data.set(a.data, entries[i].offset);
  return out;
}

export function decodeBundle(bytes: Uint8Array, name: string): Bundle {
  const bad = (why: string): never => {
    throw new VqcodecError(`${name} is not a valid vqcodec weights/checkpoint file (${why})`);
  };
  if (bytes.length < 8 || new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC) bad('wrong magic bytes');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(4, true);
  if (8 + headerLength > bytes.length) bad('truncated header');
  let header: { meta: Record<string, unknown>; tensors: { name: string; shape: number[]; offset: number }[] };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch {
    return bad('unreadable header');
  }
  const dataStart = Math.ceil((8 + headerLength) / 4) * 4;
  const totalFloats = (bytes.length - dataStart) / 4;
  // Copy into an aligned buffer: the file's bytes need not start on a 4-byte boundary.
  const data = new Float32Array(new Uint8Array(bytes.subarray(dataStart, dataStart + Math.floor(totalFloats) * 4)).buffer);
  const arrays: NamedArrays = {};
  for (const t of header.tensors ?? []) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (!(t.offset >= 0 && t.offset + size <= data.length)) bad(`tensor ${t.name} lies outside the file`);
    arrays[t.name] = { shape: t.shape, data: data.subarray(t.offset, t.offset + size) };
  }
  return { meta: header.meta ?? {}, arrays };
}

export async function writeBundle(path: string, bundle: Bundle): Promise<void> {
  await writeFileAtomic(path, encodeBundle(bundle));
}

export async function readBundle(path: string): Promise<Bundle> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(path);
  } catch {
    throw new VqcodecError(`no such file: ${path}`);
  }
  return decodeBundle(bytes, path);
}
