/**
 * Golden values for a tiny training run (src/train/trainer.ts) with the shipped model's quantizer
 * settings (EMA codebooks, k-means init, split restarts at threshold 0.1; a fast EMA decay so
 * that codes die and restart within a few steps): 3 steps, a checkpoint, a resume to step 6.
 * Every logged figure, both checkpoints' arrays and the exported model's fingerprint are those
 * commit 69fe935 computed (cpu backend, one worker), so a checkpoint written before a refactoring
 * resumes with the numbers the old code gave. Regenerate only at a commit whose behaviour is trusted.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../src/backend.js';
import { readBundle } from '../src/io/bundleFs.js';
import { DEFAULT_QUANTIZER_TRAINING, makeConfig, PRESETS } from '../src/model/config.js';
import type { NamedArrays } from '../src/model/params.js';
import { FIXTURES } from '../src/paths.js';
import { DEFAULT_TRAIN_OPTIONS, readLog, train, type StepLog, type TrainOptions } from '../src/train/trainer.js';

const CONFIG = makeConfig(PRESETS.tiny);
/** The shipped model's quantizer training, with a fast decay so codes restart within a few steps. */
const QUANTIZER = { ...DEFAULT_QUANTIZER_TRAINING, restart: 'split' as const, deadCodeThreshold: 0.1, emaDecay: 0.5 };

const GOLDEN = {
  /** Total loss of steps 1–6. */
  totals: [6.512977123260498, 4.797506332397461, 5.718033313751221, 6.256752967834473, 4.771565914154053, 7.088671684265137],
  /** sha256 of every logged figure but the timings. */
  log: '04e5708511843967deea2e9d26069711',
  step3: '0789d1a0954d8a75c49967ad1a64318e',
  step6: '218f6a6f9d1da74b7ca744fed404f1b7',
  // 92963828ff708ff6 before the quantizer's training settings left config.json (the same weights).
  fingerprint: '7e1c7accccfc8b55',
};

let root: string;

before(async () => {
  await initBackend('cpu');
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-golden-'));
});

after(async () => {
  if (root) await fs.rm(root, { recursive: true, force: true });
});

function options(data: string, outDir: string, steps: number): TrainOptions {
  return {
    ...DEFAULT_TRAIN_OPTIONS,
    data,
    outDir,
    steps,
    batchSize: 2,
    cropSeconds: 0.2,
    stftWindows: [64, 128, 256],
    logEvery: 1,
    validateEvery: 1000,
    checkpointEvery: 3,
    validClips: 0,
    seed: 3,
    workers: 1,
    quantizer: QUANTIZER,
  };
}

/** sha256 over the arrays in name order. */
function digest(arrays: NamedArrays): string {
  const hash = createHash('sha256');
  for (const name of Object.keys(arrays).sort()) {
    const { data } = arrays[name];
    hash.update(name);
    hash.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return hash.digest('hex').slice(0, 32);
}

test('golden: 3 steps, checkpoint, resume to 6 (shipped quantizer settings)', async () => {
  const data = path.join(root, 'data');
  await fs.mkdir(data);
  for (const f of ['speech.wav', 'speech.ogg']) await fs.copyFile(path.join(FIXTURES, f), path.join(data, f));
  const run = path.join(root, 'run');
  (await train(CONFIG, options(data, run, 3), false)).dispose();
  const step3 = digest((await readBundle(path.join(run, 'checkpoint.bin'))).arrays);
  const codec = await train(CONFIG, options(data, run, 6), true);
  const fingerprint = codec.fingerprint;
  codec.dispose();
  const step6 = digest((await readBundle(path.join(run, 'checkpoint.bin'))).arrays);
  const entries = (await readLog(run)).filter((e): e is StepLog => e.type === 'train');
  const figures = entries.map((e) => ({ ...e, elapsedSeconds: 0, audioSecondsPerSecond: 0 }));
  const log = createHash('sha256').update(JSON.stringify(figures)).digest('hex').slice(0, 32);
  assert.deepEqual(
    { totals: entries.map((e) => e.total), log, step3, step6, fingerprint },
    GOLDEN,
  );
});
