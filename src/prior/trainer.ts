/**
 * Training the prior on a token export (vqcodec tokens): random windows of the delayed streams
 * (of super-frames, for multi-rate codes), Adam, a JSON-lines log, validation cross-entropy in
 * bits per token (overall and per codebook) on held-out files, atomic checkpoints and exact
 * resume (weights, Adam moments, step, the sampler's random state). As in the codec's trainer, a
 * step with a NaN or infinite loss or gradient norm is skipped, logged and halves the learning
 * rate; MAX_SKIPS_IN_A_ROW in a row stop the run.
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { VqcodecError } from '../errors.js';
import { removeStaleTempFiles } from '../io/atomic.js';
import { readBundle, writeBundle } from '../io/bundleFs.js';
import type { NamedArrays } from '../model/params.js';
import { readTokenExport } from '../tokens/export.js';
import { Adam } from '../train/adam.js';
import { hashFraction } from '../train/data.js';
import { learningRateAt } from '../train/options.js';
import { Random } from '../train/random.js';
import { RunLog, type SkipLog } from '../train/runLog.js';
import { SkippedSteps } from '../train/skips.js';
import { stridesOf, isMultiRate } from '../tokens/codeStrides.js';
import { backendName } from '../backend.js';
import { exportStrides, priorGrid, WindowSampler } from './data.js';
import { PriorParallel, shareGradients } from './parallel.js';
import { loadPrior, savePrior, type PriorCodec } from './store.js';
import { checkPriorStrides, superFrameLayout } from './superFrames.js';
import { TokenPrior, validatePriorConfig, type PriorConfig, type PriorDropout } from './transformer.js';

export interface PriorTrainOptions {
  /** A `vqcodec tokens` output folder. */
  tokens: string;
  /** Run folder: log.jsonl, checkpoint.bin, prior/ (the exported prior). */
  outDir: string;
  /** Shape of the prior; codebookSize and codeStrides come from the tokens. */
  model: Omit<PriorConfig, 'codebookSize' | 'codeStrides'>;
  steps: number;
  batchSize: number;
  learningRate: number;
  lrDecayFrom?: number;
  clipNorm: number;
  /** Dropout rate while training (absent in runs from before it existed: 0). */
  dropout?: number;
  logEvery: number;
  validateEvery: number;
  checkpointEvery: number;
  /** Files held out for validation, chosen by a hash of their id. */
  validFraction: number;
  seed: number;
  /**
   * A saved prior (a directory) to start from, with its shape, on the tokens of `tokens` (fine-
   * tuning, with a fresh optimizer): the cheap retrain when the codec changes a little.
   */
  initFrom?: string;
  /**
   * With `initFrom`: Transformer blocks appended on top of the saved prior's, each starting as the
   * identity (its two residual projections at zero), so the grown prior predicts as before.
   */
  addLayers?: number;
  /**
   * Replicas of data-parallel training (./parallel.ts): worker threads + the main thread (absent: 1).
   * A resumed run repeats a straight one exactly when both use the same number.
   */
  workers?: number;
  /** The fraction of training windows that begin at their file's start (./data.ts WindowSampler; absent: 0). */
  fileStarts?: number;
}

export const DEFAULT_PRIOR_OPTIONS: Omit<PriorTrainOptions, 'tokens' | 'outDir'> = {
  model: { numCodebooks: 2, width: 192, layers: 4, heads: 4, context: 128 },
  steps: 3000,
  batchSize: 8,
  learningRate: 1e-3,
  clipNorm: 1,
  dropout: 0.1,
  logEvery: 10,
  validateEvery: 250,
  checkpointEvery: 100,
  validFraction: 0.05,
  seed: 1,
};

export interface PriorLog {
  type: 'train' | 'valid';
  step: number;
  /** Mean cross-entropy, bits per token (log2 of the codebook size is the cost of no model at all). */
  bitsPerToken: number;
  /** Validation only: bits per token of each codebook (of each real codebook, over its virtual ones, for multi-rate codes). */
  bitsPerCodebook?: number[];
  learningRate?: number;
  tokensPerSecond?: number;
}

export interface PriorEvents {
  onStart?(info: { startStep: number; steps: number; trainFiles: number; validFiles: number; parameters: number }): void;
  onStep?(step: number, log?: PriorLog): void;
  onValidate?(log: PriorLog): void;
  /** A step was skipped (NaN or infinite loss or gradient norm); the entry is in the log too. */
  onSkip?(entry: SkipLog): void;
  /** Test hook for injecting faults: may replace a step's loss (inside the gradient tape). */
  onLoss?(step: number, loss: tf.Scalar): tf.Scalar;
}

/**
 * Bits per token over consecutive windows of the held-out grids (the same windows every time):
 * the mean of the windows' means, and per codebook over all its targets.
 */
function validationBits(prior: TokenPrior, grids: Int32Array[], maxWindows = 32): Pick<PriorLog, 'bitsPerToken' | 'bitsPerCodebook'> {
  const { context } = prior.config;
  const V = prior.virtualCodebooks;
  let bits = 0;
  let count = 0;
  const nats = new Float64Array(V);
  const targets = new Float64Array(V);
  for (const grid of grids) {
    const steps = grid.length / V;
    for (let start = 0; start + 1 < steps && count < maxWindows; start += context) {
      const take = Math.min(context + 1, steps - start);
      const sums = tf.tidy(() => prior.lossByCodebook(tf.tensor3d(grid.subarray(start * V, (start + take) * V), [1, take, V], 'int32')));
      const values = sums.dataSync();
      sums.dispose();
      let windowNats = 0;
      let windowTargets = 0;
      for (let v = 0; v < V; v++) {
        nats[v] += values[v];
        targets[v] += values[V + v];
        windowNats += values[v];
        windowTargets += values[V + v];
      }
      bits += windowNats / Math.max(windowTargets, 1) / Math.LN2;
      count++;
    }
  }
  // A real codebook's virtual codebooks (one per window of a super-frame) count together.
  const { codebook } = superFrameLayout(stridesOf(prior.config));
  const bitsPerCodebook = Array.from({ length: prior.config.numCodebooks }, (_, q) => {
    const of = (a: Float64Array) => codebook.reduce((sum, c, v) => sum + (c === q ? a[v] : 0), 0);
    return of(nats) / Math.max(of(targets), 1) / Math.LN2;
  });
  return { bitsPerToken: count > 0 ? bits / count : NaN, bitsPerCodebook };
}

/** Zeroes the residual projections of blocks `from`.. so that each adds nothing: the grown prior predicts as the one it grew from. */
function growIdentityBlocks(prior: TokenPrior, from: number): void {
  for (let l = from; l < prior.config.layers; l++) {
    for (const name of ['out', 'mlp.out', 'mlp.outBias']) {
      const v = prior.params.get(`block${l}.${name}`);
      tf.tidy(() => v.assign(tf.zerosLike(v)));
    }
  }
}

const CHECKPOINT = 'checkpoint.bin';

/** Options for trainPrior: steps left out means the default for a new run, the run's own on resume. */
export type PriorTrainRequest = Omit<PriorTrainOptions, 'steps'> & { steps?: number };

export async function trainPrior(request: PriorTrainRequest, resume: boolean, events: PriorEvents = {}): Promise<TokenPrior> {
  const options: PriorTrainOptions = { ...request, steps: request.steps ?? DEFAULT_PRIOR_OPTIONS.steps };
  const data = await readTokenExport(options.tokens);
  let opts = options;
  const checkpointPath = path.join(options.outDir, CHECKPOINT);
  const runLog = new RunLog<PriorLog | SkipLog>(options.outDir);
  const hasCheckpoint = await fs.stat(checkpointPath).then(() => true, () => false);
  if (resume && !hasCheckpoint) throw new VqcodecError(`nothing to resume: no ${CHECKPOINT} in ${options.outDir}`);
  if (!resume && hasCheckpoint) throw new VqcodecError(`${options.outDir} already holds a prior's training run: resume it, or choose another output folder`);
  let saved: { meta: Record<string, unknown>; arrays: NamedArrays } | undefined;
  if (resume) {
    saved = await readBundle(checkpointPath);
    if (saved.meta.format !== 'vqcodec-prior-checkpoint') throw new VqcodecError(`${checkpointPath} is not a prior's checkpoint`);
    // The run keeps its own schedule (total steps, decay start) unless they are given again.
    const savedOptions = saved.meta.options as PriorTrainOptions;
    opts = { ...savedOptions, steps: request.steps ?? savedOptions.steps, lrDecayFrom: request.lrDecayFrom ?? savedOptions.lrDecayFrom, tokens: options.tokens, outDir: options.outDir, workers: request.workers ?? savedOptions.workers };
    if ((saved.meta.codec as PriorCodec).fingerprint !== data.codec.fingerprint) throw new VqcodecError(`the run models codec ${(saved.meta.codec as PriorCodec).fingerprint}; ${options.tokens} holds tokens of ${data.codec.fingerprint}`);
  }
  // A prior to start from gives the shape (its codec may differ: that is what fine-tuning is for).
  const init = !saved && opts.initFrom !== undefined ? await loadPrior(opts.initFrom) : undefined;
  if (init) {
    const { codebookSize, numCodebooks, width, layers, heads, context } = init.prior.config;
    if (codebookSize !== data.codebookSize) {
      init.prior.dispose();
      throw new VqcodecError(`the prior in ${opts.initFrom} models ${codebookSize} codes a codebook; ${options.tokens} holds codes of ${data.codebookSize}`);
    }
    opts = { ...opts, model: { numCodebooks, width, layers: layers + (opts.addLayers ?? 0), heads, context } };
  }
  if (!saved && opts.addLayers !== undefined) {
    if (init === undefined) throw new VqcodecError('addLayers grows the prior of initFrom: give initFrom');
    if (!Number.isInteger(opts.addLayers) || opts.addLayers < 1) throw new VqcodecError(`layers to add must be a positive integer (got ${opts.addLayers})`);
  }
  const n = opts.model.numCodebooks;
  // The strides of the codebooks modelled, recorded in the prior only for multi-rate codes.
  const strides = exportStrides(data, n);
  if (saved) checkPriorStrides({ numCodebooks: n, codeStrides: saved.meta.codeStrides as number[] | undefined }, strides);
  const config: PriorConfig = { ...opts.model, codebookSize: data.codebookSize, ...(isMultiRate(strides) ? { codeStrides: strides } : {}) };
  validatePriorConfig(config);
  const isValid = data.entries.map((e) => hashFraction(e.id) < opts.validFraction);
  // Small exports: at least one file held out (when validFraction > 0), and never all of them.
  if (isValid.every(Boolean) || (opts.validFraction > 0 && !isValid.some(Boolean) && data.entries.length > 1)) isValid.fill(false).fill(true, 0, Math.min(1, data.entries.length - 1));
  const grids = data.codes.map((c, i) => priorGrid(c, data.codebooks[i], strides, config.codebookSize));
  const trainGrids = grids.filter((_, i) => !isValid[i]);
  const validGrids = grids.filter((_, i) => isValid[i]);

  const prior = new TokenPrior(config, opts.seed);
  if (init) {
    try {
      checkPriorStrides(init.prior.config, strides);
      const oldLayers = init.prior.config.layers;
      const isNewBlock = (name: string) => Number(/^block(\d+)\./.exec(name)?.[1] ?? -1) >= oldLayers;
      prior.params.restore(init.prior.params.snapshot(), path.join(opts.initFrom!, 'weights.bin'), isNewBlock);
      growIdentityBlocks(prior, oldLayers);
    } finally {
      init.prior.dispose();
    }
  }
  const adam = new Adam({ learningRate: opts.learningRate, beta1: 0.9, beta2: 0.98, epsilon: 1e-9, clipNorm: opts.clipNorm });
  let random = new Random(opts.seed);
  let startStep = 0;
  /** The learning rate's factor (halved by each skipped step) and the skipped steps in a row; in the checkpoint. */
  const skips = new SkippedSteps();
  await fs.mkdir(options.outDir, { recursive: true });
  // Temp files of a process killed mid-write (the files they were to replace are whole).
  for (const dir of [options.outDir, path.join(options.outDir, 'prior')]) await removeStaleTempFiles(dir);
  if (saved) {
    prior.params.restore(saved.arrays, checkpointPath);
    adam.restore(saved.meta.adamStep as number, saved.arrays);
    random = new Random(saved.meta.random as number);
    startStep = saved.meta.step as number;
    if (typeof saved.meta.lrFactor === 'number') skips.lrFactor = saved.meta.lrFactor;
    if (typeof saved.meta.skipsInARow === 'number') skips.inARow = saved.meta.skipsInARow;
    await runLog.truncate(startStep);
  } else {
    await runLog.create();
  }
  const V = prior.virtualCodebooks;
  const fileStarts = opts.fileStarts ?? 0;
  if (!(fileStarts >= 0 && fileStarts <= 1)) throw new VqcodecError(`the fraction of windows at file starts must be from 0 to 1 (got ${fileStarts})`);
  const sampler = new WindowSampler(trainGrids, V, config.codebookSize, fileStarts);
  events.onStart?.({ startStep, steps: opts.steps, trainFiles: trainGrids.length, validFiles: validGrids.length, parameters: prior.params.trainableCount() });
  const steps = config.context + 1;
  let window: number[] = [];
  let windowStart = performance.now();
  let lastCheckpoint = startStep;
  const replicas = opts.workers ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1) throw new VqcodecError(`workers must be a positive integer (got ${replicas})`);
  const parallel = replicas > 1 ? await PriorParallel.start(config, replicas, backendName() ?? 'wasm') : undefined;
  try {
    for (let step = startStep + 1; step <= opts.steps; step++) {
      adam.options.learningRate = learningRateAt(step, opts) * skips.lrFactor;
      const windows = sampler.sample(opts.batchSize, steps, random);
      // Replica 0's masks are those of a run without workers.
      const dropoutOf = (replica: number): PriorDropout | undefined => (opts.dropout ? { rate: opts.dropout, seed: replica === 0 ? `${opts.seed}/${step}` : `${opts.seed}/${step}/${replica}` } : undefined);
      const onLoss = events.onLoss ? (loss: tf.Scalar) => events.onLoss!(step, loss) : undefined;
      const { nats, grads: named } = parallel ? await parallel.gradients(prior, windows, opts.batchSize, steps, dropoutOf, onLoss) : shareGradients(prior, windows, opts.batchSize, steps, dropoutOf(0), onLoss);
      const vars = prior.params.trainableVariables();
      // Checked before anything is applied: a NaN or infinity skips the step.
      const norm = Adam.gradientNorm(named);
      const gradNorm = norm.dataSync()[0];
      const skipped = !Number.isFinite(nats) ? `loss is ${nats}` : !Number.isFinite(gradNorm) ? `gradient norm is ${gradNorm}` : undefined;
      if (skipped === undefined) adam.apply(vars, named, norm).dispose();
      else norm.dispose();
      tf.dispose(Object.values(named));
      if (skipped !== undefined) {
        const entry = skips.skip(step, skipped);
        await runLog.append(entry);
        events.onSkip?.(entry);
        const stop = skips.stopError("the prior's training", entry, lastCheckpoint);
        if (stop) throw stop;
      } else {
        skips.applied();
        window.push(nats);
      }
      let log: PriorLog | undefined;
      if ((step % opts.logEvery === 0 || step === opts.steps) && window.length > 0) {
        const seconds = (performance.now() - windowStart) / 1000;
        log = { type: 'train', step, bitsPerToken: window.reduce((a, b) => a + b, 0) / window.length / Math.LN2, learningRate: adam.options.learningRate, tokensPerSecond: (window.length * opts.batchSize * config.context * V) / seconds };
        await runLog.append(log);
        window = [];
        windowStart = performance.now();
      }
      events.onStep?.(step, log);
      if (validGrids.length > 0 && (step % opts.validateEvery === 0 || step === opts.steps)) {
        const entry: PriorLog = { type: 'valid', step, ...validationBits(prior, validGrids) };
        await runLog.append(entry);
        events.onValidate?.(entry);
      }
      if (step % opts.checkpointEvery === 0 || step === opts.steps) {
        const snapshot = adam.snapshot();
        await writeBundle(checkpointPath, {
          meta: { format: 'vqcodec-prior-checkpoint', version: 1, step, adamStep: snapshot.step, random: random.state, options: opts, codec: data.codec, lrFactor: skips.lrFactor, skipsInARow: skips.inARow, ...(config.codeStrides ? { codeStrides: config.codeStrides } : {}) },
          arrays: { ...prior.params.snapshot(), ...snapshot.arrays },
        });
        lastCheckpoint = step;
        await savePrior(path.join(options.outDir, 'prior'), prior, data.codec);
      }
    }
  } finally {
    await parallel?.close();
  }
  adam.dispose();
  return prior;
}
