/**
 * Objective quality metrics for comparing a decoded waveform with its reference.
 * All take mono Float32Array signals and compare them over their common (minimum) length.
 */
import { check } from '../errors.js';
import { resample } from '../audio/resample.js';
import { hannWindow, melFilterbank, powerSpectrum, rfft } from './fft.js';

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

// ---------------------------------------------------------------------------
// STOI (Taal, Hendriks, Heusdens & Jensen, IEEE TASLP 2011)
// ---------------------------------------------------------------------------

const STOI_RATE = 10000;
const STOI_FRAME = 256;
const STOI_HOP = STOI_FRAME / 2;
const STOI_FFT = 512;
const STOI_BANDS = 15;
const STOI_MIN_FREQ = 150;
/** Segment length N (384 ms at 10 kHz / hop 128). */
const STOI_SEGMENT = 30;
/** Lower signal-to-distortion bound β = −15 dB, i.e. clip at (1 + 10^(15/20))·x. */
const STOI_BETA_DB = -15;
/** Frames more than this far below the loudest reference frame are dropped. */
const STOI_DYN_RANGE_DB = 40;

/** Hann of length n without its zero end-points (MATLAB hanning(n)), as in the reference STOI. */
function stoiWindow(n: number): Float64Array {
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * (i + 1)) / (n + 1));
  return w;
}

/**
 * Drops frames whose reference energy is more than 40 dB below the loudest reference frame,
 * from both signals, and overlap-adds the kept windowed frames back into signals.
 */
function removeSilentFrames(x: Float32Array, y: Float32Array): [Float64Array, Float64Array] {
  const w = stoiWindow(STOI_FRAME);
  const starts: number[] = [];
  for (let s = 0; s + STOI_FRAME < x.length; s += STOI_HOP) starts.push(s);
  const energies = starts.map((s) => {
    let e = 0;
    for (let i = 0; i < STOI_FRAME; i++) {
      const v = x[s + i]! * w[i]!;
      e += v * v;
    }
    return 20 * Math.log10(Math.sqrt(e) + EPS);
  });
  let loudest = -Infinity;
  for (const e of energies) if (e > loudest) loudest = e;
  const kept = starts.filter((_, i) => energies[i]! > loudest - STOI_DYN_RANGE_DB);
  const len = kept.length === 0 ? 0 : (kept.length - 1) * STOI_HOP + STOI_FRAME;
  const xs = new Float64Array(len);
  const ys = new Float64Array(len);
  kept.forEach((s, j) => {
    const o = j * STOI_HOP;
    for (let i = 0; i < STOI_FRAME; i++) {
      xs[o + i]! += x[s + i]! * w[i]!;
      ys[o + i]! += y[s + i]! * w[i]!;
    }
  });
  return [xs, ys];
}

/**
 * One-third octave band matrix: band b has centre 150·2^(b/3) Hz and edges 150·2^((2b∓1)/6);
 * each edge is snapped to the nearest FFT bin and the band covers bins [lo, hi).
 */
function thirdOctaveBands(): Array<[number, number]> {
  const nBins = STOI_FFT / 2 + 1;
  const nearestBin = (f: number): number => {
    let best = 0;
    for (let k = 1; k < nBins; k++) {
      if (Math.abs((k * STOI_RATE) / STOI_FFT - f) < Math.abs((best * STOI_RATE) / STOI_FFT - f)) best = k;
    }
    return best;
  };
  const bands: Array<[number, number]> = [];
  for (let b = 0; b < STOI_BANDS; b++) {
    const lo = STOI_MIN_FREQ * 2 ** ((2 * b - 1) / 6);
    const hi = STOI_MIN_FREQ * 2 ** ((2 * b + 1) / 6);
    bands.push([nearestBin(lo), nearestBin(hi)]);
  }
  return bands;
}

/**
 * Band envelopes: Hann frames of 256 with 50 % overlap, 512-point FFT, and per band
 * X_j(m) = sqrt(Σ_{k in band j} |X(k, m)|²) (Taal et al., eq. 1). Returns [band][frame].
 */
function bandEnvelopes(signal: Float64Array, bands: Array<[number, number]>): Float64Array[] {
  const w = stoiWindow(STOI_FRAME);
  const frames: number[] = [];
  for (let s = 0; s + STOI_FRAME < signal.length; s += STOI_HOP) frames.push(s);
  const env = bands.map(() => new Float64Array(frames.length));
  const frame = new Float64Array(STOI_FRAME);
  frames.forEach((s, m) => {
    for (let i = 0; i < STOI_FRAME; i++) frame[i] = signal[s + i]! * w[i]!;
    const { re, im } = rfft(frame, STOI_FFT);
    bands.forEach(([lo, hi], j) => {
      let e = 0;
      for (let k = lo; k < hi; k++) e += re[k]! * re[k]! + im[k]! * im[k]!;
      env[j]![m] = Math.sqrt(e);
    });
  });
  return env;
}

/**
 * Short-time objective intelligibility (Taal et al., 2011), in [−1, 1] and typically 0..1.
 * Both signals are resampled to 10 kHz and compared over their common length. For each band
 * j and each segment of N = 30 frames ending at m, the degraded envelope is scaled to the
 * reference's energy and clipped to (1 + 10^(−β/20))·x (eq. 3), then the sample correlation
 * of the two envelopes is taken (eq. 4); the result is the mean over bands and segments (eq. 5).
 */
export function stoi(reference: Float32Array, estimate: Float32Array, sampleRate: number): number {
  check(sampleRate > 0, `stoi: bad sample rate ${sampleRate}`);
  const n = Math.min(reference.length, estimate.length);
  const x10 = resample(reference.subarray(0, n), sampleRate, STOI_RATE);
  const y10 = resample(estimate.subarray(0, n), sampleRate, STOI_RATE);
  const [xs, ys] = removeSilentFrames(x10, y10);
  const bands = thirdOctaveBands();
  const X = bandEnvelopes(xs, bands);
  const Y = bandEnvelopes(ys, bands);
  const frames = X[0]!.length;
  check(
    frames >= STOI_SEGMENT,
    `stoi: needs at least ${STOI_SEGMENT} non-silent frames (about 0.4 s of audio), got ${frames}`,
  );
  const clip = 1 + 10 ** (-STOI_BETA_DB / 20);
  const N = STOI_SEGMENT;
  const yClipped = new Float64Array(N);
  let total = 0;
  let count = 0;
  for (let j = 0; j < STOI_BANDS; j++) {
    const xj = X[j]!;
    const yj = Y[j]!;
    for (let m = N; m <= frames; m++) {
      const start = m - N;
      let ex = 0;
      let ey = 0;
      for (let i = start; i < m; i++) {
        ex += xj[i]! * xj[i]!;
        ey += yj[i]! * yj[i]!;
      }
      const alpha = Math.sqrt(ex) / (Math.sqrt(ey) + EPS);
      let meanX = 0;
      let meanY = 0;
      for (let i = 0; i < N; i++) {
        const x = xj[start + i]!;
        const y = Math.min(alpha * yj[start + i]!, clip * x);
        yClipped[i] = y;
        meanX += x;
        meanY += y;
      }
      meanX /= N;
      meanY /= N;
      let sxy = 0;
      let sxx = 0;
      let syy = 0;
      for (let i = 0; i < N; i++) {
        const dx = xj[start + i]! - meanX;
        const dy = yClipped[i]! - meanY;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
      }
      total += sxy / (Math.sqrt(sxx) * Math.sqrt(syy) + EPS);
      count++;
    }
  }
  return total / count;
}
