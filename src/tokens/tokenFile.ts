/**
 * The `.vqt` token file: the discrete codes of one clip plus what is needed to decode them.
 *
 * Layout (all integers little-endian):
 *
 *   offset  size  field
 *        0     4  magic, ASCII "VQTK"
 *        4     1  format version (1)
 *        5     8  model fingerprint (the 16 hex digits of Tokens.modelFingerprint, as 8 bytes in order)
 *       13     4  sample rate, Hz (u32)
 *       17     4  hop, samples per frame (u32)
 *       21     4  codebook size K (u32, 2..2^24)
 *       25     1  number of codebooks Q (u8, 1..255)
 *       26     4  frames F (u32)
 *       30     4  original length in samples (u32, at most F * hop)
 *       34     P  codes, frame-major (frame 0 codebook 0, frame 0 codebook 1, ...), each
 *                 ceil(log2 K) bits, packed MSB-first; the last byte is zero-padded.
 *                 P = ceil(F * Q * ceil(log2 K) / 8)
 *   34 + P     4  CRC-32 (IEEE) of every preceding byte (u32)
 *
 * The file is exactly 34 + P + 4 bytes.
 */
import { promises as fs } from 'node:fs';
import { VqcodecError, check } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { Tokens } from '../types.js';
import { MAX_BITS, bitsPerCode, packBitsInto, packedByteLength, unpackBits } from './bitpack.js';
import { crc32 } from './crc32.js';

const MAGIC = [0x56, 0x51, 0x54, 0x4b]; // "VQTK"
export const FORMAT_VERSION = 1;
export const HEADER_BYTES = 34;
export const TRAILER_BYTES = 4;

// Header field offsets (see the layout above).
const OFF_VERSION = 4;
const OFF_FINGERPRINT = 5;
const OFF_SAMPLE_RATE = 13;
const OFF_HOP = 17;
const OFF_CODEBOOK_SIZE = 21;
const OFF_NUM_CODEBOOKS = 25;
const OFF_FRAMES = 26;
const OFF_ORIGINAL_LENGTH = 30;

const U32_MAX = 0xffffffff;
const FINGERPRINT_RE = /^[0-9a-f]{16}$/;

/** Exact size in bytes of a token file with these dimensions. */
export function tokenFileSize(frames: number, numCodebooks: number, codebookSize: number): number {
  return HEADER_BYTES + packedByteLength(frames * numCodebooks, bitsPerCode(codebookSize)) + TRAILER_BYTES;
}

function isU32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= U32_MAX;
}

function checkTokens(t: Tokens): void {
  check(
    Number.isInteger(t.codebookSize) && t.codebookSize >= 2 && t.codebookSize <= 2 ** MAX_BITS,
    `codebook size must be an integer from 2 to ${2 ** MAX_BITS}, got ${t.codebookSize}`,
  );
  check(
    Number.isInteger(t.numCodebooks) && t.numCodebooks >= 1 && t.numCodebooks <= 255,
    `number of codebooks must be an integer from 1 to 255, got ${t.numCodebooks}`,
  );
  check(isU32(t.frames), `frame count must be an integer from 0 to ${U32_MAX}, got ${t.frames}`);
  check(isU32(t.sampleRate) && t.sampleRate > 0, `sample rate must be a positive integer below 2^32, got ${t.sampleRate}`);
  check(isU32(t.hop) && t.hop > 0, `hop must be a positive integer below 2^32, got ${t.hop}`);
  check(
    isU32(t.originalLength) && t.originalLength <= t.frames * t.hop,
    `original length must be an integer from 0 to frames * hop (${t.frames * t.hop}), got ${t.originalLength}`,
  );
  check(
    typeof t.modelFingerprint === 'string' && FINGERPRINT_RE.test(t.modelFingerprint),
    `model fingerprint must be 16 lowercase hex digits, got "${String(t.modelFingerprint)}"`,
  );
  const expected = t.frames * t.numCodebooks;
  check(
    t.codes.length === expected,
    `expected ${expected} codes (${t.frames} frames x ${t.numCodebooks} codebooks), got ${t.codes.length}`,
  );
  const bad = firstBadCode(t.codes, t.codebookSize);
  if (bad >= 0) {
    throw new VqcodecError(
      `code ${t.codes[bad]} at frame ${Math.floor(bad / t.numCodebooks)}, codebook ${bad % t.numCodebooks} ` +
        `is outside the codebook (size ${t.codebookSize})`,
    );
  }
}

/** Index of the first code that is not an integer in [0, k), or -1. */
function firstBadCode(codes: ArrayLike<number>, k: number): number {
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i]!;
    if (c >>> 0 !== c || c >= k) return i;
  }
  return -1;
}

/** Serializes `tokens` to the `.vqt` layout documented at the top of this file. */
export function encodeTokenFile(tokens: Tokens): Uint8Array {
  checkTokens(tokens);
  const bits = bitsPerCode(tokens.codebookSize);
  const size = tokenFileSize(tokens.frames, tokens.numCodebooks, tokens.codebookSize);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out.set(MAGIC, 0);
  out[OFF_VERSION] = FORMAT_VERSION;
  for (let i = 0; i < 8; i++) {
    out[OFF_FINGERPRINT + i] = parseInt(tokens.modelFingerprint.slice(2 * i, 2 * i + 2), 16);
  }
  view.setUint32(OFF_SAMPLE_RATE, tokens.sampleRate, true);
  view.setUint32(OFF_HOP, tokens.hop, true);
  view.setUint32(OFF_CODEBOOK_SIZE, tokens.codebookSize, true);
  out[OFF_NUM_CODEBOOKS] = tokens.numCodebooks;
  view.setUint32(OFF_FRAMES, tokens.frames, true);
  view.setUint32(OFF_ORIGINAL_LENGTH, tokens.originalLength, true);
  packBitsInto(tokens.codes, bits, out, HEADER_BYTES);
  const crcAt = size - TRAILER_BYTES;
  view.setUint32(crcAt, crc32(out.subarray(0, crcAt)), true);
  return out;
}

/**
 * Parses a `.vqt` file. Every failure is a one-line VqcodecError naming `name`.
 * Only the fields needed to compute the expected size are read before the CRC is checked.
 */
export function decodeTokenFile(bytes: Uint8Array, name = 'token file'): Tokens {
  // Magic first (on whatever prefix exists) so that arbitrary files get the clearest message.
  for (let i = 0; i < Math.min(bytes.length, MAGIC.length); i++) {
    check(bytes[i] === MAGIC[i], `${name} is not a vqcodec token file`);
  }
  check(
    bytes.length >= HEADER_BYTES + TRAILER_BYTES,
    `${name} is truncated: ${bytes.length} bytes is shorter than any token file (${HEADER_BYTES + TRAILER_BYTES})`,
  );
  const version = bytes[OFF_VERSION]!;
  check(
    version === FORMAT_VERSION,
    `${name} uses token file format version ${version}; this vqcodec reads version ${FORMAT_VERSION}`,
  );

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const codebookSize = view.getUint32(OFF_CODEBOOK_SIZE, true);
  const numCodebooks = bytes[OFF_NUM_CODEBOOKS]!;
  const frames = view.getUint32(OFF_FRAMES, true);
  // An out-of-range K gives no size to compare against; the CRC or header checks below catch it.
  const sizeKnown = codebookSize >= 2 && codebookSize <= 2 ** MAX_BITS;
  if (sizeKnown) {
    const expected = tokenFileSize(frames, numCodebooks, codebookSize);
    check(
      bytes.length === expected,
      `${name} is truncated or corrupted: its header implies ${expected} bytes but it has ${bytes.length}`,
    );
  }

  const crcAt = bytes.length - TRAILER_BYTES;
  check(
    crc32(bytes.subarray(0, crcAt)) === view.getUint32(crcAt, true),
    `${name} is corrupted (checksum mismatch)`,
  );

  const sampleRate = view.getUint32(OFF_SAMPLE_RATE, true);
  const hop = view.getUint32(OFF_HOP, true);
  const originalLength = view.getUint32(OFF_ORIGINAL_LENGTH, true);
  const bad = (what: string) => `${name} has an invalid header: ${what}`;
  check(sizeKnown, bad(`codebook size ${codebookSize} is outside 2..${2 ** MAX_BITS}`));
  check(numCodebooks >= 1, bad('0 codebooks'));
  check(sampleRate > 0, bad('sample rate 0'));
  check(hop > 0, bad('hop 0'));
  check(
    originalLength <= frames * hop,
    bad(`original length ${originalLength} exceeds ${frames} frames x hop ${hop}`),
  );

  const codes = unpackBits(bytes.subarray(HEADER_BYTES, crcAt), bitsPerCode(codebookSize), frames * numCodebooks);
  const badAt = firstBadCode(codes, codebookSize);
  if (badAt >= 0) {
    throw new VqcodecError(
      `${name} is invalid: code ${codes[badAt]} at frame ${Math.floor(badAt / numCodebooks)} ` +
        `is outside the codebook (size ${codebookSize})`,
    );
  }

  let modelFingerprint = '';
  for (let i = 0; i < 8; i++) modelFingerprint += bytes[OFF_FINGERPRINT + i]!.toString(16).padStart(2, '0');

  return { codes, frames, numCodebooks, codebookSize, hop, sampleRate, originalLength, modelFingerprint };
}

/** Writes `tokens` to `path` atomically (readers never see a half-written file). */
export async function writeTokenFile(path: string, tokens: Tokens): Promise<void> {
  await writeFileAtomic(path, encodeTokenFile(tokens));
}

/** Reads and validates the token file at `path`. */
export async function readTokenFile(path: string): Promise<Tokens> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new VqcodecError(`no such file: ${path}`);
    if (code === 'EISDIR') throw new VqcodecError(`${path} is a directory, not a token file`);
    throw new VqcodecError(`cannot read ${path}: ${code ?? (err as Error).message}`);
  }
  return decodeTokenFile(bytes, path);
}

/** Shortest decimal form with at most `digits` decimals: 50, 62.5, 3.333. */
function num(n: number, digits = 3): string {
  return String(Number(n.toFixed(digits)));
}

/** Human-readable summary of a token file's header, one field per line (for `vqcodec info`). */
export function formatTokenHeader(tokens: Tokens): string {
  const bits = bitsPerCode(tokens.codebookSize);
  const frameRate = tokens.sampleRate / tokens.hop;
  const duration = tokens.originalLength / tokens.sampleRate;
  const payloadBits = tokens.frames * tokens.numCodebooks * bits;
  // Bitrate over the clip's real duration, so padding of the last frame counts against it;
  // the nominal rate is what a long stream converges to.
  const bitrate = duration > 0 ? `${num(payloadBits / duration, 1)} bits/s` : 'n/a (empty clip)';
  const nominal = num(frameRate * tokens.numCodebooks * bits, 1);
  const rows: [string, string][] = [
    ['model fingerprint', tokens.modelFingerprint],
    ['sample rate', `${tokens.sampleRate} Hz`],
    ['hop', `${tokens.hop} samples`],
    ['frame rate', `${num(frameRate)} frames/s`],
    ['codebook size', String(tokens.codebookSize)],
    ['bits per code', String(bits)],
    ['codebooks', String(tokens.numCodebooks)],
    ['frames', String(tokens.frames)],
    ['duration', `${num(duration)} s`],
    ['bitrate', `${bitrate} (nominal ${nominal} bits/s)`],
  ];
  return rows.map(([k, v]) => `${(k + ':').padEnd(19)}${v}`).join('\n');
}
