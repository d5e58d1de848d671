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
 * The filter for one ratio, built once and shared by the one-shot `resample` and the
 * streaming resampler, so both compute every output sample with the same arithmetic.
 * Output k sits at input time t_k; `inputIndex(k)` is floor(t_k) and output k reads inputs
 * floor(t_k) − H + 1 .. floor(t_k) + H.
 */
type FilterDesign =
  | { kind: 'polyphase'; up: number; down: number; taps: number; h: number; table: Float64Array }
  | { kind: 'interpolated'; step: number; taps: number; h: number; res: number; size: number; tab: Float64Array };

function checkRates(fromRate: number, toRate: number): void {
  check(Number.isFinite(fromRate) && fromRate > 0, `resample: bad source sample rate ${fromRate}`);
  check(Number.isFinite(toRate) && toRate > 0, `resample: bad target sample rate ${toRate}`);
}

/** Output length of resampling n input samples: round(n·to/from). */
export function resampledLength(n: number, fromRate: number, toRate: number): number {
  return fromRate === toRate ? n : Math.round((n * toRate) / fromRate);
}

function designFilter(fromRate: number, toRate: number): FilterDesign {
  const kernel = kernelFor(fromRate, toRate);
  if (Number.isSafeInteger(fromRate) && Number.isSafeInteger(toRate)) {
    const g = gcd(toRate, fromRate);
    const up = toRate / g;
    const down = fromRate / g;
    if (up <= MAX_PHASES && up * kernel.taps <= 1 << 22) return polyphaseDesign(up, down, kernel);
  }
  return interpolatedDesign(fromRate / toRate, kernel);
}

/** floor(t_o): the input sample at or before output o's time. */
function inputIndex(d: FilterDesign, o: number): number {
  return d.kind === 'polyphase' ? Math.floor((o * d.down) / d.up) : Math.floor(o * d.step);
}

/**
 * Computes outputs [oFrom, oTo) into `out` (output o at out[o − oFrom + outOffset]). `x` holds
 * the input samples from absolute index `xStart` on; the input has `n` samples in all (those
 * at or past n, and before 0, are zeros) and every input an output needs must be in `x`.
 */
function filterSpan(d: FilterDesign, x: Float32Array, xStart: number, n: number, out: Float32Array, outOffset: number, oFrom: number, oTo: number): void {
  if (d.kind === 'polyphase') polyphaseSpan(d.table, d.taps, d.h, d.up, d.down, x, xStart, n, out, outOffset - oFrom, oFrom, oTo);
  else interpolatedSpan(d.tab, d.taps, d.h, d.res, d.size, d.step, x, xStart, n, out, outOffset - oFrom, oFrom, oTo);
}

/**
 * Resamples a mono signal from `fromRate` to `toRate` (Hz). The output has
 * round(n·to/from) samples. The response is flat (< 0.01 dB) to about 0.75·min(from, to)/2,
 * −6 dB at ROLLOFF·min(from, to)/2 and below −80 dB from about 1.05·min(from, to)/2, so what
 * little aliases lands in the top 5 % of the band.
 * Samples outside the input are taken as zero. Equal rates return a copy.
 * `createStreamingResampler` gives the same output block by block.
 */
export function resample(samples: Float32Array, fromRate: number, toRate: number): Float32Array {
  checkRates(fromRate, toRate);
  if (fromRate === toRate) return samples.slice();
  const outLength = resampledLength(samples.length, fromRate, toRate);
  const out = new Float32Array(outLength);
  if (outLength === 0 || samples.length === 0) return out;
  filterSpan(designFilter(fromRate, toRate), samples, 0, samples.length, out, 0, 0, outLength);
  return out;
}

/** A resampler fed block by block: memory is the filter and about one filter length of input. */
export interface StreamingResampler {
  /** Feeds the next input samples; returns the output samples that are now complete (maybe none). */
  push(block: Float32Array): Float32Array;
  /** Ends the input; returns the remaining output (the input is taken as zero past its end). */
  flush(): Float32Array;
  /** Input samples pushed so far. */
  readonly inputLength: number;
  /** Output samples returned so far. */
  readonly outputLength: number;
}

/**
 * A stateful resampler from `fromRate` to `toRate`: the concatenation of every `push` result
 * and the `flush` result equals `resample` of the concatenated input, sample for sample.
 * An output is emitted as soon as every input its filter reads has arrived.
 */
export function createStreamingResampler(fromRate: number, toRate: number): StreamingResampler {
  checkRates(fromRate, toRate);
  const same = fromRate === toRate;
  const d = same ? undefined : designFilter(fromRate, toRate);
  const h = d?.h ?? 0;
  let buf = new Float32Array(0);
  let bufStart = 0; // absolute index of buf[0]
  let bufLen = 0;
  let total = 0; // samples pushed
  let produced = 0; // outputs returned
  let done = false;

  /** Outputs [produced, oTo) from what is buffered, then drops inputs no later output reads. */
  const emit = (oTo: number, n: number): Float32Array => {
    const out = new Float32Array(Math.max(0, oTo - produced));
    if (out.length > 0 && n > 0) filterSpan(d!, buf, bufStart, n, out, 0, produced, oTo);
    produced = Math.max(produced, oTo);
    const keepFrom = Math.max(bufStart, Math.min(total, inputIndex(d!, produced) - h + 1));
    if (keepFrom > bufStart) {
      buf.copyWithin(0, keepFrom - bufStart, bufLen);
      bufLen -= keepFrom - bufStart;
      bufStart = keepFrom;
    }
    return out;
  };

  return {
    push(block: Float32Array): Float32Array {
      check(!done, 'resampler: push after flush');
      total += block.length;
      if (same) {
        produced += block.length;
        return block.slice();
      }
      if (bufLen + block.length > buf.length) {
        const grown = new Float32Array(Math.max(bufLen + block.length, 2 * buf.length));
        grown.set(buf.subarray(0, bufLen));
        buf = grown;
      }
      buf.set(block, bufLen);
      bufLen += block.length;
      // Output o is complete once inputs up to floor(t_o) + H are in: floor(t_o) + H + 1 <= total.
      let oTo = produced;
      while (inputIndex(d!, oTo) + h + 1 <= total) oTo++;
      return emit(oTo, total);
    },
    flush(): Float32Array {
      check(!done, 'resampler: flushed twice');
      done = true;
      if (same) return new Float32Array(0);
      return emit(resampledLength(total, fromRate, toRate), total);
    },
    get inputLength() {
      return total;
    },
    get outputLength() {
      return produced;
    },
  };
}

/**
 * Rational ratio L/M: output k is at t = k·M/L, so its phase (k·M mod L)/L picks one of L
 * precomputed filters. Each phase is normalised to unit sum so DC passes exactly.
 */
function polyphaseDesign(up: number, down: number, k: Kernel): FilterDesign {
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
  return { kind: 'polyphase', up, down, taps, h, table };
}

/** out[o + outShift] for o in [oFrom, oTo); x[j − xStart] is input j. */
function polyphaseSpan(
  table: Float64Array,
  taps: number,
  h: number,
  up: number,
  down: number,
  x: Float32Array,
  xStart: number,
  n: number,
  out: Float32Array,
  outShift: number,
  oFrom: number,
  oTo: number,
): void {
  for (let o = oFrom; o < oTo; o++) {
    const num = o * down;
    const i = Math.floor(num / up);
    const off = (num - i * up) * taps;
    const base = i - h + 1;
    const at = base - xStart;
    let acc = 0;
    if (base >= 0 && base + taps <= n) {
      // Independent accumulators shorten the floating-point add dependency chain.
      let acc1 = 0;
      let acc2 = 0;
      let acc3 = 0;
      for (let m = 0; m < taps; m += 4) {
        const t = off + m;
        const b = at + m;
        acc += table[t]! * x[b]!;
        acc1 += table[t + 1]! * x[b + 1]!;
        acc2 += table[t + 2]! * x[b + 2]!;
        acc3 += table[t + 3]! * x[b + 3]!;
      }
      acc += acc1 + acc2 + acc3;
    } else {
      const mStart = Math.max(0, -base);
      const mEnd = Math.min(taps, n - base);
      for (let m = mStart; m < mEnd; m++) acc += table[off + m]! * x[at + m]!;
    }
    out[o + outShift] = acc;
  }
}

/**
 * Any ratio: the kernel is tabulated at FALLBACK_RESOLUTION points per input sample over
 * [0, halfWidth] (it is even) and read with linear interpolation; the taps for each output
 * are normalised to unit sum, as in the polyphase path.
 */
function interpolatedDesign(step: number, k: Kernel): FilterDesign {
  const { taps, h, halfWidth } = k;
  const i0Beta = besselI0(KAISER_BETA);
  const res = FALLBACK_RESOLUTION;
  const size = Math.ceil(halfWidth * res) + 2;
  const tab = new Float64Array(size);
  for (let j = 0; j < size; j++) tab[j] = kernelValue(j / res, k, i0Beta);
  return { kind: 'interpolated', step, taps, h, res, size, tab };
}

function interpolatedSpan(
  tab: Float64Array,
  taps: number,
  h: number,
  res: number,
  size: number,
  step: number,
  x: Float32Array,
  xStart: number,
  n: number,
  out: Float32Array,
  outShift: number,
  oFrom: number,
  oTo: number,
): void {
  for (let o = oFrom; o < oTo; o++) {
    const t = o * step;
    const i = Math.floor(t);
    const frac = t - i;
    const base = i - h + 1;
    const at = base - xStart;
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
      if (m >= mStart && m < mEnd) acc += w * x[at + m]!;
    }
    out[o + outShift] = wsum !== 0 ? acc / wsum : 0;
  }
}
