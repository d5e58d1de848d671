/**
 * `.vqt` token files written and read block by block, byte-identical to tokenFile.ts's
 * one-shot encodeTokenFile / decodeTokenFile (same layout, same checks, same messages).
 *
 * The writer needs the header (so the frame count) up front. It codes blocks as they come
 * (bit-packed codes continue MSB-first across blocks; a range coder keeps its state), keeps
 * the CRC-32 running, writes to a temporary file and renames it over the target at `close()`;
 * any failure removes the temporary file. The reader checks the whole file (layout, CRC,
 * header, every bit-packed code) before handing out the first code, so a bad file fails
 * exactly as readTokenFile would. Bit-packed files stream in both directions; an
 * entropy-coded payload (about 1 kbit/s) is held in memory and decoded block by block.
 * Multi-rate codes are written and read as dense frames, whatever the blocks (a coarse
 * window may span several); the file holds one code per window (./formatV3.ts).
 */
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { VqcodecError, check } from '../errors.js';
import { AtomicFileWriter } from '../io/atomicWriter.js';
import { checkModelsFor, payloadCoding, payloadDecoder, payloadEncoder, type EntropyModels, type PayloadCoding, type PayloadEncoder, type TokenCoding } from '../entropy/payload.js';
import { BitUnpacker, bitsPerCode, packedByteLength } from './bitpack.js';
import { isMultiRate, storedCodeCount, stridesOf } from './codeStrides.js';
import { Crc32 } from './crc32.js';
import { DenseFrameBuilder, checkRepeated, frameOfStoredCode } from './storedCodes.js';
import { HEAD_BYTES, checkTokenFileInfo, checkTokenFileLayout, encodeHeader, tokenFileSize } from './tokenFile.js';
import { tokenFileReadError } from './tokenFileFs.js';
import { TRAILER_BYTES, badTokenFileCode, checkCodes, type TokenHeader } from './tokenHeader.js';


/**
 * Writes a `.vqt` file frame block by frame block. `open` validates the header (as
 * encodeTokenFile does) and starts a temporary file; `write` takes codes of whole frames,
 * frame-major; `close` checks that exactly `header.frames` frames came, appends the CRC and
 * renames; `abort` removes the temporary file. A failed `write` or `close` aborts by itself.
 */
export class TokenFileWriter {
  private readonly crc = new Crc32();
  private framesWritten = 0;
  /** The last frame written, against which the next block's repeated codes are checked (multi-rate). */
  private lastFrame?: Int32Array;

  private constructor(
    readonly header: TokenHeader,
    readonly coding: PayloadCoding,
    private readonly encoder: PayloadEncoder,
    private readonly file: AtomicFileWriter,
  ) {}

  /** Writes version 2, or 3 for multi-rate codes; `coding` (default 'none') may need `models`. */
  static async open(path: string, header: TokenHeader, options: { coding?: TokenCoding; models?: EntropyModels } = {}): Promise<TokenFileWriter> {
    const models = options.models ?? {};
    const own: TokenHeader = { ...header, ...(header.codeStrides !== undefined ? { codeStrides: [...header.codeStrides] } : {}) };
    const coding = payloadCoding(options.coding ?? 'none', own, models);
    const head = encodeHeader(own, coding); // validates before any file is made
    const encoder = payloadEncoder(coding, own, models);
    const file = await AtomicFileWriter.open(path);
    const writer = new TokenFileWriter(own, coding, encoder, file);
    await writer.append(head);
    return writer;
  }

  /** Frames written so far. */
  get frames(): number {
    return this.framesWritten;
  }

  /** Appends codes of whole frames (frame-major, `header.numCodebooks` per frame). */
  async write(codes: Int32Array): Promise<void> {
    try {
      const { numCodebooks, codebookSize, frames } = this.header;
      check(codes.length % numCodebooks === 0, `token writer: ${codes.length} codes are not whole frames of ${numCodebooks} codebooks`);
      const n = codes.length / numCodebooks;
      check(this.framesWritten + n <= frames, `token writer: more than the ${frames} frames announced in the header`);
      checkCodes(codes, this.framesWritten, numCodebooks, codebookSize);
      if (isMultiRate(this.header.codeStrides) && n > 0) {
        checkRepeated(codes, this.framesWritten, this.header.codeStrides!, this.lastFrame);
        this.lastFrame = codes.slice(codes.length - numCodebooks);
      }
      await this.append(this.encoder.push(codes));
      this.framesWritten += n;
    } catch (err) {
      await this.abort();
      throw err;
    }
  }

  /** Pads the last byte, appends the CRC and renames the file into place. */
  async close(): Promise<void> {
    try {
      const { frames } = this.header;
      check(this.framesWritten === frames, `token writer: ${this.framesWritten} frames written, but the header announces ${frames}`);
      await this.append(this.encoder.finish());
      const trailer = new Uint8Array(TRAILER_BYTES);
      new DataView(trailer.buffer).setUint32(0, this.crc.value, true);
      await this.file.write(trailer);
      if (this.coding.coding === 'none') check(this.file.length === tokenFileSize(this.header), 'token writer: wrong file size');
      await this.file.commit();
    } catch (err) {
      await this.abort();
      throw err;
    }
  }

  /** Removes the temporary file; the target is left as it was. */
  async abort(): Promise<void> {
    await this.file.abort();
  }

  private async append(bytes: Uint8Array): Promise<void> {
    this.crc.update(bytes);
    await this.file.write(bytes);
  }
}

/** Bytes read from a token file at a time. */
const READ_BYTES = 1 << 16;

/**
 * Reads a `.vqt` file (any version) in blocks of frames. `open` checks it entirely, in
 * readTokenFile's order and with its messages: magic, size, version, CRC, header fields, then
 * every bit-packed code.
 */
export class TokenFileReader {
  private constructor(
    readonly path: string,
    readonly header: TokenHeader,
    readonly coding: PayloadCoding,
    private readonly payloadOffset: number,
    private readonly handle: FileHandle,
    /** An entropy-coded payload, read whole. */
    private readonly payload?: Uint8Array,
  ) {}

  static async open(path: string, name = path): Promise<TokenFileReader> {
    let handle: FileHandle;
    try {
      handle = await fs.open(path, 'r');
    } catch (err) {
      throw tokenFileReadError(path, err);
    }
    try {
      const { size } = await handle.stat().catch((err) => {
        throw tokenFileReadError(path, err);
      });
      const head = new Uint8Array(Math.min(size, HEAD_BYTES));
      await readFully(handle, head, 0, path);
      const layout = checkTokenFileLayout(head, size, name);
      const packed = layout.parsed === undefined || layout.parsed.coding.coding === 'none';
      const codebookSize = layout.parsed?.header.codebookSize ?? new DataView(head.buffer).getUint32(21, true);
      const numCodebooks = layout.parsed?.header.numCodebooks ?? head[25]!;
      const frames = layout.parsed?.header.frames ?? new DataView(head.buffer).getUint32(26, true);
      const strides = stridesOf(layout.parsed?.header ?? { numCodebooks });
      // One pass for the CRC and (bit-packed) the codes, then the header and code checks in decodeTokenFile's order.
      const crc = new Crc32();
      const crcAt = size - TRAILER_BYTES;
      const buf = new Uint8Array(READ_BYTES);
      // When K is out of range the size was not checked: the CRC or header check fails instead.
      const sizeKnown = codebookSize >= 2 && codebookSize <= 2 ** 24;
      const unpacker = packed && sizeKnown ? new BitUnpacker(bitsPerCode(codebookSize)) : undefined;
      const wanted = sizeKnown ? storedCodeCount(frames, strides) : 0;
      const payload = packed ? undefined : new Uint8Array(crcAt - layout.payloadOffset);
      let seen = 0;
      let bad: { code: number; index: number } | undefined;
      for (let pos = 0; pos < crcAt; pos += READ_BYTES) {
        const n = Math.min(READ_BYTES, crcAt - pos);
        const chunk = buf.subarray(0, n);
        await readFully(handle, chunk, pos, path);
        crc.update(chunk);
        const body = pos >= layout.payloadOffset ? chunk : chunk.subarray(Math.min(n, layout.payloadOffset - pos));
        const bodyAt = Math.max(pos, layout.payloadOffset) - layout.payloadOffset;
        if (payload !== undefined) payload.set(body, bodyAt);
        if (unpacker !== undefined && bad === undefined) {
          const codes = unpacker.push(body, wanted - seen);
          for (let i = 0; i < codes.length; i++) {
            if (codes[i]! >= codebookSize) {
              bad = { code: codes[i]!, index: seen + i };
              break;
            }
          }
          seen += codes.length;
        }
      }
      const trailer = new Uint8Array(TRAILER_BYTES);
      await readFully(handle, trailer, crcAt, path);
      const info = checkTokenFileInfo(layout, crc.value, trailer, name);
      if (bad !== undefined) throw badTokenFileCode(name, bad.code, frameOfStoredCode(bad.index, stridesOf(info.header)), info.header.codebookSize);
      return new TokenFileReader(path, info.header, info.coding, info.payloadOffset, handle, payload);
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * The codes in blocks of at most `framesPerBlock` whole frames (frame-major). An
   * entropy-coded file needs the models its header names (checked before the first block).
   */
  async *codes(framesPerBlock = 4096, models: EntropyModels = {}): AsyncGenerator<Int32Array> {
    check(Number.isInteger(framesPerBlock) && framesPerBlock > 0, `frames per block must be a positive integer (got ${framesPerBlock})`);
    const { frames, numCodebooks, codebookSize } = this.header;
    if (this.payload !== undefined) {
      checkModelsFor(this.coding, this.header, models, this.path);
      const decoder = payloadDecoder(this.coding, this.header, models, this.payload, this.path);
      for (let done = 0; done < frames; done += framesPerBlock) yield decoder.next(framesPerBlock);
      return;
    }
    const unpacker = new BitUnpacker(bitsPerCode(codebookSize));
    const strides = stridesOf(this.header);
    const stored = storedCodeCount(frames, strides);
    // Multi-rate: stored codes are repeated into dense frames as they come.
    const dense = isMultiRate(strides) ? new DenseFrameBuilder(strides, frames) : undefined;
    const total = frames * numCodebooks;
    const perBlock = framesPerBlock * numCodebooks;
    const end = this.payloadOffset + packedByteLength(stored, bitsPerCode(codebookSize));
    const buf = new Uint8Array(READ_BYTES);
    let pending: Int32Array = new Int32Array(0);
    let unpacked = 0;
    let done = 0;
    for (let pos = this.payloadOffset; pos < end && done < total; pos += READ_BYTES) {
      const n = Math.min(READ_BYTES, end - pos);
      await readFully(this.handle, buf.subarray(0, n), pos, this.path);
      const codes = unpacker.push(buf.subarray(0, n), stored - unpacked);
      unpacked += codes.length;
      const fresh = dense === undefined ? codes : dense.push(codes);
      pending = pending.length === 0 ? fresh : concat(pending, fresh);
      while (pending.length >= perBlock || (pending.length > 0 && done + pending.length === total)) {
        const take = Math.min(perBlock, pending.length - (pending.length % numCodebooks));
        yield pending.slice(0, take);
        done += take;
        pending = pending.subarray(take);
      }
    }
    if (done !== total) throw new VqcodecError(`${this.path} changed while it was being read`);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

function concat(a: Int32Array, b: Int32Array): Int32Array {
  const out = new Int32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

async function readFully(handle: FileHandle, into: Uint8Array, position: number, path: string): Promise<void> {
  let got = 0;
  while (got < into.length) {
    let bytesRead: number;
    try {
      ({ bytesRead } = await handle.read(into, got, into.length - got, position + got));
    } catch (err) {
      throw tokenFileReadError(path, err);
    }
    if (bytesRead === 0) throw new VqcodecError(`${path} changed while it was being read`);
    got += bytesRead;
  }
}
