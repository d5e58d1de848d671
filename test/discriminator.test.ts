/**
 * GAN training (src/train/discriminator.ts, step.ts): the spectrogram discriminator's shapes,
 * the hinge and feature-matching losses on known values, a discriminator that learns to tell
 * speech from a degraded copy, and codec steps against it without leaks.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { loadAudio } from '../src/audio/load.js';
import { makeConfig } from '../src/model/config.js';
import { VqVae } from '../src/model/vqvae.js';
import { Adam } from '../src/train/adam.js';
import {
  adversarialLoss,
  discriminatorLoss,
  featureMatchingLoss,
  SpectrogramDiscriminator,
  type DiscriminatorOutput,
} from '../src/train/discriminator.js';
import { Random } from '../src/train/random.js';
import { computeGradients, trainStep, usesDiscriminator, type LossWeights } from '../src/train/step.js';
import { FIXTURES } from '../src/paths.js';

const WINDOWS = [128, 256];
const CROP = 2048;
const STARTS = [4000, 14000, 26000, 40000];
const ADAM = (beta1: number, beta2: number) => ({ learningRate: 2e-3, beta1, beta2, epsilon: 1e-8, clipNorm: 1 });
const CONFIG = makeConfig({ channels: 4, maxChannels: 16, strides: [2, 4], dilations: [1, 3], kernelSize: 3, quantizer: { codebookSize: 16, dim: 8, numCodebooks: 2 } });
const GAN: LossWeights = { waveform: 1, stft: 1, vq: 1, adversarial: 1, featureMatching: 2 };

let crops: Float32Array;

before(async () => {
  await initBackend('wasm');
  const audio = await loadAudio(path.join(FIXTURES, 'speech.wav'), 16000);
  crops = new Float32Array(STARTS.length * CROP);
  STARTS.forEach((s, i) => crops.set(audio.samples.subarray(s, s + CROP), i * CROP));
});

/** An output with the given logits per resolution and one feature map each. */
function output(logits: number[][], features: number[][]): DiscriminatorOutput {
  return {
    logits: logits.map((l) => tf.tensor3d(l, [1, l.length, 1])),
    features: features.map((f) => [tf.tensor3d(f, [1, f.length, 1])]),
  };
}

test('the discriminator gives a logit per STFT frame and three feature maps per resolution', () => {
  const disc = new SpectrogramDiscriminator(1, { windows: WINDOWS, channels: 16 });
  const batch = tf.tensor2d(crops, [STARTS.length, CROP]);
  const out = disc.apply(batch);
  // Frames of a window-w STFT with hop w/4 and no centring: (CROP − w) / (w/4) + 1.
  assert.deepEqual(out.logits.map((l) => l.shape), WINDOWS.map((w) => [STARTS.length, (CROP - w) / (w / 4) + 1, 1]));
  assert.deepEqual(out.features.map((f) => f.map((x) => x.shape[2])), [[16, 16, 16], [16, 16, 16]]);
  assert.equal(disc.minLength, 256);
  tf.dispose([batch, ...out.logits, ...out.features.flat()]);
  disc.dispose();
});

test('hinge and feature-matching losses on known values', () => {
  const scalar = (t: tf.Scalar) => {
    const v = t.dataSync()[0];
    t.dispose();
    return v;
  };
  // Confident and right: no discriminator loss; the generator then pays 1 + margin per fake logit below +1.
  const real = output([[2, 3]], [[1, 2]]);
  const fake = output([[-2, -1]], [[1, 2]]);
  assert.equal(scalar(discriminatorLoss(real, fake)), 0);
  assert.equal(scalar(adversarialLoss(fake)), 2.5); // mean(relu(1 − [−2, −1])) = mean(3, 2)
  assert.ok(Math.abs(scalar(featureMatchingLoss(real, fake))) < 1e-6, 'equal features match exactly');
  // Undecided (all logits 0): 1 for real + 1 for fake, averaged over resolutions.
  const zeros = output([[0, 0], [0]], [[1], [1]]);
  assert.equal(scalar(discriminatorLoss(zeros, zeros)), 2);
  // Feature matching is relative to the real activations' scale: |1 − 2| / 1 and |10 − 20| / 10 alike.
  const small = scalar(featureMatchingLoss(output([[0]], [[1]]), output([[0]], [[2]])));
  const large = scalar(featureMatchingLoss(output([[0]], [[10]]), output([[0]], [[20]])));
  assert.ok(Math.abs(small - 1) < 1e-3 && Math.abs(large - 1) < 1e-3, `${small}, ${large}`);
  tf.dispose([...real.logits, ...fake.logits, ...zeros.logits, ...real.features.flat(), ...fake.features.flat(), ...zeros.features.flat()]);
});

test('trained on speech against a muffled copy, the discriminator learns to tell them apart', () => {
  const disc = new SpectrogramDiscriminator(2, { windows: WINDOWS, channels: 16 });
  const adam = new Adam(ADAM(0.5, 0.9));
  const real = tf.tensor2d(crops, [STARTS.length, CROP]);
  // A 4-tap moving average: the kind of lost treble a codec's first steps produce.
  const muffled = tf.tidy(() => {
    const x = tf.reshape(real, [STARTS.length, CROP, 1]) as tf.Tensor3D;
    return tf.reshape(tf.conv1d(x, tf.fill([4, 1, 1], 0.25) as tf.Tensor3D, 1, 'same'), [STARTS.length, CROP]) as tf.Tensor2D;
  });
  const losses: number[] = [];
  for (let i = 0; i < 30; i++) {
    const vars = disc.params.trainableVariables();
    const { value, grads } = tf.variableGrads(() => discriminatorLoss(disc.apply(real), disc.apply(muffled)), Object.values(vars));
    losses.push(value.dataSync()[0]);
    const byName = Object.fromEntries(Object.entries(vars).map(([name, v]) => [name, grads[v.name]]));
    adam.apply(vars, byName).dispose();
    tf.dispose([value, ...Object.values(grads)]);
  }
  assert.ok(losses[0] > 1.5, `starts undecided (≈ 2): ${losses[0]}`);
  assert.ok(losses[losses.length - 1] < 0.5 * losses[0], `hinge loss ${losses[0]} → ${losses[losses.length - 1]}`);
  tf.dispose([real, muffled]);
  adam.dispose();
  disc.dispose();
});

test('codec steps against a discriminator: every loss part is reported, both networks move, nothing leaks', () => {
  assert.ok(usesDiscriminator(GAN) && !usesDiscriminator({ waveform: 1, stft: 1, vq: 1, adversarial: 0 }));
  const model = new VqVae(CONFIG, 1);
  const disc = new SpectrogramDiscriminator(1, { windows: WINDOWS, channels: 16 });
  const adversary = { discriminator: disc, optimizer: new Adam(ADAM(0.5, 0.9)) };
  const adam = new Adam(ADAM(0.9, 0.999));
  const random = new Random(1);
  const batch = tf.tensor2d(crops, [STARTS.length, CROP]);
  const before = { codec: model.params.snapshot(), disc: disc.params.snapshot() };
  const tensors: number[] = [];
  let last;
  for (let i = 0; i < 4; i++) {
    last = trainStep({ model, optimizer: adam, losses: { weights: GAN, stftWindows: [64, 128] }, random: random.next, adversary }, batch, 2);
    tensors.push(tf.memory().numTensors);
  }
  assert.ok(last!.adversarial > 0 && last!.featureMatching > 0 && last!.discriminator > 0, JSON.stringify(last));
  assert.ok(Number.isFinite(last!.total));
  const moved = (a: Record<string, { data: Float32Array }>, b: Record<string, { data: Float32Array }>, name: string) =>
    a[name].data.some((v, i) => v !== b[name].data[i]);
  const after = { codec: model.params.snapshot(), disc: disc.params.snapshot() };
  assert.ok(Object.keys(disc.params.trainableVariables()).every((n) => moved(before.disc, after.disc, n)), 'every discriminator weight moved');
  assert.ok(Object.keys(model.params.trainableVariables()).some((n) => moved(before.codec, after.codec, n)), 'the codec moved');
  assert.equal(tensors[3], tensors[1], `tensor count per step: ${tensors.join(', ')}`);
  // The adversarial term alone reaches the codec: through the discriminator, the decoder and (straight through) the encoder.
  const onlyAdversarial = computeGradients(model, batch, 2, { weights: { waveform: 0, stft: 0, vq: 0, adversarial: 1 }, stftWindows: [64, 128] }, disc);
  const norms = Object.fromEntries(Object.entries(onlyAdversarial.grads).map(([n, g]) => [n, tf.tidy(() => tf.norm(g).dataSync()[0])]));
  assert.ok(Object.entries(norms).some(([n, v]) => n.startsWith('decoder') && v > 0), 'decoder gradients');
  assert.ok(Object.entries(norms).some(([n, v]) => n.startsWith('encoder') && v > 0), 'encoder gradients');
  tf.dispose([...Object.values(onlyAdversarial.grads), ...Object.values(onlyAdversarial.discriminatorGrads!), ...onlyAdversarial.residuals]);
  // Asking for adversarial terms without a discriminator is a programming error, caught early.
  assert.throws(() => computeGradients(model, batch, 2, { weights: GAN, stftWindows: [64, 128] }), /discriminator/);
  batch.dispose();
  adam.dispose();
  adversary.optimizer.dispose();
  disc.dispose();
  model.dispose();
});
