/**
 * The hand-written dilated conv (src/model/conv.ts): forward and both gradients against
 * tfjs's own conv and gradients (dilation 1), against a float64 JS reference and finite
 * differences (dilations tfjs cannot differentiate), and wasm against cpu.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { conv1dValid, padForConv } from '../src/model/conv.js';
import { Random } from '../src/train/random.js';

before(async () => {
  await initBackend('cpu');
});

interface Case {
  batch: number;
  time: number;
  inCh: number;
  outCh: number;
  taps: number;
  dilation: number;
}

interface Data {
  x: Float32Array; // [batch, time, inCh]
  w: Float32Array; // [taps, inCh, outCh]
  g: Float32Array; // [batch, outTime, outCh]: weights of the scalar loss sum(y · g)
  outTime: number;
}

function randomArray(n: number, rng: Random): Float32Array {
  return Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
}

function makeData(c: Case, seed: number): Data {
  const rng = new Random(seed);
  const outTime = c.time - (c.taps - 1) * c.dilation;
  assert.ok(outTime > 0);
  return {
    x: randomArray(c.batch * c.time * c.inCh, rng),
    w: randomArray(c.taps * c.inCh * c.outCh, rng),
    g: randomArray(c.batch * outTime * c.outCh, rng),
    outTime,
  };
}

/** Float64 reference: y[b,t,o] = Σ_k Σ_i x[b, t + k·d, i] · w[k, i, o]; and the exact gradients of Σ y·g. */
function reference(c: Case, d: Data): { y: Float64Array; dx: Float64Array; dw: Float64Array } {
  const { batch, time, inCh, outCh, taps, dilation } = c;
  const T = d.outTime;
  const y = new Float64Array(batch * T * outCh);
  const dx = new Float64Array(d.x.length);
  const dw = new Float64Array(d.w.length);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < T; t++) {
      for (let k = 0; k < taps; k++) {
        const xt = t + k * dilation;
        for (let i = 0; i < inCh; i++) {
          const xv = d.x[(b * time + xt) * inCh + i];
          for (let o = 0; o < outCh; o++) {
            const wv = d.w[(k * inCh + i) * outCh + o];
            const gv = d.g[(b * T + t) * outCh + o];
            y[(b * T + t) * outCh + o] += xv * wv;
            dx[(b * time + xt) * inCh + i] += gv * wv;
            dw[(k * inCh + i) * outCh + o] += gv * xv;
          }
        }
      }
    }
  }
  return { y, dx, dw };
}

/** The custom op's forward and gradients of Σ y·g on the current backend, read back to JS. */
function customOp(c: Case, d: Data): { y: Float32Array; dx: Float32Array; dw: Float32Array } {
  const x = tf.tensor3d(d.x, [c.batch, c.time, c.inCh]);
  const w = tf.tensor3d(d.w, [c.taps, c.inCh, c.outCh]);
  const g = tf.tensor3d(d.g, [c.batch, d.outTime, c.outCh]);
  const y = conv1dValid(x, w, c.dilation);
  const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv1dValid(a as tf.Tensor3D, b as tf.Tensor3D, c.dilation), g)))([x, w]);
  assert.deepEqual(y.shape, [c.batch, d.outTime, c.outCh]);
  assert.deepEqual(dx.shape, x.shape);
  assert.deepEqual(dw.shape, w.shape);
  const out = { y: y.dataSync() as Float32Array, dx: dx.dataSync() as Float32Array, dw: dw.dataSync() as Float32Array };
  tf.dispose([x, w, g, y, dx, dw]);
  return out;
}

/** Σ y·g of the custom op's forward, accumulated in float64 on the host. */
function lossOf(c: Case, x: Float32Array, w: Float32Array, g: Float32Array): number {
  const y = tf.tidy(() => conv1dValid(tf.tensor3d(x, [c.batch, c.time, c.inCh]), tf.tensor3d(w, [c.taps, c.inCh, c.outCh]), c.dilation));
  const yv = y.dataSync();
  y.dispose();
  let s = 0;
  for (let i = 0; i < yv.length; i++) s += yv[i] * g[i];
  return s;
}

/** max |a − b| / (1 + |b|): absolute near zero, relative for large values. */
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return m;
}

const DILATION_1: Case[] = [
  { batch: 2, time: 20, inCh: 3, outCh: 4, taps: 3, dilation: 1 },
  { batch: 1, time: 17, inCh: 5, outCh: 2, taps: 7, dilation: 1 },
  { batch: 3, time: 9, inCh: 4, outCh: 6, taps: 1, dilation: 1 },
];

const DILATED: Case[] = [
  { batch: 2, time: 24, inCh: 3, outCh: 4, taps: 3, dilation: 2 },
  { batch: 2, time: 30, inCh: 4, outCh: 3, taps: 3, dilation: 3 },
  { batch: 1, time: 60, inCh: 3, outCh: 2, taps: 7, dilation: 9 },
  { batch: 2, time: 40, inCh: 2, outCh: 5, taps: 3, dilation: 9 },
];

test('dilation 1 (cpu): forward equals tf.conv1d, gradients equal tf.grads of tf.conv1d', () => {
  for (const [n, c] of DILATION_1.entries()) {
    const d = makeData(c, 100 + n);
    const mine = customOp(c, d);
    const x = tf.tensor3d(d.x, [c.batch, c.time, c.inCh]);
    const w = tf.tensor3d(d.w, [c.taps, c.inCh, c.outCh]);
    const g = tf.tensor3d(d.g, [c.batch, d.outTime, c.outCh]);
    const y = tf.conv1d(x, w, 1, 'valid');
    const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv1d(a as tf.Tensor3D, b as tf.Tensor3D, 1, 'valid'), g)))([x, w]);
    const tag = JSON.stringify(c);
    assert.ok(maxDiff(mine.y, y.dataSync()) < 1e-5, `forward ${tag}`);
    assert.ok(maxDiff(mine.dx, dx.dataSync()) < 1e-5, `input gradient ${tag}`);
    assert.ok(maxDiff(mine.dw, dw.dataSync()) < 1e-5, `weight gradient ${tag}`);
    // and both agree with the float64 reference
    const ref = reference(c, d);
    assert.ok(maxDiff(mine.dx, ref.dx) < 1e-5 && maxDiff(mine.dw, ref.dw) < 1e-5, `reference ${tag}`);
    tf.dispose([x, w, g, y, dx, dw]);
  }
});

test('dilations 2, 3, 9 (cpu): forward and gradients equal a float64 reference', () => {
  for (const [n, c] of DILATED.entries()) {
    const d = makeData(c, 200 + n);
    const mine = customOp(c, d);
    const ref = reference(c, d);
    const tag = JSON.stringify(c);
    assert.ok(maxDiff(mine.y, ref.y) < 1e-5, `forward ${tag}: ${maxDiff(mine.y, ref.y)}`);
    assert.ok(maxDiff(mine.dx, ref.dx) < 1e-5, `input gradient ${tag}: ${maxDiff(mine.dx, ref.dx)}`);
    assert.ok(maxDiff(mine.dw, ref.dw) < 1e-5, `weight gradient ${tag}: ${maxDiff(mine.dw, ref.dw)}`);
    // The edges matter: the first and last input steps are touched by one tap only.
    assert.ok(mine.dx.some((v) => v !== 0));
  }
});

test('dilations 2, 3, 9 (cpu): gradients match central finite differences of Σ y·g', (t) => {
  // The loss is linear in x and in w separately, so central differences are exact up to
  // float32 rounding of the loss; a step of 0.5 keeps that rounding small relative to it.
  const h = 0.5;
  let worst = 0;
  for (const [n, c] of DILATED.entries()) {
    const d = makeData(c, 300 + n);
    const mine = customOp(c, d);
    const rng = new Random(400 + n);
    const picks = (len: number) => {
      const p = [0, len - 1]; // edges included
      for (let i = 0; i < 10; i++) p.push(rng.int(len));
      return p;
    };
    for (const i of picks(d.x.length)) {
      const plus = d.x.slice();
      const minus = d.x.slice();
      plus[i] += h;
      minus[i] -= h;
      const fd = (lossOf(c, plus, d.w, d.g) - lossOf(c, minus, d.w, d.g)) / (2 * h);
      worst = Math.max(worst, Math.abs(fd - mine.dx[i]));
      assert.ok(Math.abs(fd - mine.dx[i]) < 2e-4 * (1 + Math.abs(fd)), `dx[${i}] ${JSON.stringify(c)}: fd ${fd} vs ${mine.dx[i]}`);
    }
    for (const i of picks(d.w.length)) {
      const plus = d.w.slice();
      const minus = d.w.slice();
      plus[i] += h;
      minus[i] -= h;
      const fd = (lossOf(c, d.x, plus, d.g) - lossOf(c, d.x, minus, d.g)) / (2 * h);
      worst = Math.max(worst, Math.abs(fd - mine.dw[i]));
      assert.ok(Math.abs(fd - mine.dw[i]) < 2e-4 * (1 + Math.abs(fd)), `dw[${i}] ${JSON.stringify(c)}: fd ${fd} vs ${mine.dw[i]}`);
    }
  }
  t.diagnostic(`largest |finite difference − gradient|: ${worst.toExponential(2)}`);
});

test('padForConv keeps the length: same pads centred, causal only on the left', () => {
  const x = tf.tensor3d(Float32Array.from({ length: 10 }, (_, i) => i + 1), [1, 10, 1]);
  for (const [taps, dilation] of [[1, 1], [3, 1], [3, 3], [7, 9], [5, 2]]) {
    const span = (taps - 1) * dilation;
    const same = padForConv(x, taps, dilation, 'same');
    const causal = padForConv(x, taps, dilation, 'causal');
    assert.equal(same.shape[1], 10 + span);
    assert.equal(causal.shape[1], 10 + span);
    const s = Array.from(same.dataSync());
    const cz = Array.from(causal.dataSync());
    const left = Math.floor(span / 2);
    assert.deepEqual(s.slice(left, left + 10), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.ok(s.slice(0, left).every((v) => v === 0) && s.slice(left + 10).every((v) => v === 0));
    assert.deepEqual(cz.slice(span), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.ok(cz.slice(0, span).every((v) => v === 0));
    const y = conv1dValid(causal, tf.ones([taps, 1, 1]) as tf.Tensor3D, dilation);
    assert.equal(y.shape[1], 10);
    // causal: output t depends only on inputs ≤ t (the first output sees only x[0])
    assert.equal(y.dataSync()[0], 1);
    if (span === 0) assert.equal(same, x, 'nothing to pad: the input itself');
    tf.dispose([same, causal, y].filter((t) => t !== x));
  }
  x.dispose();
});

test('wasm: forward and both gradients equal the cpu backend to 1e-4, for every dilation', async (t) => {
  const cases = [...DILATION_1, ...DILATED, { batch: 2, time: 300, inCh: 8, outCh: 8, taps: 7, dilation: 9 }];
  const onCpu: ReturnType<typeof customOp>[] = [];
  const data = cases.map((c, n) => makeData(c, 500 + n));
  await initBackend('cpu');
  cases.forEach((c, n) => onCpu.push(customOp(c, data[n])));
  await initBackend('wasm');
  try {
    assert.equal(tf.getBackend(), 'wasm');
    let worst = 0;
    cases.forEach((c, n) => {
      const w = customOp(c, data[n]);
      const tag = JSON.stringify(c);
      worst = Math.max(worst, maxDiff(w.y, onCpu[n].y), maxDiff(w.dx, onCpu[n].dx), maxDiff(w.dw, onCpu[n].dw));
      assert.ok(maxDiff(w.y, onCpu[n].y) < 1e-4, `forward ${tag}: ${maxDiff(w.y, onCpu[n].y)}`);
      assert.ok(maxDiff(w.dx, onCpu[n].dx) < 1e-4, `input gradient ${tag}: ${maxDiff(w.dx, onCpu[n].dx)}`);
      assert.ok(maxDiff(w.dw, onCpu[n].dw) < 1e-4, `weight gradient ${tag}: ${maxDiff(w.dw, onCpu[n].dw)}`);
    });
    t.diagnostic(`wasm vs cpu: largest difference ${worst.toExponential(2)}`);
  } finally {
    await initBackend('cpu');
  }
});

test('no tensors leak from the forward or the backward pass', () => {
  const c = DILATED[1];
  const d = makeData(c, 600);
  customOp(c, d); // first call builds and caches the op
  const before = tf.memory().numTensors;
  customOp(c, d);
  lossOf(c, d.x, d.w, d.g);
  assert.equal(tf.memory().numTensors, before);
});
