/**
 * Intelligibility predictors on one shared front end: STOI (Taal, Hendriks, Heusdens & Jensen,
 * IEEE TASLP 19(7), 2011) and ESTOI (Jensen & Taal, "An Algorithm for Predicting the
 * Intelligibility of Speech Masked by Modulated Noise Maskers", IEEE/ACM TASLP 24(11), 2016).
 * Both resample to 10 kHz, drop silent frames, and compare one-third octave band envelopes over
 * segments of N = 30 frames (384 ms); they differ only in how a segment is scored.
 */
import { check } from '../errors.js';
import { resample } from '../audio/resample.js';
import { rfft } from './fft.js';

/** Guards divisions by zero without biasing ordinary envelope energies. */
const EPS = 1e-12;
const RATE = 10000;
const FRAME = 256;
const HOP = FRAME / 2;
const FFT_SIZE = 512;
const BANDS = 15;
const MIN_FREQ = 150;
/** Segment length N (384 ms at 10 kHz / hop 128). */
const SEGMENT = 30;
/** STOI's lower signal-to-distortion bound β = −15 dB, i.e. clip at (1 + 10^(15/20))·x. */
const STOI_BETA_DB = -15;
/** Frames more than this far below the loudest reference frame are dropped. */
const DYN_RANGE_DB = 40;

/** Hann of length n without its zero end-points (MATLAB hanning(n)), as in the reference STOI. */
function matlabHann(n: number): Float64Array {
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * (i + 1)) / (n + 1));
  return w;
}

/**
 * Drops frames whose reference energy is more than 40 dB below the loudest reference frame,
 * from both signals, and overlap-adds the kept windowed frames back into signals.
 */
function removeSilentFrames(x: Float32Array, y: Float32Array): [Float64Array, Float64Array] {
  const w = matlabHann(FRAME);
  const starts: number[] = [];
  for (let s = 0; s + FRAME < x.length; s += HOP) starts.push(s);
  const energies = starts.map((s) => {
    let e = 0;
    for (let i = 0; i < FRAME; i++) {
      const v = x[s + i]! * w[i]!;
      e += v * v;
    }
    return 20 * Math.log10(Math.sqrt(e) + EPS);
  });
  let loudest = -Infinity;
  for (const e of energies) if (e > loudest) loudest = e;
  const kept = starts.filter((_, i) => energies[i]! > loudest - DYN_RANGE_DB);
  const len = kept.length === 0 ? 0 : (kept.length - 1) * HOP + FRAME;
  const xs = new Float64Array(len);
  const ys = new Float64Array(len);
  kept.forEach((s, j) => {
    const o = j * HOP;
    for (let i = 0; i < FRAME; i++) {
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
  const nBins = FFT_SIZE / 2 + 1;
  const nearestBin = (f: number): number => {
    let best = 0;
    for (let k = 1; k < nBins; k++) {
      if (Math.abs((k * RATE) / FFT_SIZE - f) < Math.abs((best * RATE) / FFT_SIZE - f)) best = k;
    }
    return best;
  };
  const bands: Array<[number, number]> = [];
  for (let b = 0; b < BANDS; b++) {
    const lo = MIN_FREQ * 2 ** ((2 * b - 1) / 6);
    const hi = MIN_FREQ * 2 ** ((2 * b + 1) / 6);
    bands.push([nearestBin(lo), nearestBin(hi)]);
  }
  return bands;
}

/**
 * Band envelopes: Hann frames of 256 with 50 % overlap, 512-point FFT, and per band
 * X_j(m) = sqrt(Σ_{k in band j} |X(k, m)|²) (Taal et al., eq. 1). Returns [band][frame].
 */
function bandEnvelopes(signal: Float64Array, bands: Array<[number, number]>): Float64Array[] {
  const w = matlabHann(FRAME);
  const frames: number[] = [];
  for (let s = 0; s + FRAME < signal.length; s += HOP) frames.push(s);
  const env = bands.map(() => new Float64Array(frames.length));
  const frame = new Float64Array(FRAME);
  frames.forEach((s, m) => {
    for (let i = 0; i < FRAME; i++) frame[i] = signal[s + i]! * w[i]!;
    const { re, im } = rfft(frame, FFT_SIZE);
    bands.forEach(([lo, hi], j) => {
      let e = 0;
      for (let k = lo; k < hi; k++) e += re[k]! * re[k]! + im[k]! * im[k]!;
      env[j]![m] = Math.sqrt(e);
    });
  });
  return env;
}

/** The clean and processed signals' band envelopes, each [band][frame], frames aligned. */
export interface BandEnvelopes {
  clean: Float64Array[];
  processed: Float64Array[];
}

/**
 * The front end STOI and ESTOI share: both signals over their common length, resampled to
 * 10 kHz, silent frames dropped, then 15 one-third octave band envelopes from 150 Hz.
 * `metric` names the caller in the error for a clip too short to form one segment.
 */
export function thirdOctaveEnvelopes(reference: Float32Array, estimate: Float32Array, sampleRate: number, metric: string): BandEnvelopes {
  check(sampleRate > 0, `${metric}: bad sample rate ${sampleRate}`);
  const n = Math.min(reference.length, estimate.length);
  const [xs, ys] = removeSilentFrames(resample(reference.subarray(0, n), sampleRate, RATE), resample(estimate.subarray(0, n), sampleRate, RATE));
  const bands = thirdOctaveBands();
  const clean = bandEnvelopes(xs, bands);
  const frames = clean[0]!.length;
  check(frames >= SEGMENT, `${metric}: needs at least ${SEGMENT} non-silent frames (about 0.4 s of audio), got ${frames}`);
  return { clean, processed: bandEnvelopes(ys, bands) };
}

/** Checks that two envelope matrices match in shape and hold at least one segment; returns the frame count. */
function segmentableFrames({ clean, processed }: BandEnvelopes, metric: string): number {
  check(clean.length > 0 && clean.length === processed.length, `${metric}: envelopes have ${clean.length} and ${processed.length} bands`);
  const frames = clean[0]!.length;
  check([...clean, ...processed].every((row) => row.length === frames), `${metric}: envelope rows differ in length`);
  check(frames >= SEGMENT, `${metric}: needs at least ${SEGMENT} frames, got ${frames}`);
  return frames;
}

/**
 * STOI's back end: for each band j and each segment of N = 30 frames, the processed envelope is
 * scaled to the clean one's energy and clipped to (1 + 10^(−β/20))·x (Taal et al., eq. 3), then
 * the sample correlation of the two envelopes is taken (eq. 4); the mean over bands and
 * segments is the score (eq. 5). Pure: any number of bands.
 */
export function stoiFromEnvelopes(envelopes: BandEnvelopes): number {
  const frames = segmentableFrames(envelopes, 'stoi');
  const { clean: X, processed: Y } = envelopes;
  const clip = 1 + 10 ** (-STOI_BETA_DB / 20);
  const N = SEGMENT;
  const yClipped = new Float64Array(N);
  let total = 0;
  let count = 0;
  for (let j = 0; j < X.length; j++) {
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

/**
 * Removes the mean of `count` values of `a` at offset, offset + stride, … and scales them to
 * unit Euclidean norm. A constant vector becomes all zeros: the reference code adds eps-scale
 * noise before dividing, which would turn it into a random direction instead.
 */
function centreToUnitNorm(a: Float64Array, offset: number, stride: number, count: number): void {
  let mean = 0;
  for (let i = 0; i < count; i++) mean += a[offset + i * stride]!;
  mean /= count;
  let norm = 0;
  for (let i = 0; i < count; i++) {
    const v = a[offset + i * stride]! - mean;
    a[offset + i * stride] = v;
    norm += v * v;
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < count; i++) a[offset + i * stride]! *= scale;
}

/**
 * Copies frames [start, start + N) of every band into `out` (row-major J × N), then normalises
 * each row (band, across time) and then each column (spectral vector, across bands) to zero mean
 * and unit norm, in that order, as Jensen & Taal do (their S̄_m, then Š_m).
 */
function normalisedSegment(env: Float64Array[], start: number, out: Float64Array): void {
  const N = SEGMENT;
  const J = env.length;
  for (let j = 0; j < J; j++) out.set(env[j]!.subarray(start, start + N), j * N);
  for (let j = 0; j < J; j++) centreToUnitNorm(out, j * N, 1, N);
  for (let n = 0; n < N; n++) centreToUnitNorm(out, n, N, J);
}

/**
 * ESTOI's back end (Jensen & Taal 2016): per segment m, the mean over its N frames of
 * the inner products of the normalised clean and processed spectral vectors,
 * d_m = (1/N) Σ_n x̌_{m,n}ᵀ y̌_{m,n}; the score is the mean of d_m over segments. Unlike STOI
 * there is no clipping, and it sees how the bands move together. Pure: any number of bands.
 */
export function estoiFromEnvelopes(envelopes: BandEnvelopes): number {
  const frames = segmentableFrames(envelopes, 'estoi');
  const N = SEGMENT;
  const size = envelopes.clean.length * N;
  const x = new Float64Array(size);
  const y = new Float64Array(size);
  let total = 0;
  for (let start = 0; start + N <= frames; start++) {
    normalisedSegment(envelopes.clean, start, x);
    normalisedSegment(envelopes.processed, start, y);
    let dot = 0;
    for (let i = 0; i < size; i++) dot += x[i]! * y[i]!;
    total += dot / N;
  }
  return total / (frames - N + 1);
}

/**
 * Short-time objective intelligibility (Taal et al., 2011), in [−1, 1] and typically 0..1.
 * Both signals are resampled to 10 kHz and compared over their common length.
 */
export function stoi(reference: Float32Array, estimate: Float32Array, sampleRate: number): number {
  return stoiFromEnvelopes(thirdOctaveEnvelopes(reference, estimate, sampleRate, 'stoi'));
}

/**
 * Extended STOI (Jensen & Taal, 2016), in [−1, 1]: STOI's front end, scored on whole
 * spectro-temporal segments rather than band by band, so it also predicts intelligibility
 * under modulated maskers (and distortions that change the spectral shape from frame to frame).
 */
export function estoi(reference: Float32Array, estimate: Float32Array, sampleRate: number): number {
  return estoiFromEnvelopes(thirdOctaveEnvelopes(reference, estimate, sampleRate, 'estoi'));
}

/** STOI and ESTOI from one pass of the shared front end (what evaluation reports). */
export function stoiAndEstoi(reference: Float32Array, estimate: Float32Array, sampleRate: number): { stoi: number; estoi: number } {
  const envelopes = thirdOctaveEnvelopes(reference, estimate, sampleRate, 'stoiAndEstoi');
  return { stoi: stoiFromEnvelopes(envelopes), estoi: estoiFromEnvelopes(envelopes) };
}
