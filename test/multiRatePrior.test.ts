/**
 * The prior on multi-rate tokens (src/prior/, super-frames of the coarsest stride): a tiny run on
 * wasm over an export of strides [4, 2, 1] learns a pattern (the bits fall, per codebook too),
 * records the strides in its prior.json, samples dense grids whose coarse codes repeat over their
 * windows, keeps a prompt that ends inside a super-frame, agrees with the exact prior, resumes
 * exactly, and refuses tokens of other strides.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { VqcodecError } from '../src/errors.js';
import { ExactPrior } from '../src/prior/exactPrior.js';
import { generate, generationSteps } from '../src/prior/generate.js';
import { loadPrior } from '../src/prior/store.js';
import { checkPriorStrides, toSuperFrames } from '../src/prior/superFrames.js';
import { DEFAULT_PRIOR_OPTIONS, trainPrior, type PriorLog, type PriorTrainOptions } from '../src/prior/trainer.js';
import { firstUnrepeatedCode, fromStreams } from '../src/tokens/codeStrides.js';
import { tokenLine, type IndexEntry } from '../src/tokens/export.js';
import type { Tokens } from '../src/types.js';

const STRIDES = [4, 2, 1];
const K = 8;
const FINGERPRINT = '00112233aabbccdd';
let root: string;
let tokens: string;

/**
 * Dense codes of a learnable pattern: super-frame u has a base b = u + offset (mod K); codebook 0
 * codes b, codebook 1's windows b + 1 and b + 2, codebook 2's frames b + 3 … b + 6.
 */
function patternCodes(frames: number, offset: number): Int32Array {
  const base = (t: number) => Math.floor(t / 4) + offset;
  const streams = [
    Array.from({ length: Math.ceil(frames / 4) }, (_, w) => (base(4 * w) % K)),
    Array.from({ length: Math.ceil(frames / 2) }, (_, w) => (base(2 * w) + 1 + (w % 2)) % K),
    Array.from({ length: frames }, (_, t) => (base(t) + 3 + (t % 4)) % K),
  ];
  return fromStreams(streams, frames, STRIDES);
}

/** A jsonl token export of `count` files of the pattern, as vqcodec tokens writes it. */
async function writeExport(dir: string, count: number, frames: number): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const lines: string[] = [];
  const index: string[] = [];
  for (let i = 0; i < count; i++) {
    const t: Tokens = { codes: patternCodes(frames, i), frames, numCodebooks: 3, codebookSize: K, hop: 320, sampleRate: 16000, originalLength: frames * 320, modelFingerprint: FINGERPRINT, codeStrides: STRIDES };
    lines.push(JSON.stringify(tokenLine(`f${i}`, t)));
    const levels = STRIDES.map((stride) => ({ stride, codebooks: 1, frames: Math.ceil(frames / stride) }));
    const entry: IndexEntry = { id: `f${i}`, source: `f${i}.wav`, output: 'tokens.jsonl', frames, numCodebooks: 3, seconds: frames / 50, codebookSize: K, frameRate: 50, sampleRate: 16000, fingerprint: FINGERPRINT, codeStrides: STRIDES, levels };
    index.push(JSON.stringify(entry));
  }
  await fs.writeFile(path.join(dir, 'tokens.jsonl'), lines.join('\n') + '\n');
  await fs.writeFile(path.join(dir, 'index.jsonl'), index.join('\n') + '\n');
}

before(async () => {
  await initBackend('wasm');
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-mr-prior-'));
  tokens = path.join(root, 'tokens');
  // 102 frames: 25 whole super-frames and a partial one of 2 frames.
  await writeExport(tokens, 8, 102);
});

after(async () => {
  if (root) await fs.rm(root, { recursive: true, force: true });
});

function options(outDir: string, steps: number, numCodebooks = 3): PriorTrainOptions {
  return {
    ...DEFAULT_PRIOR_OPTIONS,
    tokens,
    outDir,
    steps,
    model: { numCodebooks, width: 32, layers: 1, heads: 2, context: 24 },
    batchSize: 8,
    learningRate: 1e-2,
    logEvery: 10,
    validateEvery: steps,
    checkpointEvery: steps,
    validFraction: 0.2,
  };
}

async function readLog(dir: string): Promise<PriorLog[]> {
  return (await fs.readFile(path.join(dir, 'log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as PriorLog);
}

test('a tiny run on multi-rate tokens learns the pattern; generation gives repeated grids and keeps a partial prompt', async (t) => {
  const run = path.join(root, 'run');
  const untrained = await trainPrior(options(path.join(root, 'run0'), 1), false);
  const before = (await readLog(path.join(root, 'run0'))).find((e) => e.type === 'valid')!;
  untrained.dispose();
  const trained = await trainPrior(options(run, 150), false);
  const after = (await readLog(run)).find((e) => e.type === 'valid')!;
  t.diagnostic(`validation ${before.bitsPerToken.toFixed(3)} → ${after.bitsPerToken.toFixed(3)} bits/token; per codebook ${after.bitsPerCodebook?.map((b) => b.toFixed(3)).join(", ")}`);
  assert.equal(after.bitsPerCodebook?.length, 3, 'bits per real codebook');
  assert.ok(after.bitsPerToken < before.bitsPerToken / 3, `validation ${before.bitsPerToken.toFixed(3)} → ${after.bitsPerToken.toFixed(3)} bits/token`);
  after.bitsPerCodebook!.forEach((b, q) => assert.ok(b < before.bitsPerCodebook![q]!, `codebook ${q}: ${before.bitsPerCodebook![q]} → ${b}`));
  assert.equal(trained.virtualCodebooks, 7);

  const json = JSON.parse(await fs.readFile(path.join(run, 'prior', 'prior.json'), 'utf8'));
  assert.deepEqual(json.config.codeStrides, STRIDES);
  const { prior } = await loadPrior(path.join(run, 'prior'));
  assert.deepEqual(prior.config.codeStrides, STRIDES);

  // Sampled: a dense grid of the frames asked for (not whole super-frames), every coarse code repeated over its window.
  let steps = 0;
  const sampled = generate(prior, { frames: 23, seed: 2, onStep: (_, total) => (steps = total) });
  assert.equal(sampled.length, 23 * 3);
  assert.equal(steps, generationSteps(prior.config, 23));
  assert.equal(steps, 6 + 7 - 1);
  assert.equal(firstUnrepeatedCode(sampled, 23, STRIDES), -1);
  assert.ok(sampled.every((c) => c >= 0 && c < K));
  assert.deepEqual(generate(prior, { frames: 23, seed: 2 }), sampled, 'the same seed, the same codes');

  // A prompt of 6 frames ends inside super-frame 1: its codes are kept, and greedy decoding continues the pattern.
  const prompt = patternCodes(6, 3);
  const continued = generate(prior, { frames: 30, temperature: 0, prompt });
  assert.deepEqual(Array.from(continued.subarray(0, 18)), Array.from(prompt), 'the output starts with the prompt');
  assert.equal(firstUnrepeatedCode(continued, 30, STRIDES), -1);
  assert.deepEqual(Array.from(continued), Array.from(patternCodes(30, 3)), 'the continuation follows the pattern');
  const broken = prompt.slice();
  broken[3 * 1] = (broken[0]! + 1) % K; // codebook 0 at frame 1 differs from its window's first frame
  assert.throws(() => generate(prior, { frames: 10, prompt: broken }), (e: unknown) => e instanceof VqcodecError && /codebook 0 at frame 1 differs/.test(e.message));

  // The exact prior reads super-frame steps too: 7 tokens a step, the probabilities of the tfjs prior.
  const exact = ExactPrior.fromPrior(prior);
  assert.equal(exact.numCodebooks, 7);
  assert.deepEqual(exact.codeStrides, STRIDES);
  const grid = toSuperFrames(patternCodes(8, 1), 3, STRIDES, K);
  exact.push(grid.subarray(0, 7));
  const ours = exact.probabilities();
  const theirs = tf.tidy(() => tf.softmax(prior.logits(tf.tensor3d([...new Array(7).fill(K), ...grid.subarray(0, 7)], [1, 2, 7], 'int32'))).arraySync() as number[][][][])[0]![1]!;
  ours.forEach((p, v) => p.forEach((x, i) => assert.ok(Math.abs(x - theirs[v]![i]!) < 1e-4, `virtual codebook ${v}, code ${i}`)));

  // Tokens of other strides are refused, naming both.
  assert.throws(
    () => checkPriorStrides(prior.config, [1, 1, 1]),
    (e: unknown) => e instanceof VqcodecError && !e.message.includes('\n') && e.message.includes('[4, 2, 1]') && e.message.includes('[1, 1, 1]'),
  );
  for (const p of [trained, prior]) p.dispose();
});

test('a multi-rate run over 2 codebooks models their 3 virtual codebooks and resumes exactly', async () => {
  const straight = await trainPrior({ ...options(path.join(root, 'a'), 6, 2), checkpointEvery: 3, validateEvery: 3 }, false);
  const b = path.join(root, 'b');
  (await trainPrior({ ...options(b, 3, 2), checkpointEvery: 3, validateEvery: 3 }, false)).dispose();
  const resumed = await trainPrior({ ...options(b, 6, 2), checkpointEvery: 3, validateEvery: 3 }, true);
  assert.deepEqual(resumed.params.snapshot(), straight.params.snapshot(), 'same weights');
  assert.deepEqual(resumed.config.codeStrides, [4, 2]);
  assert.equal(resumed.virtualCodebooks, 3);
  const generated = generate(resumed, { frames: 9, seed: 1 });
  assert.equal(generated.length, 9 * 2);
  assert.equal(firstUnrepeatedCode(generated, 9, [4, 2]), -1);
  for (const p of [straight, resumed]) p.dispose();
});
