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
 */
import { promises as fs } from 'node:fs';
import { VqcodecError, check } from '../errors.js';
import type { Audio } from '../types.js';
import { checkAudioMetadata } from './metadata.js';
import { checkAudioRate, decodeWav } from './wav.js';
import { resample } from './resample.js';

export interface DecodedAudio {
  channels: Float32Array[];
  sampleRate: number;
}

/** Peak absolute level below which a clip counts as silent. */
const SILENCE_PEAK = 1e-5;
/** Rate used for compressed files whose header we cannot read: the common maximum. */
const FALLBACK_RATE = 48000;
/** Rates node-web-audio-api's contexts accept. */
const MIN_CONTEXT_RATE = 2000;
const MAX_CONTEXT_RATE = 384000;

/** True when the bytes start with a RIFF (or big-endian RIFX) WAVE header. */
export function isWav(bytes: Uint8Array): boolean {
  if (bytes.length < 12) return false;
  const riff = ascii(bytes, 0, 4);
  return (riff === 'RIFF' || riff === 'RIFX') && ascii(bytes, 8, 4) === 'WAVE';
}

function ascii(bytes: Uint8Array, start: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(start, start + length));
}

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

/**
 * The sample rate stated in an Ogg (Vorbis/Opus), FLAC or MP3 header, or undefined when
 * the format is not recognised or the rate is outside what an audio context accepts.
 */
export function sniffSampleRate(bytes: Uint8Array): number | undefined {
  const rate = oggRate(bytes) ?? flacRate(bytes) ?? mp3Rate(bytes);
  return rate !== undefined && rate >= MIN_CONTEXT_RATE && rate <= MAX_CONTEXT_RATE ? rate : undefined;
}

function u32le(b: Uint8Array, p: number): number {
  return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
}

/** First Ogg page carries the codec's identification packet. */
function oggRate(b: Uint8Array): number | undefined {
  if (b.length < 28 || ascii(b, 0, 4) !== 'OggS') return undefined;
  const packet = 27 + b[26]; // page header + segment table
  if (b.length < packet + 16) return undefined;
  if (b[packet] === 1 && ascii(b, packet + 1, 6) === 'vorbis') return u32le(b, packet + 12);
  if (ascii(b, packet, 8) === 'OpusHead') return 48000; // Opus always decodes at 48 kHz
  return undefined;
}

/** STREAMINFO is always the first metadata block; the rate is its 20 bits at byte 10. */
function flacRate(b: Uint8Array): number | undefined {
  if (b.length < 22 || ascii(b, 0, 4) !== 'fLaC') return undefined;
  return (b[18] << 12) | (b[19] << 4) | (b[20] >> 4);
}

const MP3_RATES = [44100, 48000, 32000];

/** Rate of the first MPEG audio frame header after any ID3v2 tag. */
function mp3Rate(b: Uint8Array): number | undefined {
  let p = 0;
  if (b.length >= 10 && ascii(b, 0, 3) === 'ID3') {
    // Synchsafe size (7 bits per byte), plus the 10-byte header and optional footer.
    const size = (b[6] << 21) | (b[7] << 14) | (b[8] << 7) | b[9];
    p = 10 + size + (b[5] & 0x10 ? 10 : 0);
  }
  // Frames start right after the tag (some encoders pad it with zeros); scanning further
  // would find false frame syncs in arbitrary data.
  while (p < b.length && b[p] === 0) p++;
  if (p + 3 >= b.length || b[p] !== 0xff || (b[p + 1] & 0xe0) !== 0xe0) return undefined;
  const version = (b[p + 1] >> 3) & 3; // 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5, 1: reserved
  const layer = (b[p + 1] >> 1) & 3;
  const bitrate = b[p + 2] >> 4;
  const rateIndex = (b[p + 2] >> 2) & 3;
  if (version === 1 || layer === 0 || bitrate === 15 || rateIndex === 3) return undefined;
  return MP3_RATES[rateIndex] / (version === 3 ? 1 : version === 2 ? 2 : 4);
}

/** Mono mix-down: the average of the channels (a mono input is returned as is). */
export function toMono(channels: Float32Array[]): Float32Array {
  if (channels.length === 1) return channels[0];
  const length = channels.length === 0 ? 0 : channels[0].length;
  const out = new Float32Array(length);
  for (const ch of channels) {
    for (let i = 0; i < length; i++) out[i] += ch[i];
  }
  const scale = 1 / channels.length;
  for (let i = 0; i < length; i++) out[i] *= scale;
  return out;
}

/** Reads an audio file as mono at `targetRate`, rejecting empty, broken or silent audio. */
export async function loadAudio(path: string, targetRate: number): Promise<Audio> {
  check(Number.isInteger(targetRate) && targetRate > 0, `invalid target sample rate: ${targetRate}`);
  const bytes = await readAudioFile(path);
  const decoded = await decodeAudioBytes(bytes, path);
  const native: Audio = { samples: toMono(decoded.channels), sampleRate: decoded.sampleRate };
  // Validate before resampling too, so the resampler never sees empty or NaN input.
  validateAudio(native, path);
  if (native.sampleRate === targetRate) return native;
  const audio: Audio = {
    samples: resample(native.samples, native.sampleRate, targetRate),
    sampleRate: targetRate,
  };
  validateAudio(audio, path);
  return audio;
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

/** Throws a one-line VqcodecError when `audio` is empty, non-finite or silent. */
export function validateAudio(audio: Audio, name: string): void {
  const { samples, sampleRate } = audio;
  check(Number.isFinite(sampleRate) && sampleRate > 0, `${name} has an invalid sample rate (${sampleRate})`);
  check(samples.length > 0, `${name} is empty (no audio samples)`);
  const validator = new AudioValidator(name);
  validator.check(samples);
  validator.finish();
}

/**
 * validateAudio for audio that arrives block by block: `check` each block (NaN or infinite
 * samples throw at once), then `finish` (throws when there were no samples or all were silent).
 * The messages are validateAudio's.
 */
export class AudioValidator {
  private peak = 0;
  private count = 0;

  constructor(readonly name: string) {}

  /** Samples seen so far. */
  get length(): number {
    return this.count;
  }

  check(samples: Float32Array): void {
    let peak = this.peak;
    for (let i = 0; i < samples.length; i++) {
      const a = Math.abs(samples[i]);
      // NaN fails every comparison, so test finiteness explicitly (Infinity would just be a big peak).
      if (!(a <= Number.MAX_VALUE)) {
        throw new VqcodecError(`${this.name} contains NaN or infinite samples`);
      }
      if (a > peak) peak = a;
    }
    this.peak = peak;
    this.count += samples.length;
  }

  finish(): void {
    check(this.count > 0, `${this.name} is empty (no audio samples)`);
    check(this.peak >= SILENCE_PEAK, `${this.name} is silent (peak level below ${SILENCE_PEAK})`);
  }
}
