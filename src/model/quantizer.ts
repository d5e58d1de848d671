/**
 * Vector quantization (van den Oord et al., 2017) and its residual form (SoundStream, 2021).
 *
 * Each codebook snaps a D-dim vector to its nearest entry by L2. The argmin has no
 * gradient, so the quantized output is z_e + sg[z_q − z_e] ("straight-through"):
 * its value is z_q, its gradient flows to z_e unchanged. Residual VQ applies
 * N codebooks in turn, each to what the previous ones left.
 *
 * Options follow vector-quantize-pytorch: EMA codebook updates with Laplace smoothing,
 * k-means initialisation on the first batch, and dead-code restart from recent
 * encoder outputs, which also resets the revived code's EMA statistics (otherwise the
 * next EMA update recomputes the old mean and undoes the revival).
 *
 * With `lookupDim` set, codes are factorized as in DAC (Kumar et al., 2023): each codebook
 * looks up a learned low-dim projection of the residual by cosine similarity and projects
 * its entry back up. A low-dim, angle-only lookup spreads assignments over many more codes.
 */
import * as tf from '@tensorflow/tfjs';
import type { QuantizerConfig } from './config.js';
import { kmeans } from './kmeans.js';
import { lookupNearest, nearestByAngle, nearestCodes, unitRows, type Nearest } from './nearest.js';
import type { ParamStore } from './params.js';

/** Identity forward, zero gradient: the sg[·] of the VQ-VAE paper. */
export const stopGradient = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.clone(x),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as never) as unknown as <T extends tf.Tensor>(x: T) => T;

/** A learned linear map in and out of a codebook's lookup space (factorized codes). */
class Projection {
  private readonly inW: tf.Variable;
  private readonly inB: tf.Variable;
  private readonly outW: tf.Variable;
  private readonly outB: tf.Variable;

  constructor(params: ParamStore, q: number, dim: number, lookupDim: number) {
    this.inW = params.uniform(`quantizer.project${q}.in.w`, [dim, lookupDim], dim);
    this.inB = params.fill(`quantizer.project${q}.in.b`, [lookupDim], 0);
    this.outW = params.uniform(`quantizer.project${q}.out.w`, [lookupDim, dim], lookupDim);
    this.outB = params.fill(`quantizer.project${q}.out.b`, [dim], 0);
  }

  down(x: tf.Tensor2D): tf.Tensor2D {
    return tf.add(tf.matMul(x, this.inW as tf.Tensor2D), this.inB);
  }

  up(x: tf.Tensor2D): tf.Tensor2D {
    return tf.add(tf.matMul(x, this.outW as tf.Tensor2D), this.outB);
  }
}

/** Per active codebook: assignment counts [K] and sums of assigned vectors [K·D], row-major. */
export interface BatchStatistics {
  counts: Float32Array[];
  sums: Float32Array[];
}

/** Adds replicas' statistics (same codebooks active in each). */
export function mergeStatistics(parts: BatchStatistics[]): BatchStatistics {
  const add = (arrays: Float32Array[]) => {
    const out = new Float32Array(arrays[0].length);
    for (const a of arrays) for (let i = 0; i < a.length; i++) out[i] += a[i];
    return out;
  };
  return {
    counts: parts[0].counts.map((_, q) => add(parts.map((p) => p.counts[q]))),
    sums: parts[0].sums.map((_, q) => add(parts.map((p) => p.sums[q]))),
  };
}

export interface QuantizeResult {
  /** Quantized vectors [N, D]: value Σ e_q, gradient straight through to z_e (factorized: through the projections). */
  quantized: tf.Tensor2D;
  /** int32 [N, numActive]. */
  codes: tf.Tensor2D;
  /** Σ_q mean ||sg[r_q] − e_q||² (zero when codebooks are EMA-updated). */
  codebookLoss: tf.Scalar;
  /** β Σ_q mean ||r_q − sg[e_q]||². */
  commitmentLoss: tf.Scalar;
  /** The input r_q each codebook saw (factorized: its projection), gradient-free; the trainer keeps them for EMA and restarts. */
  residuals: tf.Tensor2D[];
}

export class ResidualVectorQuantizer {
  readonly codebooks: tf.Variable[] = [];
  /** One per codebook when codes are factorized (lookupDim set), else empty. */
  private readonly projections: Projection[] = [];
  private readonly nearest: Nearest;
  private readonly clusterSize: tf.Variable[] = [];
  private readonly embedSum: tf.Variable[] = [];
  /** 1 once the codebooks have been initialised from data (saved with the weights). */
  private readonly initialised: tf.Variable;
  /** EMA of assignments per step for each code, in JS: dead-code detection needs it on the host anyway. */
  readonly usage: Float32Array[] = [];

  constructor(params: ParamStore, readonly config: QuantizerConfig) {
    const { codebookSize: K, dim, lookupDim, numCodebooks } = config;
    const D = lookupDim ?? dim;
    this.nearest = lookupDim === undefined ? nearestCodes : nearestByAngle;
    for (let q = 0; q < numCodebooks; q++) {
      if (lookupDim !== undefined) this.projections.push(new Projection(params, q, dim, lookupDim));
      const book = params.uniform(`quantizer.codebook${q}`, [K, D], D, 1, !config.ema);
      this.codebooks.push(book);
      // Every code starts as if it had one assignment, so an unused code's mean stays put while both
      // statistics decay (until Laplace smoothing dominates, by which time dead-code restart has revived it).
      this.clusterSize.push(params.fill(`quantizer.clusterSize${q}`, [K], 1, false));
      this.embedSum.push(params.add(`quantizer.embedSum${q}`, tf.clone(book), false));
      this.usage.push(new Float32Array(K).fill(1));
    }
    this.initialised = params.fill('quantizer.initialised', [1], config.kmeansInit ? 0 : 1, false);
  }

  get numCodebooks(): number {
    return this.config.numCodebooks;
  }

  needsInit(): boolean {
    return this.initialised.dataSync()[0] === 0;
  }

  /** Quantizes z [N, D] with the first `numActive` codebooks. */
  quantize(z: tf.Tensor2D, numActive = this.numCodebooks): QuantizeResult {
    let residual = z;
    let sum: tf.Tensor2D = tf.zerosLike(z);
    let codebookLoss: tf.Scalar = tf.scalar(0);
    let commitmentLoss: tf.Scalar = tf.scalar(0);
    const codes: tf.Tensor1D[] = [];
    const residuals: tf.Tensor2D[] = [];
    for (let q = 0; q < numActive; q++) {
      const book = this.codebooks[q] as tf.Tensor2D;
      const projection = this.projections[q] as Projection | undefined;
      const input = projection ? projection.down(residual) : residual;
      const held = stopGradient(input);
      residuals.push(held);
      const { chosen, codes: indices } = lookupNearest(held, book, this.nearest);
      codes.push(indices);
      if (!this.config.ema) codebookLoss = tf.add(codebookLoss, tf.mean(tf.square(tf.sub(held, chosen))));
      const chosenHeld = stopGradient(chosen);
      commitmentLoss = tf.add(commitmentLoss, tf.mean(tf.square(tf.sub(input, chosenHeld))));
      if (projection) {
        // Straight-through inside the lookup space; the projections learn from the decoder's gradient.
        const out = projection.up(tf.add(input, stopGradient(tf.sub(chosen, input))));
        sum = tf.add(sum, out);
        residual = tf.sub(residual, out);
      } else {
        sum = tf.add(sum, chosen);
        // The next codebook sees what this one left; its error does not flow back into this one's choice.
        residual = tf.sub(residual, chosenHeld);
      }
    }
    // Straight-through: the value is Σ e_q, the decoder's gradient is copied to z unchanged.
    // Codebooks learn only from the codebook loss (or from EMA updates).
    const quantized = this.projections.length > 0 ? sum : (tf.add(z, stopGradient(tf.sub(sum, z))) as tf.Tensor2D);
    return {
      quantized,
      codes: tf.stack(codes, 1) as tf.Tensor2D,
      codebookLoss,
      commitmentLoss: tf.mul(commitmentLoss, this.config.commitmentWeight),
      residuals,
    };
  }

  /** Codebook q's entries for `indices`, in the latent space (projected up when factorized). */
  private entries(q: number, indices: tf.Tensor1D): tf.Tensor2D {
    const e = tf.gather(this.codebooks[q], indices) as tf.Tensor2D;
    return this.projections.length > 0 ? this.projections[q].up(e) : e;
  }

  /** Codes only (inference): int32 [N, numActive]. */
  encode(z: tf.Tensor2D, numActive = this.numCodebooks): tf.Tensor2D {
    return tf.tidy(() => {
      let residual = z;
      const codes: tf.Tensor1D[] = [];
      for (let q = 0; q < numActive; q++) {
        const input = this.projections.length > 0 ? this.projections[q].down(residual) : residual;
        const idx = this.nearest(input, this.codebooks[q] as tf.Tensor2D);
        codes.push(idx);
        residual = tf.sub(residual, this.entries(q, idx));
      }
      return tf.stack(codes, 1) as tf.Tensor2D;
    });
  }

  /** Σ_q codebook_q[codes[:, q]] for however many codebooks `codes` has: [N, D]. */
  decode(codes: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const numActive = codes.shape[1];
      let sum: tf.Tensor2D | undefined;
      for (let q = 0; q < numActive; q++) {
        const idx = tf.reshape(tf.slice(codes, [0, q], [-1, 1]), [-1]) as tf.Tensor1D;
        const e = this.entries(q, idx);
        sum = sum === undefined ? e : (tf.add(sum, e) as tf.Tensor2D);
      }
      return sum!;
    });
  }

  /** k-means initialisation of every codebook on one batch of encoder outputs, one codebook after another on the residuals. */
  initFromData(z: tf.Tensor2D, random: () => number): void {
    const { codebookSize: K, kmeansIterations } = this.config;
    let residual = tf.clone(z);
    for (let q = 0; q < this.numCodebooks; q++) {
      // Factorized codes cluster the (unit-length) projections, by angle like the lookup.
      const points = tf.tidy(() => (this.projections.length > 0 ? unitRows(this.projections[q].down(residual)) : tf.clone(residual)));
      const centroids = kmeans(points, K, kmeansIterations, this.nearest, random);
      this.setCodebook(q, centroids);
      const next = tf.tidy(() => tf.sub(residual, this.entries(q, this.nearest(points, centroids))) as tf.Tensor2D);
      tf.dispose([residual, points, centroids]);
      residual = next;
    }
    residual.dispose();
    this.initialised.assign(tf.ones([1]));
  }

  /** EMA statistics are training state: a shipped model leaves them out and they restart from the codebooks. */
  static isTrainingState(name: string): boolean {
    return /^quantizer\.(clusterSize|embedSum)\d+$/.test(name);
  }

  /** Restarts every codebook's EMA statistics from its current entries (one assignment each). */
  resetStatistics(): void {
    this.codebooks.forEach((book, q) => {
      this.embedSum[q].assign(book);
      this.clusterSize[q].assign(tf.onesLike(this.clusterSize[q]));
    });
  }

  /** Replaces codebook q and restarts its EMA statistics from it (one assignment each). */
  private setCodebook(q: number, values: tf.Tensor2D): void {
    this.codebooks[q].assign(values);
    this.embedSum[q].assign(values);
    this.clusterSize[q].assign(tf.onesLike(this.clusterSize[q]));
    this.usage[q].fill(1);
  }

  /**
   * What one batch contributes to the codebooks: per active codebook, how many vectors
   * chose each code and their sum. Host arrays, so that data-parallel replicas can add
   * theirs up before one update.
   */
  batchStatistics(residuals: tf.Tensor2D[], codes: tf.Tensor2D): BatchStatistics {
    const K = this.config.codebookSize;
    const counts: Float32Array[] = [];
    const sums: Float32Array[] = [];
    residuals.forEach((r, q) => {
      const [c, s] = tf.tidy(() => {
        const idx = tf.reshape(tf.slice(codes, [0, q], [-1, 1]), [-1]) as tf.Tensor1D;
        const onehot = tf.oneHot(idx, K).toFloat();
        return [tf.sum(onehot, 0), tf.matMul(tf.transpose(onehot), r)];
      });
      counts.push(c.dataSync() as Float32Array);
      sums.push(s.dataSync() as Float32Array);
      tf.dispose([c, s]);
    });
    return { counts, sums };
  }

  /**
   * After an optimizer step: EMA codebook updates (when enabled), usage tracking and
   * dead-code restarts onto `recent` residuals. Returns the integer counts per codebook.
   */
  applyStatistics(stats: BatchStatistics, recent: tf.Tensor2D[], random: () => number): Int32Array[] {
    const { codebookSize: K, dim: D, emaDecay: decay, emaEpsilon: eps, deadCodeThreshold } = this.config;
    return stats.counts.map((batchCounts, q) => {
      if (this.config.ema) {
        tf.tidy(() => {
          const size = tf.add(tf.mul(this.clusterSize[q], decay), tf.mul(tf.tensor1d(batchCounts), 1 - decay));
          const embed = tf.add(tf.mul(this.embedSum[q], decay), tf.mul(tf.tensor2d(stats.sums[q], [K, D]), 1 - decay));
          // Laplace smoothing keeps each size positive without changing their total.
          const total = tf.sum(size);
          const smoothed = tf.mul(tf.div(tf.add(size, eps), tf.add(total, K * eps)), total);
          this.clusterSize[q].assign(size);
          this.embedSum[q].assign(embed);
          this.codebooks[q].assign(tf.div(embed, tf.expandDims(smoothed, 1)));
        });
      }
      const usage = this.usage[q];
      const counts = new Int32Array(K);
      for (let k = 0; k < K; k++) {
        counts[k] = Math.round(batchCounts[k]);
        usage[k] = decay * usage[k] + (1 - decay) * batchCounts[k];
      }
      if (deadCodeThreshold > 0) this.restartDeadCodes(q, recent[q], random);
      return counts;
    });
  }

  /** batchStatistics then applyStatistics, for a single process. */
  update(residuals: tf.Tensor2D[], codes: tf.Tensor2D, random: () => number): Int32Array[] {
    return this.applyStatistics(this.batchStatistics(residuals, codes), residuals, random);
  }

  /**
   * Restarts every code used less than the threshold, resetting its statistics: onto a random
   * recent residual ('sample'), or by splitting one of the busiest codes ('split', see splitCodes).
   */
  restartDeadCodes(q: number, recent: tf.Tensor2D, random: () => number): number {
    const usage = this.usage[q];
    const dead: number[] = [];
    for (let k = 0; k < usage.length; k++) if (usage[k] < this.config.deadCodeThreshold) dead.push(k);
    if (dead.length === 0) return 0;
    if (this.config.restart === 'split') return this.splitCodes(q, dead, recent, random);
    const n = recent.shape[0];
    tf.tidy(() => {
      const picks = tf.tensor1d(dead.map(() => Math.floor(random() * n)), 'int32');
      const fresh = tf.gather(recent, picks) as tf.Tensor2D;
      // The revived code counts as one fresh assignment: sum = vector, size = 1, so the next EMA step keeps it.
      this.placeCodes(q, dead, fresh, fresh, tf.ones([dead.length]));
    });
    for (const k of dead) usage[k] = 1;
    return dead.length;
  }

  /**
   * LBG-style splitting: each dead code becomes a copy of one of the busiest codes (the parent),
   * moved a tenth of the way towards a recent residual that chose the parent, so the two divide
   * the parent's cluster along the data. Parent and child each keep half of the parent's EMA
   * statistics (cluster size, and the sum rescaled to their own mean) and half its usage.
   */
  private splitCodes(q: number, dead: number[], recent: tf.Tensor2D, random: () => number): number {
    const usage = this.usage[q];
    const busiest = Array.from(usage.keys()).sort((a, b) => usage[b] - usage[a]);
    const choices = this.nearest(recent, this.codebooks[q] as tf.Tensor2D);
    const chosen = choices.dataSync();
    choices.dispose();
    const members = new Map<number, number[]>();
    chosen.forEach((k, i) => {
      const rows = members.get(k);
      if (rows) rows.push(i);
      else members.set(k, [i]);
    });
    const parents: number[] = [];
    const towards: number[] = [];
    for (const parent of busiest) {
      if (parents.length === dead.length) break;
      const rows = members.get(parent);
      if (rows === undefined || usage[parent] < 2 * this.config.deadCodeThreshold) continue;
      parents.push(parent);
      towards.push(rows[Math.floor(random() * rows.length)]);
    }
    const children = dead.slice(0, parents.length);
    if (children.length === 0) return 0;
    tf.tidy(() => {
      const parentRows = tf.gather(this.codebooks[q], tf.tensor1d(parents, 'int32')) as tf.Tensor2D;
      const member = tf.gather(recent, tf.tensor1d(towards, 'int32')) as tf.Tensor2D;
      const child = tf.add(parentRows, tf.mul(tf.sub(member, parentRows), 0.1)) as tf.Tensor2D;
      const halfSize = tf.div(tf.gather(this.clusterSize[q], tf.tensor1d(parents, 'int32')), 2) as tf.Tensor1D;
      const scale = tf.expandDims(halfSize, 1);
      // Parents first (same mean, half the statistics), then children in the freed rows.
      this.placeCodes(q, parents, parentRows, tf.mul(parentRows, scale) as tf.Tensor2D, halfSize);
      this.placeCodes(q, children, child, tf.mul(child, scale) as tf.Tensor2D, halfSize);
    });
    parents.forEach((parent, i) => {
      usage[parent] /= 2;
      usage[children[i]] = usage[parent];
    });
    return children.length;
  }

  /**
   * Writes rows `codes` of codebook q (entries `values`), its EMA sums (`sums`) and cluster
   * sizes (`sizes`). Built by a one-hot matmul rather than tensorScatterUpdate, whose cpu kernel
   * writes into its input.
   */
  private placeCodes(q: number, codes: number[], values: tf.Tensor2D, sums: tf.Tensor2D, sizes: tf.Tensor1D): void {
    tf.tidy(() => {
      const K = this.config.codebookSize;
      const placement = tf.transpose(tf.oneHot(tf.tensor1d(codes, 'int32'), K).toFloat()) as tf.Tensor2D; // [K, codes]
      const isPlaced = tf.greater(tf.sum(placement, 1), 0);
      const mask = tf.expandDims(isPlaced, 1);
      this.codebooks[q].assign(tf.where(mask, tf.matMul(placement, values), this.codebooks[q]));
      this.embedSum[q].assign(tf.where(mask, tf.matMul(placement, sums), this.embedSum[q]));
      this.clusterSize[q].assign(tf.where(isPlaced, tf.squeeze(tf.matMul(placement, tf.expandDims(sizes, 1)), [1]), this.clusterSize[q]));
    });
  }

  /** EMA statistics of codebook q (for tests and diagnostics). */
  emaState(q: number): { clusterSize: Float32Array; embedSum: Float32Array } {
    return { clusterSize: this.clusterSize[q].dataSync() as Float32Array, embedSum: this.embedSum[q].dataSync() as Float32Array };
  }
}
