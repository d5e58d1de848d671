/**
 * One optimisation step of the VQ-VAE, in two phases so that data-parallel replicas
 * can share the work: computeGradients (forward, losses, gradients, codebook statistics
 * of one shard) and applyGradients (Adam, EMA codebook update, dead-code restarts).
 */
import * as tf from '@tensorflow/tfjs';
import type { BatchStatistics } from '../model/quantizer.js';
import type { VqVae } from '../model/vqvae.js';
import { Adam } from './adam.js';
import { adversarialLoss, discriminatorLoss, featureMatchingLoss, type SpectrogramDiscriminator } from './discriminator.js';
import { multiResolutionStftLoss, waveformL1 } from './losses.js';
import { LOSS_PARTS, lossRecord, TERM_NAMES, usesDiscriminator, weightGroups, type LossTerm, type Losses, type LossWeights } from './lossTerms.js';

export { usesDiscriminator, type LossWeights } from './lossTerms.js';

/** How the codec's loss is made: the weights of its terms and the spectral loss's STFT windows. */
export interface LossSetup {
  weights: LossWeights;
  stftWindows: number[];
}

/** The discriminator and its own optimizer, when training adversarially. */
export interface Adversary {
  discriminator: SpectrogramDiscriminator;
  optimizer: Adam;
}

/** Everything a step needs besides the batch: the model, how it learns, and its losses. */
export interface StepContext {
  model: VqVae;
  optimizer: Adam;
  losses: LossSetup;
  random: () => number;
  adversary?: Adversary;
}

export type StepStats = Losses & {
  gradNorm: number;
  numActive: number;
  /** Assignment counts of this batch, per active codebook (none when skipped). */
  counts: Int32Array[];
  /** Why the step was skipped (a NaN or infinite loss or gradient norm); absent when it was applied. */
  skipped?: string;
};

/**
 * Every term of the codec's loss on one batch (unweighted; terms whose weight is 0 are 0) and
 * their weighted total. The GAN terms need the discriminator, whose weights are held fixed here.
 */
export function codecLosses(model: VqVae, batch: tf.Tensor2D, numActive: number, setup: LossSetup, discriminator?: SpectrogramDiscriminator) {
  const { weights, stftWindows } = setup;
  const out = model.forward(batch, numActive);
  const terms: Record<LossTerm, tf.Scalar> = {
    waveform: waveformL1(batch, out.reconstruction),
    stft: multiResolutionStftLoss(batch, out.reconstruction, stftWindows, { melWeight: weights.mel, sampleRate: model.config.sampleRate }),
    codebook: out.codebookLoss,
    commitment: out.commitmentLoss,
    adversarial: tf.scalar(0),
    featureMatching: tf.scalar(0),
  };
  if (usesDiscriminator(weights)) {
    if (discriminator === undefined) throw new Error('codecLosses: adversarial loss weights need a discriminator');
    const real = discriminator.apply(batch);
    const fake = discriminator.apply(out.reconstruction);
    terms.adversarial = adversarialLoss(fake);
    terms.featureMatching = featureMatchingLoss(real, fake);
  }
  // Terms sharing a weight are summed before it scales them (codebook + commitment by vq).
  const scaled = weightGroups(weights).map(({ weight, terms: names }) => tf.mul(names.length === 1 ? terms[names[0]] : tf.addN(names.map((n) => terms[n])), weight));
  const total = (scaled.length > 0 ? tf.addN(scaled) : tf.scalar(0)) as tf.Scalar;
  return { total, terms, out };
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
export function computeGradients(model: VqVae, batch: tf.Tensor2D, numActive: number, setup: LossSetup, discriminator?: SpectrogramDiscriminator): ShardGradients {
  const gan = usesDiscriminator(setup.weights);
  const vars = model.params.trainableVariables();
  let parts: tf.Tensor1D | undefined;
  let stageCodes: tf.Tensor1D[] = [];
  let decoded: tf.Tensor2D | undefined;
  let residuals: tf.Tensor2D[] = [];
  const { value, grads } = tf.variableGrads(() => {
    const { total, terms, out } = codecLosses(model, batch, numActive, setup, discriminator);
    if (gan) decoded = tf.keep(out.reconstruction);
    // Kept past variableGrads' tidy: read once per step, and needed for the codebook update.
    parts = tf.keep(tf.stack([total, ...TERM_NAMES.map((t) => terms[t])]) as tf.Tensor1D);
    stageCodes = out.stageCodes.map((c) => tf.keep(c));
    residuals = out.residuals.map((r) => tf.keep(r));
    return total;
  }, Object.values(vars));
  const stats = model.quantizer.batchStatistics(residuals, stageCodes);
  const losses = new Float32Array(LOSS_PARTS.length);
  losses.set(parts!.dataSync() as Float32Array);
  tf.dispose([value, parts!, ...stageCodes]);
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

/**
 * Why a step's update must not apply: a NaN or infinite loss (the codec's total or the
 * discriminator's) or gradient norm; undefined when every figure is finite.
 */
export function nonFiniteReason(losses: Float32Array, gradNorm: number, discriminatorGradNorm?: number): string | undefined {
  const total = losses[LOSS_PARTS.indexOf('total')];
  const discriminator = losses[LOSS_PARTS.indexOf('discriminator')];
  if (!Number.isFinite(total)) return `loss is ${total}`;
  if (!Number.isFinite(discriminator)) return `discriminator loss is ${discriminator}`;
  if (!Number.isFinite(gradNorm)) return `gradient norm is ${gradNorm}`;
  if (discriminatorGradNorm !== undefined && !Number.isFinite(discriminatorGradNorm)) return `discriminator gradient norm is ${discriminatorGradNorm}`;
  return undefined;
}

/** What applyGradients did: the gradient norm, and either the codebook counts or why nothing was applied. */
export interface Applied {
  gradNorm: number;
  counts: Int32Array[];
  /** Set when the step was skipped (see nonFiniteReason): no weight, moment or codebook statistic changed. */
  skipped?: string;
}

/**
 * Adam on the (averaged) gradients, then the codebook update from the (merged) statistics; but
 * first the losses and gradient norms are checked, and a non-finite one skips the whole update.
 */
export function applyGradients(
  ctx: StepContext,
  grads: Record<string, tf.Tensor>,
  stats: BatchStatistics,
  recent: tf.Tensor2D[],
  losses: Float32Array,
  discriminatorGrads?: Record<string, tf.Tensor>,
): Applied {
  const { model, optimizer, adversary } = ctx;
  const discriminator = adversary !== undefined && discriminatorGrads !== undefined;
  const norm = Adam.gradientNorm(grads);
  const discNorm = discriminator ? Adam.gradientNorm(discriminatorGrads) : undefined;
  const gradNorm = norm.dataSync()[0];
  const skipped = nonFiniteReason(losses, gradNorm, discNorm?.dataSync()[0]);
  if (skipped !== undefined) {
    tf.dispose([norm, ...(discNorm ? [discNorm] : [])]);
    return { gradNorm, counts: [], skipped };
  }
  if (discriminator) adversary.optimizer.apply(adversary.discriminator.params.trainableVariables(), discriminatorGrads, discNorm).dispose();
  optimizer.apply(model.params.trainableVariables(), grads, norm).dispose();
  // A frozen encoder's codebooks stay as they are: the counts only feed the usage figures.
  const counts = model.encoderFrozen ? stats.counts.map((c) => Int32Array.from(c)) : model.quantizer.applyStatistics(stats, recent, ctx.random);
  return { gradNorm, counts };
}

/**
 * k-means initialisation of the codebooks on the first batch, when the config asks for it; not
 * on encoder outputs that hold a NaN or infinity (that step is skipped, the next one initialises).
 */
export function initQuantizerIfNeeded(model: VqVae, batch: tf.Tensor2D, random: () => number): void {
  if (model.encoderFrozen || !model.quantizer.needsInit()) return;
  tf.tidy(() => {
    const { z, frames } = model.latents(batch);
    const values = z.dataSync();
    for (let i = 0; i < values.length; i++) if (values[i] - values[i] !== 0) return;
    model.quantizer.initFromData(z, random, frames);
  });
}

/** One step in one process, on a batch [rows, samples] with the first numActive codebooks. */
export function trainStep(ctx: StepContext, batch: tf.Tensor2D, numActive: number): StepStats {
  initQuantizerIfNeeded(ctx.model, batch, ctx.random);
  const shard = computeGradients(ctx.model, batch, numActive, ctx.losses, ctx.adversary?.discriminator);
  const { gradNorm, counts, skipped } = applyGradients(ctx, shard.grads, shard.stats, shard.residuals, shard.losses, shard.discriminatorGrads);
  tf.dispose([...Object.values(shard.grads), ...Object.values(shard.discriminatorGrads ?? {}), ...shard.residuals]);
  return { ...lossRecord(shard.losses), gradNorm, numActive, counts, ...(skipped !== undefined ? { skipped } : {}) };
}

