/** A data-parallel replica of the prior (see ./parallel.ts): one share's gradients per message. */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../backend.js';
import { unpackWeights } from '../train/parallel.js';
import { shareReply, type PriorShardRequest } from './parallel.js';
import { TokenPrior, type PriorConfig } from './transformer.js';

const port = parentPort!;
const { config, backend } = workerData as { config: PriorConfig; backend: string };

try {
  await initBackend(backend);
  const prior = new TokenPrior(config);
  const names = Object.keys(prior.params.trainableVariables());
  port.postMessage({ ready: true });
  port.on('message', (request: PriorShardRequest) => {
    try {
      unpackWeights(prior.params, names, request.weights);
      const reply = shareReply(prior, request);
      port.postMessage(reply, [reply.grads.buffer] as ArrayBuffer[]);
    } catch (err) {
      port.postMessage({ error: (err as Error).message });
    }
  });
} catch (err) {
  port.postMessage({ error: (err as Error).message });
}
