/**
 * MFCC distance with meyda (the project's audio-feature library): the mean Euclidean distance
 * between the MFCC vectors of reference and decoded audio, coefficients 1–12 (c0, the level,
 * is left out so that a gain change costs nothing), over 32-ms frames with 16-ms hops whose
 * reference is within 40 dB of the clip's loudest frame (silence carries no spectral shape).
 */
import meyda from 'meyda';

// meyda is CommonJS with ES-module typings: at run time the default import is the Meyda object
// itself, which its typings call `default`.
const Meyda = meyda as unknown as typeof meyda.default;

const FRAME = 512;
const HOP = 256;
const COEFFICIENTS = 13;
const DYNAMIC_RANGE_DB = 40;

function frameEnergy(x: Float32Array, start: number): number {
  let e = 0;
  for (let i = start; i < start + FRAME; i++) e += x[i]! * x[i]!;
  return e;
}

/**
 * meyda takes log(mel energy + 1), which is nearly linear for samples in [−1, 1]: scaling them
 * to 16-bit units (×32768) makes it a log for every audible frame, as MFCCs need. meyda windows
 * each buffer itself (Hann by default).
 */
function mfcc(x: Float32Array, start: number): number[] {
  const frame = new Float32Array(FRAME);
  for (let i = 0; i < FRAME; i++) frame[i] = x[start + i]! * 32768;
  return Meyda.extract('mfcc', frame) as unknown as number[];
}

/** NaN when the clip is shorter than one frame or silent. */
export function mfccDistance(reference: Float32Array, decoded: Float32Array, sampleRate: number): number {
  const length = Math.min(reference.length, decoded.length);
  if (length < FRAME) return Number.NaN;
  Meyda.sampleRate = sampleRate;
  Meyda.bufferSize = FRAME;
  Meyda.numberOfMFCCCoefficients = COEFFICIENTS;
  const starts: number[] = [];
  for (let s = 0; s + FRAME <= length; s += HOP) starts.push(s);
  const energies = starts.map((s) => frameEnergy(reference, s));
  const loudest = Math.max(...energies);
  if (!(loudest > 0)) return Number.NaN;
  const floor = loudest * 10 ** (-DYNAMIC_RANGE_DB / 10);
  let sum = 0;
  let count = 0;
  starts.forEach((s, i) => {
    if (energies[i]! < floor) return;
    const a = mfcc(reference, s);
    const b = mfcc(decoded, s);
    let d = 0;
    for (let c = 1; c < COEFFICIENTS; c++) d += (a[c]! - b[c]!) ** 2;
    if (Number.isFinite(d)) {
      sum += Math.sqrt(d);
      count++;
    }
  });
  return count > 0 ? sum / count : Number.NaN;
}
