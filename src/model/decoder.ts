/** Latent frames [batch, frames, dim] → waveform [batch, frames · hop]: the encoder's mirror. */
import * as tf from '@tensorflow/tfjs';
import { stageChannels, type CodecConfig } from './config.js';
import { advance, Conv1d, ResidualUnit, Upsample } from './layers.js';
import type { ParamStore } from './params.js';

export class Decoder {
  private readonly input: Conv1d;
  private readonly stages: { up: Upsample; units: ResidualUnit[] }[] = [];
  private readonly output: Conv1d;

  constructor(params: ParamStore, private readonly config: CodecConfig) {
    const { kernelSize: k, padding } = config;
    const depth = config.strides.length;
    this.input = new Conv1d(params, 'decoder.input', config.quantizer.dim, stageChannels(config, depth), k, 1, padding);
    for (let i = depth - 1; i >= 0; i--) {
      const c = stageChannels(config, i);
      this.stages.push({
        up: new Upsample(params, `decoder.stage${i}.up`, stageChannels(config, i + 1), c, config.strides[i], padding),
        units: config.dilations.map((d, j) => new ResidualUnit(params, `decoder.stage${i}.unit${j}`, c, k, d, padding)),
      });
    }
    this.output = new Conv1d(params, 'decoder.output', stageChannels(config, 0), 1, k, 1, padding);
  }

  /** `release` frees intermediates as it goes (inference only). */
  apply(latents: tf.Tensor3D, release = false): tf.Tensor2D {
    let x = this.input.apply(latents);
    for (const stage of this.stages) {
      x = advance(x, (t) => stage.up.apply(tf.elu(t)), release);
      for (const unit of stage.units) x = advance(x, (t) => unit.apply(t), release);
    }
    const y = advance(x, (t) => this.output.apply(tf.elu(t)), release);
    return tf.reshape(y, [y.shape[0], y.shape[1]]);
  }

  /** Multiply-adds per output sample. */
  macsPerSample(): number {
    const hop = this.config.strides.reduce((a, b) => a * b, 1);
    let rate = 1 / hop;
    let macs = this.input.macsPerStep() * rate;
    for (const stage of this.stages) {
      macs += stage.up.macsPerStep() * rate;
      rate *= stage.up.factor;
      macs += stage.units.reduce((m, u) => m + u.macsPerStep(), 0) * rate;
    }
    return macs + this.output.macsPerStep();
  }
}
