/**
 * Multi-rate tokens in `.vqt` files (version 3): dense grids whose coarse codes repeat over
 * their windows round-trip one-shot and streamed, bit-packed and context-coded, for many
 * stride sets, frame counts (partial last windows included) and codebook sizes; files store
 * one code per window, in time order; a damaged, truncated or forged file is refused with a
 * one-line error naming it; a grid that does not repeat is refused; and single-rate tokens
 * are still written as the version-2 files they were.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ContextModel } from '../src/entropy/contextModel.js';
import { payloadBits, type EntropyModels, type TokenCoding } from '../src/entropy/payload.js';
import { VqcodecError } from '../src/errors.js';
import { Random } from '../src/train/random.js';
import { bitsPerCode, packedByteLength, unpackBits } from '../src/tokens/bitpack.js';
import { fromStreams, storedCodeCount } from '../src/tokens/codeStrides.js';
import { crc32 } from '../src/tokens/crc32.js';
import { decodeTokenFile, encodeHeader, encodeTokenFile, formatTokenHeader, inspectTokenFile, tokenFileSize } from '../src/tokens/tokenFile.js';
import { readTokenFile } from '../src/tokens/tokenFileFs.js';
import { TokenFileReader, TokenFileWriter } from '../src/tokens/tokenStream.js';
import { TRAILER_BYTES } from '../src/tokens/tokenHeader.js';
import type { Tokens } from '../src/types.js';

const FINGERPRINT = '00112233aabbccdd';
const STRIDE_SETS = [[2, 1], [4, 2, 1], [4, 4, 2, 1, 1], [8, 8, 4, 2, 1], [4]];
const FRAME_COUNTS = [0, 1, 2, 3, 4, 5, 7, 8, 9, 17, 64, 67];

/** A dense grid: each codebook's stored codes (sticky, so the context model has something to learn), repeated over their windows. */
function denseGrid(frames: number, strides: number[], K: number, random: Random): Int32Array {
  const streams = strides.map((s) => {
    const out = new Int32Array(Math.ceil(frames / s));
    for (let w = 0; w < out.length; w++) out[w] = w > 0 && random.next() < 0.5 ? out[w - 1]! : random.int(K);
    return out;
  });
  return fromStreams(streams, frames, strides);
}

function multiRate(frames: number, strides: number[], K: number, seed = 1): Tokens {
  const codes = denseGrid(frames, strides, K, new Random(seed));
  return { codes, frames, numCodebooks: strides.length, codebookSize: K, hop: 320, sampleRate: 16000, originalLength: Math.max(0, frames * 320 - 17), modelFingerprint: FINGERPRINT, codeStrides: [...strides] };
}

/** A context model fitted on dense multi-rate grids of these strides. */
function fitted(K: number, strides: number[]): ContextModel {
  const files = Array.from({ length: 6 }, (_, i) => ({ codes: denseGrid(120, strides, K, new Random(100 + i)), numCodebooks: strides.length }));
  return ContextModel.fit(files, FINGERPRINT, K, strides.length, { contextCodebooks: Math.min(2, strides.length), alpha: 20 });
}

function assertOneLine(fn: () => unknown, pattern: RegExp, what = ''): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof VqcodecError, `${what}: ${String(err)}`);
    assert.ok(!err.message.includes('\n'), what);
    assert.match(err.message, pattern, what);
    return true;
  });
}

/** Re-stamps the CRC of a deliberately edited file. */
function fixCrc(bytes: Uint8Array): Uint8Array {
  const at = bytes.length - TRAILER_BYTES;
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(at, crc32(bytes.subarray(0, at)), true);
  return bytes;
}

test('a [4, 2, 1] grid of 8 frames stores 2 + 4 + 8 codes, in time order, lowest codebook first', () => {
  assert.equal(storedCodeCount(8, [4, 2, 1]), 14);
  const tokens = multiRate(8, [4, 2, 1], 1000);
  const bytes = encodeTokenFile(tokens);
  const { payloadOffset } = inspectTokenFile(bytes);
  assert.equal(bytes.length, payloadOffset + packedByteLength(14, 10) + TRAILER_BYTES);
  const stored = unpackBits(bytes.subarray(payloadOffset), 10, 14);
  const at = (t: number, q: number) => tokens.codes[t * 3 + q]!;
  // Frame 0 and 4 store every codebook, frames 2 and 6 codebooks 1 and 2, odd frames codebook 2.
  const order = [[0, 0], [0, 1], [0, 2], [1, 2], [2, 1], [2, 2], [3, 2], [4, 0], [4, 1], [4, 2], [5, 2], [6, 1], [6, 2], [7, 2]];
  assert.deepEqual([...stored], order.map(([t, q]) => at(t!, q!)));
});

test('the version-3 header is version 2\'s with one stride per codebook right after Q', () => {
  const tokens = multiRate(50, [4, 2, 1], 1024);
  const bytes = encodeTokenFile(tokens);
  assert.equal(bytes[4], 3);
  assert.equal(bytes[5], 0); // bit-packed
  // Fingerprint (8), sample rate 16000 (2 varint bytes), hop 320 (2), K 1024 (2), Q (1), then the strides.
  assert.equal(bytes[20], 3);
  assert.deepEqual([...bytes.subarray(21, 24)], [4, 2, 1]);
  assert.deepEqual([...bytes.subarray(24, 26)], [50, 17]); // frames, padding
  assert.equal(inspectTokenFile(bytes).payloadOffset, 26);
  // The same dense grid as version 2: 3 header bytes fewer, all 150 codes packed.
  const dense: Tokens = { ...tokens };
  delete dense.codeStrides;
  const v2 = encodeTokenFile(dense);
  assert.equal(v2[4], 2);
  assert.equal(bytes.length, v2.length + 3 - packedByteLength(150, 10) + packedByteLength(13 + 25 + 50, 10));
});

test('multi-rate tokens round-trip bit-packed, in header + packed stored codes + CRC bytes', () => {
  for (const strides of STRIDE_SETS) {
    for (const frames of FRAME_COUNTS) {
      for (const K of [2, 3, 16, 1000, 2 ** 24]) {
        const tokens = multiRate(frames, strides, K, frames * 31 + K);
        const bytes = encodeTokenFile(tokens);
        const what = `strides ${strides}, ${frames} frames, K ${K}`;
        const head = encodeHeader(tokens, { coding: 'none' });
        assert.equal(bytes.length, head.length + packedByteLength(storedCodeCount(frames, strides), bitsPerCode(K)) + TRAILER_BYTES, what);
        assert.equal(bytes.length, tokenFileSize(tokens), what);
        assert.equal(inspectTokenFile(bytes).version, 3, what);
        assert.deepEqual(decodeTokenFile(bytes, 'x.vqt'), tokens, what);
      }
    }
  }
});

test('multi-rate tokens round-trip context-coded, and cost what payloadBits says', () => {
  for (const strides of STRIDE_SETS) {
    for (const K of [2, 16, 1000]) {
      const context = fitted(K, strides);
      const models = { context };
      for (const frames of FRAME_COUNTS) {
        const tokens = multiRate(frames, strides, K, frames * 7 + K);
        const what = `strides ${strides}, ${frames} frames, K ${K}`;
        const bytes = encodeTokenFile(tokens, { coding: 'context', models });
        assert.equal(bytes[4], 3, what);
        assert.deepEqual(decodeTokenFile(bytes, 'x.vqt', models), tokens, what);
        const { payloadOffset } = inspectTokenFile(bytes);
        const ideal = payloadBits({ coding: 'context' }, tokens, models, tokens.codes).reduce((a, b) => a + b, 0) / 8;
        assert.ok(bytes.length - payloadOffset - TRAILER_BYTES <= Math.ceil(ideal) + 10, `${what}: ${bytes.length - payloadOffset - TRAILER_BYTES} bytes for ${ideal} ideal`);
      }
    }
  }
  const packed = payloadBits({ coding: 'none' }, multiRate(9, [4, 2, 1], 1000), {}, new Int32Array(27));
  assert.deepEqual([...packed], [3 * 10, 5 * 10, 9 * 10]);
});

test('only the stored codes are coded: a multi-rate file is smaller than its dense grid as version 2', () => {
  const tokens = multiRate(400, [4, 4, 2, 1, 1], 1024, 3);
  const dense: Tokens = { ...tokens };
  delete dense.codeStrides;
  const context = fitted(1024, [4, 4, 2, 1, 1]);
  for (const coding of ['none', 'context'] as const) {
    const multi = encodeTokenFile(tokens, { coding, models: { context } }).length;
    const single = encodeTokenFile(dense, { coding, models: { context } }).length;
    assert.ok(multi < single * 0.75, `${coding}: ${multi} bytes against ${single}`);
  }
});

test('streamed writing and reading give the one-shot bytes and dense codes, for random blocks', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vqt-multirate-'));
  const random = new Random(5);
  try {
    // The last case is over 64 KiB bit-packed, so the reader's chunks cut windows too.
    const cases: [number[], number, number][] = [...STRIDE_SETS.flatMap((s) => [0, 1, 5, 67].map((f) => [s, f, 16] as [number[], number, number])), [[4, 4, 2, 1, 1], 20003, 1024]];
    for (const [strides, frames, K] of cases) {
      const tokens = multiRate(frames, strides, K, frames + K);
      const { codes, ...header } = tokens;
      const Q = strides.length;
      const models: EntropyModels = { context: fitted(K, strides) };
      for (const coding of ['none', 'context'] as TokenCoding[]) {
        const what = `strides ${strides}, ${frames} frames, ${coding}`;
        const file = path.join(dir, `${coding}.vqt`);
        const writer = await TokenFileWriter.open(file, header, { coding, models });
        for (let f = 0; f < frames; ) {
          const n = Math.min(frames - f, 1 + random.int(frames > 1000 ? 3000 : 9));
          await writer.write(codes.slice(f * Q, (f + n) * Q));
          f += n;
        }
        await writer.close();
        const bytes = new Uint8Array(await fs.readFile(file));
        assert.deepEqual(bytes, encodeTokenFile(tokens, { coding, models }), what);
        assert.deepEqual(await readTokenFile(file, models), tokens, what);
        for (const perBlock of [1, 3, 7, 1 + random.int(5000)]) {
          const reader = await TokenFileReader.open(file);
          try {
            assert.deepEqual(reader.header, header, what);
            const blocks: Int32Array[] = [];
            for await (const block of reader.codes(perBlock, models)) blocks.push(block);
            blocks.forEach((b, i) => assert.ok(i < blocks.length - 1 ? b.length === perBlock * Q : b.length > 0 && b.length <= perBlock * Q, what));
            assert.deepEqual(Int32Array.from(blocks.flatMap((b) => [...b])), codes, `${what}, ${perBlock} frames a block`);
          } finally {
            await reader.close();
          }
        }
      }
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('every bit flip and every truncation of a version-3 file is refused, naming the file', () => {
  const tokens = multiRate(13, [4, 2, 1], 1000, 2);
  const context = fitted(1000, [4, 2, 1]);
  for (const coding of ['none', 'context'] as const) {
    const bytes = encodeTokenFile(tokens, { coding, models: { context } });
    for (let i = 0; i < bytes.length; i++) {
      for (let b = 0; b < 8; b++) {
        const copy = bytes.slice();
        copy[i]! ^= 1 << b;
        assertOneLine(() => decodeTokenFile(copy, 'clip.vqt', { context }), /clip\.vqt/, `${coding}: flip of bit ${b} in byte ${i}`);
      }
    }
    for (let n = 0; n < bytes.length; n++) assertOneLine(() => decodeTokenFile(bytes.subarray(0, n), 'clip.vqt', { context }), /clip\.vqt/, `${coding}: truncated to ${n}`);
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    assertOneLine(() => decodeTokenFile(longer, 'clip.vqt', { context }), /clip\.vqt/, `${coding}: one byte more`);
  }
});

test('forged version-3 headers are refused with a one-line error, even with a valid CRC', () => {
  const tokens = multiRate(13, [4, 2, 1], 1000, 2);
  const bytes = encodeTokenFile(tokens);
  const STRIDES_AT = 21; // after Q (see the layout test)
  const forged = (strides: number[]) => {
    const copy = bytes.slice();
    copy.set(strides, STRIDES_AT);
    return fixCrc(copy);
  };
  for (const [strides, pattern] of [
    [[1, 2, 1], /non-increasing/],
    [[4, 3, 1], /each dividing the one before/],
    [[0, 2, 1], /integers from 1 to 64/],
    [[128, 2, 1], /integers from 1 to 64/],
    [[1, 1, 1], /needs a code stride above 1/],
  ] as [number[], RegExp][]) {
    assertOneLine(() => decodeTokenFile(forged(strides), 'clip.vqt'), new RegExp(`^clip\\.vqt has an invalid header: .*${pattern.source}`), String(strides));
  }
  // Strides that store more codes than the file holds fail the size check, before the CRC.
  assertOneLine(() => decodeTokenFile(forged([2, 1, 1]), 'clip.vqt'), /clip\.vqt is truncated or corrupted: its header implies \d+ bytes/);
  // A version-2 file relabelled 3 reads its frames as strides.
  const v2 = encodeTokenFile({ ...multiRate(13, [1, 1, 1], 1000), codeStrides: undefined });
  v2[4] = 3;
  assertOneLine(() => decodeTokenFile(fixCrc(v2), 'clip.vqt'), /clip\.vqt/);
  // Prior coding does not exist for multi-rate codes.
  const context = fitted(1000, [4, 2, 1]);
  const coded = encodeTokenFile(tokens, { coding: 'context', models: { context } });
  coded[5] = 2;
  const withPrior = new Uint8Array([...coded.subarray(0, 30), ...new Uint8Array(8), ...coded.subarray(30)]);
  assertOneLine(() => decodeTokenFile(fixCrc(withPrior), 'clip.vqt', { context }), /clip\.vqt has an invalid header: prior coding of multi-rate codes/);
});

test('a code outside the codebook is refused at the same frame by readTokenFile and TokenFileReader', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vqt-multirate-'));
  try {
    // K = 10 in 4 bits; stored code 9 (frame 4, codebook 2: after 3+1+2+1+2 codes of frames 0..3 and 4's first two) becomes 15.
    const tokens = multiRate(13, [4, 2, 1], 10, 4);
    const bytes = encodeTokenFile(tokens);
    const { payloadOffset } = inspectTokenFile(bytes);
    const at = payloadOffset + 4; // codes 8 and 9 share this byte
    bytes[at] = (bytes[at]! & 0xf0) | 0x0f;
    const file = path.join(dir, 'bad.vqt');
    await fs.writeFile(file, fixCrc(bytes));
    let expected = '';
    await readTokenFile(file).catch((err: Error) => (expected = err.message));
    assert.match(expected, /code 15 at frame 4 is outside the codebook \(size 10\)/);
    await assert.rejects(TokenFileReader.open(file), (err: unknown) => err instanceof VqcodecError && err.message === expected);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('a grid whose coarse codes do not repeat over their windows is refused, one-shot and streamed', async () => {
  const tokens = multiRate(10, [4, 2, 1], 16, 6);
  const codes = tokens.codes.slice();
  codes[6 * 3 + 0] = (codes[6 * 3 + 0]! + 1) % 16; // frame 6 of codebook 0's second window (frames 4..7)
  assertOneLine(() => encodeTokenFile({ ...tokens, codes }), /at frame 6, codebook 0 differs from its window's code .*stride 4, frames 4\.\.7/);
  const { codes: _, ...header } = tokens;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vqt-multirate-'));
  try {
    const file = path.join(dir, 'bad.vqt');
    // The window spans the two blocks: frames 4..5, then 6..9.
    const writer = await TokenFileWriter.open(file, header);
    await writer.write(codes.slice(0, 6 * 3));
    await assert.rejects(writer.write(codes.slice(6 * 3)), (err: unknown) => err instanceof VqcodecError && /at frame 6, codebook 0 differs/.test(err.message));
    assert.deepEqual(await fs.readdir(dir), []);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('encoding checks the strides, the version and the coding', () => {
  const tokens = multiRate(8, [4, 2, 1], 16);
  assertOneLine(() => encodeTokenFile({ ...tokens, codeStrides: [4, 2] }), /one stride per codebook \(3\)/);
  assertOneLine(() => encodeTokenFile({ ...tokens, codeStrides: [4, 3, 1] }), /each dividing the one before/);
  assertOneLine(() => encodeTokenFile(tokens, { version: 2 }), /version 2 holds single-rate codes only/);
  assertOneLine(() => encodeTokenFile(tokens, { version: 1 }), /version 1 holds single-rate codes only/);
  assertOneLine(() => tokenFileSize(tokens, 2), /version 2 holds single-rate codes only/);
  const single: Tokens = { ...tokens, codeStrides: undefined };
  delete single.codeStrides;
  assertOneLine(() => encodeTokenFile(single, { version: 3 }), /version 3 holds multi-rate codes only/);
  const context = fitted(16, [4, 2, 1]);
  assertOneLine(() => encodeTokenFile(tokens, { coding: 'prior', models: { context } }), /^prior coding does not support multi-rate tokens yet$/);
});

/** Deterministic single-rate codes, as the version-2 goldens below were made (before version 3 existed). */
function singleRate(frames: number, Q: number, K: number, seed: number): Tokens {
  const random = new Random(seed);
  const codes = new Int32Array(frames * Q);
  for (let i = 0; i < codes.length; i++) codes[i] = i >= Q && random.next() < 0.5 ? codes[i - Q]! : random.int(K);
  return { codes, frames, numCodebooks: Q, codebookSize: K, hop: 320, sampleRate: 16000, originalLength: Math.max(0, frames * 320 - 17), modelFingerprint: FINGERPRINT };
}

test('single-rate tokens are still written as the version-2 files of before (goldens), codeStrides of all 1 included', () => {
  const stamp = (bytes: Uint8Array) => [bytes.length, new DataView(bytes.buffer, bytes.byteOffset).getUint32(bytes.length - 4, true)];
  // [frames, Q, K, seed] → [bytes, CRC-32 trailer], measured on the commit before version 3.
  const goldens: [number[], number[]][] = [
    [[0, 1, 2, 1], [26, 4238470429]],
    [[13, 3, 1000, 2], [76, 335215393]],
    [[57, 3, 16, 3], [112, 1829515616]],
  ];
  for (const [[f, q, k, s], golden] of goldens) {
    const tokens = singleRate(f!, q!, k!, s!);
    const bytes = encodeTokenFile(tokens);
    assert.equal(bytes[4], 2);
    assert.deepEqual(stamp(bytes), golden);
    assert.deepEqual(encodeTokenFile({ ...tokens, codeStrides: new Array<number>(q!).fill(1) }), bytes);
    assert.deepEqual(decodeTokenFile(bytes), tokens);
  }
  const context = ContextModel.fit([0, 1, 2, 3].map((i) => ({ codes: singleRate(100, 3, 16, 50 + i).codes, numCodebooks: 3 })), FINGERPRINT, 16, 3, { contextCodebooks: 2, alpha: 20 });
  assert.deepEqual(stamp(encodeTokenFile(singleRate(57, 3, 16, 4), { coding: 'context', models: { context } })), [107, 4114910787]);
});

test('formatTokenHeader shows each level and a nominal bitrate of the stored codes', () => {
  const tokens = multiRate(500, [4, 4, 2, 1], 1024);
  const bytes = encodeTokenFile(tokens);
  const text = formatTokenHeader(inspectTokenFile(bytes));
  assert.match(text, /format:\s+version 3, bit-packed/);
  assert.match(text, /codebooks:\s+4/);
  assert.match(text, /level 0:\s+stride 4, 12\.5 codes\/s, codebooks 0-1, 125 stored frames/);
  assert.match(text, /level 1:\s+stride 2, 25 codes\/s, codebook 2, 250 stored frames/);
  assert.match(text, /level 2:\s+stride 1, 50 codes\/s, codebook 3, 500 stored frames/);
  // (12.5 + 12.5 + 25 + 50) codes/s x 10 bits.
  assert.match(text, /nominal bit-packed 1000 bits\/s/);
  assert.doesNotMatch(formatTokenHeader(inspectTokenFile(encodeTokenFile(singleRate(10, 2, 16, 1)))), /level/);
});
