/**
 * The network blocks shared by encoder and decoder (SEANet-style, as in SoundStream,
 * EnCodec and DAC): convolutions, dilated residual units, and resampling by reshaping
 * time into channels, so every conv in the model is a stride-1 conv with a fast
 * wasm forward and a hand-written backward (see conv.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { conv1dValid, convReach, padForConv, type Padding } from './conv.js';
import type { ParamStore } from './params.js';
import { hull, type Span } from './receptiveField.js';

export class Conv1d {
  private readonly w: tf.Variable;
  private readonly b: tf.Variable;

  constructor(
    params: ParamStore,
    name: string,
    readonly inChannels: number,
    readonly outChannels: number,
    readonly taps: number,
    readonly dilation: number,
    readonly padding: Padding,
    gain = 1,
  ) {
    this.w = params.uniform(`${name}.w`, [taps, inChannels, outChannels], taps * inChannels, gain);
    this.b = params.fill(`${name}.b`, [outChannels], 0);
  }

  apply(x: tf.Tensor3D): tf.Tensor3D {
    const y = conv1dValid(padForConv(x, this.taps, this.dilation, this.padding), this.w as tf.Tensor3D, this.dilation);
    return tf.add(y, this.b);
  }

  /** The input steps that output steps `out` read. */
  inputSpan(out: Span): Span {
    const { left, right } = convReach(this.taps, this.dilation, this.padding);
    return { from: out.from - left, to: out.to + right };
  }

  /** Multiply-adds per output time step, for FLOP counts. */
  macsPerStep(): number {
    return this.taps * this.inChannels * this.outChannels;
  }
}

/** x + conv1x1(elu(dilatedConv(elu(x)))): the receptive field grows with the dilation. */
export class ResidualUnit {
  private readonly dilated: Conv1d;
  private readonly pointwise: Conv1d;

  constructor(params: ParamStore, name: string, channels: number, taps: number, dilation: number, padding: Padding) {
    this.dilated = new Conv1d(params, `${name}.dilated`, channels, channels, taps, dilation, padding);
    // A small last layer starts each unit close to the identity, which keeps deep stacks trainable without normalisation.
    this.pointwise = new Conv1d(params, `${name}.pointwise`, channels, channels, 1, 1, padding, 0.1);
  }

  apply(x: tf.Tensor3D): tf.Tensor3D {
    return tf.add(x, this.pointwise.apply(tf.elu(this.dilated.apply(tf.elu(x)))));
  }

  inputSpan(out: Span): Span {
    return hull(out, this.dilated.inputSpan(this.pointwise.inputSpan(out)));
  }

  macsPerStep(): number {
    return this.dilated.macsPerStep() + this.pointwise.macsPerStep();
  }
}

/** Folds `factor` time steps into channels, then mixes with a 3-tap conv: a strided conv of width 3·factor. */
export class Downsample {
  private readonly conv: Conv1d;

  constructor(params: ParamStore, name: string, inChannels: number, outChannels: number, readonly factor: number, padding: Padding) {
    this.conv = new Conv1d(params, `${name}.conv`, inChannels * factor, outChannels, 3, 1, padding);
  }

  apply(x: tf.Tensor3D): tf.Tensor3D {
    const [batch, time, channels] = x.shape;
    return this.conv.apply(tf.reshape(x, [batch, time / this.factor, this.factor * channels]));
  }

  /** Output frame t holds input steps [t·factor, (t + 1)·factor). */
  inputSpan(out: Span): Span {
    const folded = this.conv.inputSpan(out);
    return { from: folded.from * this.factor, to: folded.to * this.factor };
  }

  macsPerStep(): number {
    return this.conv.macsPerStep();
  }
}

/** A 3-tap conv to factor·outChannels, then unfolds those channels into time (sub-pixel upsampling). */
export class Upsample {
  private readonly conv: Conv1d;

  constructor(params: ParamStore, name: string, inChannels: number, readonly outChannels: number, readonly factor: number, padding: Padding) {
    this.conv = new Conv1d(params, `${name}.conv`, inChannels, outChannels * factor, 3, 1, padding);
  }

  apply(x: tf.Tensor3D): tf.Tensor3D {
    const [batch, time] = x.shape;
    return tf.reshape(this.conv.apply(x), [batch, time * this.factor, this.outChannels]);
  }

  /** Output step s unfolds from the conv's step ⌊s / factor⌋. */
  inputSpan(out: Span): Span {
    return this.conv.inputSpan({ from: Math.floor(out.from / this.factor), to: Math.ceil(out.to / this.factor) });
  }

  macsPerStep(): number {
    return this.conv.macsPerStep();
  }
}

/**
 * Applies `layer` to `x`. When `release` is set (inference), each intermediate is freed as
 * soon as the next exists, so coding memory is a couple of activations, not the whole
 * network's; training keeps them all for the gradient tape.
 */
export function advance<In extends tf.Tensor, Out extends tf.Tensor>(x: In, layer: (t: In) => Out, release: boolean): Out {
  if (!release) return layer(x);
  const y = tf.tidy(() => layer(x));
  x.dispose();
  return y;
}
