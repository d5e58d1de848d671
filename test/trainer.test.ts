/**
 * The training loop (src/train/trainer.ts) on the two speech fixtures with a tiny model:
 * what a run writes (log, checkpoint, model, plot), exact resume, and clear errors.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../src/backend.js';
import { Codec } from '../src/codec.js';
import { VqcodecError } from '../src/errors.js';
import { plotTrainingLog } from '../src/eval/plot.js';
import { readBundle, writeBundle } from '../src/io/bundleFs.js';
import { fingerprintOf } from '../src/io/modelFormat.js';
import { VqVae, withoutTrainingState } from '../src/model/vqvae.js';
import { exportCheckpoint } from '../src/train/trainer.js';
import { hopLength, makeConfig, PRESETS, type CodecConfig } from '../src/model/config.js';
import type { NamedArrays } from '../src/model/params.js';
import { DEFAULT_TRAIN_OPTIONS, learningRateAt, LR_FLOOR, readLog, train, type LogEntry, type StepLog, type TrainOptions } from '../src/train/trainer.js';
import { FIXTURES } from '../src/paths.js';
import { isVqcodecError } from './support/errors.js';



/** The tiny preset: hop 2·4·5·8 = 320 samples (50 frames/s at 16 kHz), 3 codebooks of 16 entries. */
const CONFIG: CodecConfig = makeConfig(PRESETS.tiny);
const NUM_CODEBOOKS = 3;
const STFT_WINDOWS = [64, 128, 256];
const CROP_SECONDS = 0.2;

let root: string;
let data: string;
/** Run A: 4 steps straight. */
let runA: string;
let codecA: Codec;
const checkpointsA: number[] = [];
const stepsA: number[] = [];

function options(outDir: string, overrides: Partial<TrainOptions> = {}): TrainOptions {
  return {
    ...DEFAULT_TRAIN_OPTIONS,
    data,
    outDir,
    steps: 4,
    batchSize: 2,
    cropSeconds: CROP_SECONDS,
    stftWindows: STFT_WINDOWS,
    logEvery: 1,
    validateEvery: 1000,
    checkpointEvery: 2,
    validClips: 1,
    validSeconds: 1,
    seed: 3,
    ...overrides,
  };
}


function trainEntries(log: LogEntry[]): StepLog[] {
  return log.filter((e): e is StepLog => e.type === 'train');
}

function assertSameArrays(a: NamedArrays, b: NamedArrays, what: string): void {
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), `${what}: same names`);
  for (const name of Object.keys(a)) {
    assert.deepEqual(a[name].shape, b[name].shape, `${what}: shape of ${name}`);
    const x = a[name].data;
    const y = b[name].data;
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
    assert.ok(worst <= 1e-6, `${what}: ${name} differs by up to ${worst}`);
  }
}

before(async () => {
  await initBackend('wasm');
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-'));
  data = path.join(root, 'data');
  await fs.mkdir(data);
  for (const f of ['speech.wav', 'speech.ogg']) await fs.copyFile(path.join(FIXTURES, f), path.join(data, f));
  runA = path.join(root, 'runA');
  codecA = await train(CONFIG, options(runA), false, {
    onStep: (step) => stepsA.push(step),
    onCheckpoint: (step) => checkpointsA.push(step),
  });
});

after(async () => {
  codecA?.dispose();
  if (root) await fs.rm(root, { recursive: true, force: true });
});

test('the crops are at least as long as the largest STFT window', () => {
  const hop = hopLength(CONFIG);
  const crop = Math.round((CROP_SECONDS * CONFIG.sampleRate) / hop) * hop;
  assert.ok(crop >= Math.max(...STFT_WINDOWS), `crop ${crop} samples`);
});

test('a 4-step run writes log.jsonl, checkpoint.bin, train.json and a loadable model/', async () => {
  assert.deepEqual(stepsA, [1, 2, 3, 4]);
  assert.deepEqual(checkpointsA, [2, 4]);
  const files = (await fs.readdir(runA)).sort();
  for (const f of ['checkpoint.bin', 'log.jsonl', 'model', 'train.json']) assert.ok(files.includes(f), `${f} in ${files}`);
  assert.ok(!files.some((f) => f.endsWith('.tmp')), `no temp files: ${files}`);
  assert.deepEqual((await fs.readdir(path.join(runA, 'model'))).sort(), ['config.json', 'training.json', 'weights.bin']);

  const log = await readLog(runA);
  const steps = trainEntries(log);
  assert.deepEqual(steps.map((e) => e.step), [1, 2, 3, 4]);
  for (const e of steps) {
    for (const k of ['total', 'waveform', 'stft', 'commitment', 'gradNorm', 'elapsedSeconds', 'audioSecondsPerSecond'] as const) {
      assert.ok(Number.isFinite(e[k]), `step ${e.step}: ${k} = ${e[k]}`);
    }
    // One value per codebook that was active in the logged window (quantizer dropout may leave out the last ones).
    assert.ok(Array.isArray(e.perplexity) && e.perplexity.length >= 1 && e.perplexity.length <= NUM_CODEBOOKS, `step ${e.step}: perplexity per codebook ${JSON.stringify(e.perplexity)}`);
    assert.ok(Array.isArray(e.deadCodes) && e.deadCodes.length === e.perplexity.length, `step ${e.step}: deadCodes per codebook ${JSON.stringify(e.deadCodes)}`);
    // null (NaN in JSON) marks a codebook no step of the window used (quantizer dropout).
    for (const p of e.perplexity) assert.ok(p === null || (p >= 1 && p <= 16), `perplexity ${p}`);
    for (const d of e.deadCodes) assert.ok(Number.isInteger(d) && d >= 0 && d <= 16, `deadCodes ${d}`);
  }
  // Most steps train all codebooks (dropout 0.5), so some entry reports all three.
  assert.ok(steps.some((e) => e.perplexity.length === NUM_CODEBOOKS));
  // One validation at the last step (validateEvery is large), with every codebook in use.
  const valid = log.filter((e) => e.type === 'valid');
  assert.deepEqual(valid.map((e) => e.step), [4]);
  assert.equal(valid[0].perplexity.length, NUM_CODEBOOKS);
  for (const k of ['siSdr', 'stoi', 'estoi', 'melDistance'] as const) assert.equal(typeof valid[0][k], 'number', `valid ${k}`);

  const checkpoint = await readBundle(path.join(runA, 'checkpoint.bin'));
  assert.equal(checkpoint.meta.format, 'vqcodec-checkpoint');
  assert.equal(checkpoint.meta.step, 4);

  const trainJson = JSON.parse(await fs.readFile(path.join(runA, 'train.json'), 'utf8'));
  assert.deepEqual(trainJson.config, CONFIG);

  const loaded = await Codec.load(path.join(runA, 'model'));
  try {
    assert.equal(loaded.fingerprint, codecA.fingerprint);
    assert.deepEqual(loaded.config, CONFIG);
    const tokens = loaded.encode(new Float32Array(1000).map((_, i) => Math.sin(i / 7) * 0.3));
    assert.equal(loaded.decode(tokens).length, 1000);
  } finally {
    loaded.dispose();
  }
});

test(
  'every train log entry has one perplexity and deadCodes value per codebook',
  async () => {
    for (const e of trainEntries(await readLog(runA))) {
      assert.equal(e.perplexity.length, NUM_CODEBOOKS, `step ${e.step}: ${JSON.stringify(e.perplexity)}`);
      assert.equal(e.deadCodes.length, NUM_CODEBOOKS, `step ${e.step}: ${JSON.stringify(e.deadCodes)}`);
    }
  },
);

test('plotTrainingLog of the run is an SVG with the loss, perplexity and validation panels', async () => {
  const svg = plotTrainingLog(await readLog(runA), 'run <A> & co');
  assert.equal(typeof svg, 'string');
  assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>\s*$/);
  assert.equal(svg.match(/<svg\b/g)?.length, 1);
  for (const title of ['training loss', 'codebook perplexity', 'validation', 'codebook 0', 'codebook 2']) assert.ok(svg.includes(title), `SVG mentions ${title}`);
  assert.ok(svg.includes('run &lt;A&gt; &amp; co'), 'title is escaped');
  assert.ok((svg.match(/<path d="M[\d.,ML-]+"/g)?.length ?? 0) >= 4, 'has line paths');
  assert.ok(!/NaN|undefined|Infinity/.test(svg), 'no NaN/undefined/Infinity in the SVG');
  assert.equal(svg.match(/<text\b/g)?.length, svg.match(/<\/text>/g)?.length, 'balanced <text> elements');
});

test('exact resume: 2 steps + resume to 4 gives the same weights, optimiser state and log as 4 straight steps', async () => {
  const runB = path.join(root, 'runB');
  const first = await train(CONFIG, options(runB, { steps: 2 }), false);
  first.dispose();
  assert.deepEqual(trainEntries(await readLog(runB)).map((e) => e.step), [1, 2]);
  // As if the process died after logging step 3 but before its checkpoint: the resume must drop that line.
  const orphan = { ...trainEntries(await readLog(runB))[1], step: 3, total: 12345 };
  await fs.appendFile(path.join(runB, 'log.jsonl'), JSON.stringify(orphan) + '\n');

  const resumedSteps: number[] = [];
  const codecB = await train(CONFIG, options(runB, { steps: 4 }), true, { onStep: (s) => resumedSteps.push(s) });
  try {
    assert.deepEqual(resumedSteps, [3, 4], 'the resumed run starts after the checkpoint');
    assertSameArrays(codecA.model.params.snapshot(), codecB.model.params.snapshot(), 'final weights');
    assert.equal(codecB.fingerprint, codecA.fingerprint);
    // Same Adam moments, codebook usage and random state in the final checkpoints.
    const ckA = await readBundle(path.join(runA, 'checkpoint.bin'));
    const ckB = await readBundle(path.join(runB, 'checkpoint.bin'));
    assertSameArrays(ckA.arrays, ckB.arrays, 'final checkpoint');
    assert.equal(ckB.meta.step, 4);
    assert.equal(ckB.meta.adamStep, ckA.meta.adamStep);
    assert.equal(ckB.meta.random, ckA.meta.random);
    // Exported models are identical too.
    const loadedB = await Codec.load(path.join(runB, 'model'));
    assert.equal(loadedB.fingerprint, codecA.fingerprint);
    loadedB.dispose();
  } finally {
    codecB.dispose();
  }

  const logA = trainEntries(await readLog(runA));
  const logB = trainEntries(await readLog(runB));
  assert.deepEqual(logB.map((e) => e.step), [1, 2, 3, 4], 'each step logged once');
  // Every loss figure of every step agrees (timings aside).
  const figures = (e: StepLog) => ({ ...e, elapsedSeconds: 0, audioSecondsPerSecond: 0 });
  assert.deepEqual(logB.map(figures), logA.map(figures));
});

test('a fresh run in a folder that holds a checkpoint throws VqcodecError and leaves the run alone', async () => {
  const logBefore = await fs.readFile(path.join(runA, 'log.jsonl'), 'utf8');
  const checkpointBefore = await fs.readFile(path.join(runA, 'checkpoint.bin'));
  await assert.rejects(train(CONFIG, options(runA), false), isVqcodecError(/resume/));
  assert.equal(await fs.readFile(path.join(runA, 'log.jsonl'), 'utf8'), logBefore, 'log untouched');
  assert.deepEqual(await fs.readFile(path.join(runA, 'checkpoint.bin')), checkpointBefore, 'checkpoint untouched');
});

test('resume without a checkpoint throws VqcodecError', async () => {
  await assert.rejects(train(CONFIG, options(path.join(root, 'empty-run')), true), isVqcodecError(/nothing to resume/));
});

test('impossible training options throw VqcodecError', async () => {
  const out = path.join(root, 'bad-options');
  for (const bad of [
    { steps: 0 },
    { steps: 2.5 },
    { batchSize: -1 },
    { batchSize: 0 },
    { cropSeconds: 0 },
    { learningRate: 0 },
    { logEvery: 0 },
    { checkpointEvery: -2 },
    { stftWindows: [64, 90] },
    { stftWindows: [0] },
    { steps: 10, lrDecayFrom: 10 },
    { steps: 10, lrDecayFrom: -1 },
    { lossWeights: { waveform: 1, stft: 1, vq: 1, mel: -1 } },
  ] as Partial<TrainOptions>[]) {
    await assert.rejects(train(CONFIG, options(out, bad), false), isVqcodecError(/invalid training option/), JSON.stringify(bad));
  }
  assert.ok(!existsSync(path.join(out, 'checkpoint.bin')));
});

test('crops shorter than the largest STFT window, or a missing data folder, throw VqcodecError', async () => {
  // 0.03 s rounds to 2 frames = 640 samples < 1024.
  await assert.rejects(
    train(CONFIG, options(path.join(root, 'short-crops'), { cropSeconds: 0.03, stftWindows: [64, 1024] }), false),
    isVqcodecError(/STFT window/),
  );
  await assert.rejects(train(CONFIG, options(path.join(root, 'no-data'), { data: path.join(root, 'nope') }), false), isVqcodecError(/no such/));
});

test('a resume keeps the run’s saved options, except those passed as changed', async () => {
  const run = path.join(root, 'runChanged');
  (await train(CONFIG, options(run, { steps: 2, learningRate: 1e-3 }), false)).dispose();
  const saved = async () => JSON.parse(await fs.readFile(path.join(run, 'train.json'), 'utf8')).options;
  // Not changed: the 2e-3 below is ignored, the run keeps 1e-3.
  (await train(CONFIG, options(run, { steps: 3, learningRate: 2e-3 }), true)).dispose();
  assert.equal((await saved()).learningRate, 1e-3);
  (await train(CONFIG, options(run, { steps: 4 }), true, {}, { learningRate: 5e-4, lossWeights: { waveform: 3, stft: 1, vq: 1 } })).dispose();
  assert.equal((await saved()).learningRate, 5e-4);
  assert.equal((await saved()).lossWeights.waveform, 3);
  // Loss weights merge one by one: adding a mel term keeps the waveform weight of 3.
  (await train(CONFIG, options(run, { steps: 5 }), true, {}, { lossWeights: { mel: 2 } as never })).dispose();
  assert.deepEqual((await saved()).lossWeights, { waveform: 3, stft: 1, vq: 1, mel: 2 });
  await assert.rejects(train(CONFIG, options(run, { steps: 6 }), true, {}, { batchSize: 0 }), VqcodecError);
});

test('a resume may switch how dead codes restart, and the checkpoint keeps the switch', async () => {
  const run = path.join(root, 'runRestarts');
  (await train(CONFIG, options(run, { steps: 2 }), false)).dispose();
  const savedConfig = async () => JSON.parse(await fs.readFile(path.join(run, 'train.json'), 'utf8')).options.quantizer;
  assert.equal((await savedConfig()).restart, undefined);
  (await train(CONFIG, options(run, { steps: 3 }), true, {}, { quantizer: { restart: 'split', deadCodeThreshold: 0.5 } })).dispose();
  assert.equal((await savedConfig()).restart, 'split');
  assert.equal((await savedConfig()).deadCodeThreshold, 0.5);
  const checkpoint = await readBundle(path.join(run, 'checkpoint.bin'));
  assert.equal((checkpoint.meta.options as TrainOptions).quantizer.restart, 'split', 'a later resume keeps split restarts');
  assert.deepEqual(Object.keys((checkpoint.meta.config as CodecConfig).quantizer).sort(), ['codebookSize', 'dim', 'numCodebooks'], 'the model config holds no training settings');
  // Without changes, the next resume keeps what the checkpoint says.
  (await train(CONFIG, options(run, { steps: 4 }), true)).dispose();
  assert.equal((await savedConfig()).restart, 'split');
  await assert.rejects(train(CONFIG, options(run, { steps: 5 }), true, {}, { quantizer: { deadCodeThreshold: -1 } }), isVqcodecError(/deadCodeThreshold/));
});

test('validClips 0 trains without validating', async () => {
  const run = path.join(root, 'noValidation');
  (await train(CONFIG, options(run, { steps: 1, validClips: 0, validateEvery: 1 }), false)).dispose();
  assert.deepEqual((await readLog(run)).map((e) => e.type), ['train']);
});

test('GAN training resumes exactly (the discriminator and its Adam are in the checkpoint)', async () => {
  const gan = { lossWeights: { waveform: 20, stft: 1, vq: 1, adversarial: 1, featureMatching: 2 } };
  const straight = path.join(root, 'ganStraight');
  (await train(CONFIG, options(straight, { steps: 4, ...gan }), false)).dispose();
  const resumed = path.join(root, 'ganResumed');
  (await train(CONFIG, options(resumed, { steps: 2, ...gan }), false)).dispose();
  (await train(CONFIG, options(resumed, { steps: 4 }), true)).dispose();
  const a = await readBundle(path.join(straight, 'checkpoint.bin'));
  const b = await readBundle(path.join(resumed, 'checkpoint.bin'));
  assert.ok(Object.keys(a.arrays).some((k) => k.startsWith('discriminator:disc.')), 'discriminator weights saved');
  assert.ok(Object.keys(a.arrays).some((k) => k.startsWith('discriminator:adam.m/')), 'discriminator moments saved');
  assert.equal(b.meta.discriminatorAdamStep, 4);
  assertSameArrays(a.arrays, b.arrays, 'GAN checkpoint');
  const entries = trainEntries(await readLog(resumed));
  assert.ok(entries.every((e) => e.adversarial > 0 && e.featureMatching > 0 && e.discriminator > 0), 'GAN terms logged at every step');
});

test('a run may start GAN training on resume, with a fresh discriminator', async () => {
  const run = path.join(root, 'ganLate');
  (await train(CONFIG, options(run, { steps: 2 }), false)).dispose();
  assert.equal((await readBundle(path.join(run, 'checkpoint.bin'))).meta.discriminatorAdamStep, undefined);
  (await train(CONFIG, options(run, { steps: 3 }), true, {}, { lossWeights: { adversarial: 1 } as never })).dispose();
  const checkpoint = await readBundle(path.join(run, 'checkpoint.bin'));
  assert.equal(checkpoint.meta.discriminatorAdamStep, 1);
  assert.deepEqual(trainEntries(await readLog(run)).map((e) => e.discriminator > 0), [false, false, true]);
  // The exported model holds the codec only.
  const loaded = await Codec.load(path.join(run, 'model'));
  assert.ok(!Object.keys(loaded.model.params.snapshot()).some((n) => n.includes('disc')));
  loaded.dispose();
});

test('the learning rate is constant until lrDecayFrom, then falls monotonically to LR_FLOOR × peak at the last step', () => {
  const o = { learningRate: 1e-3, lrDecayFrom: 100, steps: 200 };
  assert.equal(learningRateAt(1, { ...o, lrDecayFrom: undefined }), 1e-3);
  assert.equal(learningRateAt(200, { ...o, lrDecayFrom: undefined }), 1e-3);
  assert.equal(learningRateAt(100, o), 1e-3);
  let previous = 1e-3;
  for (let step = 101; step <= 200; step++) {
    const lr = learningRateAt(step, o);
    assert.ok(lr < previous, `step ${step}: ${lr} ≥ ${previous}`);
    previous = lr;
  }
  assert.ok(Math.abs(learningRateAt(200, o) - LR_FLOOR * 1e-3) < 1e-12);
  assert.ok(Math.abs(learningRateAt(150, o) - ((1 + LR_FLOOR) / 2) * 1e-3) < 1e-12, 'half way down at the midpoint');
});

test('an annealed run logs the falling learning rate', async () => {
  const run = path.join(root, 'runAnneal');
  (await train(CONFIG, options(run, { steps: 4, logEvery: 1, lrDecayFrom: 2, learningRate: 1e-3 }), false)).dispose();
  const rates = (await readLog(run)).filter((e): e is StepLog => e.type === 'train').map((e) => e.learningRate);
  assert.deepEqual(rates.slice(0, 2), [1e-3, 1e-3]);
  assert.ok(rates[2] < 1e-3 && rates[3] < rates[2]);
  assert.ok(Math.abs(rates[3] - LR_FLOOR * 1e-3) < 1e-12);
});

test('a checkpoint from before the split (training settings in its config) resumes with them and exports under its old fingerprint', async () => {
  const run = path.join(root, 'legacy');
  (await train(CONFIG, options(run, { steps: 2 }), false)).dispose();
  // Rewrite the checkpoint as the code before the split wrote it.
  const file = path.join(run, 'checkpoint.bin');
  const bundle = await readBundle(file);
  const legacyConfig = { ...CONFIG, quantizer: { ...CONFIG.quantizer, ...DEFAULT_TRAIN_OPTIONS.quantizer, restart: 'split', deadCodeThreshold: 0.3 } };
  const { quantizer: _dropped, ...legacyOptions } = bundle.meta.options as TrainOptions;
  await writeBundle(file, { meta: { ...bundle.meta, config: legacyConfig, options: legacyOptions }, arrays: bundle.arrays });
  const exported = await exportCheckpoint(run, path.join(root, 'legacy-model'));
  const weights = Object.fromEntries(Object.entries(bundle.arrays).filter(([name]) => !name.startsWith('adam.') && !name.startsWith('usage/')));
  assert.equal(exported.fingerprint, fingerprintOf(legacyConfig, withoutTrainingState(weights)), 'the fingerprint the old code gave');
  assert.equal((await Codec.load(path.join(root, 'legacy-model'))).fingerprint, exported.fingerprint);
  exported.dispose();
  (await train(CONFIG, options(run, { steps: 3 }), true)).dispose();
  const saved = JSON.parse(await fs.readFile(path.join(run, 'train.json'), 'utf8'));
  assert.equal(saved.options.quantizer.restart, 'split', 'the settings come from the old config');
  assert.equal(saved.options.quantizer.deadCodeThreshold, 0.3);
  assert.deepEqual(Object.keys(saved.config.quantizer).sort(), ['codebookSize', 'dim', 'numCodebooks']);
});

test('a saved model keeps how its quantizer trained (training.json), and train --init carries it unless flags say otherwise', async () => {
  const source = path.join(root, 'split-model');
  const made = Codec.fromModel(new VqVae(CONFIG, 2, { restart: 'split', deadCodeThreshold: 0.05 }));
  await made.save(source);
  const loaded = await Codec.load(source);
  assert.equal(loaded.fingerprint, made.fingerprint, 'training.json is not part of the model');
  assert.equal(loaded.model.training.restart, 'split');
  const carried = async (run: string) => JSON.parse(await fs.readFile(path.join(run, 'train.json'), 'utf8')).options.quantizer;
  const runC = path.join(root, 'init-carries');
  (await train(CONFIG, options(runC, { steps: 1, initFrom: source }), false)).dispose();
  assert.deepEqual([(await carried(runC)).restart, (await carried(runC)).deadCodeThreshold], ['split', 0.05]);
  const runF = path.join(root, 'init-flags');
  (await train(CONFIG, options(runF, { steps: 1, initFrom: source }), false, {}, { quantizer: { deadCodeThreshold: 0.2 } })).dispose();
  assert.deepEqual([(await carried(runF)).restart, (await carried(runF)).deadCodeThreshold], ['split', 0.2]);
  // A broken training.json is one line naming the file.
  await fs.writeFile(path.join(source, 'training.json'), '{"quantizer": {"dim": 4}}');
  await assert.rejects(Codec.load(source), isVqcodecError(/training\.json: quantizer\.dim is not a quantizer training setting/));
  made.dispose();
  loaded.dispose();
});

test('train --init DIR --istft-head --decoder-only: the decoder ends in an iSTFT and trains; the encoder and codebooks do not move', async () => {
  const source = path.join(root, 'runA', 'model');
  const run = path.join(root, 'istft-decoder-only');
  const head = { window: 4 * hopLength(CONFIG), channels: 8 };
  const trained = await train(CONFIG, options(run, { steps: 2, initFrom: source, istftHead: head, decoderOnly: true }), false);
  const base = await Codec.load(source);
  try {
    assert.deepEqual(trained.config.istftHead, head);
    const before = base.model.inferenceArrays();
    const after = trained.model.inferenceArrays();
    for (const name of Object.keys(after).filter((n) => !n.startsWith('decoder.'))) assert.deepEqual(after[name]!.data, before[name]!.data, `${name} is frozen`);
    assert.ok(Object.keys(after).some((n) => n.startsWith('decoder.head.')));
  } finally {
    trained.dispose();
    base.dispose();
  }
});

test('train --init DIR --deepen-decoder-trunk --decoder-only: the new units train from the identity; the codes stay the same', async () => {
  const source = path.join(root, 'runA', 'model');
  const trunk = { channels: 8, blocks: 2, kernelSize: 3 };
  const withTrunk = await train(CONFIG, options(path.join(root, 'decoder-trunk'), { steps: 1, initFrom: source, addDecoderTrunk: trunk }), false);
  const trunkDir = path.join(root, 'decoder-trunk-model');
  await withTrunk.save(trunkDir);
  const deeper = await train(CONFIG, options(path.join(root, 'decoder-trunk-deeper'), { steps: 2, initFrom: trunkDir, deepenDecoderTrunk: 2, decoderOnly: true }), false);
  try {
    assert.deepEqual(deeper.config.decoderTrunk, { ...trunk, blocks: 4 });
    const after = deeper.model.inferenceArrays();
    assert.ok(after['decoder.trunk.unit3.pointwise.w']!.data.some((v) => v !== 0), 'a new unit, zero at first, has trained');
    const before = withTrunk.model.inferenceArrays();
    for (const name of Object.keys(after).filter((n) => !n.startsWith('decoder.'))) assert.deepEqual(after[name]!.data, before[name]!.data, `${name} is frozen`);
  } finally {
    withTrunk.dispose();
    deeper.dispose();
  }
});

test('train --init DIR --add-encoder-trunk: the grown encoder trains from the saved weights; growing twice is refused', async () => {
  const source = path.join(root, 'runA', 'model');
  const run = path.join(root, 'encoder-trunk');
  const trunk = { channels: 8, blocks: 2, kernelSize: 3 };
  const trained = await train(CONFIG, options(run, { steps: 2, initFrom: source, addEncoderTrunk: trunk }), false);
  const base = await Codec.load(source);
  try {
    assert.deepEqual(trained.config.encoderTrunk, trunk);
    const after = trained.model.inferenceArrays();
    const out = after['encoder.trunk.out.w']!.data;
    assert.ok(out.some((v) => v !== 0), 'the trunk, zero at first, has trained');
    await trained.save(path.join(root, 'encoder-trunk-model'));
    await assert.rejects(
      train(CONFIG, options(path.join(root, 'encoder-trunk-twice'), { steps: 1, initFrom: path.join(root, 'encoder-trunk-model'), addEncoderTrunk: trunk }), false),
      isVqcodecError(/already has an encoder trunk/),
    );
  } finally {
    trained.dispose();
    base.dispose();
  }
});
