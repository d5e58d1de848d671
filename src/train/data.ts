/**
 * Training data: a folder of audio files or a JSON-lines manifest, loaded into memory
 * at the model's rate, and random fixed-length crops drawn from it.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { loadAudio } from '../audio/load.js';
import { VqcodecError } from '../errors.js';
import type { Random } from './random.js';

export const AUDIO_EXTENSIONS = ['.wav', '.mp3', '.ogg', '.flac'];

export interface FileLists {
  train: string[];
  valid: string[];
  /** Held-out files (manifests only): for evaluation, never for training. */
  test: string[];
  /** Each file's `source` field (manifests only, where given): evaluation reports per source. */
  sources?: Map<string, string>;
}

/**
 * Lists the training and validation files of `source`: a manifest (`.jsonl`, lines with
 * `path` — relative to the manifest's folder, never to the working directory, unless absolute —
 * and `split` = train | valid | test) or a folder, searched
 * recursively, whose validation files are chosen by a hash of their path (stable everywhere).
 */
export async function listAudio(source: string, validFraction = 0.1): Promise<FileLists> {
  const stat = await fs.stat(source).catch(() => undefined);
  if (stat === undefined) throw new VqcodecError(`no such file or folder: ${source}`);
  if (stat.isFile()) return readManifest(source);
  const files = (await walk(source)).sort();
  if (files.length === 0) throw new VqcodecError(`no audio files (${AUDIO_EXTENSIONS.join(', ')}) under ${source}`);
  let valid = files.filter((f) => hashFraction(path.relative(source, f)) < validFraction);
  // A small folder may get no validation file by hash: hold out the lowest-hash one instead.
  if (valid.length === 0 && files.length > 1 && validFraction > 0) {
    valid = [files.reduce((a, b) => (hashFraction(path.relative(source, a)) <= hashFraction(path.relative(source, b)) ? a : b))];
  }
  const train = files.filter((f) => !valid.includes(f));
  return { train: train.length > 0 ? train : files, valid, test: [] };
}

/**
 * The audio files that command-line inputs name: files as given, folders searched recursively,
 * manifests' files of one split (with their sources); `limit` of them spread evenly.
 */
export async function expandInputs(inputs: string[], split: string, limit?: number): Promise<{ files: string[]; sources: Map<string, string> }> {
  const files: string[] = [];
  const sources = new Map<string, string>();
  for (const input of inputs) {
    const stat = await fs.stat(input).catch(() => undefined);
    if (stat === undefined) throw new VqcodecError(`no such file or folder: ${input}`);
    if (stat.isDirectory()) {
      files.push(...(await listAudio(input, 0)).train);
    } else if (input.endsWith('.jsonl')) {
      const lists = await listAudio(input);
      if (!(split in lists)) throw new VqcodecError(`the split must be train, valid or test (got '${split}')`);
      files.push(...lists[split as 'train' | 'valid' | 'test']);
      lists.sources?.forEach((source, file) => sources.set(file, source));
    } else files.push(input);
  }
  if (files.length === 0) throw new VqcodecError(`no audio files (${AUDIO_EXTENSIONS.join(', ')}) found`);
  return { files: limit === undefined ? files : evenlySpaced(files, limit), sources };
}

/**
 * `n` items spread evenly over the list, first included (all of it when n ≥ its length): a small
 * evaluation or validation set that still covers every source of a manifest sorted by source.
 */
export function evenlySpaced<T>(items: readonly T[], n: number): T[] {
  if (!(Number.isInteger(n) && n > 0)) throw new VqcodecError(`the number of items to pick must be a positive integer (got ${n})`);
  if (n >= items.length) return [...items];
  return Array.from({ length: n }, (_, i) => items[Math.floor((i * items.length) / n)]);
}

async function readManifest(manifest: string): Promise<FileLists> {
  const base = path.dirname(manifest);
  const lists: FileLists = { train: [], valid: [], test: [], sources: new Map() };
  const lines = (await fs.readFile(manifest, 'utf8')).split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let entry: { path?: string; split?: string; source?: unknown };
    try {
      entry = JSON.parse(line);
    } catch {
      throw new VqcodecError(`${manifest}:${i + 1} is not a JSON object`);
    }
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw new VqcodecError(`${manifest}:${i + 1} is not a JSON object`);
    if (typeof entry.path !== 'string') throw new VqcodecError(`${manifest}:${i + 1} has no "path"`);
    const file = path.resolve(base, entry.path);
    if (typeof entry.source === 'string') lists.sources!.set(file, entry.source);
    if (entry.split === 'valid') lists.valid.push(file);
    else if (entry.split === 'test') lists.test.push(file);
    else if (entry.split === undefined || entry.split === 'train') lists.train.push(file);
  });
  if (lists.train.length === 0) throw new VqcodecError(`${manifest} lists no training files`);
  return lists;
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(full)));
    else if (AUDIO_EXTENSIONS.includes(path.extname(entry.name).toLowerCase())) out.push(full);
  }
  return out;
}

/** A number in [0, 1) from a string's SHA-1: the same on every machine. */
export function hashFraction(key: string): number {
  return createHash('sha1').update(key).digest().readUInt32BE(0) / 2 ** 32;
}

export interface Clip {
  path: string;
  samples: Float32Array;
}

/** Loads files at `sampleRate`; unreadable, empty or silent files are skipped and counted. */
export async function loadClips(files: string[], sampleRate: number, onProgress?: (done: number) => void): Promise<{ clips: Clip[]; skipped: string[] }> {
  const clips: Clip[] = [];
  const skipped: string[] = [];
  for (const [i, file] of files.entries()) {
    try {
      clips.push({ path: file, samples: (await loadAudio(file, sampleRate)).samples });
    } catch (err) {
      if (!(err instanceof VqcodecError)) throw err;
      skipped.push(`${file}: ${err.message}`);
    }
    onProgress?.(i + 1);
  }
  return { clips, skipped };
}

/** Draws random crops; clips are picked in proportion to their length, so every second of audio is equally likely. */
export class CropSampler {
  private readonly cumulative: Float64Array;

  constructor(private readonly clips: Clip[]) {
    if (clips.length === 0) throw new VqcodecError('no usable training audio');
    this.cumulative = new Float64Array(clips.length);
    let total = 0;
    clips.forEach((c, i) => (this.cumulative[i] = total += c.samples.length));
  }

  get totalSamples(): number {
    return this.cumulative[this.cumulative.length - 1];
  }

  /** `batch` crops of `length` samples, row-major; a clip shorter than a crop sits at a random place in silence. */
  sample(batch: number, length: number, random: Random): Float32Array {
    const out = new Float32Array(batch * length);
    for (let b = 0; b < batch; b++) {
      const clip = this.clips[this.pick(random.next() * this.totalSamples)].samples;
      const row = out.subarray(b * length, (b + 1) * length);
      if (clip.length >= length) {
        const start = random.int(clip.length - length + 1);
        row.set(clip.subarray(start, start + length));
      } else {
        row.set(clip, random.int(length - clip.length + 1));
      }
    }
    return out;
  }

  private pick(position: number): number {
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cumulative[mid] > position) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
