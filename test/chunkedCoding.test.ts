/**
 * Chunked coding equals whole coding to the bit, for every preset's kernel size, dilations,
 * strides and spectral ends (and a causal model): encode, decode, encodeStream and decodeStream
 * with chunks much shorter than the receptive field, on inputs that are not a multiple of the
 * hop. Random weights at a width of a few channels keep each case to about a second.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { initBackend } from '../src/backend.js';
import { loadAudio } from '../src/audio/load.js';
import { Codec } from '../src/codec.js';
import { makeConfig, PRESETS, type CodecConfig } from '../src/model/config.js';
import { FIXTURES } from '../src/paths.js';
import { firstUnrepeatedCode } from '../src/tokens/codeStrides.js';

/** Frames each chunk keeps: several chunks fit in one receptive field. */
const CHUNK_FRAMES = 4;

let speech: Float32Array;

before(async () => {
  await initBackend('wasm');
  speech = (await loadAudio(path.join(FIXTURES, 'speech.wav'), 16000)).samples;
});

/** A preset's layer shapes at a width of a few channels, with codebooks big enough that codes track small changes. */
function narrow(config: CodecConfig): CodecConfig {
  // Multi-rate strides gain full-rate codebooks up to 4.
  const codeStrides = config.quantizer.codeStrides && [...config.quantizer.codeStrides, 1, 1, 1].slice(0, 4);
  return makeConfig({ ...config, channels: 2, maxChannels: 4, quantizer: { ...config.quantizer, codebookSize: 256, dim: 4, numCodebooks: 4, ...(codeStrides ? { codeStrides } : {}) } });
}

/** Name, config and weight seed (one whose random codes vary in every codebook). */
const CASES: [string, CodecConfig, number?][] = [
  ...Object.entries(PRESETS).map(([name, preset]): [string, CodecConfig] => [name, narrow(makeConfig(preset))]),
  ['tiny, causal', narrow(makeConfig({ ...PRESETS.tiny, padding: 'causal' }))],
  // Windows of 8 frames, longer than a chunk of 4: chunks are rounded up to whole windows.
  ['tiny, multi-rate 8/4/2/1', narrow(makeConfig({ ...PRESETS.tiny, quantizer: { ...PRESETS.tiny.quantizer, numCodebooks: 4, codeStrides: [8, 4, 2, 1] } })), 3],
];

/** `x` in consecutive blocks of 1..max elements (`unit` elements each), sizes from a fixed sequence. */
function* blocks<T extends Float32Array | Int32Array>(x: T, max: number, unit = 1): Generator<T> {
  for (let p = 0, i = 0; p < x.length; i++) {
    const n = Math.min(x.length - p, unit * (1 + ((i * 7919) % max)));
    yield x.subarray(p, p + n) as T;
    p += n;
  }
}

async function concat<T extends Float32Array | Int32Array>(source: AsyncIterable<T>, make: (n: number) => T): Promise<T> {
  const parts: T[] = [];
  for await (const part of source) parts.push(part);
  const out = make(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

for (const [name, config, seed] of CASES) {
  test(`${name}: chunked encode, decode, encodeStream and decodeStream equal whole coding exactly`, async (t) => {
    const codec = Codec.create(config, seed ?? 1);
    try {
      const { encoderContext, decoderContext } = codec.model;
      // Enough frames for chunks with their whole context on both sides, and a partial last frame.
      const widest = Math.max(encoderContext.before + encoderContext.after, decoderContext.before + decoderContext.after);
      const length = (widest + 4 * CHUNK_FRAMES) * codec.hop - 123;
      const x = speech.subarray(8000, 8000 + length); // from 0.5 s in: speech, not the opening silence
      const whole = codec.encode(x, { chunkFrames: 1e6 });
      t.diagnostic(`${whole.frames} frames in chunks of ${CHUNK_FRAMES}; context: encoder ${JSON.stringify(encoderContext)}, decoder ${JSON.stringify(decoderContext)}`);
      // Guard against a vacuous pass. (Random codebooks dwarf these narrow latents, so codes vary
      // less than in a trained model; the decode comparisons below are of floats, to the bit.)
      assert.ok(new Set(whole.codes).size > 4, `codes vary (${new Set(whole.codes).size} distinct)`);
      if (config.quantizer.codeStrides !== undefined) {
        assert.deepEqual(whole.codeStrides, config.quantizer.codeStrides);
        assert.equal(firstUnrepeatedCode(whole.codes, whole.frames, whole.codeStrides!), -1, 'each coarse code is repeated over its window');
      }
      const options = { chunkFrames: CHUNK_FRAMES };
      assert.deepEqual(codec.encode(x, options).codes, whole.codes, 'encode');
      const streamed = await concat(codec.encodeStream(blocks(x, 700), options), (n) => new Int32Array(n));
      assert.deepEqual(streamed, whole.codes, 'encodeStream');

      const audio = codec.decode(whole, { chunkFrames: 1e6 });
      assert.equal(audio.length, length);
      assert.deepEqual(codec.decode(whole, options), audio, 'decode');
      const { codes, ...header } = whole;
      const decoded = await concat(codec.decodeStream(header, blocks(codes, 3, header.numCodebooks), options), (n) => new Float32Array(n));
      assert.deepEqual(decoded, audio, 'decodeStream');
    } finally {
      codec.dispose();
    }
  });
}
