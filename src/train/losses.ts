/** Reconstruction losses: on the waveform and on multi-resolution spectra (see model/stft.ts). */
import * as tf from '@tensorflow/tfjs';
import { stft } from '../model/stft.js';
import { melFilterbank } from '../eval/fft.js';

/** Mean absolute error between two waveforms. */
export function waveformL1(target: tf.Tensor2D, estimate: tf.Tensor2D): tf.Scalar {
  return tf.mean(tf.abs(tf.sub(target, estimate)));
}

/**
 * Magnitude spectrogram [batch · frames, bins] of audio [batch, time]: Hann window of
 * `window` samples, hop window/4, no centring.
 */
export function stftMagnitude(audio: tf.Tensor2D, window: number): tf.Tensor2D {
  const { re, im } = stft(audio, window, window / 4);
  return tf.sqrt(tf.add(tf.add(tf.square(re), tf.square(im)), 1e-7)) as tf.Tensor2D;
}

/** Mel bands of the log-mel term at each window size: finer for longer windows, at most 80. */
export function melBands(window: number): number {
  return Math.min(80, window / 8);
}

const melBanks = new Map<string, tf.Tensor2D>();

/** A [bins, mels] Slaney mel filterbank for magnitudes of `window`-sample frames (constant, cached). */
function melBank(window: number, sampleRate: number): tf.Tensor2D {
  const key = `${window}@${sampleRate}`;
  let bank = melBanks.get(key);
  if (bank === undefined) {
    const rows = melFilterbank(sampleRate, window, melBands(window));
    const bins = window / 2 + 1;
    const values = new Float32Array(bins * rows.length);
    rows.forEach((row, m) => row.forEach((w, k) => (values[k * rows.length + m] = w)));
    bank = tf.keep(tf.tensor2d(values, [bins, rows.length]));
    melBanks.set(key, bank);
  }
  return bank;
}

export interface SpectralLossOptions {
  /** Weight of a log-mel L1 term per window (as in DAC's mel loss); 0 leaves it out. */
  melWeight?: number;
  /** Needed for the mel scale when melWeight > 0. */
  sampleRate?: number;
}

/**
 * Multi-resolution STFT loss (Yamamoto et al., 2020, Parallel WaveGAN): per window size,
 * spectral convergence ||S − Ŝ||_F / ||S||_F plus mean |log S − log Ŝ|, optionally plus
 * melWeight · mean |log(S·M + ε) − log(Ŝ·M + ε)| on mel bands M, averaged over sizes.
 * The mel term weighs low frequencies as hearing (and STOI's third-octave bands) do.
 */
export function multiResolutionStftLoss(target: tf.Tensor2D, estimate: tf.Tensor2D, windows: number[], options: SpectralLossOptions = {}): tf.Scalar {
  const melWeight = options.melWeight ?? 0;
  if (melWeight > 0 && !(options.sampleRate! > 0)) throw new Error('multiResolutionStftLoss: a mel term needs the sample rate');
  let total: tf.Scalar = tf.scalar(0);
  for (const w of windows) {
    const s = stftMagnitude(target, w);
    const e = stftMagnitude(estimate, w);
    const convergence = tf.div(tf.norm(tf.sub(s, e)), tf.add(tf.norm(s), 1e-7));
    const logMag = tf.mean(tf.abs(tf.sub(tf.log(s), tf.log(e))));
    total = tf.add(total, tf.add(convergence, logMag));
    if (melWeight > 0) {
      const bank = melBank(w, options.sampleRate!);
      const logMel = (x: tf.Tensor2D) => tf.log(tf.add(tf.matMul(x, bank), 1e-5));
      total = tf.add(total, tf.mul(tf.mean(tf.abs(tf.sub(logMel(s), logMel(e)))), melWeight));
    }
  }
  return tf.div(total, windows.length);
}
