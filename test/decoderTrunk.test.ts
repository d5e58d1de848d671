/**
 * The decoder's wide frame-rate trunk (CodecConfig.decoderTrunk): growing a trained model by it
 * changes nothing until it trains (its output projection starts at zero); its receptive field
 * is counted, so chunked decoding still equals whole decoding; and `train --init DIR
 * --add-decoder-trunk CxN` fine-tunes the grown model. Deepening a trained trunk
 * (`--deepen-decoder-trunk N`) also starts as the identity.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { loadAudio } from '../src/audio/load.js';
import { Codec } from '../src/codec.js';
import { DEFAULT_QUANTIZER_TRAINING, makeConfig, PRESETS, type CodecConfig } from '../src/model/config.js';
import { VqVae } from '../src/model/vqvae.js';
import { FIXTURES } from '../src/paths.js';
import { Random } from '../src/train/random.js';
import { grownModel } from '../src/train/grow.js';

const BASE: CodecConfig = makeConfig({ ...PRESETS.tiny, channels: 2, maxChannels: 8 });
const TRUNK = { channels: 16, blocks: 4, kernelSize: 3 };
let speech: Float32Array;

before(async () => {
  await initBackend('wasm');
  speech = (await loadAudio(path.join(FIXTURES, 'speech.wav'), 16000)).samples.subarray(0, 16000);
});

test('a model grown by a trunk decodes exactly as the model it grew from', () => {
  const base = new VqVae(BASE, 3);
  const grown = new VqVae({ ...BASE, decoderTrunk: TRUNK }, 9);
  grown.loadArraysGrowing(base.inferenceArrays(), 'base', (n) => n.startsWith('decoder.trunk.'));
  const a = Codec.fromModel(base);
  const b = Codec.fromModel(grown);
  const tokens = a.encode(speech);
  const grownTokens = b.encode(speech);
  assert.deepEqual(grownTokens.codes, tokens.codes);
  assert.deepEqual(b.decode(grownTokens), a.decode(tokens));
  assert.notEqual(a.fingerprint, b.fingerprint, 'a grown model is a new model');
  assert.ok(b.model.macsPerSample() > a.model.macsPerSample());
  a.dispose();
  b.dispose();
});

test('with a trained (non-zero) trunk, chunked decoding equals whole decoding', () => {
  const codec = Codec.create({ ...BASE, decoderTrunk: TRUNK }, 5);
  const random = new Random(2);
  const out = codec.model.params.get('decoder.trunk.out.w');
  out.assign(tf.tensor(Float32Array.from({ length: out.size }, () => random.next() - 0.5), out.shape));
  const tokens = codec.encode(speech);
  const whole = codec.decode(tokens);
  assert.deepEqual(codec.decode(tokens, { chunkFrames: 3 }), whole);
  assert.ok(codec.model.decoderContext.before >= Codec.create(BASE, 5).model.decoderContext.before + TRUNK.blocks, 'the trunk widens the receptive field');
  codec.dispose();
});

test('a model grown by an encoder trunk codes and decodes exactly as the model it grew from, until the trunk trains', () => {
  const base = new VqVae(BASE, 3);
  const grown = new VqVae({ ...BASE, encoderTrunk: TRUNK }, 9);
  grown.loadArraysGrowing(base.inferenceArrays(), 'base', (n) => n.startsWith('encoder.trunk.'));
  const a = Codec.fromModel(base);
  const b = Codec.fromModel(grown);
  const tokens = a.encode(speech);
  assert.deepEqual(b.encode(speech).codes, tokens.codes);
  assert.notEqual(a.fingerprint, b.fingerprint, 'a grown model is a new model');
  assert.ok(b.model.macsPerSample() > a.model.macsPerSample());
  // A trained (non-zero) trunk changes the codes, and its receptive field is counted: chunked encoding equals whole encoding.
  const random = new Random(4);
  const out = grown.params.get('encoder.trunk.out.w');
  out.assign(tf.tensor(Float32Array.from({ length: out.size }, () => 4 * (random.next() - 0.5)), out.shape));
  const trained = Codec.fromModel(grown);
  const codes = trained.encode(speech).codes;
  assert.notDeepEqual(codes, tokens.codes, 'the trunk reaches the codes');
  assert.deepEqual(trained.encode(speech, { chunkFrames: 3 }).codes, codes);
  assert.ok(grown.encoderContext.before >= base.encoderContext.before + TRUNK.blocks, 'the trunk widens the receptive field');
  a.dispose();
  b.dispose();
  trained.dispose();
});

test('deepening a trained trunk by identity units decodes exactly as before; the new units then train', () => {
  const codec = Codec.create({ ...BASE, decoderTrunk: TRUNK }, 5);
  // A trained trunk: non-zero output, so the old units matter.
  const random = new Random(3);
  const out = codec.model.params.get('decoder.trunk.out.w');
  out.assign(tf.tensor(Float32Array.from({ length: out.size }, () => random.next() - 0.5), out.shape));
  const deeper = Codec.fromModel(grownModel(codec.model, { seed: 8, deepenDecoderTrunk: 3 }, 'saved', DEFAULT_QUANTIZER_TRAINING));
  assert.equal(deeper.model.config.decoderTrunk?.blocks, TRUNK.blocks + 3);
  const tokens = codec.encode(speech);
  const deeperTokens = deeper.encode(speech);
  assert.deepEqual(deeperTokens.codes, tokens.codes, 'the codes do not change');
  assert.deepEqual(deeper.decode(deeperTokens), codec.decode(tokens), 'identity units change nothing');
  // The new units' first layers are fresh (not zero), so once their last layers move they reach the output.
  const arrays = deeper.model.inferenceArrays();
  assert.ok(arrays[`decoder.trunk.unit${TRUNK.blocks}.dilated.w`]!.data.some((v) => v !== 0));
  assert.ok(arrays[`decoder.trunk.unit${TRUNK.blocks + 2}.pointwise.w`]!.data.every((v) => v === 0));
  assert.deepEqual(arrays['decoder.trunk.unit0.pointwise.w']!.data, codec.model.inferenceArrays()['decoder.trunk.unit0.pointwise.w']!.data, 'old units keep their weights');
  const pw = deeper.model.params.get(`decoder.trunk.unit${TRUNK.blocks}.pointwise.w`);
  pw.assign(tf.tensor(Float32Array.from({ length: pw.size }, () => random.next() - 0.5), pw.shape));
  const moved = Codec.fromModel(deeper.model);
  assert.notDeepEqual(moved.decode(moved.encode(speech)), codec.decode(tokens));
  codec.dispose();
  deeper.dispose();
});

test('deepening a model without a trunk is refused, naming the folder', () => {
  const base = new VqVae(BASE, 3);
  assert.throws(() => grownModel(base, { seed: 1, deepenDecoderTrunk: 2 }, 'models/x', DEFAULT_QUANTIZER_TRAINING), /models\/x has no decoder trunk to deepen/);
  base.dispose();
});
