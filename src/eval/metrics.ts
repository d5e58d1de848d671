/**
 * Objective quality metrics for comparing a decoded waveform with its reference.
 * All take mono Float32Array signals and compare them over their common (minimum) length.
 * The intelligibility predictors (STOI, ESTOI) live in ./intelligibility.ts.
 */
import { check } from '../errors.js';
import { hannWindow, melFilterbank, powerSpectrum } from './fft.js';

export { estoi, stoi, stoiAndEstoi } from './intelligibility.js';

/** Guards divisions and logs of zero without biasing ordinary audio energies. */
const EPS = 1e-12;

/**
 * Scale-invariant signal-to-distortion ratio in dB (Le Roux et al., 2019, eq. 4–5):
 * with zero-mean s (reference) and ŝ (estimate), α = ⟨ŝ, s⟩ / ‖s‖², target = α·s,
 * SI-SDR = 10·log10(‖target‖² / ‖ŝ − target‖²). Identical signals give a large finite value.
 */
export function siSdr(reference: Float32Array, estimate: Float32Array): number {
  const n = Math.min(reference.length, estimate.length);
  check(n > 0, 'siSdr: empty signal');
  let meanR = 0;
  let meanE = 0;
  for (let i = 0; i < n; i++) {
    meanR += reference[i]!;
    meanE += estimate[i]!;
  }
  meanR /= n;
  meanE /= n;
  let dot = 0;
  let energyR = 0;
  for (let i = 0; i < n; i++) {
    const r = reference[i]! - meanR;
    dot += (estimate[i]! - meanE) * r;
    energyR += r * r;
  }
  const alpha = dot / (energyR + EPS);
  let target = 0;
  let noise = 0;
  for (let i = 0; i < n; i++) {
    const t = alpha * (reference[i]! - meanR);
    const d = estimate[i]! - meanE - t;
    target += t * t;
    noise += d * d;
  }
  return 10 * Math.log10((target + EPS) / (noise + EPS));
}

export interface LogMelOptions {
  nMels?: number;
  nFft?: number;
  hop?: number;
  /** Power floor before the log (default 1e-5). */
  floor?: number;
}

/**
 * Log-mel power spectrogram: periodic Hann frames of nFft samples every `hop`, |FFT|²,
 * Slaney mel filterbank (librosa's defaults), log10(max(floor, ·)). Frames start at 0;
 * the tail is zero-padded so a short clip still gives one frame. Returns frames × nMels.
 */
export function logMelSpectrogram(
  samples: Float32Array,
  sampleRate: number,
  options: LogMelOptions = {},
): Float64Array[] {
  const nMels = options.nMels ?? 80;
  const nFft = options.nFft ?? 1024;
  const hop = options.hop ?? 256;
  const floor = options.floor ?? 1e-5;
  check(Number.isInteger(hop) && hop > 0, `logMelSpectrogram: bad hop ${hop}`);
  const bank = melFilterbank(sampleRate, nFft, nMels);
  // Each triangle covers few bins: keep only its non-zero span.
  const spans = bank.map((row) => {
    let lo = row.findIndex((v) => v > 0);
    if (lo < 0) lo = row.length;
    let hi = row.length;
    while (hi > lo && row[hi - 1] === 0) hi--;
    return [lo, hi] as const;
  });
  const window = hannWindow(nFft);
  const frames = Math.max(1, Math.ceil(Math.max(0, samples.length - nFft) / hop) + 1);
  const frame = new Float64Array(nFft);
  const out: Float64Array[] = [];
  for (let f = 0; f < frames; f++) {
    const start = f * hop;
    for (let i = 0; i < nFft; i++) {
      const j = start + i;
      frame[i] = j < samples.length ? samples[j]! * window[i]! : 0;
    }
    const power = powerSpectrum(frame);
    const mel = new Float64Array(nMels);
    for (let m = 0; m < nMels; m++) {
      const row = bank[m]!;
      const [lo, hi] = spans[m]!;
      let e = 0;
      for (let k = lo; k < hi; k++) e += row[k]! * power[k]!;
      mel[m] = Math.log10(Math.max(floor, e));
    }
    out.push(mel);
  }
  return out;
}

/**
 * Mean absolute difference of log10 mel power spectrograms (80 mels, 1024-sample Hann,
 * hop 256, floor 1e-5 by default), over the common length. 0 for identical signals.
 */
export function logMelDistance(
  reference: Float32Array,
  estimate: Float32Array,
  sampleRate: number,
  options: LogMelOptions = {},
): number {
  const n = Math.min(reference.length, estimate.length);
  check(n > 0, 'logMelDistance: empty signal');
  const a = logMelSpectrogram(reference.subarray(0, n), sampleRate, options);
  const b = logMelSpectrogram(estimate.subarray(0, n), sampleRate, options);
  let sum = 0;
  let count = 0;
  for (let f = 0; f < a.length; f++) {
    const ra = a[f]!;
    const rb = b[f]!;
    for (let m = 0; m < ra.length; m++) sum += Math.abs(ra[m]! - rb[m]!);
    count += ra.length;
  }
  return sum / count;
}

/** Compression ratio against 16-bit mono PCM at `sampleRate`. */
export function compressionRatio(bitsPerSecond: number, sampleRate: number): number {
  check(bitsPerSecond > 0, `compressionRatio: bit rate must be positive, got ${bitsPerSecond}`);
  check(sampleRate > 0, `compressionRatio: sample rate must be positive, got ${sampleRate}`);
  return (16 * sampleRate) / bitsPerSecond;
}
