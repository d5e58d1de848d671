/**
 * Token exports for sequence models: each audio file's codes as a codebook-major array
 * [codebooks, frames] (the layout of EnCodec, DAC and Mimi), in one .npy per file or one JSON
 * line per file, with DIR/index.jsonl listing every output. Multi-rate codes are exported as
 * their stored codes, one array per level (./exportArrays.ts). A corpus can be split into n
 * independent jobs (shard k of n takes files k, k + n, … and writes its own index.k-of-n.jsonl),
 * and a job that is stopped resumes: what an index lists is done and is skipped.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { loadAudio } from '../audio/load.js';
import type { Codec } from '../codec.js';
import { VqcodecError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { parseJsonLines, readJsonLines } from '../io/jsonLines.js';
import { codeLevels, codeStridesProblem, isMultiRate, storedFrames, stridesOf } from './codeStrides.js';
import { codesFromLevelNpys, codesFromLine, codesFromNpy, levelFile, tokenLine, tokensToLevelNpys, tokensToNpy, type ExportedCodes, type TokenLine } from './exportArrays.js';

export { codesFromLevelNpys, codesFromLine, codesFromNpy, levelFile, tokenLine, tokensToLevelNpys, tokensToNpy, type ExportedCodes, type TokenLine };

export type TokenFormat = 'npy' | 'jsonl';

export interface Shard {
  /** 0-based: this job takes files index, index + count, … */
  index: number;
  count: number;
}

export interface TokenExportOptions {
  outDir: string;
  format: TokenFormat;
  numCodebooks?: number;
  shard?: Shard;
  /** After each file: how many of this shard's files are done (skipped ones included). */
  onProgress?(done: number, total: number): void;
}

/** One line of DIR/index.jsonl. */
export interface IndexEntry {
  id: string;
  /** The audio file, as given. */
  source: string;
  /** The output, relative to DIR (for jsonl, the tokens file holding the line). */
  output: string;
  frames: number;
  numCodebooks: number;
  seconds: number;
  codebookSize: number;
  frameRate: number;
  sampleRate: number;
  fingerprint: string;
  /** Multi-rate codes only: each codebook's stride. */
  codeStrides?: number[];
  /** Multi-rate codes only: each level's stored frames (and, for npy, its file; `output` is level 0's). */
  levels?: LevelEntry[];
}

/** A level of multi-rate codes in an index line: codebooks of one stride. */
export interface LevelEntry {
  stride: number;
  codebooks: number;
  /** Codes per codebook: ceil(frames / stride). */
  frames: number;
  /** Its .npy, relative to DIR (npy exports). */
  output?: string;
}

export const INDEX_FILE = 'index.jsonl';

/** Parses 'k/n' (0 ≤ k < n). */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const shard = m ? { index: Number(m[1]), count: Number(m[2]) } : undefined;
  if (shard === undefined || shard.count < 1 || shard.index >= shard.count) throw new VqcodecError(`a shard is k/n with 0 ≤ k < n (got '${text}')`);
  return shard;
}

/** The files of shard k of n: every n-th file from the k-th. */
export function shardFiles<T>(files: readonly T[], shard: Shard = { index: 0, count: 1 }): T[] {
  return files.filter((_, i) => i % shard.count === shard.index);
}

/** Stable ids: each path relative to the folder all files share, without its extension. */
export function fileIds(files: readonly string[]): string[] {
  const dirs = files.map((f) => path.dirname(path.resolve(f)).split(path.sep));
  let common = dirs[0] ?? [];
  for (const d of dirs) {
    let i = 0;
    while (i < common.length && i < d.length && common[i] === d[i]) i++;
    common = common.slice(0, i);
  }
  const root = common.join(path.sep) || path.sep;
  const ids = files.map((f) => {
    const rel = path.relative(root, path.resolve(f));
    return rel.slice(0, rel.length - path.extname(rel).length).split(path.sep).join('/');
  });
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) throw new VqcodecError(`two inputs share the id '${id}' (same name, different extension)`);
    seen.add(id);
  }
  return ids;
}

/** Every index line in a folder: index.jsonl and each shard's index.k-of-n.jsonl. */
export async function readIndex(outDir: string): Promise<IndexEntry[]> {
  const names = (await fs.readdir(outDir).catch(() => [] as string[])).filter((n) => n === INDEX_FILE || /^index\.\d+-of-\d+\.jsonl$/.test(n)).sort();
  const entries = (await Promise.all(names.map((n) => readJsonLines<IndexEntry>(path.join(outDir, n))))).flat();
  // A file redone (its output had gone missing) is listed again: its last line counts.
  return [...new Map(entries.map((e) => [e.id, e])).values()];
}

/**
 * A job's own files, so shards never write the same file (safe on network filesystems too):
 * index.jsonl and tokens.jsonl for a single job, index.k-of-n.jsonl and tokens.k-of-n.jsonl per shard.
 */
function jobFile(kind: 'index' | 'tokens', shard: Shard): string {
  return shard.count === 1 ? `${kind}.jsonl` : `${kind}.${shard.index}-of-${shard.count}.jsonl`;
}

/**
 * Codes `files` (this shard's share) and writes their arrays and index lines; files the index
 * already lists (with their output present) are skipped. Returns how many were written and skipped.
 */
export async function exportTokens(codec: Codec, files: string[], options: TokenExportOptions): Promise<{ written: number; skipped: number }> {
  const shard = options.shard ?? { index: 0, count: 1 };
  const ids = fileIds(files);
  const mine = shardFiles(files.map((file, i) => ({ file, id: ids[i] })), shard);
  await fs.mkdir(options.outDir, { recursive: true });
  const indexPath = path.join(options.outDir, jobFile('index', shard));
  const index = await readIndex(options.outDir);
  // This job's index without a line cut by a kill, so appends start on a fresh line.
  await writeFileAtomic(indexPath, (await readJsonLines<IndexEntry>(indexPath)).map((e) => JSON.stringify(e) + '\n').join(''));
  const other = index.find((e) => e.fingerprint !== codec.fingerprint);
  if (other !== undefined) throw new VqcodecError(`${options.outDir} holds tokens of model ${other.fingerprint}, not of the loaded model ${codec.fingerprint}: choose another folder`);
  const indexed = new Set(index.map((e) => e.id));
  const linesFile = jobFile('tokens', shard);
  const linesPath = path.join(options.outDir, linesFile);
  if (options.format === 'jsonl') {
    // A line written before its index line (the job was killed between the two) is dropped.
    const kept = (await readJsonLines<TokenLine>(linesPath)).filter((l) => indexed.has(l.id));
    await writeFileAtomic(linesPath, kept.map((l) => JSON.stringify(l) + '\n').join(''));
  }
  // The files a done file has (from the codec's strides: the index is read before anything is coded).
  const strides = codec.codeStrides.slice(0, options.numCodebooks ?? codec.numCodebooks);
  const outputsOf = (id: string, of: readonly number[]) => (options.format === 'npy' ? npyOutputs(id, of) : [linesFile]);
  let written = 0;
  let skipped = 0;
  for (const [i, { file, id }] of mine.entries()) {
    const exists = (output: string) => fs.stat(path.join(options.outDir, output)).then(() => true, () => false);
    const done = indexed.has(id) && (await Promise.all(outputsOf(id, strides).map(exists))).every(Boolean);
    if (done) {
      skipped++;
    } else {
      const audio = await loadAudio(file, codec.sampleRate);
      const tokens = codec.encode(audio.samples, { numCodebooks: options.numCodebooks });
      const outputs = outputsOf(id, stridesOf(tokens));
      if (options.format === 'npy') {
        const arrays = isMultiRate(tokens.codeStrides) ? tokensToLevelNpys(tokens) : [tokensToNpy(tokens)];
        for (const [l, bytes] of arrays.entries()) {
          const target = path.join(options.outDir, outputs[l]!);
          await fs.mkdir(path.dirname(target), { recursive: true });
          await writeFileAtomic(target, bytes);
        }
      } else {
        await fs.appendFile(linesPath, JSON.stringify(tokenLine(id, tokens)) + '\n');
      }
      const entry: IndexEntry = {
        id,
        source: file,
        output: outputs[0]!,
        frames: tokens.frames,
        numCodebooks: tokens.numCodebooks,
        seconds: tokens.originalLength / codec.sampleRate,
        codebookSize: tokens.codebookSize,
        frameRate: codec.frameRate,
        sampleRate: codec.sampleRate,
        fingerprint: codec.fingerprint,
        ...(isMultiRate(tokens.codeStrides) ? levelFields(tokens.frames, tokens.codeStrides!, options.format === 'npy' ? outputs : undefined) : {}),
      };
      await fs.appendFile(indexPath, JSON.stringify(entry) + '\n');
      written++;
    }
    options.onProgress?.(i + 1, mine.length);
  }
  return { written, skipped };
}

/** A file's .npy outputs: `<id>.npy`, or `<id>.L<level>.npy` per level of multi-rate codes. */
function npyOutputs(id: string, strides: readonly number[]): string[] {
  return isMultiRate(strides) ? codeLevels(strides).map((_, l) => levelFile(id, l)) : [`${id}.npy`];
}

/** The index fields of multi-rate codes: their strides and levels. */
function levelFields(frames: number, codeStrides: number[], outputs?: string[]): Pick<IndexEntry, 'codeStrides' | 'levels'> {
  const levels = codeLevels(codeStrides).map((l, i) => ({ stride: l.stride, codebooks: l.count, frames: storedFrames(frames, l.stride), ...(outputs ? { output: outputs[i]! } : {}) }));
  return { codeStrides: [...codeStrides], levels };
}

/** A token export read back: each file's index line and frame-major codes. */
export interface TokenExport {
  entries: IndexEntry[];
  /** Each file's codes, dense for multi-rate codes (a code repeated over its window). */
  codes: Int32Array[];
  /** Codebooks of each file. */
  codebooks: number[];
  codec: { fingerprint: string; frameRate: number; sampleRate: number };
  codebookSize: number;
  /** Multi-rate codes only: the strides of the codebooks of the file with the most (the others' are a prefix). */
  codeStrides?: number[];
}

/** Every exported file's codes, with the codec they came from. */
export async function readTokenExport(dir: string): Promise<TokenExport> {
  const entries = await readIndex(dir);
  if (entries.length === 0) throw new VqcodecError(`no token index in ${dir} (make one with vqcodec tokens)`);
  const first = entries[0];
  const other = entries.find((e) => e.fingerprint !== first.fingerprint);
  if (other) throw new VqcodecError(`${dir} mixes tokens of codecs ${first.fingerprint} and ${other.fingerprint}`);
  const lines = new Map<string, TokenLine>();
  for (const file of new Set(entries.filter((e) => e.output.endsWith('.jsonl')).map((e) => e.output))) {
    for (const line of parseJsonLines<TokenLine>(await fs.readFile(path.join(dir, file), 'utf8'), file)) lines.set(line.id, line);
  }
  const codes: Int32Array[] = [];
  const codebooks: number[] = [];
  // One codec, so one set of strides: each file's are a prefix of the longest.
  let longest: number[] = [];
  for (const e of entries) {
    const read = await readEntry(dir, e, lines);
    const strides = stridesOf(read);
    const [short, long] = strides.length <= longest.length ? [strides, longest] : [longest, strides];
    if (short.some((s, q) => s !== long[q])) throw new VqcodecError(`${dir}: ${e.id} has code strides [${strides.join(', ')}], another file [${longest.join(', ')}]`);
    longest = long;
    codes.push(read.codes);
    codebooks.push(read.numCodebooks);
  }
  return { entries, codes, codebooks, codec: { fingerprint: first.fingerprint, frameRate: first.frameRate, sampleRate: first.sampleRate }, codebookSize: first.codebookSize, ...(isMultiRate(longest) ? { codeStrides: longest } : {}) };
}

/** One index line's codes: its .npy (a level's each for multi-rate codes) or its line in a tokens .jsonl. */
async function readEntry(dir: string, e: IndexEntry, lines: Map<string, TokenLine>): Promise<ExportedCodes> {
  if (!e.output.endsWith('.npy')) return codesFromLine(lines.get(e.id) ?? { id: e.id, frames: 0, codes: [] });
  if (e.codeStrides === undefined) return codesFromNpy(await fs.readFile(path.join(dir, e.output)), e.output);
  const problem = codeStridesProblem(e.codeStrides, e.numCodebooks);
  if (problem !== undefined) throw new VqcodecError(`${dir}: index line of ${e.id}: ${problem}`);
  const names = npyOutputs(e.id, e.codeStrides);
  const files = await Promise.all(names.map(async (name) => ({ name, bytes: await fs.readFile(path.join(dir, name)) })));
  return codesFromLevelNpys(files, e.frames, e.codeStrides);
}
