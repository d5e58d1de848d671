/**
 * WAV decoding and encoding.
 *
 * Reading: wavefile parses the RIFF structure (chunks, fmt, extensible headers), but its
 * own sample unpacking goes through a function call per sample, so the samples are
 * converted here straight from the data-chunk bytes with a DataView. That keeps a
 * 30-minute file to a few hundred milliseconds and never builds per-sample objects.
 *
 * Bytes only (the browser page uses this module); writing a file is ./wavFs.ts.
 */
import wavefile from 'wavefile';
import { VqcodecError } from '../errors.js';

const { WaveFile } = wavefile;

export type WavFormat = 'pcm16' | 'float32';

/** The fields of a 'fmt ' chunk that decoding needs (wavefile's typings say `object`). */
export interface FmtChunk {
  audioFormat: number;
  numChannels: number;
  sampleRate: number;
  blockAlign: number;
  bitsPerSample: number;
  subformat: number[];
}

const FORMAT_PCM = 1;
const FORMAT_FLOAT = 3;
const FORMAT_EXTENSIBLE = 0xfffe;

/** How one sample is stored: integer or float, and its container size in bytes. */
export interface SampleLayout {
  float: boolean;
  bytes: number;
}

/** Decodes a WAV file into per-channel float samples in [-1, 1]. */
export function decodeWav(
  bytes: Uint8Array,
  name = 'input',
): { channels: Float32Array[]; sampleRate: number } {
  const wav = parseWav(bytes, name);
  // wavefile reads 16 bytes of fields from a shorter 'fmt ' chunk; the stream reader, like the format, refuses it.
  if (!((wav.fmt as { chunkSize: number }).chunkSize >= 16)) throw new VqcodecError(`${name} is not a readable WAV file (truncated "fmt " chunk)`);
  const data = (wav.data as { samples: Uint8Array }).samples;
  const format = wavSampleFormat(wav.fmt as FmtChunk, wav.container === 'RIFX', name);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const frames = Math.floor(data.byteLength / format.frameBytes);
  return { channels: readFrames(view, frames, format), sampleRate: format.sampleRate };
}

/**
 * The sample rates audio files are read at: 1 kHz to 768 kHz, the highest in use. A header
 * may say anything up to 2^32 − 1 Hz, but resampling from 1 Hz to 16 kHz makes 16000 samples
 * of each one, and from 10^9 Hz needs a filter of gigabytes: refused before any of it.
 */
export const MIN_AUDIO_RATE = 1000;
export const MAX_AUDIO_RATE = 768000;

/** Throws a one-line VqcodecError naming `name` when `rate` is outside MIN_AUDIO_RATE..MAX_AUDIO_RATE. */
export function checkAudioRate(rate: number, name: string): void {
  if (!(rate >= MIN_AUDIO_RATE && rate <= MAX_AUDIO_RATE)) {
    throw new VqcodecError(`${name} has sample rate ${rate} Hz; vqcodec reads audio at ${MIN_AUDIO_RATE} to ${MAX_AUDIO_RATE} Hz`);
  }
}

/** How the sample frames of a WAV data chunk are laid out (from its 'fmt ' chunk). */
export interface WavSampleFormat {
  numChannels: number;
  sampleRate: number;
  layout: SampleLayout;
  /** Bytes per sample frame (all channels): max(blockAlign, bytes per sample × channels). */
  frameBytes: number;
  littleEndian: boolean;
}

/**
 * Checks a 'fmt ' chunk and returns the layout of its sample frames, or a one-line error
 * naming `name`. Shared by decodeWav and the streaming reader (./wavStream.ts).
 */
export function wavSampleFormat(fmt: FmtChunk, bigEndian: boolean, name: string): WavSampleFormat {
  const numChannels = fmt.numChannels;
  if (!(numChannels >= 1)) throw new VqcodecError(`${name} is a WAV file with no channels`);
  if (!(fmt.sampleRate > 0)) throw new VqcodecError(`${name} is a WAV file with sample rate 0`);
  checkAudioRate(fmt.sampleRate, name);
  const layout = sampleLayout(fmt, name);
  // Files from some writers pad each sample (e.g. 20-bit in 3 bytes): trust blockAlign.
  const frameBytes = Math.max(fmt.blockAlign, layout.bytes * numChannels);
  return { numChannels, sampleRate: fmt.sampleRate, layout, frameBytes, littleEndian: !bigEndian };
}

/** De-interleaves `frames` whole sample frames from the start of `view` into one array per channel. */
export function readFrames(view: DataView, frames: number, format: WavSampleFormat): Float32Array[] {
  const channels: Float32Array[] = [];
  for (let c = 0; c < format.numChannels; c++) {
    channels.push(readChannel(view, frames, format.frameBytes, c * format.layout.bytes, format.layout, format.littleEndian));
  }
  return channels;
}

/** Runs wavefile's parser, turning its exceptions into one-line user errors. */
function parseWav(bytes: Uint8Array, name: string): InstanceType<typeof WaveFile> {
  try {
    return new WaveFile(bytes);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new VqcodecError(`${name} is not a readable WAV file (${reason.replace(/\s+/g, ' ').replace(/\.$/, '')})`);
  }
}

/** Maps the fmt chunk to a supported sample layout, or explains why it is not supported. */
function sampleLayout(fmt: FmtChunk, name: string): SampleLayout {
  // WAVE_FORMAT_EXTENSIBLE keeps the real format code in the first word of its GUID.
  const code = fmt.audioFormat === FORMAT_EXTENSIBLE ? fmt.subformat[0] : fmt.audioFormat;
  const bits = fmt.bitsPerSample;
  const containerBytes = Math.ceil(bits / 8);
  if (code === FORMAT_PCM && containerBytes >= 1 && containerBytes <= 4) {
    return { float: false, bytes: containerBytes };
  }
  if (code === FORMAT_FLOAT && (bits === 32 || bits === 64)) {
    return { float: true, bytes: bits / 8 };
  }
  throw new VqcodecError(
    `${name} uses an unsupported WAV encoding (format code ${code}, ${bits}-bit); ` +
      'supported: 8/16/24/32-bit PCM and 32/64-bit float',
  );
}

/** Reads one de-interleaved channel, scaled so integer full scale maps to [-1, 1). */
function readChannel(
  view: DataView,
  frames: number,
  frameBytes: number,
  offset: number,
  layout: SampleLayout,
  le: boolean,
): Float32Array {
  const out = new Float32Array(frames);
  let p = offset;
  // One tight loop per layout so V8 keeps each monomorphic.
  switch (layout.float ? -layout.bytes : layout.bytes) {
    case 1: // 8-bit WAV is unsigned, centred on 128.
      for (let i = 0; i < frames; i++, p += frameBytes) out[i] = (view.getUint8(p) - 128) / 128;
      break;
    case 2:
      for (let i = 0; i < frames; i++, p += frameBytes) out[i] = view.getInt16(p, le) / 32768;
      break;
    case 3:
      for (let i = 0; i < frames; i++, p += frameBytes) out[i] = readInt24(view, p, le) / 8388608;
      break;
    case 4:
      for (let i = 0; i < frames; i++, p += frameBytes) out[i] = view.getInt32(p, le) / 2147483648;
      break;
    case -4:
      for (let i = 0; i < frames; i++, p += frameBytes) out[i] = view.getFloat32(p, le);
      break;
    case -8:
      for (let i = 0; i < frames; i++, p += frameBytes) out[i] = view.getFloat64(p, le);
      break;
  }
  return out;
}

/** A signed 24-bit integer at byte `p`. */
function readInt24(view: DataView, p: number, le: boolean): number {
  const b0 = view.getUint8(p);
  const b1 = view.getUint8(p + 1);
  const b2 = view.getUint8(p + 2);
  const u = le ? b0 | (b1 << 8) | (b2 << 16) : (b0 << 16) | (b1 << 8) | b2;
  return (u << 8) >> 8; // sign-extend from bit 23
}

/**
 * Encodes mono samples as a WAV file. pcm16 clips to [-1, 1] and rounds to the nearest
 * step of 1/32768 (the inverse of decodeWav's scaling); float32 stores samples as they are.
 */
export function encodeWav(
  samples: Float32Array,
  sampleRate: number,
  format: WavFormat = 'pcm16',
): Uint8Array {
  const header = wavHeader(samples.length, sampleRate, format);
  const out = new Uint8Array(header.length + samples.length * wavBytesPerSample(format));
  out.set(header);
  encodeWavSamplesInto(samples, format, out, header.length);
  return out;
}

/** Bytes per (mono) sample of a WAV written in `format`. */
export function wavBytesPerSample(format: WavFormat): number {
  return format === 'float32' ? 4 : 2;
}

/**
 * The header (everything before the sample bytes) of a mono WAV file of `length` samples:
 * encodeWav's output is this header followed by encodeWavSamplesInto's bytes, which lets
 * a streaming writer (./wavStream.ts) produce the same file block by block.
 */
export function wavHeader(length: number, sampleRate: number, format: WavFormat = 'pcm16'): Uint8Array {
  if (!(Number.isInteger(sampleRate) && sampleRate > 0)) {
    throw new VqcodecError(`cannot write a WAV file at sample rate ${sampleRate}`);
  }
  const isFloat = format === 'float32';
  const bytesPerSample = wavBytesPerSample(format);
  const dataBytes = length * bytesPerSample;
  // Non-PCM (float) WAV needs the cbSize field and a 'fact' chunk to be spec-conformant.
  const fmtSize = isFloat ? 18 : 16;
  const factSize = isFloat ? 12 : 0;
  const headerBytes = 12 + 8 + fmtSize + factSize + 8;
  if (headerBytes - 8 + dataBytes > 0xffffffff) {
    throw new VqcodecError(`cannot write a WAV file of ${length} samples: more than 4 GiB`);
  }
  const out = new Uint8Array(headerBytes);
  const view = new DataView(out.buffer);
  let p = 0;
  const tag = (s: string): void => {
    for (let i = 0; i < 4; i++) view.setUint8(p++, s.charCodeAt(i));
  };
  const u32 = (v: number): void => {
    view.setUint32(p, v, true);
    p += 4;
  };
  const u16 = (v: number): void => {
    view.setUint16(p, v, true);
    p += 2;
  };
  tag('RIFF');
  u32(headerBytes + dataBytes - 8);
  tag('WAVE');
  tag('fmt ');
  u32(fmtSize);
  u16(isFloat ? FORMAT_FLOAT : FORMAT_PCM);
  u16(1);
  u32(sampleRate);
  u32(sampleRate * bytesPerSample);
  u16(bytesPerSample);
  u16(bytesPerSample * 8);
  if (isFloat) {
    u16(0);
    tag('fact');
    u32(4);
    u32(length);
  }
  tag('data');
  u32(dataBytes);
  return out;
}

/** Writes `samples` as WAV sample bytes of `format` into `out` at byte `offset`. */
export function encodeWavSamplesInto(samples: Float32Array, format: WavFormat, out: Uint8Array, offset: number): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (format === 'float32') writeFloat32(view, offset, samples);
  else writePcm16(view, offset, samples);
}

function writePcm16(view: DataView, start: number, samples: Float32Array): void {
  for (let i = 0, p = start; i < samples.length; i++, p += 2) {
    const x = samples[i];
    // Clip first; NaN fails both comparisons and is written as 0.
    const v = x >= 1 ? 32767 : x <= -1 ? -32768 : x === x ? Math.round(x * 32768) : 0;
    view.setInt16(p, v > 32767 ? 32767 : v, true);
  }
}

function writeFloat32(view: DataView, start: number, samples: Float32Array): void {
  for (let i = 0, p = start; i < samples.length; i++, p += 4) view.setFloat32(p, samples[i], true);
}
