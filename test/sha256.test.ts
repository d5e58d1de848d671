/** The pure-JS SHA-256 (src/io/sha256.ts) against node:crypto: the model fingerprint depends on it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { Sha256, sha256Hex } from '../src/io/sha256.js';

test('sha256 matches the FIPS 180-4 examples', () => {
  assert.equal(sha256Hex(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(sha256Hex('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'), '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
});

test('sha256 equals node:crypto for any bytes fed in any pieces', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 6 }), (pieces) => {
      const ours = new Sha256();
      const node = createHash('sha256');
      for (const p of pieces) {
        ours.update(p);
        node.update(p);
      }
      assert.equal(ours.digestHex(), node.digest('hex'));
    }),
    { numRuns: 300 },
  );
  for (const n of [55, 56, 63, 64, 65, 119, 120, 1000, 100_003]) {
    const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 255);
    assert.equal(sha256Hex(bytes), createHash('sha256').update(bytes).digest('hex'), `${n} bytes`);
  }
  assert.equal(sha256Hex('naïve ☃'), createHash('sha256').update('naïve ☃').digest('hex'));
});
