/**
 * The codec as a library: load a model directory, turn samples into tokens and back.
 * Long inputs are coded in overlapping chunks, so memory is bounded by the chunk size
 * and the result equals coding the whole input at once.
 *
 * Nothing here touches the file system, so the browser page bundles this module: `fromFiles`
 * takes a model folder's bytes; `load` and `save` (Node only) bring in ./io/modelStore.ts and
 * node:fs on first use, by a dynamic import.
 */
import * as tf from '@tensorflow/tfjs';
import { ContextModel } from './entropy/contextModel.js';
import { chunkPlan, firstFrameRead, planChunks, readyChunks, type Chunk, type ChunkPlan } from './chunks.js';
import { VqcodecError } from './errors.js';
import type { Precision } from './io/bundle.js';
import { CONTEXT_MODEL_FILE, modelFingerprint, modelFromFiles, roundWeightsToHalf, type ModelFiles } from './io/modelFormat.js';
import { bitrate, frameRate, hopLength, tokenCodeStrides, validateConfig, type CodecConfig } from './model/config.js';
import { maxStride, stridesOf } from './tokens/codeStrides.js';
import { VqVae } from './model/vqvae.js';
import { SlidingBuffer } from './slidingBuffer.js';
import type { Tokens } from './types.js';

/** A token stream's header: everything in Tokens but the codes (as in a .vqt file's header). */
export type TokenStreamHeader = Omit<Tokens, 'codes'>;

/** Blocks of a stream, synchronous or not. */
export type BlockSource<T> = AsyncIterable<T> | Iterable<T>;

export interface CodingOptions {
  /** Use the first n codebooks only (lower bitrate); default all. */
  numCodebooks?: number;
  /** Frames per chunk (default 500 = 10 s at 50 frames/s). */
  chunkFrames?: number;
}

export { CONTEXT_MODEL_FILE };

/** The contents of a model folder's files. */
export interface CodecFiles extends ModelFiles {
  /** context-model.bin, when the folder has one. */
  contextModel?: Uint8Array;
}

/** Names of the files in error messages. */
export interface CodecFileNames {
  config?: string;
  weights?: string;
  contextModel?: string;
  training?: string;
}

export class Codec {
  /** Token statistics for entropy-coded files (`dir/context-model.bin`), when the model folder has them. */
  contextModel?: ContextModel;

  private constructor(
    readonly model: VqVae,
    readonly fingerprint: string,
  ) {}

  /** A codec around a model in memory (fresh or being trained); the fingerprint is taken now. */
  static fromModel(model: VqVae): Codec {
    return new Codec(model, modelFingerprint(model));
  }

  /** Rounds a model's weights to float16 in place (a new model, with a new fingerprint), then wraps it. */
  static fromModelAtHalfPrecision(model: VqVae): Codec {
    roundWeightsToHalf(model);
    return Codec.fromModel(model);
  }

  /** An untrained codec (random weights), e.g. for tests and benchmarks. */
  static create(config: CodecConfig, seed = 1): Codec {
    validateConfig(config);
    return Codec.fromModel(new VqVae(config, seed));
  }

  /**
   * A codec from the contents of a model folder's files (no file access: the browser's way in):
   * config.json, weights.bin and, optionally, context-model.bin. `names` label the files in errors.
   */
  static fromFiles(files: CodecFiles, names: CodecFileNames = {}): Codec {
    const { model, fingerprint } = modelFromFiles(files, names);
    const codec = new Codec(model, fingerprint);
    if (files.contextModel !== undefined) {
      try {
        codec.useContextModel(ContextModel.parse(files.contextModel, names.contextModel ?? CONTEXT_MODEL_FILE));
      } catch (err) {
        model.dispose();
        throw err;
      }
    }
    return codec;
  }

  /** Loads a model directory (`dir/config.json`, `dir/weights.bin` and `dir/context-model.bin` if there; Node only). */
  static async load(dir: string): Promise<Codec> {
    const { readCodecFiles } = await import('./io/modelStore.js');
    const { files, names } = await readCodecFiles(dir);
    return Codec.fromFiles(files, names);
  }

  /** Attaches token statistics fitted on this codec's tokens (refuses another codec's). */
  useContextModel(context: ContextModel): void {
    if (context.codecFingerprint !== this.fingerprint) {
      throw new VqcodecError(`the context model was fitted on tokens of codec ${context.codecFingerprint}, not this codec (${this.fingerprint})`);
    }
    if (context.codebookSize !== this.codebookSize) throw new VqcodecError(`the context model has ${context.codebookSize} codes per codebook; the codec has ${this.codebookSize}`);
    this.contextModel = context;
  }

  /**
   * Writes the model directory (each file atomically). Precision 'float16' halves weights.bin; it
   * needs weights that float16 holds exactly (see fromModelAtHalfPrecision), so that the saved model
   * has this codec's fingerprint and decodes its tokens.
   */
  async save(dir: string, precision: Precision = 'float32'): Promise<void> {
    const { saveModel } = await import('./io/modelStore.js');
    return saveModel(dir, this.model, this.fingerprint, precision);
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
    const plan = this.encodePlan(options.chunkFrames);
    const hop = this.hop;
    const frames = Math.max(1, Math.ceil(samples.length / hop));
    const padded = new Float32Array(frames * hop);
    padded.set(samples);
    const codes = new Int32Array(frames * n);
    for (const chunk of planChunks(frames, plan)) {
      codes.set(this.encodeChunk(padded.subarray(chunk.lo * hop, chunk.hi * hop), chunk, n), chunk.keepFrom * n);
    }
    return { codes, ...this.tokenHeader(samples.length, n) };
  }

  /** The header `encode` would give `length` samples (frames, rates, fingerprint) at n codebooks. */
  tokenHeader(length: number, numCodebooks?: number): TokenStreamHeader {
    const n = this.checkCodebooks(numCodebooks);
    const codeStrides = tokenCodeStrides(this.config, n);
    return {
      frames: Math.max(1, Math.ceil(length / this.hop)),
      numCodebooks: n,
      codebookSize: this.codebookSize,
      hop: this.hop,
      sampleRate: this.sampleRate,
      originalLength: length,
      modelFingerprint: this.fingerprint,
      ...(codeStrides !== undefined ? { codeStrides } : {}),
    };
  }

  /** Frames per code of each codebook (all 1 unless the model has multi-rate codes). */
  get codeStrides(): number[] {
    return stridesOf(this.config.quantizer);
  }

  /**
   * Streaming encode: mono blocks at the model's rate (any sizes) → the codes of whole frames,
   * frame-major, one array per chunk. The concatenated codes equal `encode(all samples).codes`
   * exactly: each chunk is coded with the same context as in `encode`, as soon as its samples
   * and right context have arrived. Memory: about a chunk and its context of audio plus one
   * input block. Options are checked at once; the input is read when iterated.
   */
  encodeStream(blocks: BlockSource<Float32Array>, options: CodingOptions = {}): AsyncGenerator<Int32Array> {
    const n = this.checkCodebooks(options.numCodebooks);
    return this.encodeStreamGen(blocks, n, this.encodePlan(options.chunkFrames));
  }

  private async *encodeStreamGen(blocks: BlockSource<Float32Array>, n: number, plan: ChunkPlan): AsyncGenerator<Int32Array> {
    const hop = this.hop;
    const audio = new SlidingBuffer((length) => new Float32Array(length), framesHeld(plan) * hop);
    let start = 0; // first frame of the next chunk
    const code = (chunk: Chunk): Int32Array => {
      const codes = this.encodeChunk(audio.view(chunk.lo * hop, chunk.hi * hop), chunk, n);
      start = chunk.keepTo;
      audio.dropBefore(firstFrameRead(start, plan) * hop);
      return codes;
    };
    for await (const block of blocks) {
      audio.append(block);
      // The total length is not known yet, only that it has at least the frames already here.
      for (const chunk of readyChunks(start, Math.floor(audio.length / hop), Infinity, plan)) yield code(chunk);
    }
    // The end: the same zero padding to whole frames and the same last chunks as `encode`.
    const frames = Math.max(1, Math.ceil(audio.length / hop));
    audio.append(new Float32Array(frames * hop - audio.length));
    for (const chunk of readyChunks(start, frames, frames, plan)) yield code(chunk);
  }

  /** Codes of the chunk's kept frames from the audio of the frames it reads. */
  private encodeChunk(audio: Float32Array, chunk: Chunk, n: number): Int32Array {
    const input = tf.tensor2d(audio, [1, audio.length]);
    const out = this.model.encode(input, n);
    const data = out.dataSync() as Int32Array;
    const codes = data.slice((chunk.keepFrom - chunk.lo) * n, (chunk.keepTo - chunk.lo) * n);
    tf.dispose([input, out]);
    return codes;
  }

  /** Tokens made by this model → samples of the original length (optionally from their first n codebooks only). */
  decode(tokens: Tokens, options: CodingOptions = {}): Float32Array {
    const n = this.checkDecodeOptions(tokens, options);
    const plan = this.decodePlan(options.chunkFrames);
    const codes = n === tokens.numCodebooks ? tokens.codes : keepFirstCodebooks(tokens.codes, tokens.numCodebooks, n);
    const { frames, hop } = tokens;
    const out = new Float32Array(frames * hop);
    for (const chunk of planChunks(frames, plan)) {
      out.set(this.decodeChunk(codes.subarray(chunk.lo * n, chunk.hi * n), chunk, n), chunk.keepFrom * hop);
    }
    return out.slice(0, tokens.originalLength);
  }

  /**
   * Streaming decode: a token header and the codes of its frames in blocks (frame-major, any
   * number of whole frames per block) → audio blocks whose concatenation equals
   * `decode({ ...header, codes })`. Memory: a chunk of codes and audio plus one input block.
   * The header and options are checked at once; a code source that ends early is an error.
   */
  decodeStream(header: TokenStreamHeader, codes: BlockSource<Int32Array>, options: CodingOptions = {}): AsyncGenerator<Float32Array> {
    const n = this.checkDecodeOptions(header, options);
    return this.decodeStreamGen(header, codes, n, this.decodePlan(options.chunkFrames));
  }

  private async *decodeStreamGen(header: TokenStreamHeader, source: BlockSource<Int32Array>, n: number, plan: ChunkPlan): AsyncGenerator<Float32Array> {
    const { frames, originalLength } = header;
    const q = header.numCodebooks;
    const codes = new SlidingBuffer((length) => new Int32Array(length), framesHeld(plan) * n); // the first n codebooks of each frame
    let start = 0; // first frame of the next chunk
    let emitted = 0; // samples yielded
    for await (const block of source) {
      if (block.length % q !== 0) throw new VqcodecError(`code blocks must hold whole frames of ${q} codes (got ${block.length} codes)`);
      const received = codes.length / n + block.length / q;
      if (received > frames) throw new VqcodecError(`the code stream has more than the ${frames} frames of its header`);
      codes.append(n === q ? block : keepFirstCodebooks(block, q, n));
      // The last block makes every remaining chunk ready.
      for (const chunk of readyChunks(start, received, frames, plan)) {
        const audio = this.decodeChunk(codes.view(chunk.lo * n, chunk.hi * n), chunk, n);
        const keep = Math.min(audio.length, originalLength - emitted);
        if (keep > 0) yield audio.subarray(0, keep);
        emitted += Math.max(0, keep);
        start = chunk.keepTo;
        codes.dropBefore(firstFrameRead(start, plan) * n);
      }
    }
    const received = codes.length / n;
    if (received !== frames) throw new VqcodecError(`the code stream ended after ${received} of ${frames} frames`);
  }

  /** Audio of the chunk's kept frames from the codes (n per frame) of the frames it reads. */
  private decodeChunk(codes: Int32Array, chunk: Chunk, n: number): Float32Array {
    const hop = this.hop;
    const input = tf.tensor3d(codes, [1, chunk.hi - chunk.lo, n], 'int32');
    const audio = this.model.decode(input);
    const data = audio.dataSync() as Float32Array;
    const out = data.slice((chunk.keepFrom - chunk.lo) * hop, (chunk.keepTo - chunk.lo) * hop);
    tf.dispose([input, audio]);
    return out;
  }

  /**
   * Chunks read the encoder's receptive field around the frames they keep. With multi-rate codes,
   * chunks keep and read whole windows of the coarsest codebook (chunk size and left context
   * rounded up to multiples of its stride), so each window's mean sees the same frames as when
   * the whole input is coded at once.
   */
  private encodePlan(chunkFrames: number | undefined): ChunkPlan {
    const window = maxStride(this.codeStrides);
    const { before, after } = this.model.encoderContext;
    const plan = chunkPlan({ before: roundUp(before, window), after }, chunkFrames);
    return { ...plan, chunkFrames: roundUp(plan.chunkFrames, window) };
  }

  /** Chunks read the decoder's receptive field around the frames they keep. */
  private decodePlan(chunkFrames: number | undefined): ChunkPlan {
    return chunkPlan(this.model.decoderContext, chunkFrames);
  }

  /** Checks tokens against this model and the codebook option; returns the codebooks to decode. */
  private checkDecodeOptions(tokens: TokenStreamHeader, options: CodingOptions): number {
    this.checkTokens(tokens);
    if (options.numCodebooks !== undefined && options.numCodebooks !== tokens.numCodebooks) {
      if (!(Number.isInteger(options.numCodebooks) && options.numCodebooks >= 1 && options.numCodebooks <= tokens.numCodebooks)) {
        throw new VqcodecError(`numCodebooks must be an integer from 1 to ${tokens.numCodebooks} for these tokens (got ${options.numCodebooks})`);
      }
      return options.numCodebooks;
    }
    return tokens.numCodebooks;
  }

  private checkCodebooks(n = this.numCodebooks): number {
    if (!(Number.isInteger(n) && n >= 1 && n <= this.numCodebooks)) {
      throw new VqcodecError(`numCodebooks must be an integer from 1 to ${this.numCodebooks} for this model (got ${n})`);
    }
    return n;
  }

  private checkTokens(t: TokenStreamHeader): void {
    if (t.modelFingerprint !== this.fingerprint) {
      throw new VqcodecError(`these tokens were made by model ${t.modelFingerprint}, but the loaded model is ${this.fingerprint}: decode them with the model that made them`);
    }
    if (t.sampleRate !== this.sampleRate || t.hop !== this.hop || t.codebookSize !== this.codebookSize) {
      throw new VqcodecError(`token header (rate ${t.sampleRate}, hop ${t.hop}, K ${t.codebookSize}) does not match the model (rate ${this.sampleRate}, hop ${this.hop}, K ${this.codebookSize})`);
    }
    if (t.numCodebooks < 1 || t.numCodebooks > this.numCodebooks) {
      throw new VqcodecError(`tokens use ${t.numCodebooks} codebooks; this model has ${this.numCodebooks}`);
    }
    const strides = tokenCodeStrides(this.config, t.numCodebooks);
    if (JSON.stringify(t.codeStrides) !== JSON.stringify(strides)) {
      throw new VqcodecError(`tokens have code strides ${JSON.stringify(t.codeStrides ?? 'none')}; this model's first ${t.numCodebooks} codebooks have ${JSON.stringify(strides ?? 'none')}`);
    }
  }

  dispose(): void {
    this.model.dispose();
  }
}

function roundUp(n: number, multiple: number): number {
  return Math.ceil(n / multiple) * multiple;
}

/** Frames a stream holds at a time: a chunk and its context. */
function framesHeld(plan: ChunkPlan): number {
  return plan.context.before + plan.chunkFrames + plan.context.after;
}

/** Frame-major codes of q codebooks → the first n codebooks of each frame. */
export function keepFirstCodebooks(codes: Int32Array, q: number, n: number): Int32Array {
  const frames = codes.length / q;
  const kept = new Int32Array(frames * n);
  for (let f = 0; f < frames; f++) kept.set(codes.subarray(f * q, f * q + n), f * n);
  return kept;
}
