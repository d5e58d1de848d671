/**
 * Short-time Fourier transforms as matmuls with cached, windowed DFT bases: wasm has no
 * FFT kernel, and a matmul is its fastest op. Frames are built from a reshape into
 * hop-sized rows and shifted slices (no gather), and overlap-add is the same trick run
 * backwards, so both directions are cheap to differentiate.
 *
 * Used by the spectral ends of the model (an STFT front end for the encoder, an inverse
 * STFT head for the decoder, as in Vocos) and by the STFT losses.
 */
import * as tf from '@tensorflow/tfjs';
import type { Span } from './receptiveField.js';

/** Periodic Hann window value at n of `window`. */
function hann(n: number, window: number): number {
  return 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / window);
}

/** A constant matrix and its transpose (the backward pass needs x · Bᵀ, and wasm is slow at transposeB). */
interface ConstantMatrix {
  m: tf.Tensor2D;
  t: tf.Tensor2D;
}

function constantMatrix(values: Float32Array, rows: number, cols: number): ConstantMatrix {
  const m = tf.keep(tf.tensor2d(values, [rows, cols]));
  return { m, t: tf.keep(tf.transpose(m)) };
}

const analysisBases = new Map<number, ConstantMatrix>();
const synthesisBases = new Map<number, ConstantMatrix>();

/** [window, 2 · bins]: Hann-windowed cos | −sin, so frames · basis = re | im. */
function analysisBasis(window: number): ConstantMatrix {
  let b = analysisBases.get(window);
  if (b === undefined) {
    const bins = window / 2 + 1;
    const values = new Float32Array(window * 2 * bins);
    for (let n = 0; n < window; n++) {
      const w = hann(n, window);
      for (let k = 0; k < bins; k++) {
        const phase = (2 * Math.PI * n * k) / window;
        values[n * 2 * bins + k] = w * Math.cos(phase);
        values[n * 2 * bins + bins + k] = -w * Math.sin(phase);
      }
    }
    b = constantMatrix(values, window, 2 * bins);
    analysisBases.set(window, b);
  }
  return b;
}

/** [2 · bins, window]: the inverse real DFT of re | im, times the Hann synthesis window. */
function synthesisBasis(window: number): ConstantMatrix {
  let b = synthesisBases.get(window);
  if (b === undefined) {
    const bins = window / 2 + 1;
    const values = new Float32Array(2 * bins * window);
    for (let k = 0; k < bins; k++) {
      // Bins 1 .. window/2 − 1 stand for their mirror images too.
      const weight = (k === 0 || k === bins - 1 ? 1 : 2) / window;
      for (let n = 0; n < window; n++) {
        const w = hann(n, window) * weight;
        const phase = (2 * Math.PI * n * k) / window;
        values[k * window + n] = w * Math.cos(phase);
        values[(bins + k) * window + n] = -w * Math.sin(phase);
      }
    }
    b = constantMatrix(values, 2 * bins, window);
    synthesisBases.set(window, b);
  }
  return b;
}

/** x · B with the hand-written gradient dy · Bᵀ (B is a constant: no gradient of its own). */
const matMulConstant = tf.customGrad(((x: tf.Tensor, m: tf.Tensor, t: tf.Tensor, save: tf.GradSaveFunc) => {
  save([t]);
  return {
    value: tf.matMul(x as tf.Tensor2D, m as tf.Tensor2D),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.matMul(dy as tf.Tensor2D, saved[0] as tf.Tensor2D), tf.zerosLike(m), tf.zerosLike(t)],
  };
}) as never) as unknown as (x: tf.Tensor2D, m: tf.Tensor2D, t: tf.Tensor2D) => tf.Tensor2D;

function projectOn(x: tf.Tensor2D, basis: ConstantMatrix): tf.Tensor2D {
  return matMulConstant(x, basis.m, basis.t);
}

/**
 * Frames of audio [batch, time] as [batch · frames, window]: frame t is rows t .. t + window/hop − 1
 * of the audio cut into hop-sized rows.
 */
function frameRows(audio: tf.Tensor2D, window: number, hop: number): { framed: tf.Tensor2D; frames: number } {
  const [batch, time] = audio.shape;
  const perFrame = window / hop;
  const rows = Math.floor(time / hop);
  const frames = rows - perFrame + 1;
  if (frames < 1) throw new Error(`audio of ${time} samples is too short for an STFT window of ${window}`);
  const grid = tf.reshape(tf.slice(audio, [0, 0], [batch, rows * hop]), [batch, rows, hop]);
  const parts = Array.from({ length: perFrame }, (_, j) => tf.slice(grid, [0, j, 0], [batch, frames, hop]));
  return { framed: tf.reshape(tf.concat(parts, 2), [batch * frames, window]) as tf.Tensor2D, frames };
}

export interface Spectrum {
  /** [batch · frames, bins] each. */
  re: tf.Tensor2D;
  im: tf.Tensor2D;
  frames: number;
}

/** Uncentred STFT (Hann window, frames start at 0, step `hop`; window a multiple of hop). */
export function stft(audio: tf.Tensor2D, window: number, hop: number): Spectrum {
  const bins = window / 2 + 1;
  const { framed, frames } = frameRows(audio, window, hop);
  const spectrum = projectOn(framed, analysisBasis(window));
  return { re: tf.slice(spectrum, [0, 0], [-1, bins]), im: tf.slice(spectrum, [0, bins], [-1, bins]), frames };
}

/** (window − hop) / 2: the padding each side that centres frame t on samples [t·hop, (t+1)·hop). */
export function centringPad(window: number, hop: number): number {
  return (window - hop) / 2;
}

/** STFT with one frame per hop of audio [batch, frames · hop], centred on it (audio zero-padded at the ends). */
export function centredStft(audio: tf.Tensor2D, window: number, hop: number): Spectrum {
  const pad = centringPad(window, hop);
  return stft(tf.pad(audio, [[0, 0], [pad, pad]]), window, hop);
}

/** The samples that frames `frames` of centredStft read: frame t reads [t·hop − pad, t·hop − pad + window). */
export function centredStftInputSpan(frames: Span, window: number, hop: number): Span {
  const pad = centringPad(window, hop);
  return { from: frames.from * hop - pad, to: (frames.to - 1) * hop - pad + window };
}

/** The frames that samples `samples` of centredIstft add up: those whose windows overlap them. */
export function centredIstftInputSpan(samples: Span, window: number, hop: number): Span {
  const pad = centringPad(window, hop);
  return { from: Math.floor((samples.from + pad - window) / hop) + 1, to: Math.ceil((samples.to + pad) / hop) };
}

const envelopes = new Map<string, tf.Tensor1D>();

/** 1 / Σ shifted squared windows over the output span: what makes istft(centredStft(x)) = x. */
function inverseEnvelope(frames: number, window: number, hop: number): tf.Tensor1D {
  const key = `${frames}/${window}/${hop}`;
  let e = envelopes.get(key);
  if (e === undefined) {
    const pad = centringPad(window, hop);
    const sums = new Float64Array((frames - 1) * hop + window);
    for (let t = 0; t < frames; t++) for (let n = 0; n < window; n++) sums[t * hop + n] += hann(n, window) ** 2;
    const values = new Float32Array(frames * hop);
    for (let i = 0; i < values.length; i++) values[i] = 1 / Math.max(sums[i + pad], 1e-3);
    e = tf.keep(tf.tensor1d(values));
    envelopes.set(key, e);
  }
  return e;
}

/**
 * Inverse of centredStft: spectra [batch, frames, bins] (re and im) → audio
 * [batch, frames · hop] by windowed overlap-add, normalised by the window envelope.
 */
export function centredIstft(re: tf.Tensor3D, im: tf.Tensor3D, window: number, hop: number): tf.Tensor2D {
  const [batch, frames, bins] = re.shape;
  const perFrame = window / hop;
  const spectrum = tf.reshape(tf.concat([re, im], 2), [batch * frames, 2 * bins]) as tf.Tensor2D;
  const framed = tf.reshape(projectOn(spectrum, synthesisBasis(window)), [batch, frames, window]);
  // Overlap-add: piece j of frame t lands on hop-row t + j.
  const placed = Array.from({ length: perFrame }, (_, j) =>
    tf.pad(tf.slice(framed, [0, 0, j * hop], [batch, frames, hop]), [[0, 0], [j, perFrame - 1 - j], [0, 0]]),
  );
  const flat = tf.reshape(tf.addN(placed), [batch, (frames + perFrame - 1) * hop]);
  const trimmed = tf.slice(flat, [0, centringPad(window, hop)], [batch, frames * hop]);
  return tf.mul(trimmed, inverseEnvelope(frames, window, hop));
}
