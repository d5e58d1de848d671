/**
 * Sampling codes from a TokenPrior, unconditionally or continuing a prompt: one delayed step at a
 * time (each codebook from its own head, with temperature and top-k), where the delay pattern
 * leaves a codebook's token unknown; the prompt's tokens and the pattern's padding are forced.
 * Without a key/value cache each step reruns the window (at most `context` steps): simple, and
 * fast enough for the small priors that run here.
 */
import * as tf from '@tensorflow/tfjs';
import { VqcodecError } from '../errors.js';
import { Random } from '../train/random.js';
import type { TokenPrior } from './transformer.js';

export interface GenerateOptions {
  /** Frames to produce in all, the prompt's included. */
  frames: number;
  /** Softmax temperature; 0 picks the most likely token. */
  temperature?: number;
  /** Sample only among the k most likely tokens (default: all). */
  topK?: number;
  seed?: number;
  /** Frame-major codes of the prompt's first frames (prior.numCodebooks per frame). */
  prompt?: Int32Array;
  /** After each delayed step. */
  onStep?(step: number, steps: number): void;
}

/** Frame-major codes [frames × Q] sampled from the prior. */
export function generate(prior: TokenPrior, options: GenerateOptions): Int32Array {
  const { numCodebooks: Q, codebookSize: K, context } = prior.config;
  const { frames, temperature = 1, topK, seed = 1, prompt = new Int32Array(0) } = options;
  if (!(Number.isInteger(frames) && frames > 0)) throw new VqcodecError(`frames to generate must be a positive integer (got ${frames})`);
  if (!(temperature >= 0)) throw new VqcodecError(`temperature must be ≥ 0 (got ${temperature})`);
  if (topK !== undefined && !(Number.isInteger(topK) && topK >= 1)) throw new VqcodecError(`top-k must be a positive integer (got ${topK})`);
  if (prompt.length % Q !== 0) throw new VqcodecError(`a prompt holds whole frames of ${Q} codes (got ${prompt.length})`);
  const promptFrames = prompt.length / Q;
  if (promptFrames > frames) throw new VqcodecError(`the prompt (${promptFrames} frames) is longer than the output (${frames})`);
  const random = new Random(seed);
  const steps = frames + Q - 1;
  // grid[0] is the start step; grid[s + 1] is delayed step s: codebook q there holds frame s − q.
  const grid = new Int32Array((steps + 1) * Q).fill(K);
  const known = (s: number, q: number) => s - q < 0 || s - q >= frames || s - q < promptFrames;
  for (let s = 0; s < steps; s++) {
    for (let q = 0; q < Q; q++) if (s - q >= 0 && s - q < promptFrames) grid[(s + 1) * Q + q] = prompt[(s - q) * Q + q];
    const open = Array.from({ length: Q }, (_, q) => q).filter((q) => !known(s, q));
    if (open.length > 0) {
      const lo = Math.max(0, s + 1 - context);
      const logits = tf.tidy(() => {
        const window = tf.tensor3d(grid.subarray(lo * Q, (s + 1) * Q), [1, s + 1 - lo, Q], 'int32');
        const all = prior.logits(window);
        return tf.reshape(tf.slice(all, [0, s - lo, 0, 0], [1, 1, Q, K]), [Q, K]);
      });
      const values = logits.dataSync() as Float32Array;
      logits.dispose();
      for (const q of open) grid[(s + 1) * Q + q] = sampleToken(values.subarray(q * K, (q + 1) * K), temperature, topK, random);
    }
    options.onStep?.(s + 1, steps);
  }
  // Undo the delay: frame f of codebook q sits at delayed step f + q.
  const codes = new Int32Array(frames * Q);
  for (let f = 0; f < frames; f++) for (let q = 0; q < Q; q++) codes[f * Q + q] = grid[(f + q + 1) * Q + q];
  return codes;
}

/** One token from logits: argmax at temperature 0, else softmax(logits / T) over the top k. */
export function sampleToken(logits: Float32Array, temperature: number, topK: number | undefined, random: Random): number {
  const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
  if (temperature === 0) return order[0];
  const pool = order.slice(0, topK ?? order.length);
  const top = logits[pool[0]];
  const weights = pool.map((i) => Math.exp((logits[i] - top) / temperature));
  let u = random.next() * weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < pool.length; i++) {
    u -= weights[i];
    if (u <= 0) return pool[i];
  }
  return pool[pool.length - 1];
}
