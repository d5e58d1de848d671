/**
 * Finite scalar quantization: the grid's codes and values, the residual quantizer built on it
 * (straight-through gradient, no codebook losses), its config checks, and `train --init --fsq`.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { makeConfig, quantizerSettings } from '../src/model/config.js';
import { ParamStore } from '../src/model/params.js';
import { ResidualVectorQuantizer } from '../src/model/quantizer.js';
import { ScalarCodebook } from '../src/model/scalarCodebook.js';
import { Random } from '../src/train/random.js';
import { withInitRun } from './support/initRun.js';

before(async () => {
  await initBackend('cpu');
});

const LEVELS = [3, 4, 2];

test('a scalar grid rounds each dimension to the nearest of its levels, and every code maps to one grid point and back', () => {
  const grid = new ScalarCodebook(LEVELS, 0.99);
  assert.equal(grid.size, 24);
  const rng = new Random(5);
  const N = 300;
  const rows = Float32Array.from({ length: N * 3 }, () => 2 * rng.next() - 1);
  const x = tf.tensor2d(rows, [N, 3]);
  const codes = grid.codesOf(x).dataSync();
  const values = grid.entriesOf(tf.tensor1d(codes, 'int32')).dataSync();
  for (let n = 0; n < N; n++) {
    let code = 0;
    for (let d = 0; d < 3; d++) {
      const L = LEVELS[d]!;
      // By hand: the nearest of the L values −1, −1 + 2/(L−1), …, 1.
      const candidates = Array.from({ length: L }, (_, k) => -1 + (2 * k) / (L - 1));
      const best = candidates.reduce((b, v, k) => (Math.abs(v - rows[n * 3 + d]!) < Math.abs(candidates[b]! - rows[n * 3 + d]!) ? k : b), 0);
      assert.ok(Math.abs(values[n * 3 + d]! - candidates[best]!) < 1e-6, `row ${n}, dim ${d}`);
      code = code * L + best;
    }
    assert.equal(codes[n], code, `row ${n}: mixed-radix code, dimension 0 most significant`);
  }
  // Every code is a distinct grid point that quantizes back to itself.
  const all = tf.range(0, 24, 1, 'int32') as tf.Tensor1D;
  const points = grid.entriesOf(all);
  assert.deepEqual(Array.from(grid.codesOf(points).dataSync()), Array.from(all.dataSync()));
  assert.equal(new Set(Array.from({ length: 24 }, (_, k) => Array.from(points.dataSync().slice(k * 3, k * 3 + 3)).join())).size, 24);
  tf.dispose([x, all, points]);
});

test('scalar codes in the residual quantizer: encode = quantize, decode(encode(z)) = its value, no codebook losses, gradient straight through to z and the projections', () => {
  const settings = quantizerSettings({ codebookSize: 24, dim: 6, fsqLevels: LEVELS, numCodebooks: 3 });
  const params = new ParamStore(3);
  const q = new ResidualVectorQuantizer(params, settings);
  assert.equal(q.needsInit(), false, 'a grid needs no k-means');
  assert.equal(q.codebooks.length, 0, 'no learned entries');
  const rng = new Random(7);
  const N = 80;
  const z = tf.tensor2d(Float32Array.from({ length: N * 6 }, () => 2 * rng.next() - 1), [N, 6]);
  const res = q.quantize(z, 3);
  const codes = q.encode(z, 3);
  assert.deepEqual(Array.from(codes.dataSync()), Array.from(res.codes.dataSync()));
  const decoded = q.decode(codes).dataSync();
  const value = res.quantized.dataSync();
  for (let i = 0; i < value.length; i++) assert.ok(Math.abs(decoded[i]! - value[i]!) < 1e-4, `element ${i}`);
  assert.equal(res.codebookLoss.dataSync()[0], 0);
  assert.equal(res.commitmentLoss.dataSync()[0], 0);
  assert.ok(res.codes.dataSync().every((c) => c >= 0 && c < 24));
  const G = tf.tensor2d(Float32Array.from({ length: N * 6 }, () => rng.next() - 0.5), [N, 6]);
  const names = ['quantizer.project0.in.w', 'quantizer.project0.out.w', 'quantizer.project2.in.b'];
  const { value: loss, grads } = tf.variableGrads(() => tf.sum(tf.mul(q.quantize(z, 3).quantized, G)) as tf.Scalar, names.map((n) => params.get(n)));
  for (const n of names) {
    const g = grads[params.get(n).name];
    assert.ok(g !== undefined && tf.norm(g).dataSync()[0] > 0, `${n} gets the decoder's gradient`);
  }
  const dz = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(q.quantize(x as tf.Tensor2D, 3).quantized, G)))(z);
  assert.ok(tf.norm(dz).dataSync()[0] > 0, 'the gradient passes the rounding');
  // Usage is tracked for perplexity; no restart touches a grid.
  const counts = q.update(res.residuals, res.stageCodes, rng.next);
  assert.equal(counts[0]!.reduce((a, b) => a + b, 0), N);
  tf.dispose([z, G, dz, loss, codes, res.quantized, res.codes, res.codebookLoss, res.commitmentLoss, ...res.residuals, ...res.stageCodes, ...Object.values(grads)]);
  params.dispose();
});

test('config: scalar levels must make codebookSize codes, be integers ≥ 2, and not come with lookupDim', () => {
  assert.throws(() => makeConfig({ quantizer: { codebookSize: 1024, dim: 64, numCodebooks: 8, fsqLevels: [8, 5, 5, 5] } }), /fsqLevels 8×5×5×5 make 1000 codes, but codebookSize is 1024/);
  assert.throws(() => makeConfig({ quantizer: { codebookSize: 16, dim: 8, numCodebooks: 2, fsqLevels: [16, 1] } }), /fsqLevels must be a list/);
  assert.throws(() => makeConfig({ quantizer: { codebookSize: 16, dim: 8, numCodebooks: 2, fsqLevels: [4, 4], lookupDim: 2 } }), /two kinds of codes/);
  assert.deepEqual(makeConfig({ quantizer: { codebookSize: 1000, dim: 64, numCodebooks: 8, fsqLevels: [8, 5, 5, 5] } }).quantizer.fsqLevels, [8, 5, 5, 5]);
});

test('train --init DIR --fsq requantizes a saved model: encoder and decoder carry over, the codes come from a grid, tokens round-trip', async () => {
  // Learning rate ~0: what the run writes is the saved model's encoder and decoder, requantized.
  await withInitRun(['--fsq', '2,2,3', '--lr', '1e-12'], ({ saved, trained, resume }) => {
    assert.deepEqual(trained.config.quantizer.fsqLevels, [2, 2, 3]);
    assert.equal(trained.config.quantizer.codebookSize, 12);
    for (const name of ['encoder.input.w', 'decoder.output.w']) {
      const before = saved.model.params.get(name).dataSync();
      const after = trained.model.params.get(name).dataSync();
      let diff = 0;
      for (let i = 0; i < before.length; i++) diff = Math.max(diff, Math.abs(before[i]! - after[i]!));
      assert.ok(diff < 1e-6, `${name} carried over (max diff ${diff})`);
    }
    const audio = Float32Array.from({ length: 8000 }, (_, i) => Math.sin(i / 7) * 0.2);
    const tokens = trained.encode(audio);
    assert.ok(tokens.codes.every((c) => c < 12));
    assert.equal(trained.decode(tokens).length, audio.length);
    const resumed = resume(['--fsq', '2,2,3']);
    assert.notEqual(resumed.status, 0);
    assert.match(resumed.stderr.trim(), /^vqcodec: --fsq shapes a new run/);
  });
});
