/**
 * The payload of a token file: its codes, bit-packed or range-coded under a probability
 * model, written and read frame block by frame block.
 *
 * - 'none': each code in ceil(log2 K) bits (tokens/bitpack.ts).
 * - 'context': frame-major, every code under the context model (./contextModel.ts).
 * - 'prior': the prior's codebooks in its delay-pattern order (step s holds codebook q of frame
 *   s − q, all of them predicted at once from the steps before), and each frame's remaining
 *   codebooks under the context model as soon as the frame's prior codebooks are known. When
 *   the file has codebooks beyond the prior's, the prior's codebooks are coded under an even
 *   mixture of the prior's probabilities and the context model's (PRIOR_MIX_WEIGHT). When the
 *   prior covers every codebook of the file, its probabilities are used alone and the file names
 *   no context model: with the shipped prior that costs fewer bits than the mixture, and the
 *   header is 4 bytes shorter. Files from before the mixture (priorWeight 1 with a context
 *   model) still decode.
 *
 * Multi-rate codes (tokens/codeStrides.ts) store one code per window: encoders take dense
 * frames and skip the repeats, decoders hand out dense frames, and the payload holds the
 * stored codes in time order (at frame t, every codebook with t mod stride = 0, lowest first),
 * context-coded from the dense frames around them. The prior does not code them yet.
 */
import { VqcodecError, check } from '../errors.js';
import { BitPacker, BitUnpacker, bitsPerCode } from '../tokens/bitpack.js';
import { isMultiRate, storedCodeCount, storedFrames, storesAt, stridesOf } from '../tokens/codeStrides.js';
import { DenseFrameBuilder, gatherStored, storedCodesBetween } from '../tokens/storedCodes.js';
import type { ContextModel } from './contextModel.js';
import { MAX_DROPPED_ZEROS, RangeDecoder, RangeEncoder, minPayloadBytes, quantizeProbabilities, type FrequencyTable } from './rangeCoder.js';

export type TokenCoding = 'none' | 'context' | 'prior';
export const TOKEN_CODINGS: readonly TokenCoding[] = ['none', 'context', 'prior'];

/** Next-step probabilities of a prior over delay-pattern steps, bit-identical everywhere (prior/exactPrior.ts). */
export interface StepPredictor {
  readonly numCodebooks: number;
  readonly codebookSize: number;
  /** Forget the history: the next probabilities are for step 0. */
  reset(): void;
  /** For each of the prior's codebooks, the probability of every code 0..K−1 at the next step. */
  probabilities(): Float64Array[];
  /** The step's tokens (the pad token K where the delay pattern has no code). */
  push(step: ArrayLike<number>): void;
}

/** The models a coding needs (the prior's fingerprint travels with it). */
export interface EntropyModels {
  context?: ContextModel;
  prior?: { predictor: StepPredictor; fingerprint: string };
}

/** What a file's payload was coded with, as its header records it. */
export interface PayloadCoding {
  coding: TokenCoding;
  /** ContextModel.id, for 'context', and for 'prior' unless the prior codes every codebook alone. */
  contextModelId?: number;
  /** The prior's fingerprint, for 'prior'; a prior coding alone is named by its first 8 hex digits (SHORT_PRIOR_ID_HEX). */
  priorFingerprint?: string;
  /**
   * 'prior' only: the prior's weight in the mixture with the context model for the prior's
   * codebooks. Absent is 1 (the prior alone: files written before the mixture, and the cost
   * of the prior by itself in `entropy measure`).
   */
  priorWeight?: number;
}

/** Hex digits of the prior id that files coded by the prior alone carry (the fingerprint's first 4 bytes). */
export const SHORT_PRIOR_ID_HEX = 8;

/** The prior's weight in what new prior-coded files mix (payload comment above). */
export const PRIOR_MIX_WEIGHT = 0.5;

interface Shape {
  frames: number;
  numCodebooks: number;
  codebookSize: number;
  /** Multi-rate codes only (Tokens.codeStrides). */
  codeStrides?: readonly number[];
}

/** Checks that `models` hold what `coding` needs for codes of this shape; returns the header's record of it. */
export function payloadCoding(coding: TokenCoding, shape: Shape, models: EntropyModels): PayloadCoding {
  if (coding === 'none') return { coding };
  if (coding === 'context') return { coding, contextModelId: needContext(models, shape, 'coding').id };
  check(!isMultiRate(shape.codeStrides), NO_MULTI_RATE_PRIOR);
  const prior = models.prior;
  if (prior === undefined) throw new VqcodecError('--entropy prior needs a prior (--prior DIR)');
  check(prior.predictor.codebookSize === shape.codebookSize, `the prior models ${prior.predictor.codebookSize} codes per codebook; these tokens have ${shape.codebookSize}`);
  if (shape.numCodebooks <= prior.predictor.numCodebooks) return { coding, priorFingerprint: prior.fingerprint.slice(0, SHORT_PRIOR_ID_HEX) };
  const context = needContext(models, shape, 'coding');
  return { coding, contextModelId: context.id, priorFingerprint: prior.fingerprint, priorWeight: PRIOR_MIX_WEIGHT };
}

const NO_MULTI_RATE_PRIOR = 'prior coding does not support multi-rate tokens yet';

function needContext(models: EntropyModels, shape: Shape, what: string): ContextModel {
  const context = models.context;
  if (context === undefined) throw new VqcodecError(`entropy ${what} needs the codec's context model (context-model.bin in the model folder)`);
  check(context.codebookSize === shape.codebookSize, `the context model has ${context.codebookSize} codes per codebook; these tokens have ${shape.codebookSize}`);
  check(context.numCodebooks >= shape.numCodebooks, `the context model covers ${context.numCodebooks} codebooks; these tokens have ${shape.numCodebooks}`);
  return context;
}

/** Checks that `models` are the ones a file's header names, with a message naming both. */
export function checkModelsFor(recorded: PayloadCoding, shape: Shape, models: EntropyModels, name: string): void {
  if (recorded.coding === 'none') return;
  if (recorded.contextModelId !== undefined) checkContextFor(recorded, shape, models, name);
  if (recorded.coding === 'prior') {
    const prior = models.prior;
    if (prior === undefined) throw new VqcodecError(`${name} is coded with prior ${recorded.priorFingerprint}: pass it with --prior DIR`);
    // A short id (coding 5) names the prior by its fingerprint's first digits.
    check(prior.fingerprint.startsWith(recorded.priorFingerprint ?? '?'), `${name} was coded with prior ${recorded.priorFingerprint}, not ${prior.fingerprint}`);
    check(prior.predictor.codebookSize === shape.codebookSize, `the prior models ${prior.predictor.codebookSize} codes per codebook; ${name} has ${shape.codebookSize}`);
    if (recorded.contextModelId === undefined) check(prior.predictor.numCodebooks >= shape.numCodebooks, `${name} has ${shape.numCodebooks} codebooks, more than its prior's ${prior.predictor.numCodebooks}`);
  }
}

function checkContextFor(recorded: PayloadCoding, shape: Shape, models: EntropyModels, name: string): void {
  const context = models.context;
  if (context === undefined) throw new VqcodecError(`${name} is entropy-coded with a context model; load the codec it was made with (its folder holds context-model.bin)`);
  check(
    context.id === recorded.contextModelId,
    `${name} was coded with context model ${hex8(recorded.contextModelId ?? 0)}, but this codec's is ${hex8(context.id)}`,
  );
  needContext(models, shape, 'decoding');
}

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

/** Writes a payload frame block by frame block: push, then finish once. */
export interface PayloadEncoder {
  /** Whole frames, frame-major; returns bytes ready to write (possibly none). */
  push(codes: Int32Array): Uint8Array;
  /** The last bytes. */
  finish(): Uint8Array;
}

/** Reads a payload's codes in blocks of whole frames. */
export interface PayloadDecoder {
  /** The next `frames` frames (fewer only at the end), frame-major. */
  next(frames: number): Int32Array;
}

export function payloadEncoder(recorded: PayloadCoding, shape: Shape, models: EntropyModels): PayloadEncoder {
  if (recorded.coding === 'none') {
    const packer = new BitPacker(bitsPerCode(shape.codebookSize));
    if (!isMultiRate(shape.codeStrides)) return { push: (codes) => packer.push(codes), finish: () => packer.finish() };
    const strides = shape.codeStrides!;
    let frame = 0;
    return {
      push(codes) {
        const stored = gatherStored(codes, frame, strides);
        frame += codes.length / strides.length;
        return packer.push(stored);
      },
      finish: () => packer.finish(),
    };
  }
  const coder = new FrameCoder(stridesOf(shape), models.context, models.prior?.predictor, recorded.coding === 'prior', recorded.priorWeight);
  return {
    push(codes) {
      coder.encodeFrames(codes);
      return new Uint8Array(0);
    },
    finish: () => coder.finishEncoding(shape.frames),
  };
}

/**
 * The ideal cost in bits of each codebook's codes under a coding (−Σ log2 of each code's
 * quantized probability: what the range coder gets within a few bytes), without coding them.
 */
export function payloadBits(recorded: PayloadCoding, shape: Shape, models: EntropyModels, codes: Int32Array): Float64Array {
  const strides = stridesOf(shape);
  if (recorded.coding === 'none') return Float64Array.from(strides, (s) => storedFrames(shape.frames, s) * bitsPerCode(shape.codebookSize));
  const bits = new Float64Array(shape.numCodebooks);
  const coder = new FrameCoder(strides, models.context, models.prior?.predictor, recorded.coding === 'prior', recorded.priorWeight, (q, table, s) => {
    bits[q]! += Math.log2(table.total / table.freq[s]!);
  });
  coder.encodeFrames(codes);
  coder.finishEncoding(shape.frames);
  return bits;
}

/**
 * `payload` holds the codes of `shape.frames` frames (a bit-packed one is read in blocks by the
 * caller; see tokenStream.ts). A range-coded payload that runs out before its codes do is refused
 * as corrupt, naming `name`.
 */
export function payloadDecoder(recorded: PayloadCoding, shape: Shape, models: EntropyModels, payload: Uint8Array, name = 'token file'): PayloadDecoder {
  const strides = stridesOf(shape);
  if (recorded.coding === 'none') {
    const unpacker = new BitUnpacker(bitsPerCode(shape.codebookSize));
    const bits = bitsPerCode(shape.codebookSize);
    // Multi-rate: the stored codes of the frames asked for, repeated into dense frames.
    const dense = isMultiRate(strides) ? new DenseFrameBuilder(strides, shape.frames) : undefined;
    let bitPos = 0;
    let done = 0;
    return {
      next(frames) {
        const count = Math.min(frames, shape.frames - done);
        const n = storedCodesBetween(done, done + count, strides);
        const endByte = Math.ceil((bitPos + n * bits) / 8);
        const codes = unpacker.push(payload.subarray(Math.ceil(bitPos / 8), endByte), n);
        bitPos = endByte * 8;
        done += count;
        return dense === undefined ? codes : dense.push(codes);
      },
    };
  }
  const coder = new FrameCoder(strides, models.context, models.prior?.predictor, recorded.coding === 'prior', recorded.priorWeight);
  coder.startDecoding(payload, shape.frames, name);
  return { next: (frames) => coder.decodeFrames(frames) };
}

/**
 * The range-coded orders of 'context' and 'prior', in one place so that encoding and decoding
 * visit the codes identically. Frames are kept only as far back as the models look. Multi-rate
 * frames code only their stored codes (the others repeat the frame before).
 */
class FrameCoder {
  private readonly Q: number;
  private readonly Qp: number; // codebooks coded by the prior (0 for 'context')
  private encoder?: RangeEncoder;
  private decoder?: RangeDecoder;
  private totalFrames = 0;
  private name = '';
  /** Frames whose prior codebooks are (partly) known but not yet all coded, oldest first, from frame `base`. */
  private window: Int32Array[] = [];
  private base = 0;
  private previous: Int32Array | undefined; // the last finished frame
  private step = 0; // next delay-pattern step
  private readonly pad: number;

  constructor(
    private readonly strides: readonly number[],
    /** Absent only when the prior codes every codebook, unmixed. */
    private readonly context: ContextModel | undefined,
    private readonly prior: StepPredictor | undefined,
    usePrior: boolean,
    /** The prior's weight in its mixture with the context model (PayloadCoding.priorWeight). */
    private readonly priorWeight = 1,
    /** Told of every symbol encoded (to measure costs). */
    private readonly onSymbol?: (q: number, table: FrequencyTable, symbol: number) => void,
  ) {
    check(!(usePrior && isMultiRate(strides)), NO_MULTI_RATE_PRIOR);
    this.Q = strides.length;
    this.Qp = usePrior && prior !== undefined ? Math.min(prior.numCodebooks, this.Q) : 0;
    check(context !== undefined || (this.Qp === this.Q && priorWeight === 1), 'a coding without a context model needs the prior to code every codebook alone');
    this.pad = context?.codebookSize ?? prior!.codebookSize;
    if (this.Qp > 0) this.prior!.reset();
  }

  encodeFrames(codes: Int32Array): void {
    this.encoder ??= new RangeEncoder();
    const Q = this.Q;
    for (let f = 0; f < codes.length / Q; f++) {
      this.window.push(codes.slice(f * Q, (f + 1) * Q));
      if (this.Qp === 0) this.finishFrame(false);
      else while (this.step < this.base + this.window.length) this.priorStep(false, Infinity);
    }
  }

  finishEncoding(frames: number): Uint8Array {
    this.encoder ??= new RangeEncoder();
    if (this.Qp > 0) while (this.base < frames) this.priorStep(false, frames);
    check(this.base === frames, `entropy coder: ${this.base} frames coded, but the header announces ${frames}`);
    // Never shorter than a reader's bound on the codes a payload can hold (see minPayloadBytes).
    return this.encoder.finish(minPayloadBytes(storedCodeCount(frames, this.strides)));
  }

  startDecoding(payload: Uint8Array, frames: number, name: string): void {
    this.decoder = new RangeDecoder(payload);
    this.totalFrames = frames;
    this.name = name;
  }

  decodeFrames(count: number): Int32Array {
    const want = Math.min(count, this.totalFrames - this.base);
    const out = new Int32Array(want * this.Q);
    let got = 0;
    const emit = (frame: Int32Array) => out.set(frame, got++ * this.Q);
    while (got < want) {
      // A whole stream is never read more than the dropped zeros past its end (see MAX_DROPPED_ZEROS).
      check(this.decoder!.overrun <= MAX_DROPPED_ZEROS, `${this.name} is corrupted: its payload ends before frame ${this.base} of ${this.totalFrames}`);
      if (this.Qp === 0) {
        this.window.push(new Int32Array(this.Q));
        emit(this.finishFrame(true));
      } else {
        const retired = this.priorStep(true, this.totalFrames);
        if (retired !== undefined) emit(retired);
      }
    }
    return out;
  }

  /** Codes one symbol with `table` (encoding or decoding) and returns it. */
  private code(q: number, table: FrequencyTable, decoding: boolean, symbol: number): number {
    if (decoding) return table.decode(this.decoder!);
    table.encode(this.encoder!, symbol);
    this.onSymbol?.(q, table, symbol);
    return symbol;
  }

  /**
   * One delay-pattern step: codebook q of frame step − q for each prior codebook, then the
   * context-coded rest of the frame this step completes. Frames up to `frames` exist.
   */
  private priorStep(decoding: boolean, frames: number): Int32Array | undefined {
    const s = this.step;
    const probs = this.prior!.probabilities();
    // Codebooks the file lacks are the pad token, as the delay pattern pads its edges.
    const tokens = new Int32Array(this.prior!.numCodebooks).fill(this.pad);
    for (let q = 0; q < this.Qp; q++) {
      const t = s - q;
      if (t < 0 || t >= frames) continue;
      if (decoding && t === this.base + this.window.length) this.window.push(new Int32Array(this.Q));
      const frame = this.window[t - this.base]!;
      frame[q] = this.code(q, quantizeProbabilities(this.priorWeight === 1 ? probs[q]! : this.mixture(probs[q]!, q, t, frame)), decoding, frame[q]!);
      tokens[q] = frame[q]!;
    }
    this.prior!.push(tokens);
    this.step++;
    // Frame s − Qp + 1 now has all its prior codebooks.
    return s - this.Qp + 1 === this.base && this.base < frames ? this.finishFrame(decoding) : undefined;
  }

  /**
   * The prior's probabilities for codebook q of frame t mixed with the context model's, whose
   * contexts (codebook q of frame t − 1, codebook q − 1 of frame t) the delay pattern has coded
   * already. Plain float64 + and ×, so encoder and decoder get the same bits.
   */
  private mixture(prior: Float64Array, q: number, t: number, frame: Int32Array): Float64Array {
    // Frame t − 1 is open still, or the last one retired (when q is the prior's last codebook).
    const before = t === 0 ? undefined : t - 1 >= this.base ? this.window[t - 1 - this.base] : this.previous;
    const table = this.context!.table(q, before?.[q] ?? -1, q > 0 ? frame[q - 1]! : -1);
    const w = this.priorWeight;
    const mixed = new Float64Array(prior.length);
    for (let k = 0; k < prior.length; k++) mixed[k] = w * prior[k]! + (1 - w) * (table.freq[k]! / table.total);
    return mixed;
  }

  /** Codes the context-model codebooks of the oldest open frame (frame `base`) and retires it. */
  private finishFrame(decoding: boolean): Int32Array {
    const frame = this.window.shift()!;
    for (let q = this.Qp; q < this.Q; q++) {
      if (!storesAt(this.base, this.strides[q]!)) {
        frame[q] = this.previous![q]!; // frame 0 stores every codebook
        continue;
      }
      const table = this.context!.table(q, this.previous?.[q] ?? -1, q > 0 ? frame[q - 1]! : -1);
      frame[q] = this.code(q, table, decoding, frame[q]!);
    }
    this.previous = frame;
    this.base++;
    return frame;
  }
}
