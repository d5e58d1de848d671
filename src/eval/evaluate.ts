/**
 * Encode → decode → compare: the figures `vqcodec eval` reports and training validates with.
 * Bits are counted from the token file bytes, header and checksum included. Reference codecs
 * (./baselines.ts) are measured by the same code, their bits counted from their whole files.
 */
import { mfccDistance } from './mfcc.js';
import type { Codec } from '../codec.js';
import { check } from '../errors.js';
import { encodeTokenFile, decodeTokenFile } from '../tokens/tokenFile.js';
import type { Tokens } from '../types.js';
import type { ReferenceCodec } from './baselines.js';
import { usageFromCounts } from './codebookUsage.js';
import { compressionRatio, logMelDistance, siSdr, stoiAndEstoi } from './metrics.js';

export interface ClipReport {
  name: string;
  /** The reference codec's name (e.g. `opus-6kbps`); absent for vqcodec itself. */
  codec?: string;
  seconds: number;
  /** Codebooks used; 0 for a reference codec. */
  numCodebooks: number;
  bytes: number;
  bitsPerSecond: number;
  compressionRatio: number;
  siSdr: number;
  stoi: number;
  /** Extended STOI (Jensen & Taal 2016): also sensitive to distortions that change the spectral shape. */
  estoi: number;
  melDistance: number;
  /** Mean distance of MFCCs 1–12 (meyda) over the reference's non-silent frames. */
  mfccDistance: number;
}

export interface ClipResult {
  report: ClipReport;
  tokenBytes: Uint8Array;
  tokens: Tokens;
  decoded: Float32Array;
}

/** Codes one clip through a token file's bytes and back, and measures it. */
export function evaluateClip(codec: Codec, samples: Float32Array, name: string, numCodebooks = codec.numCodebooks): ClipResult {
  // Bits are counted from the file `vqcodec encode` writes: entropy-coded when the codec has a context model.
  const models = { context: codec.contextModel };
  const tokenBytes = encodeTokenFile(codec.encode(samples, { numCodebooks }), { coding: codec.contextModel !== undefined ? 'context' : 'none', models });
  const tokens = decodeTokenFile(tokenBytes, name, models);
  const decoded = codec.decode(tokens);
  return {
    report: measure(name, samples, decoded, tokenBytes.length, codec.sampleRate, numCodebooks),
    tokenBytes,
    tokens,
    decoded,
  };
}

export interface ReferenceClipResult {
  report: ClipReport;
  decoded: Float32Array;
}

/**
 * Codes one clip through a reference codec (Opus, Codec2: ./baselines.ts) and measures it
 * exactly as `evaluateClip` measures vqcodec; its decoded signal comes back aligned to the input.
 */
export async function evaluateReference(
  reference: ReferenceCodec,
  samples: Float32Array,
  name: string,
  sampleRate: number,
): Promise<ReferenceClipResult> {
  const { bytes, decoded } = await reference.run(samples, sampleRate);
  check(decoded.length === samples.length, `${reference.name} returned ${decoded.length} samples for ${samples.length}`);
  return { report: measure(name, samples, decoded, bytes, sampleRate, 0, reference.name), decoded };
}

/** The figures of one clip, given its coded size in bytes: what every codec is measured by. */
function measure(
  name: string,
  samples: Float32Array,
  decoded: Float32Array,
  bytes: number,
  sampleRate: number,
  numCodebooks: number,
  codec?: string,
): ClipReport {
  const seconds = samples.length / sampleRate;
  const bitsPerSecond = (bytes * 8) / seconds;
  return {
    name,
    ...(codec === undefined ? {} : { codec }),
    seconds,
    numCodebooks,
    bytes,
    bitsPerSecond,
    compressionRatio: compressionRatio(bitsPerSecond, sampleRate),
    siSdr: siSdr(samples, decoded),
    ...intelligibilityOrNaN(samples, decoded, sampleRate),
    melDistance: logMelDistance(samples, decoded, sampleRate),
    mfccDistance: mfccDistance(samples, decoded, sampleRate),
  };
}

/** STOI and ESTOI need ≥ 30 non-silent frames (~0.4 s); shorter clips get NaN rather than an error. */
function intelligibilityOrNaN(reference: Float32Array, estimate: Float32Array, sampleRate: number): { stoi: number; estoi: number } {
  try {
    return stoiAndEstoi(reference, estimate, sampleRate);
  } catch {
    return { stoi: Number.NaN, estoi: Number.NaN };
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
  estoi: number;
  melDistance: number;
  /** Mean distance of MFCCs 1–12 (meyda) over the reference's non-silent frames. */
  mfccDistance: number;
}

/** Totals: bitrate from all bytes over all seconds; metrics averaged over clips (NaNs skipped). */
export function summarize(reports: ClipReport[], sampleRate: number): Summary {
  const seconds = reports.reduce((s, r) => s + r.seconds, 0);
  const bits = reports.reduce((s, r) => s + r.bytes * 8, 0);
  const mean = (key: 'siSdr' | 'stoi' | 'estoi' | 'melDistance' | 'mfccDistance') => {
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
    estoi: mean('estoi'),
    melDistance: mean('melDistance'),
    mfccDistance: mean('mfccDistance'),
  };
}
