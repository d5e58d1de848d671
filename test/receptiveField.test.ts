/**
 * The receptive field the layers report (VqVae.encoderContext / decoderContext) is the true one:
 * changing any input frame inside it changes a frame's latent (or its audio), and changing the
 * frames just outside it does not change a bit. Checked on random weights for every preset's
 * kernel, dilations, strides and spectral ends, and a causal model, at tiny widths.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { makeConfig, PRESETS, type CodecConfig } from '../src/model/config.js';
import { framesAround, hull } from '../src/model/receptiveField.js';
import { VqVae } from '../src/model/vqvae.js';

before(async () => {
  await initBackend('wasm');
});

/** A preset's kernel, dilations, strides, padding and spectral ends at a width of a few channels. */
function narrow(config: CodecConfig): CodecConfig {
  return makeConfig({ ...config, channels: 2, maxChannels: 4, quantizer: { ...config.quantizer, dim: 3 } });
}

const CASES: [string, CodecConfig][] = [
  ...Object.entries(PRESETS).map(([name, preset]): [string, CodecConfig] => [name, narrow(makeConfig(preset))]),
  ['tiny, causal', narrow(makeConfig({ ...PRESETS.tiny, padding: 'causal' }))],
];

/** Deterministic noise in [-0.5, 0.5). */
function noise(length: number, seed: number): Float32Array {
  let a = seed >>> 0;
  return Float32Array.from({ length }, () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 2 ** 32 - 0.5;
  });
}

/** Maps flat input values (`perFrame` a frame) to flat output values (`outPerFrame` a frame). */
interface Layerwise {
  run: (x: tf.Tensor1D) => tf.Tensor1D;
  perFrame: number;
  outPerFrame: number;
}

/**
 * For each frame k of a `frames`-frame input, whether output frame `target` depends on it: whether
 * the gradient of that frame's sum has a nonzero entry in frame k. (A gradient, not a changed
 * output: far taps reach a frame through a product of some twenty weights, too small to change
 * a float32 sum but not to show in its gradient.)
 */
function dependence({ run, perFrame, outPerFrame }: Layerwise, frames: number, target: number): boolean[] {
  const gradient = tf.tidy(() => {
    const x = tf.tensor1d(noise(frames * perFrame, 1));
    return tf.grad((t) => tf.sum(tf.slice(run(t as tf.Tensor1D), target * outPerFrame, outPerFrame)))(x).dataSync() as Float32Array;
  });
  return Array.from({ length: frames }, (_, k) => gradient.subarray(k * perFrame, (k + 1) * perFrame).some((g) => g !== 0));
}

/** Redrawing input frame k leaves output frame `target` identical to the bit. */
function unchangedByFrame({ run, perFrame, outPerFrame }: Layerwise, frames: number, target: number, k: number): boolean {
  const x = noise(frames * perFrame, 1);
  const changed = x.slice();
  changed.set(noise(perFrame, 100 + k), k * perFrame);
  const [a, b] = [x, changed].map((v) => tf.tidy(() => run(tf.tensor1d(v)).dataSync().slice(target * outPerFrame, (target + 1) * outPerFrame)));
  return a!.every((v, i) => v === b![i]);
}

/** true exactly at frames target − before .. target + after. */
function expected(frames: number, target: number, context: { before: number; after: number }): boolean[] {
  return Array.from({ length: frames }, (_, k) => k >= target - context.before && k <= target + context.after);
}

for (const [name, config] of CASES) {
  test(`${name}: the encoder's and decoder's receptive fields are exactly the derived contexts`, (t) => {
    const model = new VqVae(config, 3);
    try {
      const { hop, encoderContext, decoderContext } = model;
      const dim = config.quantizer.dim;
      t.diagnostic(`encoder ${JSON.stringify(encoderContext)}, decoder ${JSON.stringify(decoderContext)} frames`);
      // A frame with its whole field and two frames to spare on each side.
      const target = Math.max(encoderContext.before, decoderContext.before) + 2;
      const frames = target + Math.max(encoderContext.after, decoderContext.after) + 3;
      const encoder: Layerwise = { run: (x) => tf.reshape(model.encoder.apply(tf.reshape(x, [1, -1]) as tf.Tensor2D), [-1]), perFrame: hop, outPerFrame: dim };
      const decoder: Layerwise = { run: (z) => tf.reshape(model.decoder.apply(tf.reshape(z, [1, -1, dim]) as tf.Tensor3D), [-1]), perFrame: dim, outPerFrame: hop };
      for (const [what, layers, context] of [
        ['encoder: a latent frame depends on input frames', encoder, encoderContext],
        ['decoder: an audio frame depends on latent frames', decoder, decoderContext],
      ] as const) {
        assert.deepEqual(dependence(layers, frames, target), expected(frames, target, context), what);
        // Just outside the field, a changed frame changes not a bit (what makes chunks exact).
        for (const k of [target - context.before - 1, target + context.after + 1]) {
          if (k >= 0) assert.ok(unchangedByFrame(layers, frames, target, k), `${what}: frame ${k} changes frame ${target}`);
        }
      }
    } finally {
      model.dispose();
    }
  });
}

test('framesAround counts the whole frames a span touches around frame 0', () => {
  assert.deepEqual(framesAround({ from: 0, to: 320 }, 320), { before: 0, after: 0 });
  assert.deepEqual(framesAround({ from: -1, to: 321 }, 320), { before: 1, after: 1 });
  assert.deepEqual(framesAround({ from: -320, to: 640 }, 320), { before: 1, after: 1 });
  assert.deepEqual(framesAround({ from: -321, to: 641 }, 320), { before: 2, after: 2 });
  assert.deepEqual(framesAround({ from: -3, to: 4 }, 1), { before: 3, after: 3 });
  assert.deepEqual(framesAround({ from: 5, to: 6 }, 1), { before: 0, after: 5 }, 'a span right of frame 0 needs no frame before it');
  assert.deepEqual(hull({ from: -2, to: 3 }, { from: 0, to: 7 }), { from: -2, to: 7 });
});
