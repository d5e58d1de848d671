/** What every `.vqt` version shares: the magic, the CRC trailer, and the header's rules. */
import { VqcodecError, check } from '../errors.js';
import type { Tokens } from '../types.js';
import { MAX_BITS } from './bitpack.js';
import { codeStridesProblem, isMultiRate } from './codeStrides.js';
import { checkRepeated } from './storedCodes.js';

export const MAGIC = [0x56, 0x51, 0x54, 0x4b]; // "VQTK"
export const TRAILER_BYTES = 4;

const U32_MAX = 0xffffffff;
const FINGERPRINT_RE = /^[0-9a-f]{16}$/;

/** A token file's header: everything in Tokens but the codes. */
export type TokenHeader = Omit<Tokens, 'codes'>;

function isU32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= U32_MAX;
}

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
  if (t.codeStrides !== undefined) {
    const problem = codeStridesProblem(t.codeStrides, t.numCodebooks);
    check(problem === undefined, problem!);
  }
}

/** Checks a header and that `t.codes` holds exactly its frames of valid codes. */
export function checkTokens(t: Tokens): void {
  checkTokenHeader(t);
  const expected = t.frames * t.numCodebooks;
  check(
    t.codes.length === expected,
    `expected ${expected} codes (${t.frames} frames x ${t.numCodebooks} codebooks), got ${t.codes.length}`,
  );
  checkCodes(t.codes, 0, t.numCodebooks, t.codebookSize);
  if (isMultiRate(t.codeStrides)) checkRepeated(t.codes, 0, t.codeStrides!);
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

/** The error for a code outside the codebook in token file `name`. */
export function badTokenFileCode(name: string, code: number, frame: number, codebookSize: number): VqcodecError {
  return new VqcodecError(`${name} is invalid: code ${code} at frame ${frame} is outside the codebook (size ${codebookSize})`);
}

/** Compares the CRC-32 of everything before the trailer with the stored one (`trailer`, 4 bytes). */
export function checkTokenFileCrc(computed: number, trailer: Uint8Array, name: string): void {
  const stored = new DataView(trailer.buffer, trailer.byteOffset, TRAILER_BYTES).getUint32(0, true);
  check(computed === stored, `${name} is corrupted (checksum mismatch)`);
}

/** Magic first (on whatever prefix exists) so that arbitrary files get the clearest message. */
export function checkMagic(head: Uint8Array, name: string): void {
  for (let i = 0; i < Math.min(head.length, MAGIC.length); i++) check(head[i] === MAGIC[i], `${name} is not a vqcodec token file`);
}

/** The first `length` bytes of a hex fingerprint (all 8 by default). */
export function fingerprintBytes(hex: string, length = 8): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16));
}

export function fingerprintHex(bytes: Uint8Array, length = 8): string {
  let s = '';
  for (let i = 0; i < length; i++) s += bytes[i]!.toString(16).padStart(2, '0');
  return s;
}
