/**
 * Version 2 of the `.vqt` layout: a compact header (varints where version 1 spent fixed
 * 32-bit fields) and a payload either bit-packed or range-coded (src/entropy/payload.ts).
 *
 *   field                 bytes
 *   magic "VQTK"          4
 *   version (2)           1
 *   coding                1      0 bit-packed, 1 context model, 2 prior (+ context model),
 *                                3 prior mixed with the context model (written since; 2 is read),
 *                                4 prior alone (the prior codes every codebook of the file),
 *                                5 prior alone, naming the prior by 4 bytes (written since; 4 is read)
 *   model fingerprint     8
 *   sample rate, Hz       varint
 *   hop, samples/frame    varint
 *   codebook size K       varint (2..2^24)
 *   codebooks Q           1      (1..255)
 *   frames F              varint (< 2^32)
 *   padding               varint F·hop − original length (< hop)
 *   context model id      4      coding 1, 2 and 3: ContextModel.id (u32)
 *   prior fingerprint     8      coding 2, 3 and 4; coding 5: its first 4 bytes
 *   payload               bit-packed: ceil(F·Q·ceil(log2 K)/8) bytes; range-coded: the rest
 *   CRC-32                4      of every byte before it
 *
 * Varints are unsigned LEB128 (src/io/bytes.ts); u32s little-endian. For 1 s of the shipped
 * model's codes the header is 23 bytes (27 with the context model's id), where version 1's is 34.
 *
 * Version 3 (./formatV3.ts) is this layout plus the code strides of multi-rate codes, so the
 * functions here read and write both; the size checks count the codes a file stores.
 */
import { check } from '../errors.js';
import { ByteReader, ByteWriter } from '../io/bytes.js';
import { minPayloadBytes } from '../entropy/rangeCoder.js';
import { PRIOR_MIX_WEIGHT, SHORT_PRIOR_ID_HEX, TOKEN_CODINGS, type PayloadCoding } from '../entropy/payload.js';
import { MAX_BITS, bitsPerCode, packedByteLength } from './bitpack.js';
import { storedCodeCount, stridesOf } from './codeStrides.js';
import { MAGIC, TRAILER_BYTES, checkTokenHeader, fingerprintBytes, fingerprintHex, type TokenHeader } from './tokenHeader.js';

export const VERSION_2 = 2;
/** The coding byte of prior-coded files whose prior codebooks mix prior and context model. */
const CODING_PRIOR_MIXED = 3;
/** The coding byte of files whose every codebook the prior codes alone (no context model), naming it by its whole fingerprint. */
const CODING_PRIOR_ALONE = 4;
/**
 * The same with the prior named by its fingerprint's first 4 bytes, as a context model is by
 * its 4-byte id: on the 1-s clips of the test split the 4 bytes are 2 % of a prior-coded file.
 */
const CODING_PRIOR_ALONE_SHORT_ID = 5;

/** The header's coding byte: TOKEN_CODINGS' index, but CODING_PRIOR_MIXED for a mixing prior and CODING_PRIOR_ALONE for a prior without a context model. */
function codingByte(coding: PayloadCoding): number {
  if (coding.coding === 'prior' && coding.contextModelId === undefined) {
    check((coding.priorWeight ?? 1) === 1, 'a prior without a context model codes alone (prior weight 1)');
    return coding.priorFingerprint?.length === SHORT_PRIOR_ID_HEX ? CODING_PRIOR_ALONE_SHORT_ID : CODING_PRIOR_ALONE;
  }
  if (coding.coding !== 'prior' || (coding.priorWeight ?? 1) === 1) return TOKEN_CODINGS.indexOf(coding.coding);
  check(coding.priorWeight === PRIOR_MIX_WEIGHT, `token files record a prior weight of 1 or ${PRIOR_MIX_WEIGHT} only (got ${coding.priorWeight})`);
  return CODING_PRIOR_MIXED;
}

/** No version-2 header is longer (every varint at its widest). */
export const MAX_HEADER_BYTES_V2 = 4 + 1 + 1 + 8 + 5 + 5 + 4 + 1 + 5 + 5 + 4 + 8;

export function encodeHeaderV2(header: TokenHeader, coding: PayloadCoding): Uint8Array {
  return encodeCompactHeader(VERSION_2, header, coding);
}

/** The header of version 2, or of version 3 with `afterQ` writing its strides. */
export function encodeCompactHeader(version: number, header: TokenHeader, coding: PayloadCoding, afterQ?: (w: ByteWriter) => void): Uint8Array {
  checkTokenHeader(header);
  const w = new ByteWriter();
  w.raw(Uint8Array.from(MAGIC)).u8(version).u8(codingByte(coding)).raw(fingerprintBytes(header.modelFingerprint));
  w.varint(header.sampleRate).varint(header.hop).varint(header.codebookSize).u8(header.numCodebooks);
  afterQ?.(w);
  w.varint(header.frames).varint(header.frames * header.hop - header.originalLength);
  if (coding.coding !== 'none' && coding.contextModelId !== undefined) w.u32(coding.contextModelId);
  if (coding.coding === 'prior') w.raw(fingerprintBytes(coding.priorFingerprint!, coding.priorFingerprint!.length / 2));
  return w.finish();
}

export interface ParsedHeaderV2 {
  header: TokenHeader;
  coding: PayloadCoding;
  /** Where the payload starts. */
  payloadOffset: number;
}

/**
 * Reads a version-2 header from the file's first bytes (`head`, at most MAX_HEADER_BYTES_V2
 * of them), structurally only: field ranges are checked after the CRC (validateHeaderV2).
 */
export function parseHeaderV2(head: Uint8Array, name: string): ParsedHeaderV2 {
  return parseCompactHeader(head, name);
}

/** Reads the header of version 2, or of version 3 with `afterQ` reading (and checking) its strides. */
export function parseCompactHeader(head: Uint8Array, name: string, afterQ?: (r: ByteReader, numCodebooks: number) => number[]): ParsedHeaderV2 {
  const r = new ByteReader(head, name);
  r.raw(MAGIC.length + 1);
  const codingIndex = r.u8();
  check(codingIndex <= CODING_PRIOR_ALONE_SHORT_ID, `${name} has an invalid header: unknown coding ${codingIndex}`);
  const alone = codingIndex === CODING_PRIOR_ALONE || codingIndex === CODING_PRIOR_ALONE_SHORT_ID;
  const modelFingerprint = fingerprintHex(r.raw(8));
  const sampleRate = r.varint(5);
  const hop = r.varint(5);
  const codebookSize = r.varint(4);
  const numCodebooks = r.u8();
  const codeStrides = afterQ?.(r, numCodebooks);
  const frames = r.varint(5);
  const padding = r.varint(5);
  const coding: PayloadCoding =
    codingIndex === CODING_PRIOR_MIXED ? { coding: 'prior', priorWeight: PRIOR_MIX_WEIGHT } : { coding: alone ? 'prior' : TOKEN_CODINGS[codingIndex]! };
  if (coding.coding !== 'none' && !alone) coding.contextModelId = r.u32();
  const idBytes = codingIndex === CODING_PRIOR_ALONE_SHORT_ID ? SHORT_PRIOR_ID_HEX / 2 : 8;
  if (coding.coding === 'prior') coding.priorFingerprint = fingerprintHex(r.raw(idBytes), idBytes);
  const header: TokenHeader = { frames, numCodebooks, codebookSize, hop, sampleRate, originalLength: frames * hop - padding, modelFingerprint };
  if (codeStrides !== undefined) header.codeStrides = codeStrides;
  return { header, coding, payloadOffset: r.pos };
}

/**
 * The size checks made before the CRC: a bit-packed file's exact size, and for a range-coded
 * one that its payload can hold the codes the header claims (each costs at least 1/45 bit),
 * so that no reader allocates for codes the file cannot contain. Codes are the stored ones
 * (one per window of a multi-rate codebook).
 */
export function checkSizeV2(parsed: ParsedHeaderV2, fileLength: number, name: string): void {
  const { frames, numCodebooks, codebookSize } = parsed.header;
  const stored = storedCodeCount(frames, stridesOf(parsed.header));
  check(codebookSize >= 2 && codebookSize <= 2 ** MAX_BITS, `${name} has an invalid header: codebook size ${codebookSize} is outside 2..${2 ** MAX_BITS}`);
  const payload = fileLength - parsed.payloadOffset - TRAILER_BYTES;
  check(payload >= 0, `${name} is truncated`);
  if (parsed.coding.coding === 'none') {
    const expected = parsed.payloadOffset + packedByteLength(stored, bitsPerCode(codebookSize)) + TRAILER_BYTES;
    check(fileLength === expected, `${name} is truncated or corrupted: its header implies ${expected} bytes but it has ${fileLength}`);
  } else {
    // The encoder stores at least this many bytes (dropped trailing zeros included).
    check(
      payload >= minPayloadBytes(stored),
      `${name} is truncated or corrupted: ${payload} bytes cannot hold ${frames} frames of ${numCodebooks} codes`,
    );
  }
}

/** Field checks after the CRC, with the messages of version 1. */
export function validateHeaderV2(parsed: ParsedHeaderV2, name: string): void {
  const { header } = parsed;
  const bad = (what: string) => `${name} has an invalid header: ${what}`;
  check(header.numCodebooks >= 1, bad('0 codebooks'));
  check(header.sampleRate > 0 && header.sampleRate <= 0xffffffff, bad(`sample rate ${header.sampleRate}`));
  check(header.hop > 0 && header.hop <= 0xffffffff, bad(`hop ${header.hop}`));
  check(header.frames <= 0xffffffff, bad(`${header.frames} frames`));
  check(header.originalLength >= 0, bad(`padding exceeds ${header.frames} frames x hop ${header.hop}`));
}

/** Size of a bit-packed file with this header (`head`: its encoded header, version 2 or 3). */
export function packedFileSize(header: TokenHeader, head: Uint8Array): number {
  return head.length + packedByteLength(storedCodeCount(header.frames, stridesOf(header)), bitsPerCode(header.codebookSize)) + TRAILER_BYTES;
}
