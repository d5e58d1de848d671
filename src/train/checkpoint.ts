/**
 * A run's checkpoint (RUN/checkpoint.bin, one bundle written atomically): the model's weights
 * and training statistics, Adam's moments, codebook usage, the step, the crop sampler's random
 * state, the config and options, and in GAN training the discriminator with its Adam. Enough to
 * resume exactly where the run stopped, the learning-rate factor that skipped steps left (each
 * halves it) and how many steps in a row were skipped included. Neither a checkpoint nor a
 * loaded one may hold a NaN or infinite value (writeBundle and readBundle refuse).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Codec } from '../codec.js';
import { VqcodecError } from '../errors.js';
import type { Precision } from '../io/bundle.js';
import { readBundle, writeBundle } from '../io/bundleFs.js';
import { DEFAULT_QUANTIZER_TRAINING, splitStoredConfig } from '../model/config.js';
import type { NamedArrays } from '../model/params.js';
import { VqVae } from '../model/vqvae.js';
import { Adam } from './adam.js';
import { SpectrogramDiscriminator } from './discriminator.js';
import { DEFAULT_TRAIN_OPTIONS, validateTrainOptions, type TrainChanges, type TrainOptions } from './options.js';
import { Random } from './random.js';
import type { Adversary } from './step.js';

export const CHECKPOINT_FILE = 'checkpoint.bin';

/** Checkpoint arrays of the discriminator and its optimizer carry this prefix. */
const DISCRIMINATOR_PREFIX = 'discriminator:';

export interface DiscriminatorState {
  /** Its weights and Adam moments, prefix removed. */
  arrays: NamedArrays;
  adamStep: number;
}

/** What a checkpoint restores. */
export interface RunState {
  model: VqVae;
  adam: Adam;
  random: Random;
  step: number;
  options: TrainOptions;
  /** What the learning rate is multiplied by: halved at each skipped step (1 for a run that never skipped). */
  lrFactor: number;
  /** Steps skipped in a row up to `step` (a run stops after MAX_SKIPS_IN_A_ROW). */
  skipsInARow: number;
  /** GAN training only: absent when the run has trained without a discriminator so far. */
  discriminatorState?: DiscriminatorState;
}

/** The codec's Adam: the same settings for a new run and a restored one. */
export function codecOptimizer(options: TrainOptions): Adam {
  return new Adam({ learningRate: options.learningRate, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, clipNorm: options.clipNorm });
}

/** A discriminator (fresh, or from a checkpoint's state) and its own Adam. */
export function makeAdversary(options: TrainOptions, state?: DiscriminatorState): Adversary {
  const discriminator = new SpectrogramDiscriminator(options.seed);
  // β1 = 0.5, β2 = 0.9: the usual GAN setting (EnCodec), so the discriminator follows a moving target closely.
  const optimizer = new Adam({ learningRate: options.learningRate, beta1: 0.5, beta2: 0.9, epsilon: 1e-8, clipNorm: options.clipNorm });
  if (state !== undefined) {
    try {
      discriminator.params.restore(state.arrays, 'the checkpoint\'s discriminator');
    } catch (err) {
      discriminator.dispose();
      throw new VqcodecError((err as Error).message);
    }
    optimizer.restore(state.adamStep, state.arrays);
  }
  return { discriminator, optimizer };
}

export async function saveCheckpoint(file: string, run: Omit<RunState, 'discriminatorState'>, adversary?: Adversary): Promise<void> {
  const { model, adam, random, step, options, lrFactor, skipsInARow } = run;
  const optimizer = adam.snapshot();
  const arrays: NamedArrays = { ...model.params.snapshot(), ...optimizer.arrays };
  model.quantizer.usage.forEach((u, q) => (arrays[`usage/${q}`] = { shape: [u.length], data: u }));
  const meta: Record<string, unknown> = { format: 'vqcodec-checkpoint', version: 1, step, adamStep: optimizer.step, random: random.state, config: model.config, options, lrFactor, skipsInARow };
  if (adversary) {
    const discOptimizer = adversary.optimizer.snapshot();
    for (const [name, a] of Object.entries({ ...adversary.discriminator.params.snapshot(), ...discOptimizer.arrays })) arrays[DISCRIMINATOR_PREFIX + name] = a;
    meta.discriminatorAdamStep = discOptimizer.step;
  }
  await writeBundle(file, { meta, arrays });
}

/**
 * Restores a run. Its saved options stay but for those in `changed`; loss weights and quantizer
 * training settings merge one by one, so changing one keeps the others. A checkpoint written
 * before training settings left the model config has them in its config: they are read from there.
 */
export async function loadCheckpoint(file: string, changed: TrainChanges = {}): Promise<RunState> {
  const { meta, arrays } = await readBundle(file);
  if (meta.format !== 'vqcodec-checkpoint') throw new VqcodecError(`${file} is not a vqcodec training checkpoint`);
  const { config, training: fromConfig } = splitStoredConfig(meta.config);
  const saved = meta.options as Partial<TrainOptions>;
  const options: TrainOptions = {
    ...DEFAULT_TRAIN_OPTIONS,
    ...(saved as TrainOptions),
    ...changed,
    lossWeights: { ...DEFAULT_TRAIN_OPTIONS.lossWeights, ...saved.lossWeights, ...changed.lossWeights },
    quantizer: { ...DEFAULT_QUANTIZER_TRAINING, ...fromConfig, ...saved.quantizer, ...changed.quantizer },
  };
  validateTrainOptions(options);
  const model = new VqVae(config, options.seed, options.quantizer);
  // A checkpoint from before the split names its model by the config it stored (see VqVae.identity).
  if (Object.keys(fromConfig).length > 0) model.identity = meta.config as object;
  try {
    model.params.restore(arrays, file);
  } catch (err) {
    model.dispose();
    throw new VqcodecError((err as Error).message);
  }
  model.quantizer.usage.forEach((u, q) => u.set(arrays[`usage/${q}`].data));
  const adam = codecOptimizer(options);
  adam.restore(meta.adamStep as number, arrays);
  // A run that trained without a discriminator has none: enabling GAN on resume starts a fresh one.
  let discriminatorState: DiscriminatorState | undefined;
  if (typeof meta.discriminatorAdamStep === 'number') {
    const own = Object.entries(arrays).filter(([key]) => key.startsWith(DISCRIMINATOR_PREFIX));
    discriminatorState = { arrays: Object.fromEntries(own.map(([key, a]) => [key.slice(DISCRIMINATOR_PREFIX.length), a])), adamStep: meta.discriminatorAdamStep };
  }
  // Checkpoints from before skipped steps were counted have neither figure: they never skipped.
  const lrFactor = meta.lrFactor ?? 1;
  const skipsInARow = meta.skipsInARow ?? 0;
  if (!(typeof lrFactor === 'number' && lrFactor > 0 && lrFactor <= 1)) throw new VqcodecError(`${file}: its learning-rate factor must be in (0, 1] (got ${JSON.stringify(lrFactor)})`);
  if (!(typeof skipsInARow === 'number' && Number.isInteger(skipsInARow) && skipsInARow >= 0)) throw new VqcodecError(`${file}: its count of skipped steps must be an integer ≥ 0 (got ${JSON.stringify(skipsInARow)})`);
  return { model, adam, random: new Random(meta.random as number), step: meta.step as number, options, lrFactor, skipsInARow, discriminatorState };
}

/** Writes the model of a run's latest checkpoint (a run folder or a checkpoint file); at 'float16' its weights are rounded first (a new fingerprint), for a half-size weights.bin. */
export async function exportCheckpoint(run: string, outDir: string, precision: Precision = 'float32'): Promise<Codec> {
  const stat = await fs.stat(run).catch(() => undefined);
  if (stat === undefined) throw new VqcodecError(`no such run or checkpoint: ${run}`);
  const file = stat.isDirectory() ? path.join(run, CHECKPOINT_FILE) : run;
  const { model, adam } = await loadCheckpoint(file);
  adam.dispose();
  const codec = precision === 'float16' ? Codec.fromModelAtHalfPrecision(model) : Codec.fromModel(model);
  await codec.save(outDir, precision);
  return codec;
}
