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
import { firstUnrepeatedCode, stridesOf } from '../tokens/codeStrides.js';
import { fromSuperFrames, superFrameCount, superFrameLayout, virtualCodebookCount } from './superFrames.js';
import type { PriorConfig, TokenPrior } from './transformer.js';

export interface GenerateOptions {
  /** Frames to produce in all, the prompt's included. */
  frames: number;
  /** Softmax temperature; 0 picks the most likely token. */
  temperature?: number;
  /** Sample only among the k most likely tokens (default: all). */
  topK?: number;
  seed?: number;
  /** Frame-major codes of the prompt's first frames (prior.numCodebooks per frame; dense for multi-rate codes). */
  prompt?: Int32Array;
  /** After each delayed step. */
  onStep?(step: number, steps: number): void;
}

/** Delayed steps `generate` runs for `frames` frames (its onStep's total). */
export function generationSteps(config: PriorConfig, frames: number): number {
  const strides = stridesOf(config);
  return superFrameCount(frames, strides) + virtualCodebookCount(strides) - 1;
}

/**
 * Frame-major codes [frames × Q] sampled from the prior (for multi-rate codes dense, each code
 * repeated over its window). Over multi-rate codes a step is a super-frame: a code whose window
 * starts inside the prompt is the prompt's (so a prompt that ends inside a coarse window keeps
 * that window's code, and the output's first frames are the prompt's codes exactly); one that
 * starts past the last frame is padding, as in training.
 */
export function generate(prior: TokenPrior, options: GenerateOptions): Int32Array {
  const { codebookSize: K, context } = prior.config;
  const strides = stridesOf(prior.config);
  const n = strides.length;
  const { span, codebook, offset } = superFrameLayout(strides);
  const V = codebook.length;
  const { frames, temperature = 1, topK, seed = 1, prompt = new Int32Array(0) } = options;
  if (!(Number.isInteger(frames) && frames > 0)) throw new VqcodecError(`frames to generate must be a positive integer (got ${frames})`);
  if (!(temperature >= 0)) throw new VqcodecError(`temperature must be ≥ 0 (got ${temperature})`);
  if (topK !== undefined && !(Number.isInteger(topK) && topK >= 1)) throw new VqcodecError(`top-k must be a positive integer (got ${topK})`);
  if (prompt.length % n !== 0) throw new VqcodecError(`a prompt holds whole frames of ${n} codes (got ${prompt.length})`);
  const promptFrames = prompt.length / n;
  if (promptFrames > frames) throw new VqcodecError(`the prompt (${promptFrames} frames) is longer than the output (${frames})`);
  const unrepeated = firstUnrepeatedCode(prompt, promptFrames, strides);
  if (unrepeated >= 0) throw new VqcodecError(`the prompt's code of codebook ${unrepeated % n} at frame ${Math.floor(unrepeated / n)} differs from its window's first frame (multi-rate codes repeat over their windows)`);
  const random = new Random(seed);
  const units = superFrameCount(frames, strides);
  const steps = units + V - 1;
  // grid[0] is the start step; grid[s + 1] is delayed step s: virtual codebook v there holds super-frame s − v.
  const grid = new Int32Array((steps + 1) * V).fill(K);
  // The frame where the window of virtual codebook v in super-frame u starts (u itself for single-rate codes).
  const start = (u: number, v: number) => u * span + offset[v]!;
  const known = (s: number, v: number) => s - v < 0 || s - v >= units || start(s - v, v) >= frames || start(s - v, v) < promptFrames;
  for (let s = 0; s < steps; s++) {
    for (let v = 0; v < V; v++) if (s - v >= 0 && s - v < units && start(s - v, v) < promptFrames) grid[(s + 1) * V + v] = prompt[start(s - v, v) * n + codebook[v]!]!;
    const open = Array.from({ length: V }, (_, v) => v).filter((v) => !known(s, v));
    if (open.length > 0) {
      const lo = Math.max(0, s + 1 - context);
      const logits = tf.tidy(() => {
        const window = tf.tensor3d(grid.subarray(lo * V, (s + 1) * V), [1, s + 1 - lo, V], 'int32');
        const all = prior.logits(window);
        return tf.reshape(tf.slice(all, [0, s - lo, 0, 0], [1, 1, V, K]), [V, K]);
      });
      const values = logits.dataSync() as Float32Array;
      logits.dispose();
      for (const v of open) grid[(s + 1) * V + v] = sampleToken(values.subarray(v * K, (v + 1) * K), temperature, topK, random);
    }
    options.onStep?.(s + 1, steps);
  }
  // Undo the delay (super-frame u of virtual codebook v sits at delayed step u + v), then the super-frames.
  const superFrames = new Int32Array(units * V);
  for (let u = 0; u < units; u++) for (let v = 0; v < V; v++) superFrames[u * V + v] = grid[(u + v + 1) * V + v]!;
  return fromSuperFrames(superFrames, frames, strides);
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
