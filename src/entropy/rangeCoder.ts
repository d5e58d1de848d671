/**
 * A byte-oriented range coder (the carry-propagating kind LZMA uses) on integer frequency
 * tables. Every quantity is an integer below 2^53 held in a double, and only +, −, × and
 * Math.floor of a quotient of such integers are used, so the encoder and the decoder agree
 * bit for bit on every machine and JavaScript engine.
 *
 * The range stays in [2^24, 2^32) between symbols and a table's total is at most 2^16, so
 * every symbol keeps at least 2^8 of range: no frequency ever rounds to zero.
 */
import { check } from '../errors.js';

const TOP = 2 ** 24;
const WORD = 2 ** 32;
/** The largest total a frequency table may have. */
export const MAX_TOTAL = 2 ** 16;
/**
 * No symbol gets more than this share of a table, so each costs at least −log2(63/64) ≈ 0.0227
 * bits: a reader can bound how many symbols a payload of n bytes may hold before allocating.
 */
export const MAX_FREQUENCY_SHARE = 63 / 64;
/** At most this many symbols fit in one bit of payload (1 / 0.0227…, rounded up). */
export const MAX_SYMBOLS_PER_BIT = 45;

/**
 * The fewest bytes a payload of `symbols` symbols is stored in: what MAX_SYMBOLS_PER_BIT allows,
 * less 8 bytes of slack. A reader refuses a shorter payload before allocating for its symbols;
 * the encoder keeps this many bytes even when they are trailing zeros it could drop (a long run
 * of each table's first symbol codes to nothing but zeros).
 */
export function minPayloadBytes(symbols: number): number {
  return Math.max(0, Math.ceil(symbols / (MAX_SYMBOLS_PER_BIT * 8)) - 8);
}

/**
 * The most trailing zero bytes the encoder drops, so the most a decoder of a whole stream reads
 * past its end. A decoder that runs further has run out of payload: the stream is corrupt, and
 * a forged header's frame count cannot make it decode on, symbol after symbol, from zeros.
 */
export const MAX_DROPPED_ZEROS = 8;

/** One symbol's slice of a table: [start, start + size) of `total`. */
export interface SymbolRange {
  start: number;
  size: number;
  total: number;
}

export class RangeEncoder {
  private low = 0; // below 2^32, plus at most one carry bit
  private range = WORD - 1;
  private cache = 0; // the byte a carry may still change
  private pending = 0; // 0xFF bytes waiting behind `cache`
  private started = false; // the first byte a range coder emits is always 0: it is not stored
  private bytes = new Uint8Array(256);
  private length = 0;

  /** Narrows the interval to `size` of `total` starting at `start`. */
  encode(start: number, size: number, total: number): void {
    const r = Math.floor(this.range / total);
    this.low += r * start;
    this.range = r * size;
    while (this.range < TOP) {
      this.range *= 256;
      this.shiftLow();
    }
  }

  /**
   * The coded bytes. Ends on the shortest value inside the final interval; up to
   * MAX_DROPPED_ZEROS trailing zeros are dropped (the decoder reads zeros past the end), but the
   * bytes are never fewer than `minBytes`.
   */
  finish(minBytes = 0): Uint8Array {
    // Pick the value in [low, low + range) with the most trailing zero bits.
    for (let unit = WORD / 2; unit >= 1; unit /= 2) {
      const v = Math.ceil(this.low / unit) * unit;
      if (v < this.low + this.range) {
        this.low = v;
        break;
      }
    }
    for (let i = 0; i < 5; i++) this.shiftLow();
    let end = this.length;
    const keep = Math.max(minBytes, this.length - MAX_DROPPED_ZEROS);
    while (end > keep && this.bytes[end - 1] === 0) end--;
    const out = new Uint8Array(Math.max(end, minBytes));
    out.set(this.bytes.subarray(0, end));
    return out;
  }

  private shiftLow(): void {
    const carry = this.low >= WORD ? 1 : 0;
    const low32 = this.low - carry * WORD;
    if (low32 < 0xff000000 || carry === 1) {
      if (this.started) this.emit((this.cache + carry) & 0xff);
      this.started = true;
      for (; this.pending > 0; this.pending--) this.emit((0xff + carry) & 0xff);
      this.cache = Math.floor(low32 / TOP);
    } else {
      this.pending++;
    }
    this.low = (low32 % TOP) * 256;
  }

  private emit(byte: number): void {
    if (this.length === this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes);
      this.bytes = grown;
    }
    this.bytes[this.length++] = byte;
  }
}

export class RangeDecoder {
  private code = 0;
  private range = WORD - 1;
  private pos = 0;
  private r = 0;

  constructor(private readonly bytes: Uint8Array) {
    for (let i = 0; i < 4; i++) this.code = this.code * 256 + this.next();
  }

  /** Where in [0, total) the next symbol lies; follow with `consume` of the symbol found there. */
  target(total: number): number {
    this.r = Math.floor(this.range / total);
    // Only a corrupted stream gets past total − 1; the file's CRC has caught that already.
    return Math.min(total - 1, Math.floor(this.code / this.r));
  }

  consume(start: number, size: number): void {
    this.code -= this.r * start;
    this.range = this.r * size;
    while (this.range < TOP) {
      this.code = (this.code % TOP) * 256 + this.next();
      this.range *= 256;
    }
  }

  /** Bytes read so far beyond the stream's end (zeros were used for them). */
  get overrun(): number {
    return Math.max(0, this.pos - this.bytes.length);
  }

  private next(): number {
    return this.pos < this.bytes.length ? this.bytes[this.pos++]! : (this.pos++, 0);
  }
}

/** Frequencies of one symbol alphabet with their running sums, searchable by a decoder's target. */
export class FrequencyTable {
  readonly total: number;
  /** cumulative[s] = sum of freq[0..s); cumulative[K] = total. */
  readonly cumulative: Float64Array;

  constructor(readonly freq: Uint32Array) {
    const cumulative = new Float64Array(freq.length + 1);
    for (let s = 0; s < freq.length; s++) {
      check(freq[s]! > 0, `frequency of symbol ${s} is 0`);
      cumulative[s + 1] = cumulative[s]! + freq[s]!;
    }
    this.total = cumulative[freq.length]!;
    check(this.total <= MAX_TOTAL, `frequency total ${this.total} exceeds ${MAX_TOTAL}`);
    this.cumulative = cumulative;
  }

  encode(encoder: RangeEncoder, symbol: number): void {
    encoder.encode(this.cumulative[symbol]!, this.freq[symbol]!, this.total);
  }

  decode(decoder: RangeDecoder): number {
    const target = decoder.target(this.total);
    // Largest s with cumulative[s] <= target.
    let lo = 0;
    let hi = this.freq.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.cumulative[mid]! <= target) lo = mid;
      else hi = mid - 1;
    }
    decoder.consume(this.cumulative[lo]!, this.freq[lo]!);
    return lo;
  }
}

/**
 * Integer frequencies for probabilities `p` (non-negative, summing to about 1): each symbol
 * gets 1 plus its share of the rest of `total`, so none is impossible, and none more than
 * MAX_FREQUENCY_SHARE of the table. Uses only exact or correctly rounded operations: the same
 * `p` gives the same table everywhere.
 */
export function quantizeProbabilities(p: ArrayLike<number>, total = MAX_TOTAL): FrequencyTable {
  const k = p.length;
  check(k >= 2 && k < total, `cannot code ${k} symbols in a table of ${total}`);
  const spare = total - k;
  const freq = new Uint32Array(k);
  let sum = 0;
  let big = 0;
  for (let s = 0; s < k; s++) {
    const share = Math.floor(p[s]! * spare); // NaN and negatives fall to the floor of 1
    freq[s] = 1 + (share > 0 ? Math.min(share, spare) : 0);
    sum += freq[s]!;
    if (freq[s]! > freq[big]!) big = s;
  }
  // Probabilities summing above 1 can overshoot `total`; the largest symbol gives the excess back.
  const others = sum - freq[big]!;
  freq[big] = Math.max(1, Math.min(freq[big]! - Math.max(0, sum - total), 63 * others));
  return new FrequencyTable(freq);
}
