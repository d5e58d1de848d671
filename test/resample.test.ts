import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resample } from '../src/audio/resample.js';
import { VqcodecError } from '../src/errors.js';

function sine(freq: number, rate: number, n: number, amp = 0.5, phase = 0): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = amp * Math.sin((2 * Math.PI * freq * i) / rate + phase);
  return x;
}

function rms(x: Float32Array, from = 0, to = x.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s / (to - from));
}

/** Largest |a − b| over [from, to). */
function maxError(a: Float32Array, b: Float32Array, from: number, to: number): number {
  let m = 0;
  for (let i = from; i < to; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

test('equal rates return an equal copy', () => {
  const x = sine(440, 16000, 1000);
  const y = resample(x, 16000, 16000);
  assert.notEqual(y, x);
  assert.deepEqual(y, x);
});

test('output length is round(n * to / from)', () => {
  for (const [n, from, to] of [
    [1000, 16000, 44100],
    [1001, 44100, 16000],
    [12345, 48000, 16000],
    [777, 22050, 24000],
    [500, 16000, 10000],
    [100, 1000.5, 3000.25],
    [0, 16000, 8000],
  ] as const) {
    assert.equal(resample(new Float32Array(n), from, to).length, Math.round((n * to) / from));
  }
});

test('a sine survives 16k -> 44.1k -> 16k with its frequency and amplitude', () => {
  const n = 16000;
  for (const freq of [440, 3000]) {
    const x = sine(freq, 16000, n, 0.5, 0.3);
    const up = resample(x, 16000, 44100);
    // The upsampled signal is the analytic sine at 44.1 kHz.
    const analyticUp = sine(freq, 44100, up.length, 0.5, 0.3);
    assert.ok(maxError(up, analyticUp, 2000, up.length - 2000) < 2e-3, `${freq} Hz at 44.1 kHz`);
    const back = resample(up, 44100, 16000);
    assert.equal(back.length, n);
    const err = maxError(back, x, 1000, n - 1000);
    assert.ok(err < 3e-3, `${freq} Hz round trip error ${err}`);
    assert.ok(Math.abs(rms(back, 1000, n - 1000) / rms(x, 1000, n - 1000) - 1) < 2e-3);
  }
});

test('downsampling removes content above the new Nyquist (12 kHz tone, 48k -> 16k)', () => {
  const x = sine(12000, 48000, 48000, 0.5);
  const y = resample(x, 48000, 16000);
  const attenuationDb = 20 * Math.log10(rms(y, 500, y.length - 500) / rms(x));
  assert.ok(attenuationDb < -60, `12 kHz tone only attenuated by ${attenuationDb.toFixed(1)} dB`);
  // A tone inside the pass band keeps its level.
  const pass = resample(sine(2000, 48000, 48000, 0.5), 48000, 16000);
  assert.ok(Math.abs(rms(pass, 500, pass.length - 500) / rms(x) - 1) < 2e-3);
});

test('non-rational (fallback) ratio matches the analytic sine', () => {
  const from = 16000.5;
  const to = 22050.25;
  const x = sine(1000, from, 8000, 0.5);
  const y = resample(x, from, to);
  const analytic = sine(1000, to, y.length, 0.5);
  const err = maxError(y, analytic, 1000, y.length - 1000);
  assert.ok(err < 2e-3, `fallback error ${err}`);
});

test('constant signal stays constant away from the edges', () => {
  const x = new Float32Array(4000).fill(0.25);
  for (const [from, to] of [[16000, 44100], [44100, 16000], [16000, 10000]] as const) {
    const y = resample(x, from, to);
    const margin = Math.ceil(y.length / 10);
    for (let i = margin; i < y.length - margin; i++) assert.ok(Math.abs(y[i]! - 0.25) < 1e-5);
  }
});

test('bad rates throw VqcodecError', () => {
  assert.throws(() => resample(new Float32Array(10), 0, 16000), VqcodecError);
  assert.throws(() => resample(new Float32Array(10), 16000, Number.NaN), VqcodecError);
});

test('30 s of 44.1 kHz audio resamples to 16 kHz quickly', () => {
  const x = sine(440, 44100, 44100 * 30, 0.5);
  const t0 = performance.now();
  const y = resample(x, 44100, 16000);
  const ms = performance.now() - t0;
  assert.equal(y.length, 16000 * 30);
  // 30 min must take a few seconds, so 30 s must take well under one.
  assert.ok(ms < 2500, `took ${ms.toFixed(0)} ms`);
});
