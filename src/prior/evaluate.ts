/**
 * A prior's cross-entropy over token files, batched on tfjs: what entropy coding under the prior
 * costs, without coding. Each file is read as the entropy coder reads it (ExactPrior's window:
 * windowStart), so the figure is the coder's within float32 rounding and the integer CDFs' small
 * overhead, at the speed of a few forward passes per file instead of one float64 step at a time.
 */
import * as tf from '@tensorflow/tfjs';
import { stridesOf } from '../tokens/codeStrides.js';
import { windowStart } from './exactPrior.js';
import { superFrameLayout } from './superFrames.js';
import type { TokenPrior } from './transformer.js';

export interface PriorCrossEntropy {
  /** Bits per code of each real codebook the prior models. */
  bitsPerCodebook: number[];
  /** Codes counted per real codebook. */
  codes: number[];
  /** Each real codebook's codes by value [numCodebooks][K]: their unigram entropy is the no-context reference. */
  counts: Float64Array[];
}

/**
 * The cross-entropy of `prior` over delayed grids (src/prior/data.ts priorGrid: the start step,
 * then one step per frame or super-frame), predicting every real token of every file from the
 * steps before it in the coder's window. `onFile` reports progress.
 */
export function priorCrossEntropy(prior: TokenPrior, grids: readonly Int32Array[], onFile?: (done: number) => void): PriorCrossEntropy {
  const { codebookSize: K, context, numCodebooks } = prior.config;
  const V = prior.virtualCodebooks;
  const { codebook } = superFrameLayout(stridesOf(prior.config));
  const nats = new Float64Array(numCodebooks);
  const codes = new Array<number>(numCodebooks).fill(0);
  const counts = Array.from({ length: numCodebooks }, () => new Float64Array(K));
  grids.forEach((grid, file) => {
    const steps = grid.length / V;
    // Steps whose window starts at the same step are one forward pass (causal attention).
    for (let first = 1; first < steps; ) {
      const start = windowStart(first, context);
      let last = first;
      while (last + 1 < steps && windowStart(last + 1, context) === start) last++;
      const logProbs = tf.tidy(() => {
        const inputs = tf.tensor3d(grid.subarray(start * V, last * V), [1, last - start, V], 'int32');
        return tf.logSoftmax(tf.reshape(prior.logits(inputs), [-1, K]));
      });
      const values = logProbs.dataSync();
      logProbs.dispose();
      for (let s = first; s <= last; s++) {
        for (let v = 0; v < V; v++) {
          const token = grid[s * V + v]!;
          if (token >= K) continue; // padding of the delay pattern or of a partial super-frame
          const q = codebook[v]!;
          nats[q] -= values[((s - start - 1) * V + v) * K + token]!;
          codes[q]++;
          counts[q]![token]++;
        }
      }
      first = last + 1;
    }
    onFile?.(file + 1);
  });
  return { bitsPerCodebook: Array.from(nats, (n, q) => n / Math.max(1, codes[q]!) / Math.LN2), codes, counts };
}
