/**
 * Golden values for the residual vector quantizer (src/model/quantizer.ts): on fixed inputs, every
 * output, gradient, batch statistic, EMA update, dead-code restart, k-means init, code and decoded
 * vector hashes to what commit 69fe935 computed (cpu backend, bit for bit). A refactoring that
 * changes any number fails here. If a TF.js or Node upgrade changes the cpu kernels' rounding,
 * regenerate the digests at a commit whose behaviour is trusted.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { quantizerSettings, type QuantizerSettings } from '../src/model/config.js';
import { ParamStore } from '../src/model/params.js';
import { mergeStatistics, ResidualVectorQuantizer, type BatchStatistics, type QuantizeResult } from '../src/model/quantizer.js';
import { Random } from '../src/train/random.js';

before(async () => {
  await initBackend('cpu');
});

/** sha256 over labelled arrays, in the order they are added. */
class Digest {
  private readonly hash = createHash('sha256');

  add(label: string, data: Float32Array | Int32Array | Uint8Array): void {
    this.hash.update(label);
    this.hash.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  tensor(label: string, t: tf.Tensor): void {
    this.add(label, t.dataSync() as Float32Array | Int32Array);
  }

  params(label: string, params: ParamStore): void {
    for (const [name, a] of Object.entries(params.snapshot())) this.add(`${label}:${name}`, a.data);
  }

  statistics(label: string, stats: BatchStatistics): void {
    stats.counts.forEach((c, q) => this.add(`${label}:counts${q}`, c));
    stats.sums.forEach((s, q) => this.add(`${label}:sums${q}`, s));
  }

  hex(): string {
    return this.hash.digest('hex').slice(0, 32);
  }
}

function gaussian(n: number, rng: Random): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(Math.max(rng.next(), 1e-12))) * Math.cos(2 * Math.PI * rng.next());
  return out;
}

interface Scenario {
  quantizer: Partial<QuantizerSettings>;
  /** Active codebooks at each training step (quantizer dropout). */
  numActive: number[];
}

const BASE = { codebookSize: 16, dim: 4, numCodebooks: 3, emaDecay: 0.5, deadCodeThreshold: 0.6, kmeansIterations: 3 };

const SCENARIOS: Record<string, Scenario> = {
  'ema, split restarts (as shipped)': { quantizer: { ...BASE, ema: true, restart: 'split', kmeansInit: true }, numActive: [3, 3, 2, 3, 1, 3, 3] },
  'ema, sample restarts': { quantizer: { ...BASE, ema: true, restart: 'sample', kmeansInit: true }, numActive: [3, 2, 3, 3, 1, 3, 3] },
  'ema, no k-means, no restarts': { quantizer: { ...BASE, ema: true, kmeansInit: false, deadCodeThreshold: 0 }, numActive: [3, 3, 2, 3] },
  'codebook loss, sample restarts': { quantizer: { ...BASE, ema: false, restart: 'sample', kmeansInit: false }, numActive: [3, 3, 1, 3, 2, 3] },
  'factorized codes, split restarts': {
    quantizer: { ...BASE, dim: 6, lookupDim: 2, ema: false, restart: 'split', kmeansInit: true },
    numActive: [3, 2, 3, 3, 1, 3],
  },
};

const GOLDEN: Record<string, string> = {
  'ema, split restarts (as shipped)': '8fcda1f16f1aa43be9fb3cc5b022c6c1',
  'ema, sample restarts': '30aeff4870213bb9fad64e9ce12ed5b3',
  'ema, no k-means, no restarts': '81005c1799ff3f4c1c61f8ad28d4582b',
  'codebook loss, sample restarts': 'ca5154dcd93153ca4970cf814432f052',
  'factorized codes, split restarts': '4b3673768e2cc1e3e11c0cd7ce36b573',
};

/** Drifting data, so that codes fall out of use; some codes are also pushed below the threshold by hand. */
function runScenario(scenario: Scenario): string {
  const config = quantizerSettings(scenario.quantizer);
  const params = new ParamStore(3);
  const q = new ResidualVectorQuantizer(params, config);
  const digest = new Digest();
  const data = new Random(11);
  const random = new Random(17);
  const N = 48;
  const D = config.dim;
  const batch = (step: number) => tf.tidy(() => tf.add(tf.mul(tf.tensor2d(gaussian(N * D, data), [N, D]), 1 + 0.3 * step), 0.4 * step) as tf.Tensor2D);
  const before = tf.memory().numTensors;

  const first = batch(0);
  if (q.needsInit()) q.initFromData(first, random.next);
  first.dispose();
  digest.params('init', params);

  scenario.numActive.forEach((numActive, step) => {
    const z = batch(step);
    const G = tf.tensor2d(gaussian(N * config.dim, data), [N, config.dim]);
    if (step === 2) {
      for (let c = 0; c < config.numCodebooks; c++) for (const k of [1, 5]) q.usage[c][k] = 0.01;
    }
    const r = tf.tidy(() => ({ ...q.quantize(z, numActive) })) as unknown as QuantizeResult;
    for (const [label, t] of Object.entries({ codes: r.codes, quantized: r.quantized, codebookLoss: r.codebookLoss, commitmentLoss: r.commitmentLoss })) digest.tensor(`${step}:${label}`, t);
    r.residuals.forEach((t, i) => digest.tensor(`${step}:residual${i}`, t));
    const objective = (x: tf.Tensor2D) => {
      const out = q.quantize(x, numActive);
      return tf.addN([out.codebookLoss, out.commitmentLoss, tf.sum(tf.mul(out.quantized, G))]) as tf.Scalar;
    };
    const dz = tf.tidy(() => tf.grad((x: tf.Tensor) => objective(x as tf.Tensor2D))(z));
    digest.tensor(`${step}:dz`, dz);
    if (!config.ema) {
      // The codebook loss and the projections learn by gradient: one SGD step on every trainable variable.
      const vars = params.trainableVariables();
      const { value, grads } = tf.variableGrads(() => objective(z), Object.values(vars));
      for (const [name, v] of Object.entries(vars)) {
        const g = grads[v.name];
        if (g === undefined) continue;
        digest.tensor(`${step}:grad:${name}`, g);
        tf.tidy(() => v.assign(tf.sub(v, tf.mul(g, 0.05))));
      }
      tf.dispose([value, ...Object.values(grads)]);
    }
    const stats = q.batchStatistics(r.residuals, r.stageCodes);
    digest.statistics(`${step}:stats`, stats);
    // Two replicas' halves add up to the whole batch's statistics.
    const half = (from: number) => {
      const codes = r.stageCodes.map((c) => tf.slice(c, [from], [N / 2]));
      const residuals = r.residuals.map((t) => tf.slice(t, [from, 0], [N / 2, -1]));
      const s = q.batchStatistics(residuals, codes);
      tf.dispose([...codes, ...residuals]);
      return s;
    };
    digest.statistics(`${step}:merged`, mergeStatistics([half(0), half(N / 2)]));
    const counts = q.applyStatistics(stats, r.residuals, random.next);
    counts.forEach((c, i) => digest.add(`${step}:counts${i}`, c));
    digest.params(`${step}:params`, params);
    q.usage.forEach((u, i) => digest.add(`${step}:usage${i}`, u));
    tf.dispose([z, G, dz, r.codes, r.quantized, r.codebookLoss, r.commitmentLoss, ...r.residuals, ...r.stageCodes]);
  });

  const z = batch(scenario.numActive.length);
  for (let n = 1; n <= config.numCodebooks; n++) {
    const codes = q.encode(z, n);
    const decoded = q.decode(codes);
    digest.tensor(`encode${n}`, codes);
    digest.tensor(`decode${n}`, decoded);
    tf.dispose([codes, decoded]);
  }
  z.dispose();
  q.resetStatistics();
  digest.params('reset', params);
  params.dispose();
  assert.ok(tf.memory().numTensors <= before, `tensors: ${before} before, ${tf.memory().numTensors} after`);
  return digest.hex();
}

for (const [name, scenario] of Object.entries(SCENARIOS)) {
  test(`golden: ${name}`, () => {
    assert.equal(runScenario(scenario), GOLDEN[name]);
  });
}
