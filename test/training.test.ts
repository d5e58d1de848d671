/**
 * End-to-end training of a tiny VQ-VAE on real speech (test/fixtures/speech.wav):
 * the loss falls, no tensors leak per step, and the wasm backend's losses and
 * gradients match the pure-JS cpu backend's.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { loadAudio } from '../src/audio/load.js';
import { makeConfig, type QuantizerTraining } from '../src/model/config.js';
import type { NamedArrays } from '../src/model/params.js';
import { VqVae } from '../src/model/vqvae.js';
import { Adam } from '../src/train/adam.js';
import { Random } from '../src/train/random.js';
import { codecLosses, trainStep, type LossWeights } from '../src/train/step.js';
import { FIXTURES } from '../src/paths.js';


const CONFIG = makeConfig({
  channels: 4,
  maxChannels: 16,
  strides: [2, 4],
  dilations: [1, 3],
  kernelSize: 3,
  quantizer: { codebookSize: 16, dim: 8, numCodebooks: 2 },
});
const WEIGHTS: LossWeights = { waveform: 1, stft: 1, vq: 1 };
const WINDOWS = [64, 128];
const CROP = 2048;
/** Fixed crop starts (samples) inside the 57 820-sample clip, all in speech. */
const STARTS = [4000, 14000, 26000, 40000];
const STEPS = 40;
const adamOptions = (learningRate: number) => ({ learningRate, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, clipNorm: 1 });

let crops: Float32Array;

interface Run {
  totals: number[];
  tensorsAfter: number[];
  ms: number;
}
let run: Run;

function batchTensor(): tf.Tensor2D {
  return tf.tensor2d(crops, [STARTS.length, CROP]);
}

/** `steps` Adam steps on the fixed batch; the total loss and tf.memory().numTensors after each. */
function train(model: VqVae, learningRate: number, steps: number, seed = 1): Run {
  const batch = batchTensor();
  const adam = new Adam(adamOptions(learningRate));
  const random = new Random(seed);
  const totals: number[] = [];
  const tensorsAfter: number[] = [];
  const t0 = Date.now();
  for (let i = 0; i < steps; i++) {
    const stats = trainStep({ model: model, optimizer: adam, losses: { weights: WEIGHTS, stftWindows: WINDOWS }, random: random.next }, batch, CONFIG.quantizer.numCodebooks);
    totals.push(stats.total);
    tensorsAfter.push(tf.memory().numTensors);
  }
  const ms = Date.now() - t0;
  adam.dispose();
  batch.dispose();
  return { totals, tensorsAfter, ms };
}

before(async () => {
  await initBackend('wasm');
  const audio = await loadAudio(path.join(FIXTURES, 'speech.wav'), 16000);
  assert.equal(audio.sampleRate, 16000);
  crops = new Float32Array(STARTS.length * CROP);
  STARTS.forEach((s, i) => {
    assert.ok(s + CROP <= audio.samples.length);
    crops.set(audio.samples.subarray(s, s + CROP), i * CROP);
  });
  const model = new VqVae(CONFIG, 1);
  run = train(model, 3e-3, STEPS);
  model.dispose();
});

const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;

test(`${STEPS} Adam steps (lr 3e-3, wasm) clearly lower the total loss`, (t) => {
  assert.ok(run.totals.every(Number.isFinite), 'losses are finite');
  const first = mean(run.totals.slice(0, 5));
  const last = mean(run.totals.slice(-5));
  t.diagnostic(`total loss: first 5 steps ${first.toFixed(4)}, last 5 ${last.toFixed(4)}, ratio ${(last / first).toFixed(3)}; ${run.ms} ms for ${STEPS} steps`);
  // Measured: 2.620 → 1.574 (ratio 0.60); with learning rate 0 the ratio is 1.00.
  assert.ok(last < 0.8 * first, `last-5 mean ${last} is not below 0.8 × first-5 mean ${first}`);
  assert.ok(Math.min(...run.totals.slice(-5)) < Math.min(...run.totals.slice(0, 5)));
});

/** A variant of CONFIG trains STEPS steps: finite losses, the last 5 below `bound` × the first 5, no tensor leak per step. */
function assertTrains(t: { diagnostic(m: string): void }, model: VqVae, bound: number): void {
  const run = train(model, 3e-3, STEPS);
  model.dispose();
  const first = mean(run.totals.slice(0, 5));
  const last = mean(run.totals.slice(-5));
  t.diagnostic(`total loss: first 5 steps ${first.toFixed(4)}, last 5 ${last.toFixed(4)}, ratio ${(last / first).toFixed(3)}`);
  assert.ok(run.totals.every(Number.isFinite), 'losses are finite');
  assert.ok(last < bound * first, `last-5 mean ${last} is not below ${bound} × first-5 mean ${first}`);
  assert.ok(run.tensorsAfter.slice(2).every((n) => n === run.tensorsAfter[2]), `numTensors ${run.tensorsAfter.join(',')}`);
}

test('factorized codes (lookupDim 4, codebook loss instead of EMA) train too, without leaking tensors', (t) => {
  // Measured: 3.99 → 3.24 (ratio 0.81; the total includes the codebook loss here); lr 0 gives ≈ 1.
  assertTrains(t, new VqVae(makeConfig({ ...CONFIG, quantizer: { ...CONFIG.quantizer, lookupDim: 4 } }), 1, { ema: false }), 0.9);
});

test('scalar codes (FSQ 2×2×4, no codebook losses) train too, without leaking tensors', (t) => {
  assertTrains(t, new VqVae(makeConfig({ ...CONFIG, quantizer: { ...CONFIG.quantizer, fsqLevels: [2, 2, 4] } }), 1), 0.8);
});

test('multi-rate codes (codebook 0 on windows of 4 frames) train too, without leaking tensors', (t) => {
  assertTrains(t, new VqVae(makeConfig({ ...CONFIG, quantizer: { ...CONFIG.quantizer, codeStrides: [4, 1] } }), 1), 0.8);
});

test('a zero learning rate does not lower the loss (control for the bound above)', () => {
  const model = new VqVae(CONFIG, 1);
  const still = train(model, 0, 10);
  model.dispose();
  // Only the EMA codebook updates act; the ratio stays near 1.
  const ratio = mean(still.totals.slice(-5)) / mean(still.totals.slice(0, 5));
  assert.ok(ratio > 0.95, `ratio ${ratio}`);
});

test('no tensor leaks per training step', () => {
  const after3 = run.tensorsAfter[2];
  const last = run.tensorsAfter[STEPS - 1];
  assert.equal(last, after3, `numTensors after step 3: ${after3}, after step ${STEPS}: ${last} (${run.tensorsAfter.join(',')})`);
  assert.ok(run.tensorsAfter.slice(2).every((n) => n === after3), 'constant from step 3 on');
});

test('trainStep k-means-initialises the quantizer on its first step', () => {
  const model = new VqVae(CONFIG, 3);
  assert.equal(model.quantizer.needsInit(), true);
  const before = model.quantizer.codebooks.map((b) => b.entries.dataSync().slice());
  const batch = batchTensor();
  const adam = new Adam(adamOptions(0));
  trainStep({ model, optimizer: adam, losses: { weights: WEIGHTS, stftWindows: WINDOWS }, random: new Random(2).next }, batch, 2);
  assert.equal(model.quantizer.needsInit(), false);
  model.quantizer.codebooks.forEach((b, q) => assert.ok(b.entries.dataSync().some((v, i) => v !== before[q][i]), `codebook ${q} changed`));
  tf.dispose([batch]);
  adam.dispose();
  model.dispose();
});

/** Loss parts and trainable-variable gradients (as trainStep computes them), read back to JS. */
function lossAndGrads(model: VqVae): { parts: number[]; codes: number[]; grads: Record<string, Float32Array> } {
  const batch = batchTensor();
  const vars = model.params.trainableVariables();
  let parts: tf.Tensor | undefined;
  let codes: tf.Tensor | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const { total, terms, out } = codecLosses(model, batch, CONFIG.quantizer.numCodebooks, { weights: WEIGHTS, stftWindows: WINDOWS });
    parts = tf.keep(tf.stack([total, terms.waveform, terms.stft, terms.codebook, terms.commitment]));
    codes = tf.keep(out.codes);
    return total;
  }, Object.values(vars));
  const out: Record<string, Float32Array> = {};
  for (const [name, v] of Object.entries(vars)) out[name] = grads[v.name].dataSync().slice() as Float32Array;
  const result = { parts: Array.from(parts!.dataSync()), codes: Array.from(codes!.dataSync()), grads: out };
  tf.dispose([batch, value, parts!, codes!, ...Object.values(grads)]);
  return result;
}

function copyOf(s: NamedArrays): NamedArrays {
  const out: NamedArrays = {};
  for (const [k, v] of Object.entries(s)) out[k] = { shape: v.shape.slice(), data: v.data.slice() };
  return out;
}

test('wasm and cpu give the same losses and gradients (same weights)', async (t) => {
  await initBackend('wasm');
  // Same seed, same initial weights on both backends (the initialisers draw in JS).
  const wasmModel = new VqVae(CONFIG, 7);
  const wasmInitial = copyOf(wasmModel.params.snapshot());
  // Train a little first, so the comparison is at a trained point with k-means-initialised codebooks.
  train(wasmModel, 3e-3, 3, 5);
  const trained = copyOf(wasmModel.params.snapshot());
  const onWasm = lossAndGrads(wasmModel);
  wasmModel.dispose();

  await initBackend('cpu');
  try {
    assert.equal(tf.getBackend(), 'cpu');
    const cpuModel = new VqVae(CONFIG, 7);
    const cpuInitial = cpuModel.params.snapshot();
    for (const name of Object.keys(wasmInitial)) {
      assert.deepEqual(Array.from(cpuInitial[name].data), Array.from(wasmInitial[name].data), `initial ${name} differs between backends`);
    }
    cpuModel.params.restore(trained);
    const onCpu = lossAndGrads(cpuModel);
    cpuModel.dispose();

    assert.deepEqual(onCpu.codes, onWasm.codes, 'same codes');
    let worstLoss = 0;
    onWasm.parts.forEach((w, i) => {
      const c = onCpu.parts[i];
      const rel = Math.abs(w - c) / Math.max(1, Math.abs(c));
      worstLoss = Math.max(worstLoss, Math.abs(w - c));
      assert.ok(rel < 1e-4, `loss part ${i}: wasm ${w} vs cpu ${c}`);
    });
    let worstGrad = 0;
    let worstName = '';
    let worstRelative = 0;
    for (const [name, gc] of Object.entries(onCpu.grads)) {
      const gw = onWasm.grads[name];
      let scale = 0;
      for (const v of gc) scale = Math.max(scale, Math.abs(v));
      for (let i = 0; i < gc.length; i++) {
        // relative to the largest gradient of that variable, absolute below 1
        const d = Math.abs(gw[i] - gc[i]) / Math.max(1, scale);
        if (d > worstGrad) [worstGrad, worstName] = [d, name];
        worstRelative = Math.max(worstRelative, Math.abs(gw[i] - gc[i]) / scale);
        assert.ok(d < 1e-4, `${name}[${i}]: wasm ${gw[i]} vs cpu ${gc[i]} (largest |grad| ${scale})`);
      }
    }
    // Also relative to each variable's own largest gradient, however small it is.
    assert.ok(worstRelative < 1e-3, `largest gradient difference relative to its variable's scale: ${worstRelative}`);
    t.diagnostic(`wasm vs cpu: loss ${onCpu.parts[0].toFixed(5)}, largest loss difference ${worstLoss.toExponential(2)}, largest scaled gradient difference ${worstGrad.toExponential(2)} (${worstName}), relative to each variable's largest gradient ${worstRelative.toExponential(2)}`);
  } finally {
    await initBackend('wasm');
  }
});

const EMA_OFF = { ema: false };

/** One trainStep of a fresh model with `config` using `numActive` codebooks; the error it threw, if any. */
function stepWith(training: Partial<QuantizerTraining>, numActive: number): { error: unknown; books: Float32Array[][] } {
  const config = CONFIG;
  const model = new VqVae(config, 9, training);
  const batch = batchTensor();
  const adam = new Adam(adamOptions(1e-2));
  const random = new Random(3);
  // First step initialises the codebooks (k-means); compare the codebooks across a second step.
  trainStep({ model: model, optimizer: adam, losses: { weights: WEIGHTS, stftWindows: WINDOWS }, random: random.next }, batch, config.quantizer.numCodebooks);
  const before = model.quantizer.codebooks.map((b) => b.entries.dataSync().slice() as Float32Array);
  let error: unknown;
  try {
    trainStep({ model: model, optimizer: adam, losses: { weights: WEIGHTS, stftWindows: WINDOWS }, random: random.next }, batch, numActive);
  } catch (e) {
    error = e; // caught here: an escaping error makes the wasm backend print its whole source
  }
  const after = model.quantizer.codebooks.map((b) => b.entries.dataSync().slice() as Float32Array);
  adam.dispose();
  batch.dispose();
  model.dispose();
  return { error, books: [before, after] };
}

test('ema: false, all codebooks active: Adam updates the codebooks', () => {
  const { error, books } = stepWith(EMA_OFF, CONFIG.quantizer.numCodebooks);
  assert.equal(error, undefined, `trainStep threw: ${String(error).slice(0, 200)}`);
  books[0].forEach((b, q) => assert.ok(b.some((v, i) => v !== books[1][q][i]), `codebook ${q} moved`));
});

test('ema: false with quantizer dropout (fewer active codebooks than built) trains', () => {
  const { error, books } = stepWith(EMA_OFF, 1);
  assert.equal(error, undefined, `trainStep threw: ${String(error).slice(0, 200)}`);
  assert.ok(books[0][0].some((v, i) => v !== books[1][0][i]), 'the active codebook moved');
  assert.deepEqual(books[1][1], books[0][1], 'the inactive codebook did not');
});

test('ema: true with quantizer dropout: one step with 1 of 2 codebooks', () => {
  const { error, books } = stepWith({}, 1);
  assert.equal(error, undefined, `trainStep threw: ${String(error).slice(0, 200)}`);
  // Only the active codebook is EMA-updated.
  assert.ok(books[0][0].some((v, i) => v !== books[1][0][i]), 'the active codebook moved');
  assert.deepEqual(books[1][1], books[0][1], 'the inactive codebook did not');
});
