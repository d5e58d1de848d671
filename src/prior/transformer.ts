/**
 * The token prior: a decoder-only Transformer over frames of residual codes. Codebooks are
 * interleaved by MusicGen's delay pattern (codebook q shifted by q steps, src/tokens/delayPattern.ts),
 * so each step predicts one token per codebook with its own softmax head, and codebook q of a
 * frame is predicted after codebook q − 1 of the same frame is known. The delay costs Q − 1 steps
 * per sequence and no second model (a depth Transformer over a frame's codebooks would model them
 * jointly, at the cost of another network run per frame).
 *
 * A step's input is the sum of one embedding per codebook (token K, outside the codes, is the
 * padding of the delay pattern and the first step), plus sinusoidal positions within the window.
 * Over multi-rate codes a step is a super-frame and its codebooks are virtual (./superFrames.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { VqcodecError } from '../errors.js';
import { ParamStore, type ParamBudget } from '../model/params.js';
import { codeStridesProblem, isMultiRate } from '../tokens/codeStrides.js';
import { causalSelfAttention, embed, gelu, layerNorm, matMul, positions } from './layers.js';
import { virtualCodebooks } from './superFrames.js';

export interface PriorConfig {
  /** Codebooks modelled: the codec's first `numCodebooks`. */
  numCodebooks: number;
  /** The codec's K; token K is the padding / start token. */
  codebookSize: number;
  width: number;
  layers: number;
  heads: number;
  /** Steps the model attends over (training windows; generation slides a window this long). */
  context: number;
  /**
   * Multi-rate codes only (absent: every codebook at the frame rate): the codec's strides of the
   * modelled codebooks. The prior then runs over super-frames (./superFrames.ts), one token per
   * virtual codebook a step.
   */
  codeStrides?: number[];
}

/** A token file holds at most 255 codebooks. */
const MAX_PRIOR_CODEBOOKS = 255;
/** Far beyond any training window (attention is quadratic in it), small enough to size a cache by. */
const MAX_PRIOR_CONTEXT = 65536;

export function validatePriorConfig(c: PriorConfig): void {
  const positiveInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v > 0;
  const fail = (what: string): never => {
    throw new VqcodecError(`invalid prior config: ${what}`);
  };
  if (c === null || typeof c !== 'object' || Array.isArray(c)) fail('it must be a JSON object');
  for (const key of ['numCodebooks', 'codebookSize', 'width', 'layers', 'heads', 'context'] as const) if (!positiveInt(c[key])) fail(`${key} must be a positive integer (got ${c[key]})`);
  // Checked before anything is sized by them (the strides, a key/value cache); the weights cap the rest.
  if (c.numCodebooks > MAX_PRIOR_CODEBOOKS) fail(`numCodebooks must be at most ${MAX_PRIOR_CODEBOOKS}, as in token files (got ${c.numCodebooks})`);
  if (c.context > MAX_PRIOR_CONTEXT) fail(`context must be at most ${MAX_PRIOR_CONTEXT} steps (got ${c.context})`);
  if (c.width % c.heads !== 0 || (c.width / c.heads) % 2 !== 0) fail(`width must be an even multiple of heads (got width ${c.width}, heads ${c.heads})`);
  if (c.codeStrides !== undefined) {
    const problem = codeStridesProblem(c.codeStrides, c.numCodebooks);
    if (problem !== undefined) fail(problem);
    // Absent is single-rate, so a single-rate prior has one spelling (and one fingerprint).
    if (!isMultiRate(c.codeStrides)) fail(`codeStrides is for multi-rate codes only (got ${JSON.stringify(c.codeStrides)})`);
  }
  const V = virtualCodebooks(c);
  if (c.context <= V) fail(`context must exceed ${c.codeStrides ? `the ${V} virtual codebooks of a super-frame` : 'numCodebooks'} (got ${c.context})`);
}

/** Training-time dropout (Srivastava et al. 2014) of the embeddings and of each residual branch. */
export interface PriorDropout {
  rate: number;
  /** Seeds the masks, so a step's masks are a function of (seed, step): resume stays exact. */
  seed: string;
}

export class TokenPrior {
  readonly params: ParamStore;
  /** Tokens per step: numCodebooks, or a super-frame's virtual codebooks for multi-rate codes. */
  readonly virtualCodebooks: number;

  /** `budget` caps the parameters' values (a prior built to load a weights file: see ParamBudget). */
  constructor(readonly config: PriorConfig, seed = 1, budget?: ParamBudget) {
    validatePriorConfig(config);
    const { codebookSize: K, width: d, layers } = config;
    const Q = (this.virtualCodebooks = virtualCodebooks(config));
    this.params = new ParamStore(seed, budget);
    const p = this.params;
    for (let q = 0; q < Q; q++) p.uniform(`embed${q}`, [K + 1, d], d, 1);
    for (let l = 0; l < layers; l++) {
      p.fill(`block${l}.norm1.gain`, [d], 1);
      p.fill(`block${l}.norm1.bias`, [d], 0);
      p.uniform(`block${l}.qkv`, [d, 3 * d], d);
      // Residual branches start small (GPT-2 scales them by 1/√(2·layers)).
      p.uniform(`block${l}.out`, [d, d], d, 1 / Math.sqrt(2 * layers));
      p.fill(`block${l}.norm2.gain`, [d], 1);
      p.fill(`block${l}.norm2.bias`, [d], 0);
      p.uniform(`block${l}.mlp.in`, [d, 4 * d], d);
      p.fill(`block${l}.mlp.inBias`, [4 * d], 0);
      p.uniform(`block${l}.mlp.out`, [4 * d, d], 4 * d, 1 / Math.sqrt(2 * layers));
      p.fill(`block${l}.mlp.outBias`, [d], 0);
    }
    p.fill('final.gain', [d], 1);
    p.fill('final.bias', [d], 0);
    p.uniform('heads', [d, Q * K], d);
  }

  /** The padding / start token. */
  get pad(): number {
    return this.config.codebookSize;
  }

  /**
   * Logits [B, T, Q, K] for the step after each input step, from delayed tokens [B, T, Q]
   * (int32, 0..K). Positions count from the window's first step, in training windows cut from
   * anywhere in a file as in generation's sliding window. `dropout` is for training only.
   */
  logits(tokens: tf.Tensor3D, dropout?: PriorDropout): tf.Tensor4D {
    const { codebookSize: K, width: d, layers, heads } = this.config;
    const Q = this.virtualCodebooks;
    const [batch, steps] = tokens.shape;
    const p = (name: string) => this.params.get(name);
    const drop = <T extends tf.Tensor>(t: T, where: string): T => (dropout && dropout.rate > 0 ? (tf.dropout(t, dropout.rate, undefined, `${dropout.seed}/${where}`) as T) : t);
    return tf.tidy(() => {
      let x = drop(tf.add(tf.addN(tf.unstack(tokens, 2).map((ids, q) => embed(p(`embed${q}`) as tf.Tensor2D, ids))), positions(0, steps, d)) as tf.Tensor3D, 'embed');
      for (let l = 0; l < layers; l++) {
        const b = `block${l}.`;
        const attended = causalSelfAttention(layerNorm(x, p(`${b}norm1.gain`) as tf.Tensor1D, p(`${b}norm1.bias`) as tf.Tensor1D) as tf.Tensor3D, heads, p(`${b}qkv`) as tf.Tensor2D, p(`${b}out`) as tf.Tensor2D);
        x = tf.add(x, drop(attended, `${l}a`));
        const h = tf.reshape(layerNorm(x, p(`${b}norm2.gain`) as tf.Tensor1D, p(`${b}norm2.bias`) as tf.Tensor1D), [batch * steps, d]);
        const mlp = tf.add(matMul(gelu(tf.add(matMul(h, p(`${b}mlp.in`)), p(`${b}mlp.inBias`))), p(`${b}mlp.out`)), p(`${b}mlp.outBias`));
        x = tf.add(x, drop(tf.reshape(mlp, [batch, steps, d]), `${l}m`));
      }
      const h = tf.reshape(layerNorm(x, p('final.gain') as tf.Tensor1D, p('final.bias') as tf.Tensor1D), [batch * steps, d]);
      return tf.reshape(matMul(h, p('heads')), [batch, steps, Q, K]) as tf.Tensor4D;
    });
  }

  /**
   * Mean cross-entropy in nats per token of predicting `tokens` [B, T + 1, Q] step by step: inputs
   * are steps 0..T−1, targets steps 1..T; padding targets (token K) are left out.
   */
  loss(tokens: tf.Tensor3D, dropout?: PriorDropout): tf.Scalar {
    return tf.tidy(() => {
      const { nll, real } = this.targetLosses(tokens, dropout);
      return tf.div(tf.sum(tf.mul(nll, real)), tf.maximum(tf.sum(real), 1)) as tf.Scalar;
    });
  }

  /** As `loss`, per codebook: [2, Q], the summed nats of each codebook's targets and how many there were. */
  lossByCodebook(tokens: tf.Tensor3D): tf.Tensor2D {
    return tf.tidy(() => {
      const { nll, real } = this.targetLosses(tokens);
      const perCodebook = (x: tf.Tensor) => tf.sum(tf.reshape(x, [-1, this.virtualCodebooks]), 0);
      return tf.stack([perCodebook(tf.mul(nll, real)), perCodebook(real)]) as tf.Tensor2D;
    });
  }

  /** Each target's cross-entropy in nats and whether it is a code (1) or padding (0), flat [B·T·Q]. */
  private targetLosses(tokens: tf.Tensor3D, dropout?: PriorDropout): { nll: tf.Tensor1D; real: tf.Tensor1D } {
    const { codebookSize: K } = this.config;
    const [batch, total, Q] = tokens.shape;
    const inputs = tf.slice(tokens, [0, 0, 0], [batch, total - 1, Q]) as tf.Tensor3D;
    const targets = tf.reshape(tf.slice(tokens, [0, 1, 0], [batch, total - 1, Q]), [-1]) as tf.Tensor1D;
    const logits = tf.reshape(this.logits(inputs, dropout), [-1, K]);
    const real = tf.cast(tf.less(targets, K), 'float32') as tf.Tensor1D;
    // Padding targets point at class 0 with weight 0, so oneHot stays K wide.
    const onehot = tf.oneHot(tf.mul(targets, tf.cast(real, 'int32')), K).toFloat();
    const nll = tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), onehot), -1)) as tf.Tensor1D;
    return { nll, real };
  }

  dispose(): void {
    this.params.dispose();
  }
}
