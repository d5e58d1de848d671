import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { VqcodecError } from '../src/errors.js';
import { bitsPerCode, packBits, unpackBits } from '../src/tokens/bitpack.js';
import { crc32 } from '../src/tokens/crc32.js';

/** A codebook size in [minK, maxK] together with codes drawn from it. */
function codesArb(minK: number, maxK: number, maxLength: number) {
  return fc
    .integer({ min: minK, max: maxK })
    .chain((k) => {
      const code = fc.integer({ min: 0, max: k - 1 });
      // Default sizing keeps arrays under ~10 items (often empty); 'max' spreads lengths up to maxLength.
      const values = fc.oneof(fc.array(code, { maxLength }), fc.array(code, { maxLength, size: 'max' }));
      return fc.tuple(fc.constant(k), values);
    });
}

function roundTrips(k: number, values: number[]): void {
  const bits = bitsPerCode(k);
  const packed = packBits(values, bits);
  assert.equal(packed.length, Math.ceil((values.length * bits) / 8));
  assert.deepEqual(unpackBits(packed, bits, values.length), Int32Array.from(values));
  // Padding bits in the last byte are zero.
  const used = (values.length * bits) % 8;
  if (used !== 0) assert.equal(packed[packed.length - 1]! & ((1 << (8 - used)) - 1), 0);
}

test('pack -> unpack round-trips for K in 2..65536', () => {
  fc.assert(fc.property(codesArb(2, 65536, 300), ([k, values]) => roundTrips(k, values)));
});

test('pack -> unpack round-trips for large K up to 2^24', () => {
  fc.assert(fc.property(codesArb(65537, 2 ** 24, 200), ([k, values]) => roundTrips(k, values)), { numRuns: 30 });
});

test('pack -> unpack round-trips at every width with extreme values', () => {
  for (let bits = 1; bits <= 24; bits++) {
    const max = 2 ** bits - 1;
    const values = [0, max, 1, max, 0, 0, max >>> 1, max];
    assert.deepEqual(unpackBits(packBits(values, bits), bits, values.length), Int32Array.from(values));
  }
});

test('packing is MSB-first', () => {
  assert.deepEqual(packBits([1, 0, 1], 1), Uint8Array.of(0b1010_0000));
  assert.deepEqual(packBits([0xabc], 12), Uint8Array.of(0xab, 0xc0));
  assert.deepEqual(packBits([0xabc, 0xdef], 12), Uint8Array.of(0xab, 0xcd, 0xef));
  assert.deepEqual(packBits([0x123456], 24), Uint8Array.of(0x12, 0x34, 0x56));
  assert.deepEqual(packBits([], 7), new Uint8Array(0));
});

test('out-of-range and non-integer values are rejected', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 24 }), fc.nat(20), (bits, at) => {
      const values = new Array<number>(at + 1).fill(0);
      for (const bad of [2 ** bits, 2 ** bits + 5, -1, 0.5, NaN, Infinity]) {
        values[at] = bad;
        assert.throws(() => packBits(values, bits), VqcodecError);
      }
    }),
    { numRuns: 50 },
  );
});

test('invalid widths and short input are rejected', () => {
  for (const bits of [0, 25, 1.5, -3]) {
    assert.throws(() => packBits([0], bits), VqcodecError);
    assert.throws(() => unpackBits(new Uint8Array(8), bits, 1), VqcodecError);
  }
  assert.throws(() => unpackBits(new Uint8Array(2), 12, 2), VqcodecError); // needs 3 bytes
  assert.throws(() => unpackBits(new Uint8Array(2), 8, -1), VqcodecError);
  assert.deepEqual(unpackBits(new Uint8Array(3), 12, 2), new Int32Array(2));
});

test('bitsPerCode at powers of two and around them', () => {
  assert.equal(bitsPerCode(2), 1);
  assert.equal(bitsPerCode(3), 2);
  for (let p = 2; p <= 24; p++) {
    assert.equal(bitsPerCode(2 ** p - 1), p, `K = 2^${p} - 1`);
    assert.equal(bitsPerCode(2 ** p), p, `K = 2^${p}`);
    if (p < 24) assert.equal(bitsPerCode(2 ** p + 1), p + 1, `K = 2^${p} + 1`);
  }
  for (const bad of [1, 0, -2, 2.5, NaN, Infinity, 2 ** 24 + 1, 2 ** 32]) {
    assert.throws(() => bitsPerCode(bad), VqcodecError, `K = ${bad}`);
  }
});

test('bitsPerCode is the smallest width that holds K - 1', () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 2 ** 24 }), (k) => {
      const bits = bitsPerCode(k);
      assert.ok(k - 1 < 2 ** bits && (bits === 1 || k - 1 >= 2 ** (bits - 1)));
    }),
  );
});

test('crc32 matches the IEEE check value', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
});

test('crc32 agrees with zlib', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 500 }), (bytes) => assert.equal(crc32(bytes), zlib.crc32(bytes))));
});

test('a million 10-bit codes round-trip (speed lives in npm run bench, not here)', () => {
  const n = 1_000_000;
  const values = new Int32Array(n);
  for (let i = 0; i < n; i++) values[i] = (i * 7919) % 1024;
  const packed = packBits(values, 10);
  assert.equal(packed.length, 1_250_000);
  assert.deepEqual(unpackBits(packed, 10, n), values);
});
