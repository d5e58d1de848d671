/**
 * How well a VQ codebook is used: a collapsed codebook (few live codes, low perplexity)
 * is the classic VQ-VAE failure mode (van den Oord et al., 2017; Dhariwal et al., 2020).
 */
import { check } from '../errors.js';

export interface CodebookUsage {
  /** How often each code index occurred. */
  counts: Int32Array;
  /** Entropy of the empirical code distribution, in bits: −Σ p·log2 p. */
  entropyBits: number;
  /** 2^entropy: the number of equally used codes with the same entropy (1 when nothing was counted). */
  perplexity: number;
  /** Codes that never occurred. */
  deadCodes: number;
  /** Codes that occurred at least once. */
  used: number;
}

/** Usage statistics from per-code counts (e.g. counts the trainer accumulates per codebook). */
export function usageFromCounts(counts: ArrayLike<number>): CodebookUsage {
  check(counts.length > 0, 'codebook usage: codebook size must be positive');
  const own = new Int32Array(counts.length);
  let total = 0;
  let used = 0;
  for (let k = 0; k < counts.length; k++) {
    const c = counts[k]!;
    check(
      Number.isInteger(c) && c >= 0 && c <= 0x7fffffff,
      `codebook usage: count ${c} for code ${k} is not an integer in 0..2^31-1`,
    );
    own[k] = c;
    total += c;
    if (c > 0) used++;
  }
  let entropyBits = 0;
  if (total > 0) {
    for (let k = 0; k < own.length; k++) {
      const c = own[k]!;
      if (c > 0) {
        const p = c / total;
        entropyBits -= p * Math.log2(p);
      }
    }
  }
  // Rounding can leave −0 or a hair below 0 for a single used code.
  entropyBits = Math.max(0, entropyBits);
  return { counts: own, entropyBits, perplexity: 2 ** entropyBits, deadCodes: counts.length - used, used };
}

/** Counts each index of `codes` (all in [0, codebookSize)) and summarises the usage. */
export function codebookUsage(codes: Int32Array, codebookSize: number): CodebookUsage {
  check(Number.isInteger(codebookSize) && codebookSize > 0, `codebook usage: bad codebook size ${codebookSize}`);
  const counts = new Int32Array(codebookSize);
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i]!;
    check(c >= 0 && c < codebookSize, `codebook usage: code ${c} at position ${i} is outside 0..${codebookSize - 1}`);
    counts[c]!++;
  }
  return usageFromCounts(counts);
}
