/**
 * A tensor bundle: named float32 arrays plus JSON metadata in one file.
 * Layout: ASCII "VQB1", u32 LE header length, UTF-8 JSON header
 * { meta, tensors: [{ name, shape, offset }], dtype? }, zero padding to 4 bytes, then the
 * data: float32 LE, or binary16 LE when dtype is "float16" (offsets count values).
 * Used for model weights (float16 for shipped models) and training checkpoints (float32).
 * Bytes only (no file access, so the browser page uses it too): files are ./bundleFs.ts.
 */
import { VqcodecError } from '../errors.js';
import type { NamedArrays } from '../model/params.js';
import { fromHalfBits, toHalfBits } from './float16.js';

const MAGIC = 'VQB1';

export interface Bundle {
  meta: Record<string, unknown>;
  arrays: NamedArrays;
}

/** How values are stored: float32, or float16 at half the size (each value rounded to nearest). */
export type Precision = 'float32' | 'float16';

export function encodeBundle(bundle: Bundle, precision: Precision = 'float32'): Uint8Array {
  const entries: { name: string; shape: number[]; offset: number }[] = [];
  let floats = 0;
  for (const [name, a] of Object.entries(bundle.arrays)) {
    entries.push({ name, shape: a.shape, offset: floats });
    floats += a.data.length;
  }
  const dtype = precision === 'float16' ? { dtype: 'float16' } : {};
  const header = new TextEncoder().encode(JSON.stringify({ meta: bundle.meta, tensors: entries, ...dtype }));
  const dataStart = Math.ceil((8 + header.length) / 4) * 4;
  const out = new Uint8Array(dataStart + floats * (precision === 'float16' ? 2 : 4));
  out.set(new TextEncoder().encode(MAGIC), 0);
  const view = new DataView(out.buffer);
  view.setUint32(4, header.length, true);
  out.set(header, 8);
  const data = precision === 'float32' ? new Float32Array(out.buffer, dataStart, floats) : undefined;
  for (const [i, a] of Object.values(bundle.arrays).entries()) {
    if (data !== undefined) {
      data.set(a.data, entries[i].offset);
    } else {
      const at = dataStart + 2 * entries[i].offset;
      a.data.forEach((v, j) => view.setUint16(at + 2 * j, toHalfBits(v), true));
    }
  }
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
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch {
    return bad('unreadable header');
  }
  if (!isObject(header)) return bad('its header is not a JSON object');
  const { meta, tensors, dtype } = header;
  if (meta !== undefined && !isObject(meta)) bad('its meta is not an object');
  if (tensors !== undefined && !Array.isArray(tensors)) bad('its tensors are not a list');
  if (dtype !== undefined && dtype !== 'float16') bad(`unknown dtype ${String(dtype)}`);
  const dataStart = Math.ceil((8 + headerLength) / 4) * 4;
  const data = dtype === 'float16' ? halvesToFloats(bytes.subarray(dataStart)) : new Float32Array(
    // Copy into an aligned buffer: the file's bytes need not start on a 4-byte boundary.
    new Uint8Array(bytes.subarray(dataStart, dataStart + Math.floor((bytes.length - dataStart) / 4) * 4)).buffer,
  );
  const arrays: NamedArrays = {};
  for (const [i, t] of ((tensors ?? []) as unknown[]).entries()) {
    if (!isObject(t) || typeof t.name !== 'string') return bad(`tensor ${i} has no name`);
    const { name: tensor, shape, offset } = t;
    if (Object.hasOwn(arrays, tensor)) bad(`tensor ${tensor} appears twice`);
    if (!Array.isArray(shape) || !shape.every(isCount)) return bad(`tensor ${tensor} has an invalid shape ${JSON.stringify(shape)}`);
    if (!isCount(offset)) return bad(`tensor ${tensor} has an invalid offset ${JSON.stringify(offset)}`);
    const size = shape.reduce((a, b) => a * b, 1);
    if (!(offset + size <= data.length)) bad(`tensor ${tensor} lies outside the file`);
    // Defined, not assigned: a tensor named "__proto__" is a name like any other, not the object's prototype.
    Object.defineProperty(arrays, tensor, { value: { shape, data: data.subarray(offset, offset + size) }, enumerable: true, writable: true, configurable: true });
  }
  return { meta: (meta as Record<string, unknown> | undefined) ?? {}, arrays };
}

/** How many float values a decoded bundle's data holds (what its tensors can fill at most). */
export function bundleValues(bundle: Bundle): number {
  // Every array of a decoded bundle views the one buffer of its data.
  return Object.values(bundle.arrays).reduce((n, a) => Math.max(n, a.data.buffer.byteLength / 4), 0);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A non-negative integer that a double holds exactly. */
function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function halvesToFloats(bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(Math.floor(bytes.length / 2));
  for (let i = 0; i < out.length; i++) out[i] = fromHalfBits(view.getUint16(2 * i, true));
  return out;
}

/** The first array holding a NaN or infinite value, with where; undefined when every value is finite. */
export function firstNonFinite(arrays: NamedArrays): { name: string; index: number; value: number } | undefined {
  for (const [name, a] of Object.entries(arrays)) {
    const data = a.data;
    for (let i = 0; i < data.length; i++) {
      // v - v is 0 for finite v and NaN for NaN and ±Infinity.
      if (data[i] - data[i] !== 0) return { name, index: i, value: data[i] };
    }
  }
  return undefined;
}

/** Throws a one-line VqcodecError naming the first tensor with a non-finite value (`what` says whose arrays, `action` what was refused). */
export function requireFinite(arrays: NamedArrays, what: string, action: string): void {
  const bad = firstNonFinite(arrays);
  if (bad !== undefined) throw new VqcodecError(`${action} ${what}: tensor ${bad.name} holds ${bad.value} at index ${bad.index} (weights must be finite)`);
}

/** The smallest magnitude float16 rounds to infinity. */
const HALF_OVERFLOW = 65520;

/** Throws unless every value fits float16 (larger ones would be stored as infinity). */
export function requireHalfRange(arrays: NamedArrays, what: string): void {
  for (const [name, a] of Object.entries(arrays)) {
    const i = a.data.findIndex((v) => Math.abs(v) >= HALF_OVERFLOW);
    if (i >= 0) throw new VqcodecError(`refusing to write ${what}: tensor ${name} holds ${a.data[i]} at index ${i}, beyond float16's range`);
  }
}
