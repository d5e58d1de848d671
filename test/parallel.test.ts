import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { makeConfig } from '../src/model/config.js';
import { VqVae } from '../src/model/vqvae.js';
import { Adam } from '../src/train/adam.js';
import { DataParallel } from '../src/train/parallel.js';
import { Random } from '../src/train/random.js';
import { SpectrogramDiscriminator } from '../src/train/discriminator.js';
import { trainStep } from '../src/train/step.js';

const CONFIG = makeConfig({ channels: 4, maxChannels: 16, strides: [2, 4], dilations: [1, 3], kernelSize: 3, quantizer: { codebookSize: 16, dim: 8, numCodebooks: 2 } });
/** Without dead-code restarts, so both sides' codebooks change only by the (merged) EMA update. */
const TRAINING = { deadCodeThreshold: 0 };
const ADAM = { learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, clipNorm: 1 };
const WEIGHTS = { waveform: 1, stft: 1, vq: 1 };
const WINDOWS = [64, 128];
const ROWS = 5; // uneven shards (3 + 2) exercise the size-weighted gradient mean
const LENGTH = 1024;

function speechLikeBatch(): Float32Array {
  const random = new Random(7);
  const out = new Float32Array(ROWS * LENGTH);
  for (let i = 0; i < out.length; i++) out[i] = 0.3 * Math.sin(i * 0.05 * (1 + (i % LENGTH) / LENGTH)) + 0.05 * (random.next() - 0.5);
  return out;
}

test('two data-parallel replicas give the same losses and (to Adam’s step size) the same weights as one process', async () => {
  await initBackend('wasm');
  const batch = speechLikeBatch();
  const single = new VqVae(CONFIG, 3, TRAINING);
  const parallelModel = new VqVae(CONFIG, 3, TRAINING);
  const adamSingle = new Adam(ADAM);
  const adamParallel = new Adam(ADAM);
  const randomSingle = new Random(1);
  const randomParallel = new Random(1);
  const dp = await DataParallel.start(parallelModel, 2, 'wasm');
  try {
    const input = tf.tensor2d(batch, [ROWS, LENGTH]);
    let tensorsAfterFirst = 0;
    let workerTensorsAfterFirst: number[] = [];
    for (let step = 0; step < 3; step++) {
      const a = trainStep({ model: single, optimizer: adamSingle, losses: { weights: WEIGHTS, stftWindows: WINDOWS }, random: randomSingle.next }, input, 2);
      const b = await dp.step({ model: parallelModel, optimizer: adamParallel, losses: { weights: WEIGHTS, stftWindows: WINDOWS }, random: randomParallel.next }, { samples: batch, rows: ROWS, length: LENGTH }, 2);
      // Same weights at step 0: equal to float rounding. Later steps start from weights that differ by Adam's step size.
      const tolerance = step === 0 ? 1e-4 : 1e-2;
      assert.ok(Math.abs(a.total - b.total) < tolerance * Math.max(1, a.total), `step ${step}: loss ${a.total} vs ${b.total}`);
      assert.ok(Math.abs(a.gradNorm - b.gradNorm) < 10 * tolerance * Math.max(1, a.gradNorm), `step ${step}: gradient norm ${a.gradNorm} vs ${b.gradNorm}`);
      assert.deepEqual(b.counts.map((c) => c.reduce((s, v) => s + v, 0)), [(ROWS * LENGTH) / 8, (ROWS * LENGTH) / 8], 'every frame of every shard is counted');
      if (step === 0) {
        tensorsAfterFirst = tf.memory().numTensors;
        workerTensorsAfterFirst = dp.workerTensors.slice();
      }
    }
    assert.equal(tf.memory().numTensors, tensorsAfterFirst, 'no tensors leak per parallel step');
    assert.deepEqual(dp.workerTensors, workerTensorsAfterFirst, 'no tensors leak per step in the workers');
    input.dispose();
    // Adam moves each weight by about ±lr per step whatever the gradient's size, so a
    // float-rounding difference in a near-zero gradient can flip one step: allow 2·lr per step.
    const a = single.params.snapshot();
    const b = parallelModel.params.snapshot();
    for (const name of Object.keys(single.params.trainableVariables())) {
      let worst = 0;
      a[name].data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b[name].data[i]))));
      assert.ok(worst <= 3 * 2 * ADAM.learningRate, `${name} differs by ${worst}`);
    }
  } finally {
    await dp.close();
    single.dispose();
    parallelModel.dispose();
  }
});

test('GAN training: two replicas give the same losses and discriminator weights as one process', async () => {
  await initBackend('wasm');
  const batch = speechLikeBatch();
  const gan = { ...WEIGHTS, adversarial: 1, featureMatching: 2 };
  const windows = [128, 256];
  const makeAdversary = () => ({ discriminator: new SpectrogramDiscriminator(5, { windows, channels: 8 }), optimizer: new Adam({ ...ADAM, beta1: 0.5, beta2: 0.9 }) });
  const single = new VqVae(CONFIG, 3, TRAINING);
  const parallelModel = new VqVae(CONFIG, 3, TRAINING);
  const [advSingle, advParallel] = [makeAdversary(), makeAdversary()];
  const [adamSingle, adamParallel] = [new Adam(ADAM), new Adam(ADAM)];
  const [randomSingle, randomParallel] = [new Random(1), new Random(1)];
  const dp = await DataParallel.start(parallelModel, 2, 'wasm', { windows, channels: 8 });
  try {
    const input = tf.tensor2d(batch, [ROWS, LENGTH]);
    for (let step = 0; step < 3; step++) {
      const a = trainStep({ model: single, optimizer: adamSingle, losses: { weights: gan, stftWindows: WINDOWS }, random: randomSingle.next, adversary: advSingle }, input, 2);
      const b = await dp.step({ model: parallelModel, optimizer: adamParallel, losses: { weights: gan, stftWindows: WINDOWS }, random: randomParallel.next, adversary: advParallel }, { samples: batch, rows: ROWS, length: LENGTH }, 2);
      // Step 0 starts from the same weights: the discriminator and adversarial terms agree to float
      // rounding. Feature matching divides by the real activations' mean per shard, so shards average
      // a slightly different ratio than the whole batch gives; later steps start from weights that
      // differ by Adam's step size, which the two networks' game amplifies.
      const tolerance = (part: string) => (step > 0 ? 0.05 : part === 'featureMatching' || part === 'total' ? 2e-3 : 1e-5);
      for (const part of ['total', 'adversarial', 'featureMatching', 'discriminator'] as const) {
        assert.ok(a[part] > 0, `${part} is reported`);
        assert.ok(Math.abs(a[part] - b[part]) < tolerance(part) * Math.max(1, a[part]), `step ${step} ${part}: ${a[part]} vs ${b[part]}`);
      }
    }
    input.dispose();
    const a = advSingle.discriminator.params.snapshot();
    const b = advParallel.discriminator.params.snapshot();
    for (const name of Object.keys(a)) {
      let worst = 0;
      a[name].data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b[name].data[i]))));
      assert.ok(worst <= 3 * 2 * ADAM.learningRate, `discriminator ${name} differs by ${worst}`);
    }
  } finally {
    await dp.close();
    for (const adv of [advSingle, advParallel]) {
      adv.discriminator.dispose();
      adv.optimizer.dispose();
    }
    single.dispose();
    parallelModel.dispose();
  }
});
