/**
 * A model with spectral ends (config.spectral): it codes any length, chunked coding equals
 * whole coding (so its context covers the STFT windows), and a short training run on real
 * speech lowers its loss without leaking tensors.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { loadAudio } from '../src/audio/load.js';
import { Codec } from '../src/codec.js';
import { hopLength, makeConfig } from '../src/model/config.js';
import { VqVae } from '../src/model/vqvae.js';
import { Adam } from '../src/train/adam.js';
import { Random } from '../src/train/random.js';
import { trainStep } from '../src/train/step.js';
import { FIXTURES } from '../src/paths.js';

/** STFT frames every 40 samples (window 160), then strides 2·4: hop 320, 50 frames/s. */
const CONFIG = makeConfig({
  channels: 8,
  maxChannels: 16,
  strides: [2, 4],
  dilations: [1, 3],
  kernelSize: 3,
  spectral: { hop: 40, window: 160 },
  quantizer: { codebookSize: 16, dim: 8, numCodebooks: 3 },
});

let speech: Float32Array;
let codec: Codec;

before(async () => {
  await initBackend('wasm');
  speech = (await loadAudio(path.join(FIXTURES, 'speech.wav'), 16000)).samples;
  codec = Codec.create(CONFIG, 1);
});

after(() => codec?.dispose());

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

test('hop is the STFT hop times the strides', () => {
  assert.equal(hopLength(CONFIG), 320);
  assert.equal(codec.hop, 320);
});

test('encode → decode restores any length with finite samples', () => {
  for (const length of [0, 1, 319, 321, 16000]) {
    const y = codec.decode(codec.encode(speech.slice(0, length)));
    assert.equal(y.length, length);
    assert.ok(y.every(Number.isFinite));
  }
});

test('chunked encoding and decoding equal whole encoding and decoding', (t) => {
  t.diagnostic(`context: encoder ${JSON.stringify(codec.model.encoderContext)}, decoder ${JSON.stringify(codec.model.decoderContext)} frames`);
  const whole = codec.encode(speech, { chunkFrames: 100000 });
  assert.ok(new Set(whole.codes).size > 4, 'codes vary');
  for (const chunkFrames of [1, 7, 64]) assert.deepEqual(codec.encode(speech, { chunkFrames }).codes, whole.codes, `chunkFrames ${chunkFrames}`);
  const decoded = codec.decode(whole, { chunkFrames: 100000 });
  for (const chunkFrames of [1, 7, 64]) {
    const diff = maxAbsDiff(codec.decode(whole, { chunkFrames }), decoded);
    assert.ok(diff <= 1e-5, `chunkFrames ${chunkFrames}: max difference ${diff}`);
  }
});

for (const head of ['polar', 'cartesian'] as const) {
  test(`${head} head: 40 Adam steps on real speech lower the loss; no tensor leaks per step`, (t) => trainBriefly(head, t.diagnostic.bind(t)));
}

function trainBriefly(head: 'polar' | 'cartesian', diagnostic: (s: string) => void): void {
  const crop = 2560;
  const starts = [4000, 14000, 26000, 40000];
  const crops = new Float32Array(starts.length * crop);
  starts.forEach((s, i) => crops.set(speech.subarray(s, s + crop), i * crop));
  const batch = tf.tensor2d(crops, [starts.length, crop]);
  const model = new VqVae(makeConfig({ ...CONFIG, spectral: { ...CONFIG.spectral!, head } }), 1);
  const adam = new Adam({ learningRate: 3e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, clipNorm: 1 });
  const random = new Random(1);
  const totals: number[] = [];
  const tensors: number[] = [];
  for (let i = 0; i < 40; i++) {
    totals.push(trainStep({ model, optimizer: adam, losses: { weights: { waveform: 1, stft: 1, vq: 1 }, stftWindows: [64, 128] }, random: random.next }, batch, 3).total);
    tensors.push(tf.memory().numTensors);
  }
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const [first, last] = [mean(totals.slice(0, 5)), mean(totals.slice(-5))];
  diagnostic(`total loss: first 5 steps ${first.toFixed(4)}, last 5 ${last.toFixed(4)}`);
  assert.ok(totals.every(Number.isFinite));
  assert.ok(last < 0.8 * first, `last-5 mean ${last} is not below 0.8 × first-5 mean ${first}`);
  assert.ok(tensors.slice(2).every((n) => n === tensors[2]), `numTensors ${tensors.join(',')}`);
  tf.dispose([batch]);
  adam.dispose();
  model.dispose();
}
