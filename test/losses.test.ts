/** The spectral loss's optional log-mel term. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { melFilterbank } from '../src/eval/fft.js';
import { melBands, multiResolutionStftLoss, stftMagnitude } from '../src/train/losses.js';
import { Random } from '../src/train/random.js';

before(async () => {
  await initBackend('cpu');
});

const RATE = 16000;
const WINDOWS = [256, 512];

function signals(): [tf.Tensor2D, tf.Tensor2D] {
  const rng = new Random(5);
  const n = 4096;
  const a = new Float32Array(2 * n);
  const b = new Float32Array(2 * n);
  for (let i = 0; i < a.length; i++) {
    const t = (i % n) / RATE;
    a[i] = Math.sin(2 * Math.PI * 220 * t) + 0.3 * Math.sin(2 * Math.PI * 3100 * t) + 0.01 * (rng.next() - 0.5);
    b[i] = 0.8 * Math.sin(2 * Math.PI * 230 * t) + 0.1 * (rng.next() - 0.5);
  }
  return [tf.tensor2d(a, [2, n]), tf.tensor2d(b, [2, n])];
}

/** mean |log(S·M + 1e-5) − log(Ŝ·M + 1e-5)| in float64 from the STFT magnitudes. */
function logMelL1(s: tf.Tensor2D, e: tf.Tensor2D, window: number): number {
  const bank = melFilterbank(RATE, window, melBands(window));
  const [frames, bins] = s.shape;
  const sv = s.dataSync();
  const ev = e.dataSync();
  let sum = 0;
  for (let f = 0; f < frames; f++) {
    for (const row of bank) {
      let ms = 0;
      let me = 0;
      for (let k = 0; k < bins; k++) {
        ms += row[k] * sv[f * bins + k];
        me += row[k] * ev[f * bins + k];
      }
      sum += Math.abs(Math.log(ms + 1e-5) - Math.log(me + 1e-5));
    }
  }
  return sum / (frames * bank.length);
}

test('the mel term adds melWeight × the mean log-mel L1 per window (checked in float64), and nothing at weight 0', () => {
  const [a, b] = signals();
  const plain = multiResolutionStftLoss(a, b, WINDOWS).dataSync()[0];
  assert.equal(multiResolutionStftLoss(a, b, WINDOWS, { melWeight: 0, sampleRate: RATE }).dataSync()[0], plain);
  const withMel = multiResolutionStftLoss(a, b, WINDOWS, { melWeight: 2, sampleRate: RATE }).dataSync()[0];
  const expected = (2 * WINDOWS.reduce((sum, w) => sum + logMelL1(stftMagnitude(a, w), stftMagnitude(b, w), w), 0)) / WINDOWS.length;
  assert.ok(expected > 0.1, `the signals differ (${expected})`);
  assert.ok(Math.abs(withMel - plain - expected) < 1e-3 * expected, `mel term ${withMel - plain}, expected ${expected}`);
  assert.ok(multiResolutionStftLoss(a, a, WINDOWS, { melWeight: 2, sampleRate: RATE }).dataSync()[0] < 1e-3, 'identical signals: ~0');
});

test('the mel term has a finite gradient that lowers the loss, and needs the sample rate', () => {
  const [a, b] = signals();
  const loss = (x: tf.Tensor) => multiResolutionStftLoss(a, x as tf.Tensor2D, WINDOWS, { melWeight: 1, sampleRate: RATE });
  const g = tf.grad(loss)(b);
  assert.ok(g.dataSync().every(Number.isFinite));
  const stepped = tf.sub(b, tf.mul(g, 1e-3 / tf.norm(g).dataSync()[0]));
  assert.ok(loss(stepped).dataSync()[0] < loss(b).dataSync()[0], 'a small step against the gradient lowers the loss');
  assert.throws(() => multiResolutionStftLoss(a, b, WINDOWS, { melWeight: 1 }), /sample rate/);
});
