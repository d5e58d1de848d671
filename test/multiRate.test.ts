/**
 * Multi-rate codes in the model: window means and their repetition, a coarse codebook's code is
 * the true nearest entry to its window's mean, codes come out repeated over windows with the
 * right strides, bitrates count codes per second, and tokens of other strides are refused.
 * (Chunked coding equal to whole coding is in chunkedCoding.test.ts; training in training.test.ts.)
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { Codec } from '../src/codec.js';
import { VqcodecError } from '../src/errors.js';
import { bitrate, makeConfig, PRESETS, quantizerSettings } from '../src/model/config.js';
import { ParamStore } from '../src/model/params.js';
import { ResidualVectorQuantizer, repeatOverWindows, windowMeans } from '../src/model/quantizer.js';
import { codeLevels, codeStridesProblem, firstUnrepeatedCode, fromStreams, storedCodeCount, toStreams } from '../src/tokens/codeStrides.js';
import { Random } from '../src/train/random.js';
import { withInitRun } from './support/initRun.js';

before(async () => {
  await initBackend('wasm');
});

test('window means average each window of an item (a last partial window what it has); repeating undoes the shape', () => {
  // 2 items of 5 frames, 1-dim: windows of 2 → [0,1], [2,3], [4].
  const x = tf.tensor2d([0, 1, 2, 3, 4, 10, 11, 12, 13, 14], [10, 1]);
  const means = windowMeans(x, 5, 2);
  assert.deepEqual(Array.from(means.dataSync()), [0.5, 2.5, 4, 10.5, 12.5, 14]);
  const back = repeatOverWindows(means, 5, 2);
  assert.deepEqual(back.shape, [10, 1]);
  assert.deepEqual(Array.from(back.dataSync()), [0.5, 0.5, 2.5, 2.5, 4, 10.5, 10.5, 12.5, 12.5, 14]);
  const codes = repeatOverWindows(tf.tensor1d([7, 8, 9, 1, 2, 3], 'int32'), 5, 2);
  assert.deepEqual(Array.from(codes.dataSync()), [7, 7, 8, 8, 9, 1, 1, 2, 2, 3]);
  tf.dispose([x, means, back, codes]);
});

test('a coarse codebook picks the true nearest entry to each window mean; the next one quantizes what it left, frame by frame', () => {
  const settings = quantizerSettings({ codebookSize: 8, dim: 3, numCodebooks: 2, codeStrides: [3, 1], kmeansInit: false });
  const q = new ResidualVectorQuantizer(new ParamStore(5), settings);
  const frames = 7;
  const items = 2;
  const random = new Random(3);
  const zData = Float32Array.from({ length: items * frames * 3 }, () => random.next() * 2 - 1);
  const z = tf.tensor2d(zData, [items * frames, 3]);
  const codes = q.encode(z, 2, frames);
  const got = codes.arraySync() as number[][];
  const entries = q.codebooks.map((c) => c.entries.arraySync() as number[][]);
  const nearest = (v: number[], table: number[][]) => table.map((e, k) => [e.reduce((s, x, i) => s + (x - v[i]!) ** 2, 0), k]).sort((a, b) => a[0]! - b[0]!)[0]![1]!;
  for (let item = 0; item < items; item++) {
    for (let w = 0; w < Math.ceil(frames / 3); w++) {
      const rows: number[] = [];
      for (let t = w * 3; t < Math.min(frames, w * 3 + 3); t++) rows.push(t);
      const mean = [0, 1, 2].map((d) => rows.reduce((s, t) => s + zData[(item * frames + t) * 3 + d]!, 0) / rows.length);
      const code = nearest(mean, entries[0]!);
      for (const t of rows) {
        const row = item * frames + t;
        assert.equal(got[row]![0], code, `item ${item} frame ${t}: codebook 0 is the window mean's nearest entry`);
        const residual = [0, 1, 2].map((d) => zData[row * 3 + d]! - entries[0]![code]![d]!);
        assert.equal(got[row]![1], nearest(residual, entries[1]!), `item ${item} frame ${t}: codebook 1 quantizes the frame's residual`);
      }
    }
  }
  // A codebook of stride 3 sees a third as many vectors a step: a third of the dead-code threshold.
  assert.equal(q.codebooks[0]!.deadCodeThreshold, settings.deadCodeThreshold / 3);
  assert.equal(q.codebooks[1]!.deadCodeThreshold, settings.deadCodeThreshold);
  // Training gives the same codes, one stage code per window for codebook 0, and sums the repeated entries.
  const r = q.quantize(z, 2, frames);
  assert.deepEqual(r.codes.arraySync(), got);
  assert.deepEqual(r.stageCodes.map((c) => c.shape[0]), [items * 3, items * frames]);
  assert.deepEqual(r.residuals.map((c) => c.shape), [[items * 3, 3], [items * frames, 3]]);
  const decoded = q.decode(codes);
  const diff = tf.max(tf.abs(tf.sub(decoded, r.quantized))).dataSync()[0]!;
  assert.ok(diff < 1e-6, `decoding the repeated codes gives the quantized latents (max diff ${diff})`);
  tf.dispose([z, codes, decoded, r.quantized, r.codes, r.codebookLoss, r.commitmentLoss, ...r.residuals, ...r.stageCodes]);
  q.codebooks.forEach((c) => c.entries.dispose());
});

test('a multi-rate codec codes repeated windows with its strides, at the bitrate of its codes per second', () => {
  const codec = Codec.create(makeConfig(PRESETS['tiny-multirate']!), 2);
  try {
    const x = Float32Array.from({ length: 37 * codec.hop + 5 }, (_, i) => Math.sin(i / 9) * 0.3 + Math.sin(i / 2.3) * 0.1);
    const all = codec.encode(x);
    assert.equal(all.frames, 38);
    assert.deepEqual(all.codeStrides, [4, 2, 1]);
    assert.equal(firstUnrepeatedCode(all.codes, all.frames, all.codeStrides!), -1);
    const two = codec.encode(x, { numCodebooks: 2 });
    assert.deepEqual(two.codeStrides, [4, 2]);
    const one = codec.encode(x, { numCodebooks: 1 });
    assert.deepEqual(one.codeStrides, [4]);
    // Its codes are the first codebooks' codes of the full encoding.
    for (let f = 0; f < all.frames; f++) assert.deepEqual(Array.from(two.codes.subarray(f * 2, f * 2 + 2)), Array.from(all.codes.subarray(f * 3, f * 3 + 2)));
    // 4 bits per code; codes per second: frameRate · (1/4 + 1/2 + 1).
    assert.equal(bitrate(codec.config), codec.frameRate * 1.75 * 4);
    assert.equal(codec.bitrate(2), codec.frameRate * 0.75 * 4);
    assert.equal(codec.decode(all).length, x.length);
    assert.throws(() => codec.decode({ ...all, codeStrides: undefined }), (e: unknown) => e instanceof VqcodecError && /code strides/.test(e.message));
    assert.throws(() => codec.decode({ ...all, codeStrides: [2, 2, 1] }), (e: unknown) => e instanceof VqcodecError && /\[2,2,1\]/.test(e.message));
  } finally {
    codec.dispose();
  }
});

test('code strides: validated, grouped into levels, and dense grids ⇄ stored streams', () => {
  assert.equal(codeStridesProblem([4, 2, 1], 3), undefined);
  assert.match(codeStridesProblem([4, 2], 3)!, /one stride per codebook/);
  assert.match(codeStridesProblem([2, 4, 1], 3)!, /non-increasing/);
  assert.match(codeStridesProblem([4, 3, 1], 3)!, /dividing/);
  assert.match(codeStridesProblem([0, 1], 2)!, /integers from 1/);
  assert.throws(() => makeConfig({ quantizer: { numCodebooks: 2, codeStrides: [1, 2] } }), (e: unknown) => e instanceof VqcodecError && /invalid config: quantizer.codeStrides/.test(e.message));
  assert.deepEqual(codeLevels([4, 4, 2, 1, 1]), [{ stride: 4, first: 0, count: 2 }, { stride: 2, first: 2, count: 1 }, { stride: 1, first: 3, count: 2 }]);
  assert.equal(storedCodeCount(8, [4, 2, 1]), 2 + 4 + 8);
  assert.equal(storedCodeCount(9, [4, 2, 1]), 3 + 5 + 9);
  const strides = [4, 2, 1];
  const streams = [Int32Array.from([5, 6, 7]), Int32Array.from([1, 2, 3, 4, 5]), Int32Array.from({ length: 9 }, (_, i) => i)];
  const dense = fromStreams(streams, 9, strides);
  assert.deepEqual(Array.from(dense.subarray(0, 12)), [5, 1, 0, 5, 1, 1, 5, 2, 2, 5, 2, 3]);
  assert.equal(firstUnrepeatedCode(dense, 9, strides), -1);
  assert.deepEqual(toStreams(dense, 9, strides), streams);
  dense[3 * 3 + 0] = 9; // frame 3, codebook 0: inside window 0
  assert.equal(firstUnrepeatedCode(dense, 9, strides), 9);
});

test('a grown model keeps the fresh value of a new parameter even where the saved weights have one of that name (a trained model recoded starts k-means again)', () => {
  const trained = Codec.create(makeConfig(PRESETS.tiny!), 4);
  trained.model.params.get('quantizer.initialised').assign(tf.ones([1]));
  const arrays = trained.model.inferenceArrays();
  const recoded = Codec.create(makeConfig({ ...PRESETS.tiny!, quantizer: { ...PRESETS.tiny!.quantizer, codeStrides: [4, 2, 1] } }), 9).model;
  const fresh = recoded.params.get('quantizer.codebook0').dataSync().slice();
  recoded.loadArraysGrowing(arrays, 'saved', (name) => name.startsWith('quantizer.'));
  assert.equal(recoded.quantizer.needsInit(), true);
  assert.deepEqual(Array.from(recoded.params.get('quantizer.codebook0').dataSync()), Array.from(fresh));
  assert.deepEqual(Array.from(recoded.params.get('encoder.input.w').dataSync()), Array.from(trained.model.params.get('encoder.input.w').dataSync()));
  trained.dispose();
  recoded.dispose();
});

test('train --init DIR --code-strides recodes a saved model: its weights carry over, its codebooks restart, its tokens are multi-rate', async () => {
  await withInitRun(['--code-strides', '4,2,1'], async ({ saved, trained, run, resume }) => {
    assert.deepEqual(trained.config.quantizer.codeStrides, [4, 2, 1]);
    assert.deepEqual(trained.encode(speechClip()).codeStrides, [4, 2, 1]);
    const log = (await fs.readFile(path.join(run, 'log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { type: string; perplexity?: number[] });
    assert.ok(log.some((e) => e.type === 'train' && e.perplexity!.length === 3), 'codebook health is logged for every codebook');
    // The codebooks were re-fitted (k-means on the first batch), not the flat model's.
    const before = saved.model.params.get('quantizer.codebook0').dataSync();
    const after = trained.model.params.get('quantizer.codebook0').dataSync();
    assert.notDeepEqual(Array.from(after), Array.from(before));
    const resumed = resume(['--code-strides', '4,2,1']);
    assert.notEqual(resumed.status, 0);
    assert.match(resumed.stderr.trim(), /^vqcodec: --code-strides shapes a new run/);
  });
});

/** 0.5 s of a sine mix (any audio will do for the codes' shape). */
function speechClip(): Float32Array {
  return Float32Array.from({ length: 8000 }, (_, i) => Math.sin(i / 7) * 0.2);
}
