/**
 * A model directory on disk: config.json, weights.bin (their format and the fingerprint are
 * ./modelFormat.ts) and the optional context-model.bin, read and written here (Node only;
 * Codec.load and Codec.save import this module when first called).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { VqcodecError } from '../errors.js';
import type { VqVae } from '../model/vqvae.js';
import { writeFileAtomic } from './atomic.js';
import { requireFinite, type Precision } from './bundle.js';
import { writeBundle } from './bundleFs.js';
import { CONTEXT_MODEL_FILE, isHalfExact, TRAINING_FILE } from './modelFormat.js';
import type { CodecFileNames, CodecFiles } from '../codec.js';

/**
 * Reads `dir/config.json`, `dir/weights.bin` and, if it is there, `dir/context-model.bin`;
 * anything missing or unreadable is a one-line VqcodecError.
 */
export async function readCodecFiles(dir: string): Promise<{ files: CodecFiles; names: CodecFileNames }> {
  const names = { config: path.join(dir, 'config.json'), weights: path.join(dir, 'weights.bin'), contextModel: path.join(dir, CONTEXT_MODEL_FILE), training: path.join(dir, TRAINING_FILE) };
  const config = await fs.readFile(names.config, 'utf8').catch(() => {
    throw new VqcodecError(`no model at ${dir} (expected config.json and weights.bin)`);
  });
  const weights = await fs.readFile(names.weights).catch(() => {
    throw new VqcodecError(`no such file: ${names.weights}`);
  });
  const contextModel = await fs.readFile(names.contextModel).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new VqcodecError(`cannot read ${names.contextModel}: ${err.code ?? err.message}`);
  });
  const training = await fs.readFile(names.training, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new VqcodecError(`cannot read ${names.training}: ${err.code ?? err.message}`);
  });
  return { files: { config, weights, ...(contextModel === undefined ? {} : { contextModel }), ...(training === undefined ? {} : { training }) }, names };
}

/**
 * Writes the model directory (each file atomically) with `fingerprint` in the weights' header.
 * Precision 'float16' halves weights.bin; it needs weights that float16 holds exactly (see
 * roundWeightsToHalf), so that the saved model has the same fingerprint and decodes its tokens.
 */
export async function saveModel(dir: string, model: VqVae, fingerprint: string, precision: Precision = 'float32'): Promise<void> {
  const arrays = model.inferenceArrays();
  // A NaN or infinite weight is refused before anything is written.
  requireFinite(arrays, path.join(dir, 'weights.bin'), 'refusing to write');
  if (precision === 'float16') {
    const inexact = Object.entries(arrays).find(([, a]) => !isHalfExact(a.data));
    if (inexact !== undefined) throw new VqcodecError(`cannot save as float16: parameter ${inexact[0]} is not float16-exact (round the weights first)`);
  }
  await fs.mkdir(dir, { recursive: true });
  await writeFileAtomic(path.join(dir, 'config.json'), JSON.stringify(model.identity, null, 2) + '\n');
  await writeFileAtomic(path.join(dir, TRAINING_FILE), JSON.stringify({ quantizer: model.training }, null, 2) + '\n');
  await writeBundle(path.join(dir, 'weights.bin'), { meta: { format: 'vqcodec-weights', version: 1, fingerprint }, arrays }, precision);
}
