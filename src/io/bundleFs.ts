/** Tensor bundles (./bundle.ts) as files: written atomically, read with one-line errors. */
import { promises as fs } from 'node:fs';
import { VqcodecError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import { decodeBundle, encodeBundle, requireFinite, requireHalfRange, type Bundle, type Precision } from './bundle.js';

/** Writes a bundle atomically; refuses (writing nothing) when any value is NaN or infinite, or would be in float16. */
export async function writeBundle(path: string, bundle: Bundle, precision: Precision = 'float32'): Promise<void> {
  requireFinite(bundle.arrays, path, 'refusing to write');
  if (precision === 'float16') requireHalfRange(bundle.arrays, path);
  await writeFileAtomic(path, encodeBundle(bundle, precision));
}

/** Reads a bundle; refuses one holding a NaN or infinite value, naming the tensor. */
export async function readBundle(path: string): Promise<Bundle> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(path);
  } catch {
    throw new VqcodecError(`no such file: ${path}`);
  }
  const bundle = decodeBundle(bytes, path);
  requireFinite(bundle.arrays, path, 'refusing to load');
  return bundle;
}
