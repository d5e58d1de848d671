/**
 * Data-parallel training across worker threads, to use every core: wasm's own threads
 * do not start in Node (see shared TFJS notes), so each worker runs its own wasm backend.
 *
 * Each step the main thread sends every worker the current weights and a shard of the
 * batch; all replicas (the main thread included) compute gradients and codebook
 * statistics on their shard; the main thread averages gradients (weighted by shard
 * size), adds statistics, and applies Adam and the codebook update to its model, which
 * stays the one source of truth (checkpoints and resume are unchanged).
 */
import * as tf from '@tensorflow/tfjs';
import { Worker } from 'node:worker_threads';
import { ResidualVectorQuantizer, mergeStatistics, type BatchStatistics } from '../model/quantizer.js';
import type { CodecConfig } from '../model/config.js';
import type { VqVae } from '../model/vqvae.js';
import type { Adam } from './adam.js';
import { applyGradients, computeGradients, initQuantizerIfNeeded, lossRecord, type LossWeights, type StepStats } from './step.js';

/** What a worker needs to compute one shard's gradients. */
export interface ShardRequest {
  weights: Float32Array;
  shard: Float32Array;
  rows: number;
  length: number;
  numActive: number;
  lossWeights: LossWeights;
  stftWindows: number[];
}

/** A worker's answer: gradients flattened in trainable order (absent ones marked), losses, statistics. */
export interface ShardReply {
  grads: Float32Array;
  present: boolean[];
  losses: Float32Array;
  stats: BatchStatistics;
  /** The worker's live tensor count after the step (a leak check). */
  tensors: number;
  error?: string;
}

/** Names of the parameters a replica needs to compute gradients (not the EMA training statistics). */
export function replicaParameterNames(model: VqVae): string[] {
  return model.params.names().filter((n) => !ResidualVectorQuantizer.isTrainingState(n));
}

/** Copies the replica parameters into one flat array (fixed order). */
export function packWeights(model: VqVae, names: string[]): Float32Array {
  const vars = names.map((n) => model.params.get(n));
  const out = new Float32Array(vars.reduce((s, v) => s + v.size, 0));
  let offset = 0;
  for (const v of vars) {
    out.set(v.dataSync() as Float32Array, offset);
    offset += v.size;
  }
  return out;
}

export function unpackWeights(model: VqVae, names: string[], flat: Float32Array): void {
  // Inside tidy: assign() shares the new tensor's data, and the tensor itself must be released.
  tf.tidy(() => {
    let offset = 0;
    for (const name of names) {
      const v = model.params.get(name);
      v.assign(tf.tensor(flat.subarray(offset, offset + v.size), v.shape, 'float32'));
      offset += v.size;
    }
  });
}

/**
 * The worker's entry: the compiled worker.js beside this file, or — when running the
 * TypeScript sources through tsx (tests, development) — a small module that registers
 * tsx in the worker first.
 */
function workerScript(): URL {
  if (!import.meta.url.endsWith('.ts')) return new URL('./worker.js', import.meta.url);
  const source = `const { register } = await import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}); register(); await import(${JSON.stringify(new URL('./worker.ts', import.meta.url).href)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(source)}`);
}

export class DataParallel {
  private constructor(
    private readonly workers: Worker[],
    private readonly names: string[],
  ) {}

  /** Starts `replicas − 1` worker threads (the main thread is a replica too). */
  static async start(model: VqVae, replicas: number, backend: string): Promise<DataParallel> {
    const workers: Worker[] = [];
    for (let i = 1; i < replicas; i++) {
      const worker = new Worker(workerScript(), { workerData: { config: model.config as CodecConfig, backend } });
      await new Promise<void>((resolve, reject) => {
        worker.once('message', (m: { ready?: boolean; error?: string }) => (m.ready ? resolve() : reject(new Error(m.error))));
        worker.once('error', reject);
      });
      workers.push(worker);
    }
    return new DataParallel(workers, replicaParameterNames(model));
  }

  /** Live tensor counts the workers reported after the last step. */
  workerTensors: number[] = [];

  get replicas(): number {
    return this.workers.length + 1;
  }

  /** One data-parallel step on `batch` ([rows, length] row-major). */
  async step(
    model: VqVae,
    optimizer: Adam,
    batch: Float32Array,
    rows: number,
    length: number,
    numActive: number,
    lossWeights: LossWeights,
    stftWindows: number[],
    random: () => number,
  ): Promise<StepStats> {
    const full = tf.tensor2d(batch, [rows, length]);
    initQuantizerIfNeeded(model, full, random);
    full.dispose();
    // Shards as equal as possible; the main thread takes the first.
    const sizes = Array.from({ length: this.replicas }, (_, i) => Math.floor(rows / this.replicas) + (i < rows % this.replicas ? 1 : 0));
    const starts = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
    const weights = packWeights(model, this.names);
    const replies = this.workers.map((worker, i) => {
      const w = i + 1;
      const request: ShardRequest = {
        weights: weights.slice(),
        shard: batch.slice(starts[w] * length, (starts[w] + sizes[w]) * length),
        rows: sizes[w],
        length,
        numActive,
        lossWeights,
        stftWindows,
      };
      return new Promise<ShardReply>((resolve, reject) => {
        worker.once('message', (reply: ShardReply) => (reply.error ? reject(new Error(reply.error)) : resolve(reply)));
        worker.postMessage(request, [request.weights.buffer as ArrayBuffer, request.shard.buffer as ArrayBuffer]);
      });
    });
    const mine = tf.tensor2d(batch.subarray(0, sizes[0] * length), [sizes[0], length]);
    const own = computeGradients(model, mine, numActive, lossWeights, stftWindows);
    mine.dispose();
    const others = await Promise.all(replies);
    this.workerTensors = others.map((r) => r.tensors);

    // Weighted mean of the shard gradients = the gradient of the full batch's mean loss.
    const vars = model.params.trainableVariables();
    const grads: Record<string, tf.Tensor> = {};
    let offset = 0;
    for (const [index, [name, v]] of Object.entries(vars).entries()) {
      if (own.grads[name] !== undefined) {
        grads[name] = tf.tidy(() => {
          let sum = tf.mul(own.grads[name], sizes[0] / rows);
          others.forEach((reply, i) => {
            if (reply.present[index]) sum = tf.add(sum, tf.mul(tf.tensor(reply.grads.subarray(offset, offset + v.size), v.shape), sizes[i + 1] / rows));
          });
          return sum;
        });
      }
      offset += v.size;
    }
    const stats = mergeStatistics([own.stats, ...others.map((r) => r.stats)]);
    const { gradNorm, counts } = applyGradients(model, optimizer, grads, stats, own.residuals, random);
    const losses = new Float32Array(own.losses.length);
    [own.losses, ...others.map((r) => r.losses)].forEach((l, i) => l.forEach((v, j) => (losses[j] += (v * sizes[i]) / rows)));
    tf.dispose([...Object.values(grads), ...Object.values(own.grads), ...own.residuals]);
    return { ...lossRecord(losses), gradNorm, numActive, counts };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
