/**
 * A prior's directory: prior.json (its config and the codec whose tokens it models) and
 * weights.bin. A prior refuses tokens of another codec, naming both fingerprints.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { VqcodecError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { bundleValues, requireFinite, type Precision } from '../io/bundle.js';
import { readBundle, writeBundle } from '../io/bundleFs.js';
import { TokenPrior, validatePriorConfig, type PriorConfig } from './transformer.js';

/** What a prior was trained on: the codec's fingerprint and frame rate. */
export interface PriorCodec {
  fingerprint: string;
  frameRate: number;
  sampleRate: number;
}

export interface PriorFile {
  format: 'vqcodec-prior';
  version: 1;
  config: PriorConfig;
  codec: PriorCodec;
}

/** Writes a prior's directory; a NaN or infinite weight is refused before anything is written. */
export async function savePrior(dir: string, prior: TokenPrior, codec: PriorCodec, precision: Precision = 'float32'): Promise<void> {
  const arrays = prior.params.snapshot();
  requireFinite(arrays, path.join(dir, 'weights.bin'), 'refusing to write');
  await fs.mkdir(dir, { recursive: true });
  const file: PriorFile = { format: 'vqcodec-prior', version: 1, config: prior.config, codec };
  await writeFileAtomic(path.join(dir, 'prior.json'), JSON.stringify(file, null, 2) + '\n');
  await writeBundle(path.join(dir, 'weights.bin'), { meta: { format: 'vqcodec-prior-weights', version: 1 }, arrays }, precision);
}

/**
 * Loads a prior directory (a NaN or infinite weight is refused, named). Its fingerprint (16 hex digits of a SHA-256 over prior.json and
 * weights.bin) names it in token files coded with it.
 */
export async function loadPrior(dir: string): Promise<{ prior: TokenPrior; codec: PriorCodec; fingerprint: string }> {
  const jsonPath = path.join(dir, 'prior.json');
  const text = await fs.readFile(jsonPath, 'utf8').catch(() => {
    throw new VqcodecError(`no prior at ${dir} (expected prior.json and weights.bin)`);
  });
  let file: PriorFile;
  try {
    file = JSON.parse(text);
  } catch {
    throw new VqcodecError(`${jsonPath} is not valid JSON`);
  }
  if (file?.format !== 'vqcodec-prior') throw new VqcodecError(`${jsonPath} is not a vqcodec prior`);
  if (typeof file.codec?.fingerprint !== 'string') throw new VqcodecError(`${jsonPath} names no codec fingerprint`);
  validatePriorConfig(file.config);
  const weights = path.join(dir, 'weights.bin');
  const bundle = await readBundle(weights);
  const fingerprint = createHash('sha256').update(text).update(await fs.readFile(weights)).digest('hex').slice(0, 16);
  const prior = new TokenPrior(file.config, 1, { values: bundleValues(bundle), source: weights });
  try {
    prior.params.restore(bundle.arrays, weights);
  } catch (err) {
    prior.dispose();
    throw new VqcodecError((err as Error).message);
  }
  return { prior, codec: file.codec, fingerprint };
}

/** Throws unless the prior models this codec's tokens. */
export function checkPriorCodec(codec: PriorCodec, fingerprint: string): void {
  if (codec.fingerprint !== fingerprint) throw new VqcodecError(`the prior models tokens of codec ${codec.fingerprint}, but these come from codec ${fingerprint}: use a prior trained on this codec's tokens`);
}
