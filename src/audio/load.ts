/**
 * Loading audio files of any common format as mono float samples at the model's rate.
 *
 * WAV is decoded in JS (./wav.ts). Compressed formats (MP3, Ogg Vorbis, FLAC) go through
 * node-web-audio-api's decodeAudioData, with two pitfalls handled here:
 *  - decodeAudioData resamples to its context's rate with a non-band-limited resampler
 *    (a 10 kHz tone decoded at 16 kHz aliases instead of vanishing), so the context is made
 *    at the file's own rate, read from its header, and ./resample.ts does the conversion;
 *  - the Float32Array from AudioBuffer.getChannelData views native memory that is freed
 *    once the AudioBuffer is garbage-collected, so channels are copied out at once.
 * An OfflineAudioContext opens no audio device and holds no thread that keeps the process
 * alive (it has no close() either), so nothing needs tearing down.
 * Node only (files, node-web-audio-api); what does not read files is ./prepare.ts and ./sniff.ts.
 */
import { promises as fs } from 'node:fs';
import { VqcodecError } from '../errors.js';
import type { Audio } from '../types.js';
import { checkAudioMetadata } from './metadata.js';
import { checkTargetRate, prepareAudio, type DecodedAudio } from './prepare.js';
import { isWav, sniffSampleRate } from './sniff.js';
import { checkAudioRate, decodeWav } from './wav.js';

export { AudioValidator, prepareAudio, toMono, validateAudio, type DecodedAudio } from './prepare.js';
export { isWav, sniffSampleRate } from './sniff.js';

/** Rate used for compressed files whose header we cannot read: the common maximum. */
const FALLBACK_RATE = 48000;

/** Decodes WAV, MP3, Ogg Vorbis or FLAC bytes into per-channel float samples. */
export async function decodeAudioBytes(bytes: Uint8Array, name: string): Promise<DecodedAudio> {
  if (isWav(bytes)) return decodeWav(bytes, name);
  return decodeCompressed(bytes, name);
}

async function decodeCompressed(bytes: Uint8Array, name: string): Promise<DecodedAudio> {
  // Imported lazily so WAV-only use never loads the native addon.
  const { OfflineAudioContext } = await import('node-web-audio-api');
  checkAudioMetadata(bytes, name); // before the decoder allocates what a broken length says
  const rate = sniffSampleRate(bytes) ?? FALLBACK_RATE;
  const context = new OfflineAudioContext(1, 1, rate);
  let buffer: AudioBuffer;
  try {
    // decodeAudioData wants a plain ArrayBuffer of exactly the file: copy into a fresh one.
    buffer = await context.decodeAudioData(new Uint8Array(bytes).buffer);
  } catch {
    throw new VqcodecError(`${name} is not a readable audio file (WAV, MP3, OGG or FLAC)`);
  }
  checkAudioRate(buffer.sampleRate, name);
  const channels: Float32Array[] = [];
  // copyFromChannel copies into memory we own; a getChannelData view can be detached
  // once the native buffer is collected (seen on ~1 in 2000 files).
  for (let c = 0; c < buffer.numberOfChannels; c++) {
    const samples = new Float32Array(buffer.length);
    buffer.copyFromChannel(samples, c);
    channels.push(samples);
  }
  return { channels, sampleRate: buffer.sampleRate };
}

/** Reads an audio file as mono at `targetRate`, rejecting empty, broken or silent audio. */
export async function loadAudio(path: string, targetRate: number): Promise<Audio> {
  checkTargetRate(targetRate);
  const bytes = await readAudioFile(path);
  return prepareAudio(await decodeAudioBytes(bytes, path), targetRate, path);
}

async function readAudioFile(path: string): Promise<Uint8Array> {
  try {
    const stat = await fs.stat(path);
    if (stat.isDirectory()) throw new VqcodecError(`${path} is a directory, not an audio file`);
    return await fs.readFile(path);
  } catch (err) {
    throw audioFileError(path, err);
  }
}

/** The one-line error for a failure to open or read the audio file at `path`. */
export function audioFileError(path: string, err: unknown): VqcodecError {
  if (err instanceof VqcodecError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new VqcodecError(`no such file: ${path}`);
  if (code === 'EACCES' || code === 'EPERM') return new VqcodecError(`permission denied: ${path}`);
  if (code === 'EISDIR') return new VqcodecError(`${path} is a directory, not an audio file`);
  return new VqcodecError(`cannot read ${path}: ${code ?? String(err)}`);
}
