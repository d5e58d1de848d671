/** One optimisation step of the VQ-VAE: forward, losses, gradients, Adam, then codebook updates. */
import * as tf from '@tensorflow/tfjs';
import type { VqVae } from '../model/vqvae.js';
import type { Adam } from './adam.js';
import { multiResolutionStftLoss, waveformL1 } from './losses.js';

export interface LossWeights {
  waveform: number;
  stft: number;
  /** Scales codebook + commitment losses. */
  vq: number;
}

export interface StepStats {
  total: number;
  waveform: number;
  stft: number;
  codebook: number;
  commitment: number;
  gradNorm: number;
  numActive: number;
  /** Assignment counts of this batch, per active codebook. */
  counts: Int32Array[];
}

/** Total loss and its parts on one batch, without gradients (validation, tests). */
export function computeLosses(model: VqVae, batch: tf.Tensor2D, numActive: number, weights: LossWeights, stftWindows: number[]) {
  const out = model.forward(batch, numActive);
  const waveform = waveformL1(batch, out.reconstruction);
  const stft = multiResolutionStftLoss(batch, out.reconstruction, stftWindows);
  const total = tf.addN([
    tf.mul(waveform, weights.waveform),
    tf.mul(stft, weights.stft),
    tf.mul(tf.add(out.codebookLoss, out.commitmentLoss), weights.vq),
  ]) as tf.Scalar;
  return { total, waveform, stft, out };
}

export function trainStep(
  model: VqVae,
  optimizer: Adam,
  batch: tf.Tensor2D,
  numActive: number,
  weights: LossWeights,
  stftWindows: number[],
  random: () => number,
): StepStats {
  if (model.quantizer.needsInit()) {
    tf.tidy(() => model.quantizer.initFromData(model.latents(batch).z, random));
  }
  const vars = model.params.trainableVariables();
  let parts: tf.Tensor1D | undefined;
  let codes: tf.Tensor2D | undefined;
  let residuals: tf.Tensor2D[] = [];
  const { value, grads } = tf.variableGrads(() => {
    const { total, waveform, stft, out } = computeLosses(model, batch, numActive, weights, stftWindows);
    // Kept past variableGrads' tidy: read once per step, and needed for the codebook update.
    parts = tf.keep(tf.stack([total, waveform, stft, out.codebookLoss, out.commitmentLoss]) as tf.Tensor1D);
    codes = tf.keep(out.codes);
    residuals = out.residuals.map((r) => tf.keep(r));
    return total;
  }, Object.values(vars));
  // Codebooks beyond numActive (quantizer dropout) get no gradient this step: leave them out.
  const byName: Record<string, tf.Tensor> = {};
  for (const [name, v] of Object.entries(vars)) if (grads[v.name] != null) byName[name] = grads[v.name];
  const norm = optimizer.apply(vars, byName);
  const counts = model.quantizer.update(residuals, codes!, random);
  const [total, waveform, stft, codebook, commitment] = parts!.dataSync();
  const gradNorm = norm.dataSync()[0];
  tf.dispose([value, norm, parts!, codes!, ...residuals, ...Object.values(grads).filter((g) => g != null)]);
  return { total, waveform, stft, codebook, commitment, gradNorm, numActive, counts };
}
