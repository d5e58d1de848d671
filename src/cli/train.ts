import { promises as fs } from 'node:fs';
import path from 'node:path';
import { VqcodecError } from '../errors.js';
import { makeConfig, PRESETS, withFsq, splitQuantizerFields, type CodecConfig, type TrunkConfig, type IstftHeadConfig, type DeepPartial, type QuantizerTraining } from '../model/config.js';
import { DEFAULT_TRAIN_OPTIONS, train, type TrainChanges, type TrainOptions } from '../train/trainer.js';
import { intListOption, intOption, numberOption, startBackend, type GlobalOptions } from './common.js';
import { LivePlot } from './livePlot.js';
import { codeLevels } from '../tokens/codeStrides.js';
import { fixed, note, progressBar } from './ui.js';
import { LOSS_PARTS, PART_LABELS } from '../train/lossTerms.js';

export interface TrainCommandOptions extends GlobalOptions {
  data: string;
  out: string;
  config?: string;
  preset?: string;
  steps?: string;
  batch?: string;
  crop?: string;
  lr?: string;
  lrDecayFrom?: string;
  stft?: string;
  logEvery?: string;
  validateEvery?: string;
  checkpointEvery?: string;
  seed?: string;
  workers?: string;
  waveformWeight?: string;
  melWeight?: string;
  adversarialWeight?: string;
  featureWeight?: string;
  restart?: string;
  deadCodeThreshold?: string;
  resume?: boolean;
  init?: string;
  plot?: boolean;
  addDecoderTrunk?: string;
  addEncoderTrunk?: string;
  deepenDecoderTrunk?: string;
  istftHead?: string;
  decoderOnly?: boolean;
  codeStrides?: string;
  fsq?: string;
}

/** The model config, and training settings a config file may carry in its quantizer (as older model directories do). */
async function readConfig(options: TrainCommandOptions): Promise<{ config: CodecConfig; training: Partial<QuantizerTraining> }> {
  if (options.config !== undefined) {
    const text = await fs.readFile(options.config, 'utf8').catch(() => {
      throw new VqcodecError(`no such file: ${options.config}`);
    });
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new VqcodecError(`${options.config} is not valid JSON`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new VqcodecError(`${options.config} must hold a JSON object`);
    const stored = parsed as DeepPartial<CodecConfig>;
    const { shape, training } = splitQuantizerFields(stored.quantizer ?? {});
    return { config: makeConfig({ ...stored, quantizer: shape }), training };
  }
  const preset = options.preset ?? 'default';
  if (!(preset in PRESETS)) throw new VqcodecError(`unknown preset '${preset}' (choose one of ${Object.keys(PRESETS).join(', ')})`);
  return { config: makeConfig(PRESETS[preset]), training: {} };
}

function givenLossWeights(options: TrainCommandOptions): Partial<TrainOptions['lossWeights']> {
  const weights: Partial<TrainOptions['lossWeights']> = {};
  const waveform = numberOption('--waveform-weight', options.waveformWeight);
  const mel = numberOption('--mel-weight', options.melWeight);
  const adversarial = numberOption('--adversarial-weight', options.adversarialWeight);
  const featureMatching = numberOption('--feature-weight', options.featureWeight);
  if (waveform !== undefined) weights.waveform = waveform;
  if (mel !== undefined) weights.mel = mel;
  if (adversarial !== undefined) weights.adversarial = adversarial;
  if (featureMatching !== undefined) weights.featureMatching = featureMatching;
  return weights;
}

/** One of the run's own options in outDir (its total steps, its workers), from its train.json (undefined when there is none). */
async function savedOption(outDir: string, name: 'steps' | 'workers'): Promise<number | undefined> {
  const text = await fs.readFile(path.join(outDir, 'train.json'), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const value = (JSON.parse(text) as { options?: Record<string, unknown> }).options?.[name];
    return typeof value === 'number' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Quantizer settings given as flags (they may change on --resume). */
function givenQuantizerSettings(options: TrainCommandOptions): Partial<QuantizerTraining> {
  const changes: Partial<QuantizerTraining> = {};
  if (options.restart !== undefined) {
    if (options.restart !== 'sample' && options.restart !== 'split') throw new VqcodecError(`--restart must be sample or split (got '${options.restart}')`);
    changes.restart = options.restart;
  }
  const threshold = numberOption('--dead-code-threshold', options.deadCodeThreshold);
  if (threshold !== undefined) changes.deadCodeThreshold = threshold;
  return changes;
}

/** --add-decoder-trunk / --add-encoder-trunk 256x6 (channels × residual units; kernel 3). */
function trunkOption(flag: string, value: string): TrunkConfig {
  const m = /^(\d+)x(\d+)$/.exec(value);
  if (m === null) throw new VqcodecError(`${flag} must be CHANNELSxUNITS, e.g. 256x6 (got '${value}')`);
  return { channels: Number(m[1]), blocks: Number(m[2]), kernelSize: 3 };
}

/** --deepen-decoder-trunk N: a count of at least 1. */
function unitsOption(value: string): number {
  const n = intOption('--deepen-decoder-trunk', value) ?? 0;
  if (n < 1) throw new VqcodecError(`--deepen-decoder-trunk must be at least 1 (got '${value}')`);
  return n;
}

/** --istft-head 1280x512 (STFT window in samples × hidden channels). */
function istftHeadOption(value: string): IstftHeadConfig {
  const m = /^(\d+)x(\d+)$/.exec(value);
  if (m === null) throw new VqcodecError(`--istft-head must be WINDOWxCHANNELS, e.g. 1280x512 (got '${value}')`);
  return { window: Number(m[1]), channels: Number(m[2]) };
}

/** A codebook that no crop of the log window used (quantizer dropout in a short run) has no perplexity: '–', not NaN. */
function perplexityText(p: number): string {
  return Number.isFinite(p) ? p.toFixed(0) : '–';
}

/** vqcodec train --data DIR --out RUN */
export async function trainCommand(options: TrainCommandOptions): Promise<void> {
  const read = await readConfig(options);
  const { training } = read;
  const codeStrides = intListOption('--code-strides', options.codeStrides);
  if (codeStrides !== undefined && options.resume) throw new VqcodecError('--code-strides shapes a new run: leave it out with --resume');
  const fsqLevels = intListOption('--fsq', options.fsq);
  if (fsqLevels !== undefined && options.resume) throw new VqcodecError('--fsq shapes a new run: leave it out with --resume');
  // Without --init the strides and levels shape the new model; with it they recode the saved one.
  let config = read.config;
  if (options.init === undefined && codeStrides !== undefined) config = makeConfig({ ...config, quantizer: { ...config.quantizer, codeStrides } });
  if (options.init === undefined && fsqLevels !== undefined) config = makeConfig({ ...config, quantizer: withFsq(config.quantizer, fsqLevels) });
  const d = DEFAULT_TRAIN_OPTIONS;
  const quantizerFlags = givenQuantizerSettings(options);
  const trainOptions: TrainOptions = {
    ...d,
    data: options.data,
    outDir: options.out,
    // On --resume the run keeps its own total steps (and so its schedule) unless --steps is given.
    steps: intOption('--steps', options.steps) ?? (options.resume ? await savedOption(options.out, 'steps') : undefined) ?? d.steps,
    batchSize: intOption('--batch', options.batch) ?? d.batchSize,
    cropSeconds: numberOption('--crop', options.crop) ?? d.cropSeconds,
    learningRate: numberOption('--lr', options.lr) ?? d.learningRate,
    lrDecayFrom: intOption('--lr-decay-from', options.lrDecayFrom),
    stftWindows: intListOption('--stft', options.stft) ?? d.stftWindows,
    logEvery: intOption('--log-every', options.logEvery) ?? d.logEvery,
    validateEvery: intOption('--validate-every', options.validateEvery) ?? d.validateEvery,
    checkpointEvery: intOption('--checkpoint-every', options.checkpointEvery) ?? d.checkpointEvery,
    seed: intOption('--seed', options.seed) ?? d.seed,
    workers: intOption('--workers', options.workers) ?? (options.resume ? await savedOption(options.out, 'workers') : undefined) ?? d.workers,
    lossWeights: { ...d.lossWeights, ...givenLossWeights(options) },
    quantizer: { ...d.quantizer, ...training, ...quantizerFlags },
    ...(options.init !== undefined ? { initFrom: options.init } : {}),
    ...(options.addDecoderTrunk !== undefined ? { addDecoderTrunk: trunkOption('--add-decoder-trunk', options.addDecoderTrunk) } : {}),
    ...(options.addEncoderTrunk !== undefined ? { addEncoderTrunk: trunkOption('--add-encoder-trunk', options.addEncoderTrunk) } : {}),
    ...(options.deepenDecoderTrunk !== undefined ? { deepenDecoderTrunk: unitsOption(options.deepenDecoderTrunk) } : {}),
    ...(codeStrides !== undefined && options.init !== undefined ? { recodeStrides: codeStrides } : {}),
    ...(fsqLevels !== undefined && options.init !== undefined ? { requantizeFsq: fsqLevels } : {}),
    ...(options.istftHead !== undefined ? { istftHead: istftHeadOption(options.istftHead) } : {}),
    ...(options.decoderOnly === true ? { decoderOnly: true } : {}),
  };
  if (options.addDecoderTrunk !== undefined && options.init === undefined) throw new VqcodecError('--add-decoder-trunk grows the model of --init: give --init MODEL_DIR');
  if (options.deepenDecoderTrunk !== undefined && options.init === undefined) throw new VqcodecError('--deepen-decoder-trunk grows the model of --init: give --init MODEL_DIR');
  if (options.deepenDecoderTrunk !== undefined && options.addDecoderTrunk !== undefined) throw new VqcodecError('--deepen-decoder-trunk deepens an existing trunk; --add-decoder-trunk adds one: give one');
  if (options.addEncoderTrunk !== undefined && options.init === undefined) throw new VqcodecError('--add-encoder-trunk grows the model of --init: give --init MODEL_DIR');
  if (options.addEncoderTrunk !== undefined && options.decoderOnly === true) throw new VqcodecError('--add-encoder-trunk grows the encoder, which --decoder-only freezes: give one');
  if (options.decoderOnly === true && options.resume) throw new VqcodecError('--decoder-only shapes a new run (a resumed run keeps its own): leave it out with --resume');
  if (options.istftHead !== undefined && options.init === undefined) throw new VqcodecError('--istft-head changes the decoder of --init: give --init MODEL_DIR');
  if (options.init !== undefined && (options.config !== undefined || options.preset !== undefined)) throw new VqcodecError('--init takes the model\'s own config: leave out --config and --preset');
  // On --resume, only what was given explicitly replaces the run's saved options.
  const changed: TrainChanges = {};
  const given: [keyof TrainCommandOptions, keyof TrainOptions][] = [
    ['batch', 'batchSize'], ['crop', 'cropSeconds'], ['lr', 'learningRate'], ['lrDecayFrom', 'lrDecayFrom'], ['stft', 'stftWindows'], ['logEvery', 'logEvery'],
    ['validateEvery', 'validateEvery'], ['checkpointEvery', 'checkpointEvery'],
  ];
  for (const [flag, key] of given) if (options[flag] !== undefined) Object.assign(changed, { [key]: trainOptions[key] });
  // Loss weights merge one by one: --resume --mel-weight 1 keeps the run's waveform weight.
  if (Object.keys(givenLossWeights(options)).length > 0) changed.lossWeights = givenLossWeights(options);
  if (Object.keys(quantizerFlags).length > 0) changed.quantizer = quantizerFlags;
  await startBackend(options);
  const plot = options.plot ? new LivePlot(path.join(options.out, 'curves.svg'), options.out) : undefined;
  let bar = progressBar(1, '');
  // Per-codebook figures, levels of multi-rate codes apart: 412/398 | 501 | 620/611.
  let byLevel = (figures: string[]) => figures.join('/');
  const codec = await train(config, trainOptions, options.resume ?? false, {
    onStart(info) {
      const levels = codeLevels(info.codeStrides);
      if (levels.length > 1) byLevel = (figures) => levels.map((l) => figures.slice(l.first, l.first + l.count).join('/')).join(' | ');
      note(`training ${info.parameters.toLocaleString('en')} parameters on ${(info.trainSeconds / 60).toFixed(1)} min of audio (${info.validClips} validation clips), steps ${info.startStep + 1}..${info.steps}`);
      if (info.skipped.length > 0) note(`skipped ${info.skipped.length} unusable file(s), e.g. ${info.skipped[0]}`);
      bar = progressBar(info.steps, 'train |{bar}| {value}/{total} | loss {loss} | ppl {ppl} | {speed} audio-s/s | ETA {eta_formatted}', { loss: '-', ppl: '-', speed: '-' });
      bar.update(info.startStep);
    },
    onStep(step, log, stats) {
      const payload = { loss: fixed(stats.total, 4), speed: fixed(stats.audioSecondsPerSecond, 2), ...(log ? { ppl: byLevel(log.perplexity.map(perplexityText)) } : {}) };
      bar.update(step, payload);
      if (log) plot?.refresh();
      if (log && !process.stderr.isTTY && !options.quiet) {
        // Every term the run logs (those that are 0 here, like GAN terms without GAN, are left out).
        const parts = LOSS_PARTS.filter((p) => p !== 'total' && log[p] !== 0).map((p) => `${PART_LABELS[p]} ${fixed(log[p], 4)}`);
        note(`step ${step} loss ${fixed(log.total, 4)} (${parts.join(', ')}) perplexity ${byLevel(log.perplexity.map(perplexityText))} dead ${byLevel(log.deadCodes.map(String))} ${fixed(log.audioSecondsPerSecond, 2)} audio-s/s`);
      }
    },
    onSkip(entry) {
      // Shown even with --quiet: the run is in trouble.
      note(`${process.stderr.isTTY ? '\n' : ''}step ${entry.step} skipped (${entry.reason}): nothing learnt from it; learning rate × ${entry.lrFactor} from now on`);
    },
    onValidate(v) {
      plot?.refresh(true);
      if (!options.quiet) note(`\nvalidation at step ${v.step}: SI-SDR ${fixed(v.siSdr)} dB, STOI ${fixed(v.stoi, 3)}, ESTOI ${fixed(v.estoi ?? Number.NaN, 3)}, mel distance ${fixed(v.melDistance, 3)}`);
    },
  }, changed);
  bar.stop();
  const modelDir = path.join(options.out, 'model');
  note(`model written to ${modelDir} (${codec.fingerprint})`);
  if (plot !== undefined) {
    await plot.finish();
    note(`curves plotted to ${plot.file}`);
  }
}
