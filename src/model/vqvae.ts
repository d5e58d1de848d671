/**
 * The whole VQ-VAE: encoder → residual vector quantizer → decoder, built from one config.
 * Tensor-level API (batches of waveforms); the file- and sample-level API is codec.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_QUANTIZER_TRAINING, hopLength, validateQuantizerTraining, type CodecConfig, type QuantizerTraining } from './config.js';
import { Decoder } from './decoder.js';
import { Encoder } from './encoder.js';
import { ParamStore, type NamedArrays, type ParamBudget } from './params.js';
import { ResidualVectorQuantizer } from './quantizer.js';
import { framesAround, type FrameContext } from './receptiveField.js';

export interface ForwardResult {
  reconstruction: tf.Tensor2D;
  codes: tf.Tensor2D;
  /** Per active codebook, its codes matching `residuals` (per window for multi-rate codes). */
  stageCodes: tf.Tensor1D[];
  codebookLoss: tf.Scalar;
  commitmentLoss: tf.Scalar;
  residuals: tf.Tensor2D[];
}

export class VqVae {
  readonly params: ParamStore;
  readonly encoder: Encoder;
  readonly quantizer: ResidualVectorQuantizer;
  readonly decoder: Decoder;
  readonly hop: number;
  /** Frames each side of a frame that its codes depend on (the quantizer codes each frame alone). */
  readonly encoderContext: FrameContext;
  /** Frames each side of a frame whose codes its audio depends on. */
  readonly decoderContext: FrameContext;

  /** How the quantizer learns (training settings; inference does not depend on them). */
  readonly training: QuantizerTraining;
  /**
   * The config as its model directory stores it, which the fingerprint hashes: `config` for a
   * model made in memory; for a directory written before training settings left the config, the
   * file's config with them (so such models keep their fingerprints).
   */
  identity: object;
  /** Set by freezeEncoder: only the decoder trains, so the codes of any audio stay as they are. */
  encoderFrozen = false;

  /** `budget` caps the parameters' values (a model built to load a weights file: see ParamBudget). */
  constructor(readonly config: CodecConfig, seed = 1, training: Partial<QuantizerTraining> = {}, budget?: ParamBudget) {
    // Factorized codes learn by the codebook loss, so their default is ema: false.
    this.training = { ...DEFAULT_QUANTIZER_TRAINING, ...(config.quantizer.lookupDim !== undefined ? { ema: false } : {}), ...training };
    validateQuantizerTraining(this.training, config.quantizer);
    this.identity = config;
    this.params = new ParamStore(seed, budget);
    this.encoder = new Encoder(this.params, config);
    this.quantizer = new ResidualVectorQuantizer(this.params, { ...config.quantizer, ...this.training });
    this.decoder = new Decoder(this.params, config);
    this.hop = hopLength(config);
    this.encoderContext = framesAround(this.encoder.inputSpan({ from: 0, to: 1 }), this.hop);
    this.decoderContext = framesAround(this.decoder.inputSpan({ from: 0, to: this.hop }), 1);
  }

  /** [batch, time] (time a multiple of hop) → latents [batch · frames, dim] and the frame count. */
  latents(audio: tf.Tensor2D, release = false): { z: tf.Tensor2D; frames: number } {
    const z = this.encoder.apply(audio, release);
    const [batch, frames, dim] = z.shape;
    return { z: tf.reshape(z, [batch * frames, dim]), frames };
  }

  /** Training forward pass with straight-through quantization through `numActive` codebooks. */
  forward(audio: tf.Tensor2D, numActive = this.quantizer.numCodebooks): ForwardResult {
    const batch = audio.shape[0];
    const { z, frames } = this.latents(audio);
    const q = this.quantizer.quantize(z, numActive, frames);
    const reconstruction = this.decoder.apply(tf.reshape(q.quantized, [batch, frames, this.config.quantizer.dim]));
    return { reconstruction, codes: q.codes, stageCodes: q.stageCodes, codebookLoss: q.codebookLoss, commitmentLoss: q.commitmentLoss, residuals: q.residuals };
  }

  /** Waveforms → int32 codes [batch, frames, numActive]. */
  encode(audio: tf.Tensor2D, numActive = this.quantizer.numCodebooks): tf.Tensor3D {
    return tf.tidy(() => {
      const { z, frames } = this.latents(audio, true);
      return tf.reshape(this.quantizer.encode(z, numActive, frames), [audio.shape[0], frames, numActive]);
    });
  }

  /** int32 codes [batch, frames, n] (any n ≤ numCodebooks) → waveforms [batch, frames · hop]. */
  decode(codes: tf.Tensor3D): tf.Tensor2D {
    return tf.tidy(() => {
      const [batch, frames, n] = codes.shape;
      const e = this.quantizer.decode(tf.reshape(codes, [batch * frames, n]));
      return this.decoder.apply(tf.reshape(e, [batch, frames, this.config.quantizer.dim]), true);
    });
  }

  /** What a shipped model needs: every parameter but the quantizer's training statistics. */
  inferenceArrays(): NamedArrays {
    return withoutTrainingState(this.params.snapshot());
  }

  /** Loads weights saved by inferenceArrays() or a full snapshot. */
  loadArrays(arrays: NamedArrays, what: string): void {
    this.loadArraysGrowing(arrays, what, () => false);
  }

  /** loadArrays for a model grown from the one `arrays` came from: parameters for which `isNew` holds keep their fresh values. */
  loadArraysGrowing(arrays: NamedArrays, what: string, isNew: (name: string) => boolean): void {
    // A new parameter keeps its fresh value even where the saved model has one of the same name (recoded codebooks).
    const kept = Object.fromEntries(Object.entries(arrays).filter(([name]) => !isNew(name)));
    const absent = this.params.restore(kept, what, (name) => isNew(name) || ResidualVectorQuantizer.isTrainingState(name));
    // Inference weights carry no EMA statistics: start them from the loaded codebooks.
    if (absent.some(ResidualVectorQuantizer.isTrainingState)) this.quantizer.resetStatistics();
  }

  /** Sets the named parameters to zero (a grown layer that should start by adding nothing). */
  zeroParams(which: (name: string) => boolean): void {
    for (const name of this.params.names().filter(which)) {
      const v = this.params.get(name);
      v.assign(tf.zerosLike(v));
    }
  }

  /**
   * Trains the decoder alone (as Vocos trains on EnCodec's frozen codes): the encoder takes no
   * gradients and the codebooks no EMA updates or restarts.
   */
  freezeEncoder(): void {
    this.params.freeze((name) => !name.startsWith('decoder.'));
    this.encoderFrozen = true;
  }

  /** Forward multiply-adds per audio sample (encoder + decoder; the quantizer is negligible). */
  macsPerSample(): number {
    return this.encoder.macsPerSample() + this.decoder.macsPerSample();
  }

  dispose(): void {
    this.params.dispose();
  }
}

export function withoutTrainingState(arrays: NamedArrays): NamedArrays {
  return Object.fromEntries(Object.entries(arrays).filter(([name]) => !ResidualVectorQuantizer.isTrainingState(name)));
}
