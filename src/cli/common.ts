/** What several commands share: the backend flag, the default model, loading a codec. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../backend.js';
import { Codec } from '../codec.js';
import { VqcodecError } from '../errors.js';
import { note } from './ui.js';

/** The package root: the nearest folder above this file with a package.json (works from src/ and dist/src/). */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

export const PACKAGE_ROOT = packageRoot();
/** The model shipped in the repository's models/ folder. */
export const DEFAULT_MODEL = path.join(PACKAGE_ROOT, 'models', 'default');

export interface GlobalOptions {
  backend?: string;
  model?: string;
  quiet?: boolean;
}

export async function startBackend(options: GlobalOptions): Promise<void> {
  const name = await initBackend(options.backend);
  if (!options.quiet) note(`backend: ${name}`);
}

export async function loadCodec(options: GlobalOptions): Promise<Codec> {
  await startBackend(options);
  const codec = await Codec.load(options.model ?? DEFAULT_MODEL);
  if (!options.quiet) note(`model: ${options.model ?? DEFAULT_MODEL} (${codec.fingerprint})`);
  return codec;
}

/** Parses an integer option or throws a clear error. */
export function intOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n)) throw new VqcodecError(`${name} must be an integer (got '${value}')`);
  return n;
}

/** Parses a number option or throws a clear error. */
export function numberOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new VqcodecError(`${name} must be a number (got '${value}')`);
  return n;
}

/** Parses '1,2,4,8' into integers. */
export function intListOption(name: string, value: string | undefined): number[] | undefined {
  return value?.split(',').map((v) => intOption(name, v)!);
}
