/**
 * Data-parallel training of the prior across worker threads, as the codec's (src/train/parallel.ts):
 * wasm runs one thread in Node, so each worker holds its own wasm backend and a replica of the prior.
 * Each step the main thread sends every worker the weights and a share of the batch's windows; every
 * replica (the main thread's included) computes its share's mean loss and gradients; the main thread
 * weights them by each share's real (non-padding) targets, which is the gradient of the whole batch's
 * mean loss, and applies Adam to its prior, the one source of truth for checkpoints and resume.
 */
import * as tf from '@tensorflow/tfjs';
import { Worker } from 'node:worker_threads';
import { flattenGradients, meanGradients, packWeights, workerScript, type FlatGradients } from '../train/parallel.js';
import type { PriorConfig, PriorDropout, TokenPrior } from './transformer.js';

/** What a worker needs for one share of a batch. */
export interface PriorShardRequest {
  weights: Float32Array;
  /** Windows [rows, steps, Q], row-major. */
  tokens: Int32Array;
  rows: number;
  steps: number;
  dropout?: PriorDropout;
}

export interface PriorShardReply extends FlatGradients {
  /** The share's mean loss, nats per target. */
  nats: number;
  /** Live tensors after the step (a leak check). */
  tensors: number;
  error?: string;
}

/** Targets of windows [rows, steps, Q] that are codes (steps 1.. of each window, below K). */
export function realTargets(tokens: Int32Array, rows: number, steps: number, Q: number, K: number): number {
  let n = 0;
  for (let r = 0; r < rows; r++) for (let i = (r * steps + 1) * Q; i < (r + 1) * steps * Q; i++) if (tokens[i]! < K) n++;
  return n;
}

/** One replica's share: its mean loss and gradients (named), from windows [rows, steps, Q]. */
export function shareGradients(prior: TokenPrior, tokens: Int32Array, rows: number, steps: number, dropout?: PriorDropout, onLoss?: (loss: tf.Scalar) => tf.Scalar): { nats: number; grads: Record<string, tf.Tensor> } {
  const batch = tf.tensor3d(tokens, [rows, steps, prior.virtualCodebooks], 'int32');
  const vars = prior.params.trainableVariables();
  const { value, grads } = tf.variableGrads(() => {
    const loss = prior.loss(batch, dropout);
    return onLoss ? onLoss(loss) : loss;
  }, Object.values(vars));
  const nats = value.dataSync()[0]!;
  tf.dispose([batch, value]);
  return { nats, grads: Object.fromEntries(Object.entries(vars).map(([n, v]) => [n, grads[v.name]!])) };
}

export class PriorParallel {
  private constructor(private readonly workers: Worker[]) {}

  /** Starts `replicas − 1` worker threads (the main thread is a replica too). */
  static async start(config: PriorConfig, replicas: number, backend: string): Promise<PriorParallel> {
    const workers: Worker[] = [];
    try {
      for (let i = 1; i < replicas; i++) {
        const worker = new Worker(workerScript(import.meta.url, 'worker'), { workerData: { config, backend } });
        workers.push(worker);
        await new Promise<void>((resolve, reject) => {
          worker.once('message', (m: { ready?: boolean; error?: string }) => (m.ready ? resolve() : reject(new Error(m.error))));
          worker.once('error', reject);
        });
      }
    } catch (err) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw err;
    }
    return new PriorParallel(workers);
  }

  get replicas(): number {
    return this.workers.length + 1;
  }

  /**
   * The batch's mean loss (nats per target) and its gradients, the windows [rows, steps, Q] shared
   * out by rows (the main thread takes the first share). `dropout(r)` is replica r's.
   */
  async gradients(prior: TokenPrior, tokens: Int32Array, rows: number, steps: number, dropout: (replica: number) => PriorDropout | undefined, onLoss?: (loss: tf.Scalar) => tf.Scalar): Promise<{ nats: number; grads: Record<string, tf.Tensor> }> {
    const Q = prior.virtualCodebooks;
    const K = prior.config.codebookSize;
    const per = steps * Q;
    const sizes = Array.from({ length: this.replicas }, (_, i) => Math.floor(rows / this.replicas) + (i < rows % this.replicas ? 1 : 0));
    const starts = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
    const shares = sizes.map((size, r) => tokens.slice(starts[r]! * per, (starts[r]! + size) * per));
    const targets = sizes.map((size, r) => realTargets(shares[r]!, size, steps, Q, K));
    const names = Object.keys(prior.params.trainableVariables());
    const weights = packWeights(prior.params, names);
    const replies = this.workers.map((worker, i) => {
      const r = i + 1;
      const request: PriorShardRequest = { weights: weights.slice(), tokens: shares[r]!, rows: sizes[r]!, steps, dropout: dropout(r) };
      return new Promise<PriorShardReply>((resolve, reject) => {
        worker.once('message', (reply: PriorShardReply) => (reply.error ? reject(new Error(reply.error)) : resolve(reply)));
        worker.postMessage(request, [request.weights.buffer, request.tokens.buffer] as ArrayBuffer[]);
      });
    });
    const own = shareGradients(prior, shares[0]!, sizes[0]!, steps, dropout(0), onLoss);
    const others = await Promise.all(replies);
    // A share without targets (all padding) weighs nothing; the whole batch without any is weighed evenly.
    const total = targets.reduce((a, b) => a + b, 0);
    const weightsBy = total > 0 ? targets : sizes;
    const sum = total > 0 ? total : rows;
    const grads = meanGradients(prior.params.trainableVariables(), own.grads, others, weightsBy, sum);
    tf.dispose(Object.values(own.grads));
    const nats = [own.nats, ...others.map((o) => o.nats)].reduce((acc, n, r) => acc + (n * weightsBy[r]!) / sum, 0);
    return { nats, grads };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** A replica's reply for its share (used by ./worker.ts). */
export function shareReply(prior: TokenPrior, request: PriorShardRequest): PriorShardReply {
  const { nats, grads } = shareGradients(prior, request.tokens, request.rows, request.steps, request.dropout);
  const flat = flattenGradients(prior.params.trainableVariables(), grads);
  tf.dispose(Object.values(grads));
  return { ...flat, nats, tensors: tf.memory().numTensors };
}
