/**
 * The `.vqt` token file: the discrete codes of one clip plus what is needed to decode them.
 * Version 2 (./formatV2.ts: compact header, bit-packed or entropy-coded payload) is written
 * for single-rate codes, version 3 (./formatV3.ts: version 2 plus code strides, one stored
 * code per window) for multi-rate codes only, so single-rate files stay what they were;
 * version 1 (./formatV1.ts: fixed 34-byte header, bit-packed) is still read, and written on
 * request. Every failure to read is a one-line VqcodecError naming the file. Bytes only (the
 * browser page uses this module): reading and writing files is ./tokenFileFs.ts.
 */
import { check } from '../errors.js';
import { checkModelsFor, payloadCoding, payloadDecoder, payloadEncoder, type EntropyModels, type PayloadCoding, type TokenCoding } from '../entropy/payload.js';
import type { Tokens } from '../types.js';
import { bitsPerCode } from './bitpack.js';
import { codeLevels, codesPerSecond, isMultiRate, storedFrames, stridesOf } from './codeStrides.js';
import { crc32 } from './crc32.js';
import { HEADER_BYTES, VERSION_1, checkLayoutV1, encodeTokenFileV1, parseHeaderV1, tokenFileSizeV1 } from './formatV1.js';
import { MAX_HEADER_BYTES_V2, VERSION_2, checkSizeV2, encodeHeaderV2, packedFileSize, parseHeaderV2, validateHeaderV2 } from './formatV2.js';
import { MAX_HEADER_BYTES_V3, VERSION_3, encodeHeaderV3, parseHeaderV3, validateHeaderV3 } from './formatV3.js';
import { MAGIC, TRAILER_BYTES, badTokenFileCode, checkMagic, checkTokenFileCrc, checkTokens, firstBadCode, type TokenHeader } from './tokenHeader.js';

export type { TokenHeader } from './tokenHeader.js';
export { checkTokenHeader, checkCodes, firstBadCode } from './tokenHeader.js';

/** The shortest file any version allows (a version-2 file of 0 frames with one-byte fields). */
export const MIN_FILE_BYTES = 4 + 1 + 1 + 8 + 6 + TRAILER_BYTES;

/** The first bytes of a file that every reader reads: any version's whole header. */
export const HEAD_BYTES = Math.max(HEADER_BYTES, MAX_HEADER_BYTES_V3);

export type TokenFileVersion = 1 | 2 | 3;

export interface TokenFileOptions {
  /**
   * By default 2, or 3 for multi-rate codes (the only ones version 3 holds); 1 for readers
   * that predate version 2 (single-rate, bit-packed only).
   */
  version?: TokenFileVersion;
  /** How the codes are stored (default 'none': bit-packed). */
  coding?: TokenCoding;
  /** The models 'context' and 'prior' code with. */
  models?: EntropyModels;
}

/** A token file's header as read and checked, without its codes. */
export interface TokenFileInfo {
  version: number;
  header: TokenHeader;
  coding: PayloadCoding;
  payloadOffset: number;
  fileBytes: number;
}

/** The version `header` is written in (`requested`, checked, or the default for its codes). */
export function tokenFileVersion(header: TokenHeader, requested?: TokenFileVersion): TokenFileVersion {
  const multiRate = isMultiRate(header.codeStrides);
  const version = requested ?? (multiRate ? VERSION_3 : VERSION_2);
  if (multiRate) check(version === VERSION_3, `token file version ${version} holds single-rate codes only; multi-rate codes are written as version 3`);
  else check(version !== VERSION_3, 'token file version 3 holds multi-rate codes only');
  return version;
}

/** The header of a version-2 or -3 file (the version `header`'s codes are written in). */
export function encodeHeader(header: TokenHeader, coding: PayloadCoding): Uint8Array {
  return tokenFileVersion(header) === VERSION_3 ? encodeHeaderV3(header, coding) : encodeHeaderV2(header, coding);
}

/** Exact size of a bit-packed token file of this header (by default in the version it is written in). */
export function tokenFileSize(header: TokenHeader, version?: TokenFileVersion): number {
  if (tokenFileVersion(header, version) === VERSION_1) return tokenFileSizeV1(header.frames, header.numCodebooks, header.codebookSize);
  return packedFileSize(header, encodeHeader(header, { coding: 'none' }));
}

/** Serializes `tokens` (checked first). */
export function encodeTokenFile(tokens: Tokens, options: TokenFileOptions = {}): Uint8Array {
  checkTokens(tokens);
  const coding = options.coding ?? 'none';
  if (tokenFileVersion(tokens, options.version) === VERSION_1) {
    check(coding === 'none', 'token file version 1 holds bit-packed codes only');
    return encodeTokenFileV1(tokens);
  }
  const models = options.models ?? {};
  const recorded = payloadCoding(coding, tokens, models);
  const head = encodeHeader(tokens, recorded);
  const encoder = payloadEncoder(recorded, tokens, models);
  const body = encoder.push(tokens.codes);
  const tail = encoder.finish();
  const out = new Uint8Array(head.length + body.length + tail.length + TRAILER_BYTES);
  out.set(head, 0);
  out.set(body, head.length);
  out.set(tail, head.length + body.length);
  const crcAt = out.length - TRAILER_BYTES;
  new DataView(out.buffer).setUint32(crcAt, crc32(out.subarray(0, crcAt)), true);
  return out;
}

/** What the first checks of a token file found: its version and the layout its header gives. */
export interface TokenFileLayout {
  version: number;
  /** The header as parsed before its fields are validated (version 1: the first 34 bytes). */
  head: Uint8Array;
  parsed?: ReturnType<typeof parseHeaderV2>;
  fileBytes: number;
  payloadOffset: number;
}

/**
 * The checks every reader makes before the CRC, in this order: magic, minimum size, version,
 * and the size the header implies. `head` is the file's first min(length, HEAD_BYTES) bytes.
 */
export function checkTokenFileLayout(head: Uint8Array, fileBytes: number, name: string): TokenFileLayout {
  checkMagic(head, name);
  check(fileBytes >= MIN_FILE_BYTES, `${name} is truncated: ${fileBytes} bytes is shorter than any token file (${MIN_FILE_BYTES})`);
  const version = head[MAGIC.length]!;
  if (version === VERSION_1) {
    checkLayoutV1(head.subarray(0, HEADER_BYTES), fileBytes, name);
    return { version, head: head.subarray(0, HEADER_BYTES), fileBytes, payloadOffset: HEADER_BYTES };
  }
  check(version === VERSION_2 || version === VERSION_3, `${name} uses token file format version ${version}; this vqcodec reads versions 1, 2 and 3`);
  // The header cannot run into the trailer.
  const maxHeader = Math.min(head.length, fileBytes - TRAILER_BYTES, version === VERSION_2 ? MAX_HEADER_BYTES_V2 : MAX_HEADER_BYTES_V3);
  const parsed = (version === VERSION_2 ? parseHeaderV2 : parseHeaderV3)(head.subarray(0, maxHeader), name);
  checkSizeV2(parsed, fileBytes, name);
  return { version, head, parsed, fileBytes, payloadOffset: parsed.payloadOffset };
}

/** The checks after the layout's: the CRC (`computed` against the 4-byte `trailer`), then the header's fields. */
export function checkTokenFileInfo(layout: TokenFileLayout, computed: number, trailer: Uint8Array, name: string): TokenFileInfo {
  checkTokenFileCrc(computed, trailer, name);
  const { version, fileBytes, payloadOffset } = layout;
  if (layout.parsed === undefined) return { version, header: parseHeaderV1(layout.head, name), coding: { coding: 'none' }, payloadOffset, fileBytes };
  (version === VERSION_2 ? validateHeaderV2 : validateHeaderV3)(layout.parsed, name);
  return { version, header: layout.parsed.header, coding: layout.parsed.coding, payloadOffset, fileBytes };
}

/** Reads and checks the header of a token file held in memory (no codes, no models). */
export function inspectTokenFile(bytes: Uint8Array, name = 'token file'): TokenFileInfo {
  const layout = checkTokenFileLayout(bytes.subarray(0, HEAD_BYTES), bytes.length, name);
  const crcAt = bytes.length - TRAILER_BYTES;
  return checkTokenFileInfo(layout, crc32(bytes.subarray(0, crcAt)), bytes.subarray(crcAt), name);
}

/**
 * Parses a `.vqt` file of any version. Entropy-coded files need the models they name
 * (`models.context`, and `models.prior` for prior coding). Multi-rate codes come back dense,
 * with their `codeStrides`.
 */
export function decodeTokenFile(bytes: Uint8Array, name = 'token file', models: EntropyModels = {}): Tokens {
  const info = inspectTokenFile(bytes, name);
  const { header, coding, payloadOffset } = info;
  checkModelsFor(coding, header, models, name);
  const payload = bytes.subarray(payloadOffset, bytes.length - TRAILER_BYTES);
  const codes = payloadDecoder(coding, header, models, payload, name).next(header.frames);
  const badAt = firstBadCode(codes, header.codebookSize);
  if (badAt >= 0) throw badTokenFileCode(name, codes[badAt]!, Math.floor(badAt / header.numCodebooks), header.codebookSize);
  return { codes, ...header };
}

/** Shortest decimal form with at most `digits` decimals: 50, 62.5, 3.333. */
function num(n: number, digits = 3): string {
  return String(Number(n.toFixed(digits)));
}

const CODING_NAMES: Record<TokenCoding, string> = { none: 'bit-packed', context: 'range-coded (context model)', prior: 'range-coded (prior)' };

function codingName(coding: PayloadCoding): string {
  if (coding.coding !== 'prior') return CODING_NAMES[coding.coding];
  if (coding.contextModelId === undefined) return 'range-coded (prior alone)';
  return coding.priorWeight !== undefined ? 'range-coded (prior mixed with the context model)' : CODING_NAMES.prior;
}

/** One line per level of multi-rate codes (none for single-rate): its stride, rate, codebooks and stored codes. */
function levelRows(header: TokenHeader, frameRate: number): [string, string][] {
  if (!isMultiRate(header.codeStrides)) return [];
  return codeLevels(header.codeStrides!).map((level, i) => {
    const last = level.first + level.count - 1;
    const codebooks = level.count === 1 ? `codebook ${level.first}` : `codebooks ${level.first}-${last}`;
    return [`level ${i}`, `stride ${level.stride}, ${num(frameRate / level.stride)} codes/s, ${codebooks}, ${storedFrames(header.frames, level.stride)} stored frames`];
  });
}

/** Human-readable summary of a token file's header, one field per line (for `vqcodec info`). */
export function formatTokenHeader(info: TokenFileInfo): string {
  const { header, coding } = info;
  const bits = bitsPerCode(header.codebookSize);
  const frameRate = header.sampleRate / header.hop;
  const duration = header.originalLength / header.sampleRate;
  // Bitrate of the whole file (header and checksum included) over the clip's real duration;
  // the nominal rate is what bit-packed codes of a long stream converge to.
  const bitrate = duration > 0 ? `${num((info.fileBytes * 8) / duration, 1)} bits/s` : 'n/a (empty clip)';
  const nominal = num(codesPerSecond(stridesOf(header), frameRate) * bits, 1);
  const rows: [string, string][] = [
    ['format', `version ${info.version}, ${codingName(coding)}`],
    ['model fingerprint', header.modelFingerprint],
    ...(coding.contextModelId !== undefined ? [['context model', (coding.contextModelId >>> 0).toString(16).padStart(8, '0')] as [string, string]] : []),
    ...(coding.priorFingerprint !== undefined ? [['prior', coding.priorFingerprint] as [string, string]] : []),
    ['sample rate', `${header.sampleRate} Hz`],
    ['hop', `${header.hop} samples`],
    ['frame rate', `${num(frameRate)} frames/s`],
    ['codebook size', String(header.codebookSize)],
    ['bits per code', String(bits)],
    ['codebooks', String(header.numCodebooks)],
    ...levelRows(header, frameRate),
    ['frames', String(header.frames)],
    ['duration', `${num(duration)} s`],
    ['file size', `${info.fileBytes} bytes`],
    ['bitrate', `${bitrate} (nominal bit-packed ${nominal} bits/s)`],
  ];
  return rows.map(([k, v]) => `${(k + ':').padEnd(19)}${v}`).join('\n');
}
