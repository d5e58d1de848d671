/**
 * The compiled `vqcodec` command (bin/vqcodec.js → dist/src/cli/main.js), spawned as a user
 * would: encode → info → decode, and for every kind of bad input one clear line on stderr,
 * a non-zero exit and no output (or temp) file left behind. Build first: `npx tsc -p .`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../src/backend.js';
import { loadAudio } from '../src/audio/load.js';
import { decodeWav, encodeWav } from '../src/audio/wav.js';
import { Codec } from '../src/codec.js';
import { makeConfig, PRESETS, type CodecConfig } from '../src/model/config.js';
import { tokenFileSize } from '../src/tokens/tokenFile.js';
import { readTokenFile, writeTokenFile } from '../src/tokens/tokenFileFs.js';
import { FIXTURES, PACKAGE_ROOT } from '../src/paths.js';
import { spectrogramFigureSize } from '../src/eval/spectrogramFigure.js';


const ROOT = PACKAGE_ROOT;
const BIN = path.join(ROOT, 'bin', 'vqcodec.js');
const SPEECH_WAV = path.join(FIXTURES, 'speech.wav');
const SPEECH_OGG = path.join(FIXTURES, 'speech.ogg');
const SPEECH_SAMPLES = 57820;
const SPEECH_FRAMES = Math.ceil(SPEECH_SAMPLES / 320);

/** The tiny preset: hop 2·4·5·8 = 320 samples (50 frames/s at 16 kHz), 3 codebooks of 16 entries. */
const CONFIG: CodecConfig = makeConfig(PRESETS.tiny);

let root: string;
/** Inputs made once: models, bad files, a good token file. */
let inputs: string;
let modelDir: string;
let fingerprint: string;
let otherFingerprint: string;
let goodVqt: string;
let otherVqt: string;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function cli(...args: string[]): Run {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, VQCODEC_BACKEND: 'wasm', VQCODEC_DEBUG: '' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

/** Shows what a failed run printed, cut short (a leaked wasm exception prints megabytes of JS). */
function show(r: Run): string {
  const cut = (s: string) => (s.length > 600 ? `${s.slice(0, 600)}… (${s.length} chars)` : s);
  return `exit ${r.status}\n--- stdout\n${cut(r.stdout)}\n--- stderr\n${cut(r.stderr)}`;
}

function assertOk(r: Run): void {
  assert.equal(r.status, 0, show(r));
}

/** Non-zero exit and stderr = exactly one short `vqcodec:` line with no stack trace or source. */
function assertOneLineError(r: Run, pattern?: RegExp): string {
  assert.notEqual(r.status, 0, show(r));
  assert.notEqual(r.status, null, `killed or timed out: ${show(r)}`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one stderr line: ${show(r)}`);
  assert.ok(r.stderr.endsWith('\n'), 'line ends with a newline');
  const line = lines[0];
  assert.ok(line.startsWith('vqcodec: '), show(r));
  assert.ok(line.length < 400, `short line: ${show(r)}`);
  assert.ok(!/\bat .*:\d+:\d+/.test(r.stderr) && !/function\s*\(|=>\s*\{/.test(r.stderr), `no stack or source: ${show(r)}`);
  assert.ok(!line.includes('unexpected error'), `an error meant for the user, not an unexpected one: ${line}`);
  if (pattern) assert.match(line, pattern);
  return line;
}

async function freshDir(name: string): Promise<string> {
  return fs.mkdtemp(path.join(root, `${name}-`));
}

async function assertEmpty(dir: string): Promise<void> {
  assert.deepEqual(await fs.readdir(dir), [], `nothing (not even a temp file) left in ${dir}`);
}

before(async () => {
  assert.ok(
    existsSync(path.join(ROOT, 'dist', 'src', 'cli', 'main.js')),
    'dist/src/cli/main.js is missing: build with `npx tsc -p .` first',
  );
  await initBackend('wasm');
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-'));
  inputs = path.join(root, 'inputs');
  await fs.mkdir(inputs);
  modelDir = path.join(root, 'model');
  const codec = Codec.create(CONFIG, 1);
  const other = Codec.create(CONFIG, 2);
  try {
    await codec.save(modelDir);
    fingerprint = codec.fingerprint;
    otherFingerprint = other.fingerprint;
    const speech = (await loadAudio(SPEECH_WAV, 16000)).samples;
    goodVqt = path.join(inputs, 'good.vqt');
    await writeTokenFile(goodVqt, codec.encode(speech));
    otherVqt = path.join(inputs, 'other.vqt');
    await writeTokenFile(otherVqt, other.encode(speech));
  } finally {
    codec.dispose();
    other.dispose();
  }
  assert.notEqual(fingerprint, otherFingerprint);
});

after(async () => {
  if (root) await fs.rm(root, { recursive: true, force: true });
});

test('encode → info → decode: exact token file size and the original sample count', async (t) => {
  const out = await freshDir('ok');
  const vqt = path.join(out, 'speech.vqt');
  const wav = path.join(out, 'speech.wav');

  const enc = cli('encode', SPEECH_WAV, vqt, '--model', modelDir);
  assertOk(enc);
  t.diagnostic(`encode ${enc.ms} ms`);
  assert.match(enc.stdout, new RegExp(`${SPEECH_FRAMES} frames × 3 codebooks`));
  assert.match(enc.stderr, new RegExp(fingerprint), 'notes name the model');
  const tokens = await readTokenFile(vqt);
  assert.equal((await fs.stat(vqt)).size, tokenFileSize(tokens));
  assert.equal(tokens.frames, SPEECH_FRAMES);
  assert.equal(tokens.modelFingerprint, fingerprint);
  assert.equal(tokens.originalLength, SPEECH_SAMPLES);

  const info = cli('info', vqt);
  assertOk(info);
  assert.match(info.stdout, new RegExp(`model fingerprint:\\s+${fingerprint}`));
  assert.match(info.stdout, new RegExp(`frames:\\s+${SPEECH_FRAMES}\\b`));
  assert.match(info.stdout, /codebooks:\s+3\b/);
  assert.match(info.stdout, /codebook size:\s+16\b/);
  assert.match(info.stdout, /sample rate:\s+16000 Hz/);
  assert.equal(info.stderr, '', 'info needs no backend and prints no notes');

  const dec = cli('decode', vqt, wav, '--model', modelDir);
  assertOk(dec);
  t.diagnostic(`decode ${dec.ms} ms`);
  const decoded = decodeWav(await fs.readFile(wav), wav);
  assert.equal(decoded.sampleRate, 16000);
  assert.equal(decoded.channels.length, 1);
  assert.equal(decoded.channels[0].length, SPEECH_SAMPLES);
  assert.deepEqual((await fs.readdir(out)).sort(), ['speech.vqt', 'speech.wav'], 'no temp files');
});

test('--codebooks 2 writes a smaller token file with 2 codebooks, still decodable', async () => {
  const out = await freshDir('n2');
  const vqt = path.join(out, 'two.vqt');
  assertOk(cli('-q', 'encode', SPEECH_WAV, vqt, '--model', modelDir, '--codebooks', '2'));
  const size = (await fs.stat(vqt)).size;
  const two = await readTokenFile(vqt);
  assert.equal(size, tokenFileSize(two));
  assert.ok(size < tokenFileSize({ ...two, numCodebooks: 3 }));
  assert.equal((await readTokenFile(vqt)).numCodebooks, 2);
  const wav = path.join(out, 'two.wav');
  assertOk(cli('-q', 'decode', vqt, wav, '--model', modelDir));
  assert.equal(decodeWav(await fs.readFile(wav), wav).channels[0].length, SPEECH_SAMPLES);
});

test('a compressed input (speech.ogg) encodes and decodes to its own length', async () => {
  const out = await freshDir('ogg');
  const vqt = path.join(out, 'speech.vqt');
  const wav = path.join(out, 'speech.wav');
  assertOk(cli('-q', 'encode', SPEECH_OGG, vqt, '--model', modelDir));
  const expected = (await loadAudio(SPEECH_OGG, 16000)).samples.length;
  const tokens = await readTokenFile(vqt);
  assert.equal(tokens.originalLength, expected);
  assert.equal((await fs.stat(vqt)).size, tokenFileSize(tokens));
  assertOk(cli('-q', 'decode', vqt, wav, '--model', modelDir));
  assert.equal(decodeWav(await fs.readFile(wav), wav).channels[0].length, expected);
});

/** Runs `vqcodec -q ...args` expecting a one-line error and an untouched, empty output folder. */
async function expectFailure(name: string, makeArgs: (out: string) => string[], pattern?: RegExp): Promise<string> {
  const out = await freshDir(name);
  const r = cli('-q', ...makeArgs(out));
  const line = assertOneLineError(r, pattern);
  await assertEmpty(out);
  return line;
}

test('bad input: a missing input file', async () => {
  await expectFailure('missing', (out) => ['encode', path.join(inputs, 'nope.wav'), path.join(out, 'x.vqt'), '--model', modelDir], /no such file/);
});

test('bad input: a text file named x.wav', async () => {
  const file = path.join(inputs, 'x.wav');
  await fs.writeFile(file, 'this is not audio, just text\n'.repeat(20));
  await expectFailure('text', (out) => ['encode', file, path.join(out, 'x.vqt'), '--model', modelDir], /x\.wav/);
});

test('bad input: an empty WAV (0 samples)', async () => {
  const file = path.join(inputs, 'empty.wav');
  await fs.writeFile(file, encodeWav(new Float32Array(0), 16000));
  await expectFailure('empty', (out) => ['encode', file, path.join(out, 'x.vqt'), '--model', modelDir], /empty/);
});

test('bad input: an all-zero WAV', async () => {
  const file = path.join(inputs, 'zeros.wav');
  await fs.writeFile(file, encodeWav(new Float32Array(16000), 16000));
  await expectFailure('zeros', (out) => ['encode', file, path.join(out, 'x.vqt'), '--model', modelDir], /silent/);
});

test('bad input: a float WAV with a NaN sample', async () => {
  const samples = new Float32Array(8000).map((_, i) => 0.3 * Math.sin(i / 5));
  samples[1234] = Number.NaN;
  const file = path.join(inputs, 'nan.wav');
  await fs.writeFile(file, encodeWav(samples, 16000, 'float32'));
  await expectFailure('nan', (out) => ['encode', file, path.join(out, 'x.vqt'), '--model', modelDir], /NaN/);
});

test('bad input: a truncated .vqt to decode', async () => {
  const bytes = await fs.readFile(goodVqt);
  const file = path.join(inputs, 'truncated.vqt');
  await fs.writeFile(file, bytes.subarray(0, bytes.length - 10));
  await expectFailure('truncated', (out) => ['decode', file, path.join(out, 'x.wav'), '--model', modelDir], /truncated/);
  // So short that not even the header is there.
  await fs.writeFile(file, bytes.subarray(0, 12));
  await expectFailure('truncated-header', (out) => ['decode', file, path.join(out, 'x.wav'), '--model', modelDir], /truncated/);
});

test('bad input: a bit-flipped .vqt to decode', async () => {
  const bytes = new Uint8Array(await fs.readFile(goodVqt));
  bytes[40] ^= 0x10;
  const file = path.join(inputs, 'flipped.vqt');
  await fs.writeFile(file, bytes);
  await expectFailure('flipped', (out) => ['decode', file, path.join(out, 'x.wav'), '--model', modelDir], /corrupted/);
});

test('bad input: a .vqt made by another model (the message names both fingerprints)', async () => {
  const line = await expectFailure('other', (out) => ['decode', otherVqt, path.join(out, 'x.wav'), '--model', modelDir]);
  assert.ok(line.includes(fingerprint) && line.includes(otherFingerprint), line);
});

test('bad input: --codebooks 0 (and 4) to encode, 4 to decode and eval: the message names the flag', async () => {
  for (const n of ['0', '4']) {
    await expectFailure(`codebooks${n}`, (out) => ['encode', SPEECH_WAV, path.join(out, 'x.vqt'), '--model', modelDir, '--codebooks', n], /--codebooks must be an integer from 1 to 3 for this model/);
  }
  await expectFailure('decodeCodebooks', (out) => ['decode', goodVqt, path.join(out, 'x.wav'), '--model', modelDir, '--codebooks', '4'], /--codebooks must be an integer from 1 to 3 for these tokens/);
  await expectFailure('evalCodebooks', (out) => ['eval', SPEECH_WAV, '--model', modelDir, '--codebooks', '1,4', '--out', out], /--codebooks must be an integer from 1 to 3 for this model/);
});

test('bad input: train --config with an impossible value ({"strides":[1]})', async () => {
  const config = path.join(inputs, 'bad-config.json');
  await fs.writeFile(config, JSON.stringify({ strides: [1] }));
  const out = await freshDir('badconfig');
  const run = path.join(out, 'run');
  const r = cli('-q', 'train', '-d', FIXTURES, '-o', run, '--config', config, '--steps', '1');
  assertOneLineError(r, /strides/);
  await assertEmpty(out);
});

test('bad input: train --restart with an unknown way, or a negative --dead-code-threshold', async () => {
  for (const [flag, value, message] of [['--restart', 'nearest', /--restart must be sample or split/], ['--dead-code-threshold', '-1', /deadCodeThreshold/]] as const) {
    const out = await freshDir(`restart${value}`);
    const r = cli('-q', 'train', '-d', FIXTURES, '-o', path.join(out, 'run'), '-p', 'tiny', '--steps', '1', flag, value);
    assertOneLineError(r, message);
    await assertEmpty(out);
  }
});

test('tokens and prior: bad formats, shards and prompts get one line; a prior refuses another codec\'s model', async () => {
  const out = await freshDir('tokens-bad');
  assertOneLineError(cli('-q', 'tokens', SPEECH_WAV, '-o', path.join(out, 't'), '--format', 'csv'), /--format must be npy or jsonl/);
  assertOneLineError(cli('-q', 'tokens', SPEECH_WAV, '-o', path.join(out, 't'), '--shard', '3/2'), /0 ≤ k < n/);
  assertOneLineError(cli('-q', 'tokens', SPEECH_WAV, '-o', path.join(out, 't'), '--codebooks', '9'), /--codebooks must be an integer from 1 to 8/);
  assertOneLineError(cli('-q', 'generate', '--prior', path.join(out, 'none'), path.join(out, 'g.wav')), /no prior at/);
  await assertEmpty(out);
  // A tiny prior over the shipped codec's tokens of the fixture, then the tiny test model is refused.
  assertOk(cli('-q', 'tokens', SPEECH_WAV, '-o', path.join(out, 't')));
  assertOk(cli('-q', 'prior', 'train', '--tokens', path.join(out, 't'), '-o', path.join(out, 'p'), '--steps', '2', '--width', '16', '--layers', '1', '--heads', '2', '--context', '16'));
  const generated = cli('-q', 'generate', '--prior', path.join(out, 'p', 'prior'), '--seconds', '0.2', path.join(out, 'g.wav'));
  assertOk(generated);
  assert.match(generated.stdout, /10 generated\), \d+ tokens at \d+ tokens\/s/);
  assertOneLineError(cli('-q', 'generate', '--model', modelDir, '--prior', path.join(out, 'p', 'prior'), path.join(out, 'h.wav')), /the prior models tokens of codec/);
  // prior eval: bits per code of the shipped prior on the export, below knowing nothing (log2 1024), and the unigram beside it.
  const evaluated = cli('-q', 'prior', 'eval', '--prior', path.join('models', 'prior'), '--tokens', path.join(out, 't'), '--json');
  assertOk(evaluated);
  const report = JSON.parse(evaluated.stdout) as { files: number; perCodebook: { bitsPerCode: number; unigramEntropy: number; codes: number }[] };
  assert.equal(report.files, 1);
  assert.equal(report.perCodebook.length, 2);
  for (const row of report.perCodebook) assert.ok(row.bitsPerCode > 0 && row.bitsPerCode < 10 && row.unigramEntropy > 0 && row.codes > 0, JSON.stringify(row));
  assertOk(cli('-q', 'tokens', SPEECH_WAV, '--model', modelDir, '-o', path.join(out, 't-other')));
  assertOneLineError(cli('-q', 'prior', 'eval', '--prior', path.join(out, 'p', 'prior'), '--tokens', path.join(out, 't-other')), /the prior models tokens of codec/);
});

test('eval of a manifest: totals, per-source totals, STOI and ESTOI, codebook usage (JSON and tables)', async () => {
  const dir = await freshDir('manifest');
  await fs.copyFile(SPEECH_WAV, path.join(dir, 'a.wav'));
  await fs.copyFile(path.join(FIXTURES, 'speech.ogg'), path.join(dir, 'b.ogg'));
  const lines = [
    { path: 'a.wav', source: 'alpha', split: 'test' },
    { path: 'b.ogg', source: 'beta', split: 'test' },
    { path: 'a.wav', source: 'alpha', split: 'train' },
  ];
  const manifest = path.join(dir, 'manifest.jsonl');
  await fs.writeFile(manifest, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const r = cli('-q', 'eval', manifest, '--model', modelDir, '--codebooks', '1,2', '--json');
  assert.equal(r.status, 0, show(r));
  type Figures = { files: number; seconds: number; stoi: number; estoi: number };
  const results = JSON.parse(r.stdout) as { numCodebooks: number; files: { name: string; bytes: number; stoi: number; estoi: number }[]; total: Figures; bySource: Record<string, Figures> }[];
  assert.deepEqual(results.map((x) => x.numCodebooks), [1, 2]);
  for (const result of results) {
    assert.deepEqual(Object.keys(result.bySource), ['alpha', 'beta']);
    assert.equal(result.bySource.alpha.files + result.bySource.beta.files, result.total.files);
    assert.ok(Math.abs(result.bySource.alpha.seconds + result.bySource.beta.seconds - result.total.seconds) < 1e-9);
    for (const figures of [...result.files, result.total, result.bySource.alpha]) {
      for (const key of ['stoi', 'estoi'] as const) assert.ok(figures[key] >= -1 && figures[key] <= 1, `${key} ${figures[key]}`);
      assert.notEqual(figures.estoi, figures.stoi);
    }
  }
  assert.ok(results[1].files[0].bytes > results[0].files[0].bytes, 'two codebooks take more bytes than one');
  const text = cli('-q', 'eval', manifest, '--model', modelDir, '--codebooks', '1');
  assert.equal(text.status, 0, show(text));
  assert.match(text.stdout, /by source: STOI \/ ESTOI \/ SI-SDR dB/);
  assert.match(text.stdout, /SI-SDR dB +STOI +ESTOI +mel dist/);
  assert.match(text.stdout, /alpha/);
  assert.match(text.stdout, /beta/);
});

test('eval --spectrograms writes a PNG per file and codebook count, of the figure\'s size', async () => {
  const dir = await freshDir('spectrograms');
  const pictures = path.join(dir, 'pictures');
  const r = cli('eval', SPEECH_WAV, '--model', modelDir, '--codebooks', '1,2', '--spectrograms', pictures, '--json');
  assert.equal(r.status, 0, show(r));
  const results = JSON.parse(r.stdout) as { numCodebooks: number; total: { estoi: number } }[];
  assert.deepEqual(results.map((x) => x.numCodebooks), [1, 2]);
  for (const x of results) assert.ok(Number.isFinite(x.total.estoi), 'eval --json reports ESTOI');
  assert.deepEqual((await fs.readdir(pictures)).sort(), ['q1', 'q2']);
  const expected = spectrogramFigureSize(SPEECH_SAMPLES, 16000, 2);
  for (const q of ['q1', 'q2']) {
    assert.deepEqual(await fs.readdir(path.join(pictures, q)), ['speech.png'], 'one picture, no temp file left');
    const png = await fs.readFile(path.join(pictures, q, 'speech.png'));
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
    assert.equal(png.toString('latin1', 12, 16), 'IHDR');
    assert.deepEqual({ width: png.readUInt32BE(16), height: png.readUInt32BE(20) }, expected);
    assert.deepEqual([png[24], png[25]], [8, 2], '8-bit RGB');
  }
});

test('bad input: eval --limit 0', async () => {
  const r = cli('-q', 'eval', SPEECH_WAV, '--model', modelDir, '--limit', '0');
  assertOneLineError(r, /--limit must be a positive integer/);
});

test('bad input: an unknown --backend', async () => {
  await expectFailure('backend', (out) => ['--backend', 'nope', 'encode', SPEECH_WAV, path.join(out, 'x.vqt'), '--model', modelDir], /backend 'nope'/);
});

test('bad input: a missing model folder', async () => {
  await expectFailure('nomodel', (out) => ['encode', SPEECH_WAV, path.join(out, 'x.vqt'), '--model', path.join(root, 'no-such-model')], /no model/);
});

test('bad input: info of a file that is not a token file', async () => {
  const r = cli('info', SPEECH_WAV);
  assertOneLineError(r, /not a vqcodec token file/);
});

test('without --quiet an error is still one vqcodec: line, after the informational notes only', async () => {
  const out = await freshDir('loud');
  const r = cli('decode', otherVqt, path.join(out, 'x.wav'), '--model', modelDir);
  assert.notEqual(r.status, 0, show(r));
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  const errors = lines.filter((l) => l.startsWith('vqcodec:'));
  assert.equal(errors.length, 1, show(r));
  assert.equal(lines.at(-1), errors[0], 'the error is the last line');
  for (const l of lines.slice(0, -1)) assert.match(l, /^(backend|model): /, `only notes before the error: ${show(r)}`);
  await assertEmpty(out);
});

test('train end to end: -p tiny, 3 steps, --plot writes model/config.json and curves.svg', async (t) => {
  const data = await freshDir('data');
  for (const f of ['speech.wav', 'speech.ogg']) await fs.copyFile(path.join(FIXTURES, f), path.join(data, f));
  const run = path.join(await freshDir('train'), 'run');
  const r = cli('train', '-d', data, '-o', run, '-p', 'tiny', '--steps', '3', '--batch', '2', '--crop', '0.25', '--stft', '64,128', '--log-every', '1', '--plot');
  assertOk(r);
  t.diagnostic(`train ${r.ms} ms`);
  const config = JSON.parse(await fs.readFile(path.join(run, 'model', 'config.json'), 'utf8'));
  assert.deepEqual(config, makeConfig(PRESETS.tiny));
  assert.ok(existsSync(path.join(run, 'model', 'weights.bin')));
  assert.ok(existsSync(path.join(run, 'checkpoint.bin')));
  const svg = await fs.readFile(path.join(run, 'curves.svg'), 'utf8');
  assert.match(svg, /^<svg /);
  assert.match(svg, /<\/svg>\s*$/);
  assert.ok(svg.includes('training loss'));
  const log = (await fs.readFile(path.join(run, 'log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(log.filter((e) => e.type === 'train').map((e) => e.step), [1, 2, 3]);
  const fp = new RegExp(`model written to .*\\(([0-9a-f]{16})\\)`).exec(r.stderr)?.[1];
  assert.ok(fp, `the fingerprint is reported: ${show(r)}`);
  const loaded = await Codec.load(path.join(run, 'model'));
  try {
    assert.equal(loaded.fingerprint, fp);
  } finally {
    loaded.dispose();
  }
  assert.ok(!(await fs.readdir(run)).some((f) => f.endsWith('.tmp')), 'no temp files in the run folder');
});
