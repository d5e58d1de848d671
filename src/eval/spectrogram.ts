/**
 * Linear-frequency power spectrograms in dB for pictures (./spectrogramFigure.ts): a linear
 * axis keeps the formants F2 and F3 (1–3 kHz) as tall as the low frequencies, where a mel axis
 * squeezes them, and shows what a codec does to the top octave.
 */
import { check } from '../errors.js';
import { hannWindow, powerSpectrum } from './fft.js';

/** Window length in seconds: a wideband analysis (about 16 ms) resolves formants and onsets. */
const WINDOW_SECONDS = 0.016;
/** Floor of the dB values (silence), far below any colour scale. */
const FLOOR_DB = -200;

export interface Spectrogram {
  /** dB per frame and bin, [frame][bin]; frame f is centred at f·hop samples. */
  db: Float32Array[];
  /** Hz between bins; bin 0 is 0 Hz and the last is sampleRate/2. */
  binHz: number;
  hop: number;
}

/**
 * Periodic Hann frames of about 16 ms (a power of two in samples, 256 at 16 kHz) every `hop`
 * samples, zero-padded to twice their length for finer bins, centred on their time (the signal is
 * padded with zeros by half a window at both ends). dB are re a full-scale sine: a sine of
 * amplitude 1 peaks at 0 dB.
 */
export function spectrogramDb(samples: Float32Array, sampleRate: number, hop: number): Spectrogram {
  check(sampleRate > 0, `spectrogram: bad sample rate ${sampleRate}`);
  check(Number.isInteger(hop) && hop > 0, `spectrogram: bad hop ${hop}`);
  const size = 2 ** Math.max(4, Math.round(Math.log2(WINDOW_SECONDS * sampleRate)));
  const window = hannWindow(size);
  // A sine of amplitude 1 gives |X| = Σw / 2 at its bin.
  const fullScale = (window.reduce((a, b) => a + b, 0) / 2) ** 2;
  const frames = Math.floor(samples.length / hop) + 1;
  const frame = new Float64Array(size);
  const db: Float32Array[] = [];
  for (let f = 0; f < frames; f++) {
    const start = f * hop - size / 2;
    for (let i = 0; i < size; i++) {
      const j = start + i;
      frame[i] = j >= 0 && j < samples.length ? samples[j]! * window[i]! : 0;
    }
    const power = powerSpectrum(frame, 2 * size);
    db.push(Float32Array.from(power, (p) => Math.max(FLOOR_DB, 10 * Math.log10(p / fullScale + 1e-30))));
  }
  return { db, binHz: sampleRate / (2 * size), hop };
}
