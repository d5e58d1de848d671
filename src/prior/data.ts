/**
 * Training windows for the prior: each file's codes in the delay pattern, after one start step
 * (all padding), cut into random windows of context + 1 steps (inputs and their next steps).
 * Multi-rate codes go in as super-frames (./superFrames.ts); a partial last one is padded.
 */
import { VqcodecError } from '../errors.js';
import type { Random } from '../train/random.js';
import { stridesOf } from '../tokens/codeStrides.js';
import type { TokenExport } from '../tokens/export.js';
import { toSuperFrames, virtualCodebookCount } from './superFrames.js';

/** One file's delayed grid [(1 + frames + Q − 1) × Q], start step first, padding K. */
export function delayedGrid(codes: Int32Array, codebooks: number, numCodebooks: number, pad: number): Int32Array {
  if (codes.length % codebooks !== 0) throw new VqcodecError(`codes hold whole frames of ${codebooks} (got ${codes.length})`);
  if (numCodebooks > codebooks) throw new VqcodecError(`the prior models ${numCodebooks} codebooks; these codes have ${codebooks}`);
  const frames = codes.length / codebooks;
  const Q = numCodebooks;
  const grid = new Int32Array((frames + Q) * Q).fill(pad);
  for (let f = 0; f < frames; f++) for (let q = 0; q < Q; q++) grid[(1 + f + q) * Q + q] = codes[f * codebooks + q];
  return grid;
}

/**
 * One file's delayed grid for a prior over codebooks of these strides: its super-frames (its
 * frames, for single-rate codes) in the delay pattern, one token per virtual codebook a step.
 */
export function priorGrid(codes: Int32Array, codebooks: number, strides: readonly number[], pad: number): Int32Array {
  const V = virtualCodebookCount(strides);
  return delayedGrid(toSuperFrames(codes, codebooks, strides, pad), V, V, pad);
}

/** The strides of a token export's first n codebooks (for a prior of n); every file must have n. */
export function exportStrides(data: Pick<TokenExport, 'codebooks' | 'codeStrides'>, n: number): number[] {
  if (data.codebooks.some((c) => c < n)) throw new VqcodecError(`the prior models ${n} codebooks; some exported files have fewer`);
  return stridesOf({ numCodebooks: Math.max(...data.codebooks), codeStrides: data.codeStrides }).slice(0, n);
}

/** Draws batches of windows [batch, steps, Q] from delayed grids, files weighted by length. */
export class WindowSampler {
  private readonly lengths: number[];
  private readonly total: number;

  constructor(
    private readonly grids: Int32Array[],
    private readonly numCodebooks: number,
    private readonly pad: number,
    /**
     * The fraction of windows that begin at their file's start step. Entropy coding reads every
     * file from its start, and most test clips fit in one window; windows cut anywhere begin at a
     * file's start only as often as files are short. 0: windows anywhere, as before (and the same draws).
     */
    private readonly fileStarts = 0,
  ) {
    if (grids.length === 0) throw new VqcodecError('no token files to train the prior on');
    this.lengths = grids.map((g) => g.length / numCodebooks);
    this.total = this.lengths.reduce((a, b) => a + b, 0);
  }

  /** `batch` windows of `steps` steps (shorter files are padded at the end with K). */
  sample(batch: number, steps: number, random: Random): Int32Array {
    const Q = this.numCodebooks;
    const out = new Int32Array(batch * steps * Q).fill(this.pad);
    for (let b = 0; b < batch; b++) {
      let pick = random.next() * this.total;
      let i = 0;
      while (pick >= this.lengths[i] && i < this.lengths.length - 1) pick -= this.lengths[i++];
      const atFileStart = this.fileStarts > 0 && random.next() < this.fileStarts;
      const start = !atFileStart && this.lengths[i] > steps ? random.int(this.lengths[i] - steps + 1) : 0;
      const take = Math.min(steps, this.lengths[i] - start);
      out.set(this.grids[i].subarray(start * Q, (start + take) * Q), b * steps * Q);
    }
    return out;
  }
}
