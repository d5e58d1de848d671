/**
 * Data-parallel training across worker threads, to use every core: wasm's own threads
 * do not start in Node (see shared TFJS notes), so each worker runs its own wasm backend.
 *
 * Each step the main thread sends every worker the current weights and a shard of the
 * batch; all replicas (the main thread included) compute gradients and codebook
 * statistics on their shard; the main thread averages gradients (weighted by shard
 * size), adds statistics, and applies Adam and the codebook update to its model, which
 * stays the one source of truth (checkpoints and resume are unchanged). In GAN training the
 * discriminator's weights travel and its gradients come back the same way.
 */
import * as tf from '@tensorflow/tfjs';
import { Worker } from 'node:worker_threads';
import { ResidualVectorQuantizer, mergeStatistics, type BatchStatistics } from '../model/quantizer.js';
import type { CodecConfig } from '../model/config.js';
import type { ParamStore } from '../model/params.js';
import type { VqVae } from '../model/vqvae.js';
import type { DiscriminatorShape } from './discriminator.js';
import { lossRecord } from './lossTerms.js';
import { applyGradients, computeGradients, initQuantizerIfNeeded, type LossSetup, type StepContext, type StepStats } from './step.js';

/** What a worker needs to compute one shard's gradients. */
export interface ShardRequest {
  weights: Float32Array;
  shard: Float32Array;
  rows: number;
  length: number;
  numActive: number;
  losses: LossSetup;
  /** The discriminator's trainable weights (GAN training only). */
  discriminatorWeights?: Float32Array;
}

/** A batch of equal-length crops, row-major. */
export interface Batch {
  samples: Float32Array;
  rows: number;
  length: number;
}

/** Gradients flattened in trainable order, with absent ones marked. */
export interface FlatGradients {
  grads: Float32Array;
  present: boolean[];
}

/** A worker's answer: gradients (and the discriminator's, in GAN training), losses, statistics. */
export interface ShardReply extends FlatGradients {
  discriminator?: FlatGradients;
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

/** Copies the named parameters into one flat array (fixed order). */
export function packWeights(params: ParamStore, names: string[]): Float32Array {
  const vars = names.map((n) => params.get(n));
  const out = new Float32Array(vars.reduce((s, v) => s + v.size, 0));
  let offset = 0;
  for (const v of vars) {
    out.set(v.dataSync() as Float32Array, offset);
    offset += v.size;
  }
  return out;
}

export function unpackWeights(params: ParamStore, names: string[], flat: Float32Array): void {
  // Inside tidy: assign() shares the new tensor's data, and the tensor itself must be released.
  tf.tidy(() => {
    let offset = 0;
    for (const name of names) {
      const v = params.get(name);
      v.assign(tf.tensor(flat.subarray(offset, offset + v.size), v.shape, 'float32'));
      offset += v.size;
    }
  });
}

/** Flattens gradients by name in the order of `vars` (absent ones marked, their slots left 0). */
export function flattenGradients(vars: Record<string, tf.Variable>, grads: Record<string, tf.Tensor>): FlatGradients {
  const flat = new Float32Array(Object.values(vars).reduce((s, v) => s + v.size, 0));
  const present: boolean[] = [];
  let offset = 0;
  for (const [name, v] of Object.entries(vars)) {
    const g = grads[name];
    present.push(g !== undefined);
    if (g !== undefined) flat.set(g.dataSync() as Float32Array, offset);
    offset += v.size;
  }
  return { grads: flat, present };
}

/** The size-weighted mean of this replica's gradients and the workers' (the full batch's gradient). */
export function meanGradients(vars: Record<string, tf.Variable>, own: Record<string, tf.Tensor>, others: FlatGradients[], sizes: number[], rows: number): Record<string, tf.Tensor> {
  const mean: Record<string, tf.Tensor> = {};
  let offset = 0;
  for (const [index, [name, v]] of Object.entries(vars).entries()) {
    if (own[name] !== undefined) {
      mean[name] = tf.tidy(() => {
        let sum = tf.mul(own[name], sizes[0] / rows);
        others.forEach((reply, i) => {
          if (reply.present[index]) sum = tf.add(sum, tf.mul(tf.tensor(reply.grads.subarray(offset, offset + v.size), v.shape), sizes[i + 1] / rows));
        });
        return sum;
      });
    }
    offset += v.size;
  }
  return mean;
}

/**
 * A worker thread's entry: the compiled `name`.js beside the module at `moduleUrl`, or — when
 * running the TypeScript sources through tsx (tests, development) — a small module that registers
 * tsx in the worker first.
 */
export function workerScript(moduleUrl: string, name: string): URL {
  if (!moduleUrl.endsWith('.ts')) return new URL(`./${name}.js`, moduleUrl);
  const source = `const { register } = await import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}); register(); await import(${JSON.stringify(new URL(`./${name}.ts`, moduleUrl).href)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(source)}`);
}

export class DataParallel {
  private constructor(
    private readonly workers: Worker[],
    private readonly names: string[],
  ) {}

  /** Starts `replicas − 1` worker threads (the main thread is a replica too); `discriminator` for GAN training. */
  static async start(model: VqVae, replicas: number, backend: string, discriminator?: DiscriminatorShape): Promise<DataParallel> {
    const workers: Worker[] = [];
    for (let i = 1; i < replicas; i++) {
      const worker = new Worker(workerScript(import.meta.url, 'worker'), { workerData: { config: model.config as CodecConfig, training: model.training, backend, discriminator, encoderFrozen: model.encoderFrozen } });
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

  /** One data-parallel step on `batch` with the first numActive codebooks. */
  async step(ctx: StepContext, { samples: batch, rows, length }: Batch, numActive: number): Promise<StepStats> {
    const { model, adversary } = ctx;
    const full = tf.tensor2d(batch, [rows, length]);
    initQuantizerIfNeeded(model, full, ctx.random);
    full.dispose();
    // Shards as equal as possible; the main thread takes the first.
    const sizes = Array.from({ length: this.replicas }, (_, i) => Math.floor(rows / this.replicas) + (i < rows % this.replicas ? 1 : 0));
    const starts = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
    const weights = packWeights(model.params, this.names);
    const discParams = adversary?.discriminator.params;
    const discWeights = discParams ? packWeights(discParams, Object.keys(discParams.trainableVariables())) : undefined;
    const replies = this.workers.map((worker, i) => {
      const w = i + 1;
      const request: ShardRequest = {
        weights: weights.slice(),
        shard: batch.slice(starts[w] * length, (starts[w] + sizes[w]) * length),
        rows: sizes[w],
        length,
        numActive,
        losses: ctx.losses,
        discriminatorWeights: discWeights?.slice(),
      };
      const transfer = [request.weights.buffer, request.shard.buffer, ...(request.discriminatorWeights ? [request.discriminatorWeights.buffer] : [])] as ArrayBuffer[];
      return new Promise<ShardReply>((resolve, reject) => {
        worker.once('message', (reply: ShardReply) => (reply.error ? reject(new Error(reply.error)) : resolve(reply)));
        worker.postMessage(request, transfer);
      });
    });
    const mine = tf.tensor2d(batch.subarray(0, sizes[0] * length), [sizes[0], length]);
    const own = computeGradients(model, mine, numActive, ctx.losses, adversary?.discriminator);
    mine.dispose();
    const others = await Promise.all(replies);
    this.workerTensors = others.map((r) => r.tensors);

    // Weighted mean of the shard gradients = the gradient of the full batch's mean loss.
    const grads = meanGradients(model.params.trainableVariables(), own.grads, others, sizes, rows);
    const discGrads = adversary && own.discriminatorGrads
      ? meanGradients(adversary.discriminator.params.trainableVariables(), own.discriminatorGrads, others.map((r) => r.discriminator!), sizes, rows)
      : undefined;
    const stats = mergeStatistics([own.stats, ...others.map((r) => r.stats)]);
    const losses = new Float32Array(own.losses.length);
    [own.losses, ...others.map((r) => r.losses)].forEach((l, i) => l.forEach((v, j) => (losses[j] += (v * sizes[i]) / rows)));
    // The merged losses and gradients are checked there: a NaN or infinity from any replica skips the step.
    const { gradNorm, counts, skipped } = applyGradients(ctx, grads, stats, own.residuals, losses, discGrads);
    tf.dispose([...Object.values(grads), ...Object.values(discGrads ?? {}), ...Object.values(own.grads), ...Object.values(own.discriminatorGrads ?? {}), ...own.residuals]);
    return { ...lossRecord(losses), gradNorm, numActive, counts, ...(skipped !== undefined ? { skipped } : {}) };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
