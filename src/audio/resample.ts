/**
 * Band-limited arbitrary-ratio resampling with a Kaiser-windowed sinc
 * (the classic bandlimited-interpolation scheme of Smith & Gossett, 1984).
 *
 * Output sample k sits at input time t = k·from/to and is Σ_j x[j]·h(t − j), where h is an
 * ideal low-pass at `ROLLOFF`·min(from, to)/2 truncated by a Kaiser window (Kaiser, 1974).
 * For rational ratios to/from = L/M with small L, the fractional part of t takes only L
 * values, so all filters are precomputed in a polyphase table; otherwise h is read from a
 * finely oversampled table with linear interpolation.
 */
import { check } from '../errors.js';

/** Zero crossings of the sinc on each side: filter half-length in units of the cutoff period. */
const ZERO_CROSSINGS = 16;
/** Cutoff as a fraction of the lower Nyquist frequency, leaving room for the transition band. */
const ROLLOFF = 0.9;
/** Kaiser β ≈ 0.1102·(A − 8.7) for about 80 dB stop-band attenuation (Kaiser's formula). */
const KAISER_BETA = 8.0;
/** Largest reduced upsampling factor L for which a polyphase table is built. */
const MAX_PHASES = 4096;
/** Table resolution (points per input sample) of the interpolated fallback filter. */
const FALLBACK_RESOLUTION = 512;

/** Zeroth-order modified Bessel function of the first kind, by its power series. */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 200; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Shape of the low-pass kernel for one resampling ratio, in units of input samples. */
interface Kernel {
  /** Cutoff in cycles per input sample. */
  fc: number;
  /** Window half-width in input samples. */
  halfWidth: number;
  /** Taps per output sample (2H, a multiple of 4). */
  taps: number;
  /** H: taps on each side of t; output k reads x[floor(t) − H + 1 .. floor(t) + H]. */
  h: number;
}

function kernelFor(fromRate: number, toRate: number): Kernel {
  const fc = (ROLLOFF * Math.min(fromRate, toRate)) / 2 / fromRate;
  const halfWidth = ZERO_CROSSINGS / (2 * fc);
  // H is rounded up to even so the tap count is a multiple of 4 (the inner loop is unrolled by 4);
  // the extra end taps are zero.
  const h = 2 * Math.ceil(halfWidth / 2);
  return { fc, halfWidth, taps: 2 * h, h };
}

/** h(t) = 2fc·sinc(2fc·t)·kaiser(t / halfWidth): unit DC gain when sampled at integer spacing. */
function kernelValue(t: number, k: Kernel, i0Beta: number): number {
  const r = t / k.halfWidth;
  if (r <= -1 || r >= 1) return 0;
  const x = 2 * k.fc * t;
  const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
  const window = besselI0(KAISER_BETA * Math.sqrt(1 - r * r)) / i0Beta;
  return 2 * k.fc * sinc * window;
}

/**
 * Resamples a mono signal from `fromRate` to `toRate` (Hz). The output has
 * round(n·to/from) samples. The response is flat (< 0.01 dB) to about 0.75·min(from, to)/2,
 * −6 dB at ROLLOFF·min(from, to)/2 and below −80 dB from about 1.05·min(from, to)/2, so what
 * little aliases lands in the top 5 % of the band.
 * Samples outside the input are taken as zero. Equal rates return a copy.
 */
export function resample(samples: Float32Array, fromRate: number, toRate: number): Float32Array {
  check(Number.isFinite(fromRate) && fromRate > 0, `resample: bad source sample rate ${fromRate}`);
  check(Number.isFinite(toRate) && toRate > 0, `resample: bad target sample rate ${toRate}`);
  if (fromRate === toRate) return samples.slice();
  const outLength = Math.round((samples.length * toRate) / fromRate);
  const out = new Float32Array(outLength);
  if (outLength === 0 || samples.length === 0) return out;
  const kernel = kernelFor(fromRate, toRate);
  if (Number.isSafeInteger(fromRate) && Number.isSafeInteger(toRate)) {
    const g = gcd(toRate, fromRate);
    const up = toRate / g;
    const down = fromRate / g;
    if (up <= MAX_PHASES && up * kernel.taps <= 1 << 22) {
      resamplePolyphase(samples, out, up, down, kernel);
      return out;
    }
  }
  resampleInterpolated(samples, out, fromRate / toRate, kernel);
  return out;
}

/**
 * Rational ratio L/M: output k is at t = k·M/L, so its phase (k·M mod L)/L picks one of L
 * precomputed filters. Each phase is normalised to unit sum so DC passes exactly.
 */
function resamplePolyphase(x: Float32Array, out: Float32Array, up: number, down: number, k: Kernel): void {
  const { taps, h } = k;
  const i0Beta = besselI0(KAISER_BETA);
  const table = new Float64Array(up * taps);
  for (let p = 0; p < up; p++) {
    let sum = 0;
    for (let m = 0; m < taps; m++) {
      // tap m multiplies x[floor(t) − H + 1 + m], at distance t − j = p/L + H − 1 − m
      const v = kernelValue(p / up + h - 1 - m, k, i0Beta);
      table[p * taps + m] = v;
      sum += v;
    }
    for (let m = 0; m < taps; m++) table[p * taps + m]! /= sum;
  }
  const n = x.length;
  for (let o = 0; o < out.length; o++) {
    const num = o * down;
    const i = Math.floor(num / up);
    const off = (num - i * up) * taps;
    const base = i - h + 1;
    let acc = 0;
    if (base >= 0 && base + taps <= n) {
      // Independent accumulators shorten the floating-point add dependency chain.
      let acc1 = 0;
      let acc2 = 0;
      let acc3 = 0;
      for (let m = 0; m < taps; m += 4) {
        const t = off + m;
        const b = base + m;
        acc += table[t]! * x[b]!;
        acc1 += table[t + 1]! * x[b + 1]!;
        acc2 += table[t + 2]! * x[b + 2]!;
        acc3 += table[t + 3]! * x[b + 3]!;
      }
      acc += acc1 + acc2 + acc3;
    } else {
      const mStart = Math.max(0, -base);
      const mEnd = Math.min(taps, n - base);
      for (let m = mStart; m < mEnd; m++) acc += table[off + m]! * x[base + m]!;
    }
    out[o] = acc;
  }
}

/**
 * Any ratio: the kernel is tabulated at FALLBACK_RESOLUTION points per input sample over
 * [0, halfWidth] (it is even) and read with linear interpolation; the taps for each output
 * are normalised to unit sum, as in the polyphase path.
 */
function resampleInterpolated(x: Float32Array, out: Float32Array, step: number, k: Kernel): void {
  const { taps, h, halfWidth } = k;
  const i0Beta = besselI0(KAISER_BETA);
  const res = FALLBACK_RESOLUTION;
  const size = Math.ceil(halfWidth * res) + 2;
  const tab = new Float64Array(size);
  for (let j = 0; j < size; j++) tab[j] = kernelValue(j / res, k, i0Beta);
  const n = x.length;
  for (let o = 0; o < out.length; o++) {
    const t = o * step;
    const i = Math.floor(t);
    const frac = t - i;
    const base = i - h + 1;
    const mStart = Math.max(0, -base);
    const mEnd = Math.min(taps, n - base);
    let acc = 0;
    let wsum = 0;
    for (let m = 0; m < taps; m++) {
      const pos = Math.abs(frac + h - 1 - m) * res;
      const j = Math.floor(pos);
      if (j + 1 >= size) continue;
      const w = tab[j]! + (pos - j) * (tab[j + 1]! - tab[j]!);
      wsum += w;
      if (m >= mStart && m < mEnd) acc += w * x[base + m]!;
    }
    out[o] = wsum !== 0 ? acc / wsum : 0;
  }
}
