/** Latent frames [batch, frames, dim] → waveform [batch, frames · hop]: the encoder's mirror. */
import * as tf from '@tensorflow/tfjs';
import { hopLength, stageChannels, type CodecConfig } from './config.js';
import { advance, Conv1d, ResidualUnit, Upsample } from './layers.js';
import type { ParamStore } from './params.js';
import type { Span } from './receptiveField.js';
import { IstftHead } from './istftHead.js';
import { featureChannels, spectrumToAudio, spectrumToAudioInputSpan } from './spectralEnds.js';
import { Trunk } from './trunk.js';

export class Decoder {
  private readonly input: Conv1d;
  private readonly trunk?: Trunk;
  private readonly stages: { up: Upsample; units: ResidualUnit[] }[] = [];
  /** The sample-rate end (absent with an iSTFT head, which ends the decoder at the frame rate). */
  private readonly output?: Conv1d;
  private readonly head?: IstftHead;

  constructor(params: ParamStore, private readonly config: CodecConfig) {
    const { kernelSize: k, padding } = config;
    const depth = config.strides.length;
    this.input = new Conv1d(params, 'decoder.input', config.quantizer.dim, stageChannels(config, depth), k, 1, padding);
    if (config.decoderTrunk !== undefined) this.trunk = new Trunk(params, 'decoder.trunk', stageChannels(config, depth), config.decoderTrunk, padding);
    if (config.istftHead !== undefined) {
      this.head = new IstftHead(params, stageChannels(config, depth), config.istftHead, hopLength(config), k, padding);
      return;
    }
    for (let i = depth - 1; i >= 0; i--) {
      const c = stageChannels(config, i);
      this.stages.push({
        up: new Upsample(params, `decoder.stage${i}.up`, stageChannels(config, i + 1), c, config.strides[i], padding),
        units: config.dilations.map((d, j) => new ResidualUnit(params, `decoder.stage${i}.unit${j}`, c, k, d, padding)),
      });
    }
    const outputChannels = config.spectral === undefined ? 1 : featureChannels(config.spectral);
    this.output = new Conv1d(params, 'decoder.output', stageChannels(config, 0), outputChannels, k, 1, padding);
  }

  /** `release` frees intermediates as it goes (inference only). */
  apply(latents: tf.Tensor3D, release = false): tf.Tensor2D {
    let x = this.input.apply(latents);
    if (this.trunk !== undefined) x = this.trunk.apply(x, release);
    if (this.head !== undefined) return this.head.apply(x, release);
    for (const stage of this.stages) {
      x = advance(x, (t) => stage.up.apply(tf.elu(t)), release);
      for (const unit of stage.units) x = advance(x, (t) => unit.apply(t), release);
    }
    const output = this.output!;
    const y = advance(x, (t) => output.apply(tf.elu(t)), release);
    const spectral = this.config.spectral;
    if (spectral !== undefined) return advance(y, (t) => spectrumToAudio(t, spectral), release);
    return tf.reshape(y, [y.shape[0], y.shape[1]]);
  }

  /** The latent frames that output samples `samples` depend on, walking back from the last layer to the first. */
  inputSpan(samples: Span): Span {
    const spectral = this.config.spectral;
    let span: Span;
    if (this.head !== undefined) span = this.head.inputSpan(samples);
    else span = this.output!.inputSpan(spectral === undefined ? samples : spectrumToAudioInputSpan(samples, spectral));
    for (const stage of [...this.stages].reverse()) {
      for (const unit of [...stage.units].reverse()) span = unit.inputSpan(span);
      span = stage.up.inputSpan(span);
    }
    if (this.trunk !== undefined) span = this.trunk.inputSpan(span);
    return this.input.inputSpan(span);
  }

  /** Multiply-adds per output sample. */
  macsPerSample(): number {
    let rate = 1 / hopLength(this.config);
    let macs = (this.input.macsPerStep() + (this.trunk?.macsPerStep() ?? 0)) * rate;
    if (this.head !== undefined) return macs + this.head.macsPerFrame() * rate;
    for (const stage of this.stages) {
      macs += stage.up.macsPerStep() * rate;
      rate *= stage.up.factor;
      macs += stage.units.reduce((m, u) => m + u.macsPerStep(), 0) * rate;
    }
    const spectral = this.config.spectral;
    const output = this.output!;
    if (spectral === undefined) return macs + output.macsPerStep();
    return macs + (output.macsPerStep() + featureChannels(spectral) * spectral.window) * rate; // + inverse DFT
  }
}
