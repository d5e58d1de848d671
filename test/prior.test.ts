/**
 * The token prior (src/prior/): embeddings that train on wasm, causal attention, the delay
 * pattern's windows, a short training run that learns a pattern, and sampling that is
 * reproducible, keeps its prompt and continues what it learnt.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { Adam } from '../src/train/adam.js';
import { Random } from '../src/train/random.js';
import { delayedGrid, WindowSampler } from '../src/prior/data.js';
import { generate } from '../src/prior/generate.js';
import { embed } from '../src/prior/layers.js';
import { TokenPrior, type PriorConfig } from '../src/prior/transformer.js';

const CONFIG: PriorConfig = { numCodebooks: 2, codebookSize: 5, width: 16, layers: 1, heads: 2, context: 20 };

before(async () => {
  await initBackend('wasm');
});

/** A pattern a prior can learn: codebook 0 counts 0..4 over and over, codebook 1 is one ahead. */
function patternCodes(frames: number, offset = 0): Int32Array {
  const codes = new Int32Array(frames * 2);
  for (let f = 0; f < frames; f++) {
    codes[2 * f] = (f + offset) % 5;
    codes[2 * f + 1] = (f + offset + 1) % 5;
  }
  return codes;
}

test('embedding lookup: rows by id, and a gradient on wasm equal to the one-hot matmul\'s', () => {
  const table = tf.variable(tf.randomNormal([6, 3], 0, 1, 'float32', 2));
  const ids = tf.tensor2d([[1, 5], [1, 0]], [2, 2], 'int32');
  const weights = tf.randomNormal([2, 2, 3], 0, 1, 'float32', 3);
  const lookup = embed(table as unknown as tf.Tensor2D, ids);
  assert.deepEqual(Array.from(lookup.dataSync().slice(0, 3)), Array.from(table.dataSync().slice(3, 6)));
  const g = tf.grad((t) => tf.sum(tf.mul(embed(t as tf.Tensor2D, ids), weights)))(table);
  const reference = tf.grad((t) => tf.sum(tf.mul(tf.reshape(tf.matMul(tf.oneHot(tf.reshape(ids, [-1]) as tf.Tensor1D, 6).toFloat(), t as tf.Tensor2D), [2, 2, 3]), weights)))(table);
  const [a, b] = [g.dataSync(), reference.dataSync()];
  assert.ok(a.every((v, i) => Math.abs(v - b[i]) < 1e-5), `${Array.from(a)} vs ${Array.from(b)}`);
  tf.dispose([table, ids, weights, lookup, g, reference]);
});

test('attention is causal: a step\'s logits do not depend on later steps', () => {
  const prior = new TokenPrior(CONFIG, 4);
  const a = Int32Array.from({ length: 8 * 2 }, (_, i) => i % 5);
  const b = a.slice();
  b[6 * 2] = (b[6 * 2] + 1) % 5; // step 6 changes
  const [la, lb] = [a, b].map((t) => tf.tidy(() => prior.logits(tf.tensor3d(t, [1, 8, 2], 'int32')).arraySync() as number[][][][]));
  for (let s = 0; s < 8; s++) {
    const same = JSON.stringify(la[0][s]) === JSON.stringify(lb[0][s]);
    assert.equal(same, s < 6, `step ${s}`);
  }
  prior.dispose();
});

test('dropout: the same seed drops the same units, another seed others, and none is dropped without it', () => {
  const prior = new TokenPrior(CONFIG, 4);
  const tokens = tf.tensor3d(Int32Array.from({ length: 8 * 2 }, (_, i) => i % 5), [1, 8, 2], 'int32');
  const run = (dropout?: { rate: number; seed: string }) => tf.tidy(() => Array.from(prior.logits(tokens, dropout).dataSync()));
  const plain = run();
  assert.deepEqual(run({ rate: 0, seed: 'a' }), plain);
  const a = run({ rate: 0.3, seed: '1/7' });
  assert.deepEqual(run({ rate: 0.3, seed: '1/7' }), a);
  assert.notDeepEqual(run({ rate: 0.3, seed: '1/8' }), a);
  assert.notDeepEqual(a, plain);
  // The masks stay inside the gradient: a training step's loss is finite and has a gradient.
  const { value, grads } = tf.variableGrads(() => prior.loss(tf.tensor3d(Int32Array.from({ length: 9 * 2 }, (_, i) => i % 5), [1, 9, 2], 'int32'), { rate: 0.3, seed: 'g' }));
  assert.ok(Number.isFinite(value.dataSync()[0]));
  assert.ok(Object.values(grads).some((g) => g.abs().sum().dataSync()[0] > 0));
  tf.dispose([tokens, value, ...Object.values(grads)]);
  prior.dispose();
});

test('delayed grids start with the start step, shift codebook q by q, and windows cut them', () => {
  const grid = delayedGrid(Int32Array.from([1, 2, 3, 4, 0, 1]), 2, 2, 5); // frames (1,2) (3,4) (0,1)
  assert.deepEqual(Array.from(grid), [5, 5, 1, 5, 3, 2, 0, 4, 5, 1]);
  const sampler = new WindowSampler([grid], 2, 5);
  const batch = sampler.sample(3, 4, new Random(1));
  assert.equal(batch.length, 3 * 4 * 2);
  for (let b = 0; b < 3; b++) {
    const window = Array.from(batch.subarray(b * 8, (b + 1) * 8));
    assert.ok([0, 2].some((start) => JSON.stringify(window) === JSON.stringify(Array.from(grid.subarray(start, start + 8)))), `window ${window}`);
  }
});

test('windows begin at their file start as often as asked (fileStarts), and anywhere otherwise', () => {
  const long = delayedGrid(Int32Array.from({ length: 2 * 60 }, (_, i) => i % 5), 2, 2, 5); // 62 steps
  const startsOf = (fileStarts: number) => {
    const batch = new WindowSampler([long], 2, 5, fileStarts).sample(400, 4, new Random(3));
    let atStart = 0;
    for (let b = 0; b < 400; b++) if (batch[b * 8] === 5 && batch[b * 8 + 1] === 5) atStart++; // the start step: both pads
    return atStart / 400;
  };
  assert.equal(startsOf(1), 1);
  assert.ok(startsOf(0) < 0.05, 'without it, about 1 window in 59 starts there');
  const half = startsOf(0.5);
  assert.ok(half > 0.4 && half < 0.6, `half of them (got ${half})`);
  // 0 draws exactly as a sampler without the option did.
  assert.deepEqual(new WindowSampler([long], 2, 5, 0).sample(5, 4, new Random(9)), new WindowSampler([long], 2, 5).sample(5, 4, new Random(9)));
});

test('a short run on wasm learns a pattern: loss falls, no tensors leak, greedy sampling continues it', () => {
  const prior = new TokenPrior(CONFIG, 1);
  const grids = [0, 1, 2, 3].map((offset) => delayedGrid(patternCodes(40, offset), 2, 2, prior.pad));
  const sampler = new WindowSampler(grids, 2, prior.pad);
  const adam = new Adam({ learningRate: 1e-2, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, clipNorm: 1 });
  const random = new Random(5);
  const losses: number[] = [];
  let tensors = 0;
  for (let step = 0; step < 80; step++) {
    const batch = tf.tensor3d(sampler.sample(8, CONFIG.context + 1, random), [8, CONFIG.context + 1, 2], 'int32');
    const vars = prior.params.trainableVariables();
    const { value, grads } = tf.variableGrads(() => prior.loss(batch), Object.values(vars));
    const byName = Object.fromEntries(Object.entries(vars).map(([n, v]) => [n, grads[v.name]]));
    adam.apply(vars, byName).dispose();
    losses.push(value.dataSync()[0]);
    tf.dispose([batch, value, ...Object.values(grads)]);
    if (step === 5) tensors = tf.memory().numTensors;
  }
  assert.equal(tf.memory().numTensors, tensors, 'no tensors leak across steps');
  const first = losses.slice(0, 5).reduce((a, b) => a + b) / 5;
  const last = losses.slice(-5).reduce((a, b) => a + b) / 5;
  assert.ok(first > 1.2 && last < first / 3, `loss ${first.toFixed(3)} → ${last.toFixed(3)} nats/token`);
  // A prompt of 3 frames of the pattern, continued greedily for 12 more.
  const prompt = patternCodes(3, 2);
  const codes = generate(prior, { frames: 15, temperature: 0, prompt });
  assert.deepEqual(Array.from(codes.subarray(0, 6)), Array.from(prompt), 'the prompt is kept');
  assert.deepEqual(Array.from(codes), Array.from(patternCodes(15, 2)), 'the continuation follows the pattern');
  adam.dispose();
  prior.dispose();
});

test('sampling: the same seed gives the same codes, another seed others; codes stay in range; bad options are refused', () => {
  const prior = new TokenPrior({ ...CONFIG, context: 6 }, 9);
  const a = generate(prior, { frames: 10, temperature: 1, seed: 3 });
  const b = generate(prior, { frames: 10, temperature: 1, seed: 3 });
  const c = generate(prior, { frames: 10, temperature: 1, seed: 4 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.ok(a.every((v) => v >= 0 && v < 5));
  assert.ok(generate(prior, { frames: 10, topK: 1, seed: 7 }).every((v, i, all) => v === generate(prior, { frames: 10, temperature: 0 })[i] || all.length === 0), 'top-1 is greedy');
  assert.throws(() => generate(prior, { frames: 0 }), /positive integer/);
  assert.throws(() => generate(prior, { frames: 2, prompt: patternCodes(3) }), /longer than the output/);
  assert.throws(() => generate(prior, { frames: 4, prompt: new Int32Array(3) }), /whole frames/);
  prior.dispose();
});

test('the prior\'s matMul has tfjs\'s gradients, with and without transposing b, in 2-D and batched', async () => {
  const { matMul } = await import('../src/prior/layers.js');
  for (const [shapeA, shapeB, transposeB] of [[[3, 4], [4, 5], false], [[3, 4], [5, 4], true], [[2, 3, 4], [2, 4, 5], false], [[2, 3, 4], [2, 5, 4], true]] as const) {
    const a = tf.randomNormal([...shapeA], 0, 1, 'float32', 1);
    const b = tf.randomNormal([...shapeB], 0, 1, 'float32', 2);
    const weights = tf.randomNormal(tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, false, transposeB).shape, 0, 1, 'float32', 3);
    const ours = tf.grads((x, y) => tf.sum(tf.mul(matMul(x, y, transposeB), weights)))([a, b]);
    const theirs = tf.grads((x, y) => tf.sum(tf.mul(tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D, false, transposeB), weights)))([a, b]);
    ours.forEach((g, i) => {
      const [x, y] = [g.dataSync(), theirs[i].dataSync()];
      assert.ok(x.every((v, j) => Math.abs(v - y[j]) < 1e-4), `${shapeA}·${shapeB}${transposeB ? 'ᵀ' : ''}: gradient ${i}`);
    });
    tf.dispose([a, b, weights, ...ours, ...theirs]);
  }
});
