/** Waveform [batch, time] → latent frames [batch, time / hop, dim]. */
import * as tf from '@tensorflow/tfjs';
import { stageChannels, type CodecConfig } from './config.js';
import { advance, Conv1d, Downsample, ResidualUnit } from './layers.js';
import type { ParamStore } from './params.js';
import type { Span } from './receptiveField.js';
import { featureChannels, spectralFeatures, spectralFeaturesInputSpan } from './spectralEnds.js';
import { Trunk } from './trunk.js';

export class Encoder {
  private readonly input: Conv1d;
  private readonly stages: { units: ResidualUnit[]; down: Downsample }[] = [];
  private readonly trunk?: Trunk;
  private readonly output: Conv1d;

  constructor(params: ParamStore, private readonly config: CodecConfig) {
    const { kernelSize: k, padding } = config;
    const inputChannels = config.spectral === undefined ? 1 : featureChannels(config.spectral);
    this.input = new Conv1d(params, 'encoder.input', inputChannels, stageChannels(config, 0), k, 1, padding);
    config.strides.forEach((stride, i) => {
      const c = stageChannels(config, i);
      this.stages.push({
        units: config.dilations.map((d, j) => new ResidualUnit(params, `encoder.stage${i}.unit${j}`, c, k, d, padding)),
        down: new Downsample(params, `encoder.stage${i}.down`, c, stageChannels(config, i + 1), stride, padding),
      });
    });
    const top = stageChannels(config, config.strides.length);
    if (config.encoderTrunk !== undefined) this.trunk = new Trunk(params, 'encoder.trunk', top, config.encoderTrunk, padding);
    this.output = new Conv1d(params, 'encoder.output', top, config.quantizer.dim, 3, 1, padding);
  }

  /** `audio` length must be a multiple of the hop. `release` frees intermediates as it goes (inference only). */
  apply(audio: tf.Tensor2D, release = false): tf.Tensor3D {
    const [batch, time] = audio.shape;
    const spectral = this.config.spectral;
    const frames: tf.Tensor3D = spectral === undefined ? tf.reshape(audio, [batch, time, 1]) : tf.tidy(() => spectralFeatures(audio, spectral));
    let x = advance(frames, (t) => this.input.apply(t), release);
    for (const stage of this.stages) {
      for (const unit of stage.units) x = advance(x, (t) => unit.apply(t), release);
      x = advance(x, (t) => stage.down.apply(tf.elu(t)), release);
    }
    if (this.trunk !== undefined) x = this.trunk.apply(x, release);
    return advance(x, (t) => this.output.apply(tf.elu(t)), release);
  }

  /** The samples that latent frames `frames` read, walking back from the last layer to the first. */
  inputSpan(frames: Span): Span {
    let span = this.output.inputSpan(frames);
    if (this.trunk !== undefined) span = this.trunk.inputSpan(span);
    for (const stage of [...this.stages].reverse()) {
      span = stage.down.inputSpan(span);
      for (const unit of [...stage.units].reverse()) span = unit.inputSpan(span);
    }
    span = this.input.inputSpan(span);
    const spectral = this.config.spectral;
    return spectral === undefined ? span : spectralFeaturesInputSpan(span, spectral);
  }

  /** Multiply-adds per input sample. */
  macsPerSample(): number {
    const spectral = this.config.spectral;
    let rate = spectral === undefined ? 1 : 1 / spectral.hop;
    let macs = this.input.macsPerStep() * rate;
    if (spectral !== undefined) macs += spectral.window * featureChannels(spectral) * rate; // the DFT
    this.stages.forEach((stage, i) => {
      macs += stage.units.reduce((m, u) => m + u.macsPerStep(), 0) * rate;
      rate /= this.config.strides[i];
      macs += stage.down.macsPerStep() * rate;
    });
    return macs + ((this.trunk?.macsPerStep() ?? 0) + this.output.macsPerStep()) * rate;
  }
}
