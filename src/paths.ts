/** Where the package lives on disk: the nearest folder above this file with a package.json (from src/ or dist/src/). */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

export const PACKAGE_ROOT = packageRoot();
/** The model shipped in the repository's models/ folder. */
export const DEFAULT_MODEL = path.join(PACKAGE_ROOT, 'models', 'default');
/** Small audio files the tests and the demo use. */
export const FIXTURES = path.join(PACKAGE_ROOT, 'test', 'fixtures');
