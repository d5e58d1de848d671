/**
 * Nearest-entry search of vector quantization (van den Oord et al., 2017): by L2, or by angle for
 * factorized codes (DAC, Kumar et al., 2023), and the lookup op whose gradient reaches only the
 * chosen entries.
 */
import * as tf from '@tensorflow/tfjs';

/** Index of the nearest codebook row for each row of z: [N, D], [K, D] → int32 [N]. */
export type Nearest = (z: tf.Tensor2D, codebook: tf.Tensor2D) => tf.Tensor1D;

/** Nearest by L2. */
export function nearestCodes(z: tf.Tensor2D, codebook: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    // ||z − e||² = ||z||² − 2 z·e + ||e||²; ||z||² is the same for every e, so it is left out.
    const cross = tf.matMul(z, tf.transpose(codebook)); // explicit transpose: fast path on wasm
    const norms = tf.sum(tf.square(codebook), 1);
    return tf.argMin(tf.sub(norms, tf.mul(cross, 2)), 1) as tf.Tensor1D;
  });
}

/** The row at the smallest angle to each row of z (cosine similarity; |z| does not change the argmax). */
export function nearestByAngle(z: tf.Tensor2D, codebook: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.argMax(tf.matMul(z, tf.transpose(unitRows(codebook))), 1) as tf.Tensor1D);
}

export function unitRows(x: tf.Tensor2D): tf.Tensor2D {
  return tf.div(x, tf.add(tf.norm(x, 'euclidean', 1, true), 1e-12));
}

/**
 * Nearest-entry lookup as one op: the value is codebook[nearest], the gradient goes only to the
 * codebook rows that were chosen (onehotᵀ · dy). Doing the search inside the op keeps the integer
 * indices off the gradient tape (tfjs cannot differentiate through them) and avoids
 * UnsortedSegmentSum, which wasm lacks.
 */
export function lookupNearest(x: tf.Tensor2D, codebook: tf.Tensor2D, nearest: Nearest): { chosen: tf.Tensor2D; codes: tf.Tensor1D } {
  let kept: tf.Tensor1D | undefined;
  const op = tf.customGrad(((x: tf.Tensor, book: tf.Tensor, save: tf.GradSaveFunc) => {
    kept = tf.keep(nearest(x as tf.Tensor2D, book as tf.Tensor2D));
    save([kept]);
    return {
      value: tf.gather(book, kept),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
        tf.zerosLike(x),
        tf.matMul(tf.transpose(tf.oneHot(saved[0] as tf.Tensor1D, book.shape[0]).toFloat()), dy as tf.Tensor2D),
      ],
    };
  }) as never) as unknown as (x: tf.Tensor2D, codebook: tf.Tensor2D) => tf.Tensor2D;
  const chosen = op(x, codebook);
  // The kept indices escape every scope; a clone belongs to the caller's.
  const codes = tf.clone(kept!);
  kept!.dispose();
  return { chosen, codes };
}
