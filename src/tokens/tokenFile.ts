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

/** A token file's header: everything in Tokens but the codes. */
export type TokenHeader = Omit<Tokens, 'codes'>;

/** Throws a one-line VqcodecError naming the first header field a token file cannot hold. */
export function checkTokenHeader(t: TokenHeader): void {
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
}

function checkTokens(t: Tokens): void {
  checkTokenHeader(t);
  const expected = t.frames * t.numCodebooks;
  check(
    t.codes.length === expected,
    `expected ${expected} codes (${t.frames} frames x ${t.numCodebooks} codebooks), got ${t.codes.length}`,
  );
  checkCodes(t.codes, 0, t.numCodebooks, t.codebookSize);
}

/**
 * Throws when a code is outside the codebook; `codes` holds whole frames, the first at
 * frame `firstFrame` (so a streaming writer reports the same frame as a one-shot one).
 */
export function checkCodes(codes: ArrayLike<number>, firstFrame: number, numCodebooks: number, codebookSize: number): void {
  const bad = firstBadCode(codes, codebookSize);
  if (bad >= 0) {
    throw new VqcodecError(
      `code ${codes[bad]} at frame ${firstFrame + Math.floor(bad / numCodebooks)}, codebook ${bad % numCodebooks} ` +
        `is outside the codebook (size ${codebookSize})`,
    );
  }
}

/** Index of the first code that is not an integer in [0, k), or -1. */
export function firstBadCode(codes: ArrayLike<number>, k: number): number {
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
  out.set(encodeTokenHeader(tokens), 0);
  packBitsInto(tokens.codes, bits, out, HEADER_BYTES);
  const crcAt = size - TRAILER_BYTES;
  view.setUint32(crcAt, crc32(out.subarray(0, crcAt)), true);
  return out;
}

/** The HEADER_BYTES bytes that start the token file of `header` (checked first). */
export function encodeTokenHeader(header: TokenHeader): Uint8Array {
  checkTokenHeader(header);
  const out = new Uint8Array(HEADER_BYTES);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[OFF_VERSION] = FORMAT_VERSION;
  for (let i = 0; i < 8; i++) {
    out[OFF_FINGERPRINT + i] = parseInt(header.modelFingerprint.slice(2 * i, 2 * i + 2), 16);
  }
  view.setUint32(OFF_SAMPLE_RATE, header.sampleRate, true);
  view.setUint32(OFF_HOP, header.hop, true);
  view.setUint32(OFF_CODEBOOK_SIZE, header.codebookSize, true);
  out[OFF_NUM_CODEBOOKS] = header.numCodebooks;
  view.setUint32(OFF_FRAMES, header.frames, true);
  view.setUint32(OFF_ORIGINAL_LENGTH, header.originalLength, true);
  return out;
}

/**
 * Parses a `.vqt` file. Every failure is a one-line VqcodecError naming `name`.
 * Only the fields needed to compute the expected size are read before the CRC is checked.
 */
export function decodeTokenFile(bytes: Uint8Array, name = 'token file'): Tokens {
  checkTokenFileLayout(bytes.subarray(0, HEADER_BYTES), bytes.length, name);
  const crcAt = bytes.length - TRAILER_BYTES;
  checkTokenFileCrc(crc32(bytes.subarray(0, crcAt)), bytes.subarray(crcAt), name);
  const header = parseTokenHeader(bytes, name);
  const { frames, numCodebooks, codebookSize } = header;
  const codes = unpackBits(bytes.subarray(HEADER_BYTES, crcAt), bitsPerCode(codebookSize), frames * numCodebooks);
  const badAt = firstBadCode(codes, codebookSize);
  if (badAt >= 0) throw badTokenFileCode(name, codes[badAt]!, Math.floor(badAt / numCodebooks), codebookSize);
  return { codes, ...header };
}

/**
 * The checks made before the CRC, in decodeTokenFile's order: magic (on whatever prefix
 * exists), minimum size, format version, and the size the header implies. `head` is the
 * file's first min(HEADER_BYTES, fileLength) bytes.
 */
export function checkTokenFileLayout(
  head: Uint8Array,
  fileLength: number,
  name: string,
): { codebookSize: number; numCodebooks: number; frames: number; sizeKnown: boolean } {
  // Magic first (on whatever prefix exists) so that arbitrary files get the clearest message.
  for (let i = 0; i < Math.min(head.length, MAGIC.length); i++) {
    check(head[i] === MAGIC[i], `${name} is not a vqcodec token file`);
  }
  check(
    fileLength >= HEADER_BYTES + TRAILER_BYTES,
    `${name} is truncated: ${fileLength} bytes is shorter than any token file (${HEADER_BYTES + TRAILER_BYTES})`,
  );
  const version = head[OFF_VERSION]!;
  check(
    version === FORMAT_VERSION,
    `${name} uses token file format version ${version}; this vqcodec reads version ${FORMAT_VERSION}`,
  );
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const codebookSize = view.getUint32(OFF_CODEBOOK_SIZE, true);
  const numCodebooks = head[OFF_NUM_CODEBOOKS]!;
  const frames = view.getUint32(OFF_FRAMES, true);
  // An out-of-range K gives no size to compare against; the CRC or header checks catch it.
  const sizeKnown = codebookSize >= 2 && codebookSize <= 2 ** MAX_BITS;
  if (sizeKnown) {
    const expected = tokenFileSize(frames, numCodebooks, codebookSize);
    check(
      fileLength === expected,
      `${name} is truncated or corrupted: its header implies ${expected} bytes but it has ${fileLength}`,
    );
  }
  return { codebookSize, numCodebooks, frames, sizeKnown };
}

/** Compares the CRC-32 of everything before the trailer with the stored one (`trailer`, 4 bytes). */
export function checkTokenFileCrc(computed: number, trailer: Uint8Array, name: string): void {
  const stored = new DataView(trailer.buffer, trailer.byteOffset, TRAILER_BYTES).getUint32(0, true);
  check(computed === stored, `${name} is corrupted (checksum mismatch)`);
}

/** The header fields of a token file whose layout and CRC were checked, validated. */
export function parseTokenHeader(head: Uint8Array, name: string): TokenHeader {
  const view = new DataView(head.buffer, head.byteOffset, HEADER_BYTES);
  const codebookSize = view.getUint32(OFF_CODEBOOK_SIZE, true);
  const numCodebooks = head[OFF_NUM_CODEBOOKS]!;
  const frames = view.getUint32(OFF_FRAMES, true);
  const sampleRate = view.getUint32(OFF_SAMPLE_RATE, true);
  const hop = view.getUint32(OFF_HOP, true);
  const originalLength = view.getUint32(OFF_ORIGINAL_LENGTH, true);
  const bad = (what: string) => `${name} has an invalid header: ${what}`;
  check(codebookSize >= 2 && codebookSize <= 2 ** MAX_BITS, bad(`codebook size ${codebookSize} is outside 2..${2 ** MAX_BITS}`));
  check(numCodebooks >= 1, bad('0 codebooks'));
  check(sampleRate > 0, bad('sample rate 0'));
  check(hop > 0, bad('hop 0'));
  check(
    originalLength <= frames * hop,
    bad(`original length ${originalLength} exceeds ${frames} frames x hop ${hop}`),
  );
  let modelFingerprint = '';
  for (let i = 0; i < 8; i++) modelFingerprint += head[OFF_FINGERPRINT + i]!.toString(16).padStart(2, '0');
  return { frames, numCodebooks, codebookSize, hop, sampleRate, originalLength, modelFingerprint };
}

/** The error for a code outside the codebook in token file `name`. */
export function badTokenFileCode(name: string, code: number, frame: number, codebookSize: number): VqcodecError {
  return new VqcodecError(`${name} is invalid: code ${code} at frame ${frame} is outside the codebook (size ${codebookSize})`);
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
