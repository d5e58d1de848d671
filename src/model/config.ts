/**
 * One config object builds the whole codec (as in DAC); it is saved beside the
 * weights so a model directory always knows how to rebuild itself.
 */
import { VqcodecError } from '../errors.js';
import { codeStridesProblem, codesPerSecond, isMultiRate, stridesOf } from '../tokens/codeStrides.js';
import type { Padding } from './conv.js';

/** What builds and identifies a quantizer: its shape. How it learns is QuantizerTraining. */
export interface QuantizerConfig {
  /** Entries per codebook (K). */
  codebookSize: number;
  /** Codebook entry width (D): the encoder's latent width. */
  dim: number;
  /**
   * Factorized codes (DAC): when set, each codebook holds lookupDim-dim entries and looks up a
   * learned projection of the residual by cosine similarity; trains with ema: false.
   */
  lookupDim?: number;
  /**
   * Finite scalar quantization (Mentzer et al., 2023): when set, each codebook is a fixed grid
   * instead of learned entries. It projects its residual to fsqLevels.length dims, bounds them by
   * tanh and rounds dimension i to one of fsqLevels[i] values; codebookSize is their product, e.g.
   * [4, 4, 4, 4, 4] or [8, 5, 5, 5] (1000). No codebook or commitment loss, EMA or restarts.
   */
  fsqLevels?: number[];
  /** Residual VQ depth: each codebook quantizes what the previous ones left. */
  numCodebooks: number;
  /**
   * Multi-rate codes (SNAC): codebook q codes the mean of each window of codeStrides[q] frames,
   * coarse codebooks first, e.g. [4, 4, 2, 1, …]; see tokens/codeStrides.ts. Absent: every
   * codebook at the frame rate.
   */
  codeStrides?: number[];
}

/**
 * How the quantizer learns. These settings are training options (TrainOptions.quantizer), not
 * part of the model: they change no weight's shape, and a run may change them when it resumes.
 */
export interface QuantizerTraining {
  /** Commitment weight β in β·||z_e − sg[e]||². */
  commitmentWeight: number;
  /** Update codebooks by exponential moving averages of assigned vectors instead of the codebook loss. */
  ema: boolean;
  emaDecay: number;
  /** Laplace smoothing of EMA cluster sizes, so no entry divides by zero. */
  emaEpsilon: number;
  /** Initialise each codebook by k-means on the first training batch. */
  kmeansInit: boolean;
  kmeansIterations: number;
  /** A code whose usage (EMA of assignments per step) falls below this is restarted; 0 disables. */
  deadCodeThreshold: number;
  /**
   * Where a dead code restarts: 'sample' (default) on a random recent encoder output; 'split' inside
   * the cluster of one of the busiest codes (LBG splitting), sharing that code's statistics, so the
   * revived code starts as good as its parent instead of as a lone data point.
   */
  restart?: 'sample' | 'split';
  /** Probability that a training batch uses a random number (1..N) of codebooks, so one model serves every bitrate. */
  quantizerDropout: number;
}

/** Everything the quantizer reads: its shape and how it learns. */
export type QuantizerSettings = QuantizerConfig & QuantizerTraining;

export const DEFAULT_QUANTIZER_TRAINING: QuantizerTraining = {
  commitmentWeight: 0.25,
  ema: true,
  emaDecay: 0.99,
  emaEpsilon: 1e-5,
  kmeansInit: true,
  kmeansIterations: 10,
  deadCodeThreshold: 0.02,
  quantizerDropout: 0.5,
};

const TRAINING_FIELDS: readonly string[] = [...Object.keys(DEFAULT_QUANTIZER_TRAINING), 'restart'];

/** Spectral ends (Vocos-style): an STFT feeds the encoder and the decoder predicts an STFT to invert. */
export interface SpectralConfig {
  /** Samples between STFT frames: the conv stages start at sampleRate / hop frames per second. */
  hop: number;
  /** Hann window length in samples: a multiple of hop, with window − hop even so frames can be centred. */
  window: number;
  /**
   * What the decoder's last layer predicts per bin: 'polar' (default, as in Vocos) log-magnitude and
   * phase; 'cartesian' the real and imaginary parts, so the whole head is linear and a waveform loss
   * reaches it without phase wrapping.
   */
  head?: 'polar' | 'cartesian';
}

export interface CodecConfig {
  sampleRate: number;
  /**
   * When set, the conv stages run on STFT frames instead of samples: the encoder reads compressed
   * complex spectra and the decoder ends in log-magnitude and phase inverted by overlap-add. Most
   * of the work then runs at frame rate in wide layers, which the wasm matmul runs far faster
   * per FLOP than narrow layers at the sample rate.
   */
  spectral?: SpectralConfig;
  /**
   * A wide residual trunk in the decoder at the frame rate, before any upsampling (where wasm
   * convolutions are cheap per second of audio): `blocks` dilated residual units of `channels`
   * wide, between 1×1 projections from and back to the decoder's frame-rate width. Its output
   * projection starts at zero, so adding it to a trained model leaves the model as it was.
   */
  decoderTrunk?: TrunkConfig;
  /**
   * The same kind of trunk at the encoder's frame-rate end, after the last downsampling and before
   * the projection to the latent dim: wide layers where the encoder shapes what the quantizer keeps.
   */
  encoderTrunk?: TrunkConfig;
  /** When set, the decoder ends at the frame rate in an inverse STFT instead of upsampling stages. */
  istftHead?: IstftHeadConfig;
  /** Width of the first encoder stage; doubles after each downsampling, up to maxChannels. */
  channels: number;
  maxChannels: number;
  /** Downsampling factors; their product is the hop (samples per frame). */
  strides: number[];
  /** Dilations of the residual units in each stage. */
  dilations: number[];
  kernelSize: number;
  padding: Padding;
  quantizer: QuantizerConfig;
}

/**
 * A decoder that ends at the frame rate (Vocos on EnCodec's tokens): a hidden layer of `channels`
 * predicts one STFT frame per code frame (hop = samples per frame), inverted by overlap-add, in
 * place of the upsampling stages.
 */
export interface IstftHeadConfig {
  /** Hann window in samples: a multiple of the frame hop, with window − hop even. */
  window: number;
  channels: number;
  /** What the spectrum layer predicts per bin, as SpectralConfig.head (default 'polar'). */
  head?: 'polar' | 'cartesian';
}

export interface TrunkConfig {
  channels: number;
  /** Residual units; unit i has dilation 3^(i mod 3) (1, 3, 9, 1, …). */
  blocks: number;
  kernelSize: number;
}

export const DEFAULT_CONFIG: CodecConfig = {
  sampleRate: 16000,
  channels: 16,
  maxChannels: 256,
  strides: [2, 4, 5, 8],
  dilations: [1, 3, 9],
  kernelSize: 7,
  padding: 'same',
  quantizer: {
    codebookSize: 1024,
    dim: 64,
    numCodebooks: 8,
  },
};

/** A deep copy of the default config with `overrides` applied (quantizer fields merge). */
export function makeConfig(overrides: DeepPartial<CodecConfig> = {}): CodecConfig {
  const config: CodecConfig = {
    ...DEFAULT_CONFIG,
    ...overrides,
    strides: [...(overrides.strides ?? DEFAULT_CONFIG.strides)] as number[],
    dilations: [...(overrides.dilations ?? DEFAULT_CONFIG.dilations)] as number[],
    quantizer: { ...DEFAULT_CONFIG.quantizer, ...overrides.quantizer } as QuantizerConfig,
  };
  if (overrides.quantizer?.codeStrides !== undefined) config.quantizer.codeStrides = [...overrides.quantizer.codeStrides] as number[];
  if (overrides.quantizer?.fsqLevels !== undefined) config.quantizer.fsqLevels = [...overrides.quantizer.fsqLevels] as number[];
  if (overrides.spectral !== undefined) config.spectral = { ...overrides.spectral } as SpectralConfig;
  if (overrides.decoderTrunk !== undefined) config.decoderTrunk = { ...overrides.decoderTrunk } as TrunkConfig;
  if (overrides.encoderTrunk !== undefined) config.encoderTrunk = { ...overrides.encoderTrunk } as TrunkConfig;
  if (overrides.istftHead !== undefined) config.istftHead = { ...overrides.istftHead } as IstftHeadConfig;
  validateConfig(config);
  return config;
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** A quantizer shape with scalar codes of these levels (codebookSize their product, no lookupDim). */
export function withFsq(q: QuantizerConfig, fsqLevels: number[]): QuantizerConfig {
  const { lookupDim: _factorized, ...rest } = q;
  return { ...rest, fsqLevels: [...fsqLevels], codebookSize: fsqLevels.reduce((a, b) => a * b, 1) };
}

/** Samples per code frame: the STFT hop (if spectral) times every stride. */
export function hopLength(config: CodecConfig): number {
  return config.strides.reduce((a, b) => a * b, config.spectral?.hop ?? 1);
}

export function frameRate(config: CodecConfig): number {
  return config.sampleRate / hopLength(config);
}

/** Bits per second of the first `numCodebooks` codebooks: codes per second · ceil(log2 K). */
export function bitrate(config: CodecConfig, numCodebooks = config.quantizer.numCodebooks): number {
  return codesPerSecond(stridesOf(config.quantizer), frameRate(config), numCodebooks) * Math.ceil(Math.log2(config.quantizer.codebookSize));
}

/** The code strides of tokens of the first n codebooks (undefined when they are all at the frame rate). */
export function tokenCodeStrides(config: CodecConfig, n = config.quantizer.numCodebooks): number[] | undefined {
  const strides = stridesOf(config.quantizer).slice(0, n);
  return isMultiRate(strides) ? strides : undefined;
}

/** Channel width of encoder stage i (0 = the first, full-rate stage). */
export function stageChannels(config: CodecConfig, stage: number): number {
  return Math.min(config.channels * 2 ** stage, config.maxChannels);
}

/** The longest STFT window of spectral ends (8192 samples: 0.5 s at 16 kHz; its two bases then take 0.5 GB). */
export const MAX_SPECTRAL_WINDOW = 8192;

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

/** Throws a one-line VqcodecError naming the first impossible value. */
export function validateConfig(c: CodecConfig): void {
  const fail = (what: string): never => {
    throw new VqcodecError(`invalid config: ${what}`);
  };
  if (c === null || typeof c !== 'object' || Array.isArray(c)) fail('it must be a JSON object');
  if (!isPositiveInt(c.sampleRate) || c.sampleRate < 1000) fail(`sampleRate must be an integer ≥ 1000 (got ${c.sampleRate})`);
  if (!isPositiveInt(c.channels)) fail(`channels must be a positive integer (got ${c.channels})`);
  if (!isPositiveInt(c.maxChannels) || c.maxChannels < c.channels) fail(`maxChannels must be an integer ≥ channels (got ${c.maxChannels})`);
  if (!Array.isArray(c.strides) || c.strides.length === 0 || !c.strides.every((s) => isPositiveInt(s) && s >= 2)) {
    fail(`strides must be a non-empty list of integers ≥ 2 (got ${JSON.stringify(c.strides)})`);
  }
  if (!Array.isArray(c.dilations) || !c.dilations.every(isPositiveInt)) fail(`dilations must be positive integers (got ${JSON.stringify(c.dilations)})`);
  if (!isPositiveInt(c.kernelSize) || c.kernelSize % 2 === 0) fail(`kernelSize must be an odd positive integer (got ${c.kernelSize})`);
  if (c.padding !== 'same' && c.padding !== 'causal') fail(`padding must be 'same' or 'causal' (got ${String(c.padding)})`);
  if (c.spectral !== undefined) {
    const { hop, window } = c.spectral;
    if (!isPositiveInt(hop) || !isPositiveInt(window) || window % hop !== 0 || (window - hop) % 2 !== 0) {
      fail(`spectral window must be a multiple of hop with window − hop even (got hop ${hop}, window ${window})`);
    }
    // The STFT's DFT bases hold about window² float32s each (1 GiB at 2^14): a loaded config must not ask for gigabytes.
    if (window > MAX_SPECTRAL_WINDOW) fail(`spectral window must be at most ${MAX_SPECTRAL_WINDOW} samples (got ${window})`);
    if (c.padding !== 'same') fail("spectral ends need padding 'same' (their STFT frames are centred)");
    const head = c.spectral.head;
    if (head !== undefined && head !== 'polar' && head !== 'cartesian') fail(`spectral head must be 'polar' or 'cartesian' (got ${String(head)})`);
  }
  for (const key of ['decoderTrunk', 'encoderTrunk'] as const) {
    const trunk = c[key];
    if (trunk === undefined) continue;
    const { channels, blocks, kernelSize } = trunk;
    if (!isPositiveInt(channels) || !isPositiveInt(blocks) || !isPositiveInt(kernelSize) || kernelSize % 2 === 0) {
      fail(`${key} needs positive integer channels and blocks and an odd kernelSize (got ${JSON.stringify(trunk)})`);
    }
  }
  if (c.istftHead !== undefined) {
    const { window, channels, head } = c.istftHead;
    const hop = hopLength(c);
    if (c.spectral !== undefined) fail('istftHead and spectral are two different decoder ends: give one');
    if (!isPositiveInt(channels)) fail(`istftHead channels must be a positive integer (got ${channels})`);
    if (!isPositiveInt(window) || window % hop !== 0 || (window - hop) % 2 !== 0) {
      fail(`istftHead window must be a multiple of the frame hop (${hop}) with window − hop even (got ${window})`);
    }
    if (window > MAX_SPECTRAL_WINDOW) fail(`istftHead window must be at most ${MAX_SPECTRAL_WINDOW} samples (got ${window})`);
    if (c.padding !== 'same') fail("an istftHead needs padding 'same' (its STFT frames are centred)");
    if (head !== undefined && head !== 'polar' && head !== 'cartesian') fail(`istftHead head must be 'polar' or 'cartesian' (got ${String(head)})`);
  }
  const q = c.quantizer;
  if (q === undefined || typeof q !== 'object') fail('quantizer settings are missing');
  if (!isPositiveInt(q.codebookSize) || q.codebookSize < 2 || q.codebookSize > 65536) fail(`codebookSize must be an integer in 2..65536 (got ${q.codebookSize})`);
  if (!isPositiveInt(q.dim)) fail(`quantizer dim must be a positive integer (got ${q.dim})`);
  if (q.lookupDim !== undefined && (!isPositiveInt(q.lookupDim) || q.lookupDim > q.dim)) fail(`lookupDim must be an integer from 1 to dim (got ${q.lookupDim})`);
  if (q.fsqLevels !== undefined) {
    const levels = q.fsqLevels;
    if (!Array.isArray(levels) || levels.length === 0 || levels.length > q.dim || !levels.every((l) => isPositiveInt(l) && l >= 2)) {
      fail(`fsqLevels must be a list of 1 to dim integers ≥ 2 (got ${JSON.stringify(levels)})`);
    }
    const product = levels.reduce((a, b) => a * b, 1);
    if (product !== q.codebookSize) fail(`fsqLevels ${levels.join('×')} make ${product} codes, but codebookSize is ${q.codebookSize}`);
    if (q.lookupDim !== undefined) fail('fsqLevels and lookupDim are two kinds of codes: give one');
  }
  if (!isPositiveInt(q.numCodebooks) || q.numCodebooks > 255) fail(`numCodebooks must be an integer in 1..255 (got ${q.numCodebooks})`);
  if (q.codeStrides !== undefined) {
    const problem = codeStridesProblem(q.codeStrides, q.numCodebooks);
    if (problem !== undefined) fail(`quantizer.${problem}`);
  }
  const training = TRAINING_FIELDS.find((f) => f in q);
  if (training !== undefined) fail(`quantizer.${training} is a training setting, not part of the model (give it to training, or read the file with splitStoredConfig)`);
}

/** Throws a one-line VqcodecError naming the first impossible training setting (some go with the quantizer's shape). */
export function validateQuantizerTraining(q: QuantizerTraining, shape?: QuantizerConfig): void {
  const fail = (what: string): never => {
    throw new VqcodecError(`invalid quantizer training setting: ${what}`);
  };
  if (q === null || typeof q !== 'object') fail('it must be an object');
  if (typeof q.ema !== 'boolean') fail(`ema must be true or false (got ${String(q.ema)})`);
  if (typeof q.kmeansInit !== 'boolean') fail(`kmeansInit must be true or false (got ${String(q.kmeansInit)})`);
  if (shape?.lookupDim !== undefined && q.ema) fail('factorized codes (lookupDim) learn by the codebook loss: set ema to false');
  if (!(q.commitmentWeight >= 0)) fail(`commitmentWeight must be ≥ 0 (got ${q.commitmentWeight})`);
  if (!(q.emaDecay > 0 && q.emaDecay < 1)) fail(`emaDecay must be in (0, 1) (got ${q.emaDecay})`);
  if (!(q.emaEpsilon > 0)) fail(`emaEpsilon must be > 0 (got ${q.emaEpsilon})`);
  if (!(Number.isInteger(q.kmeansIterations) && q.kmeansIterations >= 0)) fail(`kmeansIterations must be an integer ≥ 0 (got ${q.kmeansIterations})`);
  if (q.restart !== undefined && q.restart !== 'sample' && q.restart !== 'split') fail(`restart must be 'sample' or 'split' (got ${String(q.restart)})`);
  if (!(q.deadCodeThreshold >= 0)) fail(`deadCodeThreshold must be ≥ 0 (got ${q.deadCodeThreshold})`);
  if (!(q.quantizerDropout >= 0 && q.quantizerDropout <= 1)) fail(`quantizerDropout must be in [0, 1] (got ${q.quantizerDropout})`);
}

/**
 * A config as stored in a model directory or checkpoint → the model's config and the training
 * settings it carried. Versions before the split kept the training settings inside `quantizer`;
 * such files still load (and keep their fingerprint, which hashes the file's config as written).
 */
export function splitStoredConfig(stored: unknown): { config: CodecConfig; training: Partial<QuantizerTraining> } {
  if (stored === null || typeof stored !== 'object' || Array.isArray(stored)) throw new VqcodecError('invalid config: it must be a JSON object');
  const raw = stored as Record<string, unknown>;
  const q = raw.quantizer;
  if (q === null || typeof q !== 'object' || Array.isArray(q)) throw new VqcodecError('invalid config: quantizer settings are missing');
  const { shape, training } = splitQuantizerFields(q);
  const config = { ...raw, quantizer: shape } as unknown as CodecConfig;
  validateConfig(config);
  return { config, training };
}

/** A quantizer's settings (shape and training) from the defaults with `overrides`, checked (tests, tools). */
export function quantizerSettings(overrides: Partial<QuantizerSettings> = {}): QuantizerSettings {
  const { shape, training } = splitQuantizerFields(overrides);
  const settings = { ...makeConfig({ quantizer: shape }).quantizer, ...DEFAULT_QUANTIZER_TRAINING, ...training };
  validateQuantizerTraining(settings, settings);
  return settings;
}

/** A quantizer object's fields → those of its shape and those of its training (unchecked). */
export function splitQuantizerFields(q: object): { shape: Partial<QuantizerConfig>; training: Partial<QuantizerTraining> } {
  const shape: Record<string, unknown> = {};
  const training: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(q)) (TRAINING_FIELDS.includes(key) ? training : shape)[key] = value;
  return { shape, training };
}

/** Named model sizes. 'tiny' trains in minutes on a CPU and serves tests and demos. */
export const PRESETS: Record<string, DeepPartial<CodecConfig>> = {
  default: {},
  // A quarter of the default's convolution work, the same codes and bitrates.
  small: { channels: 8, maxChannels: 128 },
  // Vocos-style ends: STFT frames at 200/s (20 ms windows), wide layers at 200, 100 and 50 frames/s.
  spectral: { channels: 128, maxChannels: 256, strides: [2, 2], spectral: { hop: 80, window: 320 } },
  tiny: { channels: 4, maxChannels: 16, dilations: [1, 3], kernelSize: 3, quantizer: { codebookSize: 16, dim: 8, numCodebooks: 3 } },
  // The tiny model with multi-rate codes: codebooks at 1/4, 1/2 and the full frame rate.
  'tiny-multirate': { channels: 4, maxChannels: 16, dilations: [1, 3], kernelSize: 3, quantizer: { codebookSize: 16, dim: 8, numCodebooks: 3, codeStrides: [4, 2, 1] } },
};
