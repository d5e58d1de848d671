/**
 * The adversary for GAN training (as codecs from MelGAN to EnCodec and DAC use one): a
 * multi-resolution spectrogram discriminator, hinge losses and feature matching.
 *
 * Each resolution takes the log-magnitude STFT of a waveform (windows 512/1024/2048 at 16 kHz)
 * and runs 1-D convs over time with the frequency bins as channels. That keeps every layer
 * wide and at frame rate, where wasm is fast (a waveform discriminator's narrow layers at
 * 16 kHz would cost more than the codec itself), and reuses the STFT whose gradient the
 * losses already have. It only ever exists in training: a shipped model has no discriminator.
 */
import * as tf from '@tensorflow/tfjs';
import { Conv1d } from '../model/layers.js';
import { ParamStore } from '../model/params.js';
import { stftMagnitude } from './losses.js';

export interface DiscriminatorOutput {
  /** Per resolution: a logit per STFT frame, [batch, frames, 1]. */
  logits: tf.Tensor3D[];
  /** Per resolution: the activations after each hidden layer (for feature matching). */
  features: tf.Tensor3D[][];
}

const LEAK = 0.2;

class ResolutionDiscriminator {
  private readonly hidden: Conv1d[];
  private readonly out: Conv1d;

  constructor(params: ParamStore, name: string, readonly window: number, channels: number) {
    const bins = window / 2 + 1;
    // Dilations 1, 2, 4 see about 15 frames (a quarter to a whole second) at every resolution.
    this.hidden = [1, 2, 4].map((dilation, i) => new Conv1d(params, `${name}.conv${i}`, i === 0 ? bins : channels, channels, 3, dilation, 'same'));
    this.out = new Conv1d(params, `${name}.out`, channels, 1, 3, 1, 'same');
  }

  apply(audio: tf.Tensor2D): { logits: tf.Tensor3D; features: tf.Tensor3D[] } {
    const [batch] = audio.shape;
    const magnitude = stftMagnitude(audio, this.window);
    const frames = magnitude.shape[0] / batch;
    let x = tf.reshape(tf.log(magnitude), [batch, frames, this.window / 2 + 1]) as tf.Tensor3D;
    const features: tf.Tensor3D[] = [];
    for (const conv of this.hidden) {
      x = tf.leakyRelu(conv.apply(x), LEAK);
      features.push(x);
    }
    return { logits: this.out.apply(x), features };
  }
}

/** The shape of a discriminator: enough to build a replica (in a data-parallel worker). */
export interface DiscriminatorShape {
  /** STFT window per resolution (hop a quarter of it). */
  windows: number[];
  /** Width of every hidden layer. */
  channels: number;
}

export const DEFAULT_DISCRIMINATOR: DiscriminatorShape = { windows: [512, 1024, 2048], channels: 64 };

export class SpectrogramDiscriminator {
  readonly params: ParamStore;
  private readonly resolutions: ResolutionDiscriminator[];

  constructor(seed = 1, readonly shape: DiscriminatorShape = DEFAULT_DISCRIMINATOR) {
    this.params = new ParamStore(seed);
    this.resolutions = shape.windows.map((w) => new ResolutionDiscriminator(this.params, `disc.stft${w}`, w, shape.channels));
  }

  /** The shortest waveform every resolution can take. */
  get minLength(): number {
    return Math.max(...this.shape.windows);
  }

  apply(audio: tf.Tensor2D): DiscriminatorOutput {
    const outs = this.resolutions.map((r) => r.apply(audio));
    return { logits: outs.map((o) => o.logits), features: outs.map((o) => o.features) };
  }

  dispose(): void {
    this.params.dispose();
  }
}

const mean = (xs: tf.Scalar[]): tf.Scalar => tf.div(tf.addN(xs), xs.length);

/** Hinge loss of the discriminator: real logits pushed above +1, fake ones below −1. */
export function discriminatorLoss(real: DiscriminatorOutput, fake: DiscriminatorOutput): tf.Scalar {
  return mean(real.logits.map((r, i) => tf.add(tf.mean(tf.relu(tf.sub(1, r))), tf.mean(tf.relu(tf.add(1, fake.logits[i])))) as tf.Scalar));
}

/** Hinge loss of the generator: its output's logits pushed above +1. */
export function adversarialLoss(fake: DiscriminatorOutput): tf.Scalar {
  return mean(fake.logits.map((f) => tf.mean(tf.relu(tf.sub(1, f)))));
}

/**
 * Feature matching (MelGAN): L1 between the discriminator's activations on real and decoded
 * audio, each layer's divided by the real activations' mean magnitude (as EnCodec does), so
 * every layer counts alike whatever its scale. The real activations depend on the
 * discriminator's weights only, so the generator's gradient comes through the decoded side.
 */
export function featureMatchingLoss(real: DiscriminatorOutput, fake: DiscriminatorOutput): tf.Scalar {
  const terms: tf.Scalar[] = [];
  real.features.forEach((layers, i) =>
    layers.forEach((r, j) => terms.push(tf.div(tf.mean(tf.abs(tf.sub(r, fake.features[i][j]))), tf.add(tf.mean(tf.abs(r)), 1e-5)))),
  );
  return mean(terms);
}
