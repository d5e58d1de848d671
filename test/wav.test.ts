import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import wavefile from 'wavefile';
import { VqcodecError } from '../src/errors.js';
import { decodeWav, encodeWav } from '../src/audio/wav.js';
import { writeWav } from '../src/audio/wavFs.js';
import { toMono } from '../src/audio/load.js';

/** A WAV built by wavefile (an independent writer) from raw sample values. */
function wavFromScratch(
  channels: number,
  rate: number,
  bitDepth: string,
  samples: number[] | number[][],
  options: object = {},
): Uint8Array {
  const wav = new wavefile.WaveFile();
  wav.fromScratch(channels, rate, bitDepth, samples, options);
  return wav.toBuffer();
}

/** A WAVE_FORMAT_EXTENSIBLE file (which wavefile does not write) holding 24-bit PCM. */
function extensible24(values: number[]): Uint8Array {
  const out = new Uint8Array(12 + 8 + 40 + 8 + values.length * 3);
  const v = new DataView(out.buffer);
  const tag = (p: number, s: string) => [...s].forEach((ch, i) => v.setUint8(p + i, ch.charCodeAt(0)));
  tag(0, 'RIFF');
  v.setUint32(4, out.length - 8, true);
  tag(8, 'WAVE');
  tag(12, 'fmt ');
  v.setUint32(16, 40, true);
  v.setUint16(20, 0xfffe, true); // extensible
  v.setUint16(22, 1, true); // channels
  v.setUint32(24, 8000, true);
  v.setUint32(28, 8000 * 3, true);
  v.setUint16(32, 3, true); // block align
  v.setUint16(34, 24, true);
  v.setUint16(36, 22, true); // cbSize
  v.setUint16(38, 24, true); // valid bits
  v.setUint32(40, 4, true); // channel mask
  v.setUint32(44, 1, true); // subformat GUID starts with the PCM format code
  tag(60, 'data');
  v.setUint32(64, values.length * 3, true);
  values.forEach((x, i) => {
    const u = x & 0xffffff;
    out[68 + 3 * i] = u & 0xff;
    out[69 + 3 * i] = (u >> 8) & 0xff;
    out[70 + 3 * i] = u >> 16;
  });
  return out;
}

function assertClose(actual: Float32Array, expected: number[], tol = 0): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `sample ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

function randomSamples(n: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.random() * 2 - 1;
  x.set([0, 1, -1, 0.5, -0.5, 1 / 32768, -1 / 65536], 0);
  return x;
}

test('pcm16 round-trip is within one quantisation step', () => {
  const x = randomSamples(5000);
  const { channels, sampleRate } = decodeWav(encodeWav(x, 16000, 'pcm16'));
  assert.equal(sampleRate, 16000);
  assert.equal(channels.length, 1);
  assertClose(channels[0], Array.from(x), 1 / 32768);
});

test('pcm16 rounds to the nearest step and clips out-of-range samples', () => {
  const x = new Float32Array([1.4 / 32768, 1.6 / 32768, -1.6 / 32768, 1.5, -2, 1, -1, NaN]);
  const y = decodeWav(encodeWav(x, 8000)).channels[0];
  assertClose(y, [1 / 32768, 2 / 32768, -2 / 32768, 32767 / 32768, -1, 32767 / 32768, -1, 0]);
});

test('float32 round-trip is exact', () => {
  const x = randomSamples(5000);
  x[10] = 1.75; // float WAV keeps out-of-range values
  const { channels, sampleRate } = decodeWav(encodeWav(x, 22050, 'float32'));
  assert.equal(sampleRate, 22050);
  assert.deepEqual(channels[0], x);
});

test('encoded WAVs parse with wavefile and carry the right header', () => {
  const pcm = new wavefile.WaveFile(encodeWav(new Float32Array(10), 16000));
  const float = new wavefile.WaveFile(encodeWav(new Float32Array(10), 16000, 'float32'));
  assert.equal(pcm.bitDepth, '16');
  assert.equal(float.bitDepth, '32f');
  assert.equal((float.fact as { dwSampleLength: number }).dwSampleLength, 10);
  assert.equal((pcm.fmt as { sampleRate: number }).sampleRate, 16000);
});

test('decodes integer PCM of every supported depth with known values', () => {
  const cases: [string, number[], number[]][] = [
    ['8', [128, 192, 64, 255, 0], [0, 0.5, -0.5, 127 / 128, -1]],
    ['16', [0, 16384, -16384, 32767, -32768], [0, 0.5, -0.5, 32767 / 32768, -1]],
    ['24', [0, 4194304, -4194304, 8388607, -8388608], [0, 0.5, -0.5, 8388607 / 8388608, -1]],
    ['32', [0, 2 ** 30, -(2 ** 30), 2 ** 31 - 1, -(2 ** 31)], [0, 0.5, -0.5, 1, -1]],
  ];
  for (const [depth, raw, expected] of cases) {
    const { channels, sampleRate } = decodeWav(wavFromScratch(1, 11025, depth, raw));
    assert.equal(sampleRate, 11025, depth);
    assertClose(channels[0], expected.map(Math.fround), 0);
  }
});

test('decodes 32- and 64-bit float WAVs', () => {
  const values = [0, 0.5, -0.25, 1, -1, 0.1];
  for (const depth of ['32f', '64']) {
    const { channels } = decodeWav(wavFromScratch(1, 48000, depth, values));
    assertClose(channels[0], values.map(Math.fround), 0);
  }
});

test('decodes big-endian RIFX and extensible-format headers', () => {
  const rifx = decodeWav(wavFromScratch(1, 8000, '16', [16384, -32768], { container: 'RIFX' }));
  assertClose(rifx.channels[0], [0.5, -1]);
  const ext = decodeWav(extensible24([4194304, -8388608, 1]));
  assertClose(ext.channels[0], [0.5, -1, 1 / 8388608].map(Math.fround));
});

test('stereo is de-interleaved and downmixes to the average', () => {
  const left = [16384, -16384, 0, 32767];
  const right = [0, -16384, 8192, -32768];
  const { channels } = decodeWav(wavFromScratch(2, 16000, '16', [left, right]));
  assert.equal(channels.length, 2);
  assertClose(channels[0], left.map((v) => v / 32768));
  assertClose(channels[1], right.map((v) => v / 32768));
  assertClose(toMono(channels), [0.25, -0.5, 0.125, -1 / 65536]);
});

test('a truncated data chunk yields the whole frames that are present', () => {
  const bytes = wavFromScratch(2, 8000, '16', [
    [1000, 2000, 3000],
    [-1000, -2000, -3000],
  ]);
  const { channels } = decodeWav(bytes.subarray(0, bytes.length - 3));
  assert.equal(channels[0].length, 2);
  assert.equal(channels[1].length, 2);
});

test('garbled or unsupported WAVs fail with a one-line error naming the file', () => {
  const bad: [Uint8Array, RegExp][] = [
    [new TextEncoder().encode('hello, this is not audio at all'), /clip\.wav is not a readable WAV file/],
    [encodeWav(new Float32Array(100), 8000).subarray(0, 30), /clip\.wav is not a readable WAV file/],
    [wavFromScratch(1, 8000, '8a', [1, 2, 3]), /clip\.wav uses an unsupported WAV encoding \(format code 6/],
  ];
  for (const [bytes, message] of bad) {
    assert.throws(
      () => decodeWav(bytes, 'clip.wav'),
      (err: unknown) => err instanceof VqcodecError && message.test(err.message) && !err.message.includes('\n'),
    );
  }
});

test('writeWav writes a decodable file atomically', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-wav-'));
  try {
    const target = path.join(dir, 'sub', 'out.wav');
    const samples = new Float32Array([0.25, -0.5, 0.75]);
    await writeWav(target, { samples, sampleRate: 24000 }, 'float32');
    const back = decodeWav(await fs.readFile(target));
    assert.equal(back.sampleRate, 24000);
    assert.deepEqual(back.channels[0], samples);
    assert.deepEqual(await fs.readdir(path.join(dir, 'sub')), ['out.wav']);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
