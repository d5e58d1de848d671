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
import { check } from '../errors.js';
import type { Tokens } from '../types.js';
import { MAX_BITS, bitsPerCode, packBitsInto, packedByteLength } from './bitpack.js';
import { crc32 } from './crc32.js';
import { MAGIC, TRAILER_BYTES, checkMagic, checkTokenHeader, checkTokens, fingerprintBytes, fingerprintHex, type TokenHeader } from './tokenHeader.js';

export const VERSION_1 = 1;
export const HEADER_BYTES = 34;

// Header field offsets (see the layout above).
const OFF_VERSION = 4;
const OFF_FINGERPRINT = 5;
const OFF_SAMPLE_RATE = 13;
const OFF_HOP = 17;
const OFF_CODEBOOK_SIZE = 21;
const OFF_NUM_CODEBOOKS = 25;
const OFF_FRAMES = 26;
const OFF_ORIGINAL_LENGTH = 30;

/** Exact size in bytes of a token file with these dimensions. */
export function tokenFileSizeV1(frames: number, numCodebooks: number, codebookSize: number): number {
  return HEADER_BYTES + packedByteLength(frames * numCodebooks, bitsPerCode(codebookSize)) + TRAILER_BYTES;
}

/** Serializes `tokens` to the `.vqt` layout documented at the top of this file. */
export function encodeTokenFileV1(tokens: Tokens): Uint8Array {
  checkTokens(tokens);
  const bits = bitsPerCode(tokens.codebookSize);
  const size = tokenFileSizeV1(tokens.frames, tokens.numCodebooks, tokens.codebookSize);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out.set(encodeHeaderV1(tokens), 0);
  packBitsInto(tokens.codes, bits, out, HEADER_BYTES);
  const crcAt = size - TRAILER_BYTES;
  view.setUint32(crcAt, crc32(out.subarray(0, crcAt)), true);
  return out;
}

/** The HEADER_BYTES bytes that start the token file of `header` (checked first). */
export function encodeHeaderV1(header: TokenHeader): Uint8Array {
  checkTokenHeader(header);
  const out = new Uint8Array(HEADER_BYTES);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[OFF_VERSION] = VERSION_1;
  out.set(fingerprintBytes(header.modelFingerprint), OFF_FINGERPRINT);
  view.setUint32(OFF_SAMPLE_RATE, header.sampleRate, true);
  view.setUint32(OFF_HOP, header.hop, true);
  view.setUint32(OFF_CODEBOOK_SIZE, header.codebookSize, true);
  out[OFF_NUM_CODEBOOKS] = header.numCodebooks;
  view.setUint32(OFF_FRAMES, header.frames, true);
  view.setUint32(OFF_ORIGINAL_LENGTH, header.originalLength, true);
  return out;
}

/**
 * The checks made before the CRC, in decodeTokenFile's order: magic (on whatever prefix
 * exists), minimum size, format version, and the size the header implies. `head` is the
 * file's first min(HEADER_BYTES, fileLength) bytes.
 */
export function checkLayoutV1(
  head: Uint8Array,
  fileLength: number,
  name: string,
): { codebookSize: number; numCodebooks: number; frames: number; sizeKnown: boolean } {
  checkMagic(head, name);
  check(
    fileLength >= HEADER_BYTES + TRAILER_BYTES,
    `${name} is truncated: ${fileLength} bytes is shorter than any token file (${HEADER_BYTES + TRAILER_BYTES})`,
  );
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const codebookSize = view.getUint32(OFF_CODEBOOK_SIZE, true);
  const numCodebooks = head[OFF_NUM_CODEBOOKS]!;
  const frames = view.getUint32(OFF_FRAMES, true);
  // An out-of-range K gives no size to compare against; the CRC or header checks catch it.
  const sizeKnown = codebookSize >= 2 && codebookSize <= 2 ** MAX_BITS;
  if (sizeKnown) {
    const expected = tokenFileSizeV1(frames, numCodebooks, codebookSize);
    check(
      fileLength === expected,
      `${name} is truncated or corrupted: its header implies ${expected} bytes but it has ${fileLength}`,
    );
  }
  return { codebookSize, numCodebooks, frames, sizeKnown };
}

/** The header fields of a token file whose layout and CRC were checked, validated. */
export function parseHeaderV1(head: Uint8Array, name: string): TokenHeader {
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
  const modelFingerprint = fingerprintHex(head.subarray(OFF_FINGERPRINT, OFF_FINGERPRINT + 8));
  return { frames, numCodebooks, codebookSize, hop, sampleRate, originalLength, modelFingerprint };
}

