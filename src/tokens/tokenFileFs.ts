/** `.vqt` token files (./tokenFile.ts) on disk: written atomically, read with one-line errors. */
import { promises as fs } from 'node:fs';
import { VqcodecError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { EntropyModels } from '../entropy/payload.js';
import type { Tokens } from '../types.js';
import { decodeTokenFile, encodeTokenFile, inspectTokenFile, type TokenFileInfo, type TokenFileOptions } from './tokenFile.js';

/** Writes `tokens` to `path` atomically (readers never see a half-written file). */
export async function writeTokenFile(path: string, tokens: Tokens, options: TokenFileOptions = {}): Promise<void> {
  await writeFileAtomic(path, encodeTokenFile(tokens, options));
}

/** The message for a token file that cannot be opened or read (shared with ./tokenStream.ts). */
export function tokenFileReadError(path: string, err: unknown): VqcodecError {
  if (err instanceof VqcodecError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new VqcodecError(`no such file: ${path}`);
  if (code === 'EISDIR') return new VqcodecError(`${path} is a directory, not a token file`);
  return new VqcodecError(`cannot read ${path}: ${code ?? (err as Error).message}`);
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await fs.readFile(path);
  } catch (err) {
    throw tokenFileReadError(path, err);
  }
}

/** Reads and validates the token file at `path`. */
export async function readTokenFile(path: string, models: EntropyModels = {}): Promise<Tokens> {
  return decodeTokenFile(await readBytes(path), path, models);
}

/** Reads and checks the header of the token file at `path` (no models needed). */
export async function readTokenFileInfo(path: string): Promise<TokenFileInfo> {
  return inspectTokenFile(await readBytes(path), path);
}
