/** A data-parallel replica (see parallel.ts): computes one shard's gradients per message. */
import * as tf from '@tensorflow/tfjs';
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../backend.js';
import type { CodecConfig } from '../model/config.js';
import { VqVae } from '../model/vqvae.js';
import { replicaParameterNames, unpackWeights, type ShardReply, type ShardRequest } from './parallel.js';
import { computeGradients } from './step.js';

const port = parentPort!;
const { config, backend } = workerData as { config: CodecConfig; backend: string };

try {
  await initBackend(backend);
  const model = new VqVae(config);
  const names = replicaParameterNames(model);
  const vars = Object.entries(model.params.trainableVariables());
  port.postMessage({ ready: true });
  port.on('message', (request: ShardRequest) => {
    try {
      unpackWeights(model, names, request.weights);
      const batch = tf.tensor2d(request.shard, [request.rows, request.length]);
      const shard = computeGradients(model, batch, request.numActive, request.lossWeights, request.stftWindows);
      batch.dispose();
      const grads = new Float32Array(vars.reduce((s, [, v]) => s + v.size, 0));
      const present: boolean[] = [];
      let offset = 0;
      for (const [name, v] of vars) {
        const g = shard.grads[name];
        present.push(g !== undefined);
        if (g !== undefined) grads.set(g.dataSync() as Float32Array, offset);
        offset += v.size;
      }
      tf.dispose([...Object.values(shard.grads), ...shard.residuals]);
      const reply: ShardReply = { grads, present, losses: shard.losses, stats: shard.stats, tensors: tf.memory().numTensors };
      port.postMessage(reply, [grads.buffer]);
    } catch (err) {
      port.postMessage({ error: (err as Error).message });
    }
  });
} catch (err) {
  port.postMessage({ error: (err as Error).message });
}
