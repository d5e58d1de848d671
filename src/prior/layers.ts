/**
 * The Transformer's pieces as plain functions over tensors (tfjs has no public attention layer):
 * an embedding lookup whose gradient wasm can compute, layer norm, GELU, causal self-attention.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Rows of `table` [V, d] at `ids` (int32, any shape) → [...ids.shape, d]. The gradient of
 * tf.gather needs UnsortedSegmentSum, which the wasm backend lacks; here the table's gradient
 * is onehot(ids)ᵀ · dy, a matmul every backend has.
 */
export function embed(table: tf.Tensor2D, ids: tf.Tensor): tf.Tensor {
  const [vocab, width] = table.shape;
  const flat = tf.reshape(ids, [-1]) as tf.Tensor1D;
  // The ids are an input (and saved) so that they outlive the forward pass's tidy scope.
  const lookup = tf.customGrad(((t: tf.Tensor, i: tf.Tensor, save: tf.GradSaveFunc) => {
    save([i]);
    return {
      value: tf.gather(t as tf.Tensor2D, i as tf.Tensor1D),
      // An explicit transpose, then matMul: wasm runs matMul with transposeA about 8× slower.
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.matMul(tf.transpose(tf.oneHot(saved[0] as tf.Tensor1D, vocab).toFloat()), dy as tf.Tensor2D), tf.zerosLike(saved[0])],
    };
  }) as never) as (t: tf.Tensor, i: tf.Tensor) => tf.Tensor;
  return tf.reshape(lookup(table, flat), [...ids.shape, width]);
}

/** Swaps the last two axes (rank 2 or 3). */
function swapLast(t: tf.Tensor): tf.Tensor {
  return t.rank === 2 ? tf.transpose(t) : tf.transpose(t, [0, 2, 1]);
}

/**
 * a · b (b transposed when asked), rank 2 or 3 (batched), with a gradient whose matmuls never use
 * transposeA or transposeB: tfjs's own MatMul gradient does, and wasm runs those 5–10× slower (the
 * prior's training step was 4× slower for transposeA, then 1.7× for transposeB).
 */
export function matMul(a: tf.Tensor, b: tf.Tensor, transposeB = false): tf.Tensor {
  const op = tf.customGrad(((x: tf.Tensor, y: tf.Tensor, save: tf.GradSaveFunc) => {
    save([x, y]);
    return {
      value: tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D, false, transposeB),
      gradFunc: (dy: tf.Tensor, [xs, ys]: tf.Tensor[]) => {
        // y = x·w: dx = dy·wᵀ, dw = xᵀ·dy; y = x·wᵀ: dx = dy·w, dw = dyᵀ·x. Transposes are explicit:
        // wasm runs matMul with transposeB 5–10× slower too (2 against 22 GFLOP/s at [1024×2048]·[128×2048]ᵀ).
        const dx = transposeB ? tf.matMul(dy as tf.Tensor3D, ys as tf.Tensor3D) : tf.matMul(dy as tf.Tensor3D, swapLast(ys) as tf.Tensor3D);
        const dw = transposeB ? tf.matMul(swapLast(dy) as tf.Tensor3D, xs as tf.Tensor3D) : tf.matMul(swapLast(xs) as tf.Tensor3D, dy as tf.Tensor3D);
        return [dx, dw];
      },
    };
  }) as never) as (x: tf.Tensor, y: tf.Tensor) => tf.Tensor;
  return op(a, b);
}

/** Layer normalisation over the last axis (Ba et al. 2016), with gain and bias. */
export function layerNorm(x: tf.Tensor, gain: tf.Tensor1D, bias: tf.Tensor1D, epsilon = 1e-5): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, epsilon))), gain), bias);
}

/** GELU, tanh form (Hendrycks & Gimpel 2016). */
export function gelu(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}

/** The largest mask made so far; shorter windows use its top-left corner. */
let cachedMask: tf.Tensor2D | undefined;

/** [T, T] additive mask: 0 where a step may look (itself and earlier), −1e9 after (from bandPart). */
function causalMask(steps: number): tf.Tensor2D {
  if (cachedMask === undefined || cachedMask.shape[0] < steps) {
    cachedMask?.dispose();
    cachedMask = tf.keep(tf.tidy(() => tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([steps, steps]), -1, 0)), -1e9)) as tf.Tensor2D);
  }
  return cachedMask.shape[0] === steps ? cachedMask : (tf.slice(cachedMask, [0, 0], [steps, steps]) as tf.Tensor2D);
}

/**
 * Causal multi-head self-attention (Vaswani et al. 2017) of x [B, T, d]: one matmul to queries,
 * keys and values, heads split by reshape, softmax(QKᵀ/√dₕ + mask)·V, heads merged, projected.
 */
export function causalSelfAttention(x: tf.Tensor3D, heads: number, wQkv: tf.Tensor2D, wOut: tf.Tensor2D): tf.Tensor3D {
  const [batch, steps, width] = x.shape;
  const headWidth = width / heads;
  const qkv = tf.reshape(matMul(tf.reshape(x, [batch * steps, width]), wQkv), [batch, steps, 3, heads, headWidth]);
  // [3, B, H, T, dₕ]
  const split = tf.transpose(qkv, [2, 0, 3, 1, 4]);
  const [q, k, v] = tf.unstack(split).map((t) => tf.reshape(t, [batch * heads, steps, headWidth]) as tf.Tensor3D);
  const scores = tf.add(tf.div(matMul(q, k, true), Math.sqrt(headWidth)), causalMask(steps));
  const attended = matMul(tf.softmax(scores), v); // [B·H, T, dₕ]
  const merged = tf.reshape(tf.transpose(tf.reshape(attended, [batch, heads, steps, headWidth]), [0, 2, 1, 3]), [batch * steps, width]);
  return tf.reshape(matMul(merged, wOut), [batch, steps, width]) as tf.Tensor3D;
}

/** Sinusoidal positions (Vaswani et al. 2017) [T, d], from step `start`: no weights, any length. */
export function positions(start: number, steps: number, width: number): tf.Tensor2D {
  const values = new Float32Array(steps * width);
  for (let t = 0; t < steps; t++) {
    for (let i = 0; i < width / 2; i++) {
      const angle = (start + t) / 10000 ** ((2 * i) / width);
      values[t * width + 2 * i] = Math.sin(angle);
      values[t * width + 2 * i + 1] = Math.cos(angle);
    }
  }
  return tf.tensor2d(values, [steps, width]);
}
