import { VqcodecError, check } from '../errors.js';

/** Widest code we pack; keeps the accumulator below 32 bits (24 + 7 pending bits). */
export const MAX_BITS = 24;

/** Bits needed to store any index of a codebook with `codebookSize` entries: ceil(log2 K). */
export function bitsPerCode(codebookSize: number): number {
  check(
    Number.isInteger(codebookSize) && codebookSize >= 2 && codebookSize <= 2 ** MAX_BITS,
    `codebook size must be an integer from 2 to ${2 ** MAX_BITS}, got ${codebookSize}`,
  );
  // Integer arithmetic rather than Math.log2, which is not exact for every input.
  let bits = 1;
  while (2 ** bits < codebookSize) bits++;
  return bits;
}

/** Bytes needed for `count` values of `bits` bits each. */
export function packedByteLength(count: number, bits: number): number {
  return Math.ceil((count * bits) / 8);
}

function checkBits(bits: number): void {
  check(
    Number.isInteger(bits) && bits >= 1 && bits <= MAX_BITS,
    `bits per value must be an integer from 1 to ${MAX_BITS}, got ${bits}`,
  );
}

/**
 * Packs `values` MSB-first into `out` starting at `offset`; writes exactly
 * packedByteLength(values.length, bits) bytes, the last one zero-padded.
 * Lets the token file pack straight into its buffer without a copy.
 */
export function packBitsInto(values: ArrayLike<number>, bits: number, out: Uint8Array, offset: number): void {
  checkBits(bits);
  check(offset + packedByteLength(values.length, bits) <= out.length, 'bit-pack output buffer is too small');
  const packer = new BitPacker(bits);
  const body = packer.push(values);
  out.set(body, offset);
  out.set(packer.finish(), offset + body.length);
}

/** Packs integers in [0, 2^bits) MSB-first; the result is exactly ceil(n*bits/8) bytes. */
export function packBits(values: ArrayLike<number>, bits: number): Uint8Array {
  checkBits(bits);
  const out = new Uint8Array(packedByteLength(values.length, bits));
  packBitsInto(values, bits, out, 0);
  return out;
}

/** Reads `count` MSB-first values of `bits` bits each; trailing bytes and padding are ignored. */
export function unpackBits(bytes: Uint8Array, bits: number, count: number): Int32Array {
  checkBits(bits);
  check(Number.isInteger(count) && count >= 0, `value count must be a non-negative integer, got ${count}`);
  const needed = packedByteLength(count, bits);
  check(bytes.length >= needed, `packed data is too short: ${count} values of ${bits} bits need ${needed} bytes, got ${bytes.length}`);
  return new BitUnpacker(bits).push(bytes.subarray(0, needed), count);
}

/** MSB-first packing continued across calls (the pending bits carry over): the one packer behind packBits and token streams. */
export class BitPacker {
  private acc = 0; // pending bits, right-aligned; never more than 7 between values
  private accBits = 0;
  private readonly limit: number;

  constructor(readonly bits: number) {
    checkBits(bits);
    this.limit = 2 ** bits;
  }

  /** Packs `values`; returns the bytes completed (the partial last byte stays pending). */
  push(values: ArrayLike<number>): Uint8Array {
    const { bits, limit } = this;
    const out = new Uint8Array(Math.floor((this.accBits + values.length * bits) / 8));
    let { acc, accBits } = this;
    let o = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v >>> 0 !== v || v >= limit) throw new VqcodecError(`value ${v} at index ${i} does not fit in ${bits} bits`);
      acc = (acc << bits) | v;
      accBits += bits;
      while (accBits >= 8) {
        accBits -= 8;
        out[o++] = acc >>> accBits;
        acc &= (1 << accBits) - 1;
      }
    }
    this.acc = acc;
    this.accBits = accBits;
    return out;
  }

  /** The zero-padded last byte, if bits are pending. */
  finish(): Uint8Array {
    const out = this.accBits > 0 ? Uint8Array.of(this.acc << (8 - this.accBits)) : new Uint8Array(0);
    this.acc = 0;
    this.accBits = 0;
    return out;
  }
}

/** The inverse of BitPacker, continued across byte blocks. */
export class BitUnpacker {
  private acc = 0;
  private accBits = 0;
  private readonly mask: number;

  constructor(readonly bits: number) {
    this.mask = 2 ** bits - 1;
  }

  /** Unpacks every whole value in `bytes` plus the pending bits, at most `max` values. */
  push(bytes: Uint8Array, max: number): Int32Array {
    const { bits, mask } = this;
    const count = Math.min(max, Math.floor((this.accBits + bytes.length * 8) / bits));
    const out = new Int32Array(count);
    let { acc, accBits } = this;
    let b = 0;
    for (let i = 0; i < count; i++) {
      while (accBits < bits) {
        acc = (acc << 8) | bytes[b++]!;
        accBits += 8;
      }
      accBits -= bits;
      out[i] = (acc >>> accBits) & mask;
      acc &= (1 << accBits) - 1;
    }
    if (count === max) {
      // Nothing more is wanted: drop the rest (padding), which could overflow the accumulator.
      acc = 0;
      accBits = 0;
    } else {
      // Bytes not consumed by a whole value are kept as pending bits (fewer than `bits` of them).
      while (b < bytes.length) {
        acc = (acc << 8) | bytes[b++]!;
        accBits += 8;
      }
    }
    this.acc = acc;
    this.accBits = accBits;
    return out;
  }
}
