/**
 * Reconstruction losses. The STFT is a matmul of framed audio with a cached,
 * windowed DFT basis: wasm has no FFT kernel, and a matmul is its fastest op.
 */
import * as tf from '@tensorflow/tfjs';
import { melFilterbank } from '../eval/fft.js';

/** Mean absolute error between two waveforms. */
export function waveformL1(target: tf.Tensor2D, estimate: tf.Tensor2D): tf.Scalar {
  return tf.mean(tf.abs(tf.sub(target, estimate)));
}

interface DftBasis {
  basis: tf.Tensor2D; // [window, 2 · bins]: Hann-windowed cos | −sin
  basisT: tf.Tensor2D; // its transpose, for the backward pass
  hop: number;
  bins: number;
}
const bases = new Map<number, DftBasis>();

function dftBasis(window: number): DftBasis {
  let b = bases.get(window);
  if (b === undefined) {
    const bins = window / 2 + 1;
    const values = new Float32Array(window * 2 * bins);
    for (let n = 0; n < window; n++) {
      const hann = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / window);
      for (let k = 0; k < bins; k++) {
        const phase = (2 * Math.PI * n * k) / window;
        values[n * 2 * bins + k] = hann * Math.cos(phase);
        values[n * 2 * bins + bins + k] = -hann * Math.sin(phase);
      }
    }
    const basis = tf.keep(tf.tensor2d(values, [window, 2 * bins]));
    b = { basis, basisT: tf.keep(tf.transpose(basis)), hop: window / 4, bins };
    bases.set(window, b);
  }
  return b;
}

/** x · basis with a hand-written gradient dy · basisᵀ (basis is a constant: no weight gradient). */
const projectOnBasis = tf.customGrad(((x: tf.Tensor, basis: tf.Tensor, basisT: tf.Tensor, save: tf.GradSaveFunc) => {
  save([basisT]);
  return {
    value: tf.matMul(x as tf.Tensor2D, basis as tf.Tensor2D),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
      tf.matMul(dy as tf.Tensor2D, saved[0] as tf.Tensor2D),
      tf.zerosLike(basis),
      tf.zerosLike(basisT),
    ],
  };
}) as never) as unknown as (x: tf.Tensor2D, basis: tf.Tensor2D, basisT: tf.Tensor2D) => tf.Tensor2D;

/**
 * Magnitude spectrogram [batch · frames, bins] of audio [batch, time], Hann window
 * of `window` samples, hop window/4, no centring. Frames are built from a reshape
 * into hop-sized rows and 4 shifted slices: no gather, cheap to differentiate.
 */
export function stftMagnitude(audio: tf.Tensor2D, window: number): tf.Tensor2D {
  const { basis, basisT, hop, bins } = dftBasis(window);
  const [batch, time] = audio.shape;
  const rows = Math.floor(time / hop);
  const frames = rows - 3;
  if (frames < 1) throw new Error(`audio of ${time} samples is too short for an STFT window of ${window}`);
  const grid = tf.reshape(tf.slice(audio, [0, 0], [batch, rows * hop]), [batch, rows, hop]);
  const parts = [0, 1, 2, 3].map((j) => tf.slice(grid, [0, j, 0], [batch, frames, hop]));
  const framed = tf.reshape(tf.concat(parts, 2), [batch * frames, window]) as tf.Tensor2D;
  const spectrum = projectOnBasis(framed, basis, basisT);
  const re = tf.slice(spectrum, [0, 0], [-1, bins]);
  const im = tf.slice(spectrum, [0, bins], [-1, bins]);
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
