/**
 * Where a training step's time goes: tf.profile of one step, kernels grouped by name.
 *
 *   npx tsc -p . && node dist/demos/profile-step.js [--preset default|small|tiny] [--backend wasm|cpu]
 */
import * as tf from '@tensorflow/tfjs';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/backend.js';
import { makeConfig, PRESETS } from '../src/model/config.js';
import { VqVae } from '../src/model/vqvae.js';
import { Adam } from '../src/train/adam.js';
import { Random } from '../src/train/random.js';
import { trainStep } from '../src/train/step.js';

const { values } = parseArgs({ options: { preset: { type: 'string', default: 'default' }, backend: { type: 'string', default: 'wasm' } } });
const backend = await initBackend(values.backend);
const model = new VqVae(makeConfig(PRESETS[values.preset!]));
const adam = new Adam({ learningRate: 3e-4, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, clipNorm: 1 });
const random = new Random(1);
const batch = tf.tidy(() => tf.mul(tf.randomNormal([8, 16000], 0, 1, 'float32', 1), 0.1)) as tf.Tensor2D;
const step = () => trainStep({ model, optimizer: adam, losses: { weights: { waveform: 1, stft: 1, vq: 1 }, stftWindows: [512, 1024, 2048] }, random: random.next }, batch, model.quantizer.numCodebooks);
step(); // warm-up (k-means init, kernel set-up)
const started = performance.now();
const profile = await tf.profile(() => void step());
const wall = performance.now() - started;

// Custom-gradient ops appear as wrappers around the kernels they run: count real kernels only.
const kernels = new Set(tf.getKernelsForBackend(tf.getBackend()).map((k) => k.kernelName));
const byName = new Map<string, { ms: number; calls: number }>();
let total = 0;
for (const k of profile.kernels) {
  if (!kernels.has(k.name)) continue;
  const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
  total += ms;
  const entry = byName.get(k.name) ?? { ms: 0, calls: 0 };
  entry.ms += ms;
  entry.calls++;
  byName.set(k.name, entry);
}
console.log(`backend ${backend}, preset ${values.preset}, batch 8 × 1 s: step ${wall.toFixed(0)} ms wall (profiled), kernels ${total.toFixed(0)} ms`);
console.log('kernel                  ms   calls  share');
for (const [name, e] of [...byName].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15)) {
  console.log(`${name.padEnd(20)} ${e.ms.toFixed(0).padStart(6)} ${String(e.calls).padStart(7)}  ${((100 * e.ms) / total).toFixed(1).padStart(5)}%`);
}
