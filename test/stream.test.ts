/**
 * Streaming coding in bounded memory: the WAV reader, the streaming resampler, the token file
 * writer/reader, Codec.encodeStream/decodeStream and the file-to-file helpers each give exactly
 * what the one-shot path gives (same samples, same codes, same bytes), and bad input found
 * midway leaves no output file.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import wavefile from 'wavefile';
import { initBackend } from '../src/backend.js';
import { loadAudio, toMono } from '../src/audio/load.js';
import { createStreamingResampler, resample } from '../src/audio/resample.js';
import { decodeWav, encodeWav } from '../src/audio/wav.js';
import { WavFileWriter, WavReader, openWavStream } from '../src/audio/wavStream.js';
import { Codec } from '../src/codec.js';
import { VqcodecError } from '../src/errors.js';
import { makeConfig, PRESETS, type CodecConfig } from '../src/model/config.js';
import { decodeToWavFile, encodeWavFile } from '../src/streamFiles.js';
import { encodeTokenFile } from '../src/tokens/tokenFile.js';
import { readTokenFile } from '../src/tokens/tokenFileFs.js';
import { TokenFileReader, TokenFileWriter } from '../src/tokens/tokenStream.js';
import type { Tokens } from '../src/types.js';
import { FIXTURES } from '../src/paths.js';
import { isVqcodecError } from './support/errors.js';


const SPEECH_WAV = path.join(FIXTURES, 'speech.wav');
/** The tiny preset: hop 2·4·5·8 = 320 samples (50 frames/s at 16 kHz), 3 codebooks of 16 entries. */
const CONFIG: CodecConfig = makeConfig(PRESETS.tiny);

let codec: Codec;
let speech: Float32Array;
let tmp: string;

before(async () => {
  await initBackend('wasm');
  codec = Codec.create(CONFIG, 1);
  speech = (await loadAudio(SPEECH_WAV, 16000)).samples;
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-stream-'));
});

after(async () => {
  codec?.dispose();
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

/** A deterministic pseudo-random generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `x` cut into blocks of random sizes in [1, max]. */
function* randomBlocks<T extends Float32Array | Int32Array>(x: T, max: number, seed: number, unit = 1): Generator<T> {
  const r = rng(seed);
  for (let p = 0; p < x.length; ) {
    const n = Math.min(x.length - p, unit * (1 + Math.floor(r() * max)));
    yield x.subarray(p, p + n) as T;
    p += n;
  }
}

function concatF32(blocks: Float32Array[]): Float32Array {
  const out = new Float32Array(blocks.reduce((s, b) => s + b.length, 0));
  let p = 0;
  for (const b of blocks) {
    out.set(b, p);
    p += b.length;
  }
  return out;
}

function concatI32(blocks: Int32Array[]): Int32Array {
  const out = new Int32Array(blocks.reduce((s, b) => s + b.length, 0));
  let p = 0;
  for (const b of blocks) {
    out.set(b, p);
    p += b.length;
  }
  return out;
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** The speech fixture three times over (~10.8 s, 543 frames), so a stream spans many chunks. */
function longSpeech(): Float32Array {
  const x = new Float32Array(speech.length * 3);
  for (let i = 0; i < 3; i++) x.set(speech, i * speech.length);
  return x;
}


async function freshDir(name: string): Promise<string> {
  return fs.mkdtemp(path.join(tmp, `${name}-`));
}

function wavFromScratch(channels: number, rate: number, bitDepth: string, samples: number[] | number[][], options: object = {}): Uint8Array {
  const wav = new wavefile.WaveFile();
  wav.fromScratch(channels, rate, bitDepth, samples, options);
  return wav.toBuffer();
}

test('the streaming WAV reader gives decodeWav\'s channels, for every bit depth and layout', async () => {
  const r = rng(7);
  const n = 1001;
  const ints = (bits: number) => Array.from({ length: n }, () => Math.floor((r() * 2 - 1) * 2 ** (bits - 1)));
  const cases: [string, Uint8Array][] = [
    ['8-bit', wavFromScratch(1, 8000, '8', Array.from({ length: n }, () => Math.floor(r() * 256)))],
    ['16-bit stereo', wavFromScratch(2, 16000, '16', [ints(16), ints(16)])],
    ['24-bit', wavFromScratch(1, 22050, '24', ints(24))],
    ['32-bit', wavFromScratch(1, 44100, '32', ints(32))],
    ['32-bit float, 3 channels', wavFromScratch(3, 48000, '32f', [0, 1, 2].map(() => Array.from({ length: n }, () => r() * 2 - 1)))],
    ['64-bit float', wavFromScratch(1, 11025, '64', Array.from({ length: n }, () => r() * 2 - 1))],
    ['16-bit RIFX', wavFromScratch(1, 8000, '16', ints(16), { container: 'RIFX' })],
    ['encodeWav float32', encodeWav(Float32Array.from({ length: n }, () => r() - 0.5), 16000, 'float32')],
  ];
  // A file with a LIST chunk before the data and a truncated data chunk (whole frames only).
  const withList = wavFromScratch(2, 16000, '16', [ints(16), ints(16)]);
  const list = new Uint8Array([...'LIST'].map((c) => c.charCodeAt(0)).concat([5, 0, 0, 0, 0x49, 0x4e, 0x46, 0x4f, 1, 0]));
  cases.push(['LIST chunk, cut data', new Uint8Array([...withList.subarray(0, 36), ...list, ...withList.subarray(36, withList.length - 3)])]);
  for (const [name, bytes] of cases) {
    const file = path.join(tmp, `reader-${name.replace(/\W+/g, '-')}.wav`);
    await fs.writeFile(file, bytes);
    const expected = decodeWav(bytes, name);
    const reader = await WavReader.open(file);
    try {
      assert.equal(reader.sampleRate, expected.sampleRate, name);
      assert.equal(reader.info.numChannels, expected.channels.length, name);
      assert.equal(reader.info.frames, expected.channels[0]!.length, name);
      for (const blockFrames of [1, 64, 100000]) {
        const blocks = await collect(reader.channelBlocks(blockFrames));
        for (let c = 0; c < expected.channels.length; c++) {
          assert.deepEqual(concatF32(blocks.map((b) => b[c]!)), expected.channels[c], `${name}, channel ${c}, blocks of ${blockFrames}`);
        }
        assert.deepEqual(concatF32(await collect(reader.blocks(blockFrames))), toMono(expected.channels), `${name} mono`);
      }
    } finally {
      await reader.close();
    }
  }
});

test('the streaming WAV reader rejects what is not a WAV with one line naming the file', async () => {
  const bad: [string, Uint8Array, RegExp][] = [
    ['text.wav', new TextEncoder().encode('RIFF\0\0\0\0WAVEjust some text here'), /text\.wav is not a readable WAV file/],
    ['nofmt.wav', encodeWav(new Float32Array(10), 8000).subarray(0, 30), /nofmt\.wav is not a readable WAV file/],
    ['alaw.wav', wavFromScratch(1, 8000, '8a', [1, 2, 3]), /alaw\.wav uses an unsupported WAV encoding/],
  ];
  for (const [name, bytes, pattern] of bad) {
    const file = path.join(tmp, name);
    await fs.writeFile(file, bytes);
    await assert.rejects(WavReader.open(file, name), isVqcodecError(pattern));
  }
  await assert.rejects(WavReader.open(path.join(tmp, 'nope.wav')), isVqcodecError(/no such file/));
});

test('the streaming resampler, fed random blocks, gives exactly the one-shot resample', () => {
  const r = rng(3);
  const x = Float32Array.from({ length: 30011 }, (_, i) => 0.4 * Math.sin(i / 7) + 0.2 * (r() - 0.5));
  for (const [from, to] of [
    [44100, 16000],
    [16000, 44100],
    [48000, 16000],
    [22050, 16000],
    [8000, 16000],
    [16000, 16000],
    [44101, 16000], // L = 16000 phases: over MAX_PHASES, the interpolated path
    [16000.5, 22050.25], // not rational: the interpolated path
  ] as const) {
    const expected = resample(x, from, to);
    for (const max of [1, 37, 5000]) {
      const s = createStreamingResampler(from, to);
      const parts = [...randomBlocks(x, max, max)].map((b) => s.push(b));
      parts.push(s.flush());
      const got = concatF32(parts);
      assert.equal(got.length, expected.length, `${from} → ${to}, blocks ≤ ${max}`);
      assert.deepEqual(got, expected, `${from} → ${to}, blocks ≤ ${max}`);
      assert.equal(s.outputLength, expected.length);
    }
  }
});

test('openWavStream gives loadAudio\'s samples (44.1 kHz stereo → 16 kHz mono)', async () => {
  const left = resample(speech, 16000, 44100);
  const toInt = (v: number) => Math.max(-32768, Math.min(32767, Math.round(v * 32768)));
  const file = path.join(tmp, 'stereo44.wav');
  await fs.writeFile(file, wavFromScratch(2, 44100, '16', [Array.from(left, toInt), Array.from(left, (v, i) => toInt(0.5 * v - 0.1 * Math.sin(i / 3)))]));
  const expected = (await loadAudio(file, 16000)).samples;
  const stream = await openWavStream(file, 16000, { blockFrames: 4097 });
  assert.equal(stream.length, expected.length);
  assert.deepEqual(concatF32(await collect(stream.blocks)), expected);
});

test('Codec.encodeStream gives the codes of Codec.encode, whatever the block and chunk sizes', async () => {
  const x = longSpeech();
  for (const [chunkFrames, maxBlock, numCodebooks] of [
    [64, 5000, 2],
    [7, 333, 2],
    [100, 100000, 1],
    [undefined, 16000, 2],
  ] as const) {
    const expected = codec.encode(x, { numCodebooks, chunkFrames: 100000 });
    const blocks = await collect(codec.encodeStream(randomBlocks(x, maxBlock, 11), { chunkFrames, numCodebooks }));
    assert.deepEqual(concatI32(blocks), expected.codes, `chunks of ${chunkFrames}, blocks ≤ ${maxBlock}`);
    assert.ok(blocks.length > 1 || chunkFrames === undefined, 'several chunks');
  }
  // Lengths that are not a multiple of the hop, one sample, and nothing at all.
  for (const length of [0, 1, 319, 321, 4000]) {
    const y = x.subarray(0, length);
    assert.deepEqual(concatI32(await collect(codec.encodeStream([y], { chunkFrames: 3 }))), codec.encode(y).codes, `${length} samples`);
  }
  assert.throws(() => codec.encodeStream([x], { numCodebooks: 4 }), isVqcodecError(/^numCodebooks must be an integer from 1 to 3/));
  assert.throws(() => codec.encodeStream([x], { chunkFrames: 0 }), isVqcodecError(/chunk/));
});

test('Codec.decodeStream gives the samples of Codec.decode', async () => {
  const x = longSpeech().subarray(0, 160123);
  const tokens = codec.encode(x);
  for (const [chunkFrames, numCodebooks, framesPerBlock] of [
    [64, undefined, 50],
    [7, 1, 3],
    [undefined, 2, 1000],
  ] as const) {
    const expected = codec.decode(tokens, { chunkFrames, numCodebooks });
    const header: Omit<Tokens, 'codes'> = { ...tokens };
    delete (header as Partial<Tokens>).codes;
    const blocks = await collect(codec.decodeStream(header, randomBlocks(tokens.codes, framesPerBlock, 5, tokens.numCodebooks), { chunkFrames, numCodebooks }));
    assert.deepEqual(concatF32(blocks), expected, `chunks of ${chunkFrames}, ${numCodebooks ?? 'all'} codebooks`);
  }
  // A code stream shorter than its header is an error.
  await assert.rejects(collect(codec.decodeStream(tokens, [tokens.codes.subarray(0, 10 * tokens.numCodebooks)])), isVqcodecError(/ended after 10 of/));
});

test('the token file writer and reader are byte-identical to encodeTokenFile and readTokenFile', async () => {
  const r = rng(9);
  for (const [codebookSize, numCodebooks, frames] of [
    [16, 2, 1],
    [1024, 8, 777],
    [5, 3, 1001],
    [2 ** 24, 1, 90],
    [300, 255, 11],
    [16, 2, 0],
  ] as const) {
    const tokens: Tokens = {
      codes: Int32Array.from({ length: frames * numCodebooks }, () => Math.floor(r() * codebookSize)),
      frames,
      numCodebooks,
      codebookSize,
      hop: 320,
      sampleRate: 16000,
      originalLength: Math.max(0, frames * 320 - 17),
      modelFingerprint: '0123456789abcdef',
    };
    const file = path.join(tmp, `tokens-${codebookSize}-${numCodebooks}.vqt`);
    const writer = await TokenFileWriter.open(file, tokens);
    for (const block of randomBlocks(tokens.codes, 13, 1, numCodebooks)) await writer.write(block);
    await writer.close();
    assert.deepEqual(new Uint8Array(await fs.readFile(file)), encodeTokenFile(tokens), `K ${codebookSize}, Q ${numCodebooks}, F ${frames}`);
    const reader = await TokenFileReader.open(file);
    try {
      const { codes, ...header } = tokens;
      assert.deepEqual(reader.header, header);
      assert.deepEqual(concatI32(await collect(reader.codes(5))), codes);
    } finally {
      await reader.close();
    }
  }
});

test('the token file reader refuses what readTokenFile refuses, with the same message', async () => {
  const tokens = codec.encode(speech);
  const good = encodeTokenFile(tokens);
  const variants: [string, Uint8Array][] = [
    ['truncated', good.subarray(0, good.length - 10)],
    ['header only', good.subarray(0, 12)],
    ['bit flip', good.map((b, i) => (i === 40 ? b ^ 0x10 : b))],
    ['not tokens', new TextEncoder().encode('hello, world, this is text and not tokens at all')],
  ];
  // A code outside the codebook (K = 10 in 4 bits) with a valid CRC: invalid, not corrupted.
  const small: Tokens = { ...tokens, codebookSize: 10, codes: tokens.codes.map((c) => c % 10) };
  const bad = encodeTokenFile(small);
  bad[34 + 5] = 0xff;
  const { crc32 } = await import('../src/tokens/crc32.js');
  new DataView(bad.buffer).setUint32(bad.length - 4, crc32(bad.subarray(0, bad.length - 4)), true);
  variants.push(['bad code', bad]);
  for (const [name, bytes] of variants) {
    const file = path.join(tmp, `bad-${name.replace(/\W+/g, '-')}.vqt`);
    await fs.writeFile(file, bytes);
    let expected = '';
    await readTokenFile(file).catch((err: Error) => (expected = err.message));
    assert.ok(expected !== '', `readTokenFile refuses ${name}`);
    await assert.rejects(TokenFileReader.open(file), (err: unknown) => err instanceof VqcodecError && err.message === expected, name);
  }
  await assert.rejects(TokenFileReader.open(path.join(tmp, 'nope.vqt')), isVqcodecError(/no such file/));
  await assert.rejects(TokenFileReader.open(tmp), isVqcodecError(/is a directory/));
});

test('WAV → .vqt streaming writes the one-shot file, byte for byte (16 kHz mono, 44.1 kHz stereo)', async () => {
  const dir = await freshDir('encode');
  const mono = path.join(dir, 'mono16.wav');
  await fs.writeFile(mono, encodeWav(longSpeech(), 16000));
  const stereo = path.join(dir, 'stereo44.wav');
  const up = resample(speech, 16000, 44100);
  const toInt = (v: number) => Math.max(-32768, Math.min(32767, Math.round(v * 32768)));
  await fs.writeFile(stereo, wavFromScratch(2, 44100, '16', [Array.from(up, toInt), Array.from(up, (v) => toInt(-0.7 * v))]));
  for (const [input, options] of [
    [mono, { chunkFrames: 64, blockFrames: 5000 }],
    [mono, { numCodebooks: 1 }],
    [stereo, { chunkFrames: 50, blockFrames: 3001 }],
  ] as const) {
    const out = path.join(dir, `${path.basename(input)}.${options.chunkFrames ?? 'd'}.vqt`);
    const { header, bytes } = await encodeWavFile(codec, input, out, options);
    const oneShot = encodeTokenFile(codec.encode((await loadAudio(input, 16000)).samples, { numCodebooks: options.numCodebooks }));
    const written = new Uint8Array(await fs.readFile(out));
    assert.equal(bytes, oneShot.length);
    assert.deepEqual(written, oneShot, `${path.basename(input)} ${JSON.stringify(options)}`);
    assert.equal(header.frames, Math.ceil(header.originalLength / 320));
  }
  assert.ok((await fs.readdir(dir)).every((f) => !f.endsWith('.tmp')), 'no temp files');
});

test('.vqt → WAV streaming writes the one-shot WAV, byte for byte', async () => {
  const dir = await freshDir('decode');
  const x = longSpeech().subarray(0, 123457);
  const tokens = codec.encode(x);
  const vqt = path.join(dir, 'in.vqt');
  await fs.writeFile(vqt, encodeTokenFile(tokens));
  for (const numCodebooks of [undefined, 1]) {
    const wav = path.join(dir, `out${numCodebooks ?? ''}.wav`);
    const { samples } = await decodeToWavFile(codec, await TokenFileReader.open(vqt), wav, { numCodebooks, chunkFrames: 40 });
    assert.equal(samples, x.length);
    assert.deepEqual(new Uint8Array(await fs.readFile(wav)), encodeWav(codec.decode(tokens, { numCodebooks }), 16000));
  }
  // The WAV writer on its own: float32, blocks of any size.
  const floatWav = path.join(dir, 'float.wav');
  const writer = await WavFileWriter.open(floatWav, x.length, 16000, 'float32');
  for (const block of randomBlocks(x, 9999, 2)) await writer.write(block);
  await writer.close();
  assert.deepEqual(new Uint8Array(await fs.readFile(floatWav)), encodeWav(x, 16000, 'float32'));
  // Another model's tokens: refused before any file is made.
  const other = Codec.create(CONFIG, 2);
  try {
    const empty = await freshDir('other');
    await assert.rejects(decodeToWavFile(other, await TokenFileReader.open(vqt), path.join(empty, 'x.wav')), isVqcodecError(new RegExp(codec.fingerprint)));
    assert.deepEqual(await fs.readdir(empty), []);
  } finally {
    other.dispose();
  }
});

test('NaN midway, silence or emptiness: a VqcodecError and no output file (16 kHz and 44.1 kHz)', async () => {
  const x = longSpeech();
  const withNaN = x.slice();
  withNaN[x.length - 1000] = Number.NaN; // past several chunks
  const cases: [string, Uint8Array, RegExp][] = [
    ['nan16.wav', encodeWav(withNaN, 16000, 'float32'), /nan16\.wav contains NaN or infinite samples/],
    ['nan44.wav', encodeWav(resample(withNaN.subarray(0, 40000), 16000, 44100).map((v, i) => (i === 100000 ? Infinity : v)), 44100, 'float32'), /contains NaN or infinite/],
    ['silent.wav', encodeWav(new Float32Array(50000), 16000), /silent\.wav is silent/],
    ['silent44.wav', encodeWav(new Float32Array(50000), 44100), /silent44\.wav is silent/],
    ['empty.wav', encodeWav(new Float32Array(0), 16000), /empty\.wav is empty/],
  ];
  for (const [name, bytes, pattern] of cases) {
    const input = path.join(tmp, name);
    await fs.writeFile(input, bytes);
    await assert.rejects(loadAudio(input, 16000), isVqcodecError(pattern), `one-shot ${name}`);
    const dir = await freshDir('bad');
    await assert.rejects(encodeWavFile(codec, input, path.join(dir, 'x.vqt'), { chunkFrames: 32, blockFrames: 4096 }), isVqcodecError(pattern), name);
    assert.deepEqual(await fs.readdir(dir), [], `nothing left for ${name}`);
  }
});
