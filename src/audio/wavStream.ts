/**
 * WAV files read and written block by block, so memory does not grow with the file.
 *
 * Reading: the RIFF chunk list is walked with small positioned reads (only chunk headers and
 * the 'fmt ' chunk are read), then the data chunk is read in blocks of sample frames and
 * converted with wav.ts's sample code, so every block equals the matching stretch of
 * decodeWav's output. Chunks are found as wavefile (which decodeWav uses) finds them: the
 * first 'fmt ' and the first 'data' chunk, sizes padded to even, a data chunk that runs past
 * the end of the file cut at the end.
 *
 * Writing: the header of a mono WAV of known length first, then sample blocks, to a
 * temporary file renamed into place at the end: the same bytes as encodeWav.
 */
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { VqcodecError, check } from '../errors.js';
import { AtomicFileWriter } from '../io/atomicWriter.js';
import { AudioValidator, audioFileError, toMono } from './load.js';
import { createStreamingResampler, resampledLength } from './resample.js';
import {
  encodeWavSamplesInto,
  readFrames,
  wavBytesPerSample,
  wavHeader,
  wavSampleFormat,
  type FmtChunk,
  type WavFormat,
  type WavSampleFormat,
} from './wav.js';

/** Sample frames per block read by default (about 1.4 s at 48 kHz). */
export const DEFAULT_BLOCK_FRAMES = 65536;

export interface WavInfo extends WavSampleFormat {
  /** Sample frames in the data chunk (whole frames only). */
  frames: number;
  /** Byte offset of the first sample frame. */
  dataOffset: number;
}

/** An open WAV file whose samples are read block by block. */
export class WavReader {
  private constructor(
    readonly path: string,
    readonly info: WavInfo,
    private readonly handle: FileHandle,
  ) {}

  /** Opens `path` and parses its header; errors are one-line VqcodecErrors naming `name`. */
  static async open(path: string, name = path): Promise<WavReader> {
    let handle: FileHandle;
    try {
      handle = await fs.open(path, 'r');
    } catch (err) {
      throw audioFileError(path, err);
    }
    try {
      const info = await parseHeader(handle, path, name);
      return new WavReader(path, info, handle);
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
  }

  get sampleRate(): number {
    return this.info.sampleRate;
  }

  /** Per-channel blocks of at most `blockFrames` frames (decodeWav's channels, piece by piece). */
  async *channelBlocks(blockFrames = DEFAULT_BLOCK_FRAMES): AsyncGenerator<Float32Array[]> {
    check(Number.isInteger(blockFrames) && blockFrames > 0, `block size must be a positive integer (got ${blockFrames})`);
    const { frames, frameBytes, dataOffset } = this.info;
    const buf = new Uint8Array(Math.min(blockFrames, Math.max(frames, 1)) * frameBytes);
    for (let start = 0; start < frames; start += blockFrames) {
      const n = Math.min(blockFrames, frames - start);
      const bytes = buf.subarray(0, n * frameBytes);
      await readFully(this.handle, bytes, dataOffset + start * frameBytes, this.path);
      yield readFrames(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), n, this.info);
    }
  }

  /** Mono blocks (the channel average, as toMono) of at most `blockFrames` samples. */
  async *blocks(blockFrames = DEFAULT_BLOCK_FRAMES): AsyncGenerator<Float32Array> {
    for await (const channels of this.channelBlocks(blockFrames)) yield toMono(channels);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}



/** Walks the RIFF chunks to the first 'fmt ' and 'data' chunks. */
async function parseHeader(handle: FileHandle, path: string, name: string): Promise<WavInfo> {
  const fileSize = (await handle.stat()).size;
  const notReadable = (why: string) => new VqcodecError(`${name} is not a readable WAV file (${why})`);
  const head = new Uint8Array(12);
  if ((await readSome(handle, head, 0, path)) < 12) throw notReadable('too short for a RIFF header');
  const riff = ascii(head, 0);
  if (riff !== 'RIFF' && riff !== 'RIFX') throw notReadable('not a supported format');
  if (ascii(head, 8) !== 'WAVE') throw notReadable('could not find the "WAVE" format identifier');
  const bigEndian = riff === 'RIFX';
  let fmt: FmtChunk | undefined;
  let data: { start: number; end: number } | undefined;
  const window = new ReadWindow(handle, fileSize, path);
  for (let pos = 12; pos <= fileSize - 8 && (fmt === undefined || data === undefined); ) {
    const chunkHead = await window.read(pos, 8);
    const id = ascii(chunkHead, 0);
    const size = new DataView(chunkHead.buffer, chunkHead.byteOffset, 8).getUint32(4, !bigEndian);
    const padded = size + (size % 2);
    if (id === 'fmt ' && fmt === undefined) fmt = await readFmt(window, pos + 8, Math.min(size, fileSize - pos - 8), bigEndian, notReadable);
    if (id === 'data' && data === undefined) data = { start: pos + 8, end: Math.min(fileSize, pos + 8 + padded) };
    // A LIST chunk's sub-chunks are skipped with it, as wavefile's top-level chunk list does.
    pos += 8 + padded;
  }
  if (fmt === undefined) throw notReadable('could not find the "fmt " chunk');
  if (data === undefined) throw notReadable('could not find the "data" chunk');
  const format = wavSampleFormat(fmt, bigEndian, name);
  const frames = Math.floor((data.end - data.start) / format.frameBytes);
  return { ...format, frames, dataOffset: data.start };
}

/**
 * Positioned reads of a few bytes through a 64 KiB window of the file, so that walking a chunk
 * list costs one read per window: a file of a million empty chunks is a million 8-byte reads
 * otherwise (minutes, where wavefile's walk in memory takes a fraction of a second).
 */
class ReadWindow {
  private readonly buf = new Uint8Array(1 << 16);
  private start = 0;
  private length = 0;

  constructor(
    private readonly handle: FileHandle,
    private readonly fileSize: number,
    private readonly path: string,
  ) {}

  /** `n` (at most 64 KiB) bytes at `pos`, valid until the next read. */
  async read(pos: number, n: number): Promise<Uint8Array> {
    if (pos < this.start || pos + n > this.start + this.length) {
      this.start = pos;
      this.length = Math.max(0, Math.min(this.buf.length, this.fileSize - pos));
      if (this.length < n) throw new VqcodecError(`${this.path} ended unexpectedly (was it changed while being read?)`);
      await readFully(this.handle, this.buf.subarray(0, this.length), pos, this.path);
    }
    return this.buf.subarray(pos - this.start, pos - this.start + n);
  }
}

/** The fields of a 'fmt ' chunk of `size` bytes at `offset`, read as wavefile reads them. */
async function readFmt(window: ReadWindow, offset: number, size: number, bigEndian: boolean, notReadable: (why: string) => Error): Promise<FmtChunk> {
  if (size < 16) throw notReadable('truncated "fmt " chunk');
  const bytes = await window.read(offset, Math.min(size, 40));
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const le = !bigEndian;
  const fmt: FmtChunk = {
    audioFormat: v.getUint16(0, le),
    numChannels: v.getUint16(2, le),
    sampleRate: v.getUint32(4, le),
    blockAlign: v.getUint16(12, le),
    bitsPerSample: v.getUint16(14, le),
    subformat: [],
  };
  // cbSize (16), valid bits (18), channel mask (20), then the subformat GUID (24): present when size > 20.
  if (size > 20 && bytes.length >= 28) fmt.subformat = [v.getUint32(24, le)];
  return fmt;
}

function ascii(bytes: Uint8Array, start: number): string {
  return String.fromCharCode(bytes[start]!, bytes[start + 1]!, bytes[start + 2]!, bytes[start + 3]!);
}

/** Reads up to into.length bytes at `position`; returns how many there were. */
async function readSome(handle: FileHandle, into: Uint8Array, position: number, path: string): Promise<number> {
  let got = 0;
  while (got < into.length) {
    let bytesRead: number;
    try {
      ({ bytesRead } = await handle.read(into, got, into.length - got, position + got));
    } catch (err) {
      throw audioFileError(path, err);
    }
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

async function readFully(handle: FileHandle, into: Uint8Array, position: number, path: string): Promise<void> {
  if ((await readSome(handle, into, position, path)) < into.length) {
    throw new VqcodecError(`${path} ended unexpectedly (was it changed while being read?)`);
  }
}

/** A WAV input opened for streaming at a target rate. */
export interface AudioStream {
  /** The file's own rate and channel count. */
  info: WavInfo;
  sampleRate: number;
  /** Samples the stream will yield at `sampleRate`: what loadAudio's samples.length would be. */
  length: number;
  /**
   * Mono blocks at `sampleRate`. Checked as loadAudio checks: NaN or infinite samples throw as
   * soon as they are read; an empty or silent input throws at the end, after the last block.
   * The file is closed when the iteration ends, whichever way.
   */
  blocks: AsyncIterable<Float32Array>;
  /** Closes the file (for a stream that is never iterated). */
  close(): Promise<void>;
}

/**
 * Opens a WAV file as a stream of mono blocks at `targetRate`: loadAudio in bounded memory,
 * giving the same samples (the resampler is resample.ts's, fed block by block).
 */
export async function openWavStream(path: string, targetRate: number, options: { blockFrames?: number; name?: string } = {}): Promise<AudioStream> {
  check(Number.isInteger(targetRate) && targetRate > 0, `invalid target sample rate: ${targetRate}`);
  const name = options.name ?? path;
  const stat = await fs.stat(path).catch((err) => {
    throw audioFileError(path, err);
  });
  if (stat.isDirectory()) throw new VqcodecError(`${path} is a directory, not an audio file`);
  const reader = await WavReader.open(path, name);
  if (reader.info.frames === 0) {
    await reader.close();
    throw new VqcodecError(`${name} is empty (no audio samples)`);
  }
  const native = reader.info.sampleRate;
  const length = resampledLength(reader.info.frames, native, targetRate);
  let closed = false;
  const close = async () => {
    if (!closed) {
      closed = true;
      await reader.close();
    }
  };
  async function* blocks(): AsyncGenerator<Float32Array> {
    try {
      const nativeCheck = new AudioValidator(name);
      if (native === targetRate) {
        for await (const block of reader.blocks(options.blockFrames)) {
          nativeCheck.check(block);
          yield block;
        }
        nativeCheck.finish();
        return;
      }
      // Validated before and after resampling, as loadAudio does.
      const outCheck = new AudioValidator(name);
      const resampler = createStreamingResampler(native, targetRate);
      for await (const block of reader.blocks(options.blockFrames)) {
        nativeCheck.check(block);
        const out = resampler.push(block);
        outCheck.check(out);
        if (out.length > 0) yield out;
      }
      nativeCheck.finish();
      const tail = resampler.flush();
      outCheck.check(tail);
      outCheck.finish();
      if (tail.length > 0) yield tail;
    } finally {
      await close();
    }
  }
  return { info: reader.info, sampleRate: targetRate, length, blocks: blocks(), close };
}

/**
 * Writes a mono WAV of a length known up front, block by block: the same bytes as
 * encodeWav of the whole signal. `close` checks the length and renames the temporary file
 * into place; a failed `write` or `close`, or `abort`, removes it.
 */
export class WavFileWriter {
  private count = 0;
  private bytes = new Uint8Array(0);

  private constructor(
    readonly length: number,
    readonly format: WavFormat,
    private readonly file: AtomicFileWriter,
  ) {}

  static async open(path: string, length: number, sampleRate: number, format: WavFormat = 'pcm16'): Promise<WavFileWriter> {
    check(Number.isInteger(length) && length >= 0, `cannot write a WAV file of ${length} samples`);
    const header = wavHeader(length, sampleRate, format); // validates before any file is made
    const file = await AtomicFileWriter.open(path);
    const writer = new WavFileWriter(length, format, file);
    try {
      await file.write(header);
    } catch (err) {
      await file.abort();
      throw err;
    }
    return writer;
  }

  /** Samples written so far. */
  get written(): number {
    return this.count;
  }

  async write(samples: Float32Array): Promise<void> {
    try {
      check(this.count + samples.length <= this.length, `WAV writer: more than the ${this.length} samples announced in the header`);
      const size = samples.length * wavBytesPerSample(this.format);
      if (this.bytes.length < size) this.bytes = new Uint8Array(size);
      const out = this.bytes.subarray(0, size);
      encodeWavSamplesInto(samples, this.format, out, 0);
      await this.file.write(out);
      this.count += samples.length;
    } catch (err) {
      await this.abort();
      throw err;
    }
  }

  async close(): Promise<void> {
    try {
      check(this.count === this.length, `WAV writer: ${this.count} samples written, but the header announces ${this.length}`);
      await this.file.commit();
    } catch (err) {
      await this.abort();
      throw err;
    }
  }

  async abort(): Promise<void> {
    await this.file.abort();
  }
}
