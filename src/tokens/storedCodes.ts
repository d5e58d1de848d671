/**
 * The file side of multi-rate codes (./codeStrides.ts): a file stores one code per window, in
 * time order (at frame t, every codebook with t mod stride = 0, lowest first), while callers
 * write and read dense frames. These helpers convert between the two a block of frames at a
 * time, since a coarse window may span the blocks of a streaming writer or reader.
 */
import { VqcodecError } from '../errors.js';
import { storedCodeCount, storesAt } from './codeStrides.js';

/**
 * Throws when a coarse code is not repeated over its window (a file keeps one code per window,
 * so the grid would not survive a round trip). `codes` holds whole dense frames, the first at
 * frame `firstFrame`; `previous` is the frame before them (a streaming writer's last frame).
 * Comparing each frame with the one before finds the same first code as comparing with the
 * window's first frame, and needs nothing older than one frame.
 */
export function checkRepeated(codes: ArrayLike<number>, firstFrame: number, strides: readonly number[], previous?: ArrayLike<number>): void {
  const Q = strides.length;
  for (let f = 0; f < codes.length / Q; f++) {
    const t = firstFrame + f;
    for (let q = 0; q < Q; q++) {
      const s = strides[q]!;
      if (storesAt(t, s)) continue;
      const before = f > 0 ? codes[(f - 1) * Q + q]! : previous![q]!;
      if (codes[f * Q + q] !== before) {
        throw new VqcodecError(
          `code ${codes[f * Q + q]} at frame ${t}, codebook ${q} differs from its window's code ${before} ` +
            `(stride ${s}, frames ${t - (t % s)}..${t - (t % s) + s - 1}): a multi-rate grid repeats each coarse code over its window`,
        );
      }
    }
  }
}

/** Stored codes of frames [from, to). */
export function storedCodesBetween(from: number, to: number, strides: readonly number[]): number {
  return storedCodeCount(to, strides) - storedCodeCount(from, strides);
}

/** The stored codes of dense frames `codes`, the first at frame `firstFrame`, in file order. */
export function gatherStored(codes: ArrayLike<number>, firstFrame: number, strides: readonly number[]): Int32Array {
  const Q = strides.length;
  const frames = codes.length / Q;
  const out = new Int32Array(storedCodesBetween(firstFrame, firstFrame + frames, strides));
  let o = 0;
  for (let f = 0; f < frames; f++) {
    for (let q = 0; q < Q; q++) if (storesAt(firstFrame + f, strides[q]!)) out[o++] = codes[f * Q + q]!;
  }
  return out;
}

/** The frame of the `index`-th stored code (a binary search: stored codes before frame t grow with t). */
export function frameOfStoredCode(index: number, strides: readonly number[]): number {
  let lo = 0; // storedCodeCount(lo) <= index
  let hi = index + 1;
  while (storedCodeCount(hi, strides) <= index) hi *= 2;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (storedCodeCount(mid, strides) <= index) lo = mid;
    else hi = mid;
  }
  return lo;
}

/**
 * Stored codes in file order → dense frames, fed any number of codes at a time: each frame is
 * handed out once its stored codes have all come, its other codebooks repeating their window's
 * code. Frames that store no code (all strides > 1, between windows) follow at once.
 */
export class DenseFrameBuilder {
  private t = 0; // the frame being filled
  private q = 0; // its next codebook
  private readonly current: Int32Array; // the frame being filled: each codebook's window code

  constructor(
    private readonly strides: readonly number[],
    private readonly frames: number,
  ) {
    this.current = new Int32Array(strides.length);
  }

  /** Frames handed out so far. */
  get done(): number {
    return this.t;
  }

  /** Takes stored codes (never more than the frames left hold); returns the dense frames they complete. */
  push(stored: ArrayLike<number>): Int32Array {
    const Q = this.strides.length;
    const out: number[] = [];
    let i = 0;
    while (this.t < this.frames) {
      if (this.q === Q) {
        for (let q = 0; q < Q; q++) out.push(this.current[q]!);
        this.t++;
        this.q = 0;
      } else if (!storesAt(this.t, this.strides[this.q]!)) {
        this.q++;
      } else if (i < stored.length) {
        this.current[this.q++] = stored[i++]!;
      } else {
        break;
      }
    }
    if (i < stored.length) throw new VqcodecError(`token payload: ${stored.length - i} stored codes past the last frame`);
    return Int32Array.from(out);
  }
}
