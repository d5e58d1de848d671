/**
 * One optimisation step of the VQ-VAE, in two phases so that data-parallel replicas
 * can share the work: computeGradients (forward, losses, gradients, codebook statistics
 * of one shard) and applyGradients (Adam, EMA codebook update, dead-code restarts).
 */
import * as tf from '@tensorflow/tfjs';
import type { BatchStatistics } from '../model/quantizer.js';
import type { VqVae } from '../model/vqvae.js';
import type { Adam } from './adam.js';
import { multiResolutionStftLoss, waveformL1 } from './losses.js';

export interface LossWeights {
  waveform: number;
  stft: number;
  /** Log-mel L1 term inside the spectral loss (reported as part of 'stft'); absent or 0: none. */
  mel?: number;
  /** Scales codebook + commitment losses. */
  vq: number;
}

/** The loss parts, in the order of StepStats' fields. */
export const LOSS_PARTS = ['total', 'waveform', 'stft', 'codebook', 'commitment'] as const;

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
  const stft = multiResolutionStftLoss(batch, out.reconstruction, stftWindows, { melWeight: weights.mel, sampleRate: model.config.sampleRate });
  const total = tf.addN([
    tf.mul(waveform, weights.waveform),
    tf.mul(stft, weights.stft),
    tf.mul(tf.add(out.codebookLoss, out.commitmentLoss), weights.vq),
  ]) as tf.Scalar;
  return { total, waveform, stft, out };
}

export interface ShardGradients {
  /** By parameter name; codebooks beyond numActive (quantizer dropout) have none. */
  grads: Record<string, tf.Tensor>;
  /** LOSS_PARTS values on this shard. */
  losses: Float32Array;
  stats: BatchStatistics;
  /** Each active codebook's input (gradient-free), kept for dead-code restarts. */
  residuals: tf.Tensor2D[];
}

/** Forward and backward on one shard. The caller disposes `grads` and `residuals`. */
export function computeGradients(model: VqVae, batch: tf.Tensor2D, numActive: number, weights: LossWeights, stftWindows: number[]): ShardGradients {
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
  const byName: Record<string, tf.Tensor> = {};
  for (const [name, v] of Object.entries(vars)) if (grads[v.name] != null) byName[name] = grads[v.name];
  const stats = model.quantizer.batchStatistics(residuals, codes!);
  const losses = parts!.dataSync() as Float32Array;
  tf.dispose([value, parts!, codes!]);
  return { grads: byName, losses, stats, residuals };
}

/** Adam on the (averaged) gradients, then the codebook update from the (merged) statistics. */
export function applyGradients(
  model: VqVae,
  optimizer: Adam,
  grads: Record<string, tf.Tensor>,
  stats: BatchStatistics,
  recent: tf.Tensor2D[],
  random: () => number,
): { gradNorm: number; counts: Int32Array[] } {
  const norm = optimizer.apply(model.params.trainableVariables(), grads);
  const counts = model.quantizer.applyStatistics(stats, recent, random);
  const gradNorm = norm.dataSync()[0];
  norm.dispose();
  return { gradNorm, counts };
}

/** k-means initialisation of the codebooks on the first batch, when the config asks for it. */
export function initQuantizerIfNeeded(model: VqVae, batch: tf.Tensor2D, random: () => number): void {
  if (model.quantizer.needsInit()) tf.tidy(() => model.quantizer.initFromData(model.latents(batch).z, random));
}

/** One step in one process. */
export function trainStep(
  model: VqVae,
  optimizer: Adam,
  batch: tf.Tensor2D,
  numActive: number,
  weights: LossWeights,
  stftWindows: number[],
  random: () => number,
): StepStats {
  initQuantizerIfNeeded(model, batch, random);
  const shard = computeGradients(model, batch, numActive, weights, stftWindows);
  const { gradNorm, counts } = applyGradients(model, optimizer, shard.grads, shard.stats, shard.residuals, random);
  tf.dispose([...Object.values(shard.grads), ...shard.residuals]);
  return { ...lossRecord(shard.losses), gradNorm, numActive, counts };
}

export function lossRecord(losses: ArrayLike<number>): Pick<StepStats, (typeof LOSS_PARTS)[number]> {
  const [total, waveform, stft, codebook, commitment] = Array.from(losses);
  return { total, waveform, stft, codebook, commitment };
}
