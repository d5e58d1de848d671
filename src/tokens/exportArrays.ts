/**
 * The arrays of a token export (./export.ts), codebook-major: single-rate tokens as one
 * [codebooks, frames] array; multi-rate tokens (./codeStrides.ts) as their stored codes, one
 * array per level ([codebooks of the level, ceil(frames / stride)]: a level's codebooks share a
 * length, so they stack) in .npy, or one list per codebook in a JSON line. Read back, both give
 * the dense frame-major grid of Tokens.codes.
 */
import { VqcodecError } from '../errors.js';
import type { Tokens } from '../types.js';
import { codeLevels, codeStridesProblem, fromStreams, isMultiRate, storedFrames, toStreams } from './codeStrides.js';
import { codebookStreams, frameMajor } from './delayPattern.js';
import { decodeNpy, encodeNpy } from './npy.js';

/** One line of a tokens .jsonl file. */
export interface TokenLine {
  id: string;
  frames: number;
  /** Per codebook its codes: `frames` of them, or ceil(frames / stride) for multi-rate codes. */
  codes: number[][];
  /** Multi-rate codes only: each codebook's stride. */
  codeStrides?: number[];
}

/** Codes read back from an export: dense and frame-major, as in Tokens. */
export interface ExportedCodes {
  codes: Int32Array;
  numCodebooks: number;
  frames: number;
  /** Multi-rate codes only. */
  codeStrides?: number[];
}

/** The .npy of a level's file: `<id>.L<level>.npy`. */
export function levelFile(id: string, level: number): string {
  return `${id}.L${level}.npy`;
}

/** int16 when every code fits, else int32. */
function npyOf(streams: readonly Int32Array[], codebookSize: number): Uint8Array {
  const length = streams[0]?.length ?? 0;
  const flat = new Int32Array(streams.length * length);
  streams.forEach((s, q) => flat.set(s, q * length));
  const int16 = codebookSize <= 32768;
  return encodeNpy({ dtype: int16 ? 'int16' : 'int32', shape: [streams.length, length], data: int16 ? Int16Array.from(flat) : flat });
}

/** The .npy of single-rate tokens: shape [codebooks, frames]. */
export function tokensToNpy(tokens: Tokens): Uint8Array {
  if (isMultiRate(tokens.codeStrides)) throw new VqcodecError('multi-rate tokens export one .npy per level (tokensToLevelNpys)');
  return npyOf(codebookStreams(tokens.codes, tokens.numCodebooks), tokens.codebookSize);
}

/** The .npy of each level of multi-rate tokens, coarsest first: shape [codebooks of the level, ceil(frames / stride)]. */
export function tokensToLevelNpys(tokens: Tokens): Uint8Array[] {
  const strides = tokens.codeStrides ?? new Array<number>(tokens.numCodebooks).fill(1);
  const streams = toStreams(tokens.codes, tokens.frames, strides);
  return codeLevels(strides).map((l) => npyOf(streams.slice(l.first, l.first + l.count), tokens.codebookSize));
}

/** The 2-D integer array of a token .npy, named in errors. */
function npyStreams(bytes: Uint8Array, name = 'npy'): Int32Array[] {
  const array = decodeNpy(bytes, name);
  if (array.shape.length !== 2 || array.dtype === 'float32') throw new VqcodecError(`${name}: token arrays are 2-D integers [codebooks, frames]`);
  const [q, length] = array.shape;
  return Array.from({ length: q }, (_, i) => Int32Array.from(array.data.subarray(i * length, (i + 1) * length)));
}

/** Frame-major codes from a [codebooks, frames] .npy. */
export function codesFromNpy(bytes: Uint8Array, name?: string): ExportedCodes {
  const streams = npyStreams(bytes, name);
  return { codes: frameMajor(streams), numCodebooks: streams.length, frames: streams[0]?.length ?? 0 };
}

/** Dense frame-major codes of `frames` frames from the level .npy files of multi-rate codes (coarsest first). */
export function codesFromLevelNpys(files: readonly { bytes: Uint8Array; name: string }[], frames: number, codeStrides: readonly number[]): ExportedCodes {
  const levels = codeLevels(codeStrides);
  if (files.length !== levels.length) throw new VqcodecError(`strides ${JSON.stringify(codeStrides)} have ${levels.length} levels; got ${files.length} .npy files`);
  const streams = levels.flatMap((l, i) => {
    const level = npyStreams(files[i]!.bytes, files[i]!.name);
    const length = storedFrames(frames, l.stride);
    if (level.length !== l.count || level.some((s) => s.length !== length)) throw new VqcodecError(`${files[i]!.name}: level ${i} of ${frames} frames is [${l.count}, ${length}], not [${level.length}, ${level[0]?.length ?? 0}]`);
    return level;
  });
  return { codes: fromStreams(streams, frames, codeStrides), numCodebooks: codeStrides.length, frames, codeStrides: [...codeStrides] };
}

/** A tokens .jsonl line: each codebook's codes (its stored ones for multi-rate codes). */
export function tokenLine(id: string, tokens: Tokens): TokenLine {
  const strides = tokens.codeStrides;
  if (!isMultiRate(strides)) return { id, frames: tokens.frames, codes: codebookStreams(tokens.codes, tokens.numCodebooks).map((s) => Array.from(s)) };
  return { id, frames: tokens.frames, codes: toStreams(tokens.codes, tokens.frames, strides!).map((s) => Array.from(s)), codeStrides: [...strides!] };
}

/** Frame-major codes from a tokens .jsonl line (dense for multi-rate codes). */
export function codesFromLine(line: TokenLine): ExportedCodes {
  const strides = line.codeStrides;
  if (strides === undefined) return { codes: frameMajor(line.codes.map((c) => Int32Array.from(c))), numCodebooks: line.codes.length, frames: line.frames };
  const problem = codeStridesProblem(strides, line.codes.length);
  if (problem !== undefined) throw new VqcodecError(`token line '${line.id}': ${problem}`);
  const bad = line.codes.findIndex((c, q) => c.length !== storedFrames(line.frames, strides[q]!));
  if (bad >= 0) throw new VqcodecError(`token line '${line.id}': codebook ${bad} of stride ${strides[bad]} over ${line.frames} frames holds ${storedFrames(line.frames, strides[bad]!)} codes, not ${line.codes[bad]!.length}`);
  return { codes: fromStreams(line.codes, line.frames, strides), numCodebooks: strides.length, frames: line.frames, codeStrides: [...strides] };
}
