import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VqcodecError } from '../src/errors.js';
import { CropSampler, evenlySpaced, listAudio } from '../src/train/data.js';
import { Random } from '../src/train/random.js';

test('a manifest gives train, valid and test lists, paths relative to it; bad lines are rejected', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-data-'));
  try {
    const manifest = path.join(dir, 'manifest.jsonl');
    const lines = [
      { path: 'a.wav', split: 'train' },
      { path: 'sub/b.wav', split: 'valid' },
      { path: 'c.wav', split: 'test' },
      { path: 'd.wav' },
    ];
    await fs.writeFile(manifest, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const lists = await listAudio(manifest);
    assert.deepEqual(lists.train, [path.join(dir, 'a.wav'), path.join(dir, 'd.wav')]);
    assert.deepEqual(lists.valid, [path.join(dir, 'sub/b.wav')]);
    assert.deepEqual(lists.test, [path.join(dir, 'c.wav')]);
    await fs.writeFile(manifest, '{"path": "a.wav"}\nnot json\n');
    await assert.rejects(listAudio(manifest), (e: Error) => e instanceof VqcodecError && /:2 is not a JSON object/.test(e.message));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('manifest paths: relative ones resolve under the manifest’s folder (not the working directory), absolute ones stay', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-data-'));
  try {
    const manifest = path.join(dir, 'lists', 'manifest.jsonl');
    await fs.mkdir(path.dirname(manifest));
    const elsewhere = path.join(os.tmpdir(), 'elsewhere', 'x.wav');
    const lines = [{ path: 'a.wav' }, { path: './sub/b.wav' }, { path: '../audio/c.wav' }, { path: elsewhere }];
    await fs.writeFile(manifest, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const expected = [path.join(dir, 'lists', 'a.wav'), path.join(dir, 'lists', 'sub', 'b.wav'), path.join(dir, 'audio', 'c.wav'), elsewhere];
    assert.deepEqual((await listAudio(manifest)).train, expected);
    // Named relative to the working directory, the manifest still anchors its own paths.
    assert.deepEqual((await listAudio(path.relative(process.cwd(), manifest))).train, expected);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('a folder is split by a hash of each path (stable), and a small folder still gets a validation file', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-data-'));
  try {
    for (const name of ['x.wav', 'y.ogg', 'z.flac', 'notes.txt']) await fs.writeFile(path.join(dir, name), '');
    const first = await listAudio(dir);
    const again = await listAudio(dir);
    assert.deepEqual(first, again);
    assert.equal(first.train.length + first.valid.length, 3, 'audio files only');
    assert.ok(first.valid.length >= 1);
    assert.ok(first.valid.every((f) => !first.train.includes(f)), 'train and valid are disjoint');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('crops have the asked length, come from the clips, and are drawn in proportion to clip length', () => {
  const long = new Float32Array(30000).fill(1);
  const short = new Float32Array(10000).fill(2);
  const tiny = new Float32Array(100).fill(3);
  const sampler = new CropSampler([
    { path: 'long', samples: long },
    { path: 'short', samples: short },
    { path: 'tiny', samples: tiny },
  ]);
  const random = new Random(3);
  const counts = new Map<number, number>();
  for (let i = 0; i < 400; i++) {
    const crop = sampler.sample(1, 1000, random);
    assert.equal(crop.length, 1000);
    const value = Math.max(...crop);
    counts.set(value, (counts.get(value) ?? 0) + 1);
    // A clip shorter than the crop sits whole inside silence.
    if (value === 3) assert.equal(crop.filter((v) => v === 3).length, 100);
  }
  const share = (v: number) => (counts.get(v) ?? 0) / 400;
  assert.ok(Math.abs(share(1) - 30000 / 40100) < 0.08, `long clip share ${share(1)}`);
  assert.ok(Math.abs(share(2) - 10000 / 40100) < 0.08, `short clip share ${share(2)}`);
});

test('evenlySpaced picks n items across the whole list, first included, and all of a short list', () => {
  const sources = [...Array(30).fill('a'), ...Array(60).fill('b'), ...Array(10).fill('c')].map((s, i) => `${s}${i}`);
  const picked = evenlySpaced(sources, 10);
  assert.equal(picked.length, 10);
  assert.equal(picked[0], 'a0');
  assert.equal(new Set(picked).size, 10, 'no item twice');
  // Each source gets its share: 3 of a, 6 of b, 1 of c.
  assert.deepEqual(['a', 'b', 'c'].map((s) => picked.filter((p) => p.startsWith(s)).length), [3, 6, 1]);
  assert.deepEqual(evenlySpaced(['x', 'y'], 5), ['x', 'y']);
  assert.throws(() => evenlySpaced(sources, 0), VqcodecError);
});
