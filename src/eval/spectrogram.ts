/**
 * Log-mel spectrograms (mel bands from meyda) stacked into one picture, to see at a glance
 * what each bitrate keeps and loses: a picture beats a table of distances here.
 */
import meyda from 'meyda';
import { encodePng } from '../io/png.js';

/** The part of meyda's settings object used here (its CommonJS default export under NodeNext). */
interface MeydaSettings {
  bufferSize: number;
  sampleRate: number;
  melBands: number;
  windowingFunction: string;
  extract(feature: 'melBands', signal: Float32Array): number[];
}
const Meyda = meyda as unknown as MeydaSettings;

const FRAME = 1024;
const HOP = 256;
const BANDS = 80;
const RANGE_DB = 80;

/** dB mel power per frame: [frames][BANDS]. */
export function melSpectrogramDb(samples: Float32Array, sampleRate: number): Float32Array[] {
  Meyda.bufferSize = FRAME;
  Meyda.sampleRate = sampleRate;
  Meyda.melBands = BANDS;
  Meyda.windowingFunction = 'hanning';
  const frames: Float32Array[] = [];
  const buffer = new Float32Array(FRAME);
  for (let start = 0; start + FRAME <= Math.max(samples.length, FRAME); start += HOP) {
    buffer.fill(0);
    buffer.set(samples.subarray(start, start + FRAME));
    const bands = Meyda.extract('melBands', buffer);
    frames.push(Float32Array.from(bands, (p) => 10 * Math.log10(p + 1e-12)));
  }
  return frames;
}

/** Dark blue → red → yellow → white: enough contrast to read formants and noise floors. */
const STOPS: [number, number, number][] = [
  [0, 0, 4],
  [60, 15, 110],
  [180, 40, 90],
  [250, 120, 30],
  [252, 250, 180],
];

function colour(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, t)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  return [0, 1, 2].map((c) => Math.round(STOPS[i][c] + f * (STOPS[i + 1][c] - STOPS[i][c]))) as [number, number, number];
}

/**
 * One PNG with a spectrogram per signal, top to bottom, on a shared dB scale (the first
 * signal's peak at the top of the range, RANGE_DB below it black); low frequencies at the bottom.
 */
export function spectrogramPng(signals: Float32Array[], sampleRate: number, scale = 2): Uint8Array {
  const specs = signals.map((s) => melSpectrogramDb(s, sampleRate));
  const top = Math.max(...specs[0].map((f) => Math.max(...f)));
  const width = Math.max(...specs.map((s) => s.length)) * scale;
  const rowHeight = BANDS * scale;
  const gap = 4;
  const height = specs.length * rowHeight + (specs.length - 1) * gap;
  const rgb = new Uint8Array(width * height * 3).fill(255);
  specs.forEach((spec, row) => {
    const y0 = row * (rowHeight + gap);
    for (let x = 0; x < width; x++) {
      const frame = spec[Math.floor(x / scale)];
      for (let y = 0; y < rowHeight; y++) {
        const band = BANDS - 1 - Math.floor(y / scale);
        const db = frame === undefined ? top - RANGE_DB : frame[band];
        const [r, g, b] = colour(1 - (top - db) / RANGE_DB);
        const i = ((y0 + y) * width + x) * 3;
        rgb[i] = r;
        rgb[i + 1] = g;
        rgb[i + 2] = b;
      }
    }
  });
  return encodePng(width, height, rgb);
}
