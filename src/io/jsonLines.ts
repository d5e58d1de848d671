/** JSON-lines files written by appending: a last line cut short by a killed process is left out. */
import { promises as fs } from 'node:fs';
import { VqcodecError } from '../errors.js';

export function parseJsonLines<T>(text: string, file: string): T[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return lines.flatMap((line, i) => {
    try {
      return [JSON.parse(line) as T];
    } catch {
      if (i === lines.length - 1) return [];
      throw new VqcodecError(`${file}: line ${i + 1} is not JSON`);
    }
  });
}

/** The entries of a JSON-lines file; none when it does not exist. */
export async function readJsonLines<T>(file: string): Promise<T[]> {
  return parseJsonLines<T>(await fs.readFile(file, 'utf8').catch(() => ''), file);
}
