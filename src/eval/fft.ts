/**
 * Small radix-2 FFT and spectral helpers for the evaluation metrics.
 * Pure, synchronous and allocation-light: frame sizes of 256–4096 are the target.
 */
import { check } from '../errors.js';

/** True when n is a positive power of two. */
export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

interface FftPlan {
  cos: Float64Array;
  sin: Float64Array;
  rev: Uint32Array;
}

// Twiddles and bit-reversal permutations are cached per size: metrics call the FFT
// thousands of times with the same length.
const plans = new Map<number, FftPlan>();

function plan(n: number): FftPlan {
  let p = plans.get(n);
  if (p) return p;
  const half = n >> 1;
  const cos = new Float64Array(half);
  const sin = new Float64Array(half);
  for (let k = 0; k < half; k++) {
    cos[k] = Math.cos((2 * Math.PI * k) / n);
    sin[k] = Math.sin((2 * Math.PI * k) / n);
  }
  const rev = new Uint32Array(n);
  const bits = Math.round(Math.log2(n));
  for (let i = 0; i < n; i++) {
    let r = 0;
    for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
    rev[i] = r;
  }
  p = { cos, sin, rev };
  plans.set(n, p);
  return p;
}

/**
 * In-place complex FFT (iterative radix-2 Cooley–Tukey, decimation in time).
 * Forward: X[k] = Σ x[n] e^{-2πikn/N}. Inverse divides by N.
 */
export function fft(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  check(im.length === n, `fft: real and imaginary parts differ in length (${n} vs ${im.length})`);
  check(isPowerOfTwo(n), `fft: length ${n} is not a power of two`);
  if (n === 1) return;
  const { cos, sin, rev } = plan(n);
  for (let i = 0; i < n; i++) {
    const j = rev[i]!;
    if (j > i) {
      const tr = re[i]!;
      re[i] = re[j]!;
      re[j] = tr;
      const ti = im[i]!;
      im[i] = im[j]!;
      im[j] = ti;
    }
  }
  const sign = inverse ? 1 : -1;
  for (let size = 2; size <= n; size <<= 1) {
    const half = size >> 1;
    const step = n / size;
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < half; k++) {
        const wr = cos[k * step]!;
        const wi = sign * sin[k * step]!;
        const a = start + k;
        const b = a + half;
        const xr = re[b]! * wr - im[b]! * wi;
        const xi = re[b]! * wi + im[b]! * wr;
        re[b] = re[a]! - xr;
        im[b] = im[a]! - xi;
        re[a] = re[a]! + xr;
        im[a] = im[a]! + xi;
      }
    }
  }
  if (inverse) {
    for (let i = 0; i < n; i++) {
      re[i] = re[i]! / n;
      im[i] = im[i]! / n;
    }
  }
}

/** One-sided spectrum of a real signal: bins 0..n/2 inclusive. */
export interface HalfSpectrum {
  re: Float64Array;
  im: Float64Array;
}

/**
 * FFT of a real frame, zero-padded (or truncated) to nFft, via one complex FFT of
 * half the size: pack even/odd samples as z = x[2m] + i·x[2m+1], then split
 * Z into the even and odd sub-spectra E[k], O[k] and combine X[k] = E[k] + W^k O[k].
 * Returns bins 0..nFft/2.
 */
export function rfft(frame: ArrayLike<number>, nFft: number = frame.length): HalfSpectrum {
  check(isPowerOfTwo(nFft) && nFft >= 2, `rfft: size ${nFft} is not a power of two ≥ 2`);
  const half = nFft >> 1;
  const zr = new Float64Array(half);
  const zi = new Float64Array(half);
  const len = Math.min(frame.length, nFft);
  for (let m = 0; m < half; m++) {
    const e = 2 * m;
    zr[m] = e < len ? frame[e]! : 0;
    zi[m] = e + 1 < len ? frame[e + 1]! : 0;
  }
  fft(zr, zi);
  const re = new Float64Array(half + 1);
  const im = new Float64Array(half + 1);
  for (let k = 0; k <= half; k++) {
    const k1 = k % half; // Z is periodic in half: Z[half] = Z[0]
    const k2 = (half - k) % half;
    const a1 = zr[k1]!;
    const b1 = zi[k1]!;
    const a2 = zr[k2]!;
    const b2 = zi[k2]!;
    // E = (Z[k] + conj Z[N-k]) / 2,  O = (Z[k] - conj Z[N-k]) / 2i
    const er = (a1 + a2) / 2;
    const ei = (b1 - b2) / 2;
    const or = (b1 + b2) / 2;
    const oi = -(a1 - a2) / 2;
    const c = Math.cos((2 * Math.PI * k) / nFft);
    const s = Math.sin((2 * Math.PI * k) / nFft);
    // W^k = c - i·s
    re[k] = er + c * or + s * oi;
    im[k] = ei + c * oi - s * or;
  }
  return { re, im };
}

/** |X[k]|² for k = 0..nFft/2 of a real frame (no normalisation, librosa's convention). */
export function powerSpectrum(frame: ArrayLike<number>, nFft: number = frame.length): Float64Array {
  const { re, im } = rfft(frame, nFft);
  const out = new Float64Array(re.length);
  for (let k = 0; k < out.length; k++) out[k] = re[k]! * re[k]! + im[k]! * im[k]!;
  return out;
}

/**
 * Hann window. `periodic` (the default, right for STFT analysis) has period n, so
 * overlap-added copies at hop n/2 sum to a constant; the symmetric one has both ends at 0.
 */
export function hannWindow(n: number, periodic = true): Float64Array {
  const w = new Float64Array(n);
  const denom = periodic ? n : n - 1;
  if (denom <= 0) return w.fill(1);
  for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / denom);
  return w;
}

/** Hz → mel. HTK: 2595·log10(1 + f/700). Slaney (Auditory Toolbox): linear below 1 kHz, log above. */
export function hzToMel(f: number, htk = false): number {
  if (htk) return 2595 * Math.log10(1 + f / 700);
  const fSp = 200 / 3;
  const minLogHz = 1000;
  const minLogMel = minLogHz / fSp;
  const logStep = Math.log(6.4) / 27;
  return f < minLogHz ? f / fSp : minLogMel + Math.log(f / minLogHz) / logStep;
}

/** Inverse of hzToMel. */
export function melToHz(m: number, htk = false): number {
  if (htk) return 700 * (10 ** (m / 2595) - 1);
  const fSp = 200 / 3;
  const minLogHz = 1000;
  const minLogMel = minLogHz / fSp;
  const logStep = Math.log(6.4) / 27;
  return m < minLogMel ? m * fSp : minLogHz * Math.exp(logStep * (m - minLogMel));
}

export interface MelOptions {
  /** HTK mel formula instead of Slaney's (default false). */
  htk?: boolean;
  /** 'slaney' scales each triangle to unit area (2 / bandwidth), as librosa does by default. */
  norm?: 'slaney' | 'none';
}

/**
 * Triangular mel filterbank: nMels rows of nFft/2+1 weights over the FFT bins.
 * Triangle m spans mel points m..m+2 of nMels+2 points evenly spaced in mel between fMin and fMax.
 */
export function melFilterbank(
  sampleRate: number,
  nFft: number,
  nMels: number,
  fMin = 0,
  fMax: number = sampleRate / 2,
  options: MelOptions = {},
): Float64Array[] {
  check(sampleRate > 0 && Number.isFinite(sampleRate), `melFilterbank: bad sample rate ${sampleRate}`);
  check(Number.isInteger(nMels) && nMels > 0, `melFilterbank: bad number of mels ${nMels}`);
  check(fMin >= 0 && fMax > fMin && fMax <= sampleRate / 2 + 1e-9, `melFilterbank: bad range ${fMin}–${fMax} Hz`);
  const htk = options.htk ?? false;
  const norm = options.norm ?? 'slaney';
  const nBins = (nFft >> 1) + 1;
  const melLo = hzToMel(fMin, htk);
  const melHi = hzToMel(fMax, htk);
  const hz = new Float64Array(nMels + 2);
  for (let i = 0; i < nMels + 2; i++) hz[i] = melToHz(melLo + ((melHi - melLo) * i) / (nMels + 1), htk);
  const rows: Float64Array[] = [];
  for (let m = 0; m < nMels; m++) {
    const lo = hz[m]!;
    const mid = hz[m + 1]!;
    const hi = hz[m + 2]!;
    const scale = norm === 'slaney' ? 2 / (hi - lo) : 1;
    const row = new Float64Array(nBins);
    for (let k = 0; k < nBins; k++) {
      const f = (k * sampleRate) / nFft;
      const w = Math.min((f - lo) / (mid - lo), (hi - f) / (hi - mid));
      if (w > 0) row[k] = w * scale;
    }
    rows.push(row);
  }
  return rows;
}
