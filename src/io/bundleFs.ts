/** Tensor bundles (./bundle.ts) as files: written atomically, read with one-line errors. */
import { promises as fs } from 'node:fs';
import { VqcodecError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import { decodeBundle, encodeBundle, type Bundle, type Precision } from './bundle.js';

export async function writeBundle(path: string, bundle: Bundle, precision: Precision = 'float32'): Promise<void> {
  await writeFileAtomic(path, encodeBundle(bundle, precision));
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
