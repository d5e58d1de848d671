/**
 * Entropy-coded token files: the range coder is lossless on random symbol streams under
 * random tables; the context model fits, serializes and predicts better than bit-packing on
 * correlated codes; token files coded under it (and under a small random prior) round-trip
 * for many K and lengths, one-shot and streamed, and a corrupted or mis-modelled file is
 * refused with a one-line error, never decoded into other codes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { initBackend } from '../src/backend.js';
import { ContextModel, type CodeSequence } from '../src/entropy/contextModel.js';
import { PRIOR_MIX_WEIGHT, payloadBits, type EntropyModels, type PayloadCoding } from '../src/entropy/payload.js';
import { FrequencyTable, MAX_TOTAL, RangeDecoder, RangeEncoder, quantizeProbabilities } from '../src/entropy/rangeCoder.js';
import { VqcodecError } from '../src/errors.js';
import { ExactPrior } from '../src/prior/exactPrior.js';
import { TokenPrior } from '../src/prior/transformer.js';
import { Random } from '../src/train/random.js';
import { ByteWriter } from '../src/io/bytes.js';
import { crc32 } from '../src/tokens/crc32.js';
import { decodeTokenFile, encodeTokenFile, inspectTokenFile, tokenFileSize } from '../src/tokens/tokenFile.js';
import { TokenFileReader, TokenFileWriter } from '../src/tokens/tokenStream.js';
import type { Tokens } from '../src/types.js';

const FINGERPRINT = '00112233aabbccdd';

/** Codes of `frames` frames from a sticky Markov chain per codebook (each codebook leaning on the one above), like speech tokens. */
function markovCodes(frames: number, Q: number, K: number, seed: number): Int32Array {
  const random = new Random(seed);
  const codes = new Int32Array(frames * Q);
  for (let t = 0; t < frames; t++) {
    for (let q = 0; q < Q; q++) {
      const prev = t > 0 ? codes[(t - 1) * Q + q]! : random.int(K);
      const upper = q > 0 ? codes[t * Q + q - 1]! : prev;
      const r = random.next();
      codes[t * Q + q] = r < 0.6 ? prev : r < 0.85 ? (upper * 7 + 3) % K : random.int(K);
    }
  }
  return codes;
}

function tokensOf(codes: Int32Array, Q: number, K: number): Tokens {
  const frames = codes.length / Q;
  return { codes, frames, numCodebooks: Q, codebookSize: K, hop: 320, sampleRate: 16000, originalLength: Math.max(0, frames * 320 - 17), modelFingerprint: FINGERPRINT };
}

function fitted(K: number, Q: number, seed = 1): ContextModel {
  const files: CodeSequence[] = Array.from({ length: 20 }, (_, i) => ({ codes: markovCodes(200, Q, K, seed * 100 + i), numCodebooks: Q }));
  return ContextModel.fit(files, FINGERPRINT, K, Q, { contextCodebooks: Math.min(2, Q), alpha: 20 });
}

function assertOneLine(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof VqcodecError, String(err));
    assert.ok(!err.message.includes('\n'));
    assert.match(err.message, pattern);
    return true;
  });
}

test('the range coder is lossless on random streams under random tables', () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 3000 }), fc.integer({ min: 0, max: 1500 }), fc.integer(), (K, n, seed) => {
      const random = new Random(seed);
      // A few tables, from flat to very skewed, used in turn.
      const tables = Array.from({ length: 3 }, (_, i) => {
        const p = Float64Array.from({ length: K }, () => random.next() ** (1 + 8 * i));
        const sum = p.reduce((a, b) => a + b, 0);
        return quantizeProbabilities(p.map((v) => v / sum));
      });
      const symbols = Int32Array.from({ length: n }, (_, i) => {
        // Mostly likely symbols (where skew makes codes short), sometimes any.
        const table = tables[i % 3]!;
        return random.next() < 0.7 ? table.freq.indexOf(Math.max(...table.freq)) : random.int(K);
      });
      const encoder = new RangeEncoder();
      symbols.forEach((s, i) => tables[i % 3]!.encode(encoder, s));
      const bytes = encoder.finish();
      const decoder = new RangeDecoder(bytes);
      const back = Int32Array.from({ length: n }, (_, i) => tables[i % 3]!.decode(decoder));
      assert.deepEqual(back, symbols);
    }),
    { numRuns: 60 },
  );
});

test('the coded size is close to the ideal −Σ log2 p', () => {
  const K = 1024;
  const random = new Random(5);
  const p = Float64Array.from({ length: K }, () => random.next() ** 6);
  const sum = p.reduce((a, b) => a + b, 0);
  const table = quantizeProbabilities(p.map((v) => v / sum));
  const encoder = new RangeEncoder();
  let ideal = 0;
  for (let i = 0; i < 20000; i++) {
    // Draw from the table itself.
    const target = random.int(table.total);
    let s = 0;
    while (table.cumulative[s + 1]! <= target) s++;
    table.encode(encoder, s);
    ideal += Math.log2(table.total / table.freq[s]!);
  }
  const bits = encoder.finish().length * 8;
  assert.ok(bits < ideal * 1.001 + 64, `${bits} bits against an ideal ${ideal.toFixed(0)}`);
});

test('quantized tables never drop a symbol, stay within the total and cap the likeliest at 63/64', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constant(0), fc.constant(NaN)), { minLength: 2, maxLength: 5000 }), (raw) => {
      const sum = raw.reduce((a, b) => a + (Number.isNaN(b) ? 0 : b), 0) || 1;
      const table = quantizeProbabilities(raw.map((v) => v / sum));
      assert.ok(table.total <= MAX_TOTAL);
      assert.ok(table.freq.every((f) => f >= 1));
      assert.ok(Math.max(...table.freq) * 64 <= table.total * 63);
    }),
    { numRuns: 200 },
  );
  const certain = quantizeProbabilities([1, 0]);
  assert.deepEqual([...certain.freq], [63, 1]);
  assert.throws(() => new FrequencyTable(Uint32Array.of(3, 0)), VqcodecError);
});

test('the context model predicts correlated codes in fewer bits than bit-packing, and survives serialization', () => {
  const K = 64;
  const model = fitted(K, 3);
  const held = [{ codes: markovCodes(300, 3, K, 999), numCodebooks: 3 }];
  const bits = model.crossEntropy(held);
  assert.ok(bits[0]! < 5 && bits[1]! < 5, `codebooks 0 and 1 cost ${bits.map((b) => b.toFixed(2))} bits (packed: 6)`);
  const again = ContextModel.parse(model.serialize());
  assert.equal(again.id, model.id);
  assert.equal(again.codecFingerprint, FINGERPRINT);
  assert.deepEqual(again.crossEntropy(held), bits);
  for (const [q, prev, upper] of [[0, -1, -1], [1, 5, 7], [2, 1, 2], [1, 63, 0]] as const) {
    assert.deepEqual(again.table(q, prev, upper).freq, model.table(q, prev, upper).freq);
  }
});

test('a damaged context model file is refused', () => {
  const bytes = fitted(16, 2).serialize();
  for (const at of [0, 6, 20, bytes.length - 9, bytes.length - 1]) {
    const copy = bytes.slice();
    copy[at]! ^= 0x40;
    assertOneLine(() => ContextModel.parse(copy, 'cm.bin'), /cm\.bin/);
  }
  assertOneLine(() => ContextModel.parse(bytes.subarray(0, 30), 'cm.bin'), /cm\.bin/);
});

test('context-coded token files round-trip for many K and lengths, and are smaller on correlated codes', () => {
  for (const K of [2, 3, 16, 1000, 1024]) {
    for (const Q of [1, 2, 4]) {
      const context = fitted(K, Q);
      for (const frames of [0, 1, 2, 7, 150]) {
        const tokens = tokensOf(markovCodes(frames, Q, K, K + Q + frames), Q, K);
        const bytes = encodeTokenFile(tokens, { coding: 'context', models: { context } });
        assert.deepEqual(decodeTokenFile(bytes, 'x.vqt', { context }), tokens, `K ${K}, Q ${Q}, ${frames} frames`);
        if (frames === 150 && K >= 16 && Q <= 2) assert.ok(bytes.length < tokenFileSize(tokens) * 0.9, `K ${K}, Q ${Q}: ${bytes.length} bytes against ${tokenFileSize(tokens)} packed`);
      }
      // Uniformly random codes round-trip too (the model is wrong about them, never lossy).
      const random = new Random(K * Q);
      const noise = tokensOf(Int32Array.from({ length: 40 * Q }, () => random.int(K)), Q, K);
      assert.deepEqual(decodeTokenFile(encodeTokenFile(noise, { coding: 'context', models: { context } }), 'x', { context }), noise);
    }
  }
});

test('a corrupted or mis-modelled entropy-coded file is refused, never decoded into other codes', () => {
  const K = 64;
  const context = fitted(K, 2);
  const tokens = tokensOf(markovCodes(80, 2, K, 3), 2, K);
  const bytes = encodeTokenFile(tokens, { coding: 'context', models: { context } });
  for (let i = 0; i < bytes.length; i++) {
    for (let b = 0; b < 8; b += 3) {
      const copy = bytes.slice();
      copy[i]! ^= 1 << b;
      assertOneLine(() => decodeTokenFile(copy, 'x.vqt', { context }), /x\.vqt/);
    }
  }
  for (let n = 0; n < bytes.length; n++) assertOneLine(() => decodeTokenFile(bytes.subarray(0, n), 'x.vqt', { context }), /x\.vqt/);
  assertOneLine(() => decodeTokenFile(bytes, 'x.vqt'), /context model/);
  const other = fitted(K, 2, 7);
  assertOneLine(() => decodeTokenFile(bytes, 'x.vqt', { context: other }), /coded with context model [0-9a-f]{8}, but this codec's is [0-9a-f]{8}/);
  assert.equal(inspectTokenFile(bytes).coding.contextModelId, context.id);
});

test('a header claiming more codes than its payload can hold is refused before decoding', () => {
  const context = fitted(16, 1);
  const tokens = tokensOf(new Int32Array(3), 1, 16);
  const bytes = encodeTokenFile(tokens, { coding: 'context', models: { context } });
  // Frames is the varint after sample rate (2 bytes), hop (2), K (1) and Q (1): offset 14 + 6.
  const forged = new Uint8Array(bytes.length + 4);
  forged.set(bytes.subarray(0, 20));
  forged.set([0xff, 0xff, 0xff, 0xff, 0x0f], 20); // 2^32 − 1 frames
  forged.set(bytes.subarray(21), 25);
  assertOneLine(() => decodeTokenFile(forged, 'big.vqt', { context }), /cannot hold|corrupted|truncated/);
});

test('a frame count forged up to what the payload could hold is refused once the payload runs out', () => {
  const context = fitted(16, 3);
  const tokens = tokensOf(markovCodes(50, 3, 16, 9), 3, 16);
  const bytes = encodeTokenFile(tokens, { coding: 'context', models: { context } });
  const { payloadOffset } = inspectTokenFile(bytes);
  const payload = bytes.length - payloadOffset - 4;
  // Frames sit after the fingerprint (14), sample rate (2 bytes), hop (2), K (1) and Q (1), as one byte (50).
  const frames = Math.floor((360 * (payload + 8)) / 3);
  const forged = new Uint8Array([...bytes.subarray(0, 20), ...new ByteWriter().varint(frames).finish(), ...bytes.subarray(21)]);
  new DataView(forged.buffer).setUint32(forged.length - 4, crc32(forged.subarray(0, forged.length - 4)), true);
  const start = performance.now();
  assertOneLine(() => decodeTokenFile(forged, 'forged.vqt', { context }), /forged\.vqt is corrupted: its payload ends before frame \d+ of \d+/);
  assert.ok(performance.now() - start < 1000);
});

test('a long run of each table\'s first code (all-zero coded bytes) is stored in enough bytes to be read back', () => {
  // Code 0 starts every table, so the coder's low end never moves and every byte it emits is 0:
  // dropping trailing zeros used to leave an empty payload, which the reader's bound refused.
  const K = 16;
  const Q = 3;
  const context = ContextModel.fit([{ codes: new Int32Array(2000 * Q), numCodebooks: Q }], FINGERPRINT, K, Q, { contextCodebooks: 2, alpha: 1 });
  for (const frames of [100, 1000, 20000]) {
    const tokens = tokensOf(new Int32Array(frames * Q), Q, K);
    const bytes = encodeTokenFile(tokens, { coding: 'context', models: { context } });
    assert.deepEqual(decodeTokenFile(bytes, 'silence.vqt', { context }).codes, tokens.codes, `${frames} frames`);
    assert.ok(bytes.length <= 40 + Math.ceil((frames * Q) / 360), `${frames} frames take ${bytes.length} bytes`);
  }
});

let priorModel: TokenPrior | undefined;
let models: EntropyModels;

before(async () => {
  await initBackend('wasm');
  priorModel = new TokenPrior({ numCodebooks: 2, codebookSize: 16, width: 16, layers: 1, heads: 2, context: 10 }, 4);
  models = { context: fitted(16, 3), prior: { predictor: ExactPrior.fromPrior(priorModel), fingerprint: 'feedfacecafebeef' } };
});

after(() => priorModel?.dispose());

test('prior-coded token files round-trip (prior codebooks in delay order, the rest under the context model)', () => {
  for (const Q of [1, 2, 3]) {
    for (const frames of [0, 1, 2, 3, 9, 40]) {
      const tokens = tokensOf(markovCodes(frames, Q, 16, Q * 50 + frames), Q, 16);
      const bytes = encodeTokenFile(tokens, { coding: 'prior', models });
      assert.deepEqual(decodeTokenFile(bytes, 'p.vqt', models), tokens, `Q ${Q}, ${frames} frames`);
      // The prior alone (Q ≤ its 2 codebooks) names it by 4 bytes; the mixture by its whole fingerprint.
      assert.equal(inspectTokenFile(bytes).coding.priorFingerprint, Q <= 2 ? 'feedface' : 'feedfacecafebeef');
    }
  }
  const bytes = encodeTokenFile(tokensOf(markovCodes(5, 2, 16, 1), 2, 16), { coding: 'prior', models });
  assertOneLine(() => decodeTokenFile(bytes, 'p.vqt', { context: models.context }), /pass it with --prior/);
  assertOneLine(() => decodeTokenFile(bytes, 'p.vqt', { ...models, prior: { ...models.prior!, fingerprint: '0000000000000000' } }), /coded with prior feedface, not 0000000000000000/);
  const mixed = encodeTokenFile(tokensOf(markovCodes(5, 3, 16, 1), 3, 16), { coding: 'prior', models });
  assertOneLine(() => decodeTokenFile(mixed, 'm.vqt', { ...models, prior: { ...models.prior!, fingerprint: 'feedface00000000' } }), /coded with prior feedfacecafebeef, not feedface00000000/);
});

test('a file of the prior\'s codebooks only is coded by the prior alone (coding 5): no context model named, the prior by 4 bytes, 8 header bytes fewer', () => {
  const tokens = tokensOf(markovCodes(30, 2, 16, 3), 2, 16);
  const alone = encodeTokenFile(tokens, { coding: 'prior', models });
  assert.equal(alone[5], 5);
  const info = inspectTokenFile(alone);
  assert.equal(info.coding.contextModelId, undefined);
  assert.equal(info.coding.priorFingerprint, 'feedface');
  // It needs no context model to decode.
  assert.deepEqual(decodeTokenFile(alone, 'alone.vqt', { prior: models.prior }), tokens);
  assert.deepEqual(decodeTokenFile(alone, 'alone.vqt', models), tokens);
  // Its payload is the prior's own cost, and its header the mixed file's less the context model's 4-byte id.
  const bits = payloadBits({ coding: 'prior' }, tokens, models, tokens.codes).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(info.payloadOffset + Math.ceil(bits / 8) + 4 - alone.length) <= 3, `${alone.length} bytes for ${bits.toFixed(0)} bits after ${info.payloadOffset}`);
  const wider = encodeTokenFile(tokensOf(markovCodes(30, 3, 16, 3), 3, 16), { coding: 'prior', models });
  assert.equal(wider[5], 3, 'a codebook beyond the prior\'s: the mixture with the context model');
  assert.equal(inspectTokenFile(wider).payloadOffset, info.payloadOffset + 8);
  // Coding 4 (the prior alone, named by its whole fingerprint; written before coding 5) still decodes.
  const at = info.payloadOffset;
  const body = Uint8Array.from([...alone.subarray(0, at), 0xca, 0xfe, 0xbe, 0xef, ...alone.subarray(at, alone.length - 4)]);
  body[5] = 4;
  const legacy = new ByteWriter().raw(body).u32(crc32(body)).finish();
  assert.equal(inspectTokenFile(legacy).coding.priorFingerprint, 'feedfacecafebeef');
  assert.deepEqual(decodeTokenFile(legacy, 'legacy.vqt', { prior: models.prior }), tokens);
  // A corrupted coding byte is caught (the CRC covers the header).
  const bad = alone.slice();
  bad[5] = 3;
  assertOneLine(() => decodeTokenFile(bad, 'bad.vqt', models), /corrupt|CRC|checksum/i);
});

test('prior-coded files mix prior and context model (coding 3); files from before the mixture (coding 2) still decode', async () => {
  // Written by the coder of commit 7aaec69 (before the mixture) from these models and codes.
  const legacy = new Uint8Array(await fs.readFile(new URL('../../test/fixtures/prior-coded-before-mixture.vqt', import.meta.url)));
  const tokens = tokensOf(markovCodes(40, 3, 16, 7), 3, 16);
  assert.equal(legacy[5], 2);
  assert.equal(inspectTokenFile(legacy).coding.priorWeight, undefined);
  assert.deepEqual(decodeTokenFile(legacy, 'old.vqt', models), tokens);
  const mixed = encodeTokenFile(tokens, { coding: 'prior', models });
  assert.equal(mixed[5], 3);
  assert.equal(inspectTokenFile(mixed).coding.priorWeight, PRIOR_MIX_WEIGHT);
  assert.deepEqual(decodeTokenFile(mixed, 'new.vqt', models), tokens);
  // This random prior knows nothing of these codes; the context model does, and the mixture uses it.
  assert.ok(mixed.length < legacy.length, `${mixed.length} vs ${legacy.length} bytes`);
  // Mixing at one half costs at most 1 bit a code more than the better model (−log2(p/2) = −log2 p + 1):
  // here 80 codes of the prior's 2 codebooks over the context model's cost, and below the prior's.
  const cost = (coding: PayloadCoding) => payloadBits(coding, tokens, models, tokens.codes).slice(0, 2).reduce((a, b) => a + b, 0);
  const [context, prior, mix] = [cost({ coding: 'context' }), cost({ coding: 'prior' }), cost({ coding: 'prior', priorWeight: PRIOR_MIX_WEIGHT })];
  assert.ok(mix < prior && mix < context + 40 * 2, `context ${context}, prior ${prior}, mixed ${mix}`);
});

test('streamed writing and reading give the one-shot bytes and codes, for every coding', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vqt-entropy-'));
  try {
    const tokens = tokensOf(markovCodes(57, 3, 16, 8), 3, 16);
    const { codes, ...header } = tokens;
    for (const coding of ['none', 'context', 'prior'] as const) {
      const file = path.join(dir, `${coding}.vqt`);
      const writer = await TokenFileWriter.open(file, header, { coding, models });
      for (let f = 0; f < 57; f += 10) await writer.write(codes.slice(f * 3, Math.min(57, f + 10) * 3));
      await writer.close();
      const bytes = await fs.readFile(file);
      assert.deepEqual(new Uint8Array(bytes), encodeTokenFile(tokens, { coding, models }), coding);
      const reader = await TokenFileReader.open(file);
      const blocks: Int32Array[] = [];
      for await (const block of reader.codes(8, models)) blocks.push(block);
      await reader.close();
      assert.ok(blocks.every((b, i) => b.length === (i < blocks.length - 1 ? 24 : 3)), coding);
      assert.deepEqual(Int32Array.from(blocks.flatMap((b) => [...b])), codes, coding);
    }
    assert.deepEqual((await fs.readdir(dir)).sort(), ['context.vqt', 'none.vqt', 'prior.vqt']);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
