/**
 * `vqcodec play`: without a sound card it says so in one line and exits 1; into a null sink
 * (VQCODEC_AUDIO_SINK=none) --compare plays the original and each bitrate in turn, in real
 * time, naming each as it starts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeWav } from '../src/audio/wav.js';
import { PACKAGE_ROOT } from '../src/paths.js';

const BIN = path.join(PACKAGE_ROOT, 'bin', 'vqcodec.js');
let dir: string;
let clip: string;
const SECONDS = 0.4;

function play(env: Record<string, string>, ...args: string[]) {
  const started = Date.now();
  const r = spawnSync(process.execPath, [BIN, 'play', ...args], { cwd: PACKAGE_ROOT, env: { ...process.env, VQCODEC_BACKEND: 'wasm', ...env }, encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw r.error;
  return { ...r, seconds: (Date.now() - started) / 1000 };
}

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-play-'));
  clip = path.join(dir, 'tone.wav');
  const rate = 16000;
  const samples = Float32Array.from({ length: SECONDS * rate }, (_, i) => 0.3 * Math.sin((2 * Math.PI * 220 * i) / rate) * (1 + Math.sin(i / 400)));
  await fs.writeFile(clip, encodeWav(samples, rate));
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

test('with no audio device, play says so in one line and exits 1', { skip: existsSync('/dev/snd') ? 'this machine has a sound card' : false }, () => {
  const r = play({}, clip);
  assert.equal(r.status, 1);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^vqcodec: no audio output device/);
});

test('--compare plays the original, then 1, 2, 4 and 8 codebooks, in real time', () => {
  const r = play({ VQCODEC_AUDIO_SINK: 'none' }, clip, '--compare', '-q');
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.deepEqual(
    lines.map((l) => l.replace(/,.*$/, '')),
    ['playing 1/5: original', 'playing 2/5: 1 codebook', 'playing 3/5: 2 codebooks', 'playing 4/5: 4 codebooks', 'playing 5/5: 8 codebooks'],
  );
  assert.match(lines[2]!, /^playing 3\/5: 2 codebooks, \d+\.\d+ kbps$/);
  assert.ok(r.seconds >= 5 * SECONDS, `5 clips of ${SECONDS} s played in ${r.seconds} s`);
});
