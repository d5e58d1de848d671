/**
 * 1-D convolution as a custom-gradient op built only from kernels the wasm backend has.
 *
 * tfjs cannot differentiate dilated convolutions on any backend, and wasm has no
 * Conv2DBackpropFilter. So the backward pass is written by hand:
 *  - input gradient: the "full" correlation of the upstream gradient with the
 *    tap-reversed, in/out-transposed kernel (same dilation) — one fast conv;
 *  - weight gradient: a correlation of the input with the upstream gradient over time
 *    and batch, run as a conv2d (see weightGrad).
 */
import * as tf from '@tensorflow/tfjs';

type Conv1dOp = (x: tf.Tensor3D, w: tf.Tensor3D) => tf.Tensor3D;
const ops = new Map<number, Conv1dOp>();

/**
 * 'valid' stride-1 convolution. x: [batch, time, inChannels] (already padded),
 * w: [taps, inChannels, outChannels]; output time = time - (taps - 1) * dilation.
 */
export function conv1dValid(x: tf.Tensor3D, w: tf.Tensor3D, dilation = 1): tf.Tensor3D {
  let op = ops.get(dilation);
  if (op === undefined) {
    op = makeConv1dOp(dilation);
    ops.set(dilation, op);
  }
  return op(x, w);
}

function makeConv1dOp(dilation: number): Conv1dOp {
  // tfjs passes the save function as the last argument.
  return tf.customGrad(((x: tf.Tensor, w: tf.Tensor, save: tf.GradSaveFunc) => {
    save([x, w]);
    return {
      value: tf.conv1d(x as tf.Tensor3D, w as tf.Tensor3D, 1, 'valid', 'NWC', dilation),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor3D, tf.Tensor3D];
        return [inputGrad(dy as tf.Tensor3D, ws, dilation), weightGrad(xs, dy as tf.Tensor3D, ws.shape[0], dilation)];
      },
    };
  }) as never) as unknown as Conv1dOp;
}

function inputGrad(dy: tf.Tensor3D, w: tf.Tensor3D, dilation: number): tf.Tensor3D {
  return tf.tidy(() => {
    const span = (w.shape[0] - 1) * dilation;
    const padded = span > 0 ? tf.pad(dy, [[0, 0], [span, span], [0, 0]]) : dy;
    const flipped = tf.transpose(tf.reverse(w, 0), [0, 2, 1]);
    return tf.conv1d(padded, flipped as tf.Tensor3D, 1, 'valid', 'NWC', dilation);
  });
}

/**
 * dW[k, i, o] = Σ_b Σ_t x[b, t + k·d, i] · dy[b, t, o], computed as one conv2d with the input
 * channels as the batch, the batch as channels and dy as a T-tap filter, strided by the
 * dilation: XNNPACK's conv runs it 1–2.5× faster than an im2col matmul (measured on wasm).
 */
function weightGrad(x: tf.Tensor3D, dy: tf.Tensor3D, taps: number, dilation: number): tf.Tensor3D {
  return tf.tidy(() => {
    const [batch, inTime, inCh] = x.shape;
    const [, outTime, outCh] = dy.shape;
    const input = tf.reshape(tf.transpose(x, [2, 1, 0]), [inCh, 1, inTime, batch]) as tf.Tensor4D;
    const filter = tf.reshape(tf.transpose(dy, [1, 0, 2]), [1, outTime, batch, outCh]) as tf.Tensor4D;
    const grad = tf.conv2d(input, filter, [1, dilation], 'valid'); // [inCh, 1, taps, outCh]
    return tf.transpose(tf.reshape(grad, [inCh, taps, outCh]), [1, 0, 2]) as tf.Tensor3D;
  });
}

/** How a conv pads its input: centred ('same') or only on the left ('causal', for streaming). */
export type Padding = 'same' | 'causal';

/** Steps before and after an output step that a conv reads: its zero padding on each side. */
export function convReach(taps: number, dilation: number, padding: Padding): { left: number; right: number } {
  const span = (taps - 1) * dilation;
  const left = padding === 'causal' ? span : Math.floor(span / 2);
  return { left, right: span - left };
}

/** Pads time so that a valid conv of `taps` taps at `dilation` keeps the length. */
export function padForConv(x: tf.Tensor3D, taps: number, dilation: number, padding: Padding): tf.Tensor3D {
  const { left, right } = convReach(taps, dilation, padding);
  if (left + right === 0) return x;
  return tf.pad(x, [[0, 0], [left, right], [0, 0]]);
}
