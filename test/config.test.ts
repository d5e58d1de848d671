import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { VqcodecError } from '../src/errors.js';
import { FIXTURES } from '../src/paths.js';
import {
  bitrate,
  DEFAULT_CONFIG,
  frameRate,
  hopLength,
  makeConfig,
  PRESETS,
  quantizerSettings,
  splitStoredConfig,
  validateConfig,
  type CodecConfig,
  type QuantizerSettings,
  type DeepPartial,
} from '../src/model/config.js';

test('makeConfig() defaults validate', () => {
  const c = makeConfig();
  assert.doesNotThrow(() => validateConfig(c));
  assert.doesNotThrow(() => validateConfig(DEFAULT_CONFIG));
  assert.deepEqual(c, DEFAULT_CONFIG);
  assert.equal(hopLength(c), 320);
  assert.equal(frameRate(c), 50);
});

test('bitrate: 8 codebooks of 1024 at 50 frames/s = 4000 b/s, 2 codebooks = 1000 b/s', () => {
  const c = makeConfig();
  assert.equal(c.quantizer.numCodebooks, 8);
  assert.equal(c.quantizer.codebookSize, 1024);
  assert.equal(bitrate(c), 4000);
  assert.equal(bitrate(c, 2), 1000);
  assert.equal(bitrate(makeConfig({ quantizer: { numCodebooks: 2 } })), 1000);
  // ceil(log2 K): a 1000-entry codebook still costs 10 bits, 1025 entries cost 11.
  assert.equal(bitrate(makeConfig({ quantizer: { codebookSize: 1000 } })), 4000);
  assert.equal(bitrate(makeConfig({ quantizer: { codebookSize: 1025 } })), 4400);
});

test('makeConfig merges quantizer overrides and never aliases the defaults', () => {
  const c = makeConfig({ channels: 8, quantizer: { codebookSize: 256 } });
  assert.equal(c.channels, 8);
  assert.equal(c.quantizer.codebookSize, 256);
  assert.equal(c.quantizer.dim, DEFAULT_CONFIG.quantizer.dim, 'other quantizer fields keep their defaults');
  c.strides.push(2);
  c.dilations[0] = 5;
  c.quantizer.numCodebooks = 3;
  assert.deepEqual(DEFAULT_CONFIG.strides, [2, 4, 5, 8]);
  assert.deepEqual(DEFAULT_CONFIG.dilations, [1, 3, 9]);
  assert.equal(DEFAULT_CONFIG.quantizer.numCodebooks, 8);
  const strides = [3, 3];
  const d = makeConfig({ strides });
  strides[0] = 1;
  assert.deepEqual(d.strides, [3, 3], 'the caller’s arrays are copied');
});

const IMPOSSIBLE: [string, DeepPartial<CodecConfig>][] = [
  ['strides [1]', { strides: [1] }],
  ['channels 0', { channels: 0 }],
  ['codebookSize 1', { quantizer: { codebookSize: 1 } }],
  ['lookupDim above dim', { quantizer: { dim: 8, lookupDim: 9 } }],
  ['lookupDim 0', { quantizer: { lookupDim: 0 } }],
  ['codebookSize 70000', { quantizer: { codebookSize: 70000 } }],
  ['kernelSize 4', { kernelSize: 4 }],
  ['numCodebooks 0', { quantizer: { numCodebooks: 0 } }],
  ["padding 'x'", { padding: 'x' as never }],
  // and a few more
  ['strides []', { strides: [] }],
  ['strides [2, 2.5]', { strides: [2, 2.5] }],
  ['channels 1.5', { channels: 1.5 }],
  ['channels NaN', { channels: NaN }],
  ['maxChannels < channels', { channels: 32, maxChannels: 16 }],
  ['sampleRate 999', { sampleRate: 999 }],
  ['dilations [0]', { dilations: [0] }],
  ['kernelSize 0', { kernelSize: 0 }],
  ['dim 0', { quantizer: { dim: 0 } }],
  ['numCodebooks 256', { quantizer: { numCodebooks: 256 } }],
  ['a training setting in the model config', { quantizer: { emaDecay: 0.9 } as never }],
];

const IMPOSSIBLE_TRAINING: [string, Partial<QuantizerSettings>][] = [
  ["restart 'random'", { restart: 'random' as never }],
  ['lookupDim with EMA codebooks', { lookupDim: 8, ema: true }],
  ['emaDecay 1', { emaDecay: 1 }],
  ['emaDecay 0', { emaDecay: 0 }],
  ['emaDecay NaN', { emaDecay: NaN }],
  ['emaEpsilon 0', { emaEpsilon: 0 }],
  ['commitmentWeight -0.1', { commitmentWeight: -0.1 }],
  ['kmeansIterations 2.5', { kmeansIterations: 2.5 }],
  ['deadCodeThreshold -1', { deadCodeThreshold: -1 }],
  ['quantizerDropout 1.5', { quantizerDropout: 1.5 }],
  ["ema 'yes'", { ema: 'yes' as never }],
];

test('each impossible training setting throws a one-line VqcodecError naming it', () => {
  for (const [what, overrides] of IMPOSSIBLE_TRAINING) {
    const field = what.split(' ')[0];
    assert.throws(
      () => quantizerSettings(overrides),
      (e: unknown) => e instanceof VqcodecError && /invalid quantizer training setting/.test(e.message) && e.message.includes(field) && !e.message.includes('\n'),
      what,
    );
  }
});

test('a config stored with training settings in its quantizer (before the split) splits into model and training', async () => {
  const stored = JSON.parse(await fs.readFile(path.join(FIXTURES, 'legacy-model', 'config.json'), 'utf8'));
  const { config, training } = splitStoredConfig(stored);
  assert.deepEqual(Object.keys(config.quantizer).sort(), ['codebookSize', 'dim', 'numCodebooks']);
  assert.equal(training.restart, 'split');
  assert.equal(training.deadCodeThreshold, 0.1);
  assert.equal(training.ema, true);
  assert.throws(() => validateConfig(stored), /quantizer\.\w+ is a training setting/);
  assert.deepEqual(splitStoredConfig(makeConfig()).training, {}, 'a config of today carries none');
});

test('each impossible value throws a one-line VqcodecError saying "invalid config"', () => {
  for (const [what, overrides] of IMPOSSIBLE) {
    assert.throws(
      () => makeConfig(overrides),
      (e: unknown) => {
        assert.ok(e instanceof VqcodecError, `${what}: ${String(e)} is not a VqcodecError`);
        assert.match(e.message, /invalid config/, what);
        assert.ok(!e.message.includes('\n'), `${what}: one line`);
        return true;
      },
      what,
    );
  }
});

test('validateConfig names the offending field', () => {
  const cases: [DeepPartial<CodecConfig>, RegExp][] = [
    [{ strides: [1] }, /strides/],
    [{ channels: 0 }, /channels/],
    [{ quantizer: { codebookSize: 70000 } }, /codebookSize/],
    [{ kernelSize: 4 }, /kernelSize/],
    [{ quantizer: { numCodebooks: 0 } }, /numCodebooks/],
    [{ padding: 'x' as never }, /padding/],
    [{ spectral: { hop: 80, window: 300 } }, /spectral window/],
    [{ spectral: { hop: 3, window: 6 } }, /spectral window/],
    [{ spectral: { hop: 0, window: 320 } }, /spectral window/],
    [{ spectral: { hop: 80, window: 320 }, padding: 'causal' }, /spectral ends need padding 'same'/],
  ];
  for (const [overrides, name] of cases) assert.throws(() => makeConfig(overrides), name);
});

test('validateConfig rejects a config without quantizer settings', () => {
  const broken = { ...DEFAULT_CONFIG, quantizer: undefined } as unknown as CodecConfig;
  assert.throws(() => validateConfig(broken), (e: unknown) => e instanceof VqcodecError && /invalid config/.test(e.message));
});

test('spectral ends: the hop multiplies the strides; the config keeps its own copy', () => {
  const spectral = { hop: 80, window: 320 };
  const config = makeConfig({ strides: [2, 2], spectral });
  assert.equal(hopLength(config), 320);
  assert.equal(frameRate(config), 50);
  spectral.hop = 1;
  assert.equal(config.spectral!.hop, 80);
  assert.equal(hopLength(makeConfig(PRESETS.spectral)), 320);
});

test('boundary values that are allowed', () => {
  for (const overrides of [
    { strides: [2] },
    { dilations: [] },
    { kernelSize: 1 },
    { padding: 'causal' as const },
    { quantizer: { codebookSize: 2 } },
    { quantizer: { codebookSize: 65536 } },
    { quantizer: { numCodebooks: 1 } },
    { quantizer: { numCodebooks: 255 } },
  ] as DeepPartial<CodecConfig>[]) {
    assert.doesNotThrow(() => makeConfig(overrides), JSON.stringify(overrides));
  }
  assert.doesNotThrow(() => quantizerSettings({ deadCodeThreshold: 0, kmeansIterations: 0, commitmentWeight: 0, quantizerDropout: 1 }));
  assert.equal(bitrate(makeConfig({ quantizer: { codebookSize: 65536, numCodebooks: 1 } })), 16 * 50);
});

test('factorized codes build with their default, ema: false, and a model directory of them loads back', async () => {
  const { Codec } = await import('../src/codec.js');
  const os = await import('node:os');
  const config = makeConfig({ ...PRESETS.tiny, quantizer: { ...PRESETS.tiny.quantizer, lookupDim: 4 } });
  const codec = Codec.create(config, 3);
  assert.equal(codec.model.training.ema, false);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vqcodec-factorized-'));
  await codec.save(dir);
  const loaded = await Codec.load(dir);
  assert.equal(loaded.fingerprint, codec.fingerprint);
  loaded.dispose();
  codec.dispose();
  await fs.rm(dir, { recursive: true, force: true });
});
