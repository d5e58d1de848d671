/**
 * Decoded audio → the model's input: mono, checked (not empty, finite, not silent) and at the
 * model's rate. Shared by loadAudio (./load.ts) and the browser page.
 */
import { VqcodecError, check } from '../errors.js';
import type { Audio } from '../types.js';
import { resample } from './resample.js';

export interface DecodedAudio {
  channels: Float32Array[];
  sampleRate: number;
}

/** Peak absolute level below which a clip counts as silent. */
const SILENCE_PEAK = 1e-5;

export function checkTargetRate(targetRate: number): void {
  check(Number.isInteger(targetRate) && targetRate > 0, `invalid target sample rate: ${targetRate}`);
}

/** Mixes `decoded` to mono and resamples it to `targetRate`, rejecting empty, broken or silent audio. */
export function prepareAudio(decoded: DecodedAudio, targetRate: number, name: string): Audio {
  checkTargetRate(targetRate);
  const native: Audio = { samples: toMono(decoded.channels), sampleRate: decoded.sampleRate };
  // Validate before resampling too, so the resampler never sees empty or NaN input.
  validateAudio(native, name);
  if (native.sampleRate === targetRate) return native;
  const audio: Audio = {
    samples: resample(native.samples, native.sampleRate, targetRate),
    sampleRate: targetRate,
  };
  validateAudio(audio, name);
  return audio;
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
