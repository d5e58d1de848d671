/**
 * Numerical faults and what is written or loaded: a NaN or infinite loss or gradient norm skips
 * its step (no weight, Adam moment or codebook statistic changes; the crops are used up), is
 * logged and halves the learning rate, in the codec's trainer (one thread and data-parallel) and
 * the prior's; MAX_SKIPS_IN_A_ROW in a row stop the run with one clear line. No checkpoint or
 * model directory with a non-finite weight is written, and none is loaded. Atomic writes leave no
 * temp file, stale ones from killed writers are cleared, and a log's cut last line is skipped.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { Codec } from '../src/codec.js';
import { removeStaleTempFiles, writeFileAtomic } from '../src/io/atomic.js';
import { AtomicFileWriter } from '../src/io/atomicWriter.js';
import { decodeBundle, encodeBundle, type Bundle } from '../src/io/bundle.js';
import { readBundle, writeBundle } from '../src/io/bundleFs.js';
import { parseJsonLines } from '../src/io/jsonLines.js';
import { makeConfig, PRESETS } from '../src/model/config.js';
import type { NamedArrays } from '../src/model/params.js';
import { FIXTURES, PACKAGE_ROOT } from '../src/paths.js';
import { loadPrior } from '../src/prior/store.js';
import { DEFAULT_PRIOR_OPTIONS, trainPrior, type PriorTrainOptions } from '../src/prior/trainer.js';
import { exportTokens } from '../src/tokens/export.js';
import { saveCheckpoint } from '../src/train/checkpoint.js';
import { Adam } from '../src/train/adam.js';
import { Random } from '../src/train/random.js';
import { DEFAULT_TRAIN_OPTIONS, MAX_SKIPS_IN_A_ROW, readLog, train, type LogEntry, type SkipLog, type StepLog, type TrainEvents, type TrainOptions } from '../src/train/trainer.js';
import { isVqcodecError } from './support/errors.js';

const CONFIG = makeConfig(PRESETS.tiny);
const LR = 1e-3;

let root: string;
let data: string;

function options(outDir: string, overrides: Partial<TrainOptions> = {}): TrainOptions {
  return {
    ...DEFAULT_TRAIN_OPTIONS,
    data,
    outDir,
    steps: 5,
    batchSize: 2,
    cropSeconds: 0.2,
    learningRate: LR,
    stftWindows: [64, 128, 256],
    logEvery: 1,
    validateEvery: 1000,
    checkpointEvery: 1,
    validClips: 0,
    seed: 3,
    workers: 1,
    ...overrides,
  };
}


/** Trains with `events`, keeping each checkpoint as it was written (read at once: the next one replaces it). */
async function trainKeeping(o: TrainOptions, events: TrainEvents = {}, resume = false): Promise<Map<number, Bundle>> {
  const checkpoints = new Map<number, Bundle>();
  const codec = await train(CONFIG, o, resume, { ...events, onCheckpoint: (step, file) => checkpoints.set(step, decodeBundle(readFileSync(file), file)) });
  codec.dispose();
  return checkpoints;
}

function sameBytes(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function assertSameArrays(a: NamedArrays, b: NamedArrays, what: string): void {
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), `${what}: same names`);
  for (const name of Object.keys(a)) assert.ok(sameBytes(a[name].data, b[name].data), `${what}: ${name} differs`);
}

function assertFinite(arrays: NamedArrays, what: string): void {
  for (const [name, a] of Object.entries(arrays)) assert.ok(a.data.every(Number.isFinite), `${what}: ${name} is finite`);
}

const trainSteps = (log: LogEntry[]) => log.filter((e): e is StepLog => e.type === 'train');
const skipEntries = (log: LogEntry[]) => log.filter((e): e is SkipLog => e.type === 'skip');

before(async () => {
  await initBackend('wasm');
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-faults-'));
  data = path.join(root, 'data');
  await fs.mkdir(data);
  await fs.copyFile(path.join(FIXTURES, 'speech.wav'), path.join(data, 'speech.wav'));
});

after(async () => {
  if (root) await fs.rm(root, { recursive: true, force: true });
});

/** A NaN in one sample of step 3's batch. */
const nanAtStep3: TrainEvents['onBatch'] = (step, samples) => {
  if (step === 3) samples[7] = NaN;
};

let skippedRun: Map<number, Bundle>;

test('a NaN loss skips its step: nothing changes, the skip is logged, the learning rate halves from then on', async () => {
  const run = path.join(root, 'nan3');
  const skips: SkipLog[] = [];
  skippedRun = await trainKeeping(options(run), { onBatch: nanAtStep3, onSkip: (e) => skips.push(e) });
  const log = await readLog(run);
  assert.deepEqual(skipEntries(log), [{ type: 'skip', step: 3, reason: 'loss is NaN', lrFactor: 0.5 }]);
  assert.deepEqual(skips, skipEntries(log), 'onSkip saw the logged entry');
  assert.deepEqual(trainSteps(log).map((e) => e.step), [1, 2, 4, 5], 'no train line for the skipped step');
  assert.deepEqual(trainSteps(log).map((e) => e.learningRate), [LR, LR, LR / 2, LR / 2]);
  // Step 3 changed no weight, Adam moment, EMA statistic or usage; only the data moved on.
  const [c2, c3, c5] = [2, 3, 5].map((s) => skippedRun.get(s)!);
  assertSameArrays(c3.arrays, c2.arrays, 'after the skipped step');
  assert.equal(c3.meta.adamStep, c2.meta.adamStep);
  assert.notEqual(c3.meta.random, c2.meta.random, 'the crops of step 3 were drawn');
  assert.equal(c3.meta.lrFactor, 0.5);
  assert.equal(c3.meta.skipsInARow, 1);
  assert.equal(c5.meta.lrFactor, 0.5);
  assert.equal(c5.meta.skipsInARow, 0, 'a good step ends the series');
  assert.equal(c5.meta.adamStep, 4);
  assertFinite(c5.arrays, 'final checkpoint');
});

test('a run resumed after a skipped step matches one that never stopped (the factor is in the checkpoint)', async () => {
  const run = path.join(root, 'nan3-resumed');
  (await train(CONFIG, options(run, { steps: 3 }), false, { onBatch: nanAtStep3 })).dispose();
  const atSkip = await readBundle(path.join(run, 'checkpoint.bin'));
  assert.equal(atSkip.meta.lrFactor, 0.5);
  const resumed = await trainKeeping(options(run), {}, true);
  assertSameArrays(resumed.get(5)!.arrays, skippedRun.get(5)!.arrays, 'final checkpoint');
  assert.equal(resumed.get(5)!.meta.random, skippedRun.get(5)!.meta.random);
  const figures = (e: StepLog) => ({ ...e, elapsedSeconds: 0, audioSecondsPerSecond: 0 });
  assert.deepEqual(trainSteps(await readLog(run)).map(figures), trainSteps(await readLog(path.join(root, 'nan3'))).map(figures));
});

test(`${MAX_SKIPS_IN_A_ROW} skipped steps in a row stop the run with one clear line; weights stay finite; a new --lr on resume resets the factor`, async () => {
  const run = path.join(root, 'nan-always');
  const o = options(run, { steps: 10, checkpointEvery: 2 });
  await assert.rejects(
    train(CONFIG, o, false, {
      onBatch: (step, samples) => {
        if (step >= 2) samples.fill(NaN, 0, 10);
      },
    }),
    isVqcodecError(/stopped at step 6: 5 steps in a row had a NaN or infinite loss or gradient \(loss is NaN\); resume from the checkpoint of step 4 with a lower --lr/),
  );
  const log = await readLog(run);
  assert.deepEqual(trainSteps(log).map((e) => e.step), [1]);
  assert.deepEqual(skipEntries(log).map((e) => [e.step, e.lrFactor]), [[2, 1 / 2], [3, 1 / 4], [4, 1 / 8], [5, 1 / 16], [6, 1 / 32]]);
  const checkpoint = await readBundle(path.join(run, 'checkpoint.bin'));
  assert.equal(checkpoint.meta.step, 4, 'the stop wrote no checkpoint');
  assert.equal(checkpoint.meta.skipsInARow, 3);
  assert.equal(checkpoint.meta.lrFactor, 1 / 8);
  assertFinite(checkpoint.arrays, 'last checkpoint');
  assertFinite((await readBundle(path.join(run, 'model', 'weights.bin'))).arrays, 'model/');
  // Without a new rate the resume keeps the halved one; with one, it is used as given.
  (await train(CONFIG, { ...o, steps: 5 }, true)).dispose();
  assert.equal(trainSteps(await readLog(run)).at(-1)!.learningRate, LR / 8);
  (await train(CONFIG, { ...o, steps: 6 }, true, {}, { learningRate: 2e-4 })).dispose();
  assert.equal(trainSteps(await readLog(run)).at(-1)!.learningRate, 2e-4);
  const last = await readBundle(path.join(run, 'checkpoint.bin'));
  assert.deepEqual([last.meta.lrFactor, last.meta.skipsInARow], [1, 0]);
});

test('a NaN batch at the first step leaves the k-means initialisation to the next step', async () => {
  const run = path.join(root, 'nan1');
  const kept = await trainKeeping(options(run, { steps: 2 }), {
    onBatch: (step, samples) => {
      if (step === 1) samples[0] = NaN;
    },
  });
  const [c1, c2] = [kept.get(1)!, kept.get(2)!];
  assert.deepEqual(Array.from(c1.arrays['quantizer.initialised'].data), [0], 'not initialised on NaN encoder outputs');
  assertFinite(c1.arrays, 'after the skipped first step');
  assert.deepEqual(Array.from(c2.arrays['quantizer.initialised'].data), [1]);
  assertFinite(c2.arrays, 'after step 2');
  assert.deepEqual(skipEntries(await readLog(run)).map((e) => e.step), [1]);
});

test('data-parallel: a NaN in a worker’s shard skips the step (the merged gradients are checked)', async () => {
  const run = path.join(root, 'nan-parallel');
  // The main thread takes row 0, the worker row 1.
  const kept = await trainKeeping(options(run, { steps: 3, workers: 2 }), {
    onBatch: (step, samples) => {
      if (step === 2) samples[samples.length - 5] = NaN;
    },
  });
  assertSameArrays(kept.get(2)!.arrays, kept.get(1)!.arrays, 'after the skipped step');
  assert.equal(kept.get(3)!.meta.adamStep, 2);
  assert.deepEqual(skipEntries(await readLog(run)), [{ type: 'skip', step: 2, reason: 'loss is NaN', lrFactor: 0.5 }]);
});

test('vqcodec train with an absurd loss weight: each infinite gradient is noted, then one line stops the run', () => {
  const run = path.join(root, 'cli-absurd');
  const r = spawnSync(process.execPath, [path.join(PACKAGE_ROOT, 'bin', 'vqcodec.js'), 'train', '-q', '-d', data, '-o', run, '-p', 'tiny', '--steps', '10', '--batch', '2', '--crop', '0.2', '--stft', '64,128,256', '--workers', '1', '--waveform-weight', '1e37'], {
    cwd: PACKAGE_ROOT,
    env: { ...process.env, VQCODEC_BACKEND: 'wasm', VQCODEC_DEBUG: '' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.notEqual(r.status, 0, r.stderr);
  const lines = r.stderr.trim().split('\n');
  const notes = lines.filter((l) => / skipped \(/.test(l));
  assert.equal(notes.length, 5, r.stderr);
  assert.match(notes[0], /^step 1 skipped \(gradient norm is Infinity\): nothing learnt from it; learning rate × 0\.5 from now on$/);
  assert.match(lines.at(-1)!, /^vqcodec: training stopped at step 5: 5 steps in a row .*start again with a lower --lr or other loss weights$/);
  assert.equal(lines.filter((l) => l.startsWith('vqcodec:')).length, 1, r.stderr);
  assert.ok(!existsSync(path.join(run, 'checkpoint.bin')), 'no checkpoint before the stop');
});

test('the prior’s trainer skips a NaN step too (weights unchanged, factor halved) and stops after 5 in a row', async () => {
  const codec = Codec.create(CONFIG, 2);
  const tokens = path.join(root, 'tokens');
  try {
    const audio = path.join(root, 'prior-audio');
    await fs.mkdir(audio);
    await fs.copyFile(path.join(FIXTURES, 'speech.wav'), path.join(audio, '0.wav'));
    await fs.copyFile(path.join(FIXTURES, 'speech.ogg'), path.join(audio, '1.ogg'));
    await exportTokens(codec, [path.join(audio, '0.wav'), path.join(audio, '1.ogg')], { outDir: tokens, format: 'npy' });
  } finally {
    codec.dispose();
  }
  const priorOptions = (outDir: string, steps: number): PriorTrainOptions => ({
    ...DEFAULT_PRIOR_OPTIONS, tokens, outDir, steps, model: { numCodebooks: 2, width: 16, layers: 1, heads: 2, context: 16 }, batchSize: 2, logEvery: 1, validateEvery: 100, checkpointEvery: 1,
  });
  const one = path.join(root, 'prior1');
  (await trainPrior(priorOptions(one, 1), false)).dispose();
  const two = path.join(root, 'prior2');
  const skips: SkipLog[] = [];
  (await trainPrior(priorOptions(two, 2), false, { onLoss: (step, loss) => (step === 2 ? tf.mul(loss, NaN) : loss), onSkip: (e) => skips.push(e) })).dispose();
  const [a, b] = await Promise.all([one, two].map((r) => readBundle(path.join(r, 'checkpoint.bin'))));
  assertSameArrays(b.arrays, a.arrays, 'after the skipped step');
  assert.equal(b.meta.lrFactor, 0.5);
  assert.deepEqual(skips, [{ type: 'skip', step: 2, reason: 'loss is NaN', lrFactor: 0.5 }]);
  const log = parseJsonLines<{ type: string; step: number }>(await fs.readFile(path.join(two, 'log.jsonl'), 'utf8'), 'log');
  assert.deepEqual(log.map((e) => `${e.type} ${e.step}`), ['train 1', 'skip 2', 'valid 2'], 'no train line for the skipped step; validation at the last one');
  await assert.rejects(
    trainPrior(priorOptions(path.join(root, 'prior-nan'), 9), false, { onLoss: (step, loss) => (step >= 3 ? tf.mul(loss, Infinity) : loss) }),
    isVqcodecError(/prior's training stopped at step 7: 5 steps in a row .*resume from the checkpoint of step 6/),
  );
  // A prior directory with a NaN weight is refused, naming the tensor.
  const weights = path.join(two, 'prior', 'weights.bin');
  const saved = await readBundle(weights);
  const name = Object.keys(saved.arrays)[1];
  saved.arrays[name].data[0] = NaN;
  await fs.writeFile(weights, encodeBundle(saved));
  await assert.rejects(loadPrior(path.join(two, 'prior')), isVqcodecError(new RegExp(`refusing to load .*weights\\.bin: tensor ${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} holds NaN at index 0`)));
});

test('no model directory or checkpoint with a NaN or infinite weight is written', async () => {
  const codec = Codec.create(CONFIG, 1);
  try {
    const name = Object.keys(codec.model.params.snapshot())[3];
    const v = codec.model.params.get(name);
    tf.tidy(() => v.assign(tf.fill(v.shape, Infinity)));
    const dir = path.join(root, 'bad-model');
    await assert.rejects(codec.save(dir), isVqcodecError(new RegExp(`refusing to write .*weights\\.bin: tensor ${name.replace(/\./g, '\\.')} holds Infinity at index 0`)));
    assert.ok(!existsSync(dir), 'nothing written, not even config.json');
    const file = path.join(root, 'bad-checkpoint', 'checkpoint.bin');
    const adam = new Adam({ learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, clipNorm: 1 });
    await assert.rejects(
      saveCheckpoint(file, { model: codec.model, adam, random: new Random(1), step: 1, options: options(root), lrFactor: 1, skipsInARow: 0 }),
      isVqcodecError(/refusing to write .*checkpoint\.bin: tensor .* holds Infinity/),
    );
    assert.ok(!existsSync(path.dirname(file)) || (await fs.readdir(path.dirname(file))).length === 0, 'no checkpoint or temp file');
  } finally {
    codec.dispose();
  }
  // float16 would turn a large finite weight into infinity: refused as well.
  await assert.rejects(writeBundle(path.join(root, 'half.bin'), { meta: {}, arrays: { w: { shape: [2], data: new Float32Array([1, 1e5]) } } }, 'float16'), isVqcodecError(/tensor w holds 100000 at index 1, beyond float16's range/));
  assert.ok(!existsSync(path.join(root, 'half.bin')));
});

test('loadModel refuses weights.bin with a NaN or infinity (float32 or float16), naming the tensor; resume refuses such a checkpoint', async () => {
  const codec = Codec.create(CONFIG, 1);
  const dir = path.join(root, 'good-model');
  await codec.save(dir);
  codec.dispose();
  const file = path.join(dir, 'weights.bin');
  const good = await readBundle(file);
  const name = Object.keys(good.arrays)[2];
  for (const [value, precision] of [[NaN, 'float32'], [-Infinity, 'float16']] as const) {
    const arrays = { ...good.arrays, [name]: { shape: good.arrays[name].shape, data: good.arrays[name].data.slice() } };
    arrays[name].data[5] = value;
    await fs.writeFile(file, encodeBundle({ meta: good.meta, arrays }, precision));
    await assert.rejects(Codec.load(dir), isVqcodecError(new RegExp(`refusing to load .*weights\\.bin: tensor ${name.replace(/\./g, '\\.')} holds ${value} at index 5`)), precision);
  }
  // A checkpoint whose Adam moment went NaN does not resume.
  const run = path.join(root, 'nan-checkpoint');
  (await train(CONFIG, options(run, { steps: 1 }), false)).dispose();
  const checkpoint = path.join(run, 'checkpoint.bin');
  const bundle = await readBundle(checkpoint);
  const moment = Object.keys(bundle.arrays).find((k) => k.startsWith('adam.v/'))!;
  bundle.arrays[moment].data[0] = NaN;
  await fs.writeFile(checkpoint, encodeBundle(bundle));
  await assert.rejects(train(CONFIG, options(run, { steps: 2 }), true), isVqcodecError(/refusing to load .*checkpoint\.bin: tensor adam\.v\//));
});

test('atomic writes leave no temp file; temp files of dead writers are cleared, live ones kept', async () => {
  const dir = path.join(root, 'atomic');
  await writeFileAtomic(path.join(dir, 'a.txt'), 'hello');
  const writer = await AtomicFileWriter.open(path.join(dir, 'b.bin'));
  await writer.write(new Uint8Array([1, 2, 3]));
  await writer.commit();
  assert.deepEqual((await fs.readdir(dir)).sort(), ['a.txt', 'b.bin']);
  assert.equal(await fs.readFile(path.join(dir, 'a.txt'), 'utf8'), 'hello');
  // A finished process's pid: its temp files are stale.
  const dead = spawnSync(process.execPath, ['-e', '']).pid!;
  const names = [`.checkpoint.bin.${dead}.1700000000000-0.tmp`, `.log.jsonl.${dead}.1700000000000.tmp`, `.weights.bin.${process.ppid}.1700000000000-3.tmp`, `.own.${process.pid}.1-1.tmp`, 'keep.tmp'];
  for (const n of names) await fs.writeFile(path.join(dir, n), 'x');
  assert.deepEqual((await removeStaleTempFiles(dir)).sort(), names.slice(0, 2).sort());
  assert.deepEqual((await fs.readdir(dir)).sort(), ['a.txt', 'b.bin', ...names.slice(2)].sort());
});

test('a log’s cut last line is skipped when reading; a broken line before it is an error', async () => {
  const whole = '{"type":"train","step":1}\n{"type":"train","step":2}\n';
  assert.deepEqual(parseJsonLines<{ step: number }>(whole + '{"type":"tra', 'log').map((e) => e.step), [1, 2]);
  assert.deepEqual(parseJsonLines<{ step: number }>(whole, 'log').map((e) => e.step), [1, 2]);
  assert.throws(() => parseJsonLines('{"step":1}\n{"st\n{"step":3}\n', 'log.jsonl'), isVqcodecError(/log\.jsonl: line 2 is not JSON/));
  const run = path.join(root, 'cut-log');
  await fs.mkdir(run);
  await fs.writeFile(path.join(run, 'log.jsonl'), whole + '{"type":"valid","st');
  assert.deepEqual((await readLog(run)).map((e) => e.step), [1, 2]);
});
