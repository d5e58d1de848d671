import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { VqcodecError } from '../errors.js';

/**
 * Writes a file so that readers never see it half-written, even after a crash: the bytes go to
 * a temporary file in the same folder, which is flushed to disk (fsync), renamed over the target
 * (rename is atomic within one file system), and the folder itself is flushed so the rename
 * survives a power cut. On failure the temp file is removed; a process killed mid-write leaves
 * its temp file behind, which removeStaleTempFiles clears later.
 */
export async function writeFileAtomic(target: string, data: Uint8Array | string): Promise<void> {
  const dir = path.dirname(target);
  await fs.mkdir(dir, { recursive: true }).catch((err: NodeJS.ErrnoException) => {
    throw new VqcodecError(`cannot create folder ${dir} (${err.code})`);
  });
  const tmp = tempPathFor(target);
  try {
    const handle = await fs.open(tmp, 'wx');
    try {
      const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
      const delay = testWriteDelay();
      if (delay > 0) {
        // Test hook (VQCODEC_TEST_WRITE_DELAY_MS): half the bytes, a pause, the rest, so a test can kill the process mid-write.
        const half = Math.floor(bytes.length / 2);
        await handle.write(bytes, 0, half, 0);
        await new Promise((resolve) => setTimeout(resolve, delay));
        await handle.write(bytes, half, bytes.length - half, half);
      } else {
        await handle.writeFile(bytes);
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EISDIR') throw new VqcodecError(`cannot write ${target}: it is a directory`);
    if (code !== undefined) throw new VqcodecError(`cannot write ${target} (${code})`);
    throw err;
  }
  await syncFolder(dir);
}

/** Flushes a folder's entries (a rename into it) to disk; a no-op where folders cannot be opened (Windows). */
export async function syncFolder(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch {
    // Some platforms and file systems refuse to open or fsync a folder: the rename still happened.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

let counter = 0;

/** A temporary path beside `target`, unique within this process: `.NAME.PID.STAMP.tmp`. */
export function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${Date.now()}-${counter++}.tmp`);
}

const TEMP_NAME = /^\..+\.(\d+)\.\d+(?:-\d+)?\.tmp$/;

/**
 * Removes the temporary files that writers killed mid-write left in `dir` (those whose process
 * has ended; a live process's temp file is left alone). Returns the names removed.
 */
export async function removeStaleTempFiles(dir: string): Promise<string[]> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    const match = TEMP_NAME.exec(name);
    if (match === null) continue;
    const pid = Number(match[1]);
    if (pid === process.pid || isAlive(pid)) continue;
    await fs.rm(path.join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Milliseconds writeFileAtomic pauses mid-write (test hook; 0 unless VQCODEC_TEST_WRITE_DELAY_MS is set). */
function testWriteDelay(): number {
  const ms = Number(process.env.VQCODEC_TEST_WRITE_DELAY_MS ?? 0);
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}
