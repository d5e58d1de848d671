/**
 * MusicGen's delay pattern (Copet et al. 2023): codebook q is shifted right by q frames, so a
 * model predicting frame t's codebooks in parallel has seen codebook q−1 of the same audio frame
 * one step earlier. Streams are codebook-major [Q][frames]; the delayed stream has
 * frames + Q − 1 steps, padded with `pad` (a token id outside 0..K−1).
 *
 *   q0:  a0 a1 a2 a3  P  P          step →
 *   q1:   P b0 b1 b2 b3  P
 *   q2:   P  P c0 c1 c2 c3
 */
import { VqcodecError } from '../errors.js';

export function delayPattern(streams: Int32Array[], pad: number): Int32Array[] {
  const q = streams.length;
  const frames = streams[0]?.length ?? 0;
  if (!streams.every((s) => s.length === frames)) throw new VqcodecError('delayPattern: every codebook needs the same number of frames');
  return streams.map((s, i) => {
    const out = new Int32Array(frames + q - 1).fill(pad);
    out.set(s, i);
    return out;
  });
}

/** The inverse of delayPattern: the original [Q][frames] streams. */
export function undelayPattern(delayed: Int32Array[]): Int32Array[] {
  const q = delayed.length;
  const steps = delayed[0]?.length ?? 0;
  if (!delayed.every((s) => s.length === steps) || steps < q - 1) throw new VqcodecError('undelayPattern: streams must be of equal length, at least Q − 1 steps');
  const frames = steps - (q - 1);
  return delayed.map((s, i) => s.slice(i, i + frames));
}

/** Frame-major codes (codes[f·Q + q]) → one stream per codebook. */
export function codebookStreams(codes: Int32Array, numCodebooks: number): Int32Array[] {
  const frames = codes.length / numCodebooks;
  return Array.from({ length: numCodebooks }, (_, q) => Int32Array.from({ length: frames }, (_, f) => codes[f * numCodebooks + q]));
}

/** One stream per codebook → frame-major codes. */
export function frameMajor(streams: Int32Array[]): Int32Array {
  const q = streams.length;
  const frames = streams[0]?.length ?? 0;
  const codes = new Int32Array(frames * q);
  streams.forEach((s, i) => s.forEach((v, f) => (codes[f * q + i] = v)));
  return codes;
}
