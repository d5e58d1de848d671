/**
 * Residual vector quantization (SoundStream, 2021) over codebooks of codebook.ts.
 *
 * Each codebook snaps a D-dim vector to its nearest entry. The search has no gradient, so the
 * quantized output is z_e + sg[z_q − z_e] ("straight-through", van den Oord et al., 2017): its
 * value is z_q, its gradient flows to z_e unchanged. Codebook q quantizes what codebooks 0..q−1
 * left; only the first `numActive` take part, which is how quantizer dropout trains every prefix.
 *
 * With `lookupDim` set, codes are factorized as in DAC (Kumar et al., 2023): each codebook looks
 * up a learned low-dim projection of the residual by cosine similarity and projects its entry back
 * up. A low-dim, angle-only lookup spreads assignments over many more codes.
 *
 * With `codeStrides` set (multi-rate codes, SNAC: Siuzdak et al., 2024), codebook q quantizes
 * the mean of each window of strides[q] frames of its residual and its entry is repeated over
 * the window's frames, so coarse codebooks run below the frame rate. Its codes come out
 * repeated the same way (see tokens/codeStrides.ts), and decoding them needs nothing special.
 *
 * With `fsqLevels` set, each codebook is a fixed grid (finite scalar quantization, scalarCodebook.ts):
 * the projection down is bounded by tanh and rounded per dimension, straight through, and
 * projected back up. Nothing but the projections learns, so there is no codebook or commitment loss.
 */
import * as tf from '@tensorflow/tfjs';
import { Codebook, type CodebookStatistics } from './codebook.js';
import { ScalarCodebook } from './scalarCodebook.js';
import type { QuantizerSettings } from './config.js';
import { nearestByAngle, nearestCodes, unitRows } from './nearest.js';
import type { ParamStore } from './params.js';
import { stridesOf } from '../tokens/codeStrides.js';

/** Identity forward, zero gradient: the sg[·] of the VQ-VAE paper. */
export const stopGradient = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.clone(x),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as never) as unknown as <T extends tf.Tensor>(x: T) => T;

/** A learned linear map in and out of a codebook's lookup space (factorized codes). */
class Projection {
  private readonly inW: tf.Variable;
  private readonly inB: tf.Variable;
  private readonly outW: tf.Variable;
  private readonly outB: tf.Variable;

  constructor(params: ParamStore, q: number, dim: number, lookupDim: number) {
    this.inW = params.uniform(`quantizer.project${q}.in.w`, [dim, lookupDim], dim);
    this.inB = params.fill(`quantizer.project${q}.in.b`, [lookupDim], 0);
    this.outW = params.uniform(`quantizer.project${q}.out.w`, [lookupDim, dim], lookupDim);
    this.outB = params.fill(`quantizer.project${q}.out.b`, [dim], 0);
  }

  down(x: tf.Tensor2D): tf.Tensor2D {
    return tf.add(tf.matMul(x, this.inW as tf.Tensor2D), this.inB);
  }

  up(x: tf.Tensor2D): tf.Tensor2D {
    return tf.add(tf.matMul(x, this.outW as tf.Tensor2D), this.outB);
  }
}

/** Per active codebook: assignment counts [K] and sums of assigned vectors [K·D], row-major. */
export interface BatchStatistics {
  counts: Float32Array[];
  sums: Float32Array[];
}

/** Adds replicas' statistics (same codebooks active in each). */
export function mergeStatistics(parts: BatchStatistics[]): BatchStatistics {
  const add = (arrays: Float32Array[]) => {
    const out = new Float32Array(arrays[0].length);
    for (const a of arrays) for (let i = 0; i < a.length; i++) out[i] += a[i];
    return out;
  };
  return {
    counts: parts[0].counts.map((_, q) => add(parts.map((p) => p.counts[q]))),
    sums: parts[0].sums.map((_, q) => add(parts.map((p) => p.sums[q]))),
  };
}

export interface QuantizeResult {
  /** Quantized vectors [N, D]: value Σ e_q, gradient straight through to z_e (factorized: through the projections). */
  quantized: tf.Tensor2D;
  /** int32 [N, numActive], one per frame (a multi-rate codebook's code repeated over its window). */
  codes: tf.Tensor2D;
  /** Each active codebook's codes, one per vector it quantized (per window, for multi-rate codes), matching `residuals`. */
  stageCodes: tf.Tensor1D[];
  /** Σ_q mean ||sg[r_q] − e_q||² (zero when codebooks are EMA-updated). */
  codebookLoss: tf.Scalar;
  /** β Σ_q mean ||r_q − sg[e_q]||². */
  commitmentLoss: tf.Scalar;
  /** The input r_q each codebook saw (factorized: its projection), gradient-free; the trainer keeps them for EMA and restarts. */
  residuals: tf.Tensor2D[];
}

/** One codebook's turn in the residual loop (at its own rate; the loop repeats codes and output over windows). */
interface Stage {
  codes: tf.Tensor1D;
  /** What it contributes to the output, in the latent space; the next codebook sees the residual less this. */
  output: tf.Tensor2D;
}

/** A stage's codes and output at the frame rate (repeated over windows for a multi-rate codebook). */
interface FrameRate {
  frameCodes: tf.Tensor1D;
  frameOutput: tf.Tensor2D;
}

/** A training turn also gives its losses and the (gradient-free) input its codebook saw. */
interface TrainingStage extends Stage {
  input: tf.Tensor2D;
  codebookLoss?: tf.Scalar;
  commitmentLoss: tf.Scalar;
}

export class ResidualVectorQuantizer {
  /** The learned codebooks (none when the codes are scalar). */
  readonly codebooks: Codebook[] = [];
  /** Each stage's code table: a learned codebook or a scalar grid. */
  private readonly tables: (Codebook | ScalarCodebook)[] = [];
  /** One per codebook when codes are factorized (lookupDim set) or scalar (fsqLevels set), else empty. */
  private readonly projections: Projection[] = [];
  /** 1 once the codebooks have been initialised from data (saved with the weights). */
  private readonly initialised: tf.Variable;

  /** Frames per code of each codebook (all 1 for single-rate codes). */
  readonly strides: number[];

  /** Registers each codebook's projection (if factorized) and then its parameters, codebook by codebook. */
  constructor(params: ParamStore, readonly config: QuantizerSettings) {
    this.strides = stridesOf(config);
    const { dim, lookupDim, numCodebooks, fsqLevels } = config;
    const nearest = lookupDim === undefined ? nearestCodes : nearestByAngle;
    const projectTo = fsqLevels?.length ?? lookupDim;
    for (let q = 0; q < numCodebooks; q++) {
      if (projectTo !== undefined) this.projections.push(new Projection(params, q, dim, projectTo));
      const table = fsqLevels ? new ScalarCodebook(fsqLevels, config.emaDecay) : new Codebook(params, q, config, nearest, this.strides[q]);
      if (table instanceof Codebook) this.codebooks.push(table);
      this.tables.push(table);
    }
    // A grid needs no k-means.
    this.initialised = params.fill('quantizer.initialised', [1], config.kmeansInit && !fsqLevels ? 0 : 1, false);
  }

  get numCodebooks(): number {
    return this.config.numCodebooks;
  }

  /** Each codebook's usage (EMA of assignments per step); checkpoints save them. */
  get usage(): Float32Array[] {
    return this.tables.map((c) => c.usage);
  }

  /** EMA statistics are training state: a shipped model leaves them out and they restart from the codebooks. */
  static isTrainingState(name: string): boolean {
    return Codebook.isTrainingState(name);
  }

  needsInit(): boolean {
    return this.initialised.dataSync()[0] === 0;
  }

  /**
   * Training forward: quantizes z [N, D] with the first `numActive` codebooks. `frames`: frames per
   * item (z holds N / frames items, frame-major), which multi-rate codes need to find their windows.
   */
  quantize(z: tf.Tensor2D, numActive = this.numCodebooks, frames = z.shape[0]): QuantizeResult {
    const stages = this.residualLoop(z, numActive, frames, (residual, q) => this.trainingStage(residual, q));
    let sum: tf.Tensor2D = tf.zerosLike(z);
    let codebookLoss: tf.Scalar = tf.scalar(0);
    let commitmentLoss: tf.Scalar = tf.scalar(0);
    for (const stage of stages) {
      sum = tf.add(sum, stage.frameOutput);
      if (stage.codebookLoss) codebookLoss = tf.add(codebookLoss, stage.codebookLoss);
      commitmentLoss = tf.add(commitmentLoss, stage.commitmentLoss);
    }
    // Straight-through: the value is Σ e_q, the decoder's gradient is copied to z unchanged.
    // Codebooks learn only from the codebook loss (or from EMA updates).
    const quantized = this.projections.length > 0 ? sum : (tf.add(z, stopGradient(tf.sub(sum, z))) as tf.Tensor2D);
    return {
      quantized,
      codes: tf.stack(stages.map((s) => s.frameCodes), 1) as tf.Tensor2D,
      stageCodes: stages.map((s) => s.codes),
      codebookLoss,
      commitmentLoss: tf.mul(commitmentLoss, this.config.commitmentWeight),
      residuals: stages.map((s) => s.input),
    };
  }

  /** Codes only (inference): int32 [N, numActive], one per frame; `frames` as in quantize. */
  encode(z: tf.Tensor2D, numActive = this.numCodebooks, frames = z.shape[0]): tf.Tensor2D {
    return tf.tidy(() => {
      const stages = this.residualLoop(z, numActive, frames, (residual, q) => {
        const codes = this.tables[q].codesOf(this.toLookupSpace(q, residual));
        return { codes, output: this.toLatent(q, codes) };
      });
      return tf.stack(stages.map((s) => s.frameCodes), 1) as tf.Tensor2D;
    });
  }

  /** Σ_q codebook_q[codes[:, q]] for however many codebooks `codes` has: [N, D] (multi-rate codes come repeated, so this repeats their entries). */
  decode(codes: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      let sum: tf.Tensor2D | undefined;
      for (let q = 0; q < codes.shape[1]; q++) {
        const e = this.toLatent(q, column(codes, q));
        sum = sum === undefined ? e : (tf.add(sum, e) as tf.Tensor2D);
      }
      return sum!;
    });
  }

  /** k-means initialisation of every codebook on one batch of encoder outputs, each on the residuals the previous ones leave; `frames` as in quantize. */
  initFromData(z: tf.Tensor2D, random: () => number, frames = z.shape[0]): void {
    tf.tidy(() => {
      this.residualLoop(z, this.numCodebooks, frames, (residual, q) => {
        // Factorized codes cluster the (unit-length) projections, by angle like the lookup.
        const points = this.projections.length > 0 ? unitRows(this.toLookupSpace(q, residual)) : residual;
        const codebook = this.tables[q];
        if (codebook instanceof Codebook) codebook.initFromData(points, random);
        const codes = codebook.codesOf(points);
        return { codes, output: this.toLatent(q, codes) };
      });
    });
    this.initialised.assign(tf.ones([1]));
  }

  /** Restarts every codebook's EMA statistics from its current entries (one assignment each). */
  resetStatistics(): void {
    for (const c of this.codebooks) c.resetStatistics();
  }

  /**
   * What one batch contributes to the codebooks: per active codebook, how many vectors chose each
   * code and their sum. Host arrays, so that data-parallel replicas can add theirs up before one update.
   */
  batchStatistics(residuals: tf.Tensor2D[], stageCodes: tf.Tensor1D[]): BatchStatistics {
    const parts: CodebookStatistics[] = residuals.map((r, q) => this.tables[q].statistics(r, stageCodes[q]!));
    return { counts: parts.map((p) => p.counts), sums: parts.map((p) => p.sums) };
  }

  /**
   * After an optimizer step: EMA codebook updates (when enabled), usage tracking and dead-code
   * restarts onto `recent` residuals, codebook by codebook. Returns the integer counts per codebook.
   */
  applyStatistics(stats: BatchStatistics, recent: tf.Tensor2D[], random: () => number): Int32Array[] {
    return stats.counts.map((counts, q) => this.tables[q].applyStatistics({ counts, sums: stats.sums[q] }, recent[q], random));
  }

  /** batchStatistics then applyStatistics, for a single process. */
  update(residuals: tf.Tensor2D[], stageCodes: tf.Tensor1D[], random: () => number): Int32Array[] {
    return this.applyStatistics(this.batchStatistics(residuals, stageCodes), residuals, random);
  }

  /**
   * Codebook q quantizes what codebooks 0..q−1 left of z, for q < numActive: a multi-rate codebook
   * the means of its windows (of items of `frames` frames), its output and codes then repeated
   * over each window's frames.
   */
  private residualLoop<S extends Stage>(z: tf.Tensor2D, numActive: number, frames: number, stage: (residual: tf.Tensor2D, q: number) => S): (S & FrameRate)[] {
    const stages: (S & FrameRate)[] = [];
    let residual = z;
    for (let q = 0; q < numActive; q++) {
      const stride = this.strides[q]!;
      const s = stride === 1 ? stage(residual, q) : stage(windowMeans(residual, frames, stride), q);
      const atFrames: FrameRate =
        stride === 1 ? { frameCodes: s.codes, frameOutput: s.output } : { frameCodes: repeatOverWindows(s.codes, frames, stride), frameOutput: repeatOverWindows(s.output, frames, stride) };
      stages.push({ ...s, ...atFrames });
      residual = tf.sub(residual, atFrames.frameOutput);
    }
    return stages;
  }

  private trainingStage(residual: tf.Tensor2D, q: number): TrainingStage {
    const projection = this.projections[q] as Projection | undefined;
    const input = this.toLookupSpace(q, residual);
    const held = stopGradient(input);
    const codebook = this.tables[q];
    const { chosen, codes } = codebook.lookup(held);
    const chosenHeld = stopGradient(chosen);
    const grid = codebook instanceof ScalarCodebook;
    return {
      codes,
      input: held,
      codebookLoss: this.config.ema || grid ? undefined : (tf.mean(tf.square(tf.sub(held, chosen))) as tf.Scalar),
      // A grid's input is bounded already: nothing to commit to.
      commitmentLoss: grid ? tf.scalar(0) : (tf.mean(tf.square(tf.sub(input, chosenHeld))) as tf.Scalar),
      // Factorized: straight-through inside the lookup space; the projections learn from the decoder's gradient.
      // Otherwise the next codebook sees what this one left; its error does not flow back into this one's choice.
      output: projection ? projection.up(tf.add(input, stopGradient(tf.sub(chosen, input)))) : chosenHeld,
    };
  }

  private toLookupSpace(q: number, x: tf.Tensor2D): tf.Tensor2D {
    if (this.projections.length === 0) return x;
    const down = this.projections[q].down(x);
    return this.config.fsqLevels ? ScalarCodebook.bound(down) : down;
  }

  /** Codebook q's entries for `codes`, in the latent space (projected up when factorized). */
  private toLatent(q: number, codes: tf.Tensor1D): tf.Tensor2D {
    const e = this.tables[q].entriesOf(codes);
    return this.projections.length > 0 ? this.projections[q].up(e) : e;
  }
}

/** Rows [items · frames, D] (or [items · frames]) → the mean of each window of `stride` frames, per item; a last partial window averages what it has. */
export function windowMeans(x: tf.Tensor2D, frames: number, stride: number): tf.Tensor2D {
  const items = x.shape[0] / frames;
  const dim = x.shape[1];
  const windows = Math.ceil(frames / stride);
  const padded = tf.pad(tf.reshape(x, [items, frames, dim]), [[0, 0], [0, windows * stride - frames], [0, 0]]);
  const sums = tf.sum(tf.reshape(padded, [items, windows, stride, dim]), 2);
  const sizes = Float32Array.from({ length: windows }, (_, w) => Math.min(stride, frames - w * stride));
  return tf.reshape(tf.div(sums, tf.tensor3d(sizes, [1, windows, 1])), [items * windows, dim]);
}

/** Per-window rows [items · windows, D] or codes [items · windows] → repeated over each window's frames: [items · frames, …]. */
export function repeatOverWindows<T extends tf.Tensor1D | tf.Tensor2D>(x: T, frames: number, stride: number): T {
  const windows = Math.ceil(frames / stride);
  const items = x.shape[0] / windows;
  const dim = x.rank === 2 ? x.shape[1]! : 1;
  const tiled = tf.tile(tf.reshape(x, [items, windows, 1, dim]), [1, 1, stride, 1]);
  const cut = tf.slice(tf.reshape(tiled, [items, windows * stride, dim]), [0, 0, 0], [items, frames, dim]);
  return (x.rank === 2 ? tf.reshape(cut, [items * frames, dim]) : tf.reshape(cut, [items * frames])) as T;
}

/** Column q of codes [N, Q] as [N]. */
function column(codes: tf.Tensor2D, q: number): tf.Tensor1D {
  return tf.reshape(tf.slice(codes, [0, q], [-1, 1]), [-1]) as tf.Tensor1D;
}
