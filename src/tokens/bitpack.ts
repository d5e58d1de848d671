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
  const n = values.length;
  check(offset + packedByteLength(n, bits) <= out.length, 'bit-pack output buffer is too small');
  const limit = 2 ** bits;
  let acc = 0; // pending bits, right-aligned; never more than 7 between values
  let accBits = 0;
  let o = offset;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    // `v >>> 0 === v` is a fast "non-negative integer below 2^32" test (false for NaN, 1.5, -1).
    if (v >>> 0 !== v || v >= limit) {
      throw new VqcodecError(`value ${v} at index ${i} does not fit in ${bits} bits`);
    }
    acc = (acc << bits) | v;
    accBits += bits;
    while (accBits >= 8) {
      accBits -= 8;
      out[o++] = acc >>> accBits;
      acc &= (1 << accBits) - 1;
    }
  }
  if (accBits > 0) out[o] = acc << (8 - accBits);
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
  const out = new Int32Array(count);
  const mask = 2 ** bits - 1;
  let acc = 0; // fewer than `bits` pending bits before each byte, so at most 31 after it
  let accBits = 0;
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
  return out;
}
