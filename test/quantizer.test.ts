/**
 * Residual vector quantizer (src/model/quantizer.ts and its codebook, restarts, nearest and kmeans
 * modules): nearest-code search, the straight-through estimator, VQ losses and their gradients,
 * EMA updates, dead-code restarts (with their EMA reset), k-means initialisation and residual coding.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { quantizerSettings, type QuantizerSettings } from '../src/model/config.js';
import { ParamStore } from '../src/model/params.js';
import { nearestByAngle, nearestCodes } from '../src/model/nearest.js';
import { ResidualVectorQuantizer } from '../src/model/quantizer.js';
import { Random } from '../src/train/random.js';

before(async () => {
  await initBackend('cpu');
});

function makeQuantizer(overrides: Partial<QuantizerSettings>, seed = 1) {
  const config = quantizerSettings(overrides);
  const params = new ParamStore(seed);
  return { q: new ResidualVectorQuantizer(params, config), params, config };
}

function gaussian(n: number, rng: Random, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(rng.next(), 1e-12);
    out[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
  }
  return out;
}

function sqDist(a: ArrayLike<number>, ai: number, b: ArrayLike<number>, bi: number, d: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) s += (a[ai * d + j] - b[bi * d + j]) ** 2;
  return s;
}

/** Sets codebook q and its EMA statistics consistently (one assignment each: size 1, sum = vector). */
function setBook(params: ParamStore, q: number, values: number[][]): void {
  const t = tf.tensor2d(values);
  params.get(`quantizer.codebook${q}`).assign(t);
  params.get(`quantizer.embedSum${q}`).assign(t);
  params.get(`quantizer.clusterSize${q}`).assign(tf.ones([values.length]));
  t.dispose();
}

/** A copy of codebook k's emaState(): on the cpu backend dataSync() returns the live backing arrays. */
function stats(q: ResidualVectorQuantizer, k: number) {
  const s = q.codebooks[k].emaState();
  return { clusterSize: s.clusterSize.slice(), embedSum: s.embedSum.slice() };
}

function rows(a: ArrayLike<number>, d: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < a.length / d; i++) out.push(Array.from({ length: d }, (_, j) => a[i * d + j]));
  return out;
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: lengths`);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) <= tol * (1 + Math.abs(b[i])), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

test('nearestCodes picks the true nearest entry (brute-force L2 in float64)', () => {
  const rng = new Random(7);
  let ties = 0;
  for (const [N, K, D] of [[1, 2, 1], [50, 3, 2], [200, 16, 8], [300, 128, 64], [64, 1024, 16]]) {
    const z = gaussian(N * D, rng);
    const book = gaussian(K * D, rng, 1.3);
    const idx = tf.tidy(() => nearestCodes(tf.tensor2d(z, [N, D]), tf.tensor2d(book, [K, D])));
    assert.equal(idx.dtype, 'int32');
    assert.deepEqual(idx.shape, [N]);
    const got = idx.dataSync();
    idx.dispose();
    for (let n = 0; n < N; n++) {
      let best = 0;
      for (let k = 1; k < K; k++) if (sqDist(z, n, book, k, D) < sqDist(z, n, book, best, D)) best = k;
      if (got[n] !== best) {
        // Only a float32 near-tie may pick another entry, and then one as near as the best.
        const dBest = sqDist(z, n, book, best, D);
        assert.ok(sqDist(z, n, book, got[n], D) - dBest < 1e-4 * (1 + dBest), `N=${N} K=${K} D=${D} row ${n}: ${got[n]} vs ${best}`);
        ties++;
      }
    }
  }
  assert.ok(ties <= 2, `${ties} near-ties`);
});

test('straight-through: d Σ(quantized·G)/dz = G exactly; the value is the sum of the chosen rows', () => {
  const { q, config } = makeQuantizer({ codebookSize: 8, dim: 4, numCodebooks: 3, ema: true, kmeansInit: false });
  const rng = new Random(11);
  const N = 40;
  const D = config.dim;
  const zData = gaussian(N * D, rng);
  const gData = gaussian(N * D, rng);
  const z = tf.tensor2d(zData, [N, D]);
  const G = tf.tensor2d(gData, [N, D]);
  for (const numActive of [1, 2, 3]) {
    const dz = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(q.quantize(x as tf.Tensor2D, numActive).quantized, G)))(z);
    assert.deepEqual(Array.from(dz.dataSync()), Array.from(gData), `numActive ${numActive}: gradient must be G, bit for bit`);
    dz.dispose();
    const res = q.quantize(z, numActive);
    const quantized = res.quantized.dataSync();
    const codes = res.codes.dataSync();
    assert.deepEqual(res.codes.shape, [N, numActive]);
    const books = q.codebooks.map((b) => b.entries.dataSync());
    const expected = new Float32Array(N * D);
    for (let n = 0; n < N; n++) {
      for (let j = 0; j < numActive; j++) {
        for (let d = 0; d < D; d++) expected[n * D + d] += books[j][codes[n * numActive + j] * D + d];
      }
    }
    close(quantized, expected, 1e-5, `quantized (numActive ${numActive})`);
    tf.dispose([res.quantized, res.codes, res.codebookLoss, res.commitmentLoss, ...res.residuals, ...res.stageCodes]);
  }
  tf.dispose([z, G]);
});

test('losses on a hand case (1 codebook, K = 2, D = 2)', () => {
  const z = tf.tensor2d([[0.1, 0.2], [0.9, 1.3], [-0.5, 0.4]]);
  // nearest: row 0 → e0, row 1 → e1, row 2 → e0; squared errors 0.01+0.04, 0.01+0.09, 0.25+0.16
  const mse = (0.01 + 0.04 + 0.01 + 0.09 + 0.25 + 0.16) / 6;
  for (const ema of [false, true]) {
    const { q, params, config } = makeQuantizer({ codebookSize: 2, dim: 2, numCodebooks: 1, ema, commitmentWeight: 0.3 });
    q.codebooks[0].entries.assign(tf.tensor2d([[0, 0], [1, 1]]));
    const res = q.quantize(z);
    assert.deepEqual(Array.from(res.codes.dataSync()), [0, 1, 0]);
    assert.ok(Math.abs(res.commitmentLoss.dataSync()[0] - config.commitmentWeight * mse) < 1e-6, `commitment (ema ${ema})`);
    const cb = res.codebookLoss.dataSync()[0];
    if (ema) assert.equal(cb, 0);
    else assert.ok(Math.abs(cb - mse) < 1e-6, `codebook loss ${cb} vs ${mse}`);
    close(res.quantized.dataSync(), [0, 0, 1, 1, 0, 0], 1e-6, 'quantized');
    // The commitment loss pulls z towards its code: d/dz = 2β(z − e)/(N·D).
    const dz = tf.grad((x: tf.Tensor) => q.quantize(x as tf.Tensor2D).commitmentLoss)(z);
    const e = [0, 0, 1, 1, 0, 0];
    close(dz.dataSync(), Array.from(z.dataSync(), (v, i) => (2 * config.commitmentWeight * (v - e[i])) / 6), 1e-6, 'commitment gradient');
    dz.dispose();
    tf.dispose([res.quantized, res.codes, res.codebookLoss, res.commitmentLoss, ...res.residuals, ...res.stageCodes]);
    params.dispose();
  }
  // with the default β
  const { q, config } = makeQuantizer({ codebookSize: 2, dim: 2, numCodebooks: 1 });
  q.codebooks[0].entries.assign(tf.tensor2d([[0, 0], [1, 1]]));
  const res = q.quantize(z);
  assert.equal(config.commitmentWeight, 0.25);
  assert.ok(Math.abs(res.commitmentLoss.dataSync()[0] - 0.25 * mse) < 1e-6);
  tf.dispose([z, res.quantized, res.codes, res.codebookLoss, res.commitmentLoss, ...res.residuals, ...res.stageCodes]);
});

test('ema: false — the codebook learns only from the codebook loss: grad = 2(e − z)/(N·D) on chosen rows', () => {
  const { q, config } = makeQuantizer({ codebookSize: 6, dim: 3, numCodebooks: 1, ema: false, kmeansInit: false });
  const book = q.codebooks[0].entries;
  assert.ok(book.trainable, 'without EMA the codebook is a trainable variable');
  const rng = new Random(5);
  const N = 10;
  const D = config.dim;
  const K = config.codebookSize;
  // Points near rows 0, 2 and 5 only, so rows 1, 3, 4 are unused.
  const bookData = book.dataSync();
  const used = [0, 2, 5];
  const zData = new Float32Array(N * D);
  for (let n = 0; n < N; n++) for (let d = 0; d < D; d++) zData[n * D + d] = bookData[used[n % 3] * D + d] + (rng.next() - 0.5) * 0.02;
  const z = tf.tensor2d(zData, [N, D]);
  const G = tf.randomNormal([N, D], 0, 1, 'float32', 3);
  const codes = tf.tidy(() => q.quantize(z).codes).dataSync();
  const expected = new Float64Array(K * D);
  for (let n = 0; n < N; n++) {
    const k = codes[n];
    for (let d = 0; d < D; d++) expected[k * D + d] += (2 * (bookData[k * D + d] - zData[n * D + d])) / (N * D);
  }
  assert.deepEqual([...new Set(codes)].sort(), used);

  const g1 = tf.variableGrads(() => q.quantize(z).codebookLoss, [book]);
  const got = g1.grads[book.name].dataSync();
  close(got, expected, 1e-6, 'codebook gradient');
  for (const k of [1, 3, 4]) for (let d = 0; d < D; d++) assert.equal(got[k * D + d], 0, `unused row ${k} has no gradient`);

  // Neither the commitment loss nor the decoder's path (quantized) reaches the codebook.
  const g2 = tf.variableGrads(() => {
    const r = q.quantize(z);
    return tf.add(r.commitmentLoss, tf.sum(tf.mul(r.quantized, G))) as tf.Scalar;
  }, [book]);
  assert.ok(g2.grads[book.name].dataSync().every((v) => v === 0), 'no codebook gradient from commitment or straight-through');
  // And the codebook loss sends nothing to z (it is the commitment loss's job).
  const dz = tf.grad((x: tf.Tensor) => q.quantize(x as tf.Tensor2D).codebookLoss)(z);
  assert.ok(dz.dataSync().every((v) => v === 0));
  tf.dispose([z, G, g1.value, g2.value, dz, ...Object.values(g1.grads), ...Object.values(g2.grads)]);
});

test('EMA update: cluster size, sum and mean of the used code follow the formulas; unused means are kept', () => {
  const decay = 0.9;
  const eps = 1e-5;
  const { q, params, config } = makeQuantizer({ codebookSize: 4, dim: 2, numCodebooks: 1, ema: true, emaDecay: decay, emaEpsilon: eps, deadCodeThreshold: 0, kmeansInit: false });
  const K = config.codebookSize;
  const initial = [[0, 0], [5, 5], [-5, 5], [5, -5]];
  setBook(params, 0, initial);
  // A first update so the statistics are not all the trivial ones: 2 vectors to code 1.
  const warm = q.quantize(tf.tensor2d([[4.8, 5.1], [5.4, 4.7]]));
  q.update(warm.residuals, warm.stageCodes, new Random(1).next);
  const before = stats(q, 0);
  const bookBefore = q.codebooks[0].entries.dataSync().slice();
  // Every vector of this batch goes to code 0.
  const batch = [[0.1, 0.2], [-0.3, 0.1], [0.2, -0.1], [0.0, 0.4], [0.5, 0.5]];
  const res = q.quantize(tf.tensor2d(batch));
  assert.deepEqual(Array.from(res.codes.dataSync()), [0, 0, 0, 0, 0]);
  const counts = q.update(res.residuals, res.stageCodes, new Random(2).next);
  assert.deepEqual(Array.from(counts[0]), [5, 0, 0, 0]);
  const after = stats(q, 0);
  const book = q.codebooks[0].entries.dataSync();

  const size = Array.from(before.clusterSize, (s, k) => decay * s + (1 - decay) * (k === 0 ? batch.length : 0));
  close(after.clusterSize, size, 1e-6, 'clusterSize');
  const sum = [0, 1].map((d) => batch.reduce((s, v) => s + v[d], 0));
  const embed = Array.from(before.embedSum, (e, i) => decay * e + (i < 2 ? (1 - decay) * sum[i] : 0));
  close(after.embedSum, embed, 1e-6, 'embedSum');
  const total = size.reduce((a, b) => a + b, 0);
  const smoothed = size.map((s) => ((s + eps) / (total + K * eps)) * total);
  const expectedBook = embed.map((e, i) => e / smoothed[Math.floor(i / 2)]);
  close(book, expectedBook, 1e-5, 'codebook = embedSum / smoothed size');
  // Row 0 moved towards the batch mean.
  const mean = sum.map((s) => s / batch.length);
  assert.ok(sqDist(book, 0, mean, 0, 2) < sqDist(bookBefore, 0, mean, 0, 2));
  // Unused rows keep their mean (up to the Laplace smoothing, ~eps).
  close(book.slice(2), bookBefore.slice(2), 1e-4, 'unused rows');
  close(book.slice(4), initial.slice(2).flat(), 1e-4, 'never-used rows keep their initial value');
  tf.dispose([warm.quantized, warm.codes, warm.codebookLoss, warm.commitmentLoss, ...warm.residuals, ...warm.stageCodes]);
  tf.dispose([res.quantized, res.codes, res.codebookLoss, res.commitmentLoss, ...res.residuals, ...res.stageCodes]);
});

test('EMA update over many steps: a code converges to the mean of what it is assigned, unused codes stay', () => {
  const { q, params } = makeQuantizer({ codebookSize: 3, dim: 2, numCodebooks: 1, ema: true, emaDecay: 0.8, deadCodeThreshold: 0, kmeansInit: false });
  setBook(params, 0, [[0, 0], [10, 10], [-10, 10]]);
  const z = tf.tensor2d([[1, 2], [3, 0], [2, 1]]); // mean (2, 1)
  const steps = 25;
  for (let i = 0; i < steps; i++) {
    const r = q.quantize(z);
    q.update(r.residuals, r.stageCodes, Math.random);
    tf.dispose([r.quantized, r.codes, r.codebookLoss, r.commitmentLoss, ...r.residuals, ...r.stageCodes]);
  }
  // Closed form: size₀ = a + 3(1 − a), sum₀ = (6, 3)(1 − a) with a = 0.8^steps.
  const a = 0.8 ** steps;
  const m = (1 - a) / (a + 3 * (1 - a));
  // Unused rows: e·s/(s + ε′) with s = a ≈ 4e-3, so within ~ε/a ≈ 3e-3 of their value.
  close(q.codebooks[0].entries.dataSync(), [6 * m, 3 * m, 10, 10, -10, 10], 5e-3, 'codebook');
  z.dispose();
});

test('dead-code restart: revived rows come from recent vectors, their EMA statistics restart, and survive the next update', () => {
  const decay = 0.9;
  const eps = 1e-5;
  const opts = { codebookSize: 5, dim: 2, numCodebooks: 1, ema: true, emaDecay: decay, emaEpsilon: eps, deadCodeThreshold: 0.1, kmeansInit: false };
  const initial = [[0, 0], [5, 5], [-5, 5], [5, -5], [-5, -5]];
  const recentData = [[0.3, 7], [-2, -2.5], [6, 1], [1.5, -4]];
  const batch = tf.tensor2d([[0.1, 0.2], [-0.3, 0.1], [0.2, -0.1]]); // all → code 0
  const dead = [2, 4];

  const run = (breakReset: boolean) => {
    const { q, params } = makeQuantizer(opts);
    setBook(params, 0, initial);
    // Give the codes history: a few updates with everything on code 0 and code 1, so the un-reset
    // statistics would hold a mean very different from any revived vector.
    for (let i = 0; i < 3; i++) {
      const r = q.quantize(tf.tensor2d([[0, 0.1], [5, 5.2], [4.9, 5]]));
      q.update(r.residuals, r.stageCodes, Math.random);
    }
    const stale = stats(q, 0);
    for (const k of dead) q.usage[0][k] = 0.01;
    for (const k of [0, 1, 3]) assert.ok(q.usage[0][k] >= 0.1);
    const recent = tf.tensor2d(recentData);
    const revived = q.codebooks[0].restartDeadCodes(recent, new Random(3).next);
    assert.equal(revived, dead.length);
    for (const k of dead) assert.equal(q.usage[0][k], 1, 'usage restarts at one assignment per step');
    const book = q.codebooks[0].entries.dataSync().slice();
    const state = stats(q, 0);
    const vectors = dead.map((k) => [book[2 * k], book[2 * k + 1]]);
    for (const [i, k] of dead.entries()) {
      assert.ok(
        recentData.some((v) => Math.fround(v[0]) === vectors[i][0] && Math.fround(v[1]) === vectors[i][1]),
        `row ${k} = ${vectors[i]} is a recent vector`,
      );
      assert.equal(state.clusterSize[k], 1, `clusterSize[${k}] reset`);
      assert.deepEqual([state.embedSum[2 * k], state.embedSum[2 * k + 1]], vectors[i], `embedSum[${k}] = the new vector`);
    }
    // Live codes are untouched by the restart.
    for (const k of [0, 1, 3]) {
      assert.equal(state.clusterSize[k], stale.clusterSize[k]);
      assert.deepEqual([state.embedSum[2 * k], state.embedSum[2 * k + 1]], [stale.embedSum[2 * k], stale.embedSum[2 * k + 1]]);
    }
    if (breakReset) {
      // Control: undo the statistics reset, as EnCodec's restart effectively does.
      params.get('quantizer.clusterSize0').assign(tf.tensor1d(stale.clusterSize));
      params.get('quantizer.embedSum0').assign(tf.tensor2d(stale.embedSum, [5, 2]));
    }
    const preUpdate = stats(q, 0);
    const r = q.quantize(batch);
    assert.ok(Array.from(r.codes.dataSync()).every((c) => c === 0), 'the revived codes get no assignments');
    q.update(r.residuals, r.stageCodes, new Random(4).next);
    const after = q.codebooks[0].entries.dataSync();
    // What the EMA formula gives for an unassigned row from the statistics it had before this update.
    const size = Array.from(preUpdate.clusterSize, (s, k) => decay * s + (1 - decay) * (k === 0 ? 3 : 0));
    const total = size.reduce((a, b) => a + b, 0);
    const formula = dead.map((k) => [0, 1].map((d) => (decay * preUpdate.embedSum[2 * k + d]) / (((size[k] + eps) / (total + 5 * eps)) * total)));
    return { vectors, after: dead.map((k) => [after[2 * k], after[2 * k + 1]]), formula, stale };
  };

  const good = run(false);
  for (const [i, k] of dead.entries()) {
    close(good.after[i], good.vectors[i], 1e-4, `revived row ${k} stays after an update without assignments`);
    close(good.after[i], good.formula[i], 1e-5, `row ${k} follows the EMA formula`);
  }
  // Control: without the reset, the same update drags the revived rows back to their stale means.
  const broken = run(true);
  for (const [i, k] of dead.entries()) {
    const staleMean = [0, 1].map((d) => broken.stale.embedSum[2 * k + d] / broken.stale.clusterSize[k]);
    close(broken.after[i], staleMean, 1e-3, `un-reset row ${k} returns to its stale mean`);
    const moved = Math.hypot(broken.after[i][0] - broken.vectors[i][0], broken.after[i][1] - broken.vectors[i][1]);
    assert.ok(moved > 1, `un-reset row ${k} would move by ${moved}`);
  }
  batch.dispose();
});

test('update() restarts codes whose usage falls below the threshold, onto rows of the batch residuals', () => {
  const { q, params } = makeQuantizer({ codebookSize: 4, dim: 2, numCodebooks: 2, ema: true, deadCodeThreshold: 0.05, kmeansInit: false });
  setBook(params, 0, [[0, 0], [9, 9], [-9, 9], [9, -9]]);
  setBook(params, 1, [[0, 0], [0.5, 0], [0, 0.5], [3, 3]]);
  q.usage[0][2] = 0.001; // about to die
  q.usage[1][3] = 0.001;
  const zData = [[0.4, 0.3], [-0.2, 0.6], [0.1, -0.5]];
  const r = q.quantize(tf.tensor2d(zData));
  const residuals = r.residuals.map((t) => t.arraySync() as number[][]);
  q.update(r.residuals, r.stageCodes, new Random(9).next);
  const book0 = rows(q.codebooks[0].entries.dataSync(), 2);
  const book1 = rows(q.codebooks[1].entries.dataSync(), 2);
  const isRow = (v: number[], set: number[][]) => set.some((s) => Math.abs(s[0] - v[0]) < 1e-6 && Math.abs(s[1] - v[1]) < 1e-6);
  assert.ok(isRow(book0[2], residuals[0]), `codebook 0 row 2 = ${book0[2]} is a residual of codebook 0`);
  assert.ok(isRow(book1[3], residuals[1]), `codebook 1 row 3 = ${book1[3]} is a residual of codebook 1`);
  assert.equal(q.usage[0][2], 1);
  assert.equal(q.usage[1][3], 1);
  tf.dispose([r.quantized, r.codes, r.codebookLoss, r.commitmentLoss, ...r.residuals, ...r.stageCodes]);
});

test('restartDeadCodes leaves tensors and arrays taken earlier untouched (cpu backend)', () => {
  const { q, params } = makeQuantizer({ codebookSize: 4, dim: 2, numCodebooks: 1, kmeansInit: false });
  const held = tf.clone(q.codebooks[0].entries);
  const heldBefore = held.dataSync().slice();
  const snap = params.snapshot();
  const snapBefore = snap['quantizer.codebook0'].data.slice();
  q.usage[0][1] = 0;
  const recent = tf.tensor2d([[7, 7]]);
  assert.equal(q.codebooks[0].restartDeadCodes(recent, () => 0), 1);
  assert.deepEqual(Array.from(q.codebooks[0].entries.dataSync().slice(2, 4)), [7, 7]);
  const heldAfter = Array.from(held.dataSync());
  const snapAfter = Array.from(snap['quantizer.codebook0'].data);
  tf.dispose([held, recent]);
  assert.deepEqual(heldAfter, Array.from(heldBefore), 'a clone taken before the restart was modified');
  assert.deepEqual(snapAfter, Array.from(snapBefore), 'a snapshot taken before the restart was modified');
});

/** C well-separated clusters in D dims, `per` points each, tightly spread (±0.05). */
function clusters(C: number, D: number, per: number, rng: Random) {
  const centres = Array.from({ length: C }, () => Array.from({ length: D }, () => (rng.next() * 2 - 1) * 10));
  const points: number[] = [];
  for (let c = 0; c < C; c++) for (let i = 0; i < per; i++) for (let d = 0; d < D; d++) points.push(centres[c][d] + (rng.next() - 0.5) * 0.1);
  return { centres, points: tf.tensor2d(points, [C * per, D]) };
}

function nearestEntry(book: number[][], c: number[]): number {
  return Math.min(...book.map((e) => Math.hypot(...e.map((v, i) => v - c[i]))));
}

test('k-means init: every cluster centre gets a codebook entry nearby; needsInit() turns false', () => {
  for (const [seed, C, K, D] of [[1, 4, 16, 4], [2, 6, 32, 8], [3, 8, 32, 3]]) {
    const rng = new Random(seed);
    const { centres, points } = clusters(C, D, 40, rng);
    const { q } = makeQuantizer({ codebookSize: K, dim: D, numCodebooks: 1, kmeansInit: true }, seed);
    assert.equal(q.needsInit(), true);
    q.initFromData(points, rng.next);
    assert.equal(q.needsInit(), false);
    const book = q.codebooks[0].entries.arraySync() as number[][];
    for (const [i, c] of centres.entries()) {
      const d = nearestEntry(book, c);
      assert.ok(d < 0.05, `C=${C} K=${K}: centre ${i} is ${d} from the nearest entry`);
    }
    // The EMA statistics restart from the new codebook.
    const state = q.codebooks[0].emaState();
    assert.ok(state.clusterSize.every((s) => s === 1));
    assert.deepEqual(Array.from(state.embedSum), book.flat().map((v) => Math.fround(v)));
    points.dispose();
  }
  // kmeansInit: false → nothing to initialise.
  assert.equal(makeQuantizer({ kmeansInit: false }).q.needsInit(), false);
});

test('residual VQ: error does not increase with more codebooks; decode(encode(z)) = quantize(z).quantized', () => {
  const N = 400;
  const D = 6;
  const numCodebooks = 5;
  const rng = new Random(21);
  const z = tf.tensor2d(gaussian(N * D, rng), [N, D]);
  const { q } = makeQuantizer({ codebookSize: 16, dim: D, numCodebooks, kmeansInit: true });
  q.initFromData(z, rng.next);
  const errors: number[] = [];
  for (let n = 1; n <= numCodebooks; n++) {
    const res = q.quantize(z, n);
    errors.push(tf.tidy(() => tf.mean(tf.square(tf.sub(z, res.quantized)))).dataSync()[0]);
    const codes = q.encode(z, n);
    assert.deepEqual(codes.shape, [N, n]);
    assert.equal(codes.dtype, 'int32');
    assert.deepEqual(Array.from(codes.dataSync()), Array.from(res.codes.dataSync()), `encode = quantize codes (n = ${n})`);
    const decoded = q.decode(codes);
    close(decoded.dataSync(), res.quantized.dataSync(), 1e-5, `decode(encode(z)) (n = ${n})`);
    tf.dispose([codes, decoded, res.quantized, res.codes, res.codebookLoss, res.commitmentLoss, ...res.residuals, ...res.stageCodes]);
  }
  for (let n = 1; n < numCodebooks; n++) assert.ok(errors[n] <= errors[n - 1] + 1e-7, `errors ${errors.join(', ')}`);
  assert.ok(errors[numCodebooks - 1] < 0.5 * errors[0], `errors ${errors.join(', ')}`);
  assert.ok(errors[0] < 1, 'one codebook already beats the zero code (variance 1)');
  z.dispose();
});

test('quantizer dropout: encode(z, 2) is the first 2 columns of encode(z, 4)', () => {
  const N = 100;
  const D = 4;
  const rng = new Random(8);
  const { q } = makeQuantizer({ codebookSize: 8, dim: D, numCodebooks: 4, kmeansInit: false });
  const z = tf.tensor2d(gaussian(N * D, rng), [N, D]);
  const two = q.encode(z, 2).arraySync() as number[][];
  const four = q.encode(z, 4).arraySync() as number[][];
  const one = q.encode(z, 1).arraySync() as number[][];
  assert.deepEqual(two, four.map((r) => r.slice(0, 2)));
  assert.deepEqual(one, four.map((r) => r.slice(0, 1)));
  // decode accepts any prefix of the codebooks
  const d2 = q.decode(tf.tensor2d(two, [N, 2], 'int32'));
  assert.deepEqual(d2.shape, [N, D]);
  z.dispose();
});

test('wasm: quantize, EMA update and dead-code restart run and agree with cpu', async () => {
  const opts = { codebookSize: 8, dim: 4, numCodebooks: 2, ema: true, emaDecay: 0.9, deadCodeThreshold: 0.05, kmeansInit: true };
  const data = gaussian(64 * 4, new Random(30));
  const runOn = async (backend: 'cpu' | 'wasm') => {
    await initBackend(backend);
    const { q, params } = makeQuantizer(opts, 5);
    const z = tf.tensor2d(data, [64, 4]);
    const rng = new Random(6);
    q.initFromData(z, rng.next);
    q.usage[1][0] = 0; // force a restart in codebook 1
    const r = q.quantize(z);
    const codes = r.codes.arraySync();
    const losses = [r.codebookLoss.dataSync()[0], r.commitmentLoss.dataSync()[0]];
    q.update(r.residuals, r.stageCodes, rng.next);
    const snap = params.snapshot();
    tf.dispose([z, r.quantized, r.codes, r.codebookLoss, r.commitmentLoss, ...r.residuals, ...r.stageCodes]);
    params.dispose();
    return { codes, losses, snap };
  };
  try {
    const cpu = await runOn('cpu');
    const wasm = await runOn('wasm');
    assert.equal(tf.getBackend(), 'wasm');
    // Initial codebooks come from tf.randomNormal/randomUniform with fixed seeds: identical on both backends.
    assert.deepEqual(wasm.codes, cpu.codes);
    close(wasm.losses, cpu.losses, 1e-4, 'losses');
    for (const name of Object.keys(cpu.snap)) close(wasm.snap[name].data, cpu.snap[name].data, 1e-4, name);
  } finally {
    await initBackend('cpu');
  }
});

test('nearestByAngle picks the entry of largest cosine similarity (brute force in float64), whatever the entry lengths', () => {
  const rng = new Random(31);
  const N = 60;
  const K = 12;
  const D = 5;
  const z = gaussian(N * D, rng);
  // Entries of very different lengths: L2 and angle disagree, the lookup must follow the angle.
  const book = gaussian(K * D, rng).map((v, i) => v * (1 + 4 * (Math.floor(i / D) % 3)));
  const got = nearestByAngle(tf.tensor2d(z, [N, D]), tf.tensor2d(book, [K, D])).dataSync();
  let disagreesWithL2 = 0;
  for (let n = 0; n < N; n++) {
    let best = -1;
    let bestCos = -Infinity;
    let nearestL2 = -1;
    let bestDist = Infinity;
    for (let k = 0; k < K; k++) {
      let dot = 0;
      let norm = 0;
      for (let d = 0; d < D; d++) {
        dot += z[n * D + d] * book[k * D + d];
        norm += book[k * D + d] ** 2;
      }
      const cos = dot / Math.sqrt(norm);
      if (cos > bestCos) [bestCos, best] = [cos, k];
      const dist = sqDist(z, n, book, k, D);
      if (dist < bestDist) [bestDist, nearestL2] = [dist, k];
    }
    assert.equal(got[n], best, `row ${n}`);
    if (best !== nearestL2) disagreesWithL2++;
  }
  assert.ok(disagreesWithL2 > 0, 'the test data must tell angle from distance apart');
});

test('factorized codes: codes are the angle-nearest entries of the projected residual; decode(encode(z)) = quantize(z).quantized', () => {
  const N = 200;
  const D = 6;
  const rng = new Random(41);
  const { q, params } = makeQuantizer({ codebookSize: 16, dim: D, lookupDim: 2, numCodebooks: 3, ema: false, kmeansInit: true });
  const z = tf.tensor2d(gaussian(N * D, rng), [N, D]);
  q.initFromData(z, rng.next);
  assert.deepEqual(q.codebooks[0].entries.shape, [16, 2]);
  for (let n = 1; n <= 3; n++) {
    const res = q.quantize(z, n);
    const codes = q.encode(z, n);
    assert.deepEqual(Array.from(codes.dataSync()), Array.from(res.codes.dataSync()), `encode = quantize codes (n = ${n})`);
    close(q.decode(codes).dataSync(), res.quantized.dataSync(), 1e-4, `decode(encode(z)) (n = ${n})`);
    // The first codebook's choice, by hand: project with the stored weights, pick the largest cosine.
    const projected = tf.tidy(() => tf.add(tf.matMul(z, params.get('quantizer.project0.in.w') as tf.Tensor2D), params.get('quantizer.project0.in.b')));
    const expected = nearestByAngle(projected as tf.Tensor2D, q.codebooks[0].entries as tf.Tensor2D).dataSync();
    assert.deepEqual(Array.from(res.codes.dataSync()).filter((_, i) => i % n === 0), Array.from(expected));
    tf.dispose([res.quantized, res.codes, res.codebookLoss, res.commitmentLoss, ...res.residuals, codes, projected]);
  }
  // k-means in the lookup space uses the codebook: most of the 16 codes are chosen.
  const used = new Set(q.encode(z, 1).dataSync());
  assert.ok(used.size >= 10, `${used.size} codes used of 16`);
  z.dispose();
});

test('factorized codes: the decoder gradient reaches z and both projections; the codebook learns from the codebook loss', () => {
  const N = 50;
  const D = 4;
  const rng = new Random(43);
  const { q, params } = makeQuantizer({ codebookSize: 8, dim: D, lookupDim: 2, numCodebooks: 2, ema: false, kmeansInit: false });
  const z = tf.tensor2d(gaussian(N * D, rng), [N, D]);
  const G = tf.tensor2d(gaussian(N * D, rng), [N, D]);
  const names = ['quantizer.project0.in.w', 'quantizer.project0.out.w', 'quantizer.project1.in.w', 'quantizer.project1.out.b', 'quantizer.codebook0'];
  const vars = names.map((n) => params.get(n));
  // variableGrads keys by the variables' unique names and leaves out those off the gradient's path (zero).
  const size = (g: tf.Tensor | undefined) => (g ? tf.norm(g).dataSync()[0] : 0);
  const grad = (grads: tf.NamedTensorMap, name: string) => grads[params.get(name).name] as tf.Tensor | undefined;
  const decoderOnly = tf.variableGrads(() => tf.sum(tf.mul(q.quantize(z, 2).quantized, G)) as tf.Scalar, vars);
  for (const n of names.slice(0, 4)) assert.ok(size(grad(decoderOnly.grads, n)) > 0, `${n} gets the decoder's gradient`);
  assert.equal(size(grad(decoderOnly.grads, 'quantizer.codebook0')), 0, 'the straight-through estimator keeps the decoder away from the codebook');
  const vqOnly = tf.variableGrads(() => q.quantize(z, 2).codebookLoss, vars);
  assert.ok(size(grad(vqOnly.grads, 'quantizer.codebook0')) > 0, 'the codebook loss moves the codebook');
  const dz = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(q.quantize(x as tf.Tensor2D, 2).quantized, G)))(z);
  assert.ok(tf.norm(dz).dataSync()[0] > 0);
  tf.dispose([z, G, dz, decoderOnly.value, vqOnly.value, ...Object.values(decoderOnly.grads).filter((g) => g), ...Object.values(vqOnly.grads).filter((g) => g)]);
});

test("restart 'split': a dead code becomes a copy of the busiest code moved toward its data; both share its statistics, and both keep data afterwards", () => {
  const opts = { codebookSize: 3, dim: 2, numCodebooks: 1, ema: true, emaDecay: 0.9, deadCodeThreshold: 0.1, kmeansInit: false, restart: 'split' as const };
  const { q, params } = makeQuantizer(opts);
  setBook(params, 0, [[0, 0], [10, 10], [-50, -50]]);
  // Two tight groups share code 1's cluster: a lone code sits between them.
  const cluster = [[8, 10], [8, 10.2], [12, 10], [12, 9.8]];
  for (let i = 0; i < 5; i++) {
    const r = q.quantize(tf.tensor2d([[0, 0.1], ...cluster]));
    q.update(r.residuals, r.stageCodes, Math.random);
  }
  q.usage[0][2] = 0.01; // dead
  const before = { ...stats(q, 0), usage: q.usage[0].slice(), book: q.codebooks[0].entries.dataSync().slice() };
  assert.ok(before.usage[1] > before.usage[0], 'code 1 is the busiest');
  const recent = tf.tensor2d(cluster);
  assert.equal(q.codebooks[0].restartDeadCodes(recent, new Random(1).next), 1);
  const book = q.codebooks[0].entries.dataSync();
  const after = stats(q, 0);
  // The parent keeps its entry; the child sits a tenth of the way from it toward one of its members.
  assert.deepEqual([book[2], book[3]], [before.book[2], before.book[3]]);
  const child = [book[4], book[5]];
  const fromParent = [child[0] - before.book[2], child[1] - before.book[3]];
  assert.ok(cluster.some(([x, y]) => Math.abs(fromParent[0] - 0.1 * (x - before.book[2])) < 1e-5 && Math.abs(fromParent[1] - 0.1 * (y - before.book[3])) < 1e-5), `child ${child}`);
  // Halved statistics: the parent's mean is unchanged, the child's is its own entry.
  close([after.clusterSize[1], after.clusterSize[2]], [before.clusterSize[1] / 2, before.clusterSize[1] / 2], 1e-6, 'sizes');
  close([after.embedSum[2] / after.clusterSize[1], after.embedSum[3] / after.clusterSize[1]], [before.book[2], before.book[3]], 1e-5, 'parent mean');
  close([after.embedSum[4] / after.clusterSize[2], after.embedSum[5] / after.clusterSize[2]], child, 1e-5, 'child mean');
  close([q.usage[0][1], q.usage[0][2]], [before.usage[1] / 2, before.usage[1] / 2], 1e-6, 'usage');
  assert.equal(after.clusterSize[0], before.clusterSize[0], 'other codes untouched');
  // A few more updates on the same data: the split holds, each code takes one of the two groups.
  for (let i = 0; i < 5; i++) {
    const r = q.quantize(tf.tensor2d(cluster));
    const codes = Array.from(r.codes.dataSync());
    if (i === 4) assert.deepEqual(new Set(codes), new Set([1, 2]), `codes ${codes}`);
    q.update(r.residuals, r.stageCodes, Math.random);
  }
  recent.dispose();
});
