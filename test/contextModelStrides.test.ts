/**
 * The context model on multi-rate codes (src/entropy/contextModel.ts): only stored codes are
 * counted, each with the previous window's code of its codebook (dense[t − 1][q]) and the code
 * above at its window's first frame (dense[t][q − 1]), the coordinates the file coder reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ContextModel, type CodeSequence } from '../src/entropy/contextModel.js';
import { fromStreams, storesAt } from '../src/tokens/codeStrides.js';
import { Random } from '../src/train/random.js';

const K = 16;
const STRIDES = [4, 2, 1];
const FINGERPRINT = '00112233aabbccdd';

/**
 * Codebook 0 (stride 4) steps by one each window, so its stored codes never repeat; codebook 1
 * (stride 2) is a function of codebook 0 above it; codebook 2 is random.
 */
function file(frames: number, seed: number): CodeSequence {
  const random = new Random(seed);
  const first = random.int(K);
  const cb0 = Array.from({ length: Math.ceil(frames / 4) }, (_, w) => (first + w) % K);
  const cb1 = Array.from({ length: Math.ceil(frames / 2) }, (_, w) => (cb0[Math.floor(w / 2)]! * 3 + 1) % K);
  const cb2 = Array.from({ length: frames }, () => random.int(K));
  return { codes: fromStreams([cb0, cb1, cb2], frames, STRIDES), numCodebooks: 3, codeStrides: STRIDES };
}

const FILES = Array.from({ length: 12 }, (_, i) => file(61 + i, i));
const SETTINGS = { contextCodebooks: 2, alpha: 4 };

test('fitting multi-rate codes counts stored codes only: a coarse code follows the previous window, not itself', () => {
  const model = ContextModel.fit(FILES, FINGERPRINT, K, 3, SETTINGS);
  const dense = ContextModel.fit(FILES.map(({ codes, numCodebooks }) => ({ codes, numCodebooks })), FINGERPRINT, K, 3, SETTINGS);
  for (const c of [0, 5, 15]) {
    const next = model.table(0, c, -1).freq;
    assert.ok(next[(c + 1) % K]! > 10 * next[c]!, `after ${c}: the next window's ${(c + 1) % K}, not ${c} again`);
    const repeated = dense.table(0, c, -1).freq;
    assert.ok(repeated[c]! > repeated[(c + 1) % K]!, 'counted at every frame, a coarse code would mostly follow itself');
    const below = model.table(1, -1, c).freq;
    assert.equal(below.indexOf(Math.max(...below)), (c * 3 + 1) % K, `codebook 1 under ${c}`);
  }
  assert.notDeepEqual(model.serialize(), dense.serialize());
  // Strides of 1 are the single-rate fit, byte for byte.
  const ones = FILES.map(({ codes, numCodebooks }) => ({ codes, numCodebooks, codeStrides: [1, 1, 1] }));
  assert.deepEqual(ContextModel.fit(ones, FINGERPRINT, K, 3, SETTINGS).serialize(), dense.serialize());
});

test('crossEntropy averages over stored codes, with previous = dense[t − 1][q] and above = dense[t][q − 1]', () => {
  const model = ContextModel.fit(FILES, FINGERPRINT, K, 3, SETTINGS);
  const bits = [0, 0, 0];
  const counts = [0, 0, 0];
  for (const { codes } of FILES) {
    const frames = codes.length / 3;
    for (let t = 0; t < frames; t++) {
      for (let q = 0; q < 3; q++) {
        if (!storesAt(t, STRIDES[q]!)) continue;
        const table = model.table(q, t > 0 ? codes[(t - 1) * 3 + q]! : -1, q > 0 ? codes[t * 3 + q - 1]! : -1);
        bits[q] += Math.log2(table.total / table.freq[codes[t * 3 + q]!]!);
        counts[q]++;
      }
    }
  }
  const measured = model.crossEntropy(FILES);
  measured.forEach((b, q) => assert.ok(Math.abs(b - bits[q]! / counts[q]!) < 1e-12, `codebook ${q}: ${b} vs ${bits[q]! / counts[q]!}`));
  assert.ok(measured[0]! < 1 && measured[1]! < 1, `predictable codebooks cost little: ${measured}`);
  assert.ok(measured[2]! > 3.5, `the random codebook costs about log2 K: ${measured[2]}`);
});
