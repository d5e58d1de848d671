/**
 * The float64 prior for entropy coding (src/prior/exactPrior.ts): its elementary functions agree
 * with Math's, its probabilities agree with the tfjs TokenPrior's softmax on the same windows (a
 * small random prior and the shipped models/prior, within a window and across restarts), they are
 * distributions, and they are the same bits from instance to instance and from run to run.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { PACKAGE_ROOT } from '../src/paths.js';
import { delayedGrid } from '../src/prior/data.js';
import { cos, exp, expm1, sin, tanh } from '../src/prior/exactMath.js';
import { ExactPrior, windowStart } from '../src/prior/exactPrior.js';
import { histogramEntropy } from '../src/entropy/unigram.js';
import { priorCrossEntropy } from '../src/prior/evaluate.js';
import { loadPrior } from '../src/prior/store.js';
import { TokenPrior, type PriorConfig } from '../src/prior/transformer.js';
import { Random } from '../src/train/random.js';
import { Crc32 } from '../src/tokens/crc32.js';

const SMALL: PriorConfig = { numCodebooks: 2, codebookSize: 16, width: 32, layers: 2, heads: 2, context: 12 };

let small: TokenPrior;
let shipped: TokenPrior;

before(async () => {
  await initBackend('wasm');
  small = new TokenPrior(SMALL, 3);
  // Gains and biases start at 1 and 0: make every weight random so that each is exercised.
  const random = new Random(11);
  for (const name of small.params.names()) {
    const v = small.params.get(name);
    v.assign(tf.tensor(Float32Array.from({ length: v.size }, () => (random.next() - 0.5) * (name.endsWith('gain') ? 1 : 2)), v.shape));
  }
  shipped = (await loadPrior(path.join(PACKAGE_ROOT, 'models', 'prior'))).prior;
});

after(() => {
  small?.dispose();
  shipped?.dispose();
});

/** A delayed grid (start step first, padding K) of random codes: steps − 1 steps after the start. */
function randomGrid(config: PriorConfig, steps: number, seed: number): Int32Array {
  const { numCodebooks: Q, codebookSize: K } = config;
  const random = new Random(seed);
  const frames = steps - Q;
  return delayedGrid(Int32Array.from({ length: frames * Q }, () => random.int(K)), Q, Q, K);
}

/** tfjs's softmax of the prior's logits [T, Q, K] on grid steps lo..hi−1. */
function tfjsProbabilities(prior: TokenPrior, grid: Int32Array, lo: number, hi: number): Float32Array {
  const { numCodebooks: Q } = prior.config;
  return tf.tidy(() => tf.softmax(prior.logits(tf.tensor3d(grid.subarray(lo * Q, hi * Q), [1, hi - lo, Q], 'int32'))).dataSync() as Float32Array);
}

/** ExactPrior's probabilities after each history grid[0..s], s = 0..steps − 1: [step][codebook]. */
function exactProbabilities(exact: ExactPrior, grid: Int32Array, steps: number): Float64Array[][] {
  const Q = exact.numCodebooks;
  exact.reset();
  const out: Float64Array[][] = [];
  for (let s = 0; s < steps; s++) {
    if (s > 0) exact.push(grid.subarray(s * Q, (s + 1) * Q));
    out.push(exact.probabilities());
  }
  return out;
}

function maxDifference(ours: Float64Array[], theirs: Float32Array, from: number): number {
  let worst = 0;
  ours.forEach((p, q) => p.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - theirs[from + q * p.length + k])))));
  return worst;
}

/**
 * Max |ExactPrior − tfjs| over every step of a history: steps inside the first window against one
 * tfjs run of that window, later steps against a tfjs run of the window windowStart names.
 */
function compareWithTfjs(prior: TokenPrior, steps: number, seed: number, every = 1): number {
  const { numCodebooks: Q, codebookSize: K, context } = prior.config;
  const grid = randomGrid(prior.config, steps, seed);
  const ours = exactProbabilities(ExactPrior.fromPrior(prior), grid, steps);
  const first = tfjsProbabilities(prior, grid, 0, context);
  let worst = 0;
  for (let s = 0; s < Math.min(steps, context); s++) worst = Math.max(worst, maxDifference(ours[s], first, s * Q * K));
  for (let s = context; s < steps; s += every) {
    const lo = windowStart(s + 1, context);
    worst = Math.max(worst, maxDifference(ours[s], tfjsProbabilities(prior, grid, lo, s + 1), (s - lo) * Q * K));
  }
  return worst;
}

/** The doubles' bytes, little-endian whatever the machine's order. */
function littleEndian(values: Float64Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat64(i * 8, v, true));
  return bytes;
}

function sameBytes(a: Float64Array, b: Float64Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

test('exact exp, expm1, tanh, sin and cos agree with Math to 1e-12 relative over wide ranges', () => {
  const random = new Random(1);
  const cases: [string, (x: number) => number, (x: number) => number, () => number][] = [
    ['exp', exp, Math.exp, () => (random.next() - 0.5) * 1400],
    ['exp small', exp, Math.exp, () => (random.next() - 0.5) * 1e-3],
    ['expm1', expm1, Math.expm1, () => (random.next() - 0.5) * 2],
    ['expm1 tiny', expm1, Math.expm1, () => (random.next() - 0.5) * 1e-9],
    ['tanh', tanh, Math.tanh, () => (random.next() - 0.5) * 60],
    ['tanh small', tanh, Math.tanh, () => (random.next() - 0.5) * 1e-6],
    ['sin', sin, Math.sin, () => (random.next() - 0.5) * 2e4],
    ['cos', cos, Math.cos, () => (random.next() - 0.5) * 2e4],
    ['sin of integers', sin, Math.sin, () => random.int(100000)],
    ['cos of integers', cos, Math.cos, () => random.int(100000)],
  ];
  for (const [what, ours, theirs, draw] of cases) {
    for (let i = 0; i < 20000; i++) {
      const x = draw();
      const [a, b] = [ours(x), theirs(x)];
      assert.ok(Math.abs(a - b) <= 1e-12 * Math.abs(b), `${what}(${x}): ${a} vs ${b}`);
    }
  }
  for (const x of [0, 1, -1, 0.5, Math.PI / 2, Math.PI, 1e-300, -1e-300, 1e-5]) {
    for (const [ours, theirs] of [[exp, Math.exp], [tanh, Math.tanh], [sin, Math.sin], [cos, Math.cos]] as const) assert.ok(Math.abs(ours(x) - theirs(x)) <= 1e-12 * Math.abs(theirs(x)), `${ours.name}(${x})`);
  }
  assert.equal(exp(0), 1);
  assert.equal(tanh(0), 0);
  assert.equal(sin(0), 0);
  assert.equal(cos(0), 1);
});

test('exact exp and tanh stay finite at huge and infinite arguments (masked logits give 0, not NaN)', () => {
  for (const x of [-745.2, -746, -1e4, -1e9, -1e300, -Infinity]) assert.equal(exp(x), 0, `exp(${x})`);
  assert.ok(exp(-745) > 0 && exp(-708) > 0, 'subnormal results');
  assert.equal(Math.abs(exp(-740) - Math.exp(-740)) <= 1e-300, true);
  assert.equal(exp(710), Infinity);
  assert.equal(exp(Infinity), Infinity);
  assert.ok(Number.isFinite(exp(709.7)) && Math.abs(exp(709.7) / Math.exp(709.7) - 1) < 1e-12);
  for (const x of [25, 1e4, 1e300, Infinity]) {
    assert.equal(tanh(x), 1);
    assert.equal(tanh(-x), -1);
  }
  assert.equal(expm1(-1e9), -1);
  assert.ok(Number.isNaN(exp(NaN)) && Number.isNaN(tanh(NaN)));
  // A masked score next to ordinary ones: its weight is exactly 0 and the rest still sum to 1.
  const weights = [0.3, -1e9, 1.2].map((v) => exp(v - 1.2));
  assert.equal(weights[1], 0);
  assert.ok(weights.every(Number.isFinite));
});

test('the window restarts with its last ⌊context/2⌋ steps whenever a step arrives at a full window', () => {
  const context = 12;
  const starts = Array.from({ length: 40 }, (_, i) => windowStart(i + 1, context));
  assert.deepEqual(starts.slice(0, 12), Array(12).fill(0));
  // steps 13..18 → windows of 7..12 steps from step 6; then from step 12; then 18.
  assert.deepEqual(starts.slice(12, 18), Array(6).fill(6));
  assert.deepEqual(starts.slice(18, 24), Array(6).fill(12));
  assert.deepEqual(starts.slice(24, 30), Array(6).fill(18));
  starts.forEach((lo, i) => assert.ok(i + 1 - lo >= 1 && i + 1 - lo <= context));
  // An odd context: keep 6 of 13, windows of 7..13.
  assert.deepEqual([13, 14, 20, 21].map((n) => windowStart(n, 13)), [0, 7, 7, 14]);
});

test('a small random prior: the same probabilities as tfjs\'s softmax, within a window and across restarts', () => {
  const worst = compareWithTfjs(small, 3 * SMALL.context + 5, 2);
  assert.ok(worst < 1e-4, `max |exact − tfjs| = ${worst}`);
  console.log(`small prior: max |exact − tfjs| = ${worst.toExponential(2)}`);
});

test('the shipped models/prior: the same probabilities as tfjs\'s softmax, within a window and across restarts', () => {
  const { context } = shipped.config;
  const worst = compareWithTfjs(shipped, context + 80, 5, 9);
  assert.ok(worst < 1e-4, `max |exact − tfjs| = ${worst}`);
  console.log(`models/prior: max |exact − tfjs| = ${worst.toExponential(2)}`);
});

test('probabilities are positive, finite distributions summing to 1 within 1e-9', () => {
  for (const prior of [small, shipped]) {
    const steps = prior.config.context + 20;
    for (const step of exactProbabilities(ExactPrior.fromPrior(prior), randomGrid(prior.config, steps, 8), steps)) {
      for (const p of step) {
        assert.equal(p.length, prior.config.codebookSize);
        let sum = 0;
        for (const v of p) {
          assert.ok(v > 0 && Number.isFinite(v), `p = ${v}`);
          sum += v;
        }
        assert.ok(Math.abs(sum - 1) < 1e-9, `Σp = ${sum}`);
      }
    }
  }
});

test('two instances fed the same history give bit-identical probabilities, across restarts and after reset', () => {
  const steps = 4 * SMALL.context + 3;
  const grid = randomGrid(SMALL, steps, 4);
  const a = exactProbabilities(ExactPrior.fromPrior(small), grid, steps);
  const reused = ExactPrior.fromPrior(small);
  exactProbabilities(reused, randomGrid(SMALL, 17, 9), 17); // another history first, then reset
  const b = exactProbabilities(reused, grid, steps);
  a.forEach((step, s) => step.forEach((p, q) => assert.ok(sameBytes(p, b[s][q]), `step ${s}, codebook ${q}`)));
  const longShipped = shipped.config.context + 30;
  const shippedGrid = randomGrid(shipped.config, longShipped, 6);
  const [c, d] = [0, 1].map(() => exactProbabilities(ExactPrior.fromPrior(shipped), shippedGrid, longShipped));
  c.forEach((step, s) => step.forEach((p, q) => assert.ok(sameBytes(p, d[s][q]), `models/prior step ${s}, codebook ${q}`)));
});

test('pinned bits: a prior of fixed weights gives the same probabilities on every engine and in every version', () => {
  // Weights of a few bits each from mulberry32, exact in float32: nothing here depends on tfjs's arithmetic.
  const prior = new TokenPrior(SMALL, 1);
  const random = new Random(21);
  for (const name of prior.params.names()) {
    const v = prior.params.get(name);
    v.assign(tf.tensor(Float32Array.from({ length: v.size }, () => (random.int(256) - 128) / 128), v.shape));
  }
  const steps = 2 * SMALL.context + 7;
  const crc = new Crc32();
  for (const step of exactProbabilities(ExactPrior.fromPrior(prior), randomGrid(SMALL, steps, 12), steps)) for (const p of step) crc.update(littleEndian(p));
  prior.dispose();
  // Changing this value changes every entropy-coded token file: only on purpose, with a new format version.
  assert.equal(crc.value.toString(16), '6355fb4a');
});

test('push refuses steps of the wrong width and tokens outside 0..K', () => {
  const exact = ExactPrior.fromPrior(small);
  assert.throws(() => exact.push([1]), /2 tokens/);
  assert.throws(() => exact.push([1, 17]), /integers 0\.\.16/);
  assert.throws(() => exact.push([1.5, 0]), /integers/);
  assert.throws(() => exact.push([-1, 0]), /integers/);
  exact.push([16, 3]);
  assert.equal(exact.probabilities().length, 2);
});

test("prior eval's batched cross-entropy is the coder's: −log2 of ExactPrior's probabilities, across window restarts", () => {
  const { numCodebooks: Q, codebookSize: K } = SMALL;
  // 40 steps: past the 12-step context, so the window restarts; a second, shorter file (one window).
  const grids = [randomGrid(SMALL, 40, 5), randomGrid(SMALL, 9, 6)];
  const exact = ExactPrior.fromPrior(small);
  const nats = new Float64Array(Q);
  const codes = new Array<number>(Q).fill(0);
  for (const grid of grids) {
    const steps = grid.length / Q;
    const probabilities = exactProbabilities(exact, grid, steps);
    for (let s = 1; s < steps; s++) {
      for (let q = 0; q < Q; q++) {
        const token = grid[s * Q + q];
        if (token >= K) continue;
        nats[q] -= Math.log(probabilities[s - 1][q][token]);
        codes[q]++;
      }
    }
  }
  const result = priorCrossEntropy(small, grids);
  assert.deepEqual(result.codes, codes);
  result.bitsPerCodebook.forEach((bits, q) => assert.ok(Math.abs(bits - nats[q] / codes[q] / Math.LN2) < 1e-4, `codebook ${q}: ${bits} against ${nats[q] / codes[q] / Math.LN2}`));
  assert.deepEqual(result.counts.map((c) => c.reduce((a, b) => a + b, 0)), codes, 'every code counted once in the histogram');
  assert.ok(Math.abs(histogramEntropy([1, 1, 2]) - 1.5) < 1e-12);
});
