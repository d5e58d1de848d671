/**
 * Version 3 of the `.vqt` layout: version 2 (./formatV2.ts) plus the code strides of
 * multi-rate codes (./codeStrides.ts), written only for them; single-rate codes stay version 2.
 *
 *   field                 bytes
 *   magic "VQTK"          4
 *   version (3)           1
 *   coding                1      0 bit-packed, 1 context model (the prior does not code multi-rate codes)
 *   model fingerprint     8
 *   sample rate, Hz       varint
 *   hop, samples/frame    varint
 *   codebook size K       varint (2..2^24)
 *   codebooks Q           1      (1..255)
 *   code strides          Q      stride of each codebook (1..MAX_CODE_STRIDE = 64), non-increasing, each dividing
 *                                the one before, not all 1
 *   frames F              varint (< 2^32)
 *   padding               varint F·hop − original length (< hop)
 *   context model id      4      coding 1: ContextModel.id (u32)
 *   payload               the stored codes only, in time order: at frame t, every codebook q
 *                         with t mod stride_q = 0, lowest q first (S = Σ_q ceil(F / stride_q)
 *                         codes); bit-packed: ceil(S·ceil(log2 K)/8) bytes; range-coded: the rest
 *   CRC-32                4      of every byte before it
 *
 * One byte per codebook costs less than a list of levels for the usual few codebooks, and
 * maps one to one onto Tokens.codeStrides. For [4, 2, 1] at 50 frames/s, 1 s stores
 * 13 + 25 + 50 codes where version 2 would store 150.
 */
import { check } from '../errors.js';
import type { ByteReader } from '../io/bytes.js';
import type { PayloadCoding } from '../entropy/payload.js';
import { codeStridesProblem, isMultiRate } from './codeStrides.js';
import { MAX_HEADER_BYTES_V2, encodeCompactHeader, parseCompactHeader, validateHeaderV2, type ParsedHeaderV2 } from './formatV2.js';
import type { TokenHeader } from './tokenHeader.js';

export const VERSION_3 = 3;
/** No version-3 header is longer (version 2's widest, plus a stride for each of 255 codebooks). */
export const MAX_HEADER_BYTES_V3 = MAX_HEADER_BYTES_V2 + 255;

export function encodeHeaderV3(header: TokenHeader, coding: PayloadCoding): Uint8Array {
  const strides = header.codeStrides;
  check(isMultiRate(strides), 'token file version 3 holds multi-rate codes only (write single-rate codes as version 2)');
  return encodeCompactHeader(VERSION_3, header, coding, (w) => strides!.forEach((s) => w.u8(s)));
}

/**
 * Reads a version-3 header (structurally, as parseHeaderV2). The strides are checked at once,
 * before the CRC, since the size checks count the codes they store.
 */
export function parseHeaderV3(head: Uint8Array, name: string): ParsedHeaderV2 {
  return parseCompactHeader(head, name, (r: ByteReader, numCodebooks: number) => {
    const strides = Array.from(r.raw(numCodebooks));
    const problem = codeStridesProblem(strides, numCodebooks);
    check(problem === undefined, `${name} has an invalid header: ${problem}`);
    check(isMultiRate(strides), `${name} has an invalid header: version 3 needs a code stride above 1, got ${JSON.stringify(strides)}`);
    return strides;
  });
}

/** Field checks after the CRC: version 2's, and a coding that multi-rate codes can have. */
export function validateHeaderV3(parsed: ParsedHeaderV2, name: string): void {
  validateHeaderV2(parsed, name);
  check(parsed.coding.coding !== 'prior', `${name} has an invalid header: prior coding of multi-rate codes`);
}
