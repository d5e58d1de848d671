/**
 * The model's fingerprint (src/io/modelFormat.ts): a function of the config's values and
 * the weights, not of the order keys or arrays happen to be listed in. Loading and saving are
 * tested through Codec in codec.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fingerprintOf } from '../src/io/modelFormat.js';
import { makeConfig, PRESETS, type CodecConfig } from '../src/model/config.js';
import type { NamedArrays } from '../src/model/params.js';

const arrays: NamedArrays = {
  'a.w': { shape: [2], data: new Float32Array([1, 2]) },
  'b.w': { shape: [1], data: new Float32Array([3]) },
};

test('the fingerprint ignores the order of config keys and of arrays', () => {
  const config = makeConfig(PRESETS.tiny);
  const reordered = Object.fromEntries(Object.entries(config).reverse()) as unknown as CodecConfig;
  const swapped: NamedArrays = { 'b.w': arrays['b.w']!, 'a.w': arrays['a.w']! };
  const fingerprint = fingerprintOf(config, arrays);
  assert.match(fingerprint, /^[0-9a-f]{16}$/);
  assert.equal(fingerprintOf(reordered, swapped), fingerprint);
});

test('the fingerprint changes with any config value or weight', () => {
  const config = makeConfig(PRESETS.tiny);
  const fingerprint = fingerprintOf(config, arrays);
  assert.notEqual(fingerprintOf({ ...config, kernelSize: 5 }, arrays), fingerprint);
  assert.notEqual(fingerprintOf({ ...config, quantizer: { ...config.quantizer, emaDecay: 0.98 } }, arrays), fingerprint);
  assert.notEqual(fingerprintOf(config, { ...arrays, 'b.w': { shape: [1], data: new Float32Array([3.0000002]) } }), fingerprint);
});
