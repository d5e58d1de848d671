/**
 * A fine-tune's starting model (`train --init DIR` with flags that reshape it): the saved model's
 * weights in a config grown or recoded by the options. What the flags add starts fresh; where it
 * can, it starts as the identity, so the grown model decodes as the saved one until it trains.
 */
import { VqcodecError } from '../errors.js';
import { validateConfig, withFsq, type CodecConfig, type QuantizerTraining } from '../model/config.js';
import { VqVae } from '../model/vqvae.js';
import type { TrainOptions } from './options.js';

type GrowOptions = Pick<TrainOptions, 'seed' | 'addDecoderTrunk' | 'deepenDecoderTrunk' | 'addEncoderTrunk' | 'istftHead' | 'recodeStrides' | 'requantizeFsq'>;

/** The model `saved` (loaded from `dir`, named in errors) becomes under `o`; `saved` stays the caller's. */
export function grownModel(saved: VqVae, o: GrowOptions, dir: string, quantizer: QuantizerTraining): VqVae {
  const config = grownConfig(saved.config, o, dir);
  const oldUnits = saved.config.decoderTrunk?.blocks ?? 0;
  const isNewUnit = (name: string) => o.deepenDecoderTrunk !== undefined && trunkUnitIndex(name) >= oldUnits;
  // Fresh: a grown trunk or its new units; a new head; with new strides or scalar codes, the quantizer (and its initialised flag, so k-means runs where it applies).
  const isNew = (name: string) =>
    (o.addDecoderTrunk !== undefined && name.startsWith('decoder.trunk.')) ||
    isNewUnit(name) ||
    (o.addEncoderTrunk !== undefined && name.startsWith('encoder.trunk.')) ||
    (o.istftHead !== undefined && name.startsWith('decoder.head.')) ||
    ((o.recodeStrides !== undefined || o.requantizeFsq !== undefined) && name.startsWith('quantizer.'));
  const model = new VqVae(config, o.seed, quantizer);
  try {
    model.loadArraysGrowing(saved.inferenceArrays(), dir, isNew);
    // An appended unit adds its last layer's output to what passes through: zero, it is the identity.
    model.zeroParams((name) => isNewUnit(name) && name.includes('.pointwise.'));
    return model;
  } catch (err) {
    model.dispose();
    throw err;
  }
}

function grownConfig(saved: CodecConfig, o: GrowOptions, dir: string): CodecConfig {
  let config = saved;
  if (o.addDecoderTrunk !== undefined) {
    if (saved.decoderTrunk !== undefined) throw new VqcodecError(`${dir} already has a decoder trunk`);
    config = { ...config, decoderTrunk: { ...o.addDecoderTrunk } };
  }
  if (o.deepenDecoderTrunk !== undefined) {
    if (saved.decoderTrunk === undefined) throw new VqcodecError(`${dir} has no decoder trunk to deepen: grow one with --add-decoder-trunk`);
    config = { ...config, decoderTrunk: { ...saved.decoderTrunk, blocks: saved.decoderTrunk.blocks + o.deepenDecoderTrunk } };
  }
  if (o.addEncoderTrunk !== undefined) {
    if (saved.encoderTrunk !== undefined) throw new VqcodecError(`${dir} already has an encoder trunk`);
    config = { ...config, encoderTrunk: { ...o.addEncoderTrunk } };
  }
  if (o.istftHead !== undefined) {
    if (saved.istftHead !== undefined || saved.spectral !== undefined) throw new VqcodecError(`${dir} already ends in an inverse STFT`);
    config = { ...config, istftHead: { ...o.istftHead } };
  }
  if (o.recodeStrides !== undefined) config = { ...config, quantizer: { ...config.quantizer, codeStrides: [...o.recodeStrides] } };
  if (o.requantizeFsq !== undefined) config = { ...config, quantizer: withFsq(config.quantizer, o.requantizeFsq) };
  validateConfig(config);
  return config;
}

/** The unit number of a decoder trunk weight ('decoder.trunk.unit7.dilated.w' → 7), else -1. */
function trunkUnitIndex(name: string): number {
  const m = /^decoder\.trunk\.unit(\d+)\./.exec(name);
  return m === null ? -1 : Number(m[1]);
}
