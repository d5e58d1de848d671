/**
 * A model directory on disk: config.json (how to rebuild the network) and weights.bin (its
 * inference weights, float32 or float16), and the fingerprint that names a model in every
 * token file it writes.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { VqcodecError } from '../errors.js';
import { splitStoredConfig } from '../model/config.js';
import type { NamedArrays } from '../model/params.js';
import { VqVae, withoutTrainingState } from '../model/vqvae.js';
import { writeFileAtomic } from './atomic.js';
import { bundleValues, readBundle, writeBundle, type Precision } from './bundle.js';
import { roundToHalf } from './float16.js';

/** A model read from a directory and its fingerprint. */
export interface LoadedModel {
  model: VqVae;
  fingerprint: string;
}

/** Loads `dir/config.json` and `dir/weights.bin`; anything missing or broken is a one-line VqcodecError. */
export async function loadModel(dir: string): Promise<LoadedModel> {
  const stored = await readConfig(dir);
  const { config, training } = splitStoredConfig(stored);
  const weightsPath = path.join(dir, 'weights.bin');
  const bundle = await readBundle(weightsPath);
  // Training statistics (absent from shipped weights) add at most twice the codebooks' values,
  // so a model these weights can fill holds at most 3x their values: more is refused unbuilt.
  const model = new VqVae(config, 1, training, { values: 3 * bundleValues(bundle) + 1, source: weightsPath });
  model.identity = stored;
  try {
    model.loadArrays(bundle.arrays, weightsPath);
  } catch (err) {
    model.dispose();
    throw new VqcodecError((err as Error).message);
  }
  return { model, fingerprint: fingerprintOf(stored, withoutTrainingState(bundle.arrays)) };
}

/** config.json as written (checked by splitStoredConfig). */
async function readConfig(dir: string): Promise<object> {
  const configPath = path.join(dir, 'config.json');
  let text: string;
  try {
    text = await fs.readFile(configPath, 'utf8');
  } catch {
    throw new VqcodecError(`no model at ${dir} (expected config.json and weights.bin)`);
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch {
    throw new VqcodecError(`${configPath} is not valid JSON`);
  }
  // The fingerprint walks the config recursively: a config nested thousands deep would overflow the stack.
  if (jsonDepth(config) > MAX_CONFIG_DEPTH) throw new VqcodecError(`${configPath} nests deeper than ${MAX_CONFIG_DEPTH} levels`);
  return config as object;
}

/** How deep a config may nest (the real ones nest 3 deep). */
const MAX_CONFIG_DEPTH = 32;

/** How deeply `value` nests arrays and objects, found without recursion. */
function jsonDepth(value: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    deepest = Math.max(deepest, depth + 1);
    if (deepest > MAX_CONFIG_DEPTH) break;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/**
 * Writes the model directory (each file atomically) with `fingerprint` in the weights' header.
 * Precision 'float16' halves weights.bin; it needs weights that float16 holds exactly (see
 * roundWeightsToHalf), so that the saved model has the same fingerprint and decodes its tokens.
 */
export async function saveModel(dir: string, model: VqVae, fingerprint: string, precision: Precision = 'float32'): Promise<void> {
  const arrays = model.inferenceArrays();
  if (precision === 'float16') {
    const inexact = Object.entries(arrays).find(([, a]) => !isHalfExact(a.data));
    if (inexact !== undefined) throw new VqcodecError(`cannot save as float16: parameter ${inexact[0]} is not float16-exact (round the weights first)`);
  }
  await fs.mkdir(dir, { recursive: true });
  await writeFileAtomic(path.join(dir, 'config.json'), JSON.stringify(model.identity, null, 2) + '\n');
  await writeBundle(path.join(dir, 'weights.bin'), { meta: { format: 'vqcodec-weights', version: 1, fingerprint }, arrays }, precision);
}

function isHalfExact(values: Float32Array): boolean {
  return roundToHalf(values).every((v, i) => v === values[i]);
}

/** Rounds a model's inference weights to float16 values in place: a new model, with a new fingerprint. */
export function roundWeightsToHalf(model: VqVae): void {
  const rounded = Object.fromEntries(Object.entries(model.inferenceArrays()).map(([name, a]) => [name, { shape: a.shape, data: roundToHalf(a.data) }]));
  model.loadArrays(rounded, 'rounded weights');
}

/** The fingerprint of a model in memory, as saving and loading it would give. */
export function modelFingerprint(model: VqVae): string {
  return fingerprintOf(model.identity, model.inferenceArrays());
}

/** 16 hex digits of SHA-256 over the config and every parameter, in a fixed order. */
export function fingerprintOf(config: object, arrays: NamedArrays): string {
  const hash = createHash('sha256');
  hash.update(canonicalJson(config));
  for (const name of Object.keys(arrays).sort()) {
    const a = arrays[name];
    hash.update(name);
    hash.update(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength));
  }
  return hash.digest('hex').slice(0, 16);
}

/** JSON with object keys sorted, so equal configs hash equally whatever their key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
