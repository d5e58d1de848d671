/**
 * Training the prior on a token export (src/prior/trainer.ts, store.ts): what a run writes, exact
 * resume, a saved prior that generates the same codes after loading, and a refused codec.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { Codec } from '../src/codec.js';
import { VqcodecError } from '../src/errors.js';
import { makeConfig, PRESETS } from '../src/model/config.js';
import { FIXTURES } from '../src/paths.js';
import { generate } from '../src/prior/generate.js';
import { checkPriorCodec, loadPrior } from '../src/prior/store.js';
import { DEFAULT_PRIOR_OPTIONS, trainPrior, type PriorTrainOptions } from '../src/prior/trainer.js';
import { TokenPrior } from '../src/prior/transformer.js';
import { exportTokens } from '../src/tokens/export.js';

let root: string;
let tokens: string;
let codec: Codec;

before(async () => {
  await initBackend('wasm');
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-prior-'));
  codec = Codec.create(makeConfig(PRESETS.tiny), 2);
  const files = ['speech.wav', 'speech.ogg'].map((f) => path.join(FIXTURES, f));
  const audio = path.join(root, 'audio');
  await fs.mkdir(audio);
  await Promise.all(files.map((f, i) => fs.copyFile(f, path.join(audio, `${i}${path.extname(f)}`))));
  tokens = path.join(root, 'tokens');
  await exportTokens(codec, [path.join(audio, '0.wav'), path.join(audio, '1.ogg')], { outDir: tokens, format: 'npy' });
});

after(async () => {
  codec?.dispose();
  if (root) await fs.rm(root, { recursive: true, force: true });
});

function options(outDir: string, steps: number): PriorTrainOptions {
  return { ...DEFAULT_PRIOR_OPTIONS, tokens, outDir, steps, model: { numCodebooks: 2, width: 16, layers: 1, heads: 2, context: 16 }, batchSize: 2, logEvery: 1, validateEvery: 3, checkpointEvery: 3 };
}

test('a prior run writes its log, checkpoint and prior; a resumed run equals a straight one', async () => {
  const straight = await trainPrior(options(path.join(root, 'a'), 6), false);
  const b = path.join(root, 'b');
  (await trainPrior(options(b, 3), false)).dispose();
  const resumed = await trainPrior(options(b, 6), true);
  assert.deepEqual(resumed.params.snapshot(), straight.params.snapshot(), 'same weights');
  const log = (await fs.readFile(path.join(b, 'log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(log.filter((e) => e.type === 'train').map((e) => e.step), [1, 2, 3, 4, 5, 6]);
  assert.ok(log.filter((e) => e.type === 'valid').every((e) => e.bitsPerToken > 0 && e.bitsPerToken < 8), 'bits per token below log2(16) + a margin');
  const { prior, codec: trainedOn } = await loadPrior(path.join(b, 'prior'));
  assert.equal(trainedOn.fingerprint, codec.fingerprint);
  assert.deepEqual(generate(prior, { frames: 8, seed: 4 }), generate(resumed, { frames: 8, seed: 4 }), 'the saved prior samples what the trained one does');
  assert.throws(() => checkPriorCodec(trainedOn, 'ffffffffffffffff'), (e: unknown) => e instanceof VqcodecError && e.message.includes(codec.fingerprint) && e.message.includes('ffffffffffffffff'));
  await assert.rejects(trainPrior(options(b, 9), false), (e: unknown) => e instanceof VqcodecError && /already holds/.test(e.message));
  // Resumed without steps, the finished run keeps its own 6 (not the default 3,000): nothing more to do.
  const again = await trainPrior({ ...options(b, 6), steps: undefined }, true);
  const lastLogged = (await fs.readFile(path.join(b, 'log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l)).at(-1).step;
  assert.equal(lastLogged, 6);
  for (const p of [straight, resumed, prior, again]) p.dispose();
});

test('a resumed run takes a new decay start: the same weights as a straight run with that schedule', async () => {
  const decayed = { lrDecayFrom: 4 };
  const straight = await trainPrior({ ...options(path.join(root, 'decay-a'), 6), ...decayed }, false);
  const b = path.join(root, 'decay-b');
  (await trainPrior(options(b, 3), false)).dispose();
  const resumed = await trainPrior({ ...options(b, 6), ...decayed }, true);
  assert.deepEqual(resumed.params.snapshot(), straight.params.snapshot());
  const rates = (await fs.readFile(path.join(b, 'log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.type === 'train').map((e) => e.learningRate);
  assert.ok(rates[5] < rates[2], `the rate decays after step 4 (${rates.join(', ')})`);
  for (const p of [straight, resumed]) p.dispose();
});

test('--init fine-tunes a saved prior on the tokens of another codec, in its own shape', async () => {
  const first = await trainPrior(options(path.join(root, 'init-src'), 3), false);
  const other = Codec.create(makeConfig(PRESETS.tiny), 7);
  const otherTokens = path.join(root, 'tokens-other');
  await exportTokens(other, [path.join(FIXTURES, 'speech.wav')], { outDir: otherTokens, format: 'npy' });
  // A zero learning rate leaves the loaded weights as they were; the shape asked for is overridden.
  const request = { ...options(path.join(root, 'init-dst'), 1), tokens: otherTokens, learningRate: 0, dropout: 0, initFrom: path.join(root, 'init-src', 'prior'), model: { numCodebooks: 1, width: 8, layers: 2, heads: 1, context: 4 } };
  const tuned = await trainPrior(request, false);
  assert.deepEqual(tuned.config, first.config);
  assert.deepEqual(tuned.params.snapshot(), first.params.snapshot());
  const { prior: saved, codec: trainedOn } = await loadPrior(path.join(root, 'init-dst', 'prior'));
  assert.equal(trainedOn.fingerprint, other.fingerprint, 'the fine-tuned prior models the new codec');
  const bigger = Codec.create(makeConfig({ ...PRESETS.tiny, quantizer: { ...PRESETS.tiny.quantizer, codebookSize: 32 } }), 3);
  const biggerTokens = path.join(root, 'tokens-bigger');
  await exportTokens(bigger, [path.join(FIXTURES, 'speech.wav')], { outDir: biggerTokens, format: 'npy' });
  await assert.rejects(trainPrior({ ...request, tokens: biggerTokens, outDir: path.join(root, 'init-bad') }, false), (e: unknown) => e instanceof VqcodecError && /models 16 codes a codebook/.test(e.message));
  for (const p of [first, tuned, saved]) p.dispose();
  other.dispose();
  bigger.dispose();
});

test('data-parallel workers train as one replica does (shares weighted by their targets); resumed equals straight', async () => {
  const one = await trainPrior({ ...options(path.join(root, 'dp-1'), 4), dropout: 0, workers: 1 }, false);
  const two = await trainPrior({ ...options(path.join(root, 'dp-2'), 4), dropout: 0, workers: 2 }, false);
  const a = one.params.snapshot();
  const b = two.params.snapshot();
  let worst = 0;
  for (const name of Object.keys(a)) a[name]!.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b[name]!.data[i]!))));
  assert.ok(worst < 1e-4, `two replicas' weights within 1e-4 of one's (worst ${worst})`);
  // Moved at all: the run changed the weights by far more than that.
  const fresh = new TokenPrior(one.config, 1);
  const start = fresh.params.snapshot();
  fresh.dispose();
  assert.ok(Object.keys(a).some((name) => a[name]!.data.some((v, i) => Math.abs(v - start[name]!.data[i]!) > 1e-3)));
  // With dropout, each replica draws its own masks, as a function of (seed, step, replica): resume stays exact.
  const straight = await trainPrior({ ...options(path.join(root, 'dp-s'), 4), workers: 2 }, false);
  (await trainPrior({ ...options(path.join(root, 'dp-r'), 2), workers: 2 }, false)).dispose();
  const resumed = await trainPrior({ ...options(path.join(root, 'dp-r'), 4), workers: 2 }, true);
  assert.deepEqual(resumed.params.snapshot(), straight.params.snapshot());
  await assert.rejects(trainPrior({ ...options(path.join(root, 'dp-bad'), 1), workers: 0 }, false), (e: unknown) => e instanceof VqcodecError && /workers must be a positive integer/.test(e.message));
  for (const p of [one, two, straight, resumed]) p.dispose();
});

test('--add-layers grows a saved prior by blocks that start as the identity, then train', async () => {
  const first = await trainPrior(options(path.join(root, 'grow-src'), 3), false);
  const initFrom = path.join(root, 'grow-src', 'prior');
  const grown = await trainPrior({ ...options(path.join(root, 'grow-a'), 1), learningRate: 0, dropout: 0, initFrom, addLayers: 2 }, false);
  assert.equal(grown.config.layers, first.config.layers + 2);
  const window = tf.tensor3d(Int32Array.from({ length: 9 * 2 }, (_, i) => (i * 7) % 17), [1, 9, 2], 'int32');
  const before = first.logits(window).arraySync();
  const after = grown.logits(window).arraySync();
  assert.deepEqual(after, before, 'the grown prior predicts exactly as the one it grew from');
  // Trained, the new blocks' residual projections leave zero (they take gradients).
  const trained = await trainPrior({ ...options(path.join(root, 'grow-b'), 3), dropout: 0, initFrom, addLayers: 1 }, false);
  assert.ok(Math.max(...(trained.params.get(`block${first.config.layers}.out`).dataSync() as Float32Array).map(Math.abs)) > 0);
  await assert.rejects(trainPrior({ ...options(path.join(root, 'grow-c'), 1), addLayers: 1 }, false), (e: unknown) => e instanceof VqcodecError && /give initFrom/.test(e.message));
  await assert.rejects(trainPrior({ ...options(path.join(root, 'grow-d'), 1), initFrom, addLayers: 0 }, false), (e: unknown) => e instanceof VqcodecError && /positive integer/.test(e.message));
  window.dispose();
  for (const p of [first, grown, trained]) p.dispose();
});
