/** A `vqcodec train --init` run of a few steps on a saved tiny model, for the tests of the flags that reshape it (no tests here). */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Codec } from '../../src/codec.js';
import { makeConfig, PRESETS } from '../../src/model/config.js';
import { FIXTURES, PACKAGE_ROOT } from '../../src/paths.js';

export interface InitRun {
  /** The tiny model the run started from (the caller disposes it). */
  saved: Codec;
  /** What the run wrote (the caller disposes it). */
  trained: Codec;
  /** The run folder (log.jsonl, checkpoint.bin, model/). */
  run: string;
  /** `vqcodec train --resume` on the run with these extra arguments. */
  resume(extra: string[]): SpawnSyncReturns<string>;
}

/** Saves a tiny model, trains 2 steps from it with `flags` on the speech fixture, and hands both models to `body`; the temp folder goes afterwards. */
export async function withInitRun(flags: string[], body: (r: InitRun) => Promise<void> | void): Promise<void> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-init-'));
  const bin = path.join(PACKAGE_ROOT, 'bin', 'vqcodec.js');
  const data = path.join(root, 'data');
  const run = path.join(root, 'run');
  const saved = Codec.create(makeConfig(PRESETS.tiny!), 4);
  try {
    await saved.save(path.join(root, 'saved'));
    await fs.mkdir(data);
    await fs.copyFile(path.join(FIXTURES, 'speech.wav'), path.join(data, 'speech.wav'));
    const common = ['--steps', '2', '--batch', '2', '--crop', '0.2', '--stft', '64,128,256', '--workers', '1', '--validate-every', '1000', '--log-every', '1'];
    const r = spawnSync(process.execPath, [bin, '-q', 'train', '-d', data, '-o', run, '--init', path.join(root, 'saved'), ...flags, ...common], {
      encoding: 'utf8',
      env: { ...process.env, VQCODEC_BACKEND: 'wasm' },
    });
    assert.equal(r.status, 0, r.stderr);
    const trained = await Codec.load(path.join(run, 'model'));
    try {
      await body({ saved, trained, run, resume: (extra) => spawnSync(process.execPath, [bin, '-q', 'train', '-d', data, '-o', run, '--resume', ...extra], { encoding: 'utf8' }) });
    } finally {
      trained.dispose();
    }
  } finally {
    saved.dispose();
    await fs.rm(root, { recursive: true, force: true });
  }
}
