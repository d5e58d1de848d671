/**
 * Token exports of a tiny-multirate codec's tokens (src/tokens/export.ts, exportArrays.ts): npy
 * writes one <id>.L<level>.npy per level of stored codes, jsonl stored codes and codeStrides; both
 * read back to the dense grid with its strides (which decodes as the codec's own tokens); the
 * index lists strides and levels; a resumed export skips what is whole and redoes a file whose
 * level is missing; single-rate exports keep one <id>.npy; entropy fit on such an export counts
 * stored codes only, entropy measure reports bits per stored code, and a prior trained on the
 * export continues a prompt through vqcodec generate.
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
import { VqcodecError } from '../src/errors.js';
import { makeConfig, PRESETS } from '../src/model/config.js';
import { FIXTURES } from '../src/paths.js';
import { DEFAULT_PRIOR_OPTIONS, trainPrior } from '../src/prior/trainer.js';
import { firstUnrepeatedCode, fromStreams } from '../src/tokens/codeStrides.js';
import { codesFromLevelNpys, codesFromLine, exportTokens, readIndex, readTokenExport, tokenLine, tokensToLevelNpys, type TokenLine } from '../src/tokens/export.js';
import { decodeNpy } from '../src/tokens/npy.js';
import type { Tokens } from '../src/types.js';

let root: string;
let codec: Codec;
let files: string[];

before(async () => {
  await initBackend('wasm');
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-mr-tokens-'));
  codec = Codec.create(makeConfig(PRESETS['tiny-multirate']), 5);
  await fs.mkdir(path.join(root, 'audio', 'sub'), { recursive: true });
  files = [path.join(root, 'audio', 'a.wav'), path.join(root, 'audio', 'sub', 'b.ogg')];
  await fs.copyFile(path.join(FIXTURES, 'speech.wav'), files[0]!);
  await fs.copyFile(path.join(FIXTURES, 'speech.ogg'), files[1]!);
});

after(async () => {
  codec?.dispose();
  if (root) await fs.rm(root, { recursive: true, force: true });
});

async function direct(i: number, numCodebooks?: number): Promise<Tokens> {
  return codec.encode((await loadAudio(files[i]!, codec.sampleRate)).samples, { numCodebooks });
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
  const oneLine = (pattern: RegExp) => (e: unknown) => e instanceof VqcodecError && !e.message.includes('\n') && pattern.test(e.message);
  assert.throws(() => codesFromLevelNpys(npys.map((bytes, l) => ({ bytes, name: `x.L${l}.npy` })), 9, strides), oneLine(/x\.L0\.npy: level 0 of 9 frames is \[1, 3\], not \[1, 2\]/));
  assert.throws(() => codesFromLine({ ...line, codes: [[1], ...line.codes.slice(1)] }), oneLine(/codebook 0 of stride 4 over 7 frames holds 2 codes, not 1/));
  assert.throws(() => codesFromLine({ ...line, codeStrides: [1, 2, 4] }), oneLine(/non-increasing/));
});

test('npy and jsonl exports of multi-rate tokens read back to the dense codes with their strides, and resume', async () => {
  for (const format of ['npy', 'jsonl'] as const) {
    const out = path.join(root, `export-${format}`);
    assert.deepEqual(await exportTokens(codec, files, { outDir: out, format }), { written: 2, skipped: 0 });
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
      assert.deepEqual(tokens.codeStrides, [4, 2, 1], 'the codec codes multi-rate tokens');
      assert.deepEqual(codec.decode({ ...tokens, codes: data.codes[i]!, codeStrides: data.codeStrides }), codec.decode(tokens), `${format} ${entry.id}: the same audio`);
      assert.equal(data.codebooks[i], 3);
      if (format === 'npy') {
        for (const [l, n] of frames.entries()) assert.deepEqual(decodeNpy(await fs.readFile(path.join(out, `${entry.id}.L${l}.npy`))).shape, [1, n]);
      } else {
        const line = (await fs.readFile(path.join(out, 'tokens.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as TokenLine)[i]!;
        assert.deepEqual(line.codeStrides, [4, 2, 1]);
        assert.deepEqual(line.codes.map((c) => c.length), frames);
      }
    }
    assert.deepEqual(await exportTokens(codec, files, { outDir: out, format }), { written: 0, skipped: 2 });
  }
  // A level's file gone (a kill between two level files): that file is redone.
  const out = path.join(root, 'export-npy');
  await fs.rm(path.join(out, 'sub', 'b.L2.npy'));
  assert.deepEqual(await exportTokens(codec, files, { outDir: out, format: 'npy' }), { written: 1, skipped: 1 });
  assert.deepEqual((await readTokenExport(out)).codes[1], (await direct(1)).codes);
});

test('fewer codebooks export a prefix of the strides, one file per level; the coarse codebook alone is still multi-rate', async () => {
  for (const [n, strides] of [[2, [4, 2]], [1, [4]]] as const) {
    const out = path.join(root, `export-${n}`);
    await exportTokens(codec, files, { outDir: out, format: 'npy', numCodebooks: n });
    const data = await readTokenExport(out);
    assert.deepEqual(data.codeStrides, strides);
    assert.deepEqual(data.codes[0], (await direct(0, n)).codes);
    assert.deepEqual((await fs.readdir(out)).sort(), [...strides.map((_, l) => `a.L${l}.npy`), 'index.jsonl', 'sub']);
  }
});

test('single-rate exports are as before: one <id>.npy, no strides in the index or lines', async () => {
  const plain = Codec.create(makeConfig(PRESETS.tiny), 5);
  for (const format of ['npy', 'jsonl'] as const) {
    const out = path.join(root, `plain-${format}`);
    await exportTokens(plain, files, { outDir: out, format, numCodebooks: 2 });
    const [entry] = await readIndex(out);
    assert.deepEqual(Object.keys(entry!).sort(), ['codebookSize', 'fingerprint', 'frameRate', 'frames', 'id', 'numCodebooks', 'output', 'sampleRate', 'seconds', 'source']);
    assert.equal(entry!.output, format === 'npy' ? 'a.npy' : 'tokens.jsonl');
    if (format === 'jsonl') assert.deepEqual(Object.keys(JSON.parse((await fs.readFile(path.join(out, 'tokens.jsonl'), 'utf8')).split('\n')[0]!)), ['id', 'frames', 'codes']);
    assert.equal((await readTokenExport(out)).codeStrides, undefined);
  }
  plain.dispose();
});

test('entropy fit on a multi-rate export counts each file\'s stored codes', async () => {
  const out = path.join(root, 'export-npy');
  const file = path.join(root, 'context-model.bin');
  await entropyFitCommand({ tokens: out, out: file, quiet: true });
  const data = await readTokenExport(out);
  const settings = { ...DEFAULT_CONTEXT_SETTINGS, contextCodebooks: 2 };
  const stored = ContextModel.fit(data.codes.map((codes) => ({ codes, numCodebooks: 3, codeStrides: [4, 2, 1] })), codec.fingerprint, 16, 3, settings);
  assert.deepEqual(new Uint8Array(await fs.readFile(file)), stored.serialize());
  const everyFrame = ContextModel.fit(data.codes.map((codes) => ({ codes, numCodebooks: 3 })), codec.fingerprint, 16, 3, settings);
  assert.notDeepEqual(stored.serialize(), everyFrame.serialize());
});

test('entropy measure on a multi-rate export: bits per stored code, the file coder\'s costs equal the context model\'s cross-entropy', async () => {
  const tokens = path.join(root, 'export-npy');
  const model = path.join(root, 'model');
  await codec.save(model);
  await entropyFitCommand({ tokens, out: path.join(model, 'context-model.bin'), quiet: true });
  const printed: string[] = [];
  const log = console.log;
  console.log = (text: string) => printed.push(text);
  try {
    await entropyMeasureCommand({ model, tokens, json: true, quiet: true, backend: 'wasm', codebooks: '3' });
  } finally {
    console.log = log;
  }
  const report = JSON.parse(printed.join('\n')) as { perCodebook: { none: number; context: number }[] };
  const data = await readTokenExport(tokens);
  const fitted = ContextModel.parse(await fs.readFile(path.join(model, 'context-model.bin')));
  const expected = fitted.crossEntropy(data.codes.map((codes) => ({ codes, numCodebooks: 3, codeStrides: [4, 2, 1] })));
  assert.deepEqual(report.perCodebook.map((r) => r.none), [4, 4, 4], 'bit-packed: log2 16 bits per stored code');
  report.perCodebook.forEach((r, q) => assert.ok(Math.abs(r.context - expected[q]!) < 1e-9, `codebook ${q}: measured ${r.context}, cross-entropy ${expected[q]}`));
});

test('prior train and generate on a tiny-multirate codec: a prompt continued, decoded at the codec\'s strides', async () => {
  const model = path.join(root, 'model'); // saved by the test before
  const run = path.join(root, 'prior-run');
  const prior = await trainPrior({ ...DEFAULT_PRIOR_OPTIONS, tokens: path.join(root, 'export-npy'), outDir: run, steps: 2, batchSize: 2, model: { numCodebooks: 3, width: 16, layers: 1, heads: 2, context: 16 }, logEvery: 1, validateEvery: 2, checkpointEvery: 2 }, false);
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
  const generated = await loadAudio(out, codec.sampleRate);
  assert.equal(generated.samples.length, (prompt.frames + Math.round(0.2 * codec.frameRate)) * codec.hop);
});
