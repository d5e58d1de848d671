/**
 * Encode → decode → compare: the figures `vqcodec eval` reports and training validates with.
 * Bits are counted from the token file bytes, header and checksum included.
 */
import type { Codec } from '../codec.js';
import { encodeTokenFile, decodeTokenFile } from '../tokens/tokenFile.js';
import type { Tokens } from '../types.js';
import { usageFromCounts } from './codebookUsage.js';
import { compressionRatio, logMelDistance, siSdr, stoi } from './metrics.js';

export interface ClipReport {
  name: string;
  seconds: number;
  numCodebooks: number;
  bytes: number;
  bitsPerSecond: number;
  compressionRatio: number;
  siSdr: number;
  stoi: number;
  melDistance: number;
}

export interface ClipResult {
  report: ClipReport;
  tokenBytes: Uint8Array;
  tokens: Tokens;
  decoded: Float32Array;
}

/** Codes one clip through a token file's bytes and back, and measures it. */
export function evaluateClip(codec: Codec, samples: Float32Array, name: string, numCodebooks = codec.numCodebooks): ClipResult {
  const tokenBytes = encodeTokenFile(codec.encode(samples, { numCodebooks }));
  const tokens = decodeTokenFile(tokenBytes, name);
  const decoded = codec.decode(tokens);
  const seconds = samples.length / codec.sampleRate;
  const bitsPerSecond = (tokenBytes.length * 8) / seconds;
  return {
    report: {
      name,
      seconds,
      numCodebooks,
      bytes: tokenBytes.length,
      bitsPerSecond,
      compressionRatio: compressionRatio(bitsPerSecond, codec.sampleRate),
      siSdr: siSdr(samples, decoded),
      stoi: stoiOrNaN(samples, decoded, codec.sampleRate),
      melDistance: logMelDistance(samples, decoded, codec.sampleRate),
    },
    tokenBytes,
    tokens,
    decoded,
  };
}

/** STOI needs ≥ 30 non-silent frames (~0.4 s); shorter clips get NaN rather than an error. */
function stoiOrNaN(reference: Float32Array, estimate: Float32Array, sampleRate: number): number {
  try {
    return stoi(reference, estimate, sampleRate);
  } catch {
    return Number.NaN;
  }
}

export interface UsageReport {
  codebook: number;
  perplexity: number;
  entropyBits: number;
  deadCodes: number;
}

/** Accumulates code counts per codebook across clips. */
export class UsageCounter {
  readonly counts: Int32Array[];

  constructor(numCodebooks: number, readonly codebookSize: number) {
    this.counts = Array.from({ length: numCodebooks }, () => new Int32Array(codebookSize));
  }

  addTokens(tokens: Tokens): void {
    const n = tokens.numCodebooks;
    for (let i = 0; i < tokens.codes.length; i++) this.counts[i % n][tokens.codes[i]]++;
  }

  addCounts(perCodebook: Int32Array[]): void {
    perCodebook.forEach((c, q) => c.forEach((v, k) => (this.counts[q][k] += v)));
  }

  /** One entry per codebook, in order; a codebook with no assignments yet reports NaN perplexity and entropy. */
  report(): UsageReport[] {
    return this.counts.map((c, q) => {
      if (!c.some((v) => v > 0)) return { codebook: q, perplexity: Number.NaN, entropyBits: Number.NaN, deadCodes: c.length };
      const u = usageFromCounts(c);
      return { codebook: q, perplexity: u.perplexity, entropyBits: u.entropyBits, deadCodes: u.deadCodes };
    });
  }

  reset(): void {
    for (const c of this.counts) c.fill(0);
  }
}

export interface Summary {
  files: number;
  seconds: number;
  bitsPerSecond: number;
  compressionRatio: number;
  siSdr: number;
  stoi: number;
  melDistance: number;
}

/** Totals: bitrate from all bytes over all seconds; metrics averaged over clips (NaNs skipped). */
export function summarize(reports: ClipReport[], sampleRate: number): Summary {
  const seconds = reports.reduce((s, r) => s + r.seconds, 0);
  const bits = reports.reduce((s, r) => s + r.bytes * 8, 0);
  const mean = (key: 'siSdr' | 'stoi' | 'melDistance') => {
    const values = reports.map((r) => r[key]).filter((v) => Number.isFinite(v));
    return values.length ? values.reduce((a, b) => a + b, 0) / values.length : Number.NaN;
  };
  const bitsPerSecond = seconds > 0 ? bits / seconds : 0;
  return {
    files: reports.length,
    seconds,
    bitsPerSecond,
    compressionRatio: bitsPerSecond > 0 ? compressionRatio(bitsPerSecond, sampleRate) : 0,
    siSdr: mean('siSdr'),
    stoi: mean('stoi'),
    melDistance: mean('melDistance'),
  };
}
