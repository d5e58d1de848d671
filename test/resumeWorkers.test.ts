/** `vqcodec train --resume` keeps the run's own workers unless --workers is given again. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { initBackend } from '../src/backend.js';
import { withInitRun } from './support/initRun.js';

before(async () => {
  await initBackend('wasm');
});

const savedWorkers = async (run: string): Promise<unknown> => JSON.parse(await fs.readFile(path.join(run, 'train.json'), 'utf8')).options.workers;

test('a run started with --workers 1 resumes with 1 worker; --workers on resume replaces it', async () => {
  await withInitRun([], async ({ run, resume }) => {
    assert.equal(await savedWorkers(run), 1);
    const kept = resume(['--steps', '3', '--log-every', '1']);
    assert.equal(kept.status, 0, kept.stderr);
    assert.equal(await savedWorkers(run), 1, 'resume without --workers keeps the run\'s');
    const changed = resume(['--steps', '4', '--log-every', '1', '--workers', '2']);
    assert.equal(changed.status, 0, changed.stderr);
    assert.equal(await savedWorkers(run), 2);
  });
});
