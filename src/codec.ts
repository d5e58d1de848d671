/**
 * The codec as a library: load a model directory, turn samples into tokens and back.
 * Long inputs are coded in overlapping chunks, so memory is bounded by the chunk size
 * and the result equals coding the whole input at once.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { VqcodecError } from './errors.js';
import { readBundle, writeBundle } from './io/bundle.js';
import { writeFileAtomic } from './io/atomic.js';
import { bitrate, contextFrames, frameRate, hopLength, validateConfig, type CodecConfig } from './model/config.js';
import type { NamedArrays } from './model/params.js';
import { VqVae, withoutTrainingState } from './model/vqvae.js';
import type { Tokens } from './types.js';

export interface CodingOptions {
  /** Use the first n codebooks only (lower bitrate); default all. */
  numCodebooks?: number;
  /** Frames per chunk (default 500 = 10 s at 50 frames/s). */
  chunkFrames?: number;
}

export class Codec {
  private constructor(
    readonly model: VqVae,
    readonly fingerprint: string,
  ) {}

  /** A codec around a model in memory (fresh or being trained); the fingerprint is taken now. */
  static fromModel(model: VqVae): Codec {
    return new Codec(model, fingerprintOf(model.config, model.inferenceArrays()));
  }

  /** An untrained codec (random weights), e.g. for tests and benchmarks. */
  static create(config: CodecConfig, seed = 1): Codec {
    validateConfig(config);
    return Codec.fromModel(new VqVae(config, seed));
  }

  /** Loads `dir/config.json` and `dir/weights.bin`. */
  static async load(dir: string): Promise<Codec> {
    const configPath = path.join(dir, 'config.json');
    let text: string;
    try {
      text = await fs.readFile(configPath, 'utf8');
    } catch {
      throw new VqcodecError(`no model at ${dir} (expected config.json and weights.bin)`);
    }
    let config: CodecConfig;
    try {
      config = JSON.parse(text);
    } catch {
      throw new VqcodecError(`${configPath} is not valid JSON`);
    }
    validateConfig(config);
    const bundle = await readBundle(path.join(dir, 'weights.bin'));
    const model = new VqVae(config);
    try {
      model.loadArrays(bundle.arrays, path.join(dir, 'weights.bin'));
    } catch (err) {
      model.dispose();
      throw new VqcodecError((err as Error).message);
    }
    return new Codec(model, fingerprintOf(config, withoutTrainingState(bundle.arrays)));
  }

  /** Writes the model directory (each file atomically). */
  async save(dir: string): Promise<void> {
    await fs.mkdir(dir, { recursive: true });
    await writeFileAtomic(path.join(dir, 'config.json'), JSON.stringify(this.config, null, 2) + '\n');
    await writeBundle(path.join(dir, 'weights.bin'), {
      meta: { format: 'vqcodec-weights', version: 1, fingerprint: this.fingerprint },
      arrays: this.model.inferenceArrays(),
    });
  }

  get config(): CodecConfig {
    return this.model.config;
  }
  get sampleRate(): number {
    return this.config.sampleRate;
  }
  get hop(): number {
    return hopLength(this.config);
  }
  get frameRate(): number {
    return frameRate(this.config);
  }
  get numCodebooks(): number {
    return this.config.quantizer.numCodebooks;
  }
  get codebookSize(): number {
    return this.config.quantizer.codebookSize;
  }
  /** Nominal bits per second at n codebooks. */
  bitrate(numCodebooks = this.numCodebooks): number {
    return bitrate(this.config, numCodebooks);
  }

  /** Mono samples at the model's rate → tokens. */
  encode(samples: Float32Array, options: CodingOptions = {}): Tokens {
    const n = this.checkCodebooks(options.numCodebooks);
    const hop = this.hop;
    const frames = Math.max(1, Math.ceil(samples.length / hop));
    const padded = new Float32Array(frames * hop);
    padded.set(samples);
    const codes = new Int32Array(frames * n);
    this.forEachChunk(frames, options.chunkFrames, (lo, hi, keepFrom, keepTo) => {
      const chunk = tf.tensor2d(padded.subarray(lo * hop, hi * hop), [1, (hi - lo) * hop]);
      const out = this.model.encode(chunk, n);
      const data = out.dataSync();
      codes.set(data.subarray((keepFrom - lo) * n, (keepTo - lo) * n), keepFrom * n);
      tf.dispose([chunk, out]);
    });
    return {
      codes,
      frames,
      numCodebooks: n,
      codebookSize: this.codebookSize,
      hop,
      sampleRate: this.sampleRate,
      originalLength: samples.length,
      modelFingerprint: this.fingerprint,
    };
  }

  /** Tokens made by this model → samples of the original length (optionally from their first n codebooks only). */
  decode(tokens: Tokens, options: CodingOptions = {}): Float32Array {
    this.checkTokens(tokens);
    if (options.numCodebooks !== undefined && options.numCodebooks !== tokens.numCodebooks) {
      if (!(Number.isInteger(options.numCodebooks) && options.numCodebooks >= 1 && options.numCodebooks <= tokens.numCodebooks)) {
        throw new VqcodecError(`--codebooks must be an integer from 1 to ${tokens.numCodebooks} for these tokens (got ${options.numCodebooks})`);
      }
      tokens = firstCodebooks(tokens, options.numCodebooks);
    }
    const { frames, numCodebooks: n, hop } = tokens;
    const out = new Float32Array(frames * hop);
    this.forEachChunk(frames, options.chunkFrames, (lo, hi, keepFrom, keepTo) => {
      const chunk = tf.tensor3d(tokens.codes.subarray(lo * n, hi * n), [1, hi - lo, n], 'int32');
      const audio = this.model.decode(chunk);
      const data = audio.dataSync();
      out.set(data.subarray((keepFrom - lo) * hop, (keepTo - lo) * hop), keepFrom * hop);
      tf.dispose([chunk, audio]);
    });
    return out.slice(0, tokens.originalLength);
  }

  /** Calls `fn` for each chunk: frames [lo, hi) are computed, [keepFrom, keepTo) are kept. */
  private forEachChunk(frames: number, chunkFrames = 500, fn: (lo: number, hi: number, keepFrom: number, keepTo: number) => void): void {
    if (!(Number.isInteger(chunkFrames) && chunkFrames > 0)) throw new VqcodecError(`chunk size must be a positive integer (got ${chunkFrames})`);
    const context = contextFrames(this.config);
    for (let start = 0; start < frames; start += chunkFrames) {
      const end = Math.min(frames, start + chunkFrames);
      fn(Math.max(0, start - context), Math.min(frames, end + context), start, end);
    }
  }

  private checkCodebooks(n = this.numCodebooks): number {
    if (!(Number.isInteger(n) && n >= 1 && n <= this.numCodebooks)) {
      throw new VqcodecError(`--codebooks must be an integer from 1 to ${this.numCodebooks} for this model (got ${n})`);
    }
    return n;
  }

  private checkTokens(t: Tokens): void {
    if (t.modelFingerprint !== this.fingerprint) {
      throw new VqcodecError(`these tokens were made by model ${t.modelFingerprint}, but the loaded model is ${this.fingerprint}: decode them with the model that made them`);
    }
    if (t.sampleRate !== this.sampleRate || t.hop !== this.hop || t.codebookSize !== this.codebookSize) {
      throw new VqcodecError(`token header (rate ${t.sampleRate}, hop ${t.hop}, K ${t.codebookSize}) does not match the model (rate ${this.sampleRate}, hop ${this.hop}, K ${this.codebookSize})`);
    }
    if (t.numCodebooks < 1 || t.numCodebooks > this.numCodebooks) {
      throw new VqcodecError(`tokens use ${t.numCodebooks} codebooks; this model has ${this.numCodebooks}`);
    }
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** The same tokens restricted to their first n codebooks: a residual VQ stream at a lower bitrate. */
export function firstCodebooks(tokens: Tokens, n: number): Tokens {
  const codes = new Int32Array(tokens.frames * n);
  for (let f = 0; f < tokens.frames; f++) {
    codes.set(tokens.codes.subarray(f * tokens.numCodebooks, f * tokens.numCodebooks + n), f * n);
  }
  return { ...tokens, codes, numCodebooks: n };
}

/** 16 hex digits of SHA-256 over the config and every parameter, in a fixed order. */
export function fingerprintOf(config: CodecConfig, arrays: NamedArrays): string {
  const hash = createHash('sha256');
  hash.update(canonicalJson(config));
  for (const name of Object.keys(arrays).sort()) {
    const a = arrays[name];
    hash.update(name);
    hash.update(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength));
  }
  return hash.digest('hex').slice(0, 16);
}

/** JSON with object keys sorted, so equal configs hash equally whatever their key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
