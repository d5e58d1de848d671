import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { VqcodecError } from '../src/errors.js';
import type { Tokens } from '../src/types.js';
import { crc32 } from '../src/tokens/crc32.js';
import { HEADER_BYTES } from '../src/tokens/formatV1.js';
import { TRAILER_BYTES } from '../src/tokens/tokenHeader.js';
import {
  decodeTokenFile,
  encodeTokenFile as encodeLatest,
  formatTokenHeader,
  inspectTokenFile,
  tokenFileSize,
  type TokenFileOptions,
} from '../src/tokens/tokenFile.js';
import { readTokenFile, writeTokenFile } from '../src/tokens/tokenFileFs.js';

// Most tests run on both versions; the layout tests on the version they document.
const VERSIONS: (1 | 2)[] = [1, 2];
let version: 1 | 2 = 1;
const encodeTokenFile = (tokens: Tokens, options: TokenFileOptions = {}) => encodeLatest(tokens, { version, ...options });
/** Runs `body` once per version (tests of both layouts). */
function bothVersions(name: string, body: () => void | Promise<void>): void {
  for (const v of VERSIONS) {
    test(`${name} (version ${v})`, async () => {
      version = v;
      try {
        await body();
      } finally {
        version = 1;
      }
    });
  }
}

const hexDigit = fc.constantFrom(...'0123456789abcdef'.split(''));
const fingerprintArb = fc.array(hexDigit, { minLength: 16, maxLength: 16 }).map((d) => d.join(''));

// fc.integer stops at 2^31 - 1; build full-range u32s from two halves.
const u32Arb = fc.tuple(fc.nat(0xffff), fc.nat(0xffff)).map(([hi, lo]) => hi * 0x10000 + lo);

/** Random valid Tokens; K is mostly small, sometimes up to 2^24. */
const tokensArb: fc.Arbitrary<Tokens> = fc
  .record({
    codebookSize: fc.oneof(fc.integer({ min: 2, max: 65536 }), fc.integer({ min: 2, max: 2 ** 24 })),
    numCodebooks: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.constant(255)),
    frames: fc.integer({ min: 0, max: 40 }),
    hop: fc.integer({ min: 1, max: 4096 }),
    sampleRate: fc.oneof(fc.constantFrom(8000, 16000, 24000, 44100, 48000), u32Arb.filter((n) => n > 0)),
    fingerprint: fingerprintArb,
  })
  .chain((r) =>
    fc
      .tuple(
        fc.array(fc.integer({ min: 0, max: r.codebookSize - 1 }), {
          minLength: r.frames * r.numCodebooks,
          maxLength: r.frames * r.numCodebooks,
        }),
        fc.integer({ min: 0, max: r.frames * r.hop }) // at most 40 x 4096,
      )
      .map(([codes, originalLength]) => ({
        codes: Int32Array.from(codes),
        frames: r.frames,
        numCodebooks: r.numCodebooks,
        codebookSize: r.codebookSize,
        hop: r.hop,
        sampleRate: r.sampleRate,
        originalLength,
        modelFingerprint: r.fingerprint,
      })),
  );

function sample(): Tokens {
  const frames = 13;
  const numCodebooks = 3;
  const codes = new Int32Array(frames * numCodebooks);
  for (let i = 0; i < codes.length; i++) codes[i] = (i * 37) % 1000;
  return {
    codes,
    frames,
    numCodebooks,
    codebookSize: 1000,
    hop: 320,
    sampleRate: 16000,
    originalLength: 4000,
    modelFingerprint: '0123456789abcdef',
  };
}

/** Asserts decoding fails with a one-line VqcodecError that names the file. */
function assertRejected(bytes: Uint8Array, what: string, message?: RegExp): void {
  assert.throws(
    () => decodeTokenFile(bytes, 'clip.vqt'),
    (err: unknown) => {
      assert.ok(err instanceof VqcodecError, `${what}: not a VqcodecError: ${String(err)}`);
      assert.ok(err.message.includes('clip.vqt'), `${what}: message does not name the file: ${err.message}`);
      assert.ok(!err.message.includes('\n'), `${what}: message is not one line`);
      if (message) assert.match(err.message, message, what);
      return true;
    },
  );
}

/** Re-stamps the CRC so a deliberately edited file passes the checksum. */
function fixCrc(bytes: Uint8Array): Uint8Array {
  const at = bytes.length - TRAILER_BYTES;
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(at, crc32(bytes.subarray(0, at)), true);
  return bytes;
}

function edited(edit: (view: DataView, bytes: Uint8Array) => void, tokens = sample()): Uint8Array {
  const bytes = encodeTokenFile(tokens);
  edit(new DataView(bytes.buffer, bytes.byteOffset), bytes);
  return fixCrc(bytes);
}

bothVersions('random tokens round-trip and the file has exactly tokenFileSize bytes', () => {
  fc.assert(
    fc.property(tokensArb, (tokens) => {
      const bytes = encodeTokenFile(tokens);
      assert.equal(bytes.length, tokenFileSize(tokens, version));
      assert.deepEqual(decodeTokenFile(bytes), tokens);
    }),
  );
});

bothVersions('decodes a view that does not start at offset 0 of its buffer (like pooled Buffers)', () => {
  const bytes = encodeTokenFile(sample());
  const big = new Uint8Array(bytes.length + 7);
  big.set(bytes, 3);
  assert.deepEqual(decodeTokenFile(big.subarray(3, 3 + bytes.length)), sample());
});

test('the version-1 layout matches the documented header', () => {
  const bytes = encodeTokenFile(sample());
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  assert.equal(HEADER_BYTES, 34);
  assert.equal(TRAILER_BYTES, 4);
  assert.equal(new TextDecoder().decode(bytes.subarray(0, 4)), 'VQTK');
  assert.equal(bytes[4], 1);
  assert.deepEqual(bytes.subarray(5, 13), Uint8Array.of(0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef));
  assert.equal(view.getUint32(13, true), 16000);
  assert.equal(view.getUint32(17, true), 320);
  assert.equal(view.getUint32(21, true), 1000);
  assert.equal(bytes[25], 3);
  assert.equal(view.getUint32(26, true), 13);
  assert.equal(view.getUint32(30, true), 4000);
  // 39 codes x 10 bits = 390 bits -> 49 bytes.
  assert.equal(bytes.length, 34 + 49 + 4);
  assert.equal(tokenFileSize(sample(), 1), bytes.length);
  assert.equal(tokenFileSize({ ...sample(), frames: 0, numCodebooks: 1, codebookSize: 2, originalLength: 0 }, 1), 38);
});

bothVersions('every single-bit flip is rejected (header, payload and CRC)', () => {
  const bytes = encodeTokenFile(sample());
  for (let i = 0; i < bytes.length; i++) {
    for (let b = 0; b < 8; b++) {
      const copy = bytes.slice();
      copy[i]! ^= 1 << b;
      assertRejected(copy, `flip of bit ${b} in byte ${i}`);
    }
  }
});

bothVersions('bit flips in random token files are rejected', () => {
  fc.assert(
    fc.property(tokensArb, fc.nat(), fc.nat(7), (tokens, pos, bit) => {
      const bytes = encodeTokenFile(tokens);
      bytes[pos % bytes.length]! ^= 1 << bit;
      assertRejected(bytes, `flip at ${pos % bytes.length}`);
    }),
  );
});

bothVersions('truncation at every length is rejected', () => {
  const bytes = encodeTokenFile(sample());
  for (let n = 0; n < bytes.length; n++) assertRejected(bytes.subarray(0, n), `truncated to ${n} bytes`);
  const longer = new Uint8Array(bytes.length + 1);
  longer.set(bytes);
  assertRejected(longer, 'one trailing byte', /header implies/);
});

bothVersions('wrong magic is rejected as not a token file', () => {
  const bytes = encodeTokenFile(sample());
  bytes[0] = 0x52; // "RQTK"
  assertRejected(bytes, 'wrong magic', /not a vqcodec token file/);
  assertRejected(new TextEncoder().encode('RIFF....WAVEfmt '), 'a wav header', /not a vqcodec token file/);
});

bothVersions('a CRC mismatch says the file is corrupted', () => {
  const bytes = encodeTokenFile(sample());
  bytes[bytes.length - 10]! ^= 0x10;
  assertRejected(bytes, 'payload flip', /corrupted \(checksum mismatch\)/);
});

test('impossible header values are rejected even with a valid CRC', () => {
  assertRejected(edited((_, b) => (b[4] = 4)), 'version 4', /version 4; this vqcodec reads versions 1, 2 and 3/);
  assertRejected(edited((v) => v.setUint32(21, 1, true)), 'K = 1', /codebook size 1/);
  assertRejected(edited((v) => v.setUint32(21, 0, true)), 'K = 0', /codebook size 0/);
  assertRejected(edited((v) => v.setUint32(21, 2 ** 24 + 1, true)), 'K > 2^24', /codebook size/);
  assertRejected(edited((v) => v.setUint32(13, 0, true)), 'sample rate 0', /sample rate 0/);
  assertRejected(edited((v) => v.setUint32(17, 0, true)), 'hop 0', /hop 0/);
  assertRejected(edited((v) => v.setUint32(30, 13 * 320 + 1, true)), 'original length', /original length/);
  // numCodebooks 0 means no payload: build a frames = 0 file so the size still matches.
  const empty = { ...sample(), frames: 0, codes: new Int32Array(0), originalLength: 0 };
  assertRejected(edited((_, b) => (b[25] = 0), empty), '0 codebooks', /0 codebooks/);
});

test('a code >= K is rejected even with a valid CRC', () => {
  // K = 3 uses 2 bits, so the bit pattern 11 (= 3) is representable but out of range.
  const tokens: Tokens = { ...sample(), codebookSize: 3, codes: new Int32Array(39).fill(2) };
  assertRejected(edited((_, b) => (b[HEADER_BYTES] = 0b1100_0000), tokens), 'code 3 with K = 3', /code 3/);
});

bothVersions('encode validates its input', () => {
  const bad: [string, Partial<Tokens>][] = [
    ['codes length', { codes: new Int32Array(38) }],
    ['code >= K', { codes: new Int32Array(39).fill(1000) }],
    ['negative code', { codes: new Int32Array(39).fill(-1) }],
    ['0 codebooks', { numCodebooks: 0, codes: new Int32Array(0) }],
    ['256 codebooks', { numCodebooks: 256, codes: new Int32Array(13 * 256) }],
    ['K = 1', { codebookSize: 1, codes: new Int32Array(39) }],
    ['K > 2^24', { codebookSize: 2 ** 24 + 1 }],
    ['uppercase fingerprint', { modelFingerprint: '0123456789ABCDEF' }],
    ['short fingerprint', { modelFingerprint: '0123456789abcde' }],
    ['sample rate 0', { sampleRate: 0 }],
    ['fractional sample rate', { sampleRate: 22050.5 }],
    ['hop 0', { hop: 0 }],
    ['original length > frames * hop', { originalLength: 13 * 320 + 1 }],
    ['negative frames', { frames: -1 }],
  ];
  for (const [what, patch] of bad) {
    assert.throws(() => encodeTokenFile({ ...sample(), ...patch }), VqcodecError, what);
  }
});

bothVersions('write and read through a temp dir, leaving no temp file behind', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vqt-test-'));
  try {
    const file = path.join(dir, 'nested', 'clip.vqt');
    const tokens = sample();
    await writeTokenFile(file, tokens);
    assert.deepEqual(await readTokenFile(file), tokens);
    assert.deepEqual(await fs.readdir(path.dirname(file)), ['clip.vqt']);
    // Overwriting works too.
    const other = { ...tokens, originalLength: 1 };
    await writeTokenFile(file, other);
    assert.deepEqual(await readTokenFile(file), other);
    assert.deepEqual(await fs.readdir(path.dirname(file)), ['clip.vqt']);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

bothVersions('reading a missing or corrupted file gives a VqcodecError naming it', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vqt-test-'));
  try {
    const missing = path.join(dir, 'nope.vqt');
    await assert.rejects(readTokenFile(missing), (err: unknown) => {
      assert.ok(err instanceof VqcodecError);
      assert.equal(err.message, `no such file: ${missing}`);
      return true;
    });
    const broken = path.join(dir, 'broken.vqt');
    const bytes = encodeTokenFile(sample());
    await fs.writeFile(broken, bytes.subarray(0, bytes.length - 1));
    await assert.rejects(readTokenFile(broken), (err: unknown) => {
      assert.ok(err instanceof VqcodecError);
      assert.ok(err.message.includes(broken));
      return true;
    });
    await assert.rejects(readTokenFile(dir), VqcodecError);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('formatTokenHeader summarises the header', () => {
  const bytes = encodeLatest({ ...sample(), frames: 500, codes: new Int32Array(1500), originalLength: 160000 });
  const text = formatTokenHeader(inspectTokenFile(bytes));
  assert.match(text, /format:\s+version 2, bit-packed/);
  assert.match(text, /fingerprint:\s+0123456789abcdef/);
  assert.match(text, /sample rate:\s+16000 Hz/);
  assert.match(text, /hop:\s+320 samples/);
  assert.match(text, /frame rate:\s+50 frames\/s/);
  assert.match(text, /codebook size:\s+1000/);
  assert.match(text, /bits per code:\s+10/);
  assert.match(text, /codebooks:\s+3/);
  assert.match(text, /frames:\s+500/);
  assert.match(text, /duration:\s+10 s/);
  // The whole file over 10 s: 500 frames x 3 codebooks x 10 bits, plus header and CRC.
  assert.equal(bytes.length, 1875 + 24 + 4);
  assert.match(text, /bitrate:\s+1522.4 bits\/s \(nominal bit-packed 1500 bits\/s\)/);
  const empty = formatTokenHeader(inspectTokenFile(encodeLatest({ ...sample(), frames: 0, codes: new Int32Array(0), originalLength: 0 })));
  assert.match(empty, /bitrate:\s+n\/a/);
});
