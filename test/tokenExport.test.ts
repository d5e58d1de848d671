/**
 * Token exports for sequence models (src/tokens/export.ts, exportArrays.ts, npy.ts,
 * delayPattern.ts): the .npy format, MusicGen's delay pattern, sharding, and export → read back →
 * decode equals decoding the codec's own tokens, for both formats; a resumed export skips what its
 * index lists. Multi-rate tokens (a tiny-multirate codec's): npy writes one <id>.L<level>.npy per
 * level of stored codes, jsonl stored codes and codeStrides; both read back to the dense grid;
 * the index lists strides and levels; a file whose level is missing is redone; single-rate exports
 * keep one <id>.npy; entropy fit and measure count stored codes, and a prior trained on the export
 * continues a prompt through vqcodec generate.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../src/backend.js';
import { loadAudio } from '../src/audio/load.js';
import { entropyFitCommand, entropyMeasureCommand } from '../src/cli/entropy.js';
import { generateCommand } from '../src/cli/prior.js';
import { Codec } from '../src/codec.js';
import { ContextModel, DEFAULT_CONTEXT_SETTINGS } from '../src/entropy/contextModel.js';
import { makeConfig, PRESETS } from '../src/model/config.js';
import { FIXTURES } from '../src/paths.js';
import { DEFAULT_PRIOR_OPTIONS, trainPrior } from '../src/prior/trainer.js';
import { firstUnrepeatedCode, fromStreams } from '../src/tokens/codeStrides.js';
import { codebookStreams, delayPattern, frameMajor, undelayPattern } from '../src/tokens/delayPattern.js';
import { codesFromLevelNpys, codesFromLine, codesFromNpy, exportTokens, fileIds, parseShard, readIndex, readTokenExport, shardFiles, tokenLine, tokensToLevelNpys, type TokenLine } from '../src/tokens/export.js';
import { decodeNpy, encodeNpy } from '../src/tokens/npy.js';
import type { Tokens } from '../src/types.js';
import { isVqcodecError } from './support/errors.js';

let root: string;
let codec: Codec;
let multiRate: Codec;
let files: string[];

before(async () => {
  await initBackend('wasm');
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-tokens-'));
  codec = Codec.create(makeConfig(PRESETS.tiny), 5);
  multiRate = Codec.create(makeConfig(PRESETS['tiny-multirate']), 5);
  await fs.mkdir(path.join(root, 'audio', 'sub'), { recursive: true });
  files = [path.join(root, 'audio', 'a.wav'), path.join(root, 'audio', 'sub', 'b.ogg')];
  await fs.copyFile(path.join(FIXTURES, 'speech.wav'), files[0]);
  await fs.copyFile(path.join(FIXTURES, 'speech.ogg'), files[1]);
});

after(async () => {
  codec?.dispose();
  multiRate?.dispose();
  if (root) await fs.rm(root, { recursive: true, force: true });
});


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

/** File i's tokens straight from the multi-rate codec. */
async function direct(i: number, numCodebooks?: number): Promise<Tokens> {
  return multiRate.encode((await loadAudio(files[i]!, multiRate.sampleRate)).samples, { numCodebooks });
}

test('level arrays and lines hold stored codes and read back to the dense grid, partial windows included', () => {
  // 7 frames of strides [4, 2, 1]: 2, 4 and 7 stored codes; the last windows of the coarse codebooks are partial.
  const strides = [4, 2, 1];
  const codes = fromStreams([[1, 2], [3, 4, 5, 6], [7, 8, 9, 10, 11, 12, 13]], 7, strides);
  const tokens: Tokens = { codes, frames: 7, numCodebooks: 3, codebookSize: 16, hop: 320, sampleRate: 16000, originalLength: 2200, modelFingerprint: '0123456789abcdef', codeStrides: strides };
  const npys = tokensToLevelNpys(tokens);
  assert.deepEqual(npys.map((b) => decodeNpy(b).shape), [[1, 2], [1, 4], [1, 7]]);
  assert.deepEqual(Array.from(decodeNpy(npys[1]!).data), [3, 4, 5, 6]);
  const read = codesFromLevelNpys(npys.map((bytes, l) => ({ bytes, name: `x.L${l}.npy` })), 7, strides);
  assert.deepEqual(read, { codes, numCodebooks: 3, frames: 7, codeStrides: strides });
  const line = tokenLine('x', tokens);
  assert.deepEqual(line, { id: 'x', frames: 7, codes: [[1, 2], [3, 4, 5, 6], [7, 8, 9, 10, 11, 12, 13]], codeStrides: strides });
  assert.deepEqual(codesFromLine(JSON.parse(JSON.stringify(line))), read);
  assert.throws(() => codesFromLevelNpys(npys.map((bytes, l) => ({ bytes, name: `x.L${l}.npy` })), 9, strides), isVqcodecError(/x\.L0\.npy: level 0 of 9 frames is \[1, 3\], not \[1, 2\]/));
  assert.throws(() => codesFromLine({ ...line, codes: [[1], ...line.codes.slice(1)] }), isVqcodecError(/codebook 0 of stride 4 over 7 frames holds 2 codes, not 1/));
  assert.throws(() => codesFromLine({ ...line, codeStrides: [1, 2, 4] }), isVqcodecError(/non-increasing/));
});

test('npy and jsonl exports of multi-rate tokens read back to the dense codes with their strides, and resume', async () => {
  for (const format of ['npy', 'jsonl'] as const) {
    const out = path.join(root, `mr-export-${format}`);
    assert.deepEqual(await exportTokens(multiRate, files, { outDir: out, format }), { written: 2, skipped: 0 });
    if (format === 'npy') assert.deepEqual((await fs.readdir(out)).sort(), ['a.L0.npy', 'a.L1.npy', 'a.L2.npy', 'index.jsonl', 'sub']);
    const index = await readIndex(out);
    const data = await readTokenExport(out);
    assert.deepEqual(data.codeStrides, [4, 2, 1]);
    for (const [i, entry] of index.entries()) {
      const tokens = await direct(i);
      assert.equal(firstUnrepeatedCode(tokens.codes, tokens.frames, [4, 2, 1]), -1);
      assert.deepEqual(entry.codeStrides, [4, 2, 1]);
      const frames = [4, 2, 1].map((s) => Math.ceil(tokens.frames / s));
      assert.deepEqual(entry.levels, [4, 2, 1].map((stride, l) => ({ stride, codebooks: 1, frames: frames[l], ...(format === 'npy' ? { output: `${entry.id}.L${l}.npy` } : {}) })));
      assert.equal(entry.output, format === 'npy' ? `${entry.id}.L0.npy` : 'tokens.jsonl');
      assert.deepEqual(data.codes[i], tokens.codes, `${format} ${entry.id}: the dense grid`);
      assert.deepEqual(tokens.codeStrides, [4, 2, 1], 'the multiRate codes multi-rate tokens');
      assert.deepEqual(multiRate.decode({ ...tokens, codes: data.codes[i]!, codeStrides: data.codeStrides }), multiRate.decode(tokens), `${format} ${entry.id}: the same audio`);
      assert.equal(data.codebooks[i], 3);
      if (format === 'npy') {
        for (const [l, n] of frames.entries()) assert.deepEqual(decodeNpy(await fs.readFile(path.join(out, `${entry.id}.L${l}.npy`))).shape, [1, n]);
      } else {
        const line = (await fs.readFile(path.join(out, 'tokens.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as TokenLine)[i]!;
        assert.deepEqual(line.codeStrides, [4, 2, 1]);
        assert.deepEqual(line.codes.map((c) => c.length), frames);
      }
    }
    assert.deepEqual(await exportTokens(multiRate, files, { outDir: out, format }), { written: 0, skipped: 2 });
  }
  // A level's file gone (a kill between two level files): that file is redone.
  const out = path.join(root, 'mr-export-npy');
  await fs.rm(path.join(out, 'sub', 'b.L2.npy'));
  assert.deepEqual(await exportTokens(multiRate, files, { outDir: out, format: 'npy' }), { written: 1, skipped: 1 });
  assert.deepEqual((await readTokenExport(out)).codes[1], (await direct(1)).codes);
});

test('fewer codebooks export a prefix of the strides, one file per level; the coarse codebook alone is still multi-rate', async () => {
  for (const [n, strides] of [[2, [4, 2]], [1, [4]]] as const) {
    const out = path.join(root, `mr-export-${n}`);
    await exportTokens(multiRate, files, { outDir: out, format: 'npy', numCodebooks: n });
    const data = await readTokenExport(out);
    assert.deepEqual(data.codeStrides, strides);
    assert.deepEqual(data.codes[0], (await direct(0, n)).codes);
    assert.deepEqual((await fs.readdir(out)).sort(), [...strides.map((_, l) => `a.L${l}.npy`), 'index.jsonl', 'sub']);
  }
});

test('single-rate exports are as before: one <id>.npy, no strides in the index or lines', async () => {
  for (const format of ['npy', 'jsonl'] as const) {
    const out = path.join(root, `plain-${format}`);
    await exportTokens(codec, files, { outDir: out, format, numCodebooks: 2 });
    const [entry] = await readIndex(out);
    assert.deepEqual(Object.keys(entry!).sort(), ['codebookSize', 'fingerprint', 'frameRate', 'frames', 'id', 'numCodebooks', 'output', 'sampleRate', 'seconds', 'source']);
    assert.equal(entry!.output, format === 'npy' ? 'a.npy' : 'tokens.jsonl');
    if (format === 'jsonl') assert.deepEqual(Object.keys(JSON.parse((await fs.readFile(path.join(out, 'tokens.jsonl'), 'utf8')).split('\n')[0]!)), ['id', 'frames', 'codes']);
    assert.equal((await readTokenExport(out)).codeStrides, undefined);
  }
});

test('entropy fit on a multi-rate export counts each file\'s stored codes', async () => {
  const out = path.join(root, 'mr-export-npy');
  const file = path.join(root, 'context-model.bin');
  await entropyFitCommand({ tokens: out, out: file, quiet: true });
  const data = await readTokenExport(out);
  const settings = { ...DEFAULT_CONTEXT_SETTINGS, contextCodebooks: 2 };
  const stored = ContextModel.fit(data.codes.map((codes) => ({ codes, numCodebooks: 3, codeStrides: [4, 2, 1] })), multiRate.fingerprint, 16, 3, settings);
  assert.deepEqual(new Uint8Array(await fs.readFile(file)), stored.serialize());
  const everyFrame = ContextModel.fit(data.codes.map((codes) => ({ codes, numCodebooks: 3 })), multiRate.fingerprint, 16, 3, settings);
  assert.notDeepEqual(stored.serialize(), everyFrame.serialize());
});

test('entropy measure on a multi-rate export: bits per stored code, the file coder\'s costs equal the context model\'s cross-entropy', async () => {
  const tokens = path.join(root, 'mr-export-npy');
  const model = path.join(root, 'model');
  await multiRate.save(model);
  await entropyFitCommand({ tokens, out: path.join(model, 'context-model.bin'), quiet: true });
  const printed: string[] = [];
  const log = console.log;
  console.log = (text: string) => printed.push(text);
  try {
    await entropyMeasureCommand({ model, tokens, json: true, quiet: true, backend: 'wasm', codebooks: '3' });
  } finally {
    console.log = log;
  }
  const report = JSON.parse(printed.join('\n')) as { perCodebook: { none: number; context: number; unigramBias: number }[] };
  const data = await readTokenExport(tokens);
  const fitted = ContextModel.parse(await fs.readFile(path.join(model, 'context-model.bin')));
  const expected = fitted.crossEntropy(data.codes.map((codes) => ({ codes, numCodebooks: 3, codeStrides: [4, 2, 1] })));
  assert.deepEqual(report.perCodebook.map((r) => r.none), [4, 4, 4], 'bit-packed: log2 16 bits per stored code');
  report.perCodebook.forEach((r, q) => assert.ok(Math.abs(r.context - expected[q]!) < 1e-9, `codebook ${q}: measured ${r.context}, cross-entropy ${expected[q]}`));
  // The unigram's plug-in bias shrinks with the codes stored: a stride-4 codebook stores about a quarter of a stride-1 one's.
  const [coarse, , fine] = report.perCodebook.map((r) => r.unigramBias);
  assert.ok(fine! > 0 && coarse! / fine! > 3 && coarse! / fine! < 4.5, `bias ${coarse} at stride 4 against ${fine} at stride 1`);
});

test('prior train and generate on a tiny-multirate multiRate: a prompt continued, decoded at the multiRate\'s strides', async () => {
  const model = path.join(root, 'model'); // saved by the test before
  const run = path.join(root, 'prior-run');
  const prior = await trainPrior({ ...DEFAULT_PRIOR_OPTIONS, tokens: path.join(root, 'mr-export-npy'), outDir: run, steps: 2, batchSize: 2, model: { numCodebooks: 3, width: 16, layers: 1, heads: 2, context: 16 }, logEvery: 1, validateEvery: 2, checkpointEvery: 2 }, false);
  assert.deepEqual(prior.config.codeStrides, [4, 2, 1]);
  prior.dispose();
  const out = path.join(root, 'generated.wav');
  const log = console.log;
  console.log = () => {};
  try {
    await generateCommand(out, { model, prior: path.join(run, 'prior'), seconds: '0.2', prompt: files[0], quiet: true, backend: 'wasm' });
  } finally {
    console.log = log;
  }
  const prompt = await direct(0);
  const generated = await loadAudio(out, multiRate.sampleRate);
  assert.equal(generated.samples.length, (prompt.frames + Math.round(0.2 * multiRate.frameRate)) * multiRate.hop);
});
