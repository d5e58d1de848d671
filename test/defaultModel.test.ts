/**
 * Smoke test of the shipped model (models/default): it loads with the fingerprint its card and
 * its weights name, and codes the speech fixture into valid codes and back into audio of the same
 * length that is recognisably the input (STOI and correlation near the card's figures, not those
 * of silence or noise).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { initBackend } from '../src/backend.js';
import { loadAudio } from '../src/audio/load.js';
import { Codec } from '../src/codec.js';
import { stoi } from '../src/eval/metrics.js';
import { readBundle } from '../src/io/bundleFs.js';
import { DEFAULT_MODEL, FIXTURES } from '../src/paths.js';
import { decodeTokenFile, encodeTokenFile } from '../src/tokens/tokenFile.js';

let codec: Codec;
let speech: Float32Array;

before(async () => {
  await initBackend('wasm');
  codec = await Codec.load(DEFAULT_MODEL);
  speech = (await loadAudio(path.join(FIXTURES, 'speech.wav'), codec.sampleRate)).samples;
});

after(() => codec?.dispose());

function correlation(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! ** 2;
    bb += b[i]! ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

test('the shipped model has the fingerprint of its model card and of its weights.bin', async () => {
  const card = await fs.readFile(path.join(DEFAULT_MODEL, 'README.md'), 'utf8');
  const fromCard = /\| fingerprint \| `([0-9a-f]{16})` \|/.exec(card)?.[1];
  assert.ok(fromCard !== undefined, 'the model card has a fingerprint row');
  assert.equal(codec.fingerprint, fromCard);
  const { meta } = await readBundle(path.join(DEFAULT_MODEL, 'weights.bin'));
  assert.equal(meta.fingerprint, codec.fingerprint);
});

test('the shipped model codes the speech fixture: valid codes, the same length back, audio like the input', (t) => {
  const tokens = codec.encode(speech);
  assert.equal(tokens.frames, Math.ceil(speech.length / codec.hop));
  assert.equal(tokens.numCodebooks, codec.numCodebooks);
  assert.ok(tokens.codes.every((c) => Number.isInteger(c) && c >= 0 && c < codec.codebookSize), 'codes index their codebooks');
  assert.ok(new Set(tokens.codes).size > 200, `codes vary (${new Set(tokens.codes).size} distinct)`);
  const scores = [1, codec.numCodebooks].map((numCodebooks) => {
    const decoded = codec.decode(tokens, { numCodebooks });
    assert.equal(decoded.length, speech.length);
    assert.ok(decoded.every(Number.isFinite));
    return { numCodebooks, stoi: stoi(speech, decoded, codec.sampleRate), correlation: correlation(speech, decoded) };
  });
  t.diagnostic(scores.map((s) => `${s.numCodebooks} codebooks: STOI ${s.stoi.toFixed(3)}, correlation ${s.correlation.toFixed(3)}`).join('; '));
  const [one, all] = scores as [(typeof scores)[0], (typeof scores)[0]];
  // Measured STOI 0.807 and correlation 0.745 at 8 codebooks (39a3c702ef8b910a). Its iSTFT head keeps
  // the waveform's phase less closely than the upsampling decoder before it (correlation 0.84 there),
  // so the correlation bar only catches a broken decode, not a worse phase.
  assert.ok(all.stoi > 0.7, `STOI ${all.stoi} at ${all.numCodebooks} codebooks`);
  assert.ok(all.correlation > 0.6, `correlation ${all.correlation} at ${all.numCodebooks} codebooks`);
  assert.ok(one.stoi < all.stoi, 'more codebooks sound closer to the input');
});

test('a model directory written before the split (training settings in config.json) loads with its old fingerprint and codes as it did', async () => {
  // test/fixtures/legacy-model was written by the code before the split (commit 69fe935), which
  // recorded 329e3961e88310c4; that code encoded the fixture to codes and audio with these hashes.
  const legacy = await Codec.load(path.join(FIXTURES, 'legacy-model'));
  assert.equal(legacy.fingerprint, '329e3961e88310c4');
  const audio = await loadAudio(path.join(FIXTURES, 'speech.wav'), 16000);
  const tokens = legacy.encode(audio.samples);
  const hash = (a: Int32Array | Float32Array) => createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex').slice(0, 16);
  assert.equal(hash(tokens.codes), 'c697a1882a65eada');
  assert.equal(hash(legacy.decode(tokens)), '35803819643449f0');
  legacy.dispose();
});

test('the shipped context model belongs to the shipped codec and makes its files smaller, losslessly', () => {
  assert.ok(codec.contextModel !== undefined, 'models/default has context-model.bin');
  assert.equal(codec.contextModel.codecFingerprint, codec.fingerprint);
  const tokens = codec.encode(speech, { numCodebooks: 2 });
  const models = { context: codec.contextModel };
  const packed = encodeTokenFile(tokens);
  const coded = encodeTokenFile(tokens, { coding: 'context', models });
  assert.deepEqual(decodeTokenFile(coded, 'speech.vqt', models), tokens);
  assert.ok(coded.length < packed.length * 0.95, `${coded.length} bytes against ${packed.length} bit-packed`);
});
