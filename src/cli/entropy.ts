/**
 * vqcodec entropy fit | measure: the context model that makes token files smaller, fitted on
 * a token export, and what each coding costs on another export (bits per code and real files).
 */
import path from 'node:path';
import { CONTEXT_MODEL_FILE } from '../codec.js';
import { ContextModel, DEFAULT_CONTEXT_SETTINGS } from '../entropy/contextModel.js';
import { histogramEntropy, pluginEntropyBias } from '../entropy/unigram.js';
import { PRIOR_MIX_WEIGHT, payloadBits, type EntropyModels, type PayloadCoding, type TokenCoding } from '../entropy/payload.js';
import { VqcodecError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { decodeTokenFile, encodeTokenFile } from '../tokens/tokenFile.js';
import { storedFrames, storesAt } from '../tokens/codeStrides.js';
import { readTokenExport } from '../tokens/export.js';
import { evenlySpaced } from '../train/data.js';
import type { Tokens } from '../types.js';
import { intOption, loadCodec, priorModels, type GlobalOptions } from './common.js';
import { fixed, note, progressBar } from './ui.js';

export interface EntropyFitOptions {
  tokens: string;
  out: string;
  contextCodebooks?: string;
  alpha?: string;
  quiet?: boolean;
}

/** vqcodec entropy fit --tokens DIR --out FILE */
export async function entropyFitCommand(options: EntropyFitOptions): Promise<void> {
  const data = await readTokenExport(options.tokens);
  const numCodebooks = Math.min(...data.codebooks);
  const settings = {
    contextCodebooks: Math.min(numCodebooks, intOption('--context-codebooks', options.contextCodebooks) ?? DEFAULT_CONTEXT_SETTINGS.contextCodebooks),
    alpha: intOption('--alpha', options.alpha) ?? DEFAULT_CONTEXT_SETTINGS.alpha,
  };
  if (settings.contextCodebooks < 0) throw new VqcodecError('--context-codebooks must be 0 or more');
  if (!(settings.alpha > 0)) throw new VqcodecError('--alpha must be a positive integer');
  // Multi-rate codes: each file's strides, so that only stored codes are counted.
  const files = data.codes.map((codes, i) => ({ codes, numCodebooks: data.codebooks[i]!, codeStrides: data.codeStrides?.slice(0, data.codebooks[i]!) }));
  const model = ContextModel.fit(files, data.codec.fingerprint, data.codebookSize, numCodebooks, settings);
  const bytes = model.serialize();
  await writeFileAtomic(options.out, bytes);
  const frames = files.reduce((n, f) => n + f.codes.length / f.numCodebooks, 0);
  console.log(
    `${options.out}: context model ${hex(model.id)} for codec ${model.codecFingerprint}, ${numCodebooks} codebooks ` +
      `(${settings.contextCodebooks} with context tables, alpha ${settings.alpha}), from ${files.length} files (${frames.toLocaleString('en')} frames), ${(bytes.length / 1e6).toFixed(2)} MB`,
  );
  if (!options.quiet && path.basename(options.out) !== CONTEXT_MODEL_FILE) note(`the codec uses it as ${CONTEXT_MODEL_FILE} in its model folder`);
}

export interface EntropyMeasureOptions extends GlobalOptions {
  tokens: string;
  prior?: string;
  codebooks?: string;
  limit?: string;
  json?: boolean;
}

interface CodingCost {
  coding: TokenCoding;
  bytes: number;
  kbps: number;
  /** Relative to bit-packed files. */
  saving: number;
  decodeMsPerSecond: number;
}

/** vqcodec entropy measure --tokens DIR [--prior DIR] [--codebooks n] [--limit n] */
export async function entropyMeasureCommand(options: EntropyMeasureOptions): Promise<void> {
  const codec = await loadCodec(options);
  if (codec.contextModel === undefined) throw new VqcodecError(`the model has no ${CONTEXT_MODEL_FILE}: fit one with vqcodec entropy fit`);
  const data = await readTokenExport(options.tokens);
  if (data.codec.fingerprint !== codec.fingerprint) throw new VqcodecError(`${options.tokens} holds tokens of codec ${data.codec.fingerprint}, not of this model (${codec.fingerprint})`);
  const limit = intOption('--limit', options.limit);
  const picked = evenlySpaced(data.codes.map((codes, i) => ({ codes, Q: data.codebooks[i]!, entry: data.entries[i]! })), limit ?? data.codes.length);
  const Q = Math.min(codec.contextModel.numCodebooks, ...picked.map((p) => p.Q));
  const n = intOption('--codebooks', options.codebooks) ?? Math.min(2, Q);
  if (!(n >= 1 && n <= Q)) throw new VqcodecError(`--codebooks must be from 1 to ${Q}`);
  const models: EntropyModels = { context: codec.contextModel, ...(options.prior !== undefined ? await priorModels(options.prior, codec) : {}) };
  const codings: TokenCoding[] = models.prior !== undefined ? ['none', 'context', 'prior'] : ['none', 'context'];
  const K = codec.codebookSize;

  // Bits per code, per codebook: the marginal entropy of these tokens, and each model's cost.
  // Multi-rate codes count their stored codes (one per window) only.
  const strides = codec.codeStrides.slice(0, Q);
  const stored = new Float64Array(Q);
  const counts = Array.from({ length: Q }, () => new Float64Array(K));
  // The prior's codebooks cost alone and in the mixture with the context model that files use.
  const bitModels = codings.flatMap((coding): { name: string; coding: PayloadCoding }[] =>
    coding === 'prior' ? [{ name: 'prior', coding: { coding } }, { name: 'mixed', coding: { coding, priorWeight: PRIOR_MIX_WEIGHT } }] : [{ name: coding, coding: { coding } }],
  );
  const modelBits = Object.fromEntries(bitModels.map((m) => [m.name, new Float64Array(Q)])) as Record<string, Float64Array>;
  const files = Object.fromEntries(codings.map((c) => [c, { bytes: 0, ms: 0 }]));
  let frames = 0;
  let seconds = 0;
  const bar = progressBar(picked.length, 'measure |{bar}| {value}/{total} files | ETA {eta_formatted}');
  picked.forEach((p, i) => {
    const F = p.codes.length / p.Q;
    const all = firstCodebooks(p.codes, p.Q, Q);
    for (let t = 0; t < F; t++) for (let q = 0; q < Q; q++) if (storesAt(t, strides[q]!)) counts[q]![all[t * Q + q]!]!++;
    strides.forEach((s, q) => (stored[q]! += storedFrames(F, s)));
    const tokens = codec.tokenHeader(Math.round(p.entry.seconds * codec.sampleRate), Q);
    for (const m of bitModels) payloadBits(m.coding, { ...tokens, frames: F }, models, all).forEach((b, q) => (modelBits[m.name]![q]! += b));
    for (const coding of codings) {
      // Real files at n codebooks, timed on decode.
      const header = { ...codec.tokenHeader(tokens.originalLength, n), frames: F, originalLength: Math.min(tokens.originalLength, F * codec.hop) };
      const file: Tokens = { ...header, codes: firstCodebooks(p.codes, p.Q, n) };
      const bytes = encodeTokenFile(file, { coding, models });
      const started = performance.now();
      decodeTokenFile(bytes, p.entry.id, models);
      files[coding]!.ms += performance.now() - started;
      files[coding]!.bytes += bytes.length;
    }
    frames += F;
    seconds += p.entry.seconds;
    bar.update(i + 1);
  });
  bar.stop();
  const unigram = counts.map(histogramEntropy);
  const perCodebook = Array.from({ length: Q }, (_, q) => ({
    codebook: q,
    unigramEntropy: unigram[q]!,
    unigramBias: pluginEntropyBias(K, stored[q]!),
    ...Object.fromEntries(bitModels.map((m) => [m.name, modelBits[m.name]![q]! / stored[q]!])),
  }));
  const none = files.none!.bytes;
  const costs: CodingCost[] = codings.map((coding) => ({
    coding,
    bytes: files[coding]!.bytes,
    kbps: (files[coding]!.bytes * 8) / seconds / 1000,
    saving: 1 - files[coding]!.bytes / none,
    decodeMsPerSecond: files[coding]!.ms / seconds,
  }));
  if (options.json) {
    console.log(JSON.stringify({ files: picked.length, frames, seconds, codebooks: n, perCodebook, costs }, null, 2));
    return;
  }
  console.log(`${picked.length} files, ${(seconds / 60).toFixed(1)} min, ${frames.toLocaleString('en')} frames\n`);
  console.log(`bits per code     ${bitModels.map((m) => m.name.padStart(9)).join('')}  unigram entropy`);
  for (const row of perCodebook) {
    console.log(`codebook ${String(row.codebook).padEnd(8)} ${bitModels.map((m) => fixed((row as Record<string, number>)[m.name]!, 3).padStart(9)).join('')}  ${fixed(row.unigramEntropy, 3).padStart(9)}`);
  }
  console.log(`(unigram entropy: of these files' own codes, which underestimates it by about ${fixed(perCodebook[0]!.unigramBias, 3)} bits at ${stored[0]!.toLocaleString('en')} codes a codebook; more files give a truer figure)`);
  if (models.prior !== undefined) {
    console.log(`(mixed: the prior's codebooks under prior and context model mixed ${PRIOR_MIX_WEIGHT} : ${1 - PRIOR_MIX_WEIGHT}, as prior-coded files with codebooks beyond the prior's are; files of the prior's codebooks only use the prior alone)`);
  }
  console.log(`\nfiles at ${n} codebooks (headers included)`);
  for (const c of costs) {
    console.log(`${c.coding.padEnd(8)} ${String(c.bytes).padStart(10)} bytes  ${fixed(c.kbps, 3)} kbps  ${(c.saving * 100).toFixed(1).padStart(5)} % smaller  decode ${fixed(c.decodeMsPerSecond, 2)} ms per s of audio`);
  }
}

/** The first `n` codebooks of frame-major codes with `Q` per frame. */
function firstCodebooks(codes: Int32Array, Q: number, n: number): Int32Array {
  if (n === Q) return codes;
  const F = codes.length / Q;
  const out = new Int32Array(F * n);
  for (let t = 0; t < F; t++) out.set(codes.subarray(t * Q, t * Q + n), t * n);
  return out;
}

function hex(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}
