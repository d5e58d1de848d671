/**
 * File-to-file coding in bounded memory: WAV → .vqt and .vqt → WAV, block by block.
 * The outputs are byte-identical to the one-shot path (loadAudio → Codec.encode →
 * writeTokenFile, and readTokenFile → Codec.decode → writeWav); memory is bounded by the
 * codec's chunk (about 10 s of audio) and the read block, not by the file's length.
 * Outputs go to a temporary file renamed into place at the end; on any error (including
 * NaN or silent input found midway) the temporary file is removed and nothing is left.
 */
import { promises as fs } from 'node:fs';
import { audioFileError, isWav } from './audio/load.js';
import { WavFileWriter, openWavStream } from './audio/wavStream.js';
import type { Codec, CodingOptions, TokenStreamHeader } from './codec.js';
import type { EntropyModels, TokenCoding } from './entropy/payload.js';
import { TokenFileReader, TokenFileWriter } from './tokens/tokenStream.js';

export interface StreamOptions extends CodingOptions {
  /** Sample frames read from the WAV file at a time (default 65536). */
  blockFrames?: number;
  /** How the token file stores its codes (default 'none': bit-packed). */
  coding?: TokenCoding;
  /** Models for entropy coding; the codec's context model is used unless given. */
  models?: EntropyModels;
}

/** The codec's context model, overridden or joined by `models`. */
export function codecModels(codec: Codec, models: EntropyModels = {}): EntropyModels {
  return { context: codec.contextModel, ...models };
}

/** True when the file at `path` starts with a RIFF/RIFX WAVE header (reads 12 bytes). */
export async function isWavFile(path: string): Promise<boolean> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(path, 'r');
    const head = new Uint8Array(12);
    const { bytesRead } = await handle.read(head, 0, 12, 0);
    return isWav(head.subarray(0, bytesRead));
  } catch (err) {
    throw audioFileError(path, err);
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/**
 * Encodes the WAV file `input` (any rate and channel count; mixed to mono and resampled to
 * the model's rate as loadAudio does) to the token file `output`, streaming.
 */
export async function encodeWavFile(codec: Codec, input: string, output: string, options: StreamOptions = {}): Promise<{ header: TokenStreamHeader; bytes: number }> {
  const stream = await openWavStream(input, codec.sampleRate, { blockFrames: options.blockFrames });
  let writer: TokenFileWriter | undefined;
  try {
    // The header needs the frame count first: the stream's length is known from the WAV header.
    const header = codec.tokenHeader(stream.length, options.numCodebooks);
    const codes = codec.encodeStream(stream.blocks, options);
    writer = await TokenFileWriter.open(output, header, { coding: options.coding, models: codecModels(codec, options.models) });
    for await (const block of codes) await writer.write(block);
    await writer.close();
    return { header, bytes: (await fs.stat(output)).size };
  } catch (err) {
    await writer?.abort();
    await stream.close();
    throw err;
  }
}

/**
 * Decodes an opened token file to a 16-bit WAV file `output` of the original length,
 * streaming; the reader is closed at the end.
 */
export async function decodeToWavFile(codec: Codec, reader: TokenFileReader, output: string, options: CodingOptions & { models?: EntropyModels } = {}): Promise<{ samples: number }> {
  let writer: WavFileWriter | undefined;
  try {
    const audio = codec.decodeStream(reader.header, reader.codes(4096, codecModels(codec, options.models)), options);
    writer = await WavFileWriter.open(output, reader.header.originalLength, codec.sampleRate);
    for await (const block of audio) await writer.write(block);
    await writer.close();
    return { samples: writer.length };
  } catch (err) {
    await writer?.abort();
    throw err;
  } finally {
    await reader.close();
  }
}
