/**
 * One optimisation step of the VQ-VAE, in two phases so that data-parallel replicas
 * can share the work: computeGradients (forward, losses, gradients, codebook statistics
 * of one shard) and applyGradients (Adam, EMA codebook update, dead-code restarts).
 */
import * as tf from '@tensorflow/tfjs';
import type { BatchStatistics } from '../model/quantizer.js';
import type { VqVae } from '../model/vqvae.js';
import type { Adam } from './adam.js';
import { adversarialLoss, discriminatorLoss, featureMatchingLoss, type SpectrogramDiscriminator } from './discriminator.js';
import { multiResolutionStftLoss, waveformL1 } from './losses.js';

export interface LossWeights {
  waveform: number;
  stft: number;
  /** Log-mel L1 term inside the spectral loss (reported as part of 'stft'); absent or 0: none. */
  mel?: number;
  /** Scales codebook + commitment losses. */
  vq: number;
  /** Hinge adversarial term against a SpectrogramDiscriminator; absent or 0: none. */
  adversarial?: number;
  /** Feature matching on the discriminator's activations; absent or 0: none. */
  featureMatching?: number;
}

/** Whether these weights train against a discriminator (GAN training). */
export function usesDiscriminator(weights: LossWeights): boolean {
  return (weights.adversarial ?? 0) > 0 || (weights.featureMatching ?? 0) > 0;
}

/** The discriminator and its own optimizer, when training adversarially. */
export interface Adversary {
  discriminator: SpectrogramDiscriminator;
  optimizer: Adam;
}

/**
 * The loss parts, in the order of StepStats' fields. `total` is the codec's (generator's) loss;
 * `discriminator` is the discriminator's hinge loss (0, like the two terms before it, without GAN).
 */
export const LOSS_PARTS = ['total', 'waveform', 'stft', 'codebook', 'commitment', 'adversarial', 'featureMatching', 'discriminator'] as const;

export interface StepStats {
  total: number;
  waveform: number;
  stft: number;
  codebook: number;
  commitment: number;
  adversarial: number;
  featureMatching: number;
  discriminator: number;
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
  /** The discriminator's gradients by parameter name (GAN training only). */
  discriminatorGrads?: Record<string, tf.Tensor>;
  /** LOSS_PARTS values on this shard. */
  losses: Float32Array;
  stats: BatchStatistics;
  /** Each active codebook's input (gradient-free), kept for dead-code restarts. */
  residuals: tf.Tensor2D[];
}

/** Gradients keyed by parameter name instead of variable name; absent ones left out. */
function byParameterName(vars: Record<string, tf.Variable>, grads: tf.NamedTensorMap): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [name, v] of Object.entries(vars)) if (grads[v.name] != null) out[name] = grads[v.name];
  return out;
}

/**
 * Forward and backward on one shard. With a discriminator, the codec's loss gains the
 * adversarial and feature-matching terms (the discriminator's weights held fixed), then the
 * discriminator's hinge loss on this batch and the decoded audio gives its own gradients.
 * The caller disposes `grads`, `discriminatorGrads` and `residuals`.
 */
export function computeGradients(
  model: VqVae,
  batch: tf.Tensor2D,
  numActive: number,
  weights: LossWeights,
  stftWindows: number[],
  discriminator?: SpectrogramDiscriminator,
): ShardGradients {
  const gan = usesDiscriminator(weights);
  if (gan && discriminator === undefined) throw new Error('computeGradients: adversarial loss weights need a discriminator');
  const vars = model.params.trainableVariables();
  let parts: tf.Tensor1D | undefined;
  let codes: tf.Tensor2D | undefined;
  let decoded: tf.Tensor2D | undefined;
  let residuals: tf.Tensor2D[] = [];
  const { value, grads } = tf.variableGrads(() => {
    const { total, waveform, stft, out } = computeLosses(model, batch, numActive, weights, stftWindows);
    let generatorTotal = total;
    let adversarial = tf.scalar(0);
    let featureMatching = tf.scalar(0);
    if (gan) {
      const real = discriminator!.apply(batch);
      const fake = discriminator!.apply(out.reconstruction);
      adversarial = adversarialLoss(fake);
      featureMatching = featureMatchingLoss(real, fake);
      generatorTotal = tf.addN([total, tf.mul(adversarial, weights.adversarial ?? 0), tf.mul(featureMatching, weights.featureMatching ?? 0)]) as tf.Scalar;
      decoded = tf.keep(out.reconstruction);
    }
    // Kept past variableGrads' tidy: read once per step, and needed for the codebook update.
    parts = tf.keep(tf.stack([generatorTotal, waveform, stft, out.codebookLoss, out.commitmentLoss, adversarial, featureMatching]) as tf.Tensor1D);
    codes = tf.keep(out.codes);
    residuals = out.residuals.map((r) => tf.keep(r));
    return generatorTotal;
  }, Object.values(vars));
  const stats = model.quantizer.batchStatistics(residuals, codes!);
  const losses = new Float32Array(LOSS_PARTS.length);
  losses.set(parts!.dataSync() as Float32Array);
  tf.dispose([value, parts!, codes!]);
  let discriminatorGrads: Record<string, tf.Tensor> | undefined;
  if (gan) {
    // The decoded audio is a constant here: this step trains the discriminator only.
    const discVars = discriminator!.params.trainableVariables();
    const d = tf.variableGrads(() => discriminatorLoss(discriminator!.apply(batch), discriminator!.apply(decoded!)), Object.values(discVars));
    discriminatorGrads = byParameterName(discVars, d.grads);
    losses[LOSS_PARTS.indexOf('discriminator')] = d.value.dataSync()[0];
    tf.dispose([d.value, decoded!]);
  }
  return { grads: byParameterName(vars, grads), discriminatorGrads, losses, stats, residuals };
}

/** Adam on the (averaged) gradients, then the codebook update from the (merged) statistics. */
export function applyGradients(
  model: VqVae,
  optimizer: Adam,
  grads: Record<string, tf.Tensor>,
  stats: BatchStatistics,
  recent: tf.Tensor2D[],
  random: () => number,
  adversary?: Adversary,
  discriminatorGrads?: Record<string, tf.Tensor>,
): { gradNorm: number; counts: Int32Array[] } {
  if (adversary !== undefined && discriminatorGrads !== undefined) {
    adversary.optimizer.apply(adversary.discriminator.params.trainableVariables(), discriminatorGrads).dispose();
  }
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
  adversary?: Adversary,
): StepStats {
  initQuantizerIfNeeded(model, batch, random);
  const shard = computeGradients(model, batch, numActive, weights, stftWindows, adversary?.discriminator);
  const { gradNorm, counts } = applyGradients(model, optimizer, shard.grads, shard.stats, shard.residuals, random, adversary, shard.discriminatorGrads);
  tf.dispose([...Object.values(shard.grads), ...Object.values(shard.discriminatorGrads ?? {}), ...shard.residuals]);
  return { ...lossRecord(shard.losses), gradNorm, numActive, counts };
}

export function lossRecord(losses: ArrayLike<number>): Pick<StepStats, (typeof LOSS_PARTS)[number]> {
  const values = Array.from(losses);
  return Object.fromEntries(LOSS_PARTS.map((part, i) => [part, values[i] ?? 0])) as Pick<StepStats, (typeof LOSS_PARTS)[number]>;
}
