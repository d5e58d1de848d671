/**
 * Token exports for sequence models (src/tokens/export.ts, npy.ts, delayPattern.ts): the .npy
 * format, MusicGen's delay pattern, sharding, and export → read back → decode equals decoding
 * the codec's own tokens, for both formats; a resumed export skips what its index lists.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../src/backend.js';
import { loadAudio } from '../src/audio/load.js';
import { Codec } from '../src/codec.js';
import { VqcodecError } from '../src/errors.js';
import { makeConfig, PRESETS } from '../src/model/config.js';
import { FIXTURES } from '../src/paths.js';
import { codebookStreams, delayPattern, frameMajor, undelayPattern } from '../src/tokens/delayPattern.js';
import { codesFromLine, codesFromNpy, exportTokens, fileIds, parseShard, readIndex, shardFiles, type TokenLine } from '../src/tokens/export.js';
import { decodeNpy, encodeNpy } from '../src/tokens/npy.js';

let root: string;
let codec: Codec;
let files: string[];

before(async () => {
  await initBackend('wasm');
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-tokens-'));
  codec = Codec.create(makeConfig(PRESETS.tiny), 5);
  await fs.mkdir(path.join(root, 'audio', 'sub'), { recursive: true });
  files = [path.join(root, 'audio', 'a.wav'), path.join(root, 'audio', 'sub', 'b.ogg')];
  await fs.copyFile(path.join(FIXTURES, 'speech.wav'), files[0]);
  await fs.copyFile(path.join(FIXTURES, 'speech.ogg'), files[1]);
});

after(async () => {
  codec?.dispose();
  if (root) await fs.rm(root, { recursive: true, force: true });
});

function isVqcodecError(pattern: RegExp) {
  return (err: unknown) => err instanceof VqcodecError && !err.message.includes('\n') && pattern.test(err.message);
}

test('npy round-trips int16, int32 and float32 arrays, with the header padded to 64 bytes', () => {
  for (const [dtype, data] of [['int16', Int16Array.from([0, -1, 32767, 5, 6, 7])], ['int32', Int32Array.from([70000, -2, 3, 4, 5, 6])], ['float32', Float32Array.from([0.5, -1, 2, 3, 4, 5])]] as const) {
    const bytes = encodeNpy({ dtype, shape: [2, 3], data });
    assert.equal((10 + new DataView(bytes.buffer).getUint16(8, true)) % 64, 0);
    const back = decodeNpy(bytes);
    assert.equal(back.dtype, dtype);
    assert.deepEqual(back.shape, [2, 3]);
    assert.deepEqual(Array.from(back.data), Array.from(data));
  }
  const good = encodeNpy({ dtype: 'int16', shape: [2, 2], data: Int16Array.from([1, 2, 3, 4]) });
  assert.throws(() => decodeNpy(good.subarray(0, good.length - 1)), isVqcodecError(/needs 8/));
  assert.throws(() => decodeNpy(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])), isVqcodecError(/bad magic/));
  assert.throws(() => encodeNpy({ dtype: 'int16', shape: [3, 3], data: new Int16Array(4) }), isVqcodecError(/needs 9/));
});

test('the delay pattern shifts codebook q by q frames, pads, and undoes exactly', () => {
  const streams = [Int32Array.from([1, 2, 3]), Int32Array.from([4, 5, 6]), Int32Array.from([7, 8, 9])];
  const delayed = delayPattern(streams, -1);
  assert.deepEqual(delayed.map((s) => Array.from(s)), [[1, 2, 3, -1, -1], [-1, 4, 5, 6, -1], [-1, -1, 7, 8, 9]]);
  assert.deepEqual(undelayPattern(delayed).map((s) => Array.from(s)), streams.map((s) => Array.from(s)));
  const codes = Int32Array.from([1, 4, 7, 2, 5, 8, 3, 6, 9]);
  assert.deepEqual(codebookStreams(codes, 3).map((s) => Array.from(s)), streams.map((s) => Array.from(s)));
  assert.deepEqual(Array.from(frameMajor(streams)), Array.from(codes));
});

test('shards write their own index and tokens files, which readIndex reads together', async () => {
  const out = path.join(root, 'shards');
  for (const k of [0, 1]) await exportTokens(codec, files, { outDir: out, format: 'jsonl', shard: { index: k, count: 2 } });
  assert.deepEqual((await fs.readdir(out)).sort(), ['index.0-of-2.jsonl', 'index.1-of-2.jsonl', 'tokens.0-of-2.jsonl', 'tokens.1-of-2.jsonl']);
  assert.deepEqual((await readIndex(out)).map((e) => e.id), ['a', 'sub/b']);
});

test('shards partition the files; ids are paths under the shared folder without extension', () => {
  const items = Array.from({ length: 10 }, (_, i) => i);
  const shards = [0, 1, 2].map((k) => shardFiles(items, parseShard(`${k}/3`)));
  assert.deepEqual(shards, [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]);
  assert.throws(() => parseShard('3/3'), isVqcodecError(/0 ≤ k < n/));
  assert.throws(() => parseShard('a/b'), isVqcodecError(/k\/n/));
  assert.deepEqual(fileIds(files), ['a', 'sub/b']);
  assert.throws(() => fileIds(['/x/a.wav', '/x/a.ogg']), isVqcodecError(/share the id 'a'/));
});

test('npy and jsonl exports read back to the codes that decode like the codec\'s own tokens', async () => {
  for (const format of ['npy', 'jsonl'] as const) {
    const out = path.join(root, `export-${format}`);
    const result = await exportTokens(codec, files, { outDir: out, format, numCodebooks: 2 });
    assert.deepEqual(result, { written: 2, skipped: 0 });
    const index = await readIndex(out);
    assert.deepEqual(index.map((e) => e.id), ['a', 'sub/b']);
    const lines = format === 'jsonl' ? (await fs.readFile(path.join(out, 'tokens.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as TokenLine) : [];
    for (const [i, entry] of index.entries()) {
      assert.equal(entry.fingerprint, codec.fingerprint);
      assert.equal(entry.frameRate, codec.frameRate);
      const audio = await loadAudio(files[i], codec.sampleRate);
      const direct = codec.encode(audio.samples, { numCodebooks: 2 });
      const read = format === 'npy' ? codesFromNpy(await fs.readFile(path.join(out, entry.output))) : codesFromLine(lines[i]);
      assert.equal(read.numCodebooks, 2);
      assert.equal(read.frames, direct.frames);
      assert.equal(entry.frames, direct.frames);
      assert.deepEqual(Array.from(read.codes), Array.from(direct.codes), `${format} ${entry.id}: same codes`);
      const decoded = codec.decode({ ...direct, codes: read.codes });
      assert.deepEqual(decoded, codec.decode(direct), `${format} ${entry.id}: same audio`);
    }
    // A second run finds everything done.
    assert.deepEqual(await exportTokens(codec, files, { outDir: out, format, numCodebooks: 2 }), { written: 0, skipped: 2 });
    assert.equal((await readIndex(out)).length, 2);
  }
});

test('an export resumes after a kill: a cut index line is redone, another model\'s folder is refused', async () => {
  const out = path.join(root, 'resume');
  await exportTokens(codec, files, { outDir: out, format: 'jsonl' });
  // As if killed while writing the second index line.
  const indexPath = path.join(out, 'index.jsonl');
  const text = await fs.readFile(indexPath, 'utf8');
  const [first] = text.split('\n');
  await fs.writeFile(indexPath, first + '\n' + '{"id":"sub/b","sou');
  assert.deepEqual(await exportTokens(codec, files, { outDir: out, format: 'jsonl' }), { written: 1, skipped: 1 });
  const lines = (await fs.readFile(path.join(out, 'tokens.jsonl'), 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as TokenLine).id);
  assert.deepEqual(lines, ['a', 'sub/b'], 'no duplicate line');
  assert.deepEqual((await readIndex(out)).map((e) => e.id), ['a', 'sub/b'], 'the index is whole again');
  const other = Codec.create(makeConfig(PRESETS.tiny), 6);
  await assert.rejects(exportTokens(other, files, { outDir: out, format: 'jsonl' }), isVqcodecError(/holds tokens of model/));
  other.dispose();
});
