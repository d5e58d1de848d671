/**
 * A decoder end at the frame rate (as Vocos decodes EnCodec's tokens): a wide hidden layer, then
 * the spectrum of one STFT frame per code frame, inverted by overlap-add. It replaces the
 * upsampling stages, whose narrow layers at 4–16 kHz are slow per FLOP on wasm and, in our
 * models, smear harmonics and formants above about 1.5 kHz.
 */
import * as tf from '@tensorflow/tfjs';
import type { IstftHeadConfig, SpectralConfig } from './config.js';
import type { Padding } from './conv.js';
import { advance, Conv1d } from './layers.js';
import type { ParamStore } from './params.js';
import type { Span } from './receptiveField.js';
import { featureChannels, spectrumToAudio, spectrumToAudioInputSpan } from './spectralEnds.js';

export class IstftHead {
  private readonly hidden: Conv1d;
  private readonly spectrum: Conv1d;
  private readonly stft: SpectralConfig;

  /** `hop`: samples per code frame, the STFT's hop. */
  constructor(params: ParamStore, width: number, head: IstftHeadConfig, hop: number, kernelSize: number, padding: Padding) {
    this.stft = { hop, window: head.window, ...(head.head !== undefined ? { head: head.head } : {}) };
    this.hidden = new Conv1d(params, 'decoder.head.hidden', width, head.channels, kernelSize, 1, padding);
    this.spectrum = new Conv1d(params, 'decoder.head.spectrum', head.channels, featureChannels(this.stft), 1, 1, padding);
  }

  /** Frame-rate features [batch, frames, width] → audio [batch, frames · hop]. */
  apply(x: tf.Tensor3D, release: boolean): tf.Tensor2D {
    const h = advance(x, (t) => this.hidden.apply(tf.elu(t)), release);
    const y = advance(h, (t) => this.spectrum.apply(tf.elu(t)), release);
    return advance(y, (t) => spectrumToAudio(t, this.stft), release);
  }

  inputSpan(samples: Span): Span {
    return this.hidden.inputSpan(this.spectrum.inputSpan(spectrumToAudioInputSpan(samples, this.stft)));
  }

  /** Multiply-adds per code frame, the inverse DFT included. */
  macsPerFrame(): number {
    return this.hidden.macsPerStep() + this.spectrum.macsPerStep() + featureChannels(this.stft) * this.stft.window;
  }
}
