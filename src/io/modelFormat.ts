/**
 * A model from the bytes of its two files, config.json (how to rebuild the network) and
 * weights.bin (its inference weights, float32 or float16), and the fingerprint that names a
 * model in every token file it writes. No file access, so the browser page loads models with
 * it too; a model directory on disk is ./modelStore.ts.
 */
import { VqcodecError } from '../errors.js';
import { splitQuantizerFields, splitStoredConfig, type QuantizerTraining } from '../model/config.js';
import type { NamedArrays } from '../model/params.js';
import { VqVae, withoutTrainingState } from '../model/vqvae.js';
import { bundleValues, decodeBundle, requireFinite } from './bundle.js';
import { roundToHalf } from './float16.js';
import { Sha256 } from './sha256.js';

/** The context model's file in a model folder (optional: without it, token files are bit-packed). */
export const CONTEXT_MODEL_FILE = 'context-model.bin';
/**
 * How the model's quantizer was trained (optional; not part of the model or its fingerprint):
 * `train --init` carries these settings into the new run.
 */
export const TRAINING_FILE = 'training.json';

/** A model read from its files and its fingerprint. */
export interface LoadedModel {
  model: VqVae;
  fingerprint: string;
}

/** The contents of a model's files: config.json (text or UTF-8 bytes) and weights.bin. */
export interface ModelFiles {
  config: string | Uint8Array;
  weights: Uint8Array;
  /** training.json, when the folder has one. */
  training?: string | Uint8Array;
}

/** Names of the files in error messages (default: config.json and weights.bin). */
export interface ModelFileNames {
  config?: string;
  weights?: string;
  training?: string;
}

/** Builds the model of `files`; anything broken is a one-line VqcodecError naming the file. */
export function modelFromFiles(files: ModelFiles, names: ModelFileNames = {}): LoadedModel {
  const configName = names.config ?? 'config.json';
  const weightsName = names.weights ?? 'weights.bin';
  const stored = parseConfig(typeof files.config === 'string' ? files.config : new TextDecoder().decode(files.config), configName);
  const { config, training: storedTraining } = splitStoredConfig(stored);
  const training = { ...storedTraining, ...(files.training === undefined ? {} : parseTraining(files.training, names.training ?? TRAINING_FILE)) };
  const bundle = decodeBundle(files.weights, weightsName);
  requireFinite(bundle.arrays, weightsName, 'refusing to load');
  // Training statistics (absent from shipped weights) add at most twice the codebooks' values,
  // so a model these weights can fill holds at most 3x their values: more is refused unbuilt.
  const model = new VqVae(config, 1, training, { values: 3 * bundleValues(bundle) + 1, source: weightsName });
  model.identity = stored;
  try {
    model.loadArrays(bundle.arrays, weightsName);
  } catch (err) {
    model.dispose();
    throw new VqcodecError((err as Error).message);
  }
  return { model, fingerprint: fingerprintOf(stored, withoutTrainingState(bundle.arrays)) };
}

/** training.json → the quantizer training settings it holds (VqVae checks their values). */
function parseTraining(bytes: string | Uint8Array, name: string): Partial<QuantizerTraining> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof bytes === 'string' ? bytes : new TextDecoder().decode(bytes));
  } catch {
    throw new VqcodecError(`${name} is not valid JSON`);
  }
  const quantizer = (parsed as { quantizer?: unknown } | null)?.quantizer;
  if (quantizer === null || typeof quantizer !== 'object' || Array.isArray(quantizer)) throw new VqcodecError(`${name} needs a "quantizer" object`);
  const { shape, training } = splitQuantizerFields(quantizer);
  const stray = Object.keys(shape)[0];
  if (stray !== undefined) throw new VqcodecError(`${name}: quantizer.${stray} is not a quantizer training setting`);
  return training;
}

/** config.json as written (checked by splitStoredConfig). */
function parseConfig(text: string, name: string): object {
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch {
    throw new VqcodecError(`${name} is not valid JSON`);
  }
  // The fingerprint walks the config recursively: a config nested thousands deep would overflow the stack.
  if (jsonDepth(config) > MAX_CONFIG_DEPTH) throw new VqcodecError(`${name} nests deeper than ${MAX_CONFIG_DEPTH} levels`);
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

export function isHalfExact(values: Float32Array): boolean {
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
  const hash = new Sha256();
  hash.update(canonicalJson(config));
  for (const name of Object.keys(arrays).sort()) {
    const a = arrays[name];
    hash.update(name);
    hash.update(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength));
  }
  return hash.digestHex().slice(0, 16);
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
