/**
 * Every reader of untrusted bytes, as fuzz targets: valid seed inputs to mutate, hand-made
 * hostile inputs (absurd header values) with the refusal each must give, and a `run` that
 * feeds bytes to the reader the way vqcodec does (files in a temp folder where the reader
 * takes a path). Shared by the suite's property tests (test/fuzz.test.ts) and the long loop
 * (fuzz/loop.ts, `npm run fuzz`).
 *
 * The rule every target is held to (`runCase`): the reader returns valid output or throws a
 * one-line VqcodecError, within the time limit; any other error is a failure.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { isWav, loadAudio } from '../src/audio/load.js';
import { decodeWav, encodeWav } from '../src/audio/wav.js';
import { WavReader, openWavStream } from '../src/audio/wavStream.js';
import { ContextModel, type CodeSequence } from '../src/entropy/contextModel.js';
import type { EntropyModels, StepPredictor } from '../src/entropy/payload.js';
import { VqcodecError } from '../src/errors.js';
import { decodeBundle, encodeBundle } from '../src/io/bundle.js';
import { ByteWriter } from '../src/io/bytes.js';
import { Codec } from '../src/codec.js';
import { loadPrior, savePrior } from '../src/prior/store.js';
import { TokenPrior } from '../src/prior/transformer.js';
import { crc32 } from '../src/tokens/crc32.js';
import { decodeNpy, encodeNpy } from '../src/tokens/npy.js';
import { decodeTokenFile, encodeTokenFile, inspectTokenFile } from '../src/tokens/tokenFile.js';
import { TRAILER_BYTES } from '../src/tokens/tokenHeader.js';
import { TokenFileReader } from '../src/tokens/tokenStream.js';
import { expandInputs } from '../src/train/data.js';
import { Random } from '../src/train/random.js';
import type { Tokens } from '../src/types.js';

/** A hand-made hostile input and the refusal it must get (or `ok` when it must be read). */
export interface AbsurdCase {
  what: string;
  bytes: Uint8Array;
  /** The VqcodecError's message must match; undefined: the input is valid and must be read. */
  refusal?: RegExp;
}

export interface FuzzTarget {
  name: string;
  /** Valid inputs that mutations start from. */
  seeds: Uint8Array[];
  /** The input is JSON text: mutations favour swapping its values. */
  json?: boolean;
  /** Re-stamps the input's checksum so a mutation reaches the checks behind it. */
  fix?: (bytes: Uint8Array) => Uint8Array;
  absurd: AbsurdCase[];
  /** Reads `bytes`; resolves on valid output, rejects with whatever the reader threw. */
  run(bytes: Uint8Array): Promise<unknown>;
}

/** Every target's name, in makeTargets' order (so that tests can be declared before the targets are built). */
export const TARGET_NAMES = [
  'vqt v1',
  'vqt v2 bit-packed',
  'vqt v2 entropy-coded',
  'vqt v3 multi-rate',
  'vqt stream',
  'context model',
  'wav',
  'wav stream',
  'mp3',
  'ogg',
  'flac',
  'bundle',
  'model config.json',
  'model weights.bin',
  'prior prior.json',
  'prior weights.bin',
  'manifest',
  'npy',
] as const;

export type Outcome = 'refused' | 'ok' | 'failed';

export interface CaseResult {
  outcome: Outcome;
  ms: number;
  /** The first run was over the time limit, and this is the second. */
  retried?: boolean;
  /** The refusal's message, or what went wrong. */
  message?: string;
}

/** Cases slower than this fail (a reader must not loop or grind on a small hostile input). */
export const TIME_LIMIT_MS = 2000;
/**
 * A case that raises the process's peak resident memory by more than this fails: an allocation
 * no small input justifies. (The peak only rises at a new record, so this catches the first such
 * case of a run, not every one; the suite's absurd-header tests also measure ArrayBuffers.)
 */
export const PEAK_GROWTH_LIMIT_BYTES = 256 * 2 ** 20;

/**
 * Runs one input through a target and classifies what happened. A run over the time limit is
 * timed once more (a machine busy with other work can stall any one call), and fails only if
 * the second run is over it too.
 */
export async function runCase(target: FuzzTarget, bytes: Uint8Array, limitMs = TIME_LIMIT_MS): Promise<CaseResult> {
  const first = await runOnce(target, bytes, limitMs);
  if (first.outcome !== 'failed' || first.ms <= limitMs) return first;
  return { ...(await runOnce(target, bytes, limitMs)), retried: true };
}

async function runOnce(target: FuzzTarget, bytes: Uint8Array, limitMs: number): Promise<CaseResult> {
  const peak = process.resourceUsage().maxRSS * 1024;
  const start = performance.now();
  let result: CaseResult;
  try {
    await target.run(bytes);
    result = { outcome: 'ok', ms: 0 };
  } catch (err) {
    if (err instanceof VqcodecError && !err.message.includes('\n') && err.message.length > 0) result = { outcome: 'refused', ms: 0, message: err.message };
    else result = { outcome: 'failed', ms: 0, message: `${err instanceof VqcodecError ? 'multi-line VqcodecError' : (err as Error)?.constructor?.name ?? typeof err}: ${String((err as Error)?.message ?? err)}` };
  }
  result.ms = performance.now() - start;
  const grown = process.resourceUsage().maxRSS * 1024 - peak;
  if (result.outcome !== 'failed' && grown > PEAK_GROWTH_LIMIT_BYTES) return { outcome: 'failed', ms: result.ms, message: `the peak memory rose by ${(grown / 2 ** 20).toFixed(0)} MiB` };
  if (result.outcome !== 'failed' && result.ms > limitMs) result = { outcome: 'failed', ms: result.ms, message: `took ${result.ms.toFixed(0)} ms (limit ${limitMs})` };
  return result;
}

// ---------------------------------------------------------------------------------------------
// Inputs

const FINGERPRINT = '0123456789abcdef';
const CONTEXT_K = 16;
const CONTEXT_Q = 3;

function markovCodes(frames: number, Q: number, K: number, seed: number): Int32Array {
  const random = new Random(seed);
  const codes = new Int32Array(frames * Q);
  for (let t = 0; t < frames; t++) {
    for (let q = 0; q < Q; q++) {
      const r = random.next();
      codes[t * Q + q] = t > 0 && r < 0.6 ? codes[(t - 1) * Q + q]! : random.int(K);
    }
  }
  return codes;
}

function tokens(frames: number, Q: number, K: number, seed = 1): Tokens {
  return { codes: markovCodes(frames, Q, K, seed), frames, numCodebooks: Q, codebookSize: K, hop: 320, sampleRate: 16000, originalLength: Math.max(0, frames * 320 - 7), modelFingerprint: FINGERPRINT };
}

/** Multi-rate tokens (a version-3 file): the Markov codes with each coarse code repeated over its window. */
function multiRateTokens(frames: number, strides: number[], K: number, seed = 1): Tokens {
  const t = tokens(frames, strides.length, K, seed);
  const Q = strides.length;
  for (let f = 0; f < frames; f++) strides.forEach((s, q) => f % s !== 0 && (t.codes[f * Q + q] = t.codes[(f - 1) * Q + q]!));
  return { ...t, codeStrides: strides };
}

/** A stand-in prior (the range coder only needs deterministic probabilities): the previous step's code is likelier. */
class StickyPredictor implements StepPredictor {
  readonly numCodebooks = 2;
  readonly codebookSize = CONTEXT_K;
  private last: number[] = [];

  reset(): void {
    this.last = [];
  }

  probabilities(): Float64Array[] {
    return Array.from({ length: this.numCodebooks }, (_, q) => {
      const p = new Float64Array(this.codebookSize).fill(1);
      const last = this.last[q];
      if (last !== undefined && last < this.codebookSize) p[last] = 9;
      const sum = p.reduce((a, b) => a + b, 0);
      return p.map((v) => v / sum);
    });
  }

  push(step: ArrayLike<number>): void {
    this.last = Array.from(step);
  }
}

/** Re-stamps a trailing CRC-32 (of every byte before it), as .vqt files and context models carry. */
export function fixTrailingCrc(bytes: Uint8Array): Uint8Array {
  if (bytes.length < TRAILER_BYTES) return bytes;
  const out = bytes.slice();
  const at = out.length - TRAILER_BYTES;
  new DataView(out.buffer).setUint32(at, crc32(out.subarray(0, at)), true);
  return out;
}

/** A version-1 file with header fields overwritten (u32 at an offset, or the codebook byte), CRC re-stamped. */
function editedV1(t: Tokens, edits: [offset: number, value: number, width: 1 | 4][]): Uint8Array {
  const bytes = encodeTokenFile(t, { version: 1 });
  const view = new DataView(bytes.buffer);
  for (const [at, value, width] of edits) {
    if (width === 1) bytes[at] = value;
    else view.setUint32(at, value >>> 0, true);
  }
  return fixTrailingCrc(bytes);
}

function varint(v: number): number[] {
  return [...new ByteWriter().varint(v).finish()];
}

/** A version-2 header (version 3 with `strides`) from raw field values (unchecked), then `payload` and a valid CRC. */
function rawV2(fields: { coding?: number; sampleRate?: number; hop?: number; K?: number; Q?: number; strides?: number[]; frames?: number; padding?: number; contextId?: number }, payload: number[] = []): Uint8Array {
  const f = { coding: 0, sampleRate: 16000, hop: 320, K: 16, Q: 3, frames: 0, padding: 0, contextId: 0, ...fields };
  const bytes = [0x56, 0x51, 0x54, 0x4b, f.strides !== undefined ? 3 : 2, f.coding, 1, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
  bytes.push(...varint(f.sampleRate), ...varint(f.hop), ...varint(f.K), f.Q & 0xff, ...(f.strides ?? []), ...varint(f.frames), ...varint(f.padding));
  if (f.coding >= 1 && f.coding <= 3) bytes.push(f.contextId & 0xff, (f.contextId >>> 8) & 0xff, (f.contextId >>> 16) & 0xff, f.contextId >>> 24);
  if (f.coding >= 2 && f.coding <= 4) bytes.push(1, 2, 3, 4, 5, 6, 7, 8);
  if (f.coding === 5) bytes.push(1, 2, 3, 4);
  return fixTrailingCrc(Uint8Array.from([...bytes, ...payload, 0, 0, 0, 0]));
}

interface WavSpec {
  format?: number;
  channels?: number;
  rate?: number;
  bits?: number;
  blockAlign?: number;
  /** Bytes of sample data actually present. */
  dataBytes?: number;
  /** What the data chunk's size field says (default: dataBytes). */
  declared?: number;
  bigEndian?: boolean;
  fmtSize?: number;
}

/** A WAV file from raw header values (unchecked), with a sine-ish ramp as data. */
export function rawWav(spec: WavSpec = {}): Uint8Array {
  const s = { format: 1, channels: 1, rate: 16000, bits: 16, dataBytes: 400, bigEndian: false, fmtSize: 16, ...spec };
  const blockAlign = s.blockAlign ?? Math.max(1, (s.channels * Math.ceil(s.bits / 8)) & 0xffff);
  const declared = s.declared ?? s.dataBytes;
  // Room for the 16 bytes of fields even when the chunk says it is shorter, padded to even.
  const fmtRoom = Math.max(16, s.fmtSize + (s.fmtSize % 2));
  const out = new Uint8Array(12 + 8 + fmtRoom + 8 + s.dataBytes);
  const v = new DataView(out.buffer);
  const le = !s.bigEndian;
  const tag = (at: number, t: string) => [...t].forEach((c, i) => (out[at + i] = c.charCodeAt(0)));
  tag(0, s.bigEndian ? 'RIFX' : 'RIFF');
  v.setUint32(4, out.length - 8, le);
  tag(8, 'WAVE');
  tag(12, 'fmt ');
  v.setUint32(16, s.fmtSize, le);
  v.setUint16(20, s.format & 0xffff, le);
  v.setUint16(22, s.channels & 0xffff, le);
  v.setUint32(24, s.rate >>> 0, le);
  v.setUint32(28, (s.rate * blockAlign) >>> 0, le);
  v.setUint16(32, blockAlign & 0xffff, le);
  v.setUint16(34, s.bits & 0xffff, le);
  const data = 20 + fmtRoom;
  tag(data, 'data');
  v.setUint32(data + 4, declared >>> 0, le);
  for (let i = 0; i < s.dataBytes; i++) out[data + 8 + i] = Math.round(128 + 100 * Math.sin(i / 3)) & 0xff;
  return out;
}

/** `wav` (a rawWav) with `count` empty 'JUNK' chunks after its fmt chunk. */
function withEmptyChunks(wav: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(wav.length + 8 * count);
  out.set(wav.subarray(0, 36));
  for (let i = 0; i < count; i++) out.set([0x4a, 0x55, 0x4e, 0x4b], 36 + 8 * i);
  out.set(wav.subarray(36), 36 + 8 * count);
  new DataView(out.buffer).setUint32(4, out.length - 8, true);
  return out;
}

function text(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** A bundle with a hand-written JSON header over `values` float32s. */
function rawBundle(header: string, values = 16): Uint8Array {
  const h = text(header);
  const dataStart = Math.ceil((8 + h.length) / 4) * 4;
  const out = new Uint8Array(dataStart + values * 4);
  out.set(text('VQB1'));
  new DataView(out.buffer).setUint32(4, h.length, true);
  out.set(h, 8);
  return out;
}

function rawNpy(header: string, dataBytes: number): Uint8Array {
  const h = header.padEnd(Math.ceil((10 + header.length + 1) / 64) * 64 - 11) + '\n';
  const out = new Uint8Array(10 + h.length + dataBytes);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, h.length, true);
  out.set(text(h), 10);
  return out;
}

/** Every block of `iterable`, concatenated. */
async function concatBlocks<T extends Int32Array | Float32Array>(iterable: AsyncIterable<T>, make: (length: number) => T): Promise<T> {
  const blocks: T[] = [];
  for await (const b of iterable) blocks.push(b);
  const out = make(blocks.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of blocks) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** What `read` gives, or the VqcodecError it throws (any other error goes on up). */
async function settle<T>(read: () => Promise<T>): Promise<T | VqcodecError> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof VqcodecError) return err;
    throw err;
  }
}

/**
 * A streaming reader must agree with the one-shot one: the same values, or a refusal of both.
 * Returns the values, rethrows the stream's refusal, and fails (a plain Error) on disagreement.
 */
function agree(stream: string, whole: ArrayLike<number> | VqcodecError, streamed: ArrayLike<number> | VqcodecError): ArrayLike<number> {
  if (whole instanceof VqcodecError) {
    if (streamed instanceof VqcodecError) throw streamed;
    throw new Error(`${stream} read what the one-shot reader refused (${whole.message})`);
  }
  if (streamed instanceof VqcodecError) throw new Error(`${stream} refused what the one-shot reader read: ${streamed.message}`);
  if (whole.length !== streamed.length) throw new Error(`${stream} read ${streamed.length} values, the one-shot reader ${whole.length}`);
  for (let i = 0; i < whole.length; i++) if (!Object.is(whole[i], streamed[i])) throw new Error(`${stream} and the one-shot reader differ at value ${i}`);
  return streamed;
}

// ---------------------------------------------------------------------------------------------
// Targets

/** The fixtures folder (test/fixtures), found from the compiled file's place in dist/. */
export function fixturesDir(): string {
  return path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'test', 'fixtures');
}

/**
 * Builds every target. `dir` is an empty scratch folder the targets write their files into.
 * Model and prior loading need a TensorFlow.js backend set up first (initBackend).
 */
export async function makeTargets(dir: string): Promise<FuzzTarget[]> {
  const fixtures = fixturesDir();
  const contextFiles: CodeSequence[] = Array.from({ length: 8 }, (_, i) => ({ codes: markovCodes(60, CONTEXT_Q, CONTEXT_K, 100 + i), numCodebooks: CONTEXT_Q }));
  const context = ContextModel.fit(contextFiles, FINGERPRINT, CONTEXT_K, CONTEXT_Q, { contextCodebooks: 2, alpha: 10 });
  const smallContext = ContextModel.fit([{ codes: markovCodes(20, 1, 4, 7), numCodebooks: 1 }], FINGERPRINT, 4, 1, { contextCodebooks: 1, alpha: 3 });
  const models: EntropyModels = { context, prior: { predictor: new StickyPredictor(), fingerprint: 'fedcba9876543210' } };

  // --- .vqt token files
  const v1Seeds = [tokens(0, 1, 2), tokens(13, 3, 1000), tokens(5, 255, 2), tokens(9, 2, 2 ** 24)].map((t) => encodeTokenFile(t, { version: 1 }));
  const v2PackedSeeds = [tokens(0, 1, 2), tokens(13, 3, 1000), tokens(40, 8, 1024), tokens(3, 2, 2 ** 24)].map((t) => encodeTokenFile(t));
  const v2EntropySeeds = [
    encodeTokenFile(tokens(30, 3, CONTEXT_K, 5), { coding: 'context', models }),
    encodeTokenFile(tokens(0, 2, CONTEXT_K), { coding: 'context', models }),
    encodeTokenFile(tokens(12, 3, CONTEXT_K, 6), { coding: 'prior', models }),
    encodeTokenFile(tokens(7, 1, CONTEXT_K, 8), { coding: 'prior', models }),
  ];
  const v3Seeds = [
    encodeTokenFile(multiRateTokens(0, [2, 1], 2)),
    encodeTokenFile(multiRateTokens(13, [4, 2, 1], 1000)),
    encodeTokenFile(multiRateTokens(9, [4], 16)),
    encodeTokenFile(multiRateTokens(40, [8, 8, 4, 2, 1], 1024)),
    encodeTokenFile(multiRateTokens(30, [4, 2, 1], CONTEXT_K, 5), { coding: 'context', models }),
    encodeTokenFile(multiRateTokens(11, [2, 2], CONTEXT_K, 6), { coding: 'context', models }),
  ];
  const big = 2 ** 31;
  const vqtAbsurd: AbsurdCase[] = [
    { what: 'v1: 2^31 frames', bytes: editedV1(tokens(13, 3, 1000), [[26, big, 4]]), refusal: /header implies/ },
    { what: 'v1: 2^32 − 1 frames of 255 codebooks', bytes: editedV1(tokens(13, 3, 1000), [[26, 0xffffffff, 4], [25, 255, 1]]), refusal: /header implies/ },
    { what: 'v1: K = 0', bytes: editedV1(tokens(13, 3, 1000), [[21, 0, 4]]), refusal: /codebook size 0/ },
    { what: 'v1: K = 2^32 − 1', bytes: editedV1(tokens(13, 3, 1000), [[21, 0xffffffff, 4]]), refusal: /codebook size 4294967295/ },
    { what: 'v1: sample rate 0', bytes: editedV1(tokens(13, 3, 1000), [[13, 0, 4]]), refusal: /sample rate 0/ },
    { what: 'v1: sample rate 10^9 (valid)', bytes: editedV1(tokens(13, 3, 1000), [[13, 1e9, 4]]) },
    { what: 'v1: 255 codebooks', bytes: editedV1(tokens(13, 3, 1000), [[25, 255, 1]]), refusal: /header implies/ },
    { what: 'v1: 0 codebooks', bytes: editedV1(tokens(0, 3, 1000), [[25, 0, 1]]), refusal: /0 codebooks/ },
    { what: 'v2: 2^31 frames, bit-packed', bytes: rawV2({ frames: big }), refusal: /header implies/ },
    { what: 'v2: 2^32 − 1 frames, context-coded in 3 bytes', bytes: rawV2({ coding: 1, frames: 0xffffffff, contextId: context.id }, [1, 2, 3]), refusal: /cannot hold/ },
    { what: 'v2: 2^31 frames, prior-coded', bytes: rawV2({ coding: 2, frames: big, contextId: context.id }, [9]), refusal: /cannot hold/ },
    { what: 'v2: K = 0', bytes: rawV2({ K: 0 }), refusal: /codebook size 0/ },
    { what: 'v2: K = 2^32 − 1', bytes: rawV2({ K: 0xffffffff }), refusal: /runs over 4 bytes|codebook size/ },
    { what: 'v2: sample rate 0', bytes: rawV2({ sampleRate: 0 }), refusal: /sample rate 0/ },
    { what: 'v2: sample rate 2^35 (over 32 bits)', bytes: rawV2({ sampleRate: 2 ** 35 }), refusal: /runs over 5 bytes/ },
    { what: 'v2: sample rate 10^9 (valid)', bytes: rawV2({ sampleRate: 1e9 }) },
    { what: 'v2: 255 codebooks of 1 frame, no payload', bytes: rawV2({ Q: 255, frames: 1 }), refusal: /header implies/ },
    { what: 'v2: 0 codebooks', bytes: rawV2({ Q: 0 }), refusal: /0 codebooks/ },
    { what: 'v2: padding past frames x hop', bytes: rawV2({ frames: 0, padding: 5 }), refusal: /padding/ },
    { what: 'v2: coding 6', bytes: rawV2({ coding: 6 }), refusal: /unknown coding 6/ },
    { what: 'v2: 2^31 frames, prior-coded alone (coding 4)', bytes: rawV2({ coding: 4, frames: big }, [9]), refusal: /cannot hold/ },
    { what: 'v2: 2^31 frames, prior-coded alone with a short id (coding 5)', bytes: rawV2({ coding: 5, frames: big }, [9]), refusal: /cannot hold/ },
    { what: 'v2: 2^31 frames, prior-coded (mixed)', bytes: rawV2({ coding: 3, frames: big, contextId: context.id }, [9]), refusal: /cannot hold/ },
    // Decoded from zeros past the payload's end, this took seconds under the shipped model (45 codes a bit are allowed).
    { what: 'v2: context-coded, 2^14 frames over 200 payload bytes', bytes: rawV2({ coding: 1, frames: 2 ** 14, contextId: context.id }, Array.from({ length: 200 }, (_, i) => (i * 37) & 0xff)), refusal: /payload ends before frame/ },
    { what: 'v2: context-coded under another model', bytes: rawV2({ coding: 1, frames: 1, contextId: context.id ^ 1 }, [0x55]), refusal: /context model/ },
    { what: 'v2: context-coded, K = 1000 (the model has 16)', bytes: rawV2({ coding: 1, frames: 1, K: 1000, contextId: context.id }, [0x55]), refusal: /codes per codebook/ },
    { what: 'v3: 2^31 frames at stride 64, bit-packed', bytes: rawV2({ Q: 1, strides: [64], frames: big }), refusal: /header implies/ },
    { what: 'v3: 2^32 − 1 frames at stride 64, context-coded in 3 bytes', bytes: rawV2({ coding: 1, Q: 2, strides: [64, 64], frames: 0xffffffff, contextId: context.id }, [1, 2, 3]), refusal: /cannot hold/ },
    { what: 'v3: 255 codebooks at stride 64 of 1 frame, no payload', bytes: rawV2({ Q: 255, strides: new Array<number>(255).fill(64), frames: 1 }), refusal: /header implies/ },
    { what: 'v3: 200 codebooks, strides past the end of the file', bytes: rawV2({ Q: 200, strides: [4, 2] }), refusal: /truncated/ },
    { what: 'v3: strides [3, 2, 1]', bytes: rawV2({ strides: [3, 2, 1] }), refusal: /each dividing the one before/ },
    { what: 'v3: strides [1, 2, 4]', bytes: rawV2({ strides: [1, 2, 4] }), refusal: /non-increasing/ },
    { what: 'v3: stride 255', bytes: rawV2({ strides: [255, 1, 1] }), refusal: /integers from 1 to 64/ },
    { what: 'v3: every stride 1', bytes: rawV2({ strides: [1, 1, 1] }), refusal: /needs a code stride above 1/ },
    { what: 'v3: prior-coded', bytes: rawV2({ coding: 2, strides: [4, 2, 1], contextId: context.id }), refusal: /prior coding of multi-rate codes/ },
    { what: 'v3: 5 frames at stride 4 (valid)', bytes: rawV2({ Q: 1, strides: [4], frames: 5 }, [0x12]) },
    { what: 'v3: context-coded, 2^14 frames over 200 payload bytes', bytes: rawV2({ coding: 1, strides: [4, 2, 1], frames: 2 ** 14, contextId: context.id }, Array.from({ length: 200 }, (_, i) => (i * 37) & 0xff)), refusal: /payload ends before frame/ },
  ];
  const decodeVqt = async (bytes: Uint8Array) => {
    inspectTokenFile(bytes, 'clip.vqt');
    return decodeTokenFile(bytes, 'clip.vqt', models);
  };
  const vqtPath = path.join(dir, 'clip.vqt');
  /** The streaming reader on a file, which must agree with the one-shot reader. */
  const streamVqt = async (bytes: Uint8Array) => {
    await fs.writeFile(vqtPath, bytes);
    const whole = await settle(async () => decodeTokenFile(bytes, vqtPath, models).codes);
    const streamed = await settle(async () => {
      const reader = await TokenFileReader.open(vqtPath);
      try {
        return await concatBlocks(reader.codes(7, models), (n) => new Int32Array(n));
      } finally {
        await reader.close();
      }
    });
    return agree('TokenFileReader', whole, streamed);
  };

  // --- context models
  const contextAbsurd = (): AbsurdCase[] => {
    const head = (K: number, Q: number, cc: number, alpha: number, rest: number[] = []) =>
      fixTrailingCrc(Uint8Array.from([0x56, 0x51, 0x43, 0x4d, 1, 1, 2, 3, 4, 5, 6, 7, 8, ...varint(K), ...varint(Q), ...varint(cc), ...varint(alpha), ...rest, 0, 0, 0, 0]));
    return [
      { what: 'K = 2^32 − 1', bytes: head(0xffffffff, 1, 0, 1), refusal: /codebook size 4294967295/ },
      { what: 'K = 0', bytes: head(0, 1, 0, 1), refusal: /codebook size 0/ },
      { what: '255 codebooks of K = 65535 in a few bytes', bytes: head(65535, 255, 0, 1), refusal: /truncated/ },
      { what: '0 codebooks', bytes: head(16, 0, 0, 1), refusal: /invalid header/ },
      { what: 'alpha 0', bytes: head(2, 1, 0, 0, [1, 1]), refusal: /invalid header/ },
      { what: 'a table of 2^40 contexts', bytes: head(2, 1, 1, 1, [1, 1, ...varint(2 ** 40)]), refusal: /contexts/ },
      { what: 'a context of 2^31 symbols', bytes: head(2, 1, 1, 1, [1, 1, 1, 0, ...varint(big)]), refusal: /out of range/ },
      { what: 'a context model of K = 65536 (no room for a frequency table)', bytes: head(65536, 1, 0, 1, new Array(65536).fill(0)), refusal: /context-model\.bin: codebook size 65536 is outside 2\.\.65535/ },
    ];
  };

  // --- audio
  const wavSeeds = [
    encodeWav(Float32Array.from({ length: 300 }, (_, i) => 0.5 * Math.sin(i / 5)), 16000),
    encodeWav(Float32Array.from({ length: 100 }, (_, i) => 0.5 * Math.sin(i / 3)), 8000, 'float32'),
    rawWav({ channels: 2, bits: 8, rate: 22050, dataBytes: 200 }),
    rawWav({ channels: 1, bits: 24, rate: 48000, dataBytes: 300 }),
    rawWav({ channels: 3, bits: 32, rate: 44100, dataBytes: 240, bigEndian: true }),
    (await fs.readFile(path.join(fixtures, 'speech.wav'))).subarray(0, 3000),
  ];
  const wavAbsurd: AbsurdCase[] = [
    { what: 'sample rate 0', bytes: rawWav({ rate: 0 }), refusal: /sample rate 0/ },
    { what: 'sample rate 1 (16000 times the samples on resampling)', bytes: rawWav({ rate: 1 }), refusal: /sample rate 1 Hz/ },
    { what: 'sample rate 10^9', bytes: rawWav({ rate: 1e9 }), refusal: /sample rate 1000000000 Hz/ },
    { what: 'sample rate 10^9 + 1 (no small ratio to 16 kHz)', bytes: rawWav({ rate: 1e9 + 1, dataBytes: 4000 }), refusal: /sample rate 1000000001 Hz/ },
    { what: 'sample rate 2^32 − 1', bytes: rawWav({ rate: 0xffffffff }), refusal: /sample rate 4294967295 Hz/ },
    { what: 'a data chunk declaring 2^32 − 1 bytes (cut at the end of the file)', bytes: rawWav({ declared: 0xffffffff }) },
    { what: 'a data chunk longer than the file', bytes: rawWav({ declared: 100000 }) },
    { what: '65535 channels', bytes: rawWav({ channels: 65535, bits: 8, blockAlign: 65535, dataBytes: 65535 * 2 }) },
    { what: '0 channels', bytes: rawWav({ channels: 0 }), refusal: /no channels/ },
    { what: 'block align 65535 with one channel', bytes: rawWav({ blockAlign: 65535, dataBytes: 1000 }), refusal: /empty/ },
    { what: '0 bits per sample', bytes: rawWav({ bits: 0 }), refusal: /unsupported WAV encoding/ },
    { what: '65535 bits per sample', bytes: rawWav({ bits: 65535 }), refusal: /unsupported WAV encoding/ },
    { what: 'float of 16 bits', bytes: rawWav({ format: 3, bits: 16 }), refusal: /unsupported WAV encoding/ },
    { what: 'fmt chunk of 2^32 − 1 bytes', bytes: rawWav({ fmtSize: 16 }).map((b, i) => (i >= 16 && i < 20 ? 0xff : b)), refusal: /fmt|data|WAV/ },
    { what: 'no data chunk', bytes: rawWav().subarray(0, 36), refusal: /data/ },
    // Found by reading wavStream.ts: one positioned read per chunk took 11 s for 2^17 chunks (1 MB).
    { what: '2^16 empty chunks between fmt and data', bytes: withEmptyChunks(rawWav({ dataBytes: 4000 }), 2 ** 16) },
    // Found by the fuzz loop: the stream refused this fmt chunk, the one-shot reader read past it.
    { what: 'a fmt chunk of 15 bytes', bytes: rawWav({ bigEndian: true, fmtSize: 15 }), refusal: /truncated "fmt " chunk|"data" chunk/ },
  ];
  const wavPath = path.join(dir, 'clip.wav');
  const loadFile = async (file: string, bytes: Uint8Array) => {
    await fs.writeFile(file, bytes);
    return loadAudio(file, 16000);
  };
  /** The stream must give loadAudio's samples (and refuse what it refuses). */
  const streamWav = async (bytes: Uint8Array) => {
    await fs.writeFile(wavPath, bytes);
    // loadAudio reads compressed files too; the stream only WAV.
    const whole = isWav(bytes) ? await settle(async () => (await loadAudio(wavPath, 16000)).samples) : new VqcodecError('not a WAV file');
    const streamed = await settle(async () => {
      await (await WavReader.open(wavPath)).close();
      return concatBlocks((await openWavStream(wavPath, 16000, { blockFrames: 64 })).blocks, (n) => new Float32Array(n));
    });
    return agree('the WAV stream', whole, streamed);
  };
  const compressed = async (ext: string, absurd: (seed: Uint8Array) => AbsurdCase[]): Promise<FuzzTarget> => {
    const file = path.join(dir, `clip${ext}`);
    const seed = new Uint8Array(await fs.readFile(path.join(fixtures, `speech${ext}`)));
    return { name: ext.slice(1), seeds: [seed], absurd: absurd(seed), run: (bytes) => loadFile(file, bytes) };
  };
  const edited = (seed: Uint8Array, edit: (b: Uint8Array, v: DataView) => void) => {
    const b = seed.slice();
    edit(b, new DataView(b.buffer));
    return b;
  };
  // The fixture's FLAC metadata: STREAMINFO at 4, SEEKTABLE at 42, VORBIS_COMMENT at 64 (vendor length at 68).
  const flacAbsurd = (seed: Uint8Array): AbsurdCase[] => [
    // Found by the fuzz loop: the decoder allocated 1.8 GB for a comment count read from shifted bytes.
    { what: 'a Vorbis comment count of 0x6d6d6f43 (comment bytes read as a count)', bytes: edited(seed, (b, v) => v.setUint32(72 + v.getUint32(68, true), 0x6d6d6f43, true)), refusal: /Vorbis comment runs past/ },
    { what: 'a vendor string of 2^31 bytes', bytes: edited(seed, (b, v) => v.setUint32(68, 2 ** 31, true)), refusal: /Vorbis comment runs past/ },
    { what: 'a metadata block of 2^24 − 1 bytes', bytes: edited(seed, (b) => b.set([0xff, 0xff, 0xff], 65)), refusal: /runs past the end/ },
    { what: 'a sample rate of 0 in STREAMINFO', bytes: edited(seed, (b) => b.set([0, 0, b[20]! & 0x0f], 18)), refusal: /readable|sample rate/ },
  ];
  // The fixture's MP3 starts with an ID3v2.4 tag whose first frame (TSSE) has its size at 14.
  const mp3Absurd = (seed: Uint8Array): AbsurdCase[] => [
    // Found by probing what the fuzz loop's slow cases did: the decoder allocated 256 MB for this frame size.
    { what: 'an ID3 frame of 2^28 − 1 bytes', bytes: edited(seed, (b) => b.set([0x7f, 0x7f, 0x7f, 0x7f], 14)), refusal: /ID3 frame runs past/ },
    { what: 'an ID3 tag of 2^28 − 1 bytes', bytes: edited(seed, (b) => b.set([0x7f, 0x7f, 0x7f, 0x7f], 6)), refusal: /ID3 tag .* runs past the end/ },
  ];
  const oggAbsurd = (seed: Uint8Array): AbsurdCase[] => {
    const at = seed.findIndex((x, i) => x === 3 && seed[i + 1] === 0x76 && seed[i + 2] === 0x6f); // "\x03vorbis"
    return [{ what: 'a Vorbis vendor string of 2^31 bytes', bytes: edited(seed, (b, v) => v.setUint32(at + 7, 2 ** 31, true)), refusal: /readable/ }];
  };

  // --- tensor bundles, model and prior folders
  const bundleSeeds = [
    encodeBundle({ meta: { format: 'vqcodec-weights', version: 1 }, arrays: { a: { shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) }, b: { shape: [1], data: Float32Array.of(-1) } } }),
    encodeBundle({ meta: {}, arrays: { w: { shape: [4], data: Float32Array.of(0.5, 1, 2, 3) }, e: { shape: [0, 3], data: new Float32Array(0) } } }, 'float16'),
  ];
  const tensors = (list: string) => `{"meta":{},"tensors":${list}}`;
  const bundleAbsurd: AbsurdCase[] = [
    { what: 'a 2^40-element tensor', bytes: rawBundle(tensors('[{"name":"w","shape":[1099511627776],"offset":0}]')), refusal: /outside the file/ },
    { what: 'a 2^20 x 2^20 tensor', bytes: rawBundle(tensors('[{"name":"w","shape":[1048576,1048576],"offset":0}]')), refusal: /outside the file/ },
    { what: 'a tensor at offset 2^53', bytes: rawBundle(tensors('[{"name":"w","shape":[1],"offset":9007199254740992}]')), refusal: /outside the file|offset/ },
    { what: 'a header length of 2^32 − 1', bytes: (() => { const b = rawBundle(tensors('[]')); new DataView(b.buffer).setUint32(4, 0xffffffff, true); return b; })(), refusal: /truncated header/ },
    { what: 'a null header', bytes: rawBundle('null'), refusal: /header/ },
    { what: 'tensors not a list', bytes: rawBundle(tensors('{"length":1e12}')), refusal: /tensors/ },
    { what: 'a shape that is not a list', bytes: rawBundle(tensors('[{"name":"w","shape":5,"offset":0}]')), refusal: /shape/ },
    { what: 'a negative shape', bytes: rawBundle(tensors('[{"name":"w","shape":[-2,-3],"offset":0}]')), refusal: /shape/ },
    { what: 'a fractional shape', bytes: rawBundle(tensors('[{"name":"w","shape":[1.5],"offset":0}]')), refusal: /shape/ },
    { what: 'a tensor without a name', bytes: rawBundle(tensors('[{"shape":[1],"offset":0}]')), refusal: /name/ },
    { what: 'a tensor named __proto__', bytes: rawBundle(tensors('[{"name":"__proto__","shape":[1],"offset":0}]')) },
    { what: 'a null tensor entry', bytes: rawBundle(tensors('[null]')), refusal: /tensor/ },
  ];

  const legacy = path.join(fixtures, 'legacy-model');
  const legacyConfig = await fs.readFile(path.join(legacy, 'config.json'));
  const legacyWeights = await fs.readFile(path.join(legacy, 'weights.bin'));
  const modelDir = path.join(dir, 'model');
  await fs.mkdir(modelDir, { recursive: true });
  const loadModelWith = async (config: Uint8Array, weights: Uint8Array) => {
    await fs.writeFile(path.join(modelDir, 'config.json'), config);
    await fs.writeFile(path.join(modelDir, 'weights.bin'), weights);
    const codec = await Codec.load(modelDir);
    codec.dispose();
    return codec.fingerprint;
  };
  const configWith = (patch: (c: Record<string, unknown>) => void) => {
    const c = JSON.parse(new TextDecoder().decode(legacyConfig));
    patch(c);
    return text(JSON.stringify(c));
  };
  const configAbsurd: AbsurdCase[] = [
    { what: '2^31 − 1 channels', bytes: configWith((c) => ((c.channels = 2 ** 31 - 1), (c.maxChannels = 2 ** 31 - 1))), refusal: /weights\.bin/ },
    { what: 'a 65536 x 10^6 codebook', bytes: configWith((c) => Object.assign(c.quantizer as object, { codebookSize: 65536, dim: 1e6 })), refusal: /weights\.bin/ },
    { what: '255 codebooks', bytes: configWith((c) => ((c.quantizer as { numCodebooks: number }).numCodebooks = 255)), refusal: /weights\.bin/ },
    { what: 'a stride of 10^9', bytes: configWith((c) => (c.strides = [1e9])), refusal: /weights\.bin/ },
    { what: '1000 strides', bytes: configWith((c) => (c.strides = new Array(1000).fill(2))), refusal: /weights\.bin|strides/ },
    { what: 'kernel size 10^9 + 1', bytes: configWith((c) => (c.kernelSize = 1e9 + 1)), refusal: /weights\.bin/ },
    { what: 'a spectral window of 2^30', bytes: configWith((c) => (c.spectral = { hop: 2 ** 29, window: 2 ** 30 })), refusal: /spectral window must be at most 8192/ },
    // Its input layer would fit a small weights.bin, but its DFT bases would take 2 GiB at the first encode.
    { what: 'a spectral window of 2^14', bytes: configWith((c) => (c.spectral = { hop: 2 ** 13, window: 2 ** 14 })), refusal: /spectral window must be at most 8192/ },
    { what: 'sample rate 0', bytes: configWith((c) => (c.sampleRate = 0)), refusal: /sampleRate/ },
    { what: 'null', bytes: text('null'), refusal: /JSON object/ },
    // Found by reading modelStore.ts: the fingerprint's recursive walk overflowed the stack (a RangeError).
    { what: 'an extra field nested 20000 deep', bytes: text(new TextDecoder().decode(legacyConfig).trimEnd().slice(0, -1) + ',"x":' + '['.repeat(20000) + ']'.repeat(20000) + '}'), refusal: /nests deeper than 32 levels/ },
    { what: 'a quantizer that is a string', bytes: configWith((c) => (c.quantizer = 'x')), refusal: /quantizer/ },
  ];

  const priorDir = path.join(dir, 'prior');
  const seedPriorDir = path.join(dir, 'prior-seed');
  const prior = new TokenPrior({ numCodebooks: 2, codebookSize: 16, width: 8, layers: 1, heads: 2, context: 6 }, 3);
  await savePrior(seedPriorDir, prior, { fingerprint: FINGERPRINT, frameRate: 50, sampleRate: 16000 });
  prior.dispose();
  const priorJson = await fs.readFile(path.join(seedPriorDir, 'prior.json'));
  const priorWeights = await fs.readFile(path.join(seedPriorDir, 'weights.bin'));
  await fs.mkdir(priorDir, { recursive: true });
  const loadPriorWith = async (json: Uint8Array, weights: Uint8Array) => {
    await fs.writeFile(path.join(priorDir, 'prior.json'), json);
    await fs.writeFile(path.join(priorDir, 'weights.bin'), weights);
    const loaded = await loadPrior(priorDir);
    loaded.prior.dispose();
    return loaded.fingerprint;
  };
  const priorWith = (patch: (c: Record<string, number>) => void) => {
    const file = JSON.parse(new TextDecoder().decode(priorJson));
    patch(file.config);
    return text(JSON.stringify(file));
  };
  const priorAbsurd: AbsurdCase[] = [
    { what: 'width 2^20', bytes: priorWith((c) => ((c.width = 2 ** 20), (c.heads = 2))), refusal: /weights\.bin/ },
    { what: 'K = 2^31 − 1', bytes: priorWith((c) => (c.codebookSize = 2 ** 31 - 1)), refusal: /weights\.bin/ },
    { what: '2^30 layers', bytes: priorWith((c) => (c.layers = 2 ** 30)), refusal: /weights\.bin/ },
    { what: 'context 0', bytes: priorWith((c) => (c.context = 0)), refusal: /context/ },
    // These sized arrays before the weights were read: 2^31 − 1 codebooks ran node out of memory.
    { what: '2^31 − 1 codebooks', bytes: priorWith((c) => (c.numCodebooks = 2 ** 31 - 1)), refusal: /numCodebooks must be at most 255/ },
    { what: 'context 2^31 − 1', bytes: priorWith((c) => (c.context = 2 ** 31 - 1)), refusal: /context must be at most/ },
    { what: 'a null config', bytes: text('{"format":"vqcodec-prior","version":1,"config":null,"codec":{"fingerprint":"0123456789abcdef"}}'), refusal: /config/ },
    { what: 'null', bytes: text('null'), refusal: /not a vqcodec prior/ },
  ];

  // --- manifests and npy
  const manifestPath = path.join(dir, 'data', 'list.jsonl');
  await fs.mkdir(path.dirname(manifestPath), { recursive: true });
  const manifestSeed = text(
    ['{"path":"a.wav","split":"train","source":"s1"}', '{"path":"sub/b.flac","split":"valid"}', '', '{"path":"/abs/c.mp3","split":"test","source":"s2"}', '{"path":"d.ogg"}'].join('\n') + '\n',
  );
  const readManifest = async (bytes: Uint8Array) => {
    await fs.writeFile(manifestPath, bytes);
    const out = [];
    for (const split of ['train', 'valid', 'test']) out.push(await expandInputs([manifestPath], split).catch((err) => (err instanceof VqcodecError && /no audio files/.test(err.message) ? undefined : Promise.reject(err))));
    return out;
  };
  const manifestAbsurd: AbsurdCase[] = [
    { what: 'a null line', bytes: text('null\n'), refusal: /not a JSON object/ },
    { what: 'a list line', bytes: text('[1,2]\n'), refusal: /not a JSON object|no "path"/ },
    { what: 'a string line', bytes: text('"a.wav"\n'), refusal: /not a JSON object|no "path"/ },
    { what: 'a number path', bytes: text('{"path":5}\n'), refusal: /no "path"/ },
    { what: 'a NUL byte in a path', bytes: text('{"path":"a\\u0000.wav"}\n') },
    { what: '100000 empty lines', bytes: text('\n'.repeat(100000)), refusal: /lists no training files/ },
  ];

  const npySeeds = [
    encodeNpy({ dtype: 'int16', shape: [3, 4], data: Int16Array.from({ length: 12 }, (_, i) => i - 6) }),
    encodeNpy({ dtype: 'int32', shape: [5], data: Int32Array.of(1, 2, 3, 4, 5) }),
    encodeNpy({ dtype: 'float32', shape: [2, 1, 2], data: Float32Array.of(0.5, -1, 2, 3) }),
    encodeNpy({ dtype: 'int32', shape: [0, 8], data: new Int32Array(0) }),
  ];
  const npyAbsurd: AbsurdCase[] = [
    { what: 'shape (2^40,)', bytes: rawNpy("{'descr': '<i4', 'fortran_order': False, 'shape': (1099511627776,), }", 16), refusal: /data holds/ },
    { what: 'shape (2^20, 2^20)', bytes: rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (1048576, 1048576), }", 16), refusal: /data holds/ },
    { what: 'shape (1e400,)', bytes: rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (1e400,), }", 16), refusal: /bad shape/ },
    { what: 'shape (-4,)', bytes: rawNpy("{'descr': '<i2', 'fortran_order': False, 'shape': (-4,), }", 8), refusal: /bad shape/ },
    { what: 'a header of 65535 bytes', bytes: (() => { const b = rawNpy("{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }", 4); new DataView(b.buffer).setUint16(8, 65535, true); return b; })(), refusal: /truncated header/ },
    { what: 'a header of 65535 bytes, all there', bytes: rawNpy("{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }".padEnd(65470), 4) },
    { what: 'float64', bytes: rawNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16), refusal: /unsupported dtype/ },
  ];

  // Loaded through a model or prior folder, a bundle read as valid still lacks the parameters.
  const weightsAbsurd = bundleAbsurd.map((c) => ({ ...c, refusal: c.refusal ?? /lack parameter|too few/ }));
  return [
    { name: 'vqt v1', seeds: v1Seeds, fix: fixTrailingCrc, absurd: vqtAbsurd.filter((c) => c.what.startsWith('v1')), run: decodeVqt },
    { name: 'vqt v2 bit-packed', seeds: v2PackedSeeds, fix: fixTrailingCrc, absurd: vqtAbsurd.filter((c) => c.what.startsWith('v2') && !/coded/.test(c.what)), run: decodeVqt },
    { name: 'vqt v2 entropy-coded', seeds: v2EntropySeeds, fix: fixTrailingCrc, absurd: vqtAbsurd.filter((c) => c.what.startsWith('v2') && /coded/.test(c.what)), run: decodeVqt },
    { name: 'vqt v3 multi-rate', seeds: v3Seeds, fix: fixTrailingCrc, absurd: vqtAbsurd.filter((c) => c.what.startsWith('v3')), run: decodeVqt },
    { name: 'vqt stream', seeds: [...v1Seeds, ...v2PackedSeeds, ...v2EntropySeeds, ...v3Seeds], fix: fixTrailingCrc, absurd: vqtAbsurd, run: streamVqt },
    { name: 'context model', seeds: [context.serialize(), smallContext.serialize()], fix: fixTrailingCrc, absurd: contextAbsurd(), run: async (bytes) => ContextModel.parse(bytes, 'context-model.bin') },
    { name: 'wav', seeds: wavSeeds, absurd: wavAbsurd, run: async (bytes) => (decodeWav(bytes, 'clip.wav'), loadFile(wavPath, bytes)) },
    { name: 'wav stream', seeds: wavSeeds, absurd: wavAbsurd, run: streamWav },
    await compressed('.mp3', mp3Absurd),
    await compressed('.ogg', oggAbsurd),
    await compressed('.flac', flacAbsurd),
    { name: 'bundle', seeds: [...bundleSeeds, new Uint8Array(legacyWeights)], absurd: bundleAbsurd, run: async (bytes) => decodeBundle(bytes, 'weights.bin') },
    { name: 'model config.json', seeds: [new Uint8Array(legacyConfig)], json: true, absurd: configAbsurd, run: (bytes) => loadModelWith(bytes, legacyWeights) },
    { name: 'model weights.bin', seeds: [new Uint8Array(legacyWeights)], absurd: weightsAbsurd, run: (bytes) => loadModelWith(legacyConfig, bytes) },
    { name: 'prior prior.json', seeds: [new Uint8Array(priorJson)], json: true, absurd: priorAbsurd, run: (bytes) => loadPriorWith(bytes, priorWeights) },
    { name: 'prior weights.bin', seeds: [new Uint8Array(priorWeights)], absurd: weightsAbsurd, run: (bytes) => loadPriorWith(priorJson, bytes) },
    { name: 'manifest', seeds: [manifestSeed], json: true, absurd: manifestAbsurd, run: readManifest },
    { name: 'npy', seeds: npySeeds, absurd: npyAbsurd, run: async (bytes) => decodeNpy(bytes, 'codes.npy') },
  ];
}
