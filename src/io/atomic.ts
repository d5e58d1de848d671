import { promises as fs } from 'node:fs';
import path from 'node:path';
import { VqcodecError } from '../errors.js';

/**
 * Writes a file so that readers never see it half-written: the bytes go to a
 * temporary file in the same folder, which is then renamed over the target
 * (rename is atomic within one file system). On failure the temp file is removed.
 */
export async function writeFileAtomic(target: string, data: Uint8Array | string): Promise<void> {
  const dir = path.dirname(target);
  await fs.mkdir(dir, { recursive: true }).catch((err: NodeJS.ErrnoException) => {
    throw new VqcodecError(`cannot create folder ${dir} (${err.code})`);
  });
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.${Date.now()}.tmp`);
  try {
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EISDIR') throw new VqcodecError(`cannot write ${target}: it is a directory`);
    if (code !== undefined) throw new VqcodecError(`cannot write ${target} (${code})`);
    throw err;
  }
}
