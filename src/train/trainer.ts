/**
 * The training loop: random crops → trainStep, with logs (JSON lines, runLog.ts), codebook
 * health, validation, atomic checkpoints and exact resume (checkpoint.ts). A step whose loss or
 * gradient norm is NaN or infinite is skipped (nothing learns from it, its crops are used up),
 * logged, and halves the learning rate from then on; MAX_SKIPS_IN_A_ROW in a row stop the run.
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { backendName } from '../backend.js';
import { Codec } from '../codec.js';
import { VqcodecError } from '../errors.js';
import { removeStaleTempFiles, writeFileAtomic } from '../io/atomic.js';
import { validateConfig, type CodecConfig } from '../model/config.js';
import { VqVae } from '../model/vqvae.js';
import { evaluateClip, summarize, UsageCounter } from '../eval/evaluate.js';
import { CHECKPOINT_FILE, codecOptimizer, loadCheckpoint, makeAdversary, saveCheckpoint, type RunState } from './checkpoint.js';
import { CropSampler, evenlySpaced, listAudio, loadClips, type Clip, type FileLists } from './data.js';
import { LOSS_PARTS, usesDiscriminator, type LossPart } from './lossTerms.js';
import { learningRateAt, validateTrainOptions, type TrainChanges, type TrainOptions } from './options.js';
import { grownModel } from './grow.js';
import { DataParallel } from './parallel.js';
import { Random } from './random.js';
import { RunLog, type SkipLog, type StepLog, type ValidLog } from './runLog.js';
import { SkippedSteps } from './skips.js';
import { trainStep, type StepContext, type StepStats } from './step.js';

export { DEFAULT_TRAIN_OPTIONS, LR_FLOOR, MAX_SKIPS_IN_A_ROW, learningRateAt, validateTrainOptions, type TrainChanges, type TrainOptions } from './options.js';
export { readLog, type LogEntry, type SkipLog, type StepLog, type ValidLog } from './runLog.js';
export { exportCheckpoint } from './checkpoint.js';

export interface TrainEvents {
  /** Called once data is loaded. */
  /** codeStrides: frames per code of each codebook (all 1 for single-rate codes). */
  onStart?(info: { startStep: number; steps: number; trainSeconds: number; validClips: number; skipped: string[]; parameters: number; codeStrides: number[] }): void;
  onStep?(step: number, log: StepLog | undefined, stats: { total: number; audioSecondsPerSecond: number }): void;
  onValidate?(log: ValidLog): void;
  onCheckpoint?(step: number, file: string): void;
  /** A step was skipped (its loss or gradient norm was NaN or infinite); the entry is in the log too. */
  onSkip?(entry: SkipLog): void;
  /**
   * Sees each step's batch (rows × crop samples, row-major) before the step and may change it in
   * place: a test hook for injecting faults (a NaN sample).
   */
  onBatch?(step: number, samples: Float32Array): void;
}

/**
 * Trains (or resumes) a codec; returns the exported codec. A resumed run keeps its saved
 * options and config except the step budget, data, folder and worker count, and whatever
 * `changed` names (options a user set explicitly, e.g. a lower learning rate, other loss weights
 * or another dead-code restart; loss weights and quantizer settings merge one by one).
 */
export async function train(config: CodecConfig, options: TrainOptions, resume: boolean, events: TrainEvents = {}, changed: TrainChanges = {}): Promise<Codec> {
  // Checked before anything is written, with what the caller changes.
  validateTrainOptions({ ...options, quantizer: { ...options.quantizer, ...changed.quantizer } });
  validateConfig(config);
  // The data is listed before anything is written: an empty folder or manifest leaves no run folder behind.
  const lists = await listAudio(options.data);
  await fs.mkdir(options.outDir, { recursive: true });
  const runLog = new RunLog(options.outDir);
  const run = await openRun(config, options, resume, runLog, changed);
  const { model, adam, random, options: opts } = run;
  if (opts.decoderOnly === true) model.freezeEncoder();
  // Temp files of a process killed mid-write (its checkpoint, log or model is whole: the rename never happened).
  for (const dir of [options.outDir, path.join(options.outDir, 'model')]) await removeStaleTempFiles(dir);
  await writeFileAtomic(path.join(options.outDir, 'train.json'), JSON.stringify({ config: model.config, options: opts }, null, 2) + '\n');

  const data = await loadTrainingData(opts, model, lists);
  // GAN training: a discriminator (fresh, or the checkpoint's) with its own Adam.
  const adversary = usesDiscriminator(opts.lossWeights) ? makeAdversary(opts, run.discriminatorState) : undefined;
  if (adversary && data.cropLength < adversary.discriminator.minLength) {
    adversary.discriminator.dispose();
    throw new VqcodecError(`crops of ${data.cropLength} samples are shorter than the discriminator's largest STFT window (${adversary.discriminator.minLength})`);
  }
  events.onStart?.({
    startStep: run.step,
    steps: opts.steps,
    trainSeconds: data.sampler.totalSamples / model.config.sampleRate,
    validClips: data.validClips.length,
    skipped: data.skipped,
    parameters: model.params.trainableCount(),
    codeStrides: model.quantizer.strides,
  });

  const ctx: StepContext = { model, optimizer: adam, losses: { weights: opts.lossWeights, stftWindows: opts.stftWindows }, random: random.next, adversary };
  const window = new LogWindow(model, opts);
  const parallel = opts.workers > 1 ? await DataParallel.start(model, opts.workers, backendName() ?? 'wasm', adversary?.discriminator.shape) : undefined;
  const checkpointPath = path.join(options.outDir, CHECKPOINT_FILE);
  const skips = new SkippedSteps(run.lrFactor, run.skipsInARow);
  let lastCheckpoint = run.step;
  try {
    for (let step = run.step + 1; step <= opts.steps; step++) {
      const samples = data.sampler.sample(opts.batchSize, data.cropLength, random);
      events.onBatch?.(step, samples);
      adam.options.learningRate = learningRateAt(step, opts) * skips.lrFactor;
      if (adversary) adversary.optimizer.options.learningRate = learningRateAt(step, opts) * skips.lrFactor;
      // Quantizer dropout (SoundStream): some batches train the first n codebooks only, so every prefix decodes well.
      const numCodebooks = model.quantizer.numCodebooks;
      const numActive = random.next() < opts.quantizer.quantizerDropout ? 1 + random.int(numCodebooks) : numCodebooks;
      let stats: StepStats;
      if (parallel) {
        stats = await parallel.step(ctx, { samples, rows: opts.batchSize, length: data.cropLength }, numActive);
      } else {
        const batch = tf.tensor2d(samples, [opts.batchSize, data.cropLength]);
        stats = trainStep(ctx, batch, numActive);
        batch.dispose();
      }
      if (stats.skipped !== undefined) {
        // Nothing was applied; the crops drawn for this step are used up all the same, so a resumed run draws the same ones.
        const entry = skips.skip(step, stats.skipped);
        await runLog.append(entry);
        events.onSkip?.(entry);
        const stop = skips.stopError('training', entry, lastCheckpoint, ' or other loss weights');
        if (stop) throw stop;
      } else {
        skips.applied();
        // New weights: the model is named by today's config from now on, even if its checkpoint was older.
        model.identity = model.config;
        window.add(stats, data.cropLength);
      }

      let log: StepLog | undefined;
      // A window of skipped steps only has nothing to report.
      if ((step % opts.logEvery === 0 || step === opts.steps) && !window.empty) {
        log = window.flush(step, adam.options.learningRate);
        await runLog.append(log);
      }
      events.onStep?.(step, log, { total: stats.total, audioSecondsPerSecond: window.audioSecondsPerSecond });

      if (data.validClips.length > 0 && (step % opts.validateEvery === 0 || step === opts.steps)) {
        const entry = validate(model, data.validClips, step);
        await runLog.append(entry);
        events.onValidate?.(entry);
      }
      if (step % opts.checkpointEvery === 0 || step === opts.steps) {
        await saveCheckpoint(checkpointPath, { model, adam, random, step, options: opts, lrFactor: skips.lrFactor, skipsInARow: skips.inARow }, adversary);
        lastCheckpoint = step;
        if (step !== opts.steps) await Codec.fromModel(model).save(path.join(options.outDir, 'model'));
        events.onCheckpoint?.(step, checkpointPath);
      }
    }
  } finally {
    await parallel?.close();
    adversary?.discriminator.dispose();
    adversary?.optimizer.dispose();
  }
  const codec = Codec.fromModel(model);
  await codec.save(path.join(options.outDir, 'model'));
  adam.dispose();
  return codec;
}

/** The run's state: restored from its checkpoint on resume, else fresh (or from the model in options.initFrom). */
async function openRun(config: CodecConfig, options: TrainOptions, resume: boolean, runLog: RunLog, changed: TrainChanges): Promise<RunState> {
  const checkpointPath = path.join(options.outDir, CHECKPOINT_FILE);
  const hasCheckpoint = await fs.stat(checkpointPath).then(() => true, () => false);
  if (resume && hasCheckpoint) {
    const restored = await loadCheckpoint(checkpointPath, { ...changed, steps: options.steps, data: options.data, outDir: options.outDir, workers: options.workers });
    await runLog.truncate(restored.step);
    // A learning rate given again on resume is taken as it is: the halvings of earlier skipped steps no longer apply.
    return changed.learningRate !== undefined ? { ...restored, lrFactor: 1 } : restored;
  }
  if (resume) throw new VqcodecError(`nothing to resume: no ${CHECKPOINT_FILE} in ${options.outDir}`);
  if (hasCheckpoint) throw new VqcodecError(`${options.outDir} already holds a training run: resume it, or choose another output folder`);
  const opts = { ...options, quantizer: { ...options.quantizer, ...changed.quantizer } };
  const fresh = { adam: codecOptimizer(opts), random: new Random(opts.seed), step: 0, lrFactor: 1, skipsInARow: 0 };
  if (options.initFrom !== undefined) return { ...(await runFromDirectory(options.initFrom, opts, changed)), ...fresh };
  const model = new VqVae(config, opts.seed, opts.quantizer);
  await runLog.create();
  return { model, options: opts, ...fresh };

  async function runFromDirectory(dir: string, o: TrainOptions, given: TrainChanges): Promise<{ model: VqVae; options: TrainOptions }> {
    const saved = (await Codec.load(dir)).model;
    // The settings the model was trained with (its training.json, or an older config.json's), then the flags given.
    const quantizer = { ...o.quantizer, ...saved.training, ...given.quantizer };
    const withSettings = { ...o, quantizer };
    validateTrainOptions(withSettings);
    try {
      const model = grownModel(saved, o, dir, quantizer);
      await runLog.create();
      return { model, options: withSettings };
    } finally {
      saved.dispose();
    }
  }
}

/** The training crops' sampler and the validation clips (cut to validSeconds). */
async function loadTrainingData(opts: TrainOptions, model: VqVae, lists: FileLists) {
  const sampleRate = model.config.sampleRate;
  const train = await loadClips(lists.train, sampleRate);
  if (train.clips.length === 0) {
    const n = train.skipped.length;
    throw new VqcodecError(`no usable training audio: ${n === 1 ? 'the one training file was' : `all ${n} training files were`} skipped (${train.skipped[0]})`);
  }
  // validClips 0 turns validation off.
  const valid = await loadClips(opts.validClips > 0 ? evenlySpaced(lists.valid, opts.validClips) : [], sampleRate);
  const validClips: Clip[] = valid.clips.map((c) => ({ ...c, samples: c.samples.subarray(0, Math.round(opts.validSeconds * sampleRate)) }));
  const cropLength = Math.round((opts.cropSeconds * sampleRate) / model.hop) * model.hop;
  if (cropLength < Math.max(...opts.stftWindows)) throw new VqcodecError(`crops of ${cropLength} samples are shorter than the largest STFT window (${Math.max(...opts.stftWindows)})`);
  return { sampler: new CropSampler(train.clips), validClips, cropLength, skipped: [...train.skipped, ...valid.skipped] };
}

/** The steps since the last log line: their mean losses, codebook usage and speed. */
class LogWindow {
  private steps: StepStats[] = [];
  private start = performance.now();
  private readonly runStart = performance.now();
  private readonly usage: UsageCounter;
  /** Audio seconds trained per wall-clock second in this window. */
  audioSecondsPerSecond = 0;

  private readonly sampleRate: number;

  constructor(
    model: VqVae,
    private readonly opts: TrainOptions,
  ) {
    this.sampleRate = model.config.sampleRate;
    this.usage = new UsageCounter(model.quantizer.numCodebooks, model.config.quantizer.codebookSize);
  }

  /** No step since the last log line (all were skipped). */
  get empty(): boolean {
    return this.steps.length === 0;
  }

  add(stats: StepStats, cropLength: number): void {
    this.usage.addCounts(stats.counts);
    this.steps.push(stats);
    const seconds = (performance.now() - this.start) / 1000;
    this.audioSecondsPerSecond = (this.steps.length * this.opts.batchSize * cropLength) / this.sampleRate / seconds;
  }

  /** The log line at `step`; starts a new window. */
  flush(step: number, learningRate: number): StepLog {
    const mean = (k: LossPart | 'gradNorm') => this.steps.reduce((s, x) => s + x[k], 0) / this.steps.length;
    const health = this.usage.report();
    const log = {
      type: 'train',
      step,
      elapsedSeconds: (performance.now() - this.runStart) / 1000,
      ...Object.fromEntries(LOSS_PARTS.map((part) => [part, mean(part)])),
      gradNorm: mean('gradNorm'),
      learningRate,
      audioSecondsPerSecond: this.audioSecondsPerSecond,
      perplexity: health.map((h) => h.perplexity),
      deadCodes: health.map((h) => h.deadCodes),
    } as StepLog;
    this.usage.reset();
    this.steps = [];
    this.start = performance.now();
    return log;
  }
}

function validate(model: VqVae, clips: Clip[], step: number): ValidLog {
  const codec = Codec.fromModel(model);
  const usage = new UsageCounter(model.quantizer.numCodebooks, model.config.quantizer.codebookSize);
  const reports = clips.map((clip) => {
    const result = evaluateClip(codec, clip.samples, clip.path);
    usage.addTokens(result.tokens);
    return result.report;
  });
  const s = summarize(reports, model.config.sampleRate);
  return { type: 'valid', step, siSdr: s.siSdr, stoi: s.stoi, estoi: s.estoi, melDistance: s.melDistance, perplexity: usage.report().map((u) => u.perplexity) };
}
