/** A wide residual trunk at the frame rate (CodecConfig.encoderTrunk / decoderTrunk): x + out(units(in(x))). */
import * as tf from '@tensorflow/tfjs';
import type { TrunkConfig } from './config.js';
import type { Padding } from './conv.js';
import { advance, Conv1d, ResidualUnit } from './layers.js';
import type { ParamStore } from './params.js';
import { hull, type Span } from './receptiveField.js';

export class Trunk {
  private readonly into: Conv1d;
  private readonly units: ResidualUnit[];
  private readonly out: Conv1d;

  /** `name` prefixes the weights ('decoder.trunk', 'encoder.trunk'). */
  constructor(params: ParamStore, name: string, width: number, trunk: TrunkConfig, padding: Padding) {
    this.into = new Conv1d(params, `${name}.in`, width, trunk.channels, 1, 1, padding);
    this.units = Array.from({ length: trunk.blocks }, (_, i) => new ResidualUnit(params, `${name}.unit${i}`, trunk.channels, trunk.kernelSize, 3 ** (i % 3), padding));
    // Zero at first: the trunk adds nothing until it has learnt something, so growing a trained model by it changes nothing.
    this.out = new Conv1d(params, `${name}.out`, trunk.channels, width, 1, 1, padding, 0);
  }

  apply(x: tf.Tensor3D, release: boolean): tf.Tensor3D {
    let h = this.into.apply(x);
    for (const unit of this.units) h = advance(h, (t) => unit.apply(t), release);
    const y = advance(h, (t) => this.out.apply(tf.elu(t)), release);
    const sum = tf.add(x, y) as tf.Tensor3D;
    if (release) {
      x.dispose();
      y.dispose();
    }
    return sum;
  }

  inputSpan(out: Span): Span {
    let span = this.out.inputSpan(out);
    for (const unit of [...this.units].reverse()) span = unit.inputSpan(span);
    return hull(out, this.into.inputSpan(span));
  }

  macsPerStep(): number {
    return this.into.macsPerStep() + this.units.reduce((m, u) => m + u.macsPerStep(), 0) + this.out.macsPerStep();
  }
}
