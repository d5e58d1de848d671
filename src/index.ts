/** vqcodec's public library API. */
export { Codec, fingerprintOf, type CodingOptions } from './codec.js';
export { initBackend, backendName, BACKENDS, type BackendName } from './backend.js';
export { VqcodecError } from './errors.js';
export type { Audio, SampleRate, Tokens } from './types.js';
export { DEFAULT_CONFIG, PRESETS, makeConfig, validateConfig, bitrate, frameRate, hopLength, type CodecConfig, type QuantizerConfig } from './model/config.js';
export { VqVae } from './model/vqvae.js';
export { readTokenFile, writeTokenFile, encodeTokenFile, decodeTokenFile, tokenFileSize, formatTokenHeader } from './tokens/tokenFile.js';
export { packBits, unpackBits, bitsPerCode } from './tokens/bitpack.js';
export { loadAudio, validateAudio } from './audio/load.js';
export { decodeWav, encodeWav, writeWav } from './audio/wav.js';
export { resample } from './audio/resample.js';
export { siSdr, stoi, logMelDistance, compressionRatio } from './eval/metrics.js';
export { codebookUsage, usageFromCounts } from './eval/codebookUsage.js';
export { evaluateClip, summarize } from './eval/evaluate.js';
export { train, DEFAULT_TRAIN_OPTIONS, readLog, type TrainOptions, type TrainEvents } from './train/trainer.js';
