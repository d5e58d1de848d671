/**
 * Training at the edges of its data, and its determinism: an empty folder or manifest, or one
 * whose files are all unusable, fails with one clear line before a run folder is made; a single
 * file shorter than a crop trains; files of mixed sample rates and channel counts train. Two runs
 * with the same seed give the same losses step for step and the same weights to the bit (on one
 * backend); encoding the same audio twice gives identical token files.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../src/backend.js';
import { loadAudio } from '../src/audio/load.js';
import { encodeWav } from '../src/audio/wav.js';
import { Codec } from '../src/codec.js';
import { readBundle } from '../src/io/bundleFs.js';
import { makeConfig, PRESETS } from '../src/model/config.js';
import { DEFAULT_MODEL, FIXTURES } from '../src/paths.js';
import { encodeTokenFile } from '../src/tokens/tokenFile.js';
import { loadClips } from '../src/train/data.js';
import { DEFAULT_TRAIN_OPTIONS, readLog, train, type StepLog, type TrainOptions } from '../src/train/trainer.js';
import { isVqcodecError } from './support/errors.js';

const CONFIG = makeConfig(PRESETS.tiny);
let root: string;

function options(data: string, outDir: string, overrides: Partial<TrainOptions> = {}): TrainOptions {
  return {
    ...DEFAULT_TRAIN_OPTIONS,
    data,
    outDir: path.join(root, outDir),
    steps: 2,
    batchSize: 2,
    cropSeconds: 0.2,
    stftWindows: [64, 128, 256],
    logEvery: 1,
    validateEvery: 1000,
    checkpointEvery: 2,
    validClips: 1,
    validSeconds: 1,
    seed: 3,
    workers: 1,
    ...overrides,
  };
}


/** A 16-bit PCM WAV of `channels` interleaved channels, each a tone at its own pitch. */
function pcmWav(seconds: number, sampleRate: number, channels: number): Uint8Array {
  const frames = Math.round(seconds * sampleRate);
  const out = new Uint8Array(44 + frames * channels * 2);
  const view = new DataView(out.buffer);
  const ascii = (at: number, s: string) => [...s].forEach((c, i) => view.setUint8(at + i, c.charCodeAt(0)));
  ascii(0, 'RIFF');
  view.setUint32(4, out.length - 8, true);
  ascii(8, 'WAVEfmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, channels, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * channels * 2, true);
  view.setUint16(32, channels * 2, true);
  view.setUint16(34, 16, true);
  ascii(36, 'data');
  view.setUint32(40, frames * channels * 2, true);
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channels; c++) view.setInt16(44 + 2 * (i * channels + c), Math.round(8000 * Math.sin((2 * Math.PI * (200 + 90 * c) * i) / sampleRate)), true);
  }
  return out;
}

const losses = (log: Awaited<ReturnType<typeof readLog>>) => log.filter((e): e is StepLog => e.type === 'train').map((e) => e.total);

before(async () => {
  await initBackend('wasm');
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-limits-'));
});

after(async () => {
  if (root) await fs.rm(root, { recursive: true, force: true });
});

test('an empty folder, an empty manifest, or only unusable files: one clear line, and no run folder for an empty one', async () => {
  const empty = path.join(root, 'empty');
  await fs.mkdir(empty);
  await assert.rejects(train(CONFIG, options(empty, 'run-empty'), false), isVqcodecError(/^no audio files \(\.wav, \.mp3, \.ogg, \.flac\) under /));
  assert.ok(!existsSync(path.join(root, 'run-empty')), 'nothing written');
  const manifest = path.join(root, 'empty.jsonl');
  await fs.writeFile(manifest, '\n');
  await assert.rejects(train(CONFIG, options(manifest, 'run-manifest'), false), isVqcodecError(/empty\.jsonl lists no training files$/));
  assert.ok(!existsSync(path.join(root, 'run-manifest')), 'nothing written');
  const broken = path.join(root, 'broken');
  await fs.mkdir(broken);
  await fs.writeFile(path.join(broken, 'noise.wav'), 'not a wav file at all');
  await assert.rejects(train(CONFIG, options(broken, 'run-broken'), false), isVqcodecError(/^no usable training audio: the one training file was skipped \(.*noise\.wav: /));
  const silent = path.join(root, 'silent');
  await fs.mkdir(silent);
  for (const name of ['a.wav', 'b.wav']) await fs.writeFile(path.join(silent, name), encodeWav(new Float32Array(4000), 16000));
  await assert.rejects(train(CONFIG, options(silent, 'run-silent'), false), isVqcodecError(/^no usable training audio: the one training file was skipped \(.* is silent/));
});

test('a dataset of one file shorter than a crop trains (the crop is padded with silence)', async () => {
  const dir = path.join(root, 'one-tiny');
  await fs.mkdir(dir);
  // 0.05 s: a quarter of a 0.2 s crop.
  await fs.writeFile(path.join(dir, 'short.wav'), pcmWav(0.05, 16000, 1));
  (await train(CONFIG, options(dir, 'run-one-tiny'), false)).dispose();
  const log = await readLog(path.join(root, 'run-one-tiny'));
  assert.equal(losses(log).length, 2);
  assert.ok(losses(log).every(Number.isFinite), `finite losses ${losses(log)}`);
  assert.equal(log.filter((e) => e.type === 'skip').length, 0);
  // Two tiny files: one is held out, and validation on a 0.03 s clip works too.
  await fs.writeFile(path.join(dir, 'shorter.wav'), pcmWav(0.03, 16000, 1));
  (await train(CONFIG, options(dir, 'run-two-tiny'), false)).dispose();
  const valid = (await readLog(path.join(root, 'run-two-tiny'))).filter((e) => e.type === 'valid');
  assert.equal(valid.length, 1);
});

test('files of mixed sample rates and channel counts load at the model’s rate, mono, and train', async () => {
  const dir = path.join(root, 'mixed');
  await fs.mkdir(dir);
  const files = { 'mono8k.wav': pcmWav(0.5, 8000, 1), 'stereo44k.wav': pcmWav(0.4, 44100, 2), 'three22k.wav': pcmWav(0.3, 22050, 3), 'stereo48k.wav': pcmWav(0.6, 48000, 2) };
  for (const [name, bytes] of Object.entries(files)) await fs.writeFile(path.join(dir, name), bytes);
  await fs.copyFile(path.join(FIXTURES, 'speech.mp3'), path.join(dir, 'speech.mp3'));
  const { clips, skipped } = await loadClips(Object.keys(files).map((f) => path.join(dir, f)), 16000);
  assert.deepEqual(skipped, []);
  assert.deepEqual(clips.map((c) => Math.round(c.samples.length / 160)), [50, 40, 30, 60], 'durations kept (in 10 ms units)');
  (await train(CONFIG, options(dir, 'run-mixed', { steps: 3 }), false)).dispose();
  const log = await readLog(path.join(root, 'run-mixed'));
  assert.ok(losses(log).length === 3 && losses(log).every(Number.isFinite), `finite losses ${losses(log)}`);
});

test('two runs with the same seed give the same losses step for step and the same weights to the bit; another seed does not', async () => {
  const dir = path.join(root, 'speech');
  await fs.mkdir(dir);
  for (const f of ['speech.wav', 'speech.ogg']) await fs.copyFile(path.join(FIXTURES, f), path.join(dir, f));
  const runs = ['seed-a', 'seed-b', 'seed-other'];
  for (const [i, run] of runs.entries()) (await train(CONFIG, options(dir, run, { steps: 4, seed: i < 2 ? 7 : 8 }), false)).dispose();
  const [a, b, other] = await Promise.all(runs.map(async (r) => losses(await readLog(path.join(root, r)))));
  assert.equal(a.length, 4);
  assert.deepEqual(b, a, 'same seed, same losses');
  assert.notDeepEqual(other, a, 'another seed, other losses');
  const [ca, cb] = await Promise.all(runs.slice(0, 2).map((r) => readBundle(path.join(root, r, 'checkpoint.bin'))));
  for (const name of Object.keys(ca.arrays)) assert.ok(Buffer.from(ca.arrays[name].data.buffer, ca.arrays[name].data.byteOffset, ca.arrays[name].data.byteLength).equals(Buffer.from(cb.arrays[name].data.buffer, cb.arrays[name].data.byteOffset, cb.arrays[name].data.byteLength)), name);
  const weights = await Promise.all(runs.slice(0, 2).map((r) => fs.readFile(path.join(root, r, 'model', 'weights.bin'))));
  assert.ok(weights[0].equals(weights[1]), 'identical model/weights.bin');
});

test('encoding the same audio twice (with two loads of the model) gives identical token files', async () => {
  const samples = (await loadAudio(path.join(FIXTURES, 'speech.wav'), 16000)).samples;
  const files: Uint8Array[] = [];
  for (let i = 0; i < 2; i++) {
    const codec = await Codec.load(DEFAULT_MODEL);
    try {
      files.push(encodeTokenFile(codec.encode(samples)));
    } finally {
      codec.dispose();
    }
  }
  assert.ok(files[0].length > 0);
  assert.ok(Buffer.from(files[0]).equals(Buffer.from(files[1])), 'byte for byte');
});
