/**
 * The library-level codec (src/codec.ts): lengths survive encode → decode, chunked coding
 * equals whole coding, codebook prefixes, save/load and fingerprints, and clear errors
 * for broken model folders.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { loadAudio } from '../src/audio/load.js';
import { Codec } from '../src/codec.js';
import { makeConfig, PRESETS, type CodecConfig } from '../src/model/config.js';
import { FIXTURES } from '../src/paths.js';
import { isVqcodecError } from './support/errors.js';



/** hop 2·4·5·8 = 320 samples (50 frames/s at 16 kHz), 3 codebooks of 16 entries. */
/** The tiny preset: hop 2·4·5·8 = 320 samples (50 frames/s at 16 kHz), 3 codebooks of 16 entries. */
const CONFIG: CodecConfig = makeConfig(PRESETS.tiny);
const HOP = 320;

let speech: Float32Array;
let codec: Codec;
let other: Codec;
const tmpDirs: string[] = [];

async function tmpDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-'));
  tmpDirs.push(dir);
  return dir;
}

/** `err` is a VqcodecError with a one-line message (and matches `pattern` when given). */

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

before(async () => {
  await initBackend('wasm');
  speech = (await loadAudio(path.join(FIXTURES, 'speech.wav'), 16000)).samples;
  assert.equal(speech.length, 57820);
  codec = Codec.create(CONFIG, 1);
  other = Codec.create(CONFIG, 2);
  assert.equal(codec.hop, HOP);
});

after(async () => {
  codec?.dispose();
  other?.dispose();
  for (const dir of tmpDirs) await fs.rm(dir, { recursive: true, force: true });
});

test('encode → decode restores the original length exactly, hop multiple or not', () => {
  for (const length of [0, 1, 319, 320, 321, 16000, 57820]) {
    const x = speech.slice(0, length);
    const tokens = codec.encode(x);
    const frames = Math.max(1, Math.ceil(length / HOP));
    assert.equal(tokens.frames, frames, `frames for ${length} samples`);
    assert.equal(tokens.originalLength, length);
    assert.equal(tokens.codes.length, frames * 3);
    assert.equal(tokens.numCodebooks, 3);
    assert.equal(tokens.hop, HOP);
    assert.equal(tokens.modelFingerprint, codec.fingerprint);
    const y = codec.decode(tokens);
    assert.equal(y.length, length, `decoded length for ${length} samples`);
    assert.ok(y.every(Number.isFinite), `finite output for ${length} samples`);
  }
});

test('codes are valid indices of each codebook', () => {
  const tokens = codec.encode(speech);
  assert.ok(tokens.codes.every((c) => Number.isInteger(c) && c >= 0 && c < 16));
});

test('chunked encoding gives exactly the codes of whole encoding', (t) => {
  t.diagnostic(`context: ${JSON.stringify(codec.model.encoderContext)} frames`);
  // The 3.6 s clip (181 frames) and a ~10.8 s one (543 frames, past the default 500-frame chunk).
  const long = new Float32Array(speech.length * 3);
  for (let i = 0; i < 3; i++) long.set(speech, i * speech.length);
  for (const [x, sizes] of [
    [speech, [1, 7, 64]],
    [long, [7, 100]],
  ] as const) {
    const whole = codec.encode(x, { chunkFrames: 100000 });
    // Guard against a vacuous pass: the codes vary from frame to frame.
    assert.ok(new Set(whole.codes).size > 4, `codes vary (${new Set(whole.codes).size} distinct)`);
    for (const chunkFrames of sizes) {
      const chunked = codec.encode(x, { chunkFrames });
      assert.equal(chunked.frames, whole.frames);
      assert.deepEqual(chunked.codes, whole.codes, `chunkFrames ${chunkFrames}, ${x.length} samples`);
    }
    // The default chunk size too.
    assert.deepEqual(codec.encode(x).codes, whole.codes);
    // And with a codebook prefix.
    assert.deepEqual(codec.encode(x, { numCodebooks: 2, chunkFrames: 7 }).codes, codec.encode(x, { numCodebooks: 2, chunkFrames: 100000 }).codes);
  }
});

test('chunked decoding matches decoding the whole code tensor at once (model.decode)', (t) => {
  // A ~10.8 s input (543 frames) is past the default 500-frame chunk too.
  const long = new Float32Array(speech.length * 3);
  for (let i = 0; i < 3; i++) long.set(speech, i * speech.length);
  for (const [x, n, chunkFrames] of [
    [speech, 3, 1],
    [speech, 3, 7],
    [speech, 2, 7],
    [long, 3, undefined],
    [long, 1, 64],
  ] as const) {
    const tokens = codec.encode(x, { numCodebooks: n });
    const decoded = codec.decode(tokens, { chunkFrames });
    const whole = tf.tidy(() => {
      const codes = tf.tensor3d(tokens.codes, [1, tokens.frames, n], 'int32');
      return codec.model.decode(codes).dataSync().slice(0, tokens.originalLength) as Float32Array;
    });
    const diff = maxAbsDiff(decoded, whole);
    t.diagnostic(`${tokens.frames} frames, ${n} codebooks, chunks of ${chunkFrames ?? 'default'}: max |chunked − whole| = ${diff.toExponential(2)}`);
    assert.ok(diff <= 1e-5, `max difference ${diff}`);
  }
  // Control: a chunk decoded without its context does differ near its edge, so the overlap matters.
  const tokens = codec.encode(speech);
  const naive = tf.tidy(() => codec.model.decode(tf.tensor3d(tokens.codes.subarray(0, 7 * 3), [1, 7, 3], 'int32')).dataSync() as Float32Array);
  const whole = codec.decode(tokens).subarray(0, 7 * HOP);
  assert.ok(maxAbsDiff(naive, whole) > 1e-4, 'context-free chunk differs from the whole decode');
});

test('decode with numCodebooks n uses the first n codebooks of the tokens', () => {
  const x = speech.subarray(0, 16000);
  const full = codec.encode(x);
  for (const n of [1, 2, 3]) {
    const fromFull = codec.decode(full, { numCodebooks: n });
    const fromPrefix = codec.decode(codec.encode(x, { numCodebooks: n }));
    assert.equal(fromFull.length, x.length);
    assert.ok(maxAbsDiff(fromFull, fromPrefix) <= 1e-6, `n = ${n}`);
  }
  const two = codec.encode(x, { numCodebooks: 2 });
  for (const n of [0, 3, 1.5]) assert.throws(() => codec.decode(two, { numCodebooks: n }), isVqcodecError(/^numCodebooks must be an integer from 1 to 2 for these tokens/), `decode numCodebooks ${n} of 2`);
});

test('numCodebooks 1..3 gives tokens with that many codebooks; each prefix of the full codes', () => {
  const full = codec.encode(speech);
  for (const n of [1, 2, 3]) {
    const tokens = codec.encode(speech, { numCodebooks: n });
    assert.equal(tokens.numCodebooks, n);
    assert.equal(tokens.codes.length, tokens.frames * n);
    // Residual VQ: the first n codebooks' choices do not depend on the later ones.
    for (let f = 0; f < tokens.frames; f++) {
      for (let q = 0; q < n; q++) assert.equal(tokens.codes[f * n + q], full.codes[f * 3 + q]);
    }
    assert.equal(codec.decode(tokens).length, speech.length);
  }
});

test('numCodebooks out of range (0, 4, 1.5, -1, NaN) throws VqcodecError in the library\'s words (no CLI flag)', () => {
  for (const n of [0, 4, 1.5, -1, Number.NaN]) {
    assert.throws(() => codec.encode(speech, { numCodebooks: n }), isVqcodecError(/^numCodebooks must be an integer from 1 to 3 for this model/), `numCodebooks ${n}`);
  }
});

test('an impossible chunk size throws VqcodecError', () => {
  for (const chunkFrames of [0, -3, 2.5]) {
    assert.throws(() => codec.encode(speech, { chunkFrames }), isVqcodecError(/chunk/), `chunkFrames ${chunkFrames}`);
  }
});

test('save → load round-trip keeps the fingerprint and the codes', async () => {
  const dir = await tmpDir();
  await codec.save(dir);
  assert.deepEqual((await fs.readdir(dir)).sort(), ['config.json', 'training.json', 'weights.bin'], 'no temp files left behind');
  const loaded = await Codec.load(dir);
  try {
    assert.equal(loaded.fingerprint, codec.fingerprint);
    assert.match(loaded.fingerprint, /^[0-9a-f]{16}$/);
    assert.deepEqual(loaded.config, codec.config);
    const a = codec.encode(speech);
    const b = loaded.encode(speech);
    assert.deepEqual(b.codes, a.codes);
    assert.equal(b.modelFingerprint, a.modelFingerprint);
    // Tokens made by one decode with the other, to the same audio.
    assert.ok(maxAbsDiff(loaded.decode(a), codec.decode(a)) === 0);
  } finally {
    loaded.dispose();
  }
});

test('float16 export: half-size weights.bin that loads with the rounded model\'s fingerprint and codes', async () => {
  const full = await tmpDir();
  await codec.save(full);
  const dir = await tmpDir();
  await assert.rejects(codec.save(dir, 'float16'), isVqcodecError(/float16-exact/), 'unrounded weights are refused');
  assert.deepEqual(await fs.readdir(dir), [], 'nothing written');
  const model = (await Codec.load(full)).model;
  const rounded = Codec.fromModelAtHalfPrecision(model);
  try {
    assert.notEqual(rounded.fingerprint, codec.fingerprint);
    await rounded.save(dir, 'float16');
    const [halfSize, fullSize] = [(await fs.stat(path.join(dir, 'weights.bin'))).size, (await fs.stat(path.join(full, 'weights.bin'))).size];
    assert.ok(halfSize < 0.6 * fullSize, `${halfSize} vs ${fullSize} bytes`);
    const loaded = await Codec.load(dir);
    try {
      assert.equal(loaded.fingerprint, rounded.fingerprint);
      const tokens = rounded.encode(speech);
      assert.deepEqual(loaded.encode(speech).codes, tokens.codes);
      assert.ok(maxAbsDiff(loaded.decode(tokens), rounded.decode(tokens)) === 0);
    } finally {
      loaded.dispose();
    }
  } finally {
    rounded.dispose();
  }
});

test('same config and seed → same fingerprint; other weights → another fingerprint', () => {
  const again = Codec.create(CONFIG, 1);
  try {
    assert.equal(again.fingerprint, codec.fingerprint);
  } finally {
    again.dispose();
  }
  assert.notEqual(other.fingerprint, codec.fingerprint);
});

test("decoding another model's tokens throws VqcodecError naming both fingerprints", () => {
  const tokens = codec.encode(speech.subarray(0, 16000));
  assert.throws(
    () => other.decode(tokens),
    isVqcodecError(new RegExp(`(?=.*${codec.fingerprint})(?=.*${other.fingerprint})`)),
  );
});

test('Codec.load of a missing folder throws VqcodecError', async () => {
  const dir = await tmpDir();
  await assert.rejects(Codec.load(path.join(dir, 'nope')), isVqcodecError(/no model/));
  // An empty folder too.
  await assert.rejects(Codec.load(dir), isVqcodecError());
});

test('Codec.load of a config.json with an impossible value throws VqcodecError', async () => {
  const dir = await tmpDir();
  await codec.save(dir);
  const configPath = path.join(dir, 'config.json');
  const good = JSON.parse(await fs.readFile(configPath, 'utf8'));
  for (const [change, pattern] of [
    [{ strides: [1] }, /strides/],
    [{ strides: [] }, /strides/],
    [{ kernelSize: 4 }, /kernelSize/],
    [{ quantizer: { ...good.quantizer, codebookSize: 1 } }, /codebookSize/],
    [{ sampleRate: 'fast' }, /sampleRate/],
  ] as const) {
    await fs.writeFile(configPath, JSON.stringify({ ...good, ...change }));
    await assert.rejects(Codec.load(dir), isVqcodecError(pattern), JSON.stringify(change));
  }
  await fs.writeFile(configPath, '{ not json');
  await assert.rejects(Codec.load(dir), isVqcodecError(/JSON/));
});

test('Codec.load of a config.json that is JSON null throws VqcodecError', async () => {
  const dir = await tmpDir();
  await codec.save(dir);
  await fs.writeFile(path.join(dir, 'config.json'), 'null');
  await assert.rejects(Codec.load(dir), isVqcodecError());
});

test('Codec.load of a truncated or foreign weights.bin throws VqcodecError', async () => {
  const dir = await tmpDir();
  await codec.save(dir);
  const weightsPath = path.join(dir, 'weights.bin');
  const bytes = await fs.readFile(weightsPath);
  for (const keep of [bytes.length - 4, Math.floor(bytes.length / 2), 20, 6, 0]) {
    await fs.writeFile(weightsPath, bytes.subarray(0, keep));
    await assert.rejects(Codec.load(dir), isVqcodecError(/weights\.bin/), `weights.bin cut to ${keep} of ${bytes.length} bytes`);
  }
  await fs.writeFile(weightsPath, 'hello, not weights');
  await assert.rejects(Codec.load(dir), isVqcodecError(/weights\.bin/));
  await fs.rm(weightsPath);
  await assert.rejects(Codec.load(dir), isVqcodecError(/weights\.bin/));
});

test('Codec.load of weights saved by a model of another shape throws VqcodecError', async () => {
  const dir = await tmpDir();
  await codec.save(dir);
  const wider = Codec.create(makeConfig({ ...CONFIG, channels: 8 }), 1);
  try {
    const elsewhere = await tmpDir();
    await wider.save(elsewhere);
    await fs.copyFile(path.join(elsewhere, 'weights.bin'), path.join(dir, 'weights.bin'));
  } finally {
    wider.dispose();
  }
  await assert.rejects(Codec.load(dir), isVqcodecError(/shape/));
});
