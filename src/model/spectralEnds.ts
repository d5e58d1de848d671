/**
 * The two ends of a spectral model (config.spectral, as in Vocos): what the encoder reads
 * instead of samples, and how the decoder's last layer becomes audio.
 */
import * as tf from '@tensorflow/tfjs';
import type { SpectralConfig } from './config.js';
import type { Span } from './receptiveField.js';
import { centredIstft, centredIstftInputSpan, centredStft, centredStftInputSpan } from './stft.js';

export function spectralBins(spectral: SpectralConfig): number {
  return spectral.window / 2 + 1;
}

/** Channels of the encoder's input frames: real and imaginary parts of every bin. */
export function featureChannels(spectral: SpectralConfig): number {
  return 2 * spectralBins(spectral);
}

/** Magnitude compression of the input: |X|^0.3 keeps quiet bins visible beside loud ones. */
const COMPRESSION = 0.3;

/**
 * Audio [batch, frames · hop] → [batch, frames, 2 · bins]: the centred STFT with each bin's
 * magnitude compressed and its phase kept.
 */
export function spectralFeatures(audio: tf.Tensor2D, spectral: SpectralConfig): tf.Tensor3D {
  const { re, im, frames } = centredStft(audio, spectral.window, spectral.hop);
  const magnitude = tf.sqrt(tf.add(tf.add(tf.square(re), tf.square(im)), 1e-10));
  const scale = tf.pow(magnitude, COMPRESSION - 1);
  const features = tf.concat([tf.mul(re, scale), tf.mul(im, scale)], 1);
  return tf.reshape(features, [audio.shape[0], frames, featureChannels(spectral)]);
}

/** The samples that feature frames `frames` read (each bin of a frame is a function of that frame alone). */
export function spectralFeaturesInputSpan(frames: Span, spectral: SpectralConfig): Span {
  return centredStftInputSpan(frames, spectral.window, spectral.hop);
}

/** Log-magnitudes are capped here (e^5.5 ≈ 245, above a full-scale sine's peak) so exp cannot overflow. */
const MAX_LOG_MAGNITUDE = 5.5;

/**
 * The decoder's last layer [batch, frames, 2 · bins] → audio [batch, frames · hop] by inverse
 * STFT, its halves read per bin as log-magnitude | phase ('polar') or real | imaginary part.
 */
export function spectrumToAudio(x: tf.Tensor3D, spectral: SpectralConfig): tf.Tensor2D {
  const bins = spectralBins(spectral);
  const [batch, frames] = x.shape;
  const first = tf.slice(x, [0, 0, 0], [batch, frames, bins]);
  const second = tf.slice(x, [0, 0, bins], [batch, frames, bins]);
  if (spectral.head === 'cartesian') return centredIstft(first, second, spectral.window, spectral.hop);
  const magnitude = tf.exp(tf.minimum(first, MAX_LOG_MAGNITUDE));
  return centredIstft(tf.mul(magnitude, tf.cos(second)), tf.mul(magnitude, tf.sin(second)), spectral.window, spectral.hop);
}

/** The frames of the decoder's last layer that samples `samples` of spectrumToAudio depend on. */
export function spectrumToAudioInputSpan(samples: Span, spectral: SpectralConfig): Span {
  return centredIstftInputSpan(samples, spectral.window, spectral.hop);
}
