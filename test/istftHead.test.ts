/**
 * The decoder's inverse-STFT head (CodecConfig.istftHead): a model whose decoder ends at the
 * frame rate keeps the codes of the model it came from, counts its receptive field (chunked
 * decoding equals whole decoding), trains on wasm (its loss falls), and bad shapes are refused.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { loadAudio } from '../src/audio/load.js';
import { Codec } from '../src/codec.js';
import { hopLength, makeConfig, PRESETS, type CodecConfig } from '../src/model/config.js';
import { VqVae } from '../src/model/vqvae.js';
import { FIXTURES } from '../src/paths.js';
import { Adam } from '../src/train/adam.js';
import { Random } from '../src/train/random.js';
import { trainStep } from '../src/train/step.js';

const BASE: CodecConfig = makeConfig({ ...PRESETS.tiny, channels: 2, maxChannels: 8 });
const HEAD = { window: 4 * hopLength(BASE), channels: 16 };
let speech: Float32Array;

before(async () => {
  await initBackend('wasm');
  speech = (await loadAudio(path.join(FIXTURES, 'speech.wav'), 16000)).samples.subarray(0, 16000);
});

test('a model given an iSTFT head keeps its codes; its decoder ends at the frame rate', () => {
  const base = new VqVae(BASE, 3);
  const headed = new VqVae({ ...BASE, istftHead: HEAD }, 9);
  headed.loadArraysGrowing(base.inferenceArrays(), 'base', (n) => n.startsWith('decoder.head.'));
  const a = Codec.fromModel(base);
  const b = Codec.fromModel(headed);
  const tokens = b.encode(speech);
  assert.deepEqual(tokens.codes, a.encode(speech).codes, 'the encoder and codebooks are the saved ones');
  const audio = b.decode(tokens);
  assert.equal(audio.length, tokens.frames * hopLength(BASE));
  assert.ok(audio.every(Number.isFinite));
  assert.ok(!headed.params.names().some((n) => n.startsWith('decoder.stage') || n.startsWith('decoder.output')), 'no upsampling stages are left');
  assert.notEqual(a.fingerprint, b.fingerprint);
  a.dispose();
  b.dispose();
});

test('with an iSTFT head, chunked decoding equals whole decoding', () => {
  const codec = Codec.create({ ...BASE, istftHead: HEAD }, 5);
  const tokens = codec.encode(speech);
  const whole = codec.decode(tokens);
  const chunked = codec.decode(tokens, { chunkFrames: 3 });
  assert.equal(chunked.length, whole.length);
  for (let i = 0; i < whole.length; i++) assert.ok(Math.abs(chunked[i] - whole[i]) < 1e-5, `sample ${i}: ${chunked[i]} vs ${whole[i]}`);
  assert.ok(codec.model.decoderContext.before >= HEAD.window / hopLength(BASE) / 2, 'the overlap-add is counted');
  codec.dispose();
});

test('a model with an iSTFT head trains on wasm: its loss falls', () => {
  const config = makeConfig({ ...BASE, strides: [2, 4], istftHead: { window: 32, channels: 16 } });
  const model = new VqVae(config, 4);
  const crop = 2048;
  const starts = [4000, 14000, 26000, 40000];
  const batch = tf.tensor2d(Float32Array.from(starts.flatMap((s) => Array.from(speech.subarray(s % (speech.length - crop), (s % (speech.length - crop)) + crop)))), [starts.length, crop]);
  const optimizer = new Adam({ learningRate: 3e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, clipNorm: 1 });
  const random = new Random(1);
  const totals: number[] = [];
  for (let i = 0; i < 40; i++) {
    totals.push(trainStep({ model, optimizer, losses: { weights: { waveform: 1, stft: 1, vq: 1 }, stftWindows: [64, 128] }, random: random.next }, batch, config.quantizer.numCodebooks).total);
  }
  assert.ok(totals.every(Number.isFinite));
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(mean(totals.slice(-5)) < 0.8 * mean(totals.slice(0, 5)), `losses ${totals.map((t) => t.toFixed(2)).join(' ')}`);
  batch.dispose();
  model.dispose();
});

test('impossible iSTFT heads are refused in one line', () => {
  const hop = hopLength(BASE);
  assert.throws(() => makeConfig({ ...BASE, istftHead: { window: hop + 1, channels: 8 } }), /istftHead window must be a multiple of the frame hop/);
  assert.throws(() => makeConfig({ ...BASE, istftHead: { window: 3 * hop, channels: 0 } }), /channels must be a positive integer/);
  assert.throws(() => makeConfig({ ...PRESETS.spectral, istftHead: { window: 960, channels: 8 } }), /two different decoder ends/);
});

test('decoder-only training (freezeEncoder) changes the decoder and leaves the encoder and codebooks exact', () => {
  const config = makeConfig({ ...BASE, strides: [2, 4], istftHead: { window: 32, channels: 16 } });
  const model = new VqVae(config, 6);
  model.freezeEncoder();
  const crop = 2048;
  const batch = tf.tensor2d(speech.subarray(4000, 4000 + 2 * crop), [2, crop]);
  const before = model.params.snapshot();
  const optimizer = new Adam({ learningRate: 3e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, clipNorm: 1 });
  const random = new Random(1);
  for (let i = 0; i < 5; i++) trainStep({ model, optimizer, losses: { weights: { waveform: 1, stft: 1, vq: 1 }, stftWindows: [64] }, random: random.next }, batch, 3);
  const after = model.params.snapshot();
  for (const name of Object.keys(before)) {
    const same = before[name].data.every((v, i) => v === after[name].data[i]);
    if (name.startsWith('decoder.')) assert.ok(!name.endsWith('.w') || !same, `${name} trains`);
    else assert.ok(same, `${name} stays as it was`);
  }
  batch.dispose();
  model.dispose();
});
