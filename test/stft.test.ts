/**
 * The matmul STFT and its inverse (src/model/stft.ts) that the spectral model's ends are
 * built from: the centred STFT is the DFT of centred Hann-windowed frames, the inverse
 * restores the signal, and the inverse's hand-written gradient is its true adjoint.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { centredIstft, centredStft, centringPad } from '../src/model/stft.js';
import { Random } from '../src/train/random.js';

before(async () => {
  await initBackend('cpu');
});

function noise(n: number, seed: number): Float32Array {
  const rng = new Random(seed);
  return Float32Array.from({ length: n }, () => rng.next() - 0.5);
}

test('centredStft is the DFT of Hann-windowed frames centred on each hop (float64 reference)', () => {
  const [hop, window] = [16, 64];
  const frames = 6;
  const x = noise(frames * hop, 1);
  const { re, im } = centredStft(tf.tensor2d(x, [1, x.length]), window, hop);
  const [reV, imV] = [re.dataSync(), im.dataSync()];
  const bins = window / 2 + 1;
  const pad = centringPad(window, hop);
  let worst = 0;
  for (let t = 0; t < frames; t++) {
    for (let k = 0; k < bins; k++) {
      let [r, i] = [0, 0];
      for (let n = 0; n < window; n++) {
        const s = t * hop + n - pad;
        const v = s >= 0 && s < x.length ? x[s] : 0;
        const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / window);
        r += w * v * Math.cos((2 * Math.PI * n * k) / window);
        i -= w * v * Math.sin((2 * Math.PI * n * k) / window);
      }
      worst = Math.max(worst, Math.abs(r - reV[t * bins + k]), Math.abs(i - imV[t * bins + k]));
    }
  }
  assert.ok(worst < 1e-4, `max error ${worst}`);
});

test('centredIstft(centredStft(x)) = x, ends included, for several window/hop ratios', (t) => {
  for (const [hop, window] of [[80, 320], [40, 160], [64, 128], [16, 48]]) {
    const frames = 9;
    const x = noise(2 * frames * hop, hop);
    const audio = tf.tensor2d(x, [2, frames * hop]);
    const { re, im } = centredStft(audio, window, hop);
    const bins = window / 2 + 1;
    const y = centredIstft(tf.reshape(re, [2, frames, bins]), tf.reshape(im, [2, frames, bins]), window, hop).dataSync();
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
    t.diagnostic(`hop ${hop}, window ${window}: max |x − istft(stft(x))| = ${worst.toExponential(2)}`);
    assert.ok(worst < 1e-4, `hop ${hop}, window ${window}: max error ${worst}`);
  }
});

test("centredIstft's gradient is the adjoint of the transform (it is linear: exact finite differences)", () => {
  const [hop, window, frames, bins] = [8, 32, 5, 17];
  const weights = tf.tensor2d(noise(frames * hop, 7), [1, frames * hop]);
  const re = tf.tensor3d(noise(frames * bins, 8), [1, frames, bins]);
  const im = tf.tensor3d(noise(frames * bins, 9), [1, frames, bins]);
  const f = (a: tf.Tensor3D, b: tf.Tensor3D) => tf.sum(tf.mul(centredIstft(a, b, window, hop), weights));
  const [gRe, gIm] = tf.grads((a: tf.Tensor, b: tf.Tensor) => f(a as tf.Tensor3D, b as tf.Tensor3D))([re, im]).map((g) => g.dataSync());
  const base = f(re, im).dataSync()[0];
  for (const index of [0, 3, 20, 40, 84]) {
    const bump = (x: tf.Tensor3D) => tf.add(x, tf.oneHot([index], frames * bins).reshape([1, frames, bins])) as tf.Tensor3D;
    const dRe = f(bump(re), im).dataSync()[0] - base;
    const dIm = f(re, bump(im)).dataSync()[0] - base;
    assert.ok(Math.abs(dRe - gRe[index]) < 1e-4, `re[${index}]: finite difference ${dRe}, gradient ${gRe[index]}`);
    assert.ok(Math.abs(dIm - gIm[index]) < 1e-4, `im[${index}]: finite difference ${dIm}, gradient ${gIm[index]}`);
  }
});
