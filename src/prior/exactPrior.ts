/**
 * The token prior's forward pass in plain float64 JavaScript, one step at a time with a key/value
 * cache, for entropy coding: the encoder and the decoder must turn the prior's next-token
 * probabilities into the same integer frequencies, so the probabilities must be the same bits on
 * every machine and engine. tfjs kernels (float32, backend-dependent order, vendor exp/tanh) cannot
 * promise that; here every operation is a correctly rounded +, −, ×, ÷ or Math.sqrt, in a fixed
 * order, and exp, tanh, sin and cos come from ./exactMath.ts. The math is TokenPrior's
 * (src/prior/transformer.ts, src/prior/layers.ts): summed embeddings plus sinusoidal positions
 * within the window, pre-norm blocks (layer norm ε 1e-5, causal attention scaled by 1/√dₕ, GELU in
 * its tanh form), a final layer norm and one softmax head per codebook.
 *
 * The window. Positions count from the window's first step, so a cache cannot slide by one step
 * (every cached key would change). Instead, when a step arrives and the window already holds
 * `context` steps, the window restarts: it keeps its last ⌊context/2⌋ steps, recomputes their
 * cache at positions 0, 1, …, then takes the new step. The window thus holds between
 * ⌊context/2⌋ + 1 and `context` steps, and which ones is a function of the history's length alone
 * (windowStart below), so an encoder and a decoder that saw the same tokens agree. No start token
 * is put before a restarted window: training windows are cut anywhere in a file with positions
 * from 0 and no start step (src/prior/data.ts), and generate.ts's sliding window drops the start
 * step the same way once it is full; a start step would tell the model that a file begins here.
 */
import { VqcodecError } from '../errors.js';
import { cos, exp, sin, tanh } from './exactMath.js';
import { virtualCodebooks } from './superFrames.js';
import type { PriorConfig, TokenPrior } from './transformer.js';

const LAYER_NORM_EPSILON = 1e-5;
/** ln 10000, for the positions' 10000^(2i/d). */
const LN_10000 = 9.210340371976184;
/** √(2/π) of the tanh GELU: a correctly rounded ÷ and √ of a constant, the same everywhere. */
const GELU_SCALE = Math.sqrt(2 / Math.PI);

/**
 * The first history step in the window once `steps` steps are in (the start step counts as step 0):
 * 0 until the window holds `context`; after that it restarts with the last ⌊context/2⌋ steps plus
 * the new one whenever a step arrives at a full window.
 */
export function windowStart(steps: number, context: number): number {
  if (steps <= context) return 0;
  const keep = Math.floor(context / 2);
  // Steps since the first restart, and the window lengths cycle keep + 1 .. context.
  return steps - (keep + 1) - ((steps - context - 1) % (context - keep));
}

/** out = b + x·W for W [x.length, out.length] row-major; sums in order of the rows of W. */
function matVec(x: Float64Array, w: Float64Array, out: Float64Array, bias?: Float64Array): void {
  const n = out.length;
  if (bias === undefined) out.fill(0);
  else out.set(bias);
  for (let i = 0; i < x.length; i++) {
    const xi = x[i];
    const row = i * n;
    for (let j = 0; j < n; j++) out[j] += xi * w[row + j];
  }
}

/** out = (x − mean) / √(variance + ε) · gain + bias, with the population variance (tf.moments). */
function layerNorm(x: Float64Array, gain: Float64Array, bias: Float64Array, out: Float64Array): void {
  const n = x.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += x[i];
  const mean = sum / n;
  let squares = 0;
  for (let i = 0; i < n; i++) squares += (x[i] - mean) * (x[i] - mean);
  const deviation = Math.sqrt(squares / n + LAYER_NORM_EPSILON);
  for (let i = 0; i < n; i++) out[i] = ((x[i] - mean) / deviation) * gain[i] + bias[i];
}

/** GELU, tanh form (layers.ts's gelu): x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³))), in place. */
function gelu(x: Float64Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    x[i] = v * 0.5 * (tanh((v + v * v * v * 0.044715) * GELU_SCALE) + 1);
  }
}

/** softmax of x[from, from + n) into out[0, n): exp(x − max) / Σ, so large logits cannot overflow. */
function softmax(x: Float64Array, from: number, n: number, out: Float64Array): void {
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (x[from + i] > max) max = x[from + i];
  let sum = 0;
  for (let i = 0; i < n; i++) {
    out[i] = exp(x[from + i] - max);
    sum += out[i];
  }
  for (let i = 0; i < n; i++) out[i] /= sum;
}

/** Sinusoidal positions [context × width] as layers.ts's positions(0, context, width). */
function positionTable(context: number, width: number): Float64Array {
  const table = new Float64Array(context * width);
  for (let i = 0; i < width / 2; i++) {
    const frequency = exp(((2 * i) / width) * LN_10000);
    for (let t = 0; t < context; t++) {
      table[t * width + 2 * i] = sin(t / frequency);
      table[t * width + 2 * i + 1] = cos(t / frequency);
    }
  }
  return table;
}

interface Block {
  norm1Gain: Float64Array;
  norm1Bias: Float64Array;
  qkv: Float64Array;
  out: Float64Array;
  norm2Gain: Float64Array;
  norm2Bias: Float64Array;
  mlpIn: Float64Array;
  mlpInBias: Float64Array;
  mlpOut: Float64Array;
  mlpOutBias: Float64Array;
  /** Keys and values of the window's steps, [context × width] each. */
  keys: Float64Array;
  values: Float64Array;
}

/** Reusable buffers of one step's forward pass. */
class Scratch {
  readonly normed: Float64Array;
  readonly qkv: Float64Array;
  readonly attended: Float64Array;
  readonly projected: Float64Array;
  readonly hidden: Float64Array;
  readonly weights: Float64Array;
  readonly scores: Float64Array;
  constructor(width: number, context: number) {
    this.normed = new Float64Array(width);
    this.qkv = new Float64Array(3 * width);
    this.attended = new Float64Array(width);
    this.projected = new Float64Array(width);
    this.hidden = new Float64Array(4 * width);
    this.weights = new Float64Array(context);
    this.scores = new Float64Array(context);
  }
}

export class ExactPrior {
  /** Tokens per step: the prior's codebooks, or a super-frame's virtual codebooks for multi-rate codes (./superFrames.ts). */
  readonly numCodebooks: number;
  /** Multi-rate priors only: the strides of the codebooks modelled. */
  readonly codeStrides?: number[];
  readonly codebookSize: number;
  readonly context: number;
  private readonly width: number;
  private readonly heads: number;
  private readonly embeddings: Float64Array[];
  private readonly blocks: Block[];
  private readonly finalGain: Float64Array;
  private readonly finalBias: Float64Array;
  private readonly headWeights: Float64Array;
  private readonly positions: Float64Array;
  /** The tokens of the window's steps [context × Q], kept to recompute the cache on a restart. */
  private readonly windowTokens: Int32Array;
  /** Steps in the window (its cache rows), and the residual stream after the last of them. */
  private length = 0;
  private readonly last: Float64Array;
  private readonly scratch: Scratch;

  private constructor(config: PriorConfig, weight: (name: string) => Float64Array) {
    const { codebookSize: K, width: d, context, layers, heads } = config;
    const Q = virtualCodebooks(config);
    this.numCodebooks = Q;
    if (config.codeStrides !== undefined) this.codeStrides = [...config.codeStrides];
    this.codebookSize = K;
    this.context = context;
    this.width = d;
    this.heads = heads;
    this.embeddings = Array.from({ length: Q }, (_, q) => weight(`embed${q}`));
    this.blocks = Array.from({ length: layers }, (_, l) => {
      const b = (name: string) => weight(`block${l}.${name}`);
      return {
        norm1Gain: b('norm1.gain'),
        norm1Bias: b('norm1.bias'),
        qkv: b('qkv'),
        out: b('out'),
        norm2Gain: b('norm2.gain'),
        norm2Bias: b('norm2.bias'),
        mlpIn: b('mlp.in'),
        mlpInBias: b('mlp.inBias'),
        mlpOut: b('mlp.out'),
        mlpOutBias: b('mlp.outBias'),
        keys: new Float64Array(context * d),
        values: new Float64Array(context * d),
      };
    });
    this.finalGain = weight('final.gain');
    this.finalBias = weight('final.bias');
    this.headWeights = weight('heads');
    this.positions = positionTable(context, d);
    this.windowTokens = new Int32Array(context * Q);
    this.last = new Float64Array(d);
    this.scratch = new Scratch(d, context);
    this.reset();
  }

  /** Copies the prior's weights (float32, so exactly) into float64 arrays. */
  static fromPrior(prior: TokenPrior): ExactPrior {
    return new ExactPrior(prior.config, (name) => Float64Array.from(prior.params.get(name).dataSync() as Float32Array));
  }

  /** Forgets the history; the window then holds the start step (every codebook's token K). */
  reset(): void {
    this.length = 0;
    this.step(new Int32Array(this.numCodebooks).fill(this.codebookSize));
  }

  /** The next step's distribution over codes 0..K−1, one Float64Array(K) per codebook. */
  probabilities(): Float64Array[] {
    const { numCodebooks: Q, codebookSize: K } = this;
    const normed = this.scratch.normed;
    layerNorm(this.last, this.finalGain, this.finalBias, normed);
    // The heads have K outputs per codebook: the pad token has no logit, nothing to renormalise.
    const logits = new Float64Array(Q * K);
    matVec(normed, this.headWeights, logits);
    return Array.from({ length: Q }, (_, q) => {
      const p = new Float64Array(K);
      softmax(logits, q * K, K, p);
      return p;
    });
  }

  /** Appends a step's tokens (0..K−1, or K where the delay pattern pads). */
  push(stepTokens: ArrayLike<number>): void {
    const { numCodebooks: Q, codebookSize: K } = this;
    if (stepTokens.length !== Q) throw new VqcodecError(`a step holds ${Q} tokens, one per codebook (got ${stepTokens.length})`);
    for (let q = 0; q < Q; q++) {
      const t = stepTokens[q];
      if (!(Number.isInteger(t) && t >= 0 && t <= K)) throw new VqcodecError(`tokens are integers 0..${K} (${K} pads); got ${t} for codebook ${q}`);
    }
    if (this.length === this.context) this.restart();
    this.step(stepTokens);
  }

  /** Keeps the window's last ⌊context/2⌋ steps and recomputes their cache from position 0. */
  private restart(): void {
    const Q = this.numCodebooks;
    const keep = Math.floor(this.context / 2);
    const kept = this.windowTokens.slice((this.length - keep) * Q, this.length * Q);
    this.length = 0;
    for (let s = 0; s < keep; s++) this.step(kept.subarray(s * Q, (s + 1) * Q));
  }

  /** Runs one step at position `length` through the blocks, caching its keys and values. */
  private step(tokens: ArrayLike<number>): void {
    const { numCodebooks: Q, width: d } = this;
    const position = this.length;
    for (let q = 0; q < Q; q++) this.windowTokens[position * Q + q] = tokens[q];
    const x = this.last;
    x.set(this.embeddings[0].subarray(tokens[0] * d, (tokens[0] + 1) * d));
    for (let q = 1; q < Q; q++) for (let i = 0; i < d; i++) x[i] += this.embeddings[q][tokens[q] * d + i];
    for (let i = 0; i < d; i++) x[i] += this.positions[position * d + i];
    this.length = position + 1;
    for (const block of this.blocks) this.block(block, x, position);
  }

  /** One pre-norm block on the residual stream x (in place): x += attention(norm x); x += mlp(norm x). */
  private block(block: Block, x: Float64Array, position: number): void {
    const d = this.width;
    const { normed, qkv, attended, projected, hidden } = this.scratch;
    layerNorm(x, block.norm1Gain, block.norm1Bias, normed);
    matVec(normed, block.qkv, qkv);
    // qkv's columns are [queries | keys | values], each split into heads of d/heads (layers.ts's reshape).
    block.keys.set(qkv.subarray(d, 2 * d), position * d);
    block.values.set(qkv.subarray(2 * d, 3 * d), position * d);
    this.attend(qkv, block, attended);
    matVec(attended, block.out, projected);
    for (let i = 0; i < d; i++) x[i] += projected[i];
    layerNorm(x, block.norm2Gain, block.norm2Bias, normed);
    matVec(normed, block.mlpIn, hidden, block.mlpInBias);
    gelu(hidden);
    matVec(hidden, block.mlpOut, projected, block.mlpOutBias);
    for (let i = 0; i < d; i++) x[i] += projected[i];
  }

  /**
   * The newest step's query (qkv[0, d)) against every cached step (itself included: attention is
   * causal and the cache holds only the past): per head softmax(q·kₜ / √dₕ) · vₜ.
   */
  private attend(qkv: Float64Array, block: Block, out: Float64Array): void {
    const { width: d, length: steps } = this;
    const headWidth = d / this.heads;
    const scale = Math.sqrt(headWidth);
    const { scores, weights } = this.scratch;
    out.fill(0);
    for (let h = 0; h < this.heads; h++) {
      const lo = h * headWidth;
      for (let t = 0; t < steps; t++) {
        let dot = 0;
        for (let j = 0; j < headWidth; j++) dot += qkv[lo + j] * block.keys[t * d + lo + j];
        scores[t] = dot / scale;
      }
      softmax(scores, 0, steps, weights);
      for (let t = 0; t < steps; t++) {
        const w = weights[t];
        for (let j = 0; j < headWidth; j++) out[lo + j] += w * block.values[t * d + lo + j];
      }
    }
  }
}
