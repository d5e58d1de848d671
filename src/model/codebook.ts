/**
 * One codebook of a residual vector quantizer: K entries and their upkeep.
 *
 * Entries learn either from the codebook loss (trainable) or by exponential moving averages of
 * the vectors assigned to them, with Laplace smoothing of the cluster sizes (van den Oord et al.,
 * 2017, appendix A.1; as in vector-quantize-pytorch). A batch's share of the statistics is host
 * arrays (`statistics`), so that data-parallel replicas can add theirs up before one update
 * (`applyStatistics`). k-means initialises the entries on the first batch, and codes that fall out
 * of use restart by a policy of restarts.ts.
 *
 * Two EMAs of the assignment counts are kept, on purpose. `clusterSize` (a tensor, float32 ops) is
 * the EMA update's denominator; `usage` (host, float64 ops rounded once) decides which codes are
 * dead and which are busiest. They agree only to ~1e-6 relative, and with the codebook loss
 * (ema: false) clusterSize is not updated at all; a single one would change restart decisions
 * (near-ties among the busiest codes) and so the training runs that checkpoints continue.
 */
import * as tf from '@tensorflow/tfjs';
import type { QuantizerSettings } from './config.js';
import { kmeans } from './kmeans.js';
import { lookupNearest, type Nearest } from './nearest.js';
import type { ParamStore } from './params.js';
import { deadCodes, RESTART_POLICIES, type CodebookState, type RowWrite } from './restarts.js';

/** A batch's contribution to one codebook: how many vectors chose each code [K] and their sums [K·D], row-major. */
export interface CodebookStatistics {
  counts: Float32Array;
  sums: Float32Array;
}

/** Folds a batch's counts into a usage EMA (what perplexity and dead-code restarts read); returns the counts as integers. */
export function trackUsage(usage: Float32Array, counts: Float32Array, decay: number): Int32Array {
  const whole = new Int32Array(usage.length);
  for (let k = 0; k < usage.length; k++) {
    whole[k] = Math.round(counts[k]);
    usage[k] = decay * usage[k] + (1 - decay) * counts[k];
  }
  return whole;
}

export class Codebook implements CodebookState {
  /** [K, D]; trainable when learned by the codebook loss. */
  readonly entries: tf.Variable;
  /** EMA of assignment counts [K] (N_k of the EMA update). */
  readonly clusterSize: tf.Variable;
  /** EMA of the sums of assigned vectors [K, D] (m_k of the EMA update). */
  readonly embedSum: tf.Variable;
  /** EMA of assignments per step [K], on the host: dead-code detection reads it every step. */
  readonly usage: Float32Array;

  /** Registers `quantizer.codebook{index}`, `quantizer.clusterSize{index}`, `quantizer.embedSum{index}`, in that order. */
  /**
   * `stride`: frames per code (multi-rate codes). Such a codebook sees 1/stride as many vectors a
   * step, so its dead-code threshold (in assignments per step) is divided by its stride: otherwise
   * a coarse codebook's ordinary codes would count as dead and restart over and over.
   */
  constructor(params: ParamStore, index: number, private readonly config: QuantizerSettings, private readonly nearest: Nearest, private readonly stride = 1) {
    const { codebookSize: K, dim, lookupDim } = config;
    const D = lookupDim ?? dim;
    this.entries = params.uniform(`quantizer.codebook${index}`, [K, D], D, 1, !config.ema);
    // Every code starts as if it had one assignment, so an unused code's mean stays put while both
    // statistics decay (until Laplace smoothing dominates, by which time dead-code restart has revived it).
    this.clusterSize = params.fill(`quantizer.clusterSize${index}`, [K], 1, false);
    this.embedSum = params.add(`quantizer.embedSum${index}`, tf.clone(this.entries), false);
    this.usage = new Float32Array(K).fill(1);
  }

  /** The EMA statistics are training state: a shipped model leaves them out and they restart from the entries. */
  static isTrainingState(name: string): boolean {
    return /^quantizer\.(clusterSize|embedSum)\d+$/.test(name);
  }

  /** Index of the nearest entry for each row of x: int32 [N]. */
  codesOf(x: tf.Tensor2D): tf.Tensor1D {
    return this.nearest(x, this.entries as tf.Tensor2D);
  }

  /** The entries of `codes`: [N, D]. */
  entriesOf(codes: tf.Tensor1D): tf.Tensor2D {
    return tf.gather(this.entries, codes) as tf.Tensor2D;
  }

  /** Training lookup: the nearest entries, whose gradient reaches only the chosen rows, and their codes. */
  lookup(x: tf.Tensor2D): { chosen: tf.Tensor2D; codes: tf.Tensor1D } {
    return lookupNearest(x, this.entries as tf.Tensor2D, this.nearest);
  }

  /** k-means on `points` (in the lookup space); the statistics restart from the new entries. */
  initFromData(points: tf.Tensor2D, random: () => number): void {
    const centroids = kmeans(points, this.config.codebookSize, this.config.kmeansIterations, this.nearest, random);
    this.replace(centroids);
    centroids.dispose();
  }

  /** Restarts the EMA statistics from the current entries (one assignment each); usage is left as it is. */
  resetStatistics(): void {
    tf.tidy(() => {
      this.embedSum.assign(this.entries);
      this.clusterSize.assign(tf.onesLike(this.clusterSize));
    });
  }

  /** Replaces every entry; statistics and usage restart from them (one assignment each). */
  private replace(values: tf.Tensor2D): void {
    tf.tidy(() => {
      this.entries.assign(values);
      this.embedSum.assign(values);
      this.clusterSize.assign(tf.onesLike(this.clusterSize));
    });
    this.usage.fill(1);
  }

  /** This batch's share: which code each residual chose (`codes`) and the sums of what chose it. */
  statistics(residuals: tf.Tensor2D, codes: tf.Tensor1D): CodebookStatistics {
    const [counts, sums] = tf.tidy(() => {
      const onehot = tf.oneHot(codes, this.config.codebookSize).toFloat();
      return [tf.sum(onehot, 0), tf.matMul(tf.transpose(onehot), residuals)];
    });
    const out = { counts: counts.dataSync() as Float32Array, sums: sums.dataSync() as Float32Array };
    tf.dispose([counts, sums]);
    return out;
  }

  /**
   * After an optimizer step: the EMA update of the entries (when enabled), usage tracking and
   * dead-code restarts onto `recent` residuals. Returns the integer counts.
   */
  applyStatistics(stats: CodebookStatistics, recent: tf.Tensor2D, random: () => number): Int32Array {
    if (this.config.ema) this.updateByEma(stats);
    const counts = trackUsage(this.usage, stats.counts, this.config.emaDecay);
    if (this.deadCodeThreshold > 0) this.restartDeadCodes(recent, random);
    return counts;
  }

  /** Restarts every code used less than the threshold, by the configured policy. Returns how many came back. */
  restartDeadCodes(recent: tf.Tensor2D, random: () => number): number {
    const { restart = 'sample' } = this.config;
    const threshold = this.deadCodeThreshold;
    const dead = deadCodes(this.usage, threshold);
    if (dead.length === 0) return 0;
    return tf.tidy(() => {
      const { revived, writes, usage } = RESTART_POLICIES[restart](this, dead, recent, random, threshold);
      for (const w of writes) this.writeRows(w);
      for (const [k, u] of usage) this.usage[k] = u;
      return revived;
    });
  }

  /** Codes used less often than this (assignments per step) restart. */
  get deadCodeThreshold(): number {
    return this.config.deadCodeThreshold / this.stride;
  }

  /** EMA statistics (for tests and diagnostics). */
  emaState(): { clusterSize: Float32Array; embedSum: Float32Array } {
    return { clusterSize: this.clusterSize.dataSync() as Float32Array, embedSum: this.embedSum.dataSync() as Float32Array };
  }

  private updateByEma({ counts, sums }: CodebookStatistics): void {
    const { codebookSize: K, emaDecay: decay, emaEpsilon: eps } = this.config;
    tf.tidy(() => {
      const size = decayed(this.clusterSize, tf.tensor1d(counts), decay);
      const embed = decayed(this.embedSum, tf.tensor2d(sums, this.embedSum.shape as [number, number]), decay);
      this.clusterSize.assign(size);
      this.embedSum.assign(embed);
      this.entries.assign(tf.div(embed, tf.expandDims(laplaceSmoothed(size as tf.Tensor1D, eps, K), 1)));
    });
  }

  /**
   * Writes rows of the entries, EMA sums and cluster sizes. Built by a one-hot matmul rather than
   * tensorScatterUpdate, whose cpu kernel writes into its input.
   */
  private writeRows({ codes, entries, sums, sizes }: RowWrite): void {
    tf.tidy(() => {
      const placement = tf.transpose(tf.oneHot(tf.tensor1d(codes, 'int32'), this.config.codebookSize).toFloat()) as tf.Tensor2D; // [K, codes]
      const isPlaced = tf.greater(tf.sum(placement, 1), 0);
      const mask = tf.expandDims(isPlaced, 1);
      this.entries.assign(tf.where(mask, tf.matMul(placement, entries), this.entries));
      this.embedSum.assign(tf.where(mask, tf.matMul(placement, sums), this.embedSum));
      this.clusterSize.assign(tf.where(isPlaced, tf.squeeze(tf.matMul(placement, tf.expandDims(sizes, 1)), [1]), this.clusterSize));
    });
  }
}

/** decay · previous + (1 − decay) · batch. */
function decayed(previous: tf.Tensor, batch: tf.Tensor, decay: number): tf.Tensor {
  return tf.add(tf.mul(previous, decay), tf.mul(batch, 1 - decay));
}

/** Laplace smoothing keeps each cluster size positive without changing their total. */
function laplaceSmoothed(size: tf.Tensor1D, eps: number, K: number): tf.Tensor1D {
  const total = tf.sum(size);
  return tf.mul(tf.div(tf.add(size, eps), tf.add(total, K * eps)), total);
}
