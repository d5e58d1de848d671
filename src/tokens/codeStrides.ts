/**
 * Multi-rate codes (SNAC-style multi-scale residual VQ): codebook q of a multi-rate model
 * codes one vector per `strides[q]` frames, the mean of the latents of those frames, so
 * coarse codebooks run at a fraction of the frame rate. Strides are non-increasing (coarse
 * codebooks first) and each divides the one before, so windows nest: with [4, 2, 1] at 50
 * frames/s, codebook 0 runs at 12.5, codebook 1 at 25 and codebook 2 at 50 codes/s.
 *
 * In memory, codes stay a dense frame-major grid (Tokens.codes: one code per frame and
 * codebook), where a coarse code is repeated over the frames of its window: the decoder reads
 * it as it reads any grid, and chunks cut it at any frame. Files and exports keep one code per
 * window, the "stored" codes, in time order: at frame t, every codebook whose window starts at
 * t (t mod stride = 0), lowest codebook first. A level is a run of codebooks of one stride.
 *
 * Pure arithmetic on integer arrays (the browser page bundles it).
 */

/** The largest stride a model may use (codes at 1/64 of the frame rate). */
export const MAX_CODE_STRIDE = 64;

/** Why `strides` cannot be the code strides of `numCodebooks` codebooks, or undefined when they can. */
export function codeStridesProblem(strides: unknown, numCodebooks: number): string | undefined {
  if (!Array.isArray(strides) || strides.length !== numCodebooks) return `codeStrides must list one stride per codebook (${numCodebooks}), got ${JSON.stringify(strides)}`;
  for (let q = 0; q < strides.length; q++) {
    const s = strides[q] as unknown;
    if (!(typeof s === 'number' && Number.isInteger(s) && s >= 1 && s <= MAX_CODE_STRIDE)) return `codeStrides must be integers from 1 to ${MAX_CODE_STRIDE}, got ${JSON.stringify(strides)}`;
    if (q > 0 && (s > strides[q - 1] || strides[q - 1] % s !== 0)) {
      return `codeStrides must be non-increasing, each dividing the one before (coarse codebooks first), got ${JSON.stringify(strides)}`;
    }
  }
  return undefined;
}

/** The strides of tokens or a quantizer: every codebook at the frame rate when none are given. */
export function stridesOf(shape: { numCodebooks: number; codeStrides?: readonly number[] }): number[] {
  return shape.codeStrides !== undefined ? [...shape.codeStrides] : new Array<number>(shape.numCodebooks).fill(1);
}

/** True when some codebook runs below the frame rate. */
export function isMultiRate(strides: readonly number[] | undefined): boolean {
  return strides !== undefined && strides.some((s) => s !== 1);
}

/** Frames per window of the coarsest codebook (1 for single-rate codes). */
export function maxStride(strides: readonly number[]): number {
  return strides.reduce((a, b) => Math.max(a, b), 1);
}

/** Codes codebook q stores for `frames` frames: one per window, the last window possibly partial. */
export function storedFrames(frames: number, stride: number): number {
  return Math.ceil(frames / stride);
}

/** Stored codes of `frames` frames over all codebooks. */
export function storedCodeCount(frames: number, strides: readonly number[]): number {
  return strides.reduce((sum, s) => sum + storedFrames(frames, s), 0);
}

/** Whether codebook q (of stride s) stores a code at frame t. */
export function storesAt(t: number, stride: number): boolean {
  return t % stride === 0;
}

/** A run of consecutive codebooks of one stride. */
export interface CodeLevel {
  stride: number;
  /** Its first codebook. */
  first: number;
  /** How many codebooks it has. */
  count: number;
}

/** The levels of `strides`, coarsest first. */
export function codeLevels(strides: readonly number[]): CodeLevel[] {
  const levels: CodeLevel[] = [];
  strides.forEach((stride, q) => {
    const last = levels.at(-1);
    if (last !== undefined && last.stride === stride) last.count++;
    else levels.push({ stride, first: q, count: 1 });
  });
  return levels;
}

/** Codes per second of the first n codebooks at `frameRate` frames/s. */
export function codesPerSecond(strides: readonly number[], frameRate: number, n = strides.length): number {
  return strides.slice(0, n).reduce((sum, s) => sum + frameRate / s, 0);
}

/**
 * Index of the first dense code that differs from its window's first frame (a coarse code that
 * is not repeated over its window), or -1. Files keep one code per window, so such a grid
 * would not survive a round trip.
 */
export function firstUnrepeatedCode(codes: ArrayLike<number>, frames: number, strides: readonly number[]): number {
  const Q = strides.length;
  for (let t = 0; t < frames; t++) {
    for (let q = 0; q < Q; q++) {
      const s = strides[q]!;
      if (s === 1 || storesAt(t, s)) continue;
      const start = t - (t % s);
      if (codes[t * Q + q] !== codes[start * Q + q]) return t * Q + q;
    }
  }
  return -1;
}

/** Dense frame-major codes → one array per codebook of its stored codes (codebook q: ceil(frames / s_q) codes). */
export function toStreams(codes: ArrayLike<number>, frames: number, strides: readonly number[]): Int32Array[] {
  const Q = strides.length;
  return strides.map((s, q) => {
    const out = new Int32Array(storedFrames(frames, s));
    for (let w = 0; w < out.length; w++) out[w] = codes[w * s * Q + q]!;
    return out;
  });
}

/** One array per codebook of stored codes → dense frame-major codes of `frames` frames. */
export function fromStreams(streams: readonly ArrayLike<number>[], frames: number, strides: readonly number[]): Int32Array {
  const Q = strides.length;
  const codes = new Int32Array(frames * Q);
  for (let q = 0; q < Q; q++) {
    const s = strides[q]!;
    for (let t = 0; t < frames; t++) codes[t * Q + q] = streams[q]![Math.floor(t / s)]!;
  }
  return codes;
}
