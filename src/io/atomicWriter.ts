/**
 * writeFileAtomic for files written piece by piece (streaming encode and decode): the bytes
 * go to a temporary file in the target's folder, flushed to disk (fsync) and renamed over the
 * target by `commit()`, which then flushes the folder; `abort()` (or any failed write) removes
 * the temporary file, so no partial output is left.
 */
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { VqcodecError } from '../errors.js';
import { syncFolder, tempPathFor } from './atomic.js';

/** Bytes gathered before each write to the file. */
const BUFFER_BYTES = 1 << 20;

export class AtomicFileWriter {
  private buffer = new Uint8Array(BUFFER_BYTES);
  private buffered = 0;
  private written = 0;
  private closed = false;

  private constructor(
    readonly target: string,
    readonly tempPath: string,
    private handle: FileHandle,
  ) {}

  /** Creates the target's folder if needed and opens a temporary file beside the target. */
  static async open(target: string): Promise<AtomicFileWriter> {
    const dir = path.dirname(target);
    await fs.mkdir(dir, { recursive: true }).catch((err: NodeJS.ErrnoException) => {
      throw new VqcodecError(`cannot create folder ${dir} (${err.code})`);
    });
    const tmp = tempPathFor(target);
    let handle: FileHandle;
    try {
      handle = await fs.open(tmp, 'wx');
    } catch (err) {
      throw writeError(target, err);
    }
    return new AtomicFileWriter(target, tmp, handle);
  }

  /** Bytes written so far (including buffered ones). */
  get length(): number {
    return this.written + this.buffered;
  }

  /** Appends `bytes` (copied: the caller may reuse its buffer). */
  async write(bytes: Uint8Array): Promise<void> {
    if (this.closed) throw new VqcodecError(`cannot write ${this.target}: the writer is closed`);
    let p = 0;
    while (p < bytes.length) {
      const n = Math.min(bytes.length - p, this.buffer.length - this.buffered);
      this.buffer.set(bytes.subarray(p, p + n), this.buffered);
      this.buffered += n;
      p += n;
      if (this.buffered === this.buffer.length) await this.drain();
    }
  }

  /** Overwrites bytes already written at `position` (e.g. a header patched at the end). */
  async writeAt(bytes: Uint8Array, position: number): Promise<void> {
    await this.drain();
    await this.guard(() => this.handle.write(bytes, 0, bytes.length, position));
  }

  /** Flushes (to disk), closes and renames the temporary file over the target, then flushes the folder. */
  async commit(): Promise<void> {
    await this.drain();
    await this.guard(() => this.handle.sync());
    this.closed = true;
    await this.guard(async () => {
      await this.handle.close();
      await fs.rename(this.tempPath, this.target);
    });
    await syncFolder(path.dirname(this.target));
  }

  /** Closes and removes the temporary file (safe to call more than once, or after a failure). */
  async abort(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      await this.handle.close().catch(() => undefined);
    }
    await fs.rm(this.tempPath, { force: true });
  }

  private async drain(): Promise<void> {
    if (this.buffered === 0) return;
    const n = this.buffered;
    await this.guard(() => this.handle.write(this.buffer, 0, n, this.written));
    this.written += n;
    this.buffered = 0;
  }

  /** Runs a file operation; on failure removes the temporary file and throws a one-line error. */
  private async guard<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      await this.abort();
      throw writeError(this.target, err);
    }
  }
}

function writeError(target: string, err: unknown): Error {
  if (err instanceof VqcodecError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EISDIR') return new VqcodecError(`cannot write ${target}: it is a directory`);
  if (code !== undefined) return new VqcodecError(`cannot write ${target} (${code})`);
  return err as Error;
}
