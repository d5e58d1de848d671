/**
 * Finite scalar quantization (FSQ: Mentzer et al., 2023) as one stage of the residual quantizer.
 *
 * The stage's input is a learned projection of the residual to levels.length dims, each bounded
 * to (−1, 1) by tanh (see `bound`). Dimension i is rounded to the nearest of levels[i] evenly
 * spaced values from −1 to 1, and the code is the mixed-radix number of those digits (dimension 0
 * the most significant), so the grid holds every code: K = Π levels. No entries are learned, so
 * there is no codebook or commitment loss, no EMA, no k-means and no dead code to restart; the
 * usage EMA is kept only to report perplexity and dead codes like a learned codebook's.
 */
import * as tf from '@tensorflow/tfjs';
import { trackUsage, type CodebookStatistics } from './codebook.js';

export class ScalarCodebook {
  /** EMA of assignments per step [K] (reporting only). */
  readonly usage: Float32Array;
  readonly size: number;
  /** Place value of each dimension's digit: radix[i] = Π levels[i+1..]. */
  private readonly radix: number[];

  constructor(readonly levels: readonly number[], private readonly emaDecay: number) {
    this.size = levels.reduce((a, b) => a * b, 1);
    this.radix = levels.map((_, i) => levels.slice(i + 1).reduce((a, b) => a * b, 1));
    this.usage = new Float32Array(this.size).fill(1);
  }

  /** Bounds a projection to the open cube (−1, 1)^d, where the grid lies; differentiable. */
  static bound(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tanh(x);
  }

  /** Digits [N, d] (float, 0..levels[i] − 1) of bounded rows x [N, d]. */
  private digitsOf(x: tf.Tensor2D): tf.Tensor2D {
    const steps = tf.tensor1d(this.levels.map((l) => l - 1));
    // (x + 1) / 2 ∈ (0, 1) scaled to 0..L−1 and rounded; clipped so a row outside the cube still maps to a code.
    return tf.minimum(tf.relu(tf.round(tf.mul(tf.div(tf.add(x, 1), 2), steps))), steps) as tf.Tensor2D;
  }

  /** Grid values [N, d] of digits [N, d]: −1 + 2·digit / (L − 1). */
  private valuesOf(digits: tf.Tensor2D): tf.Tensor2D {
    const steps = tf.tensor1d(this.levels.map((l) => l - 1));
    return tf.sub(tf.div(tf.mul(digits, 2), steps), 1) as tf.Tensor2D;
  }

  /** The mixed-radix code of digits [N, d]: int32 [N]. */
  private codeOfDigits(digits: tf.Tensor2D): tf.Tensor1D {
    return tf.sum(tf.mul(digits, tf.tensor1d(this.radix)), 1).toInt() as tf.Tensor1D;
  }

  /** The code of the nearest grid point to each bounded row: int32 [N]. */
  codesOf(x: tf.Tensor2D): tf.Tensor1D {
    return tf.tidy(() => this.codeOfDigits(this.digitsOf(x)));
  }

  /** The grid points of `codes`: [N, d]. */
  entriesOf(codes: tf.Tensor1D): tf.Tensor2D {
    return tf.tidy(() => {
      const c = tf.expandDims(codes.toFloat(), 1);
      // digit i = floor(code / radix[i]) mod levels[i]; exact in float32 for K ≤ 2^24.
      const digits = tf.mod(tf.floor(tf.div(c, tf.tensor1d(this.radix))), tf.tensor1d(this.levels as number[])) as tf.Tensor2D;
      return this.valuesOf(digits);
    });
  }

  /** Training lookup: the nearest grid points (no gradient: the quantizer passes it straight through) and their codes. */
  lookup(x: tf.Tensor2D): { chosen: tf.Tensor2D; codes: tf.Tensor1D } {
    return tf.tidy(() => {
      const digits = this.digitsOf(x);
      return { chosen: this.valuesOf(digits), codes: this.codeOfDigits(digits) };
    });
  }

  /** Assignment counts [K] of a batch; no sums (nothing is averaged into a grid). */
  statistics(_residuals: tf.Tensor2D, codes: tf.Tensor1D): CodebookStatistics {
    const counts = new Float32Array(this.size);
    for (const c of codes.dataSync()) counts[c]++;
    return { counts, sums: new Float32Array(0) };
  }

  /** Tracks usage; returns the integer counts. */
  applyStatistics(stats: CodebookStatistics): Int32Array {
    return trackUsage(this.usage, stats.counts, this.emaDecay);
  }
}
