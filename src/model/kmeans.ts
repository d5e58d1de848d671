/** k-means (Lloyd) for codebook initialisation on a batch of encoder outputs. */
import * as tf from '@tensorflow/tfjs';
import type { Nearest } from './nearest.js';

/**
 * K centroids of `points` after `iterations` Lloyd steps. Seeds are drawn with replacement (a batch
 * may hold fewer vectors than codes) plus a little noise to separate repeats.
 */
export function kmeans(points: tf.Tensor2D, K: number, iterations: number, nearest: Nearest, random: () => number): tf.Tensor2D {
  return tf.tidy(() => {
    const n = points.shape[0];
    const picks = tf.tensor1d(Array.from({ length: K }, () => Math.floor(random() * n)), 'int32');
    const spread = tf.moments(points).variance.sqrt().add(1e-6);
    const noise = tf.randomNormal([K, points.shape[1]], 0, 1, 'float32', Math.floor(random() * 1e9));
    let centroids = tf.add(tf.gather(points, picks), tf.mul(noise, tf.mul(spread, 0.01))) as tf.Tensor2D;
    for (let it = 0; it < iterations; it++) centroids = lloydStep(points, centroids, nearest);
    return centroids;
  });
}

/** One Lloyd step: each centroid moves to the mean of its assigned points; empty clusters stay. */
function lloydStep(points: tf.Tensor2D, centroids: tf.Tensor2D, nearest: Nearest): tf.Tensor2D {
  return tf.tidy(() => {
    const K = centroids.shape[0];
    const onehot = tf.oneHot(nearest(points, centroids), K).toFloat();
    const counts = tf.sum(onehot, 0);
    const sums = tf.matMul(tf.transpose(onehot), points);
    const means = tf.div(sums, tf.expandDims(tf.maximum(counts, 1), 1));
    return tf.where(tf.expandDims(tf.greater(counts, 0), 1), means, centroids) as tf.Tensor2D;
  });
}
