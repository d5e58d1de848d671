/**
 * How the prior reads multi-rate codes (tokens/codeStrides.ts): in super-frames of S frames,
 * S the coarsest stride. A super-frame holds, codebook by codebook (coarse stream first),
 * codebook q's S / s_q stored codes, each a "virtual codebook" of the prior. With strides
 * [4, 2, 1] that is 1 + 2 + 4 = 7 virtual codebooks: (cb0@0), (cb1@0, cb1@2), (cb2@0..3).
 * The delay pattern and one softmax head per virtual codebook then work as for single-rate
 * codes, and codebook-major order makes the first n codebooks the first V(n) virtual ones.
 * Single-rate codes are the case S = 1: one virtual codebook per codebook, a super-frame a frame.
 *
 * The last super-frame may be partial: a window that starts past the last frame holds the pad
 * token (as the delay pattern pads a file's ends), and going back to frames drops it.
 *
 * Pure arithmetic on integer arrays.
 */
import { VqcodecError } from '../errors.js';
import { isMultiRate, maxStride, stridesOf } from '../tokens/codeStrides.js';

/** Where each virtual codebook of a super-frame comes from. */
export interface SuperFrameLayout {
  /** Frames per super-frame: the coarsest stride. */
  span: number;
  /** Per virtual codebook: its real codebook. */
  codebook: number[];
  /** Per virtual codebook: the frame of the super-frame where its window starts. */
  offset: number[];
}

export function superFrameLayout(strides: readonly number[]): SuperFrameLayout {
  const span = maxStride(strides);
  const codebook: number[] = [];
  const offset: number[] = [];
  strides.forEach((s, q) => {
    for (let o = 0; o < span; o += s) {
      codebook.push(q);
      offset.push(o);
    }
  });
  return { span, codebook, offset };
}

/** Virtual codebooks of the first n codebooks (n itself for single-rate codes). */
export function virtualCodebookCount(strides: readonly number[], n = strides.length): number {
  const span = maxStride(strides);
  return strides.slice(0, n).reduce((sum, s) => sum + span / s, 0);
}

/** Tokens per step of a prior over these codebooks ({ numCodebooks, codeStrides? } as in PriorConfig). */
export function virtualCodebooks(shape: { numCodebooks: number; codeStrides?: readonly number[] }): number {
  return virtualCodebookCount(stridesOf(shape));
}

/** Super-frames of `frames` frames, the last possibly partial. */
export function superFrameCount(frames: number, strides: readonly number[]): number {
  return Math.ceil(frames / maxStride(strides));
}

/**
 * Dense frame-major codes (`codebooks` per frame) → the super-frame grid [superFrames × V] of
 * the first strides.length codebooks; windows starting past the last frame hold `pad`.
 */
export function toSuperFrames(codes: ArrayLike<number>, codebooks: number, strides: readonly number[], pad: number): Int32Array {
  if (codes.length % codebooks !== 0) throw new VqcodecError(`codes hold whole frames of ${codebooks} (got ${codes.length})`);
  if (strides.length > codebooks) throw new VqcodecError(`the prior models ${strides.length} codebooks; these codes have ${codebooks}`);
  const frames = codes.length / codebooks;
  const { span, codebook, offset } = superFrameLayout(strides);
  const V = codebook.length;
  const grid = new Int32Array(superFrameCount(frames, strides) * V).fill(pad);
  for (let u = 0; u * span < frames; u++) {
    for (let v = 0; v < V; v++) {
      const t = u * span + offset[v]!;
      if (t < frames) grid[u * V + v] = codes[t * codebooks + codebook[v]!]!;
    }
  }
  return grid;
}

/** A super-frame grid → dense frame-major codes [frames × strides.length], each code repeated over its window. */
export function fromSuperFrames(grid: ArrayLike<number>, frames: number, strides: readonly number[]): Int32Array {
  const { span, codebook, offset } = superFrameLayout(strides);
  const V = codebook.length;
  const Q = strides.length;
  if (grid.length < superFrameCount(frames, strides) * V) throw new VqcodecError(`${frames} frames need ${superFrameCount(frames, strides)} super-frames of ${V} codes (got ${grid.length} codes)`);
  const codes = new Int32Array(frames * Q);
  for (let u = 0; u * span < frames; u++) {
    for (let v = 0; v < V; v++) {
      const q = codebook[v]!;
      const start = u * span + offset[v]!;
      for (let t = start; t < Math.min(start + strides[q]!, frames); t++) codes[t * Q + q] = grid[u * V + v]!;
    }
  }
  return codes;
}

/**
 * Throws unless the first codebooks of these tokens (`tokenStrides`, one per codebook, at least
 * the prior's) run at the strides the prior models, naming both.
 */
export function checkPriorStrides(prior: { numCodebooks: number; codeStrides?: readonly number[] }, tokenStrides: readonly number[]): void {
  const want = stridesOf(prior);
  const got = tokenStrides.slice(0, want.length);
  if (got.length === want.length && got.every((s, q) => s === want[q])) return;
  const name = (s: readonly number[]) => `${isMultiRate(s) ? 'multi-rate' : 'single-rate'} strides [${s.join(', ')}]`;
  throw new VqcodecError(`the prior models codebooks of ${name(want)}, but these tokens have ${name(got)}: use a prior trained on tokens of this codec`);
}
