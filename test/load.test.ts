import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import wavefile from 'wavefile';
import { VqcodecError } from '../src/errors.js';
import { encodeWav } from '../src/audio/wav.js';
import { decodeAudioBytes, isWav, loadAudio, sniffSampleRate, toMono, validateAudio } from '../src/audio/load.js';
import { FIXTURES } from '../src/paths.js';


const SPEECH_WAV = path.join(FIXTURES, 'speech.wav');
const SPEECH_OGG = path.join(FIXTURES, 'speech.ogg');
/** Length of speech.wav in samples at 16 kHz (fixed by datasets/fixtures.sh). */
const SPEECH_LENGTH = 57820;

let tmp = '';
before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-load-'));
});
after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

async function tmpFile(name: string, bytes: Uint8Array | string): Promise<string> {
  const file = path.join(tmp, name);
  await fs.writeFile(file, bytes);
  return file;
}

function sine(freq: number, rate: number, seconds: number, amplitude = 0.5): Float32Array {
  const x = new Float32Array(Math.round(rate * seconds));
  for (let i = 0; i < x.length; i++) x[i] = amplitude * Math.sin((2 * Math.PI * freq * i) / rate);
  return x;
}

function rms(x: Float32Array, from = 0, to = x.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i] * x[i];
  return Math.sqrt(s / (to - from));
}

/** Asserts that `promise` rejects with a one-line VqcodecError whose message contains `fragment`. */
async function rejectsWith(promise: Promise<unknown>, fragment: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof VqcodecError, `expected VqcodecError, got ${String(err)}`);
    assert.ok(err.message.includes(fragment), `"${err.message}" lacks "${fragment}"`);
    assert.ok(!err.message.includes('\n'), 'message should be one line');
    return true;
  });
}

test('isWav recognises RIFF/WAVE headers only', async () => {
  assert.equal(isWav(encodeWav(new Float32Array(4), 8000)), true);
  assert.equal(isWav(await fs.readFile(SPEECH_OGG)), false);
  assert.equal(isWav(new TextEncoder().encode('RIFF....AVI LIST')), false);
  assert.equal(isWav(new Uint8Array(3)), false);
});

test('toMono averages channels and passes mono through', () => {
  const a = new Float32Array([1, 0, -1]);
  assert.equal(toMono([a]), a);
  assert.deepEqual(toMono([a, new Float32Array([0, 1, -1]), new Float32Array([-1, 0.5, 0.5])]), new Float32Array([0, 0.5, -0.5]));
});

test('sniffSampleRate reads Ogg Vorbis, FLAC and MP3 headers', async () => {
  assert.equal(sniffSampleRate(await fs.readFile(SPEECH_OGG)), 16000);
  // fLaC + STREAMINFO block header + block sizes, frame sizes, then 20-bit rate 44100 (0x0AC44).
  const flac = new Uint8Array(42);
  flac.set([0x66, 0x4c, 0x61, 0x43, 0x80, 0, 0, 34], 0);
  flac.set([0x0a, 0xc4, 0x40], 18);
  assert.equal(sniffSampleRate(flac), 44100);
  // An ID3v2 tag of 5 bytes, then an MPEG-2 layer III frame header at 24 kHz.
  const mp3 = new Uint8Array([0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4, 5, 0xff, 0xf3, 0x94, 0x64, 0, 0]);
  assert.equal(sniffSampleRate(mp3), 24000);
  assert.equal(sniffSampleRate(new TextEncoder().encode('just some text, no audio here')), undefined);
});

test('loadAudio reads the fixture WAV as 16 kHz mono speech', async () => {
  const audio = await loadAudio(SPEECH_WAV, 16000);
  assert.equal(audio.sampleRate, 16000);
  assert.equal(audio.samples.length, SPEECH_LENGTH);
  const level = rms(audio.samples);
  assert.ok(level > 0.02 && level < 0.5, `speech rms ${level}`);
});

test('loadAudio reads the fixture OGG through decodeAudioData', async () => {
  const wav = await loadAudio(SPEECH_WAV, 16000);
  const ogg = await loadAudio(SPEECH_OGG, 16000);
  assert.equal(ogg.sampleRate, 16000);
  // Vorbis decoders may keep a little encoder padding at the end.
  assert.ok(Math.abs(ogg.samples.length - SPEECH_LENGTH) <= 400, `ogg length ${ogg.samples.length}`);
  const ratio = rms(ogg.samples) / rms(wav.samples);
  assert.ok(ratio > 0.9 && ratio < 1.1, `ogg/wav rms ratio ${ratio}`);
});

test('FLAC (22.05 kHz stereo) and MP3 load as 16 kHz mono of about the WAV’s length and level', async () => {
  const wav = await loadAudio(path.join(FIXTURES, 'speech.wav'), 16000);
  for (const name of ['speech.flac', 'speech.mp3']) {
    const audio = await loadAudio(path.join(FIXTURES, name), 16000);
    assert.equal(audio.sampleRate, 16000);
    // MP3 adds encoder delay and pads to whole 576-sample granules: 1508 samples here.
    assert.ok(Math.abs(audio.samples.length - SPEECH_LENGTH) <= 2000, `${name} length ${audio.samples.length}`);
    const ratio = rms(audio.samples) / rms(wav.samples);
    assert.ok(ratio > 0.85 && ratio < 1.15, `${name}/wav rms ratio ${ratio}`);
  }
});

test('compressed audio is decoded at its own rate, then resampled band-limited', async () => {
  const bytes = await fs.readFile(SPEECH_OGG);
  const decoded = await decodeAudioBytes(bytes, 'speech.ogg');
  assert.equal(decoded.sampleRate, 16000);
  assert.equal(decoded.channels.length, 1);
  const at8k = await loadAudio(SPEECH_OGG, 8000);
  assert.equal(at8k.sampleRate, 8000);
  assert.ok(Math.abs(at8k.samples.length - decoded.channels[0].length / 2) <= 2);
});

test('loadAudio resamples a 44.1 kHz stereo WAV to 16 kHz', async () => {
  const left = sine(440, 44100, 1);
  const right = sine(440, 44100, 1);
  const wav = new wavefile.WaveFile();
  wav.fromScratch(2, 44100, '32f', [left, right]);
  const file = await tmpFile('tone44k.wav', wav.toBuffer());
  const audio = await loadAudio(file, 16000);
  assert.equal(audio.sampleRate, 16000);
  assert.ok(Math.abs(audio.samples.length - 16000) <= 2, `length ${audio.samples.length}`);
  // Away from the edges the tone keeps its level (0.5 / sqrt 2).
  const level = rms(audio.samples, 1000, 15000);
  assert.ok(Math.abs(level - 0.5 / Math.SQRT2) < 0.01, `rms ${level}`);
});

test('loadAudio rejects missing files and directories', async () => {
  await rejectsWith(loadAudio(path.join(tmp, 'nope.wav'), 16000), `no such file: ${path.join(tmp, 'nope.wav')}`);
  await rejectsWith(loadAudio(tmp, 16000), 'is a directory');
});

test('loadAudio rejects files that are not audio', async () => {
  const text = await tmpFile('notes.wav', 'These are my meeting notes, not a recording.\n');
  await rejectsWith(loadAudio(text, 16000), `${text} is not a readable audio file (WAV, MP3, OGG or FLAC)`);
  const noise = new Uint8Array(4096);
  for (let i = 0; i < noise.length; i++) noise[i] = (i * 7919 + ((i * i) >> 3)) & 0xff;
  const random = await tmpFile('random.bin', noise);
  await rejectsWith(loadAudio(random, 16000), 'is not a readable audio file');
  const truncated = await tmpFile('cut.wav', encodeWav(sine(100, 8000, 0.1), 8000).subarray(0, 30));
  await rejectsWith(loadAudio(truncated, 16000), 'is not a readable WAV file');
});

test('loadAudio rejects empty, silent and non-finite audio', async () => {
  const empty = await tmpFile('empty.wav', encodeWav(new Float32Array(0), 16000));
  await rejectsWith(loadAudio(empty, 16000), 'is empty');
  const zeros = await tmpFile('zeros.wav', encodeWav(new Float32Array(16000), 16000));
  await rejectsWith(loadAudio(zeros, 16000), 'is silent');
  const withNaN = sine(300, 16000, 0.5);
  withNaN[1234] = NaN;
  const nanFile = await tmpFile('nan.wav', encodeWav(withNaN, 16000, 'float32'));
  await rejectsWith(loadAudio(nanFile, 16000), 'contains NaN or infinite samples');
  // Also when a resample would follow, the check happens first.
  await rejectsWith(loadAudio(nanFile, 8000), 'contains NaN or infinite samples');
});

test('validateAudio checks emptiness, finiteness and silence', () => {
  const ok = { samples: sine(200, 8000, 0.1), sampleRate: 8000 };
  validateAudio(ok, 'ok');
  const cases: [Float32Array, string][] = [
    [new Float32Array(0), 'x is empty'],
    [new Float32Array([0.1, Infinity]), 'x contains NaN or infinite samples'],
    [new Float32Array([0.1, -Infinity]), 'x contains NaN or infinite samples'],
    [new Float32Array(100).fill(5e-6), 'x is silent'],
  ];
  for (const [samples, fragment] of cases) {
    assert.throws(
      () => validateAudio({ samples, sampleRate: 8000 }, 'x'),
      (err: unknown) => err instanceof VqcodecError && err.message.includes(fragment),
    );
  }
});
