/** A data-parallel replica (see parallel.ts): computes one shard's gradients per message. */
import * as tf from '@tensorflow/tfjs';
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../backend.js';
import type { CodecConfig, QuantizerTraining } from '../model/config.js';
import { VqVae } from '../model/vqvae.js';
import { SpectrogramDiscriminator, type DiscriminatorShape } from './discriminator.js';
import { flattenGradients, replicaParameterNames, unpackWeights, type ShardReply, type ShardRequest } from './parallel.js';
import { computeGradients } from './step.js';

const port = parentPort!;
const { config, training, backend, discriminator: discriminatorShape, encoderFrozen } = workerData as {
  config: CodecConfig;
  training: QuantizerTraining;
  backend: string;
  discriminator?: DiscriminatorShape;
  encoderFrozen: boolean;
};

try {
  await initBackend(backend);
  // The quantizer's training settings decide which of its variables take gradients (EMA or codebook loss).
  const model = new VqVae(config, 1, training);
  if (encoderFrozen) model.freezeEncoder();
  const names = replicaParameterNames(model);
  // GAN training: a discriminator whose weights arrive with every request.
  const discriminator = discriminatorShape ? new SpectrogramDiscriminator(1, discriminatorShape) : undefined;
  const discNames = discriminator ? Object.keys(discriminator.params.trainableVariables()) : [];
  port.postMessage({ ready: true });
  port.on('message', (request: ShardRequest) => {
    try {
      unpackWeights(model.params, names, request.weights);
      if (discriminator && request.discriminatorWeights) unpackWeights(discriminator.params, discNames, request.discriminatorWeights);
      const batch = tf.tensor2d(request.shard, [request.rows, request.length]);
      const shard = computeGradients(model, batch, request.numActive, request.losses, discriminator);
      batch.dispose();
      const own = flattenGradients(model.params.trainableVariables(), shard.grads);
      const disc = discriminator && shard.discriminatorGrads ? flattenGradients(discriminator.params.trainableVariables(), shard.discriminatorGrads) : undefined;
      tf.dispose([...Object.values(shard.grads), ...Object.values(shard.discriminatorGrads ?? {}), ...shard.residuals]);
      const reply: ShardReply = { ...own, discriminator: disc, losses: shard.losses, stats: shard.stats, tensors: tf.memory().numTensors };
      port.postMessage(reply, [own.grads.buffer, ...(disc ? [disc.grads.buffer] : [])] as ArrayBuffer[]);
    } catch (err) {
      port.postMessage({ error: (err as Error).message });
    }
  });
} catch (err) {
  port.postMessage({ error: (err as Error).message });
}
