/** What a training run is told: its options, their defaults and checks, the learning-rate schedule. */
import { availableParallelism } from 'node:os';
import { VqcodecError } from '../errors.js';
import { DEFAULT_QUANTIZER_TRAINING, validateQuantizerTraining, type TrunkConfig, type IstftHeadConfig, type QuantizerTraining } from '../model/config.js';
import type { LossWeights } from './lossTerms.js';

export interface TrainOptions {
  /** Folder of audio files, or a .jsonl manifest. */
  data: string;
  /** Run folder: log.jsonl, checkpoint.bin, model/ (the exported codec). */
  outDir: string;
  steps: number;
  batchSize: number;
  cropSeconds: number;
  learningRate: number;
  /**
   * Step after which the learning rate falls along a half cosine to LR_FLOOR × learningRate at
   * the last step (unset: constant). Annealing at the end of a run is a cheap quality gain.
   */
  lrDecayFrom?: number;
  /** Global gradient-norm clip (0 = off). */
  clipNorm: number;
  lossWeights: LossWeights;
  /** How the quantizer learns (EMA, k-means, dead-code restarts, dropout, commitment weight). */
  quantizer: QuantizerTraining;
  stftWindows: number[];
  logEvery: number;
  validateEvery: number;
  checkpointEvery: number;
  /** At most this many validation clips, spread evenly over the valid split, each cut to validSeconds. */
  validClips: number;
  validSeconds: number;
  seed: number;
  /** Data-parallel replicas (worker threads); 1 trains in this thread only. */
  workers: number;
  /**
   * A model directory whose weights start a new run (fine-tuning: fresh optimizer, step 0); its
   * config replaces the one given. Unset: random initialisation.
   */
  initFrom?: string;
  /**
   * With initFrom: grow the saved model by a decoder trunk (CodecConfig.decoderTrunk) before
   * fine-tuning. Its new parameters start fresh, with the trunk's output at zero, so the grown
   * model starts out decoding exactly as the saved one.
   */
  addDecoderTrunk?: TrunkConfig;
  /** With initFrom: grow the saved model's encoder by a trunk (CodecConfig.encoderTrunk), starting as the identity. */
  addEncoderTrunk?: TrunkConfig;
  /**
   * With initFrom: append this many residual units to the saved model's decoder trunk. Each new unit
   * starts as the identity (its last layer zero), so the deepened model decodes exactly as the saved one.
   */
  deepenDecoderTrunk?: number;
  /**
   * With initFrom: end the saved model's decoder at the frame rate in an inverse-STFT head
   * (CodecConfig.istftHead), dropping its upsampling stages. The encoder, codebooks and the
   * decoder's frame-rate layers keep their weights; the head starts fresh.
   */
  istftHead?: IstftHeadConfig;
  /** Train the decoder alone: the encoder and codebooks keep their weights, so the codes stay as they are. */
  decoderOnly?: boolean;
  /**
   * With initFrom: make the saved model's codes multi-rate with these strides (one per codebook,
   * QuantizerConfig.codeStrides). The encoder and decoder keep their weights; the codebooks start
   * afresh (k-means on the first batch), since their entries were fitted to single frames.
   */
  recodeStrides?: number[];
  /**
   * With initFrom: replace the saved model's codebooks by scalar grids of these levels
   * (QuantizerConfig.fsqLevels). The encoder and decoder keep their weights; the projections start fresh.
   */
  requantizeFsq?: number[];
}

/** Options a user changes (e.g. on --resume): loss weights and quantizer settings one by one. */
export type TrainChanges = Partial<Omit<TrainOptions, 'lossWeights' | 'quantizer'>> & { lossWeights?: Partial<LossWeights>; quantizer?: Partial<QuantizerTraining> };

export const DEFAULT_TRAIN_OPTIONS: Omit<TrainOptions, 'data' | 'outDir'> = {
  steps: 20000,
  batchSize: 8,
  cropSeconds: 1,
  learningRate: 1e-3,
  clipNorm: 1,
  // A strong waveform term keeps phase: on one clip, weight 20 reached +0.3 dB SI-SDR in 300 steps
  // where weight 1 stayed at −3.4 dB, with the same STFT loss.
  lossWeights: { waveform: 20, stft: 1, vq: 1 },
  quantizer: DEFAULT_QUANTIZER_TRAINING,
  stftWindows: [512, 1024, 2048],
  logEvery: 10,
  validateEvery: 500,
  checkpointEvery: 200,
  // 8 clips tracked the test split badly (SI-SDR fell on them while it rose on 500 test files).
  validClips: 32,
  validSeconds: 4,
  seed: 1,
  workers: Math.min(2, availableParallelism()),
};

export function validateTrainOptions(o: TrainOptions): void {
  const positiveInt = (v: number) => Number.isInteger(v) && v > 0;
  const fail = (what: string): never => {
    throw new VqcodecError(`invalid training option: ${what}`);
  };
  if (!positiveInt(o.steps)) fail(`steps must be a positive integer (got ${o.steps})`);
  if (!positiveInt(o.batchSize)) fail(`batch size must be a positive integer (got ${o.batchSize})`);
  if (!positiveInt(o.workers) || o.workers > o.batchSize) fail(`workers must be an integer from 1 to the batch size (got ${o.workers})`);
  if (!(o.cropSeconds > 0)) fail(`crop length must be > 0 s (got ${o.cropSeconds})`);
  if (!(o.learningRate > 0 && o.learningRate < 1)) fail(`learning rate must be in (0, 1) (got ${o.learningRate})`);
  if (o.lrDecayFrom !== undefined && !(Number.isInteger(o.lrDecayFrom) && o.lrDecayFrom >= 0 && o.lrDecayFrom < o.steps)) {
    fail(`the learning-rate decay must start at a step from 0 to steps − 1 (got ${o.lrDecayFrom} with ${o.steps} steps)`);
  }
  const w = o.lossWeights;
  if (![w.waveform, w.stft, w.vq, w.mel ?? 0, w.adversarial ?? 0, w.featureMatching ?? 0].every((v) => Number.isFinite(v) && v >= 0)) fail(`loss weights must be finite and ≥ 0 (got ${JSON.stringify(w)})`);
  validateQuantizerTraining(o.quantizer);
  for (const key of ['logEvery', 'validateEvery', 'checkpointEvery'] as const) if (!positiveInt(o[key])) fail(`${key} must be a positive integer (got ${o[key]})`);
  if (!o.stftWindows.every((w) => positiveInt(w) && w % 4 === 0)) fail(`STFT windows must be positive multiples of 4 (got ${o.stftWindows})`);
}

/** Steps skipped in a row (NaN or infinite loss or gradient) after which a run stops; each skip halves the learning rate. */
export const MAX_SKIPS_IN_A_ROW = 5;

/** Where an annealed learning rate ends, as a fraction of the peak. */
export const LR_FLOOR = 0.05;

/** The learning rate used at `step` (1-based): constant, then a half cosine down to LR_FLOOR × peak from lrDecayFrom to steps. */
export function learningRateAt(step: number, o: Pick<TrainOptions, 'learningRate' | 'lrDecayFrom' | 'steps'>): number {
  if (o.lrDecayFrom === undefined || step <= o.lrDecayFrom) return o.learningRate;
  const progress = Math.min(1, (step - o.lrDecayFrom) / (o.steps - o.lrDecayFrom));
  return o.learningRate * (LR_FLOOR + ((1 - LR_FLOOR) * (1 + Math.cos(Math.PI * progress))) / 2);
}
